"""Training-free temporal smoothing: the previous output, carried along the optical flow, blended into each frame.

Per-frame stylization flickers: a net paints each frame afresh, so brush
strokes crawl where the picture stands still. `TemporalSmoother` warps its
previous *output* onto the current frame along the flow of the *source*
frames (computed at a reduced resolution, realtime/flow.py) and blends it in
with weight `strength` where that flow is reliable: the warped source matches
the current source (which fails at occlusions, where the pixel was not in the
previous frame, and where the flow is wrong) and, with `consistency`, the
forward and backward flows agree as well. Everywhere else the fresh frame is
kept, so motion is never smeared. The forward-backward check costs a second
flow per frame and did not lower the warping error on the street clip (0.54x
per-frame with it, 0.51x without, first 100 frames), so it is off by default.

Averaging two different stroke patterns flattens them (a softer, less
painterly picture: VGG-r31 style loss +21 % at strength 0.6 on the street
clip), so the blend's local contrast is then raised back to the fresh
frame's (`restore_detail`; style loss +4 %).

Cost, 640x480 on one core of the 2-core EPYC: 11-13 ms a frame, under half
of it the flow (DIS "medium" at 240 px). Every full-size step is uint8 work
written into arrays reused from frame to frame (`flow.Scratch`); the
pipeline runs the smoother on its own thread, beside the net.

The history is dropped, and the fresh frame shown as it is, on:
  - a look change, and every frame of a crossfade: blending an old look in
    would ghost it through the new one;
  - a scene cut: too few pixels of the previous frame are found in this one;
  - a change of frame size.
`resets` counts these per reason. The blend is recursive (a pixel the flow
follows for k frames carries strength^k of its k-th predecessor), an
exponential average along motion trajectories.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import cv2
import numpy as np

from stylize.errors import OptionError
from stylize.realtime.flow import FlowEstimator, Scratch, consistency_mask, resize_flow, warp

DEFAULT_STRENGTH = 0.6  # tuned by `stylize bench flicker --smoothing` (README "Flicker")
MAX_STRENGTH = 0.95  # 1 would keep the first frame forever wherever the flow is reliable
# Long side of the pictures the flow is computed at. Street clip, student, warping error smoothed / per-frame:
# 0.50x at 240 px (DIS 4.8 ms a frame), 0.55x at 200 (3.2 ms), 0.59x at 160 (1.9 ms); "fast" at 320: 0.63x.
FLOW_SIDE = 240
FLOW_PRESET = "medium"
PHOTOMETRIC_LEVELS = 20.0  # a warped source pixel further than this (of 255, gray) from the current one is unreliable
CUT_RELIABLE = 0.3  # less than this share of reliable pixels: a scene cut
FEATHER_SIGMA = 1.0  # blur of the weight map (flow pixels): no hard seams where reliability ends
DETAIL_SCALE = 4  # detail is what a 1/4-size copy of the picture lacks (a power of two)
DETAIL_GAIN = 2.0  # at most this much contrast is given back to a blended pixel's detail
DETAIL_FLOOR = 0.25  # levels (of 255) added to both detail amplitudes: flat areas are left alone


def check_strength(strength: float) -> float:
    """`strength` as a float in [0, MAX_STRENGTH], else OptionError."""
    value = float(strength)
    if not 0.0 <= value <= MAX_STRENGTH:  # also refuses NaN
        raise OptionError(f"temporal smoothing (--temporal-smoothing) must be between 0 and {MAX_STRENGTH}, "
                          f"got {strength!r}")
    return value


@dataclass
class _History:
    small: np.ndarray  # the source frame, gray at the flow's size
    output: np.ndarray  # what was shown for it
    look: object  # the look it was painted with


class TemporalSmoother:
    """Call it on each (source frame, stylized frame) pair in order; it returns the frame to show.

        smoother = TemporalSmoother(0.6)
        shown = smoother(frame, engine(frame), look=engine.look, fading=engine.fading)

    `look` is any object that changes when the look does (compared by
    identity); `fading` is True for frames painted during a crossfade.
    """

    def __init__(self, strength: float = DEFAULT_STRENGTH, flow_side: int = FLOW_SIDE, preset: str = FLOW_PRESET,
                 consistency: bool = False):
        self.strength = check_strength(strength)
        self.estimator = FlowEstimator(flow_side, preset)
        self.consistency = consistency  # also require the forward-backward check (a second flow per frame)
        self.resets: Counter[str] = Counter()  # frames shown fresh, by reason: "start", "look", "fade", "cut", "size"
        self.blended = 0  # frames that had the previous output blended in
        self.reliable_share = 0.0  # of the last blended frame's pixels
        self._history: _History | None = None
        self._scratch = Scratch()  # full-size arrays reused frame after frame

    def summary(self) -> dict:
        """Strength, frames blended and frames shown fresh by reason (for --stats)."""
        return {"strength": self.strength, "flow_side": self.estimator.max_side, "flow_preset": self.estimator.preset,
                "consistency_check": self.consistency, "blended_frames": self.blended,
                "fresh_frames": dict(self.resets)}

    def reset(self) -> None:
        """Forget the previous frame: the next one is shown as it is."""
        self._history = None

    def __call__(self, source: np.ndarray, stylized: np.ndarray, look: object = None,
                 fading: bool = False) -> np.ndarray:
        """The frame to show for `source` (HxWx3 uint8 RGB), given its fresh stylization `stylized` (same size)."""
        small = self.estimator.shrink(source)
        history, self._history = self._history, None
        reason = _reset_reason(history, stylized, look, fading)
        shown = stylized
        if reason is None and self.strength > 0:
            weight, back = self._weights(history.small, small)
            if weight is None:
                reason = "cut"
            else:
                shown = self._blend(stylized, history.output, weight, back)
        if reason is not None:
            self.resets[reason] += 1
        self._history = None if fading else _History(small, shown, look)
        return shown

    def _weights(self, previous: np.ndarray, current: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        """The blend weight per flow pixel (None at a cut) and the flow from the current frame to the previous."""
        height, width = current.shape
        back = self.estimator.between(current, previous, width, height)
        reliable = cv2.absdiff(warp(previous, back), current) <= PHOTOMETRIC_LEVELS
        if self.consistency:
            reliable &= consistency_mask(back, self.estimator.between(previous, current, width, height))
        share = float(reliable.mean())
        if share < CUT_RELIABLE:
            return None, back
        self.reliable_share = share
        weight = cv2.GaussianBlur(reliable.astype(np.float32) * self.strength, (0, 0), FEATHER_SIGMA)
        return weight, back

    def _blend(self, fresh: np.ndarray, previous: np.ndarray, weight: np.ndarray, back: np.ndarray) -> np.ndarray:
        """`fresh` with `previous` warped onto it, mixed in by `weight` (both scaled up to the frame's size)."""
        height, width = fresh.shape[:2]
        scratch = self._scratch
        carried = warp(previous, resize_flow(back, width, height, scratch), scratch)
        levels = cv2.resize(_to_levels(weight), (width, height), dst=scratch("weight1", (height, width)),
                            interpolation=cv2.INTER_LINEAR)
        weight3 = cv2.cvtColor(levels, cv2.COLOR_GRAY2RGB, dst=scratch("weight", fresh.shape))
        self.blended += 1
        return restore_detail(mix(fresh, carried, weight3, scratch), fresh, scratch=scratch)


def _to_levels(values: np.ndarray, top: float = 1.0) -> np.ndarray:
    """`values` in [0, top] (float) as uint8 levels 0..255."""
    return cv2.convertScaleAbs(values, alpha=255.0 / top)  # non-negative in: the absolute value changes nothing


def _scaled(image: np.ndarray, levels: np.ndarray, top: float = 1.0, out: np.ndarray | None = None) -> np.ndarray:
    """`image` times `levels` / 255 * `top` (uint8 in and out, rounded and saturated)."""
    return cv2.multiply(image, levels, dst=out, scale=top / 255.0)


def mix(fresh: np.ndarray, carried: np.ndarray, weight: np.ndarray, scratch: Scratch | None = None) -> np.ndarray:
    """(1 - w) fresh + w carried, per pixel and channel, all uint8 (`weight`: w as levels 0..255).

    OpenCV's saturating uint8 arithmetic is several times faster than a
    float blend (cv2.blendLinear: 2.5 ms at 640x480, this: 0.7 ms).
    """
    scratch = scratch or Scratch()
    kept = _scaled(fresh, cv2.bitwise_not(weight, dst=scratch("inverse", weight.shape)), out=scratch("kept", fresh.shape))
    brought = _scaled(carried, weight, out=scratch("brought", fresh.shape))
    return cv2.add(kept, brought, dst=scratch("mixed", fresh.shape))


def _halve(image: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    return cv2.resize(image, (max(1, image.shape[1] // 2), max(1, image.shape[0] // 2)), dst=out,
                      interpolation=cv2.INTER_AREA)


def _averaged_down(image: np.ndarray, scale: int, scratch: Scratch, name: str) -> np.ndarray:
    """`image` averaged over `scale` x `scale` pixels (a power of two), halving into `scratch` arrays named `name`."""
    for level in range(max(0, scale.bit_length() - 1)):
        size = (max(1, image.shape[0] // 2), max(1, image.shape[1] // 2), *image.shape[2:])
        image = _halve(image, scratch(f"{name}/{level}", size, image.dtype))
    return image


def _detail(image: np.ndarray, scale: int, scratch: Scratch, name: str) -> tuple[np.ndarray, np.ndarray]:
    """`image`'s low-pass copy (1/`scale` size, scaled back up) and its detail's amplitude at 1/`scale` size.

    The amplitude is the mean absolute difference between the picture and its
    low-pass copy, averaged over `scale` x `scale` pixels and the channels:
    uint8 work at full size (an absolute difference, a few halvings), where a
    mean square would need a float copy of the frame.
    """
    height, width = image.shape[:2]
    low = _averaged_down(image, scale, scratch, name)
    low = cv2.resize(low, (width, height), dst=scratch(f"{name}/low", image.shape), interpolation=cv2.INTER_LINEAR)
    detail = cv2.absdiff(image, low, dst=scratch(f"{name}/detail", image.shape))
    amplitude = _averaged_down(detail, scale, scratch, f"{name}/detail")
    return low, cv2.transform(amplitude.astype(np.float32), np.full((1, 3), 1 / 3, np.float32))


def restore_detail(blended: np.ndarray, fresh: np.ndarray, scale: int = DETAIL_SCALE,
                   gain: float = DETAIL_GAIN, scratch: Scratch | None = None) -> np.ndarray:
    """`blended` (uint8 RGB) with its local contrast raised back to that of `fresh`, never lowered.

    Detail is the picture less a 1/`scale` low-pass copy (`scale` a power of
    two). Where the blend's detail is weaker than the fresh frame's, it is
    amplified by the ratio of their amplitudes (at most `gain`). Where nothing
    was blended the two agree and the picture is unchanged. The full-size work
    is saturating uint8 arithmetic: the detail's positive and negative parts
    are scaled apart, so no float copy of the frame is made. Returns a new array.
    """
    scratch = scratch or Scratch()
    height, width = fresh.shape[:2]
    low, amplitude = _detail(blended, scale, scratch, "blended")
    _, fresh_amplitude = _detail(fresh, scale, scratch, "fresh")
    boost = np.clip((fresh_amplitude + DETAIL_FLOOR) / (amplitude + DETAIL_FLOOR), 1.0, gain) - 1.0
    levels = cv2.resize(_to_levels(boost, gain - 1.0), (width, height), dst=scratch("boost1", (height, width)),
                        interpolation=cv2.INTER_LINEAR)
    boost3 = cv2.cvtColor(levels, cv2.COLOR_GRAY2RGB, dst=scratch("boost", fresh.shape))
    part = scratch("part", fresh.shape)
    raised = cv2.add(blended, _scaled(cv2.subtract(blended, low, dst=part), boost3, gain - 1.0, part),
                     dst=scratch("raised", fresh.shape))
    lowered = _scaled(cv2.subtract(low, blended, dst=part), boost3, gain - 1.0, part)
    return cv2.subtract(raised, lowered)


def _reset_reason(history: _History | None, stylized: np.ndarray, look: object, fading: bool) -> str | None:
    """Why the previous output must not be blended into this frame (None: it may be)."""
    if fading:
        return "fade"
    if history is None:
        return "start"  # the first frame, or the first after a reset
    if history.look is not look:
        return "look"
    if history.output.shape != stylized.shape:
        return "size"
    return None
