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
from stylize.realtime import backends
from stylize.realtime import work_size as work_sizes
from stylize.realtime.engines import Engine, Look, color_mode
from stylize.realtime.masks import engine_device, live_mask, still_mask
from stylize.realtime.temporal import DEFAULT_STRENGTH as DEFAULT_SMOOTHING
from stylize.realtime.temporal import TemporalSmoother

__all__ = ["BACKENDS", "DEFAULT_METHOD", "DEFAULT_SMOOTHING", "GATYS", "MethodInfo", "StyleEngine",
           "TemporalSmoother", "VideoResult", "check_options", "as_look", "distill", "engine", "keyframes", "load_net",
           "look", "looks", "make_look", "mask", "methods", "new_engine", "offline_look", "stylize_image",
           "stylize_sketch",
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


def as_look(value: Look | str, method: str | None = None) -> Look:
    """A Look from one name: a fast net, a built-in look (through the arbitrary net `method`), or a painting file."""
    if isinstance(value, Look):
        return value
    if registry.is_fast(value):
        return make_look(value)
    if value in builtin_looks.names():
        return make_look(method, look=value)
    if Path(value).is_file():
        return make_look(method, style=value)
    raise OptionError(f"look {value!r} is neither a built-in look ({', '.join(builtin_looks.names()) or 'none'}), "
                      f"a fast net ({', '.join(registry.fast_methods())}) nor an image file")


def mask(mode: str = "person", *, smoothing: float | None = None, feather: float | None = None,
         device: str = "cpu"):
    """A live mask for video frames: call it on each RGB frame for its HxW float32 weights (1 = stylize).

    mode: "person" (the people, by a segmentation model), "background" (the
    rest) or "motion" (what moves, by background subtraction). smoothing: how
    much of the previous frames it keeps (0..1); feather: edge softness as a
    fraction of the long side; None keeps the mode's defaults. device "cuda"
    runs the segmentation on the GPU where onnxruntime-gpu is installed.
    """
    return live_mask(mode, smoothing, feather, device)


def split_styles(method: str | None, style: Style | None, style_weights: Sequence[float] | None,
                 masked: bool) -> tuple[Look, Look] | None:
    """Two paintings under a mask, for a net: the first where the mask is white, the second where it is black,
    as Gatys paints them. None where that does not apply (no mask, not two paintings, Gatys itself)."""
    paintings = [] if style is None or isinstance(style, (str, os.PathLike, np.ndarray)) else list(style)
    if not masked or len(paintings) != 2 or method == GATYS:
        return None
    if style_weights is not None:
        raise OptionError("with a mask two paintings go one to the white part and one to the black: "
                          "style weights (--style-weights) have nothing to mix")
    return make_look(method, style=paintings[0]), make_look(method, style=paintings[1])


def _set_background(engine_: Engine | None, background_look: Look | str | None, mask_mode: str | None,
                    method: str | None) -> None:
    """Paint where the mask is off in `background_look` (None: keep the picture there)."""
    if background_look is None:
        return
    if engine_ is None:
        raise OptionError("gatys paints two styles in one picture by itself: style=[a, b] with a mask")
    if mask_mode == "background":
        raise OptionError("background_look paints what the mask leaves, and mask_mode='background' leaves the "
                          "people: use mask_mode='person' with the two looks swapped")
    engine_.set_background(as_look(background_look, method if method and not registry.is_fast(method) else None))
def load_net(path: str | os.PathLike) -> str:
    """Register a distilled net file (made by `distill`) and return its method name, for `method=` anywhere.

        stylize.stylize_video("in.mp4", "out.mp4", method=stylize.load_net("starry-clip.pt"))
    """
    return registry.register_file(path)


def new_engine(backend: str = "auto", alpha: float = 1.0, preserve_color: bool | str | None = None,
               work_size: str | int | None = None) -> Engine:
    """A realtime Engine for `backend`, one of BACKENDS (realtime/backends.py); "auto" picks the fastest here.

    `work_size` ("auto", "full" or None, "WxH", or a pixel count): frames with more pixels are painted at
    that many and given back their own detail at full size (realtime/work_size.py); "auto" is 640x480 on
    the CPU and full size on a GPU.
    """
    check_options(alpha, backend=backend, preserve_color=preserve_color)
    try:
        budget = work_sizes.parse(work_size)
    except ValueError as exc:
        raise OptionError(str(exc)) from None
    engine = backends.create(backend)
    engine.alpha, engine.preserve_color = alpha, color_mode(preserve_color)
    engine.work_pixels = work_sizes.resolve(budget, engine_device(engine) == "cuda")
    return engine


class StyleEngine:
    """A realtime engine bound to one method: set a style, then call it on frames.

        engine = stylize.engine("student")
        engine.set_style("great-wave")          # a built-in look, a painting (path or RGB) or a Look
        out = engine(frame)                     # HxWx3 uint8 RGB in and out

    `alpha` and `preserve_color` may change between frames. `engine` is the
    underlying realtime.engines.Engine, for a Pipeline. With `smoothing` (a
    TemporalSmoother) consecutive calls are frames of one video: each is
    blended with the previous output along the optical flow.
    """

    def __init__(self, method: str, engine: Engine, smoothing: TemporalSmoother | None = None):
        _check_method(method)
        if method == GATYS:
            raise OptionError("gatys optimises each picture; use stylize_image(..., method='gatys')")
        self.method = method
        self.engine = engine
        self.smoothing = smoothing
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

    def set_background(self, style: Look | str | None) -> None:
        """Paint where a frame's mask is 0 in this look (a Look, a built-in look, fast net or painting file);
        None keeps the picture there."""
        self.engine.set_background(None if style is None else as_look(style, self.method))

    def __call__(self, frame: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Stylize one RGB uint8 frame; `mask` (HxW float in [0,1], 1 = stylize) limits where."""
        if self.engine.look is None:
            raise OptionError(f"method {self.method!r} needs a style first: engine.set_style(...)")
        if self.smoothing is None:
            return self.engine(frame, mask)
        painted = (self.engine.look, self.engine.fading)
        return self.smoothing(frame, self.engine(frame, mask), *painted)

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
           preserve_color: bool | str | None = None, temporal_smoothing: float | None = None,
           work_size: str | int | None = None) -> StyleEngine:
    """A frame-by-frame engine for `method` on `backend` (one of BACKENDS; "auto" picks the fastest here).

    A fast net is ready at once; an arbitrary net needs `set_style(...)` first.
    `temporal_smoothing` (0 to 0.95): treat the frames as a video and tame flicker (see stylize_video).
    `work_size`: see new_engine; "auto" is what `stylize live` does.
    """
    smoothing = TemporalSmoother(temporal_smoothing) if temporal_smoothing else None
    return StyleEngine(method, new_engine(backend, alpha, preserve_color, work_size), smoothing)


def stylize_image(image: Picture, *, look: str | None = None, style: Style | None = None,
                  method: str | None = None, alpha: float = 1.0, preserve_color: bool | str | None = None,
                  style_weights: Sequence[float] | None = None, mask: Picture | None = None,
                  mask_mode: str | None = None, mask_feather: float | None = None,
                  background_look: Look | str | None = None, size: int | None = None, backend: str = "auto",
                  steps: int | None = None, progress: bool = False) -> np.ndarray:
    """One picture (RGB array or image file) stylized, as an HxWx3 uint8 RGB array.

    look: a built-in look's name; style: painting(s), path or RGB, mixed by
    `style_weights`; method: a fast net (its own fixed look), an arbitrary net
    (default "student") or "gatys" (slow optimisation, `steps` per scale).
    alpha: 0 = the picture, 1 = full style. preserve_color: "luminance" or
    "match" keeps the picture's colours. mask (HxW, or an image file; white =
    stylize) limits where (with two paintings: the first on white, the second on black); or mask_mode "person" (only the people, found by
    a segmentation model) or "background" (only the rest), its edge
    feathered by `mask_feather` (a fraction of the long side).
    background_look (a built-in look, fast net or painting) paints where the
    mask is off instead of keeping the picture. size: long side of the result
    in pixels. Big pictures go through in tiles, with a progress bar if
    `progress`. `stylize image` gives the same pixels for the same options.
    """
    check_options(alpha, size, backend, preserve_color)
    two = None if look else split_styles(method, style, style_weights, mask is not None or mask_mode is not None)
    chosen = two[0] if two else make_look(method, look=look, style=style, style_weights=style_weights)
    content = fit_long_side(as_rgb(image), size)
    engine_ = None if chosen.method == GATYS else new_engine(backend)
    _set_background(engine_, two[1] if two and background_look is None else background_look, mask_mode,
                    chosen.method)
    if mask is not None and mask_mode is not None:
        raise OptionError("give either a mask picture (--mask) or a mask mode (--mask-mode), not both")
    weight = None if mask is None else as_mask(mask, *content.shape[:2])
    if mask_mode is not None:
        weight = still_mask(content, mask_mode, mask_feather, engine_device(engine_))
    job = ImageJob(chosen, engine_, alpha=alpha, preserve_color=preserve_color, steps=steps, progress=progress)
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
                  mask_mode: str | None = None, mask_smoothing: float | None = None,
                  mask_feather: float | None = None, background_look: Look | str | None = None,
                  progress: bool = False, stats: str | os.PathLike | None = None,
                  temporal_smoothing: float | None = None, work_size: str | int | None = None) -> VideoResult:
    """Stylize every frame of video file `source` into `target`, copying the audio unchanged.

    The style options are those of `stylize_image` (no Gatys). mask_mode
    "person", "background" or "motion" (what moves) limits where, smoothed
    over time by `mask_smoothing` (see `mask`). `temporal_smoothing` (0 to
    0.95, e.g. DEFAULT_SMOOTHING) blends each frame with the previous one
    where the optical flow is reliable, which tames flicker. `stats` writes
    per-stage timings as JSON. `work_size` ("auto", "WxH") paints large
    frames smaller, faster and softer (see new_engine; default: every pixel).
    Returns a VideoResult (frames written, size, stop reason, stats,
    seconds); `result.finished` is False after Ctrl-C or a failure, and
    `target` then holds the frames done so far.
    """
    check_options(alpha, size, backend, preserve_color)
    chosen = make_look(method, look=look, style=style)
    if chosen.method == GATYS:
        raise OptionError("gatys optimises single pictures; give a net for video (e.g. method='adain')")
    engine_ = new_engine(backend, alpha, preserve_color, work_size)
    _set_background(engine_, background_look, mask_mode, chosen.method)
    weights = None if mask_mode is None else live_mask(mask_mode, mask_smoothing, mask_feather, engine_device(engine_))
    return stylize_video_file(source, target, chosen, engine_, size=size, progress=progress, stats_path=stats,
                              mask=weights, temporal_smoothing=temporal_smoothing)


# ------------------------------------------------------------ offline looks, distilled into live nets --
def keyframes(video: str | os.PathLike, out_dir: str | os.PathLike, *, max_frames: int = 24,
              min_gap_s: float = 0.5, max_gap_s: float = 2.0, size: int | None = None, progress: bool = False):
    """Write `video`'s keyframes (scene cuts, one at least every `max_gap_s`) into `out_dir` as PNGs with
    keyframes.json; returns the list of offline.keyframes.Keyframe (file, frame, time, reason)."""
    from stylize.offline.keyframes import extract_keyframes

    return extract_keyframes(video, out_dir, max_frames=max_frames, min_gap_s=min_gap_s, max_gap_s=max_gap_s,
                             size=size, progress=progress)


def offline_look(kind: str, keyframes_dir: str | os.PathLike, out_dir: str | os.PathLike, *,
                 style: str | os.PathLike | None = None, style_dir: str | os.PathLike | None = None,
                 mask_dir: str | os.PathLike | None = None, mask_mode: str | None = None, size: int | None = 384,
                 steps: int | None = None, style_weight: float | None = None, sd_model: str | os.PathLike | None = None,
                 device: str = "auto", seed: int = 0, progress: bool = False):
    """Paint every keyframe in `keyframes_dir` with one look by `kind` ("gatys" or "diffstyler") into
    `out_dir`; frames already there are skipped. Returns the keyframes painted by this call."""
    from stylize.offline import look_pass
    from stylize.offline.train.device import pick_device

    check_options(size=size)
    settings = look_pass.LookSettings(kind, look_pass.style_paths(style, style_dir), size=size, steps=steps,
                                      style_weight=style_weight, mask_dir=str(mask_dir) if mask_dir else None,
                                      mask_mode=mask_mode, seed=seed)
    device = str(pick_device(device))
    if kind == "gatys":
        painter = look_pass.gatys_painter(settings, device)
    else:
        painter = look_pass.diffstyler_painter(settings, sd_model, device)
    # DiffStyler makes its own masks per style (person and background, regions); Gatys takes one.
    segmenter = look_pass.person_segmenter() if mask_mode == "person" and kind == "gatys" else None
    return look_pass.paint_keyframes(keyframes_dir, out_dir, settings, painter, segmenter=segmenter,
                                     progress=progress)


def distill(looks: str | os.PathLike, net: str | os.PathLike, *, video: str | os.PathLike | None = None,
            steps: int = 600, size: int = 256, crop: int = 128, batch: int = 4, device: str = "auto",
            threads: int | None = None, temporal_weight: float | None = None, flow_weight: float | None = None,
            widths: str | None = None, hold_out: int = 0, resume: bool = False, seed: int = 0,
            progress: bool = False) -> dict:
    """Distil the offline look in folder `looks` (see `offline_look`) into a live net written to `net`.

    video: frames of the same scenes, unseen in training pairs, for the style and temporal terms. size:
    long side the keyframes are shrunk to; crop: side of the square training crops. hold_out: keyframes left
    out of training (listed in the sidecar) for `bench distill` to measure fidelity on. temporal_weight,
    flow_weight: the shift and the optical-flow temporal terms (None: their defaults); widths: the net's
    channels as "A,B,C", at most the student's (None: the default). Returns the net's sidecar
    record (sha256, settings, last losses); use the file with `load_net(net)` or `--net`.
    """
    from stylize.offline.train.tasks.distill import DistillOptions, distill_look

    if not (isinstance(steps, int) and steps >= 1):
        raise OptionError(f"steps must be a whole number above 0, got {steps!r}")
    weights = {"temporal_weight": temporal_weight, "flow_weight": flow_weight, "widths": widths}
    options = DistillOptions(hold_out=hold_out, **{k: v for k, v in weights.items() if v is not None})
    return distill_look(looks, net, video=video, options=options, progress=progress, resume=resume, steps=steps,
                        crop=crop, long_side=size, batch=batch, device=device, threads=threads, seed=seed)
