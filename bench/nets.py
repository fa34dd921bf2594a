"""The nets a benchmark runs, and where their weights came from.

A method's net comes from, in order of preference:
  1. a file given with `--net METHOD=PATH`: a training checkpoint
     (runs/<method>/checkpoint.pt: its weight average if the run kept one,
     else its "model" entry) or a bare state dict;
  2. the registered weights (shipped with stylize or found by the registry);
  3. random initialisation, only where weight values do not matter (speed).
Otherwise it is reported as missing, with the reason. Every result records
the source, so a number measured on a checkpoint is never mistaken for one
measured on the shipped net.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from stylize.errors import StylizeError, UserError
from stylize.models import registry, weights, zoo
from stylize.models.vgg import VGGEncoder
from stylize.offline.averaging import trained_weights

RANDOM_SEED = 0


@dataclass
class BenchNet:
    method: str
    net: nn.Module | None  # None when missing
    source: str  # where the weights came from, or why the net is missing

    @property
    def missing(self) -> bool:
        return self.net is None


def parse_net_files(items: list[str] | None) -> dict[str, Path]:
    """`--net student=runs/student/checkpoint.pt` (repeatable) → {method: path}."""
    files = {}
    for item in items or []:
        method, sep, path = item.partition("=")
        if not sep or not method or not path:
            raise UserError(f"--net expects METHOD=PATH, got {item!r}")
        if method not in registry.arbitrary_methods():
            raise UserError(f"--net {method}: only arbitrary-style nets ({', '.join(registry.arbitrary_methods())}) "
                            "take weight files here")
        if not Path(path).is_file():
            raise UserError(f"--net {method}: {path}: no such file")
        files[method] = Path(path)
    return files


def net_from_file(method: str, path: str | os.PathLike) -> nn.Module:
    """A net from a training checkpoint or a state dict file, loaded with weights_only=True."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file is the user's to fix
        raise UserError(f"{path}: cannot be loaded as weights ({exc})") from None
    state = (trained_weights(obj) if "model" in obj else obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict):
        raise UserError(f"{path}: holds no state dict")
    return registry.get(method).from_state(state, zoo.load_vgg)


def random_net(method: str) -> nn.Module:
    """`method`'s net in the shipped shape with random weights; fine for timing, meaningless for quality."""
    return registry.get(method).random(random_vgg, RANDOM_SEED)


def random_vgg(depth: str) -> VGGEncoder:
    """`vgg_or_random` as a VGG loader for the registry's builders."""
    return vgg_or_random(depth)[0]


def vgg_or_random(depth: str = "relu3_1") -> tuple[VGGEncoder, str]:
    """The VGG with real weights when the registry finds them, else random (for timing only)."""
    try:
        return zoo.load_vgg(depth), "registered VGG-19 weights"
    except StylizeError:
        torch.manual_seed(RANDOM_SEED)
        return VGGEncoder(depth).eval(), "random VGG (weights not found; same cost)"


def bench_net(method: str, net_file: str | os.PathLike | None = None, allow_random: bool = False) -> BenchNet:
    """`method`'s net from the best source available; never raises for a missing one."""
    if net_file:
        return BenchNet(method, net_from_file(method, net_file), f"file {net_file}")
    spec = registry.get(method)
    try:
        return BenchNet(method, zoo.load(method), f"registered weights {weights.find(spec.weights)}")
    except StylizeError as exc:
        if allow_random and spec.arbitrary:
            return BenchNet(method, random_net(method),
                            "random init (no registered weights; speed does not depend on weight values)")
        return BenchNet(method, None, f"missing: {exc}")


def naive_baseline() -> BenchNet:
    """VGG-r31 AdaIN as published: the VGG encoder plus a relu3_1 decoder, eager torch fp32.

    Real weights where the registry finds them, random ones where not: the
    cost is the same, only the picture differs, and the source says which.
    """
    spec = registry.get("adain")
    vgg_source = vgg_or_random()[1]
    try:
        net = spec.from_state(weights.load(spec.weights), random_vgg)
        decoder_source = "our trained relu3_1 decoder"
    except StylizeError:
        net = random_net("adain")
        decoder_source = "a randomly initialised relu3_1 decoder (its weights were not found)"
    return BenchNet("adain-r31", net, f"{vgg_source} + {decoder_source}")
