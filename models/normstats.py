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

When the recorded pass saw a shrunk picture, `measuring(weight)` passes over
tiles (replaying, and summing each normalised map's moments under the tile's
blend weight) followed by `remeasure()` turn the statistics into the full
picture's; one such round makes exact every statistic whose input depends on
no other normalisation.

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


# (mean, biased variance, count) of a map, each channel's, over a whole picture -> a site's statistics
FromMoments = Callable[..., Statistics]


@dataclass
class _Entry:
    site: str  # which kind of normalisation computed it, e.g. "instance_norm"
    channels: int
    values: Statistics
    args: tuple = ()
    from_moments: FromMoments | None = None  # None: these statistics cannot be re-measured over tiles


class _Recording:
    def __init__(self, entries: list[_Entry]):
        self.entries = entries

    def take(self, site: str, x: torch.Tensor, compute: Callable[..., Statistics], args: tuple,
             from_moments: FromMoments | None) -> Statistics:
        values = compute(x, *args)
        self.entries.append(_Entry(site, x.shape[1], tuple(v.detach() for v in values), args, from_moments))
        return values


class _Replay:
    def __init__(self, entries: list[_Entry]):
        self.entries, self.used = entries, 0

    def take(self, site: str, x: torch.Tensor, compute: Callable[..., Statistics], args: tuple,
             from_moments: FromMoments | None) -> Statistics:
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


class _Measurement(_Replay):
    """A replay that also sums each normalised map's moments, weighted by the pass's share of the picture."""

    def __init__(self, entries: list[_Entry], weight: torch.Tensor, sums: list):
        super().__init__(entries)
        self.weight, self.sums = weight, sums

    def take(self, site, x, compute, args, from_moments) -> Statistics:
        index = self.used
        values = super().take(site, x, compute, args, from_moments)
        if self.entries[index].from_moments is not None:
            # The blend weight at this map's resolution; over all tiles it sums to about 1 per map pixel.
            weight = F.interpolate(self.weight[None, None].to(x.device, torch.float64), size=x.shape[-2:],
                                   mode="bilinear", align_corners=False)
            x = x.double()
            sums = [weight.sum(dim=(2, 3)), (weight * x).sum(dim=(2, 3)), (weight * x * x).sum(dim=(2, 3))]
            self.sums[index] = sums if self.sums[index] is None else [a + b for a, b in zip(self.sums[index], sums)]
        return values


_SESSION: ContextVar[_Recording | _Replay | None] = ContextVar("stylize_normstats", default=None)


class SharedStats:
    """The statistics of one recorded pass, in call order, to replay over later passes."""

    def __init__(self) -> None:
        self._entries: list[_Entry] = []
        self._sums: list = []  # per entry, the weighted moments that `measuring` passes have summed

    def __len__(self) -> int:
        """How many normalisations the recorded pass made."""
        return len(self._entries)

    @property
    def sites(self) -> list[str]:
        return [entry.site for entry in self._entries]

    @property
    def remeasurable(self) -> int:
        """How many of the statistics `remeasure` can rebuild from measured moments."""
        return sum(entry.from_moments is not None for entry in self._entries)

    @contextmanager
    def recording(self) -> Iterator["SharedStats"]:
        """Record the statistics of the passes run inside the block (earlier recordings are dropped)."""
        self._entries = []
        token = _SESSION.set(_Recording(self._entries))
        try:
            yield self
        finally:
            _SESSION.reset(token)
            self._sums = [None] * len(self._entries)

    @contextmanager
    def replaying(self) -> Iterator["SharedStats"]:
        """Run one pass inside the block with the recorded statistics; StatsMismatch if it does not fit them."""
        yield from self._open(_Replay(self._entries))

    @contextmanager
    def measuring(self, weight: torch.Tensor) -> Iterator["SharedStats"]:
        """Replay one pass, and add the moments it meets, weighted by `weight` (HxW over its input), to a sum.

        Passes over tiles whose weights sum to 1 over a picture measure the
        picture's own moments at full resolution; `remeasure` then uses them.
        """
        yield from self._open(_Measurement(self._entries, weight, self._sums))

    def _open(self, replay: _Replay) -> Iterator["SharedStats"]:
        token = _SESSION.set(replay)
        try:
            yield self
        finally:
            _SESSION.reset(token)
        replay.finish()  # only reached when the pass itself succeeded

    def remeasure(self) -> int:
        """Replace the statistics with those measured by the `measuring` passes since the last call.

        Statistics without a `from_moments` (AesFA's pooled own-style code)
        keep their recorded values. Returns how many were replaced.
        """
        replaced = 0
        for entry, sums in zip(self._entries, self._sums):
            if entry.from_moments is None or sums is None:
                continue
            count, total, squares = sums
            mean = total / count
            var = (squares / count - mean * mean).clamp_min(0)
            like = entry.values[0]
            entry.values = tuple(v.to(like.dtype) for v in entry.from_moments(
                mean[..., None, None], var[..., None, None], count[..., None, None], *entry.args))
            replaced += 1
        self._sums = [None] * len(self._entries)
        return replaced


def active() -> bool:
    """Whether a recording or a replay is open in this context (fused fast paths apply when not)."""
    return _SESSION.get() is not None


def statistics(site: str, x: torch.Tensor, compute: Callable[..., Statistics], *args,
               from_moments: FromMoments | None = None) -> Statistics:
    """`compute(x, *args)`: the statistics (a tuple of tensors) a normalisation of the NCHW map `x` uses.

    Inside `recording()` they are also kept; inside `replaying()` the kept
    ones for this call are returned and `compute` is not run.
    `from_moments(mean, var, count, *args)` gives the same statistics from a
    map's per-channel mean, biased variance and pixel count (each N,C,1,1),
    so that `SharedStats.remeasure` can rebuild them from tiles.
    """
    session = _SESSION.get()
    if session is None:
        return compute(x, *args)
    return session.take(site, x, compute, args, from_moments)


def moments(x: torch.Tensor) -> Statistics:
    """Per-sample, per-channel mean and biased variance of an NCHW map, each N,C,1,1 (instance norm's)."""
    return x.mean(dim=(2, 3), keepdim=True), x.var(dim=(2, 3), keepdim=True, unbiased=False)


def moments_as_they_are(mean: torch.Tensor, var: torch.Tensor, count: torch.Tensor) -> Statistics:
    """`moments`' statistics from measured moments: they are the moments."""
    return mean, var


def instance_norm(x: torch.Tensor, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None,
                  eps: float = 1e-5) -> torch.Tensor:
    """F.instance_norm (no running statistics), with shared statistics when a recording or replay is open."""
    if not active():
        return F.instance_norm(x, None, None, weight, bias, True, 0.0, eps)
    mean, var = statistics("instance_norm", x, moments, from_moments=moments_as_they_are)
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
