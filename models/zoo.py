"""Build ready-to-run nets from registered weights (the only place nets meet files)."""
from __future__ import annotations

import os

import torch.nn as nn

from stylize.errors import UserError
from stylize.models import weights
from stylize.models.fast import EngstromNet, JohnsonNet
from stylize.models.vgg import VGGEncoder

_FAST_CLASSES = {"johnson": JohnsonNet, "engstrom": EngstromNet}


def load_fast_net(name: str, explicit: str | os.PathLike | None = None) -> nn.Module:
    spec = weights.spec_for(name)
    if spec.architecture not in _FAST_CLASSES:
        raise UserError(f"{name!r} is not a fast per-look net; fast nets: {', '.join(weights.FAST_NETS)}")
    net = _FAST_CLASSES[spec.architecture]()
    net.load_state_dict(weights.load(name, explicit))
    return net.eval()


def load_vgg(depth: str | None = None, explicit: str | os.PathLike | None = None) -> VGGEncoder:
    """The VGG encoder: the relu3_1 file when it is enough and present, else the full official file.

    `depth` None means relu3_1, the tap every net here is built on; ask for
    relu4_1 explicitly to use the full file's deeper layers.
    """
    depth = depth or "relu3_1"
    deep = depth not in ("relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1")
    if explicit:
        state = weights.verified_load_any(explicit, ("vgg19", "vgg19_r31"))
    elif weights.find("vgg19_r31") and not deep:
        state = weights.load("vgg19_r31")
    else:
        # The full official file: found locally, or downloaded into the cache.
        try:
            state = weights.load("vgg19")
        except UserError as exc:
            raise UserError(f"{exc} (the relu3_1-only file vgg19_r31, "
                            f"{weights.spec_for('vgg19_r31').file}, would also do)") from None
    try:
        return VGGEncoder.from_state_dict(state, depth).eval()
    except ValueError as exc:
        raise UserError(str(exc)) from None


# method -> registry name of its trained weights
ARBITRARY_WEIGHTS = {"student": "student", "aesfa": "aesfa", "adain": "adain_r31_decoder"}
ARBITRARY_METHODS = tuple(ARBITRARY_WEIGHTS)
DEFAULT_METHOD = "student"  # fully ours, needs no VGG, real time on a CPU


def load_arbitrary_net(method: str) -> nn.Module:
    """An arbitrary-style net (the CPU student, AesFA or AdaIN-r31) with our trained weights."""
    if method == "student":
        from stylize.models.student import StudentNet
        return StudentNet.from_inference_state_dict(weights.load(ARBITRARY_WEIGHTS["student"])).eval()
    if method == "aesfa":
        from stylize.models.aesfa import AesFANet
        return AesFANet.from_state_dict(weights.load(ARBITRARY_WEIGHTS["aesfa"])).eval()
    if method == "adain":
        from stylize.models.adain import AdaINNet, Decoder
        decoder = Decoder.from_state_dict(weights.load(ARBITRARY_WEIGHTS["adain"]))
        return AdaINNet(load_vgg(decoder.depth), decoder).eval()
    known = ", ".join((*ARBITRARY_METHODS, *weights.FAST_NETS))
    raise UserError(f"unknown method {method!r}; choose from gatys, {known}")
