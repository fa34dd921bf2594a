"""Curve-based style transfer for line drawings (after Zhu et al., IEEE TVCG 2023).

A pixel method treats a sketch as a mostly white photo: it paints the paper
and smears the lines. Here the drawing becomes strokes (offline/curves.py)
and only how each stroke is drawn is optimised (offline/strokes.py): its
width, colour, brush texture and a small, bounded wobble. The design's
geometry stays.

  style term    VGG-19 relu1_1..relu3_1 statistics (mean/std or Gram, the
                losses Gatys uses) of the rendered image, weighted by the
                rendered stroke coverage, so the paper is not asked to look
                like the painting;
  line term     the strokes must cover the drawing's lines and leave the
                paper away from them empty (coverage), and their control
                points stay near the traced ones, smoothly (displacement).
                `line_fidelity` scales it.

Coarse to fine like Gatys: the same parameters (in full-size pixels) are
rendered at 1/2^(scales-1) of the size first, then larger. Pictures are
HxWx3 uint8 RGB; tensors are 1x3xHxW in [0, 1] (stylize.tensors).

With background "style" the paper is a picture too, optimised towards the
painting's statistics where there is no stroke; it stays light (>= 0.55) and
the strokes dark (colours <= 0.3, their grain <= 0.45), so the lines still read.
"""
from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from tqdm import tqdm

from stylize.errors import OptionError
from stylize.models.vgg import VGGEncoder
from stylize.offline import curves
from stylize.offline.gatys import (DEFAULT_LAYER_WEIGHTS, STYLE_STATS, _pyramid, _resize, _style_loss, _style_terms,
                                   _StyleTerm, _mask_tensor, _steps_per_scale)
from stylize.offline.optimise import optimise
from stylize.offline.sketch_svg import to_svg
from stylize.offline.strokes import StrokeRenderer
from stylize.tensors import frame_to_tensor, tensor_to_frame

BACKGROUNDS = ("paper", "tint", "style")
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1")
DEFAULT_STEPS = (60, 40)  # per scale, coarse first
DEFAULT_STYLE_WEIGHT = {"gram": 2e4, "meanstd": 12.0}
DEFAULT_LR = 0.15
COVERAGE_WEIGHT = 300.0
DISPLACEMENT_WEIGHT = 0.05
PAPER_FLOOR = 0.55  # a painted paper's darkest value ("style" background)
INK_CEILING = 0.45  # the strokes' colours' largest luminance on white or tinted paper, so lines read
GRAIN_CEILING = 0.65  # a textured stroke pixel's largest luminance there: light marks, still off the paper
STYLED_INK_CEILING = 0.3  # the same two on a painted paper (at or above PAPER_FLOOR)
STYLED_GRAIN_CEILING = 0.45
FAR_FROM_LINES = 3.0  # px: beyond this a stroke is off the drawing
# Every step renders and runs VGG on the whole page: 4 megapixels is minutes a step on a CPU already.
MAX_PIXELS = 4_000_000


def check_page(width: int, height: int, what: str = "the drawing") -> None:
    """Refuse a page too large to optimise, before anything that size is allocated."""
    if width * height > MAX_PIXELS:
        raise OptionError(f"{what} is {width}x{height} ({width * height / 1e6:.1f} megapixels); sketches are "
                          f"optimised at up to {MAX_PIXELS / 1e6:g} megapixels: give a smaller size "
                          f"(e.g. --size 1024)")


@dataclass
class SketchResult:
    image: np.ndarray  # HxWx3 uint8 RGB, the drawing's size
    strokes: list[curves.Stroke]  # as drawn: displaced points, optimised widths
    colours: list[np.ndarray]  # per stroke, (3k+1, 3) RGB in [0, 1]
    paper: np.ndarray  # flat RGB in [0, 1]
    painted_paper: np.ndarray | None = None  # HxWx3 uint8 for background "style"
    history: list[dict] = field(default_factory=list)

    def svg(self) -> str:
        """The stylized strokes as an SVG document (one path per stroke)."""
        height, width = self.image.shape[:2]
        painted = None
        if self.painted_paper is not None:
            ok, buffer = cv2.imencode(".png", np.ascontiguousarray(self.painted_paper[:, :, ::-1]))
            painted = buffer.tobytes()
        return to_svg(self.strokes, width, height, self.colours, self.paper, painted)


@dataclass(frozen=True)
class SketchSettings:
    """What the objective measures and how the run goes; see `stylize_sketch`."""
    background: str = "paper"
    line_fidelity: float = 1.0
    preserve_color: bool = False
    style_stat: str = "meanstd"
    style_weight: float | None = None
    scales: int = 2
    steps: int | Sequence[int] = DEFAULT_STEPS
    lr: float = DEFAULT_LR
    seed: int = 0
    tolerance: float = curves.DEFAULT_TOLERANCE


def stylize_sketch(drawing: np.ndarray, styles: Sequence[np.ndarray], *, encoder: VGGEncoder,
                   settings: SketchSettings = SketchSettings(), style_weights: Sequence[float] | None = None,
                   mask: np.ndarray | None = None, strokes: list[curves.Stroke] | None = None,
                   progress: bool = True, callback: Callable[[dict], None] | None = None) -> SketchResult:
    """Draw `drawing`'s lines in the manner of `styles` (one, blended, or two split by `mask`).

    mask: HxW in [0, 1] (or uint8) at the drawing's size; with one style,
      white = stylize, black = keep the ink; with two, white = first style.
    strokes: the drawing's curves if already extracted (curves.extract).
    Runs are identical for the same arguments, seed, device and thread count.
    """
    weights = _check(drawing, styles, style_weights, mask, settings)
    strokes = strokes if strokes is not None else curves.extract(drawing, settings.tolerance)
    height, width = drawing.shape[:2]
    device = next(encoder.parameters()).device
    torch.manual_seed(settings.seed)
    style_ts = [frame_to_tensor(s, device) for s in styles]
    paper = _paper_colour(style_ts[0], settings.background)
    ceiling = STYLED_INK_CEILING if settings.background == "style" else INK_CEILING
    # Kept-colour ink (black) takes the grain only as dark as its own cap: black lines, not grey ones.
    grain = ceiling if settings.preserve_color else (
        STYLED_GRAIN_CEILING if settings.background == "style" else GRAIN_CEILING)
    renderer = StrokeRenderer(strokes, height, width, ink=_ink_colour(drawing), max_luminance=ceiling,
                              grain_luminance=grain, colour=not settings.preserve_color).to(device)
    with torch.no_grad():
        renderer.displacement.normal_(0, 0.1)  # a seeded start, so seeds give different wobbles
    painted = _PaintedPaper(paper, height, width, device) if settings.background == "style" else None
    lines = _LineTargets(drawing, device)
    mask_t = None if mask is None else _mask_tensor(np.asarray(mask), device)
    sizes = _pyramid((height, width), settings.scales)
    levels = list(zip(sizes, _steps_per_scale(settings.steps, settings.scales)[-len(sizes):]))
    history: list[dict] = []
    params = [p for p in [*renderer.parameters(), *(painted.parameters() if painted else [])] if p.requires_grad]
    with tqdm(total=sum(n for _, n in levels), desc="sketch", unit="step", file=sys.stderr,
              disable=not progress, leave=False) as bar:
        for level, (size, n_steps) in enumerate(levels):
            terms = _style_terms(style_ts, weights, mask_t, encoder, size, STYLE_LAYERS, settings.style_stat, 1.0)
            objective = _Objective(renderer, painted, paper, lines, terms, encoder, settings, size[0] / height,
                                   (level, len(levels)), history, bar, callback)
            optimise(params, objective, "adam", n_steps, settings.lr)
    return _result(renderer, painted, paper, strokes, history)


def _check(drawing, styles, style_weights, mask, settings: SketchSettings) -> list[float]:
    """Validate the arguments; return the normalised style weights."""
    for label, image in [("the drawing", drawing)] + [(f"style {i + 1}", s) for i, s in enumerate(styles)]:
        if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
                and image.shape[2] == 3):
            raise OptionError(f"{label} must be an HxWx3 uint8 RGB image")
    if not styles:
        raise OptionError("a sketch needs at least one style image")
    if settings.background not in BACKGROUNDS:
        raise OptionError(f"unknown background {settings.background!r}; choose from {', '.join(BACKGROUNDS)}")
    if settings.style_stat not in STYLE_STATS:
        raise OptionError(f"unknown style statistic {settings.style_stat!r}; choose from {', '.join(STYLE_STATS)}")
    if not (math.isfinite(settings.line_fidelity) and settings.line_fidelity >= 0):
        raise OptionError(f"line fidelity must be a finite number, 0 or more, got {settings.line_fidelity!r}")
    if mask is not None and (np.shape(mask) != drawing.shape[:2] or len(styles) > 2):
        raise OptionError(f"the mask must be the drawing's size {drawing.shape[1]}x{drawing.shape[0]} "
                          "and choose between at most two styles")
    weights = [1.0] * len(styles) if style_weights is None else [float(w) for w in style_weights]
    if len(weights) != len(styles) or any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise OptionError(f"need one non-negative style weight per style (with a positive sum), got {weights}")
    return [w / sum(weights) for w in weights]


def _ink_colour(drawing: np.ndarray) -> np.ndarray:
    """The median colour of the drawing's lines, in [0, 1]."""
    ink = curves.binarise(curves.to_gray(drawing))
    return np.median(drawing[ink], axis=0) / 255.0 if ink.any() else np.zeros(3)


def _paper_colour(style: torch.Tensor, background: str) -> torch.Tensor:
    """White, or the style's mean colour lightened to a paper tint (1x3x1x1)."""
    if background == "paper":
        return torch.ones(1, 3, 1, 1, device=style.device)
    mean = style.mean(dim=(2, 3), keepdim=True)
    return 1 - 0.25 * (1 - mean)  # light enough that dark strokes stand out on it


class _PaintedPaper(torch.nn.Module):
    """The page under the strokes for background "style": a picture kept between PAPER_FLOOR and 1."""

    def __init__(self, tint: torch.Tensor, height: int, width: int, device: torch.device):
        super().__init__()
        start = ((tint - PAPER_FLOOR) / (1 - PAPER_FLOOR)).clamp(0.02, 0.98)
        raw = torch.log(start / (1 - start)).expand(1, 3, height, width).clone()
        self.raw = torch.nn.Parameter(raw + 0.5 * torch.randn(raw.shape).to(device))

    def forward(self, size: tuple[int, int]) -> torch.Tensor:
        return PAPER_FLOOR + (1 - PAPER_FLOOR) * torch.sigmoid(_resize(self.raw, size))


class _LineTargets:
    """The drawing's line pixels and the pixels far from any line, at each scale."""

    def __init__(self, drawing: np.ndarray, device: torch.device):
        ink = curves.binarise(curves.to_gray(drawing))
        distance = cv2.distanceTransform((~ink).astype(np.uint8), cv2.DIST_L2, 5)
        self.lines = torch.from_numpy(ink.astype(np.float32)).to(device)[None, None]
        self.far = torch.from_numpy((distance > FAR_FROM_LINES).astype(np.float32)).to(device)[None, None]

    def at(self, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        return _resize(self.lines, size), _resize(self.far, size)


class _Objective:
    """The loss at one scale (style on the strokes, lines kept), recorded into the history at every evaluation."""

    def __init__(self, renderer: StrokeRenderer, painted: _PaintedPaper | None, paper: torch.Tensor,
                 lines: _LineTargets, terms: list[_StyleTerm], encoder: VGGEncoder, settings: SketchSettings,
                 scale: float, level: tuple[int, int], history: list[dict], bar: tqdm,
                 callback: Callable[[dict], None] | None):
        self.renderer, self.painted, self.paper, self.terms, self.encoder = renderer, painted, paper, terms, encoder
        self.settings, self.scale, self.level = settings, scale, level
        self.history, self.bar, self.callback = history, bar, callback
        self.size = (max(1, round(renderer.height * scale)), max(1, round(renderer.width * scale)))
        self.lines, self.far = lines.at(self.size)
        self.style_weight = settings.style_weight or DEFAULT_STYLE_WEIGHT[settings.style_stat]
        self.layer_weights = {name: DEFAULT_LAYER_WEIGHTS[name] for name in STYLE_LAYERS}
        stroke = torch.from_numpy(renderer.stroke_of_point)
        self.neighbours = (stroke[1:] == stroke[:-1]).to(paper.device)  # consecutive points of one stroke

    def _style(self, feats: dict, where: torch.Tensor) -> torch.Tensor:
        return sum(term.weight * _style_loss(self.settings.style_stat, feats,
                                             _StyleTerm(term.targets, where if term.mask is None else where * term.mask,
                                                        1.0), self.layer_weights)
                   for term in self.terms)

    def _line_loss(self, coverage: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(coverage term, displacement term): lines covered, paper left empty; points stay, smoothly."""
        missed = ((1 - coverage) ** 2 * self.lines).sum() / self.lines.sum().clamp_min(1)
        stray = (coverage ** 2 * self.far).sum() / self.far.sum().clamp_min(1)
        shift = self.renderer.displacement_px() / self.renderer.max_displacement
        bend = ((shift[1:] - shift[:-1]) ** 2).sum(1)[self.neighbours]
        return missed + stray, (shift ** 2).sum(1).mean() + (bend.mean() if bend.numel() else 0.0)

    def __call__(self) -> torch.Tensor:
        background = self.painted(self.size) if self.painted is not None else self.paper
        image, coverage = self.renderer(self.scale, background)
        feats = self.encoder.taps(image, list(STYLE_LAYERS))
        ink = coverage.detach()
        style = self._style(feats, ink)
        if self.painted is not None:
            style = style + self._style(feats, 1 - ink)
        cover, shift = self._line_loss(coverage)
        fidelity = self.settings.line_fidelity
        total = self.style_weight * style + fidelity * (COVERAGE_WEIGHT * cover + DISPLACEMENT_WEIGHT * shift)
        record = {"step": len(self.history), "scale": self.level[0], "style": style.item(),
                  "coverage": cover.item(), "displacement": float(shift.detach()), "total": total.item()}
        self.history.append(record)
        self.bar.update(1)
        self.bar.set_postfix_str(f"scale {self.level[0] + 1}/{self.level[1]} {self.size[1]}x{self.size[0]} "
                                 f"style {record['style']:.3g} lines {record['coverage']:.3g}")
        if self.callback:
            self.callback(record)
        return total


@torch.no_grad()
def curves_result(drawing: np.ndarray, strokes: list[curves.Stroke]) -> SketchResult:
    """The extracted curves drawn as they are (black on white): what `--curves-only` shows."""
    renderer = StrokeRenderer(strokes, *drawing.shape[:2], ink=_ink_colour(drawing), colour=False, texture=False)
    image, _ = renderer(1.0)
    colours = [np.tile(renderer.colours()[0].numpy(), (len(s.points), 1)) for s in strokes]
    return SketchResult(tensor_to_frame(image), strokes, colours, np.ones(3))


@torch.no_grad()
def _result(renderer: StrokeRenderer, painted: _PaintedPaper | None, paper: torch.Tensor,
            strokes: list[curves.Stroke], history: list[dict]) -> SketchResult:
    size = (renderer.height, renderer.width)
    page = painted(size) if painted is not None else paper
    image, _ = renderer(1.0, page)
    points, widths, colours = (v.cpu().numpy() for v in (renderer.points(), renderer.widths(), renderer.colours()))
    cuts = np.cumsum([len(s.points) for s in strokes])[:-1]
    drawn = [curves.Stroke(p.astype(np.float64), w.astype(np.float64), s.closed)
             for p, w, s in zip(np.split(points, cuts), np.split(widths, cuts), strokes)]
    painted_image = tensor_to_frame(page) if painted is not None else None
    return SketchResult(tensor_to_frame(image), drawn, np.split(colours, cuts), paper.flatten().cpu().numpy(),
                        painted_image, history)
