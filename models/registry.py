"""The net registry: the one table that maps a method name to everything about its net.

    spec = registry.get("student")
    net = spec.from_state(state)          # a net shaped to fit `state`, weights loaded
    net = spec.random()                   # the shipped shape, random weights (benchmarks)
    spec.style_kind                       # "none" (a fixed look), "adain" or "aesfa"
    spec.graph(net)                       # the ONNX export wrapper
    spec.inference_state(net)             # the weights a picture depends on

Every part of stylize that needs to know what a method is (the engines, the
export, the benchmarks, the looks, training and shipping) asks this table;
adding a net is one `register` call. The weights themselves are found and
hash-checked by models/weights.py, and models/zoo.py joins the two.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn

from stylize.errors import OptionError, WeightsError
from stylize.models import weights
from stylize.models.adain import AdaINNet, Decoder
from stylize.models.aesfa import AesFANet
from stylize.models.distilled import DistilledNet, read_sidecar
from stylize.models.fast import EngstromNet, JohnsonNet
from stylize.models.graphs import AdaINGraph, AesFAGraph, FastNetGraph
from stylize.models.student import StudentNet
from stylize.models.vgg import VGGEncoder

VGGLoader = Callable[[str], VGGEncoder]  # VGG tap (e.g. "relu3_1") -> an encoder up to it
STYLE_KINDS = ("none", "adain", "aesfa")
DEFAULT_METHOD = "student"  # fully ours, needs no VGG, real time on a CPU
RANDOM_AESFA_WIDTH = 32  # the width `stylize train aesfa` uses by default, and the shipped one


@dataclass(frozen=True)
class NetSpec:
    """What stylize knows about one method's net."""

    method: str
    cls: type[nn.Module]
    weights: str  # the name of its trained weights in models/weights.py
    style_kind: str  # one of STYLE_KINDS: what style parameters it takes
    summary: str
    build: Callable[[dict[str, torch.Tensor], VGGLoader | None], nn.Module]  # fit to a state dict
    build_random: Callable[[VGGLoader | None], nn.Module]
    inference_state: Callable[[nn.Module], dict[str, torch.Tensor]]
    graph: Callable[[nn.Module], nn.Module]
    needs_vgg: bool = False
    dynamic_size: bool = True  # False: the export freezes the frame size (see export/onnx.py)
    # Its content normalisations go through models/normstats.py, so the tiles of a big picture can replay
    # the whole picture's statistics (realtime/tiling.py); False: each tile normalises itself.
    shares_stats: bool = True

    @property
    def arbitrary(self) -> bool:
        """Takes any painting as its style (as opposed to a fast net's one fixed look)."""
        return self.style_kind != "none"

    def from_state(self, state: dict[str, torch.Tensor], vgg: VGGLoader | None = None) -> nn.Module:
        """The net shaped to fit `state`, with it loaded, in eval mode; `vgg` supplies the encoder if needed."""
        self._check_vgg(vgg)
        try:
            return self.build(state, vgg).eval()
        except (KeyError, ValueError, RuntimeError, AttributeError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise WeightsError(f"these weights do not fit a {self.method} net ({reason})") from None

    def random(self, vgg: VGGLoader | None = None, seed: int = 0) -> nn.Module:
        """The shipped shape with random weights: right for timing, meaningless for pictures."""
        self._check_vgg(vgg)
        torch.manual_seed(seed)
        return self.build_random(vgg).eval()

    def _check_vgg(self, vgg: VGGLoader | None) -> None:
        if self.needs_vgg and vgg is None:
            raise ValueError(f"{self.method} runs on VGG-19 features: pass a VGG loader")


NETS: dict[str, NetSpec] = {}


def register(spec: NetSpec) -> NetSpec:
    if spec.style_kind not in STYLE_KINDS:
        raise ValueError(f"style_kind must be one of {STYLE_KINDS}, got {spec.style_kind!r}")
    NETS[spec.method] = spec
    return spec


def get(method: str) -> NetSpec:
    """The spec of `method`, or an OptionError that lists the choices."""
    try:
        return NETS[method]
    except KeyError:
        raise OptionError(f"unknown method {method!r}; choose from {', '.join(NETS)}") from None


def methods(arbitrary: bool | None = None) -> list[str]:
    """Registered method names: all, only the arbitrary-style nets (True) or only the fast nets (False)."""
    return [name for name, spec in NETS.items() if arbitrary is None or spec.arbitrary == arbitrary]


def arbitrary_methods() -> list[str]:
    return methods(arbitrary=True)


def fast_methods() -> list[str]:
    return methods(arbitrary=False)


def is_fast(method: str) -> bool:
    """Whether `method` names a registered fast net with a fixed look."""
    return method in NETS and not NETS[method].arbitrary


def register_file(path: str | os.PathLike) -> str:
    """Register a distilled net file (`stylize distill`'s NAME.pt with NAME.pt.json) and return its method name.

    The sidecar's sha256 pins the weights: they are registered like any others, so the engines and the export
    load them hash-checked (weights_only). The name is the file's stem, with the hash's start when a different
    net holds that name already.
    """
    path = Path(path).resolve()
    record = read_sidecar(path)
    sha = record["sha256"]
    name = path.stem
    known = weights.REGISTRY.get(name)
    if known is not None and known.sha256 != sha:
        name = f"{name}-{sha[:8]}"
    weights.register(weights.WeightSpec(name, str(path), sha, record["architecture"], "your own (distilled)",
                                        size=record.get("size"), note=f"distilled from {record.get('look', '?')}"))
    register(NetSpec(
        name, DistilledNet, name, "none", f"a distilled look from {path.name}",
        build=lambda state, vgg: DistilledNet.from_state_dict(state),
        build_random=lambda vgg: DistilledNet(), inference_state=_full_state, graph=FastNetGraph,
    ))
    return name


def _adain_from_state(state: dict[str, torch.Tensor], vgg: VGGLoader) -> AdaINNet:
    decoder = Decoder.from_state_dict(state)
    return AdaINNet(vgg(decoder.depth), decoder)


def _loaded(net: nn.Module, state: dict[str, torch.Tensor]) -> nn.Module:
    net.load_state_dict(state)
    return net


def _full_state(net: nn.Module) -> dict[str, torch.Tensor]:
    return net.state_dict()


register(NetSpec(
    "student", StudentNet, "student", "adain",
    "the CPU student: AdaIN over a compact encoder distilled from VGG-19 (the default)",
    build=lambda state, vgg: StudentNet.from_inference_state_dict(state),
    build_random=lambda vgg: StudentNet(),
    inference_state=lambda net: net.inference_state_dict(),
    graph=AdaINGraph,
))
register(NetSpec(
    "aesfa", AesFANet, "aesfa", "aesfa",
    "AesFA: octave encoder and a decoder with kernels predicted from the style",
    build=lambda state, vgg: AesFANet.from_state_dict(state),
    build_random=lambda vgg: AesFANet(RANDOM_AESFA_WIDTH),
    inference_state=_full_state,
    graph=AesFAGraph,
))
register(NetSpec(
    "adain", AdaINNet, "adain_r31_decoder", "adain",
    "AdaIN on VGG-19 relu3_1 features with our trained decoder",
    build=_adain_from_state,
    build_random=lambda vgg: AdaINNet(vgg("relu3_1"), Decoder("relu3_1")),
    inference_state=lambda net: net.decoder.state_dict(),
    graph=AdaINGraph,
    needs_vgg=True,
))

_FAST_CLASSES = {"johnson": JohnsonNet, "engstrom": EngstromNet}
for _name, _weights in weights.REGISTRY.items():
    _cls = _FAST_CLASSES.get(_weights.architecture)
    if _cls is None:
        continue
    register(NetSpec(
        _name, _cls, _name, "none", f"a fast per-look net ({_weights.note})",
        build=lambda state, vgg, cls=_cls: _loaded(cls(), state),
        build_random=lambda vgg, cls=_cls: cls(),
        inference_state=_full_state,
        graph=FastNetGraph,
        # Engstrom nets pad with Python arithmetic on the input size, which the tracer freezes.
        dynamic_size=_cls is not EngstromNet,
    ))
