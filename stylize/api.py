"""The public Python API, re-exported from `stylize`:

    import stylize
    stylize.methods()                                   # every method, with what it needs
    out = stylize.stylize_image("photo.jpg", look="starry-night", method="student")
    result = stylize.stylize_video("in.mp4", "out.mp4", style="painting.jpg", method="adain")
    engine = stylize.engine("student"); engine.set_style(stylize.look("great-wave")); out = engine(frame)

Pictures are HxWx3 uint8 RGB numpy arrays. Problems a caller can fix raise
subclasses of stylize.errors.StylizeError: OptionError (a bad option),
InputError (an unreadable input), OutputError (an output that cannot be
written) and WeightsError (weights missing). The CLI is a thin layer over
these functions.
"""
from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stylize.errors import OptionError
from stylize.jobs import (BACKENDS, GATYS, ImageJob, VideoResult, as_mask, as_rgb, check_options, fit_long_side,
                          stylize_video_file)
from stylize.models import looks as builtin_looks
from stylize.models import registry, weights
from stylize.realtime.engines import Engine, Look, TorchEngine, color_mode

__all__ = ["BACKENDS", "DEFAULT_METHOD", "GATYS", "MethodInfo", "StyleEngine", "VideoResult", "check_options",
           "engine", "look", "looks", "make_look", "methods", "new_engine", "stylize_image", "stylize_sketch",
           "stylize_video"]

DEFAULT_METHOD = registry.DEFAULT_METHOD

Picture = np.ndarray | str | os.PathLike  # an RGB array or an image file
Style = Picture | Sequence[Picture]  # one painting or several


@dataclass(frozen=True)
class MethodInfo:
    """What a method is and what it needs before it can run."""

    name: str
    style_kind: str  # "none" (a fixed look), "adain" or "aesfa" (style statistics), "image" (Gatys)
    needs_vgg: bool
    weights: tuple[str, ...]  # registered weight names it loads
    weights_found: bool  # all of them are here (shipped, $STYLIZE_WEIGHTS or the cache)
    realtime: bool  # runs through an engine (video, live); False for Gatys' optimisation
    summary: str = ""  # one line on what it is

    @property
    def fixed_look(self) -> bool:
        return self.style_kind == "none"


def methods() -> list[MethodInfo]:
    """Every method stylize knows (the registered nets, then Gatys): its style kind, VGG need and weights."""
    # The nets come from models/registry.py; Gatys is an optimisation, not a registered net.
    vgg_found = bool(weights.find("vgg19_r31") or weights.find("vgg19"))
    table = []
    for name in registry.methods():
        spec = registry.get(name)
        found = weights.find(spec.weights) is not None and (vgg_found or not spec.needs_vgg)
        names = (spec.weights, "vgg19_r31") if spec.needs_vgg else (spec.weights,)
        table.append(MethodInfo(name, spec.style_kind, spec.needs_vgg, names, found, True, spec.summary))
    table.append(MethodInfo(GATYS, "image", True, ("vgg19_r31",), vgg_found, False,
                            "Gatys: optimises the picture itself against VGG-19 statistics (slow, best quality)"))
    return table


def looks() -> dict[str, str]:
    """The built-in looks: name -> the painting it comes from."""
    return {name: builtin_looks.describe(name) for name in builtin_looks.names()}


def look(name: str, method: str = DEFAULT_METHOD) -> Look:
    """A built-in look (see `looks()`) for an arbitrary-style `method`; needs no style image."""
    return _builtin_look(name, method)


def _builtin_look(name: str, method: str) -> Look:
    known = builtin_looks.names()
    if name not in known:
        raise OptionError(f"unknown look {name!r}; built-in looks: {', '.join(known) or 'none are installed'}")
    return Look(name, method, builtin=name)


def _check_method(method: str) -> None:
    known = (*registry.methods(), GATYS)
    if method not in known:
        raise OptionError(f"unknown method {method!r}; choose from {', '.join(known)}")


def _style_images(style: Style | None) -> list[tuple[str, np.ndarray]]:
    """(name, RGB) for each painting in `style`: a path, an array, or a sequence of them."""
    if style is None:
        return []
    items = [style] if isinstance(style, (str, os.PathLike, np.ndarray)) else list(style)
    return [(Path(item).stem if not isinstance(item, np.ndarray) else "painting", as_rgb(item)) for item in items]


def _style_weights(values: Sequence[float] | None, count: int) -> list[float] | None:
    if values is None:
        return None
    values = [float(v) for v in values]
    if len(values) != count:
        raise OptionError(f"style weights (--style-weights) has {len(values)} values for {count} styles")
    if not all(math.isfinite(v) and v >= 0 for v in values) or sum(values) <= 0:
        raise OptionError(f"style weights (--style-weights) must be finite, non-negative and not all zero, "
                          f"got {values}")
    return values


def make_look(method: str | None = None, *, look: str | None = None, style: Style | None = None,
              style_weights: Sequence[float] | None = None) -> Look:
    """The Look for a method and (for arbitrary nets and Gatys) a built-in look or painting(s).

    `method` None picks the default arbitrary net when a look or style is
    given. A fast net takes neither; Gatys takes paintings only. Several
    paintings are mixed by `style_weights` (default equal).
    """
    if look and style is not None:
        raise OptionError("give either a look (--look) or a style (--style), not both")
    if style_weights is not None and style is None:
        raise OptionError("style weights (--style-weights) need as many paintings (--style)")
    styled = bool(look) or style is not None
    method = method or (DEFAULT_METHOD if styled else None)
    if method is None:
        raise OptionError(f"nothing to stylize with: give a look (--look NAME), a style (--style PAINTING.jpg) "
                          f"or a method ({', '.join(registry.fast_methods())})")
    _check_method(method)
    if registry.is_fast(method):
        if styled:
            raise OptionError(f"{method!r} is a fast net with a fixed look; --style and --look need an "
                              f"arbitrary-style net ({', '.join(registry.arbitrary_methods())})")
        return Look(method, method)
    if method == GATYS and look:
        raise OptionError("gatys needs --style PAINTING.jpg (built-in looks are for the feed-forward nets)")
    if not styled:
        raise OptionError(f"method {method!r} needs --style PAINTING.jpg or --look NAME")
    if look:
        return _builtin_look(look, method)
    images = _style_images(style)
    return Look("+".join(name for name, _ in images), method, [rgb for _, rgb in images],
                _style_weights(style_weights, len(images)))


def new_engine(backend: str = "auto", alpha: float = 1.0, preserve_color: bool | str | None = None) -> Engine:
    """A realtime Engine for `backend`: torch (CUDA when available, else CPU; also "auto") or onnxruntime."""
    check_options(alpha, backend=backend, preserve_color=preserve_color)
    if backend == "onnxruntime":
        from stylize.realtime.onnx_engine import OnnxEngine

        engine: Engine = OnnxEngine()
    else:
        import torch

        engine = TorchEngine("cuda" if torch.cuda.is_available() else "cpu")
    engine.alpha, engine.preserve_color = alpha, color_mode(preserve_color)
    return engine


class StyleEngine:
    """A realtime engine bound to one method: set a style, then call it on frames.

        engine = stylize.engine("student")
        engine.set_style("great-wave")          # a built-in look, a painting (path or RGB) or a Look
        out = engine(frame)                     # HxWx3 uint8 RGB in and out

    `alpha` and `preserve_color` may change between frames. `engine` is the
    underlying realtime.engines.Engine, for a Pipeline.
    """

    def __init__(self, method: str, engine: Engine):
        _check_method(method)
        if method == GATYS:
            raise OptionError("gatys optimises each picture; use stylize_image(..., method='gatys')")
        self.method = method
        self.engine = engine
        if registry.is_fast(method):
            engine.set_style(Look(method, method))

    def set_style(self, style: Look | Style) -> None:
        """Switch to a Look, a built-in look's name, or painting(s) (path or RGB array, or a list)."""
        if isinstance(style, Look):
            if not style.is_fast_net and style.style is None and style.method != self.method:
                style = dataclasses.replace(style, method=self.method)  # the same look through this net
        elif isinstance(style, str) and style in builtin_looks.names():
            style = _builtin_look(style, self.method)
        else:
            style = make_look(self.method, style=style)
        self.engine.set_style(style)

    def __call__(self, frame: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Stylize one RGB uint8 frame; `mask` (HxW float in [0,1], 1 = stylize) limits where."""
        if self.engine.look is None:
            raise OptionError(f"method {self.method!r} needs a style first: engine.set_style(...)")
        return self.engine(frame, mask)

    @property
    def alpha(self) -> float:
        return self.engine.alpha

    @alpha.setter
    def alpha(self, value: float) -> None:
        check_options(alpha=value)
        self.engine.alpha = value

    @property
    def preserve_color(self) -> str | None:
        return color_mode(self.engine.preserve_color)

    @preserve_color.setter
    def preserve_color(self, value: bool | str | None) -> None:
        check_options(preserve_color=value)
        self.engine.preserve_color = color_mode(value)


def engine(method: str = DEFAULT_METHOD, backend: str = "auto", *, alpha: float = 1.0,
           preserve_color: bool | str | None = None) -> StyleEngine:
    """A frame-by-frame engine for `method` on `backend` ("auto", "torch" or "onnxruntime").

    A fast net is ready at once; an arbitrary net needs `set_style(...)` first.
    """
    return StyleEngine(method, new_engine(backend, alpha, preserve_color))


def stylize_image(image: Picture, *, look: str | None = None, style: Style | None = None,
                  method: str | None = None, alpha: float = 1.0, preserve_color: bool | str | None = None,
                  style_weights: Sequence[float] | None = None, mask: Picture | None = None,
                  size: int | None = None, backend: str = "auto", steps: int | None = None,
                  progress: bool = False) -> np.ndarray:
    """One picture (RGB array or image file) stylized, as an HxWx3 uint8 RGB array.

    look: a built-in look's name; style: painting(s), path or RGB, mixed by
    `style_weights`; method: a fast net (its own fixed look), an arbitrary net
    (default "student") or "gatys" (slow optimisation, `steps` per scale).
    alpha: 0 = the picture, 1 = full style. preserve_color: "luminance" or
    "match" keeps the picture's colours. mask (HxW, or an image file; white =
    stylize) limits where. size: long side of the result in pixels. Big
    pictures go through in tiles, with a progress bar if `progress`.
    `stylize image` gives the same pixels for the same options.
    """
    check_options(alpha, size, backend, preserve_color)
    chosen = make_look(method, look=look, style=style, style_weights=style_weights)
    content = fit_long_side(as_rgb(image), size)
    weight = None if mask is None else as_mask(mask, *content.shape[:2])
    job = ImageJob(chosen, None if chosen.method == GATYS else new_engine(backend), alpha=alpha,
                   preserve_color=preserve_color, steps=steps, progress=progress)
    return job(content, weight)


def stylize_sketch(drawing: Picture, style: Style | None = None, *, size: int | None = None,
                   steps: int | None = None, background: str = "paper", line_fidelity: float = 1.0,
                   preserve_color: bool = False, style_weights: Sequence[float] | None = None,
                   mask: Picture | None = None, seed: int = 0, tolerance: float | None = None,
                   progress: bool = False):
    """A line drawing (RGB array or image file) drawn again in a painting's manner: a SketchResult.

    The lines become Bézier strokes (stylize.offline.curves) whose width,
    colour, texture and a small wobble are optimised against the `style`'s
    VGG-19 statistics; the design's geometry stays. `style` None returns the
    extracted curves drawn as they are. background: "paper" (white), "tint"
    (a flat tint from the style) or "style" (the style paints the paper too).
    line_fidelity weighs keeping the lines (default 1). preserve_color: black
    lines take only the style's texture and width. Two styles with a `mask`
    (white = the first). `result.image` is the picture, `result.svg()` the
    vector drawing (one path per stroke). size: long side in pixels; steps:
    per scale. InputError for a photo or an empty page.
    """
    from stylize.offline import curves, sketch

    if size is not None and size < 16:
        raise OptionError(f"size must be at least 16 pixels, got {size}")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise OptionError(f"steps must be a whole number above 0, got {steps!r}")
    picture = as_rgb(drawing)
    height, width = picture.shape[:2]
    scale = 1.0 if size is None else size / max(height, width)
    sketch.check_page(round(width * scale), round(height * scale), "the drawing" if size is None else
                      f"--size {size} would make a page that")
    picture = fit_long_side(picture, size)
    settings = sketch.SketchSettings(background=background, line_fidelity=line_fidelity,
                                     preserve_color=preserve_color, seed=seed,
                                     tolerance=curves.DEFAULT_TOLERANCE if tolerance is None else tolerance,
                                     **({} if steps is None else {"steps": steps}))
    long_side = max(picture.shape[:2])  # a painting larger than the page is only ever used at its size
    styles = [rgb if max(rgb.shape[:2]) <= long_side else fit_long_side(rgb, long_side)
              for _, rgb in _style_images(style)]
    weight = None if mask is None else as_mask(mask, *picture.shape[:2])
    strokes = curves.extract(picture, settings.tolerance,
                             "the drawing" if isinstance(drawing, np.ndarray) else str(drawing))
    if not styles:
        return sketch.curves_result(picture, strokes)
    from stylize.models import zoo
    return sketch.stylize_sketch(picture, styles, encoder=zoo.load_vgg(), settings=settings,
                                 style_weights=style_weights, mask=weight, strokes=strokes, progress=progress)


def stylize_video(source: str | os.PathLike, target: str | os.PathLike, *, look: str | None = None,
                  style: Style | None = None, method: str | None = None, alpha: float = 1.0,
                  preserve_color: bool | str | None = None, size: int | None = None, backend: str = "auto",
                  progress: bool = False, stats: str | os.PathLike | None = None) -> VideoResult:
    """Stylize every frame of video file `source` into `target`, copying the audio unchanged.

    The style options are those of `stylize_image` (no Gatys). `stats` writes
    per-stage timings as JSON. Returns a VideoResult (frames written, size,
    stop reason, stats, seconds); `result.finished` is False after Ctrl-C or
    a failure, and `target` then holds the frames done so far.
    """
    check_options(alpha, size, backend, preserve_color)
    chosen = make_look(method, look=look, style=style)
    if chosen.method == GATYS:
        raise OptionError("gatys optimises single pictures; give a net for video (e.g. method='adain')")
    return stylize_video_file(source, target, chosen, new_engine(backend, alpha, preserve_color),
                              size=size, progress=progress, stats_path=stats)
