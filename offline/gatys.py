"""Gatys et al. neural style transfer by optimisation, on the VGG-r31 taps.

Slow but the best-looking method we have: it is both the offline keyframe pass
and the quality reference the live nets are measured against.

The image itself is optimised so that its VGG features keep the content's
(relu3_1) while its feature statistics (Gram matrices, or per-channel
mean/std) match the style's. Our VGG stops at relu3_1, whose receptive field
is only ~40 px, so a single-scale run gives fine texture but no large strokes.
We therefore optimise coarse to fine: start at 1/2^(scales-1) of the size,
upsample each result as the next scale's start. Style images are resized with
each scale, so the strokes learnt at the coarse scale grow with the image.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from stylize.errors import UserError
from stylize.models import losses
from stylize.models.color import COLOR_MODES, luminance_only, match_color
from stylize.models.vgg import VGGEncoder
from stylize.offline.optimise import OPTIMIZERS, optimise
from stylize.tensors import frame_to_tensor, tensor_to_frame

STYLE_STATS = ("gram", "meanstd")
MIN_SCALE_SIDE = 32  # coarser scales leave relu3_1 maps too small to carry a style

# Weights are for raw loss values: features of the 'normalised' VGG are O(1),
# so Gram MSEs are ~1e-4..1e-3 while the content MSE starts at 0.
DEFAULT_STYLE_WEIGHT = {"gram": 1e5, "meanstd": 10.0}
# Gram MSEs shrink with depth (~1e-3 at relu1_1, ~1e-4 at relu3_1); these
# weights let relu3_1, the only layer that sees whole brush strokes, pull as
# hard as relu1_*, which mostly carry colour and fine grain.
DEFAULT_LAYER_WEIGHTS = {"relu1_1": 1.0, "relu1_2": 1.0, "relu2_1": 3.0, "relu2_2": 3.0, "relu3_1": 10.0}
DEFAULT_TV_WEIGHT = 100.0
DEFAULT_STEPS = (100, 60, 40)  # per scale, coarse first; coarse steps are cheap
DEFAULT_ADAM_LR = 0.02


@dataclass
class GatysResult:
    image: np.ndarray  # HxWx3 uint8 RGB, the content's size
    # One record per loss evaluation: step (global), scale (0 = coarsest),
    # content/style/tv (unweighted) and total (weighted sum).
    history: list[dict] = field(default_factory=list)


@dataclass
class _StyleTerm:
    """Targets for one style region: per-layer statistics at the current scale."""
    targets: dict
    mask: torch.Tensor | None
    weight: float


@dataclass(frozen=True)
class _LossSettings:
    """What the objective measures, and how much each part weighs."""
    content_layer: str
    style_layers: tuple[str, ...]
    layer_weights: dict[str, float]
    style_stat: str
    content_weight: float
    style_weight: float
    tv_weight: float


def gatys(content: np.ndarray, styles: Sequence[np.ndarray], style_weights: Sequence[float] | None = None, *,
          encoder: VGGEncoder,
          content_layer: str = "relu3_1",
          style_layers: Sequence[str] = ("relu1_1", "relu2_1", "relu3_1"),
          layer_weights: dict[str, float] | None = None,
          style_stat: str = "gram",
          content_weight: float = 1.0,
          style_weight: float | None = None,
          tv_weight: float = DEFAULT_TV_WEIGHT,
          scales: int = 3,
          steps: int | Sequence[int] = DEFAULT_STEPS,
          style_scale: float = 1.0,
          optimizer: str = "lbfgs",
          lr: float | None = None,
          preserve_color: str | None = None,
          mask: np.ndarray | None = None,
          init_noise: float = 0.0,
          seed: int = 0,
          progress: bool = True,
          callback: Callable[[dict], None] | None = None) -> GatysResult:
    """Stylize `content` with `styles` by optimising the image.

    content, styles: HxWx3 uint8 RGB. Several styles are blended by
      `style_weights` (default equal) through their target statistics.
    mask: HxW in [0,1] at the content's size. With one style, 1 = stylize and
      0 = keep the content. With two styles, 1 = first style, 0 = second.
    style_weight: default depends on `style_stat` (see DEFAULT_STYLE_WEIGHT).
    scales: number of pyramid levels (factor 2 each); levels whose short side
      would fall below MIN_SCALE_SIDE are skipped, together with their steps.
    steps: loss evaluations per scale, one int for all or one per scale.
    style_scale: style image long side relative to the content's at each
      scale; larger means larger strokes.
    preserve_color: None, "match" (recolour the styles to the content's colour
      statistics first) or "luminance" (keep the content's chroma at the end).
    init_noise: std of Gaussian noise (seeded by `seed`) added to the start.
      Runs are bit-identical for the same arguments, device and thread count.
    callback: called with each history record.
    """
    styles = list(styles)
    weights = _check_args(content, styles, style_weights, style_stat, optimizer, preserve_color, mask,
                          content_layer, style_layers, encoder)
    settings = _LossSettings(
        content_layer, tuple(style_layers),
        layer_weights or {name: DEFAULT_LAYER_WEIGHTS[name] for name in style_layers}, style_stat,
        content_weight, DEFAULT_STYLE_WEIGHT[style_stat] if style_weight is None else style_weight, tv_weight)
    lr = lr if lr is not None else (1.0 if optimizer == "lbfgs" else DEFAULT_ADAM_LR)
    content_t, style_ts, mask_t = _inputs(content, styles, mask, preserve_color, next(encoder.parameters()).device)
    sizes = _pyramid(content_t.shape[-2:], scales)
    levels = list(zip(sizes, _steps_per_scale(steps, scales)[-len(sizes):]))  # skipped levels drop their steps
    image = _start(content_t, levels[0][0], init_noise, seed)
    history: list[dict] = []
    with tqdm(total=sum(n for _, n in levels), desc="gatys", unit="step", file=sys.stderr,
              disable=not progress, leave=False) as bar:
        for level, (size, n_steps) in enumerate(levels):
            terms = _style_terms(style_ts, weights, mask_t, encoder, size, settings.style_layers, style_stat,
                                 style_scale)
            objective = _Objective(encoder, settings, _resize(content_t, size), terms, level, len(levels),
                                   history, bar, callback)
            image = _optimise(_resize(image, size).clamp(0, 1), objective, optimizer, n_steps, lr)
    return GatysResult(tensor_to_frame(_finish(image, content_t, mask_t, len(style_ts), preserve_color)), history)


def _inputs(content: np.ndarray, styles: list[np.ndarray], mask: np.ndarray | None, preserve_color: str | None,
            device: torch.device) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor | None]:
    """Content, styles (recoloured for "match") and mask as tensors on `device`."""
    content_t = frame_to_tensor(content, device).contiguous()
    style_ts = [frame_to_tensor(s, device).contiguous() for s in styles]
    if preserve_color == "match":
        style_ts = [match_color(s, content_t) for s in style_ts]
    return content_t, style_ts, None if mask is None else _mask_tensor(np.asarray(mask), device)


def _start(content: torch.Tensor, size: tuple[int, int], init_noise: float, seed: int) -> torch.Tensor:
    """The coarsest scale's starting image: the content, plus seeded noise if asked."""
    image = _resize(content, size)
    if init_noise:
        generator = torch.Generator(device=content.device).manual_seed(seed)
        image = image + init_noise * torch.randn(image.shape, generator=generator, device=content.device)
    return image


def _finish(image: torch.Tensor, content: torch.Tensor, mask: torch.Tensor | None, n_styles: int,
            preserve_color: str | None) -> torch.Tensor:
    result = image.detach().clamp(0, 1)
    if mask is not None and n_styles == 1:
        # The style loss only sees the masked region, but 3x3 convs leak a few
        # pixels across its border; compositing keeps the rest exactly.
        result = mask * result + (1 - mask) * content
    if preserve_color == "luminance":
        result = luminance_only(result, content)
    return result


class _Objective:
    """The loss at one scale: content, style and TV, recorded into the history at every evaluation."""

    def __init__(self, encoder: VGGEncoder, settings: _LossSettings, content: torch.Tensor,
                 terms: list[_StyleTerm], level: int, levels: int, history: list[dict], bar: tqdm,
                 callback: Callable[[dict], None] | None):
        self.encoder, self.settings, self.terms = encoder, settings, terms
        self.level, self.levels, self.history, self.bar, self.callback = level, levels, history, bar, callback
        with torch.no_grad():
            self.content_target = encoder.taps(content, [settings.content_layer])[settings.content_layer]
        self.tapped = sorted(set(settings.style_layers) | {settings.content_layer}, key=encoder.tap_names.index)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        settings = self.settings
        feats = self.encoder.taps(x, self.tapped)
        c_loss = losses.content_loss(feats[settings.content_layer], self.content_target)
        s_loss = sum(term.weight * _style_loss(settings.style_stat, feats, term, settings.layer_weights)
                     for term in self.terms)
        tv = losses.tv_loss(x)
        total = settings.content_weight * c_loss + settings.style_weight * s_loss + settings.tv_weight * tv
        record = {"step": len(self.history), "scale": self.level, "content": c_loss.item(),
                  "style": s_loss.item(), "tv": tv.item(), "total": total.item()}
        self.history.append(record)
        self.bar.update(1)
        self.bar.set_postfix_str(f"scale {self.level + 1}/{self.levels} {x.shape[-1]}x{x.shape[-2]} "
                                 f"style {record['style']:.3g} content {record['content']:.3g}")
        if self.callback:
            self.callback(record)
        return total


def _optimise(image: torch.Tensor, objective: Callable[[torch.Tensor], torch.Tensor],
              optimizer: str, n_steps: int, lr: float) -> torch.Tensor:
    """The image after `n_steps` evaluations; overshoot under L-BFGS is clamped after each scale."""
    x = image.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
    optimise([x], lambda: objective(x), optimizer, n_steps, lr, project=lambda: x.clamp_(0, 1))
    return x.detach()


def _style_terms(style_ts: list[torch.Tensor], weights: list[float], mask: torch.Tensor | None,
                 encoder: VGGEncoder, size: tuple[int, int], layers: Sequence[str], stat: str,
                 style_scale: float) -> list[_StyleTerm]:
    """Style targets at this scale: one blended term, or one per masked region."""
    long_side = max(1, round(max(size) * style_scale))
    per_style = [_style_targets(encoder, s, long_side, layers, stat) for s in style_ts]
    if mask is None:
        return [_StyleTerm(_blend(per_style, weights), None, 1.0)]
    mask = _resize(mask, size)
    if len(per_style) == 1:
        return [_StyleTerm(per_style[0], mask, 1.0)]
    # Two styles: each owns its region; weights relative to their mean, so
    # equal weights give each region the full style strength.
    mean_weight = sum(weights) / 2
    return [_StyleTerm(per_style[0], mask, weights[0] / mean_weight),
            _StyleTerm(per_style[1], 1 - mask, weights[1] / mean_weight)]


@torch.no_grad()
def _style_targets(encoder: VGGEncoder, style: torch.Tensor, long_side: int, layers: Sequence[str],
                   stat: str) -> dict:
    h, w = style.shape[-2:]
    factor = long_side / max(h, w)
    floor = MIN_SCALE_SIDE // 2  # a very wide style must not shrink to nothing
    resized = _resize(style, (max(floor, round(h * factor)), max(floor, round(w * factor))))
    feats = encoder.taps(resized, list(layers))
    if stat == "gram":
        return {name: losses.gram(feats[name]) for name in layers}
    return {name: losses.mean_std(feats[name]) for name in layers}


def _blend(per_style: list[dict], weights: list[float]) -> dict:
    """Weighted average of targets: the minimiser of the weighted sum of the
    styles' losses, but a loss that can reach zero."""
    if len(per_style) == 1:
        return per_style[0]
    blended = {}
    for name, first in per_style[0].items():
        if isinstance(first, tuple):
            blended[name] = tuple(sum(w * t[name][i] for w, t in zip(weights, per_style)) for i in range(2))
        else:
            blended[name] = sum(w * t[name] for w, t in zip(weights, per_style))
    return blended


def _style_loss(stat: str, feats: dict, term: _StyleTerm, layer_weights: dict[str, float]) -> torch.Tensor:
    if stat == "gram":
        return losses.gram_style_loss(feats, term.targets, layer_weights, term.mask)
    return losses.mean_std_style_loss(feats, term.targets, layer_weights, term.mask)


# ----------------------------------------------------------------- helpers --
def _pyramid(size: Sequence[int], scales: int) -> list[tuple[int, int]]:
    """(h, w) per scale, coarse to fine, ending at the full size."""
    h, w = int(size[0]), int(size[1])
    sizes = []
    for level in range(scales - 1, -1, -1):
        factor = 0.5 ** level
        scaled = (max(1, round(h * factor)), max(1, round(w * factor)))
        if level == 0 or min(scaled) >= MIN_SCALE_SIDE:
            sizes.append(scaled)
    return sizes


def _steps_per_scale(steps: int | Sequence[int], scales: int) -> list[int]:
    """Steps per scale aligned to the *finest* scales, so skipped coarse levels drop theirs."""
    if scales < 1:
        raise UserError(f"scales must be at least 1, got {scales}")
    per_scale = [steps] * scales if _is_count(steps) else list(steps) if isinstance(steps, (list, tuple)) else None
    if per_scale is None or not all(_is_count(n) for n in per_scale):
        raise UserError(f"steps must be a whole number of steps per scale, or one per scale, got {steps!r}")
    if len(per_scale) != scales:
        raise UserError(f"steps has {len(per_scale)} entries but scales is {scales}; give one per scale")
    if any(n < 1 for n in per_scale):
        raise UserError(f"steps must be 1 or more, got {steps!r}")
    return [int(n) for n in per_scale]


def _is_count(value) -> bool:
    """A whole number (numpy integers too), but not a bool or a float that only looks whole."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_args(content, styles, style_weights, style_stat, optimizer, preserve_color, mask,
                content_layer, style_layers, encoder) -> list[float]:
    """Validate user-facing arguments; return the normalised style weights."""
    for label, image in [("content", content)] + [(f"style {i + 1}", s) for i, s in enumerate(styles)]:
        if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
                and image.shape[2] == 3):
            raise UserError(f"{label} must be an HxWx3 uint8 RGB image")
    if not styles:
        raise UserError("gatys needs at least one style image")
    if style_stat not in STYLE_STATS:
        raise UserError(f"unknown style statistic {style_stat!r}; choose from {', '.join(STYLE_STATS)}")
    if optimizer not in OPTIMIZERS:
        raise UserError(f"unknown optimizer {optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
    if preserve_color is not None and preserve_color not in COLOR_MODES:
        raise UserError(f"unknown colour mode {preserve_color!r}; choose from {', '.join(COLOR_MODES)}")
    missing = [n for n in [content_layer, *style_layers] if n not in encoder.tap_names]
    if missing:
        raise UserError(f"VGG layer(s) {missing} not available; this encoder has {', '.join(encoder.tap_names)}")
    if not style_layers:
        raise UserError("at least one style layer is needed")
    if mask is not None:
        if np.shape(mask) != content.shape[:2]:
            raise UserError(f"mask is {np.shape(mask)} but the content is {content.shape[:2]}; they must match")
        if len(styles) > 2:
            raise UserError("a mask chooses between at most two styles")
    weights = [1.0] * len(styles) if style_weights is None else [float(w) for w in style_weights]
    if len(weights) != len(styles) or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise UserError(f"need one non-negative style weight per style (with a positive sum), got {weights}")
    return [w / sum(weights) for w in weights]


def _mask_tensor(mask: np.ndarray, device: torch.device) -> torch.Tensor:
    values = mask.astype(np.float32) / (255.0 if mask.dtype == np.uint8 else 1.0)
    return torch.from_numpy(np.clip(values, 0, 1)).to(device)[None, None]


def _resize(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    size = (int(size[0]), int(size[1]))
    if tuple(x.shape[-2:]) == size:
        return x
    # antialias only matters (and is only cheap) when shrinking
    shrinking = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrinking)
