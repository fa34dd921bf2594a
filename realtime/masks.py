"""Live masks: where a frame is stylized (1) and where it is kept (0), HxW float32 per frame.

Three kinds, chosen by `--mask-mode`:
  - person / background: the people found by the segmentation model
    (realtime/segmentation.py), or everything else. Its probabilities are
    smoothed over time (an EMA), thresholded with hysteresis (a pixel turns
    on above one level and off only below a lower one, so an edge that
    hovers at 0.5 does not shimmer) and feathered (a Gaussian blur, so the
    boundary between painted and unpainted pixels is soft). The shaping runs
    on a copy at most WORK_SIDE pixels across: the edge is no sharper than
    the model's 256x256 output anyway.
  - motion: OpenCV background subtraction (MOG2) marks what moves in front
    of the learnt static scene; no model needed. The raw foreground is
    cleaned with a morphological open/close, smoothed and feathered. A
    subject that stands still for longer than `history` frames is slowly
    learnt into the background; that is the price of needing no model.
"""
from __future__ import annotations

import cv2
import numpy as np

from stylize.errors import OptionError
from stylize.realtime.segmentation import PersonSegmenter

MODES = ("person", "background")  # MotionMask's: the mover, or the rest
MASK_MODES = ("person", "background", "motion")  # --mask-mode
WORK_WIDTH = 160  # the subtractor's resolution, in pixels across
WORK_SIDE = 256  # the person mask's working resolution, long side in pixels
SMOOTHING = 0.5  # the person mask's default: weight of the previous probabilities in the EMA
FEATHER = 0.01  # the person mask's default edge softness, a fraction of the frame's long side
HYSTERESIS = (0.35, 0.65)  # a pixel turns off below the first, on above the second


class MotionMask:
    """Call with an RGB frame; returns HxW float32 in [0,1] where 1 means stylize."""

    label = "motion (background subtraction)"

    def __init__(self, mode: str = "person", history: int = 300, smoothing: float = 0.7,
                 feather: float = 0.03, threshold: float = 16.0):
        if mode not in MODES:
            raise ValueError(f"mask mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.smoothing = smoothing  # weight of the previous mask in the running average
        self.feather = feather  # edge softness, as a fraction of the frame's long side
        self._subtractor = cv2.createBackgroundSubtractorMOG2(history=history, varThreshold=threshold,
                                                              detectShadows=True)
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self._state: np.ndarray | None = None

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        height, width = rgb.shape[:2]
        work_w = min(width, WORK_WIDTH)
        work_h = max(1, round(height * work_w / width))
        small = cv2.resize(rgb, (work_w, work_h), interpolation=cv2.INTER_AREA)
        raw = self._subtractor.apply(small)
        # MOG2 marks shadows as 127: a shadow on the wall is background, not the performer.
        moving = (raw == 255).astype(np.uint8)
        moving = cv2.morphologyEx(moving, cv2.MORPH_OPEN, self._kernel)  # speckle noise
        moving = cv2.morphologyEx(moving, cv2.MORPH_CLOSE, self._kernel, iterations=2)  # holes in the body
        self._state = smoothed(self._state, moving.astype(np.float32), self.smoothing)
        soft = feathered(self._state, max(self.feather, 0.5 / max(work_w, work_h)))
        mask = cv2.resize(soft, (width, height), interpolation=cv2.INTER_LINEAR)
        np.clip(mask, 0.0, 1.0, out=mask)
        return mask if self.mode == "person" else 1.0 - mask


def smoothed(state: np.ndarray | None, value: np.ndarray, smoothing: float) -> np.ndarray:
    """One EMA step: `smoothing` of the previous state, the rest from `value` (the first frame is taken as it is)."""
    if state is None or state.shape != value.shape:
        return value
    return smoothing * state + (1 - smoothing) * value


def feathered(mask: np.ndarray, width: float) -> np.ndarray:
    """`mask` blurred by a Gaussian whose sigma is `width` times its long side (0: unchanged)."""
    sigma = width * max(mask.shape)
    return cv2.GaussianBlur(mask, (0, 0), sigma) if sigma > 0 else mask


class Hysteresis:
    """A two-level threshold with memory: a pixel turns on above `high`, off below `low`, else stays as it was.

    The first frame (or one of another size) has no memory: it is cut at the midpoint.
    """

    def __init__(self, low: float = HYSTERESIS[0], high: float = HYSTERESIS[1]):
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"hysteresis levels must satisfy 0 <= low <= high <= 1, got {low}, {high}")
        self.low, self.high = low, high
        self._on: np.ndarray | None = None

    def __call__(self, probability: np.ndarray) -> np.ndarray:
        """HxW probabilities -> HxW float32 0/1."""
        if self._on is None or self._on.shape != probability.shape:
            self._on = probability >= (self.low + self.high) / 2
        else:
            self._on = (probability >= self.high) | (self._on & (probability > self.low))
        return self._on.astype(np.float32)


def check_mask_options(smoothing: float | None, feather: float | None) -> None:
    """OptionError for a smoothing outside [0, 1) or a feather outside [0, 0.25]."""
    if smoothing is not None and not 0.0 <= smoothing < 1.0:
        raise OptionError(f"mask smoothing (--mask-smoothing) must be at least 0 and below 1, got {smoothing}")
    if feather is not None and not 0.0 <= feather <= 0.25:
        raise OptionError(f"mask feather (--mask-feather) must be between 0 and 0.25 of the picture's long side, "
                          f"got {feather}")


class PersonMask:
    """Call with an RGB frame; returns HxW float32 in [0,1]: 1 on the people ("person") or off them ("background").

    `smoothing`: weight of the previous probabilities in the EMA (0: none; a
    fresh PersonMask's first frame has none either, as a single image should).
    `feather`: edge softness as a fraction of the frame's long side.
    """

    def __init__(self, mode: str = "person", smoothing: float = SMOOTHING, feather: float = FEATHER,
                 segmenter: PersonSegmenter | None = None, levels: tuple[float, float] = HYSTERESIS):
        if mode not in MODES:
            raise ValueError(f"person mask mode must be one of {MODES}, got {mode!r}")
        check_mask_options(smoothing, feather)
        self.mode, self.smoothing, self.feather = mode, smoothing, feather
        self.segmenter = segmenter or PersonSegmenter()
        self.label = f"{mode} ({self.segmenter.describe()})"
        self._threshold = Hysteresis(*levels)
        self._state: np.ndarray | None = None

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        height, width = rgb.shape[:2]
        scale = min(1.0, WORK_SIDE / max(height, width))
        work = (max(1, round(width * scale)), max(1, round(height * scale)))
        self._state = smoothed(self._state, self.segmenter.probabilities(rgb, work), self.smoothing)
        soft = feathered(self._threshold(self._state), self.feather)
        mask = cv2.resize(soft, (width, height), interpolation=cv2.INTER_LINEAR)
        np.clip(mask, 0.0, 1.0, out=mask)
        return mask if self.mode == "person" else 1.0 - mask


def live_mask(mode: str, smoothing: float | None = None, feather: float | None = None, device: str = "cpu",
              segmenter: PersonSegmenter | None = None):
    """The mask for `--mask-mode` `mode`; smoothing and feather None keep that kind's defaults.

    `device` is the engine's ("cuda" runs the segmentation there too).
    """
    if mode not in MASK_MODES:
        raise OptionError(f"unknown mask mode {mode!r}; choose from {', '.join(MASK_MODES)}")
    check_mask_options(smoothing, feather)
    options = {name: value for name, value in (("smoothing", smoothing), ("feather", feather)) if value is not None}
    if mode == "motion":
        return MotionMask("person", **options)
    return PersonMask(mode, segmenter=segmenter or PersonSegmenter(device=device), **options)


def still_mask(rgb: np.ndarray, mode: str, feather: float | None = None, device: str = "cpu",
               segmenter: PersonSegmenter | None = None) -> np.ndarray:
    """The person (or background) mask of a single picture: no history to smooth over."""
    if mode == "motion":
        raise OptionError("mask mode 'motion' needs a video (what moves between frames); use person or background")
    if mode not in MODES:
        raise OptionError(f"unknown mask mode {mode!r}; choose from {', '.join(MODES)}")
    shaped = PersonMask(mode, 0.0, FEATHER if feather is None else feather,
                        segmenter or PersonSegmenter(device=device))
    return shaped(rgb)


def engine_device(engine) -> str:
    """"cuda" when `engine` runs its nets on a CUDA device (torch, or ONNX Runtime's CUDA provider), else "cpu"."""
    device = getattr(engine, "device", None)
    if device is not None:
        return device.type
    providers = getattr(engine, "providers", None) or [""]
    return "cuda" if providers[0] == "CUDAExecutionProvider" else "cpu"
