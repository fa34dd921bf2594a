"""Export wrappers: each live net as a graph with its style as plain inputs.

Every wrapper takes `content` (1,3,H,W float RGB in [0,1]) first, then the
style's tensors, and returns the stylized picture clamped to [0,1] at exactly
the content's size. One graph then serves every look of a net; export/onnx.py
names the inputs and runs the exporter.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from stylize.models.adain import AdaINNet, adain
from stylize.models.aesfa import SIZE_MULTIPLE, AesFANet, AesFAStyle, DynamicKernels, OctaveKernels

BANDS = ("high", "low")
KERNEL_FIELDS = ("spatial", "pointwise", "bias")


class AdaINGraph(nn.Module):
    """AdaIN-r31 or the student with the style statistics and alpha as inputs."""

    def __init__(self, net: AdaINNet):
        super().__init__()
        self.net = net

    def forward(self, content: torch.Tensor, style_mean: torch.Tensor, style_std: torch.Tensor,
                alpha: torch.Tensor) -> torch.Tensor:
        height, width = content.shape[-2:]
        features = self.net.encoder(content)
        # Always lerp (AdaINNet skips it at alpha=1) so one graph serves every alpha.
        features = torch.lerp(features, adain(features, style_mean, style_std), alpha)
        return self.net.decoder(features)[..., :height, :width].clamp(0, 1)


class AesFAGraph(nn.Module):
    """AesFA with its per-look kernels as inputs."""

    def __init__(self, net: AesFANet):
        super().__init__()
        self.net = net

    def forward(self, content: torch.Tensor, *kernels: torch.Tensor) -> torch.Tensor:
        height, width = content.shape[-2:]
        # AesFANet.encode pads only when needed (a Python branch the tracer
        # would freeze); padding always, possibly by zero, keeps the size dynamic.
        padded = F.pad(content, (0, (-width) % SIZE_MULTIPLE, 0, (-height) % SIZE_MULTIPLE), mode="reflect")
        features = self.net.encoder(padded)[-1]
        return self.net.decode(features, aesfa_style_from_tensors(kernels))[..., :height, :width].clamp(0, 1)


class FastNetGraph(nn.Module):
    """A Johnson or Engstrom net wrapped to take and give RGB in [0,1] like every other graph."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, content: torch.Tensor) -> torch.Tensor:
        return (self.net(content * 255) / 255).clamp(0, 1)


def aesfa_style_from_tensors(tensors: Sequence[torch.Tensor]) -> AesFAStyle:
    """The inverse of `AesFAStyle.tensors()`: per block, high then low band, each spatial, pointwise, bias."""
    per_band = len(KERNEL_FIELDS)
    per_block = per_band * len(BANDS)
    if len(tensors) % per_block:
        raise ValueError(f"{len(tensors)} kernel tensors do not make whole AdaOctConv blocks of {per_block}")
    layers = []
    for start in range(0, len(tensors), per_block):
        block = tensors[start:start + per_block]
        layers.append(OctaveKernels(DynamicKernels(*block[:per_band]), DynamicKernels(*block[per_band:])))
    return AesFAStyle(tuple(layers))


def kernel_input_names(style: AesFAStyle) -> list[str]:
    """The graph input names of AesFA's kernels, in `AesFAStyle.tensors()` order."""
    return [f"block{i}_{band}_{field}" for i in range(len(style.layers))
            for band in BANDS for field in KERNEL_FIELDS]
