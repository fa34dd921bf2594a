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
    """The VGG encoder: the full official file when present, else the relu3_1 prefix.

    `depth` None means relu3_1, the tap every net here is built on; ask for
    relu4_1 explicitly to use the full file's deeper layers.
    """
    depth = depth or "relu3_1"
    deep = depth not in ("relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1")
    if explicit:
        state = weights.verified_load_any(explicit, ("vgg19", "vgg19_r31"))
    elif weights.find("vgg19") or deep:
        state = weights.load("vgg19")
    else:
        state = weights.load("vgg19_r31")
    try:
        return VGGEncoder.from_state_dict(state, depth).eval()
    except ValueError as exc:
        raise UserError(str(exc)) from None


ARBITRARY_METHODS = ("adain", "aesfa", "student")


def load_arbitrary_net(method: str) -> nn.Module:
    """An arbitrary-style net (AdaIN-r31, AesFA or the CPU student) with trained weights."""
    if method not in ARBITRARY_METHODS:
        known = ", ".join((*ARBITRARY_METHODS, *weights.FAST_NETS))
        raise UserError(f"unknown method {method!r}; choose from gatys, {known}")
    raise UserError(f"no trained weights for {method!r} are registered yet; "
                    f"use --method gatys or a fast net ({', '.join(weights.FAST_NETS)})")
