"""Colour preservation, usable with every method.

Two classic ways to keep the photo's colours while taking the painting's
texture (Gatys et al., "Preserving Color in Neural Artistic Style Transfer"):

* `luminance_only`: keep the stylized result's luminance (Y) and the content's
  chroma (Cb, Cr). Works on any output, so it is applied after the net.
* `match_color`: before stylizing, move the style image's colour distribution
  (mean and covariance in RGB) onto the content's.

Tensors are float NCHW RGB in [0,1].
"""
from __future__ import annotations

import torch

# BT.601 full-range RGB <-> YCbCr (centred chroma).
_RGB_TO_YCC = torch.tensor([
    [0.299, 0.587, 0.114],
    [-0.168736, -0.331264, 0.5],
    [0.5, -0.418688, -0.081312],
])
_YCC_TO_RGB = torch.linalg.inv(_RGB_TO_YCC)

COLOR_MODES = ("luminance", "match")


def _apply_matrix(x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", matrix.to(x.device, x.dtype), x)


def rgb_to_ycc(x: torch.Tensor) -> torch.Tensor:
    return _apply_matrix(x, _RGB_TO_YCC)


def ycc_to_rgb(x: torch.Tensor) -> torch.Tensor:
    return _apply_matrix(x, _YCC_TO_RGB)


def luminance_only(stylized: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Stylized luminance with the content's chroma. Shapes must match."""
    y = rgb_to_ycc(stylized)[:, :1]
    chroma = rgb_to_ycc(content)[:, 1:]
    return ycc_to_rgb(torch.cat([y, chroma], dim=1)).clamp(0, 1)


def _sqrt_psd(cov: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(cov)
    values = values.clamp_min(1e-5)
    scale = values.rsqrt() if inverse else values.sqrt()
    return vectors @ torch.diag_embed(scale) @ vectors.transpose(-1, -2)


def match_color(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Recolour `style` so its RGB mean and covariance equal the content's."""
    def stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = x.flatten(2)  # N,3,P
        mean = flat.mean(dim=2, keepdim=True)
        centred = flat - mean
        cov = centred @ centred.transpose(1, 2) / max(flat.shape[2] - 1, 1)
        return mean, cov + 1e-5 * torch.eye(3, device=x.device, dtype=x.dtype)

    s_mean, s_cov = stats(style.double())
    c_mean, c_cov = stats(content.double())
    transform = _sqrt_psd(c_cov) @ _sqrt_psd(s_cov, inverse=True)
    flat = transform @ (style.double().flatten(2) - s_mean) + c_mean
    return flat.view_as(style).to(style.dtype).clamp(0, 1)
