"""Perceptual losses on VGG features: content, style (Gram or mean/std) and TV.

Plain functions on float NCHW feature maps, shared by the Gatys optimiser and
by the trainers of the feed-forward nets. Feature dicts map a tap name
("relu2_1", ...) to its activation.

Every style statistic takes an optional `mask` (N,1,H,W or 1,1,H,W, values in
[0,1], any spatial size): it weights spatial positions, so the statistic
describes only the masked region. This is how Gatys picks where a style goes.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

Stats = tuple[torch.Tensor, torch.Tensor]  # (mean, std), each N,C,1,1


def resize_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A spatial weight mask at a feature map's size.

    Shrinking averages over each feature position's footprint ("area"), so a
    position half covered by the mask gets weight 0.5.
    """
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    if size[0] <= mask.shape[-2] and size[1] <= mask.shape[-1]:
        return F.interpolate(mask, size=size, mode="area")
    return F.interpolate(mask, size=size, mode="bilinear", align_corners=False).clamp(0, 1)


def _weights_for(feat: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-position weights (N,1,H*W) and their sum (N,1,1); all ones without a mask."""
    n, _, h, w = feat.shape
    if mask is None:
        weights = feat.new_ones(n, 1, h * w)
    else:
        weights = resize_mask(mask.to(feat), (h, w)).flatten(2).expand(n, 1, h * w)
    # An empty mask would divide by zero; it then contributes a zero statistic.
    return weights, weights.sum(dim=2, keepdim=True).clamp_min(1e-8)


def gram(feat: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Gram matrix (N,C,C) normalised by C*H*W.

    Dividing by the number of positions makes it independent of image size,
    so a style image and a content image of different sizes are comparable;
    dividing by C keeps layers of different widths in a similar range. With a
    mask the positions are weighted and the divisor is C * sum(mask).
    """
    c = feat.shape[1]
    flat = feat.flatten(2)  # N,C,P
    if mask is None:
        return flat @ flat.transpose(1, 2) / (c * flat.shape[2])
    weights, total = _weights_for(feat, mask)
    return (flat * weights) @ flat.transpose(1, 2) / (c * total)


def mean_std(feat: torch.Tensor, eps: float = 1e-5, mask: torch.Tensor | None = None) -> Stats:
    """Per-channel mean and std, each N,C,1,1 (the statistics AdaIN swaps).

    The variance is the population variance (no Bessel correction) so a 1x1
    map is still defined; `eps` keeps the std's gradient finite on dead
    channels.
    """
    flat = feat.flatten(2)
    weights, total = _weights_for(feat, mask)
    mean = (flat * weights).sum(dim=2, keepdim=True) / total
    var = ((flat - mean) ** 2 * weights).sum(dim=2, keepdim=True) / total
    return mean.unsqueeze(-1), (var + eps).sqrt().unsqueeze(-1)


def content_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean squared error between two feature maps."""
    return F.mse_loss(a, b)


def _layer_weight(layer_weights: Mapping[str, float] | None, name: str) -> float:
    return 1.0 if layer_weights is None else layer_weights.get(name, 0.0)


def gram_style_loss(feats: Mapping[str, torch.Tensor], target_grams: Mapping[str, torch.Tensor],
                    layer_weights: Mapping[str, float] | None = None,
                    mask: torch.Tensor | None = None) -> torch.Tensor:
    """Gatys's style loss: weighted sum over layers of MSE(gram(feat), target).

    Only layers present in `target_grams` count; `layer_weights` defaults to 1
    for each of them. Targets broadcast over the batch (1,C,C is fine).
    """
    total = next(iter(feats.values())).new_zeros(())
    for name, target in target_grams.items():
        weight = _layer_weight(layer_weights, name)
        if weight:
            g = gram(feats[name], mask)
            total = total + weight * F.mse_loss(g, target.expand_as(g))
    return total


def mean_std_style_loss(feats: Mapping[str, torch.Tensor], target_stats: Mapping[str, Stats],
                        layer_weights: Mapping[str, float] | None = None,
                        mask: torch.Tensor | None = None) -> torch.Tensor:
    """AdaIN-paper style loss: sum over layers of MSE(mean) + MSE(std).

    Cheaper and smoother than Gram matching (first and second moments per
    channel only, no cross-channel correlations), which is what AdaIN-type
    decoders are trained with.
    """
    total = next(iter(feats.values())).new_zeros(())
    for name, (target_mean, target_std) in target_stats.items():
        weight = _layer_weight(layer_weights, name)
        if weight:
            mean, std = mean_std(feats[name], mask=mask)
            total = total + weight * (F.mse_loss(mean, target_mean.expand_as(mean))
                                      + F.mse_loss(std, target_std.expand_as(std)))
    return total


def tv_loss(img: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring pixels.

    Suppresses the high-frequency checkerboard noise that pixel-space
    optimisation of VGG losses produces. Squared (not absolute) so the
    objective stays smooth for L-BFGS.
    """
    dy = img[..., 1:, :] - img[..., :-1, :]
    dx = img[..., :, 1:] - img[..., :, :-1]
    return (dy ** 2).mean() + (dx ** 2).mean()
