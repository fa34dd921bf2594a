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

from stylize.errors import UserError
from stylize.models import weights, zoo
from stylize.models.adain import AdaINNet, Decoder
from stylize.models.aesfa import AesFANet
from stylize.models.student import StudentNet
from stylize.models.vgg import VGGEncoder
from stylize.offline.averaging import trained_weights

RANDOM_AESFA_WIDTH = 32  # the width `stylize train aesfa` uses by default
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
        if method not in zoo.ARBITRARY_METHODS:
            raise UserError(f"--net {method}: only arbitrary-style nets ({', '.join(zoo.ARBITRARY_METHODS)}) "
                            "take weight files here")
        if not Path(path).is_file():
            raise UserError(f"--net {method}: {path}: no such file")
        files[method] = Path(path)
    return files


def net_from_state(method: str, state: dict[str, torch.Tensor]) -> nn.Module:
    """Build `method`'s net to fit a state dict (full student dicts and bare adain decoders alike)."""
    try:
        if method == "student":
            return StudentNet.from_inference_state_dict(state).eval()
        if method == "aesfa":
            return AesFANet.from_state_dict(state).eval()
        if method == "adain":
            decoder = Decoder.from_state_dict(state)
            return AdaINNet(zoo.load_vgg(decoder.depth), decoder).eval()
    except (KeyError, ValueError, RuntimeError) as exc:
        raise UserError(f"these weights do not fit a {method} net ({str(exc).splitlines()[0]})") from None
    raise UserError(f"unknown arbitrary-style method {method!r}")


def net_from_file(method: str, path: str | os.PathLike) -> nn.Module:
    """A net from a training checkpoint or a state dict file, loaded with weights_only=True."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file is the user's to fix
        raise UserError(f"{path}: cannot be loaded as weights ({exc})") from None
    state = (trained_weights(obj) if "model" in obj else obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict):
        raise UserError(f"{path}: holds no state dict")
    return net_from_state(method, state)


def random_net(method: str) -> nn.Module:
    """A freshly initialised net of the shape we ship; fine for timing, meaningless for quality."""
    torch.manual_seed(RANDOM_SEED)
    if method == "student":
        return StudentNet().eval()
    if method == "aesfa":
        return AesFANet(RANDOM_AESFA_WIDTH).eval()
    if method == "adain":
        return AdaINNet(vgg_or_random()[0], Decoder("relu3_1")).eval()
    raise UserError(f"no random stand-in for {method!r}")


def vgg_or_random() -> tuple[VGGEncoder, str]:
    """The relu3_1 VGG with real weights when the registry finds them, else random (for timing only)."""
    try:
        return zoo.load_vgg(), "registered VGG-19 weights"
    except UserError:
        torch.manual_seed(RANDOM_SEED)
        return VGGEncoder("relu3_1").eval(), "random VGG (weights not found; same cost)"


def bench_net(method: str, net_file: str | os.PathLike | None = None, allow_random: bool = False) -> BenchNet:
    """`method`'s net from the best source available; never raises for a missing one."""
    if net_file:
        return BenchNet(method, net_from_file(method, net_file), f"file {net_file}")
    try:
        if method in weights.FAST_NETS:
            net = zoo.load_fast_net(method)
            return BenchNet(method, net, f"registered weights {weights.find(method)}")
        net = zoo.load_arbitrary_net(method)
        return BenchNet(method, net, f"registered weights {weights.find(zoo.ARBITRARY_WEIGHTS[method])}")
    except UserError as exc:
        if allow_random and method in zoo.ARBITRARY_METHODS:
            return BenchNet(method, random_net(method),
                            "random init (no registered weights; speed does not depend on weight values)")
        return BenchNet(method, None, f"missing: {exc}")


def naive_baseline() -> BenchNet:
    """VGG-r31 AdaIN as published: the VGG encoder plus a relu3_1 decoder, eager torch fp32.

    Our trained decoder when it is registered, else a fresh one: the cost is
    the same, only the picture differs.
    """
    try:
        net = zoo.load_arbitrary_net("adain")
        return BenchNet("adain-r31", net, "registered VGG-19 + our trained relu3_1 decoder")
    except UserError:
        vgg, vgg_source = vgg_or_random()
        torch.manual_seed(RANDOM_SEED)
        return BenchNet("adain-r31", AdaINNet(vgg, Decoder("relu3_1")).eval(),
                        f"{vgg_source} + a freshly initialised relu3_1 decoder (not registered yet)")
