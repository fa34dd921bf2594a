"""Built-in looks: style parameters precomputed from public-domain paintings.

A look needs no style image at run time: `models/shipped/looks.pt` holds, for
each painting, what each arbitrary-style net would compute from it (AdaIN and
student channel statistics, AesFA's pooled style code), in fp16. The file is
rebuilt with `python -m stylize.offline.looks` whenever a net is retrained.
"""
from __future__ import annotations

from functools import lru_cache

import torch

from stylize.errors import UserError
from stylize.models import registry, weights
from stylize.models.adain import Style
from stylize.models.aesfa import Octave

LOOKS_WEIGHTS = "looks"  # registry name of the shipped looks file


@lru_cache(maxsize=1)
def _table() -> dict[str, dict]:
    if LOOKS_WEIGHTS not in weights.REGISTRY:
        return {}
    return weights.load(LOOKS_WEIGHTS)


def names() -> list[str]:
    return sorted(_table())


def describe(name: str) -> str:
    entry = _table()[name]
    return f"{entry['title']} ({entry['artist']}, {entry['year']})"


def style_for(name: str, method: str, net: torch.nn.Module):
    """The precomputed style object of look `name` for `net` (a `method` net)."""
    table = _table()
    if name not in table:
        known = ", ".join(names()) or "none are installed"
        raise UserError(f"unknown look {name!r}; built-in looks: {known}")
    entry = table[name]
    if method not in entry:
        raise UserError(f"look {name!r} has no parameters for {method!r}; it has {', '.join(k for k in entry if isinstance(entry[k], dict))}")
    device = next(net.parameters()).device
    params = {k: v.to(device, torch.float32) for k, v in entry[method].items()}
    if registry.get(method).style_kind == "aesfa":
        return net.predict_style(Octave(params["high"], params["low"]))
    return Style(params["mean"], params["std"], torch.ones(1, device=device))


@torch.no_grad()
def compute(method: str, net: torch.nn.Module, image: torch.Tensor) -> dict[str, torch.Tensor]:
    """What `style_for` will need, computed from a painting (1,3,H,W in [0,1]), in fp16."""
    if registry.get(method).style_kind == "aesfa":
        code = net.style_code(net.encode(image)[-1])
        return {"high": code.high.half(), "low": code.low.half()}
    style = net.style([image])
    return {"mean": style.mean.half(), "std": style.std.half()}
