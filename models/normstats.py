"""Normalisation statistics that one pass records and later passes replay.

Every content normalisation in the nets (AdaIN's content mean and std,
instance norm in the fast nets and in AesFA's first block, AesFA's own-style
code at alpha < 1) takes its statistics through `statistics()`:

    stats = SharedStats()
    with stats.recording():   # computes the statistics and keeps them, in call order
        net(whole_picture)
    with stats.replaying():   # hands back the kept ones instead of computing them
        net(tile)

so every tile of a big picture is normalised as the whole picture was (see
realtime/tiling.py). Outside both blocks `statistics()` computes as before;
its whole cost is one ContextVar lookup per normalisation.

The active recording or replay lives in a ContextVar, so it belongs to the
thread (or asyncio task) that opened the block and ends with the block: a
net running elsewhere at the same time never sees it. A replay checks each
call against the recording (same site, same channel count, no more and no
fewer calls) and raises `StatsMismatch` rather than normalise with the
statistics of some other layer.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

Statistics = tuple[torch.Tensor, ...]


class StatsMismatch(ValueError):
    """A replay asked for statistics the recording does not have: another net, or another sequence of calls."""


@dataclass(frozen=True)
class _Entry:
    site: str  # which kind of normalisation computed it, e.g. "instance_norm"
    channels: int
    values: Statistics


class _Recording:
    def __init__(self, entries: list[_Entry]):
        self.entries = entries

    def take(self, site: str, x: torch.Tensor, compute: Callable[..., Statistics], args: tuple) -> Statistics:
        values = compute(x, *args)
        self.entries.append(_Entry(site, x.shape[1], tuple(v.detach() for v in values)))
        return values


class _Replay:
    def __init__(self, entries: list[_Entry]):
        self.entries, self.used = entries, 0

    def take(self, site: str, x: torch.Tensor, compute: Callable[..., Statistics], args: tuple) -> Statistics:
        call = f"normalisation #{self.used + 1} ({site}, {x.shape[1]} channels)"
        if self.used >= len(self.entries):
            raise StatsMismatch(f"this pass asks for {call}, but only {len(self.entries)} were recorded: "
                                "the statistics come from another net")
        entry = self.entries[self.used]
        if (entry.site, entry.channels) != (site, x.shape[1]):
            raise StatsMismatch(f"this pass asks for {call}, but the recording has {entry.site} over "
                                f"{entry.channels} channels there: the statistics come from another net")
        self.used += 1
        return tuple(v.to(device=x.device, dtype=x.dtype) for v in entry.values)

    def finish(self) -> None:
        if self.used != len(self.entries):
            raise StatsMismatch(f"this pass used {self.used} of the {len(self.entries)} recorded normalisations: "
                                "the statistics come from another net")


_SESSION: ContextVar[_Recording | _Replay | None] = ContextVar("stylize_normstats", default=None)


class SharedStats:
    """The statistics of one recorded pass, in call order, to replay over later passes."""

    def __init__(self) -> None:
        self._entries: list[_Entry] = []

    def __len__(self) -> int:
        """How many normalisations the recorded pass made."""
        return len(self._entries)

    @property
    def sites(self) -> list[str]:
        return [entry.site for entry in self._entries]

    @contextmanager
    def recording(self) -> Iterator["SharedStats"]:
        """Record the statistics of the passes run inside the block (earlier recordings are dropped)."""
        self._entries = []
        token = _SESSION.set(_Recording(self._entries))
        try:
            yield self
        finally:
            _SESSION.reset(token)

    @contextmanager
    def replaying(self) -> Iterator["SharedStats"]:
        """Run one pass inside the block with the recorded statistics; StatsMismatch if it does not fit them."""
        replay = _Replay(self._entries)
        token = _SESSION.set(replay)
        try:
            yield self
        finally:
            _SESSION.reset(token)
        replay.finish()  # only reached when the pass itself succeeded


def active() -> bool:
    """Whether a recording or a replay is open in this context (fused fast paths apply when not)."""
    return _SESSION.get() is not None


def statistics(site: str, x: torch.Tensor, compute: Callable[..., Statistics], *args) -> Statistics:
    """`compute(x, *args)`: the statistics a normalisation of the NCHW map `x` uses.

    Inside `recording()` they are also kept; inside `replaying()` the kept
    ones for this call are returned and `compute` is not run.
    """
    session = _SESSION.get()
    if session is None:
        return compute(x, *args)
    return session.take(site, x, compute, args)


def moments(x: torch.Tensor) -> Statistics:
    """Per-sample, per-channel mean and biased variance of an NCHW map, each N,C,1,1 (instance norm's)."""
    return x.mean(dim=(2, 3), keepdim=True), x.var(dim=(2, 3), keepdim=True, unbiased=False)


def instance_norm(x: torch.Tensor, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None,
                  eps: float = 1e-5) -> torch.Tensor:
    """F.instance_norm (no running statistics), with shared statistics when a recording or replay is open."""
    if not active():
        return F.instance_norm(x, None, None, weight, bias, True, 0.0, eps)
    mean, var = statistics("instance_norm", x, moments)
    y = (x - mean) * torch.rsqrt(var + eps)
    if weight is not None:
        y = y * weight.view(1, -1, 1, 1)
    if bias is not None:
        y = y + bias.view(1, -1, 1, 1)
    return y


class InstanceNorm2d(nn.InstanceNorm2d):
    """nn.InstanceNorm2d (same parameters, same state dict keys) whose statistics can be shared."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.track_running_stats or x.dim() != 4:
            raise ValueError("this InstanceNorm2d takes NCHW maps and keeps no running statistics")
        return instance_norm(x, self.weight, self.bias, self.eps)
