"""A differentiable renderer of Bézier strokes, in plain torch.

Every stroke is cut into short straight pieces at fixed Bézier parameters;
each piece paints a small square of pixels around itself with a soft
coverage, sigmoid((width/2 - distance) / softness), so the image is smooth in
the control points, widths and colours. A pixel's coverage is the largest of
the pieces over it (the union of the strokes, no darker joints) and its ink
colour the coverage-weighted mean of theirs.

The parameters, per control point, are kept in range by their parametrisation
(no projection needed, so L-BFGS and Adam both work):
  displacement  max_displacement * tanh(raw), pixels: lines wobble, never wander;
  width         between min and max around the traced width (sigmoid);
  colour        max_brightness * sigmoid(raw), its luminance capped at
                max_luminance: lines stay darker than paper;
and an optional texture offset, a field over the page added to the ink
colour (texture_amplitude * tanh(raw)), which gives strokes the grain of a
brush. The grain may lighten a pixel past the ink's cap, up to
grain_luminance, so a stroke carries the painting's light marks while its
body stays dark.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from stylize.offline.curves import Stroke

PIECE_SPACING = 1.5  # px between samples along a curve at full size
SOFTNESS = 0.4  # px over which a stroke's edge fades
TEXTURE_CELL = 3  # px of the page per texture value
MIN_START_COLOUR = 0.15  # an optimised colour's darkest start


def _darkened(rgb: torch.Tensor, max_luminance: float) -> torch.Tensor:
    """`rgb` (1x3xHxW) scaled down where its luminance passes `max_luminance`: hue kept, lines still read."""
    luminance = (0.299 * rgb[:, 0:1] + 0.587 * rgb[:, 1:2] + 0.114 * rgb[:, 2:3]).clamp_min(1e-6)
    return rgb * (max_luminance / luminance).clamp(max=1.0)


def _logit(p: torch.Tensor) -> torch.Tensor:
    p = p.clamp(1e-4, 1 - 1e-4)
    return torch.log(p / (1 - p))


class StrokeRenderer(nn.Module):
    """Strokes as parameters; `forward(scale)` renders them at `scale` times the page size."""

    def __init__(self, strokes: Sequence[Stroke], height: int, width: int, *, ink: Sequence[float] = (0, 0, 0),
                 max_displacement: float = 1.0, width_growth: float = 2.0, min_width: float = 1.5,
                 max_brightness: float = 0.85, max_luminance: float = 0.45, grain_luminance: float = 0.65,
                 texture_amplitude: float = 0.4, texture: bool = True, colour: bool = True):
        super().__init__()
        if not strokes:
            raise ValueError("nothing to render: no strokes")
        self.height, self.width = height, width
        self.max_displacement, self.max_brightness = max_displacement, max_brightness
        self.max_luminance, self.grain_luminance = max_luminance, max(grain_luminance, max_luminance)
        self.texture_amplitude = texture_amplitude
        points = torch.from_numpy(np.concatenate([s.points for s in strokes])).float()
        widths = torch.from_numpy(np.concatenate([s.widths for s in strokes])).float()
        self.register_buffer("base_points", points)
        # Thin lines may thicken to min_width, every line by width_growth px a side (a brush mark's
        # breadth, still within the bench's 3 px of the drawn line); none loses more than a fifth.
        low = (0.8 * widths).clamp_min(1.0)
        self.register_buffer("width_low", low)
        self.register_buffer("width_high", torch.maximum(widths, torch.full_like(widths, min_width)) + 2 * width_growth)
        start_width = widths.clamp_min(min_width)
        self.displacement = nn.Parameter(torch.zeros_like(points))
        self.width_raw = nn.Parameter(_logit((start_width - low) / (self.width_high - low)))
        # Black ink starts as a dark grey: at 0 the sigmoid's slope would leave the colour stuck.
        ink_colour = torch.tensor(ink, dtype=torch.float32).clamp(MIN_START_COLOUR * colour, max_brightness * 0.98)
        self.colour_raw = nn.Parameter(_logit(ink_colour / max_brightness).expand(len(points), 3).clone(),
                                       requires_grad=colour)
        channels = 3 if colour else 1
        # A quarter of the page's resolution: blotches of a brush, not pixel noise.
        grain = (max(1, height // TEXTURE_CELL), max(1, width // TEXTURE_CELL))
        self.texture = nn.Parameter(torch.zeros(1, channels, *grain), requires_grad=texture)
        self._build_samples(strokes)
        self.stroke_of_point = np.repeat(np.arange(len(strokes)), [len(s.points) for s in strokes])

    def _build_samples(self, strokes: Sequence[Stroke]) -> None:
        """Bernstein weights of every sample on its segment's four control points, and the pieces between."""
        index, weight, pieces = [], [], []
        offset, sample = 0, 0
        for stroke in strokes:
            for j in range(stroke.segments):
                ctrl = stroke.points[3 * j:3 * j + 4]
                length = float(np.linalg.norm(np.diff(ctrl, axis=0), axis=1).sum())
                n = max(2, math.ceil(length / PIECE_SPACING))
                t = np.linspace(0, 1, n + 1)
                s = 1 - t
                weight.append(np.stack([s ** 3, 3 * s * s * t, 3 * s * t * t, t ** 3], 1))
                index.append(np.broadcast_to(offset + 3 * j + np.arange(4), (n + 1, 4)))
                pieces.append(np.stack([np.arange(n), np.arange(1, n + 1)], 1) + sample)
                sample += n + 1
            offset += len(stroke.points)
        self.register_buffer("sample_index", torch.from_numpy(np.concatenate(index)).long())
        self.register_buffer("sample_weight", torch.from_numpy(np.concatenate(weight)).float())
        self.register_buffer("pieces", torch.from_numpy(np.concatenate(pieces)).long())

    # ----------------------------------------------------------- values --
    def points(self) -> torch.Tensor:
        """Control points (P, 2) in full-size pixels, displaced."""
        return self.base_points + self.max_displacement * torch.tanh(self.displacement)

    def widths(self) -> torch.Tensor:
        return self.width_low + (self.width_high - self.width_low) * torch.sigmoid(self.width_raw)

    def colours(self) -> torch.Tensor:
        return self.max_brightness * torch.sigmoid(self.colour_raw)

    def displacement_px(self) -> torch.Tensor:
        return self.points() - self.base_points

    # ----------------------------------------------------------- render --
    def _sampled(self, values: torch.Tensor) -> torch.Tensor:
        return (values[self.sample_index] * self.sample_weight.unsqueeze(-1)).sum(1)

    def forward(self, scale: float = 1.0, background: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(image 1x3xhxw in [0, 1], coverage 1x1xhxw) at `scale` of the page; background default white."""
        h, w = max(1, round(self.height * scale)), max(1, round(self.width * scale))
        samples = self._sampled((self.points() + 0.5) * scale - 0.5)
        widths = self._sampled(self.widths().unsqueeze(-1)).squeeze(-1) * scale
        widths = widths.clamp_min(1.0)  # a coarse scale must still see every line
        colours = self._sampled(self.colours())
        coverage, ink = self._splat(samples, widths, colours, h, w)
        texture = self.texture_amplitude * torch.tanh(
            F.interpolate(self.texture, size=(h, w), mode="bilinear", align_corners=False))
        ink = _darkened((_darkened(ink, self.max_luminance) + texture).clamp(0, 1), self.grain_luminance)
        paper = torch.ones(1, 3, 1, 1, device=ink.device) if background is None else background
        return paper * (1 - coverage) + ink * coverage, coverage

    def _splat(self, samples: torch.Tensor, widths: torch.Tensor, colours: torch.Tensor, h: int, w: int):
        """Coverage (max over pieces) and ink colour (coverage-weighted mean) on an h x w grid."""
        a, b = samples[self.pieces[:, 0]], samples[self.pieces[:, 1]]
        with torch.no_grad():
            reach = (widths.max() / 2 + (b - a).norm(dim=1).max() / 2 + 3 * SOFTNESS + 1).item()
            radius = int(math.ceil(reach))
            centre = ((a + b) / 2).round().long()
            steps = torch.arange(-radius, radius + 1, device=samples.device)
            grid = torch.stack(torch.meshgrid(steps, steps, indexing="xy"), -1).reshape(-1, 2)
            pixel = centre[:, None, :] + grid[None]  # (pieces, K*K, 2) as x, y
            inside = (pixel[..., 0] >= 0) & (pixel[..., 0] < w) & (pixel[..., 1] >= 0) & (pixel[..., 1] < h)
            flat = torch.where(inside, pixel[..., 1] * w + pixel[..., 0], torch.zeros_like(pixel[..., 0]))
        ab = b - a
        rel = pixel.float() - a[:, None, :]
        t = ((rel * ab[:, None, :]).sum(-1) / (ab * ab).sum(-1, keepdim=True).clamp_min(1e-6)).clamp(0, 1)
        distance = (rel - t.unsqueeze(-1) * ab[:, None, :]).norm(dim=-1)
        width = widths[self.pieces[:, 0], None] * (1 - t) + widths[self.pieces[:, 1], None] * t
        alpha = torch.sigmoid((width / 2 - distance) / SOFTNESS) * inside
        colour = 0.5 * (colours[self.pieces[:, 0]] + colours[self.pieces[:, 1]])  # (pieces, 3)
        alpha, flat = alpha.reshape(-1), flat.reshape(-1)
        coverage = alpha.new_zeros(h * w).scatter_reduce(0, flat, alpha, "amax", include_self=True)
        weighted = alpha.new_zeros(h * w, 3).index_add(0, flat, alpha[:, None] * colour.repeat_interleave(len(grid), 0))
        total = alpha.new_zeros(h * w).index_add(0, flat, alpha)
        ink = weighted / total.clamp_min(1e-6)[:, None]
        return coverage.reshape(1, 1, h, w), ink.t().reshape(1, 3, h, w)
