"""The file jobs: a video file into a stylized video file, and one picture into a stylized picture.

The CLI (`stylize video`, `stylize image`), the Python API (stylize.api) and
batch jobs all call these, so the same options give the same result wherever
they come from. Option names and defaults are resolved by the caller; these
functions take a ready Look and engine.
"""
from __future__ import annotations

import os
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from stylize.errors import InputError, OptionError, OutputError, StylizeError
from stylize.imageio import read_image, resize_to
from stylize.models import registry
from stylize.realtime.engines import Engine, Look, color_mode
from stylize.realtime.pipeline import Pipeline, StopReason, write_stats
from stylize.realtime.sinks import VideoWriter
from stylize.realtime.sinks.encoding import encoded_size
from stylize.realtime.sources import VideoFile
from stylize.realtime.temporal import TemporalSmoother
from stylize.realtime.tiling import OVERLAP, PIXEL_BUDGET, TILE, TilingNote, needs_tiles, stylize_tiled
from stylize.sizes import check_pixels

BACKENDS = ("auto", "torch", "onnxruntime")
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".m4v", ".avi", ".webm")
GATYS = "gatys"  # the optimisation method: no engine, slow, any painting


def check_options(alpha: float = 1.0, size: int | None = None, backend: str = "auto",
                  preserve_color: bool | str | None = None) -> None:
    """Raise OptionError for an alpha, size, backend or colour mode out of range."""
    if not 0.0 <= alpha <= 1.0:
        raise OptionError(f"alpha (--alpha) must be between 0 and 1, got {alpha}")
    if size is not None and size < 16:
        raise OptionError(f"size (--size) must be at least 16 pixels, got {size}")
    if backend not in BACKENDS:
        raise OptionError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    try:
        color_mode(preserve_color)
    except ValueError:
        raise OptionError(f"preserve_color (--preserve-color) must be luminance or match, "
                          f"got {preserve_color!r}") from None


# ------------------------------------------------------------------ video --
@dataclass
class VideoResult:
    """How a video job ended. `reason` is a realtime.pipeline.StopReason value."""

    source: str
    target: str  # where the frames are: the output asked for, or its NAME.partial.EXT (see stylize_video_file)
    frames: int  # frames in `target` (0: no file was left behind)
    width: int
    height: int
    reason: str
    seconds: float
    stats: dict = field(default_factory=dict)  # per-stage figures, as --stats writes them
    message: str = ""  # what went wrong, when reason is FAILED
    error: BaseException | None = None

    @property
    def finished(self) -> bool:
        """True when every frame of the source was written."""
        return self.reason == StopReason.END_OF_STREAM


def check_output(path: str | os.PathLike, label: str = "output") -> None:
    """Fail before any work if a video or stats file cannot be written at `path`."""
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"{path}: {label} is a folder; give a file name")
    if not target.parent.is_dir():
        raise OutputError(f"{path}: {label} folder {target.parent} does not exist")
    if not os.access(target.parent, os.W_OK):
        raise OutputError(f"{path}: {label} folder {target.parent} is not writable")


def _check_video_paths(source: Path, target: Path, stats_path: str | os.PathLike | None) -> None:
    check_output(target)
    if target.suffix.lower() not in VIDEO_SUFFIXES:
        raise OutputError(f"{target}: unknown video extension; use one of {', '.join(VIDEO_SUFFIXES)}")
    if stats_path is not None:
        check_output(stats_path, "stats file")
    if source.exists() and target.exists() and source.samefile(target):
        raise OutputError(f"{target}: the output would overwrite the input; pick another name")


@contextmanager
def _input_errors():
    """Opening an input failed: a plain StylizeError (the sources raise those) becomes an InputError."""
    try:
        yield
    except StylizeError as exc:
        if type(exc) is not StylizeError:
            raise
        raise InputError(str(exc)) from None


def open_video(source: str | os.PathLike, size: int | None = None) -> VideoFile:
    """The video file `source` decoded as fast as it goes (long side `size`); unreadable: InputError."""
    with _input_errors():
        return VideoFile(str(source), size=size, paced=False)


def stylize_video_file(source: str | os.PathLike, target: str | os.PathLike, look: Look, engine: Engine, *,
                       size: int | None = None, progress: bool = True,
                       stats_path: str | os.PathLike | None = None,
                       temporal_smoothing: float | None = None) -> VideoResult:
    """Stylize every frame of `source` in order into `target`, copying its audio unchanged.

    `engine` keeps its alpha and colour settings; `size` is the long side of
    the output (None: the source's). The file is written under a temporary
    name and renamed when done. Ctrl-C (and SIGTERM, when called from the main
    thread, however many arrive) stops early and still leaves a playable file
    with the frames done so far; the result then says INTERRUPTED. A run that
    is not complete never replaces a file: when it failed (a broken input), or
    `target` already existed, its frames are kept as NAME.partial.EXT and the
    result's `target` says so. A progress bar with ETA goes to
    stderr with `progress`. `temporal_smoothing` (0 to 0.95; None or 0: off)
    blends each frame with the previous one along the optical flow
    (realtime/temporal.py). Bad options raise OptionError, bad output paths
    OutputError, unreadable input InputError, all before any frame is stylized.
    """
    source, target = Path(source), Path(target)
    smoothing = TemporalSmoother(temporal_smoothing) if temporal_smoothing else None
    _check_video_paths(source, target, stats_path)
    started = time.perf_counter()
    with open_video(source, size) as video:
        writer = VideoWriter(target, audio_from=source, total_frames=video.frame_count, lossless=True,
                             progress=progress)
        run = Pipeline(video, engine, [look], [writer], lossless=True, smoothing=smoothing).run()
    run.stats["backend"] = backend_label(engine)
    if stats_path is not None:
        write_stats(stats_path, run.stats)
    kept = writer.saved_path
    message = run.message or (f"{source} ends early: wrote {writer.frames_written} of the "
                              f"{video.frames_expected} frames it declares" if video.truncated else "")
    return VideoResult(str(source), str(kept or target), writer.frames_written if kept else 0,
                       *encoded_size(video.width, video.height), run.reason, time.perf_counter() - started,
                       run.stats, message, run.error)


def backend_label(engine: Engine) -> str:
    """The engine's backend and device, e.g. "torch cpu", for reports."""
    device = getattr(engine, "device", None)
    return f"{engine.backend} {device.type}" if device is not None else engine.backend


# ------------------------------------------------------------------ image --
def fit_long_side(rgb: np.ndarray, size: int | None) -> np.ndarray:
    """`rgb` resized so its long side is `size` pixels (None: unchanged)."""
    if not size:
        return rgb
    height, width = rgb.shape[:2]
    scale = size / max(height, width)
    target = max(1, round(height * scale)), max(1, round(width * scale))
    check_pixels(target[1], target[0], f"--size {size} would make a {width}x{height} picture, which")
    return resize_to(rgb, *target)


def as_rgb(image: np.ndarray | str | os.PathLike) -> np.ndarray:
    """An HxWx3 uint8 RGB array as it is, or the picture read from a path."""
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InputError(f"an image must be HxWx3 uint8 RGB, got {image.dtype} {image.shape}")
        return image
    return read_image(image)


def as_mask(mask: np.ndarray | str | os.PathLike, height: int, width: int) -> np.ndarray:
    """The mask as HxW float in [0,1] (white = stylize), resized to height x width if it differs."""
    if isinstance(mask, np.ndarray):
        gray = mask.astype(np.float32) / (255.0 if mask.dtype == np.uint8 else 1.0)
        gray = gray.mean(axis=2) if gray.ndim == 3 else gray
    else:
        gray = read_image(mask, min_side=1).astype(np.float32).mean(axis=2) / 255.0
    if gray.shape != (height, width):
        gray = cv2.resize(gray, (width, height), interpolation=cv2.INTER_LINEAR)
    return gray


def _note(message: str) -> None:
    warnings.warn(message, TilingNote, stacklevel=3)


class ImageJob:
    """Stylizes pictures with one look: through an engine (in tiles above a pixel budget) or by Gatys.

    Build it once and call it for each picture: nets, styles and VGG load once.
    A Look with method "gatys" optimises each picture (slow, needs no engine);
    any other look needs `engine`, whose alpha and colour settings are set here.
    Pictures over `tile_budget` pixels are stylized in overlapping `tile`-pixel
    tiles (realtime/tiling.py), so memory stays bounded; every tile replays the
    normalisation statistics of one pass over the picture shrunk to
    `tile_budget` pixels. Where that cannot be done a TilingNote warning says
    what happens instead (see `_tiling`).
    """

    def __init__(self, look: Look, engine: Engine | None = None, *, alpha: float = 1.0,
                 preserve_color: bool | str | None = None, steps: int | None = None, progress: bool = False,
                 tile_budget: int = PIXEL_BUDGET, tile: int = TILE, overlap: int = OVERLAP):
        check_options(alpha, preserve_color=preserve_color)
        self.preserve_color = color_mode(preserve_color)
        self.look, self.alpha, self.steps, self.progress = look, alpha, steps, progress
        self.tile_budget, self.tile, self.overlap = tile_budget, tile, overlap
        self.engine = engine
        self._encoder = None  # VGG for Gatys, loaded at the first picture
        self._torch_tiles: Engine | None = None  # tiles of a big picture, for an engine that cannot replay statistics
        if look.method != GATYS:
            if engine is None:
                raise ValueError(f"method {look.method!r} runs through an engine; pass one")
            engine.alpha, engine.preserve_color = alpha, self.preserve_color
            engine.set_style(look)

    def __call__(self, image: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """The stylized HxWx3 uint8 RGB picture; `mask` (HxW float in [0,1], 1 = stylize) limits where."""
        if self.look.method == GATYS:
            return self._gatys(image, mask)
        if needs_tiles(*image.shape[:2], self.tile_budget):
            engine, reference_pixels = self._tiling()
            return stylize_tiled(engine, image, mask, tile=self.tile, overlap=self.overlap, progress=self.progress,
                                 reference_pixels=reference_pixels)
        return self.engine(image, mask)

    def _tiling(self) -> tuple[Engine, int | None]:
        """The engine for tiles and the pixels of the reference pass (None: tiles normalise themselves).

        Tiles replay the normalisation statistics of the whole picture (shrunk
        to the pixel budget). An ONNX graph cannot replay them, so its tiles go
        through torch on the CPU instead: the same weights, and one picture
        rather than a patchwork of tiles in different palettes.
        """
        if not registry.get(self.look.method).shares_stats:
            return self._tiles_on_their_own(self.look.method)
        if self.engine.shares_stats:
            return self.engine, self.tile_budget
        if not hasattr(self.engine, "torch_engine"):
            return self._tiles_on_their_own(f"the {self.engine.backend} engine")
        if self._torch_tiles is None:
            _note(f"{self.engine.backend} cannot replay the whole picture's statistics in its tiles: "
                  "this picture's tiles run through torch on the CPU")
            self._torch_tiles = self.engine.torch_engine()
            self._torch_tiles.set_style(self.look)
        return self._torch_tiles, self.tile_budget

    def _tiles_on_their_own(self, what: str) -> tuple[Engine, None]:
        _note(f"{what} cannot share normalisation statistics across tiles: "
              "each tile is normalised on its own, so tiles may differ in colour")
        return self.engine, None

    def _gatys(self, image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        from stylize.models import zoo
        from stylize.offline.gatys import gatys

        if self._encoder is None:
            self._encoder = zoo.load_vgg()
        options = {"steps": self.steps} if self.steps is not None else {}
        result = gatys(image, self.look.style_images, self.look.style_weights, encoder=self._encoder, mask=mask,
                       preserve_color=self.preserve_color, progress=self.progress, **options).image
        if self.alpha < 1.0:
            result = (image * (1 - self.alpha) + result * self.alpha + 0.5).astype(np.uint8)
        return result
