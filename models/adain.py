"""AdaIN arbitrary style transfer (Huang & Belongie, ICCV 2017); architecture only.

The net is the frozen VGG encoder (models/vgg.py), the AdaIN operation at its
deepest tap, and a decoder that mirrors the encoder. A look is reduced once to
a `Style`: the per-channel means and stds of the style features. A live engine
therefore never encodes a style image per frame, and a crossfade only
interpolates these few numbers.

Every control from the paper acts in feature space:

* `alpha` moves from the content features (0) to the AdaIN features (1);
* `weights` blend several styles. AdaIN is affine in (mean, std), so blending
  the statistics equals blending the AdaIN outputs, as the paper does;
* `mask` gives spatial control: one style per region, or style against content;
* colour: `style(..., match_to=content)` recolours the style images before
  their statistics are taken; `forward(..., preserve_color="luminance")` keeps
  the content's chroma in the output (both from models/color.py).

The decoder's weights are stored apart from the VGG's: the VGG comes from the
weights registry at run time, and `Decoder.from_state_dict` loads a decoder
file on its own. The decoder is an nn.Sequential whose indices match the
pytorch-AdaIN reference decoder, so a relu4_1 `decoder.pth` from that project
loads unchanged.

The output is linear RGB in about [0, 1], with no sigmoid: the reference
decoder has none, and a sigmoid would flatten the gradients of the VGG losses
at the extremes. `AdaINNet.forward` clamps the output. Training code calls
`stylize_features` and `decoder` itself and gets the raw output.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from stylize.models import normstats
from stylize.models.color import luminance_only, match_color
from stylize.models.vgg import _LAYOUT as VGG_LAYOUT
from stylize.models.vgg import TAP_ORDER, VGGEncoder


def channel_stats(feat: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample, per-channel mean and std of an NCHW map, each shaped N,C,1,1.

    This matches the reference: the unbiased variance plus eps, under a square
    root. Decoders trained with the reference expect exactly these statistics.
    """
    flat = feat.flatten(2)
    mean = flat.mean(dim=2)[..., None, None]
    std = (flat.var(dim=2) + eps).sqrt()[..., None, None]
    return mean, std


def _stats_from_moments(mean: torch.Tensor, var: torch.Tensor, count: torch.Tensor,
                        eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """`channel_stats` from measured moments: the unbiased variance plus eps, under a square root."""
    return mean, (var * count / (count - 1).clamp_min(1) + eps).sqrt()


def adain(content_feat: torch.Tensor, style_mean: torch.Tensor, style_std: torch.Tensor,
          eps: float = 1e-5) -> torch.Tensor:
    """Give `content_feat` the channel statistics (N or 1,C,1,1) of a style.

    The content's own statistics go through models/normstats.py, so a tile can be given the whole picture's.
    """
    mean, std = normstats.statistics("adain", content_feat, channel_stats, eps, from_moments=_stats_from_moments)
    return (content_feat - mean) / std * style_std + style_mean


def normalised_weights(weights: Sequence[float] | torch.Tensor | None, count: int) -> torch.Tensor:
    """Blend weights for `count` styles as a float32 tensor summing to 1 (default: equal)."""
    if weights is None:
        return torch.full((count,), 1.0 / count)
    w = torch.as_tensor(weights, dtype=torch.float32).flatten()
    if w.numel() != count:
        raise ValueError(f"{w.numel()} weights given for {count} style image(s)")
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"style weights must be non-negative with a positive sum, got {w.tolist()}")
    return w / w.sum()


@dataclass(frozen=True)
class Style:
    """K looks, each as AdaIN statistics at the encoder's deepest tap, plus blend weights.

    mean, std: K,C,1,1. weights: K, summing to 1. A mask addresses the looks
    by index (see `AdaINNet.stylize_features`); without a mask they are
    blended with `weights`.
    """

    mean: torch.Tensor
    std: torch.Tensor
    weights: torch.Tensor

    def __len__(self) -> int:
        return self.mean.shape[0]

    def blended(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The weighted mean and std, each 1,C,1,1."""
        w = self.weights.to(self.mean)[:, None, None, None]
        return (w * self.mean).sum(0, keepdim=True), (w * self.std).sum(0, keepdim=True)

    def collapsed(self) -> "Style":
        """The blend as a single look."""
        mean, std = self.blended()
        return Style(mean, std, torch.ones(1, device=self.weights.device))

    def lerp(self, other: "Style", t: float) -> "Style":
        """Interpolate from this style (t=0) to `other` (t=1), for crossfades.

        Styles with the same number of looks are interpolated look by look,
        so a mask keeps addressing the same looks during the fade. Otherwise
        both sides are collapsed to their blends first.
        """
        a, b = (self, other) if len(self) == len(other) else (self.collapsed(), other.collapsed())
        return Style(torch.lerp(a.mean, b.mean.to(a.mean), t), torch.lerp(a.std, b.std.to(a.std), t),
                     torch.lerp(a.weights, b.weights.to(a.weights), t))

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> "Style":
        """The statistics on `device` in `dtype`; the weights only move, they stay float32."""
        return Style(self.mean.to(device, dtype), self.std.to(device, dtype), self.weights.to(device))


def _encoder_layout(depth: str) -> list[tuple[str, int, int] | str]:
    """The VGG layout entries (convs and pools) up to and including tap `depth`."""
    layout = []
    for entry in VGG_LAYOUT:
        layout.append(entry)
        if entry != "pool" and entry[0] == depth:
            return layout
    raise ValueError(f"unknown VGG tap {depth!r}; choose from {', '.join(TAP_ORDER)}")


class Decoder(nn.Sequential):
    """The mirror of the VGG encoder up to `depth`, as in the AdaIN paper.

    Every encoder conv becomes a ReflectionPad2d(1) + 3x3 conv with the
    channels swapped, followed by a ReLU except for the last one. Every max
    pool becomes a nearest x2 upsample. For relu3_1 this is 256→128, up,
    128→128, 128→64, up, 64→64, 64→3. For relu4_1 it is the paper's decoder.
    """

    def __init__(self, depth: str = "relu3_1"):
        layers: list[nn.Module] = []
        for entry in reversed(_encoder_layout(depth)):
            if entry == "pool":
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
                continue
            _, cin, cout = entry
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(cout, cin, 3), nn.ReLU()]
        super().__init__(*layers[:-1])  # the RGB conv has no ReLU
        self.depth = depth

    @classmethod
    def from_state_dict(cls, state_dict: dict[str, torch.Tensor]) -> "Decoder":
        """Build the decoder the weights were saved from and load them.

        The depth follows from the number of convs, which is one per encoder
        tap up to and including `depth`.
        """
        conv_count = sum(1 for key, value in state_dict.items() if key.endswith(".weight") and value.dim() == 4)
        if not 1 <= conv_count <= len(TAP_ORDER):
            raise ValueError(f"not an AdaIN decoder state dict ({conv_count} conv weights)")
        decoder = cls(TAP_ORDER[conv_count - 1])
        decoder.load_state_dict({k: v.float() for k, v in state_dict.items()})
        return decoder


class AdaINNet(nn.Module):
    """VGG encoder + AdaIN + decoder. Encoder and decoder must share a depth."""

    def __init__(self, encoder: VGGEncoder, decoder: Decoder):
        super().__init__()
        if encoder.depth != decoder.depth:
            raise ValueError(f"the encoder stops at {encoder.depth} but the decoder mirrors {decoder.depth}")
        self.encoder = encoder
        self.decoder = decoder

    @torch.no_grad()
    def style(self, images: Sequence[torch.Tensor] | torch.Tensor, weights: Sequence[float] | None = None,
              match_to: torch.Tensor | None = None) -> Style:
        """Precompute a `Style` from style images (each 1,3,H,W in [0,1]; sizes may differ).

        `weights` blend the images (default: equally). `match_to` (a content
        image or frame) first recolours each style image to its colours, which
        is the "match" kind of colour preservation. It is taken once, when the
        style is set, and is not updated per frame.
        """
        if isinstance(images, torch.Tensor):
            images = list(images.split(1))
        if not images:
            raise ValueError("style() needs at least one style image")
        stats = []
        for image in images:
            if match_to is not None:
                image = match_color(image, match_to.to(image))
            stats.append(channel_stats(self.encoder(image)))
        means, stds = zip(*stats)
        weights = normalised_weights(weights, len(images)).to(images[0].device)
        return Style(torch.cat(means), torch.cat(stds), weights)

    def stylize_features(self, content_feat: torch.Tensor, style: Style, alpha: float = 1.0,
                         mask: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder input: content features restyled by `style`.

        mask (N,1,H,W in [0,1], any size; it is resized to the features):
        with two looks, 1 picks look 0 and 0 picks look 1; with one look, 0
        keeps the content features. With a mask the blend weights are unused.
        """
        if mask is None:
            target = adain(content_feat, *style.blended())
        else:
            mask = F.interpolate(mask.to(content_feat), size=content_feat.shape[-2:], mode="bilinear",
                                 align_corners=False)
            if len(style) == 1:
                target = mask * adain(content_feat, style.mean, style.std) + (1 - mask) * content_feat
            elif len(style) == 2:
                first = adain(content_feat, style.mean[:1], style.std[:1])
                second = adain(content_feat, style.mean[1:], style.std[1:])
                target = mask * first + (1 - mask) * second
            else:
                raise ValueError(f"a mask selects between one or two looks; this style has {len(style)}")
        return torch.lerp(content_feat, target, alpha) if alpha != 1.0 else target

    def forward(self, content: torch.Tensor, style: Style, alpha: float = 1.0, mask: torch.Tensor | None = None,
                preserve_color: str | None = None) -> torch.Tensor:
        """Stylize content (N,3,H,W in [0,1]) and return RGB of exactly its size, clamped to [0,1].

        preserve_color="luminance" keeps the content's chroma. For "match",
        build the style with `style(..., match_to=content)` instead.
        """
        if preserve_color not in (None, "luminance"):
            hint = " (colour matching is done on the style images: style(images, match_to=content))" \
                if preserve_color == "match" else ""
            raise ValueError(f"preserve_color must be None or 'luminance', got {preserve_color!r}{hint}")
        height, width = content.shape[-2:]
        features = self.stylize_features(self.encoder(content), style, alpha, mask)
        # Ceil-mode pooling rounds odd sizes up, so the decoder can overshoot
        # by a few pixels at the bottom/right; the top-left stays aligned.
        out = self.decoder(features)[..., :height, :width].clamp(0, 1)
        return luminance_only(out, content) if preserve_color == "luminance" else out
