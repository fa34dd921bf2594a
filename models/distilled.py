"""A distilled look: the CPU student's encoder and decoder with one look's AdaIN statistics built in.

`stylize distill` (offline/train/tasks/distill.py) starts it from the shipped
student with the statistics of the look's paintings, then fine-tunes all of
it to reproduce an offline look (Gatys, DiffStyler) on unseen frames. Like
the other fast nets it takes and gives RGB in 0-255, so the engines, the
export and the benchmarks treat it as one of them.

A distilled net is a file of its own, `NAME.pt` (fp16 weights, loaded with
weights_only=True), with `NAME.pt.json` beside it: the format, the sha256 of
the .pt, the widths and what the look was made from. models/registry.py
`register_file` checks the hash before anything is loaded.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn

from stylize.errors import WeightsError
from stylize.imageio import write_atomic
from stylize.models.adain import adain
from stylize.models.student import DEFAULT_DESIGN, DEFAULT_WIDTHS, StudentDecoder, StudentEncoder, design_of, widths_of

FORMAT = "stylize-distilled-net"
ARCHITECTURE = "distilled-student"


class DistilledNet(nn.Module):
    """One look, fixed: decoder(AdaIN(encoder(x), look mean, look std)); RGB 0-255 in and out."""

    def __init__(self, widths: Sequence[int] = DEFAULT_WIDTHS, design: str = DEFAULT_DESIGN):
        super().__init__()
        self.widths = tuple(widths)
        self.design = design
        self.encoder = StudentEncoder(widths, design)
        self.decoder = StudentDecoder(widths, design)
        self.style_mean = nn.Parameter(torch.zeros(1, widths[-1], 1, 1))
        self.style_std = nn.Parameter(torch.ones(1, widths[-1], 1, 1))

    def unit_forward(self, x: torch.Tensor) -> torch.Tensor:
        """RGB in [0,1] to the unclamped look, for training."""
        height, width = x.shape[-2:]
        features = adain(self.encoder(x), self.style_mean, self.style_std.abs())
        return self.decoder(features)[..., :height, :width]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.unit_forward(x / 255) * 255

    @classmethod
    def from_student(cls, student: nn.Module, style_mean: torch.Tensor, style_std: torch.Tensor) -> "DistilledNet":
        """The student's encoder and decoder with a look's statistics (1,C,1,1 each) built in."""
        net = cls(student.widths, student.design)
        net.encoder.load_state_dict(student.encoder.state_dict())
        net.decoder.load_state_dict(student.decoder.state_dict())
        with torch.no_grad():
            net.style_mean.copy_(style_mean.reshape(net.style_mean.shape))
            net.style_std.copy_(style_std.reshape(net.style_std.shape))
        return net

    def thinned(self, widths: Sequence[int]) -> "DistilledNet":
        """This net with fewer channels: of each width, the channels that carry the most weight, as a start
        for fine-tuning. Which tensor dimensions a width sizes is found by building the net one channel wider,
        so nothing here depends on the layers' design."""
        widths = tuple(widths)
        if len(widths) != len(self.widths) or not all(1 <= new <= old for new, old in zip(widths, self.widths)):
            raise ValueError(f"widths {widths} do not thin {self.widths}")
        state, current = self.state_dict(), list(self.widths)
        for k, (new, old) in enumerate(zip(widths, self.widths)):
            if new == old:
                continue
            wider = DistilledNet(current[:k] + [old + 1] + current[k + 1:], self.design).state_dict()
            dims = {name: [d for d, (a, b) in enumerate(zip(t.shape, wider[name].shape)) if a != b]
                    for name, t in state.items()}
            weight = sum(_channel_weight(t, d) for name, t in state.items() for d in dims[name])
            keep = weight.topk(new).indices.sort().values
            state = {name: _select(t, dims[name], keep) for name, t in state.items()}
            current[k] = new
        net = DistilledNet(widths, self.design)
        net.load_state_dict(state)
        return net

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor]) -> "DistilledNet":
        net = cls(widths_of(state), design_of(state))
        net.load_state_dict({k: v.float() for k, v in state.items()})
        return net


def _channel_weight(tensor: torch.Tensor, dim: int) -> torch.Tensor:
    """Each channel's share of `tensor`'s squared norm along `dim`."""
    squares = tensor.detach().float().pow(2).transpose(0, dim).reshape(tensor.shape[dim], -1).sum(1)
    return squares / squares.sum().clamp(min=1e-12)


def _select(tensor: torch.Tensor, dims: list[int], keep: torch.Tensor) -> torch.Tensor:
    for dim in dims:
        tensor = tensor.index_select(dim, keep)
    return tensor


def sidecar(path: str | os.PathLike) -> Path:
    """The JSON beside a distilled net's .pt."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def write_net(path: str | os.PathLike, net: DistilledNet, about: dict) -> dict:
    """Save `net` as fp16 weights at `path` and its sidecar (format, sha256, widths, `about`); returns the sidecar."""
    import hashlib
    import io

    buffer = io.BytesIO()
    torch.save({k: v.detach().half().cpu() for k, v in net.state_dict().items()}, buffer)
    data = buffer.getvalue()
    record = {"format": FORMAT, "architecture": ARCHITECTURE, "sha256": hashlib.sha256(data).hexdigest(),
              "size": len(data), "widths": list(net.widths), **about}
    write_atomic(path, data)
    write_atomic(sidecar(path), json.dumps(record, indent=1).encode())
    return record


def read_sidecar(path: str | os.PathLike) -> dict:
    """A distilled net's sidecar, checked to be one; WeightsError otherwise."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"--net {path}: no such file")
    try:
        record = json.loads(sidecar(path).read_text())
    except FileNotFoundError:
        raise WeightsError(f"--net {path}: its {sidecar(path).name} (format and sha256) is missing; "
                           "a distilled net is the .pt that `stylize distill` wrote, with that file beside it") \
            from None
    except (OSError, ValueError):
        raise WeightsError(f"--net {path}: {sidecar(path).name} is not readable JSON") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT or not isinstance(record.get("sha256"), str):
        raise WeightsError(f"--net {path}: {sidecar(path).name} does not describe a distilled net")
    return record
