"""Training-free temporal smoothing: the previous output, carried along the optical flow, blended into each frame.

Per-frame stylization flickers: a net paints each frame afresh, so brush
strokes crawl where the picture stands still. `TemporalSmoother` warps its
previous *output* onto the current frame along the flow of the *source*
frames (computed at a reduced resolution, realtime/flow.py) and blends it in
with weight `strength` where that flow is reliable: the forward and backward
flows agree (no occlusion) and the warped source matches the current source.
Everywhere else the fresh frame is kept, so motion is never smeared.

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
from stylize.realtime.flow import FlowEstimator, consistency_mask, resize_flow, warp

DEFAULT_STRENGTH = 0.6  # tuned by `stylize bench flicker --smoothing` (README "Flicker")
MAX_STRENGTH = 0.95  # 1 would keep the first frame forever wherever the flow is reliable
FLOW_SIDE = 240  # long side of the pictures the flow is computed at: cheap, and fine enough to carry strokes
FLOW_PRESET = "medium"  # against "fast": half the warping error left, for ~2 ms more a frame (README "Flicker")
PHOTOMETRIC_LEVELS = 20.0  # a warped source pixel further than this (of 255, gray) from the current one is unreliable
CUT_RELIABLE = 0.3  # less than this share of reliable pixels: a scene cut
FEATHER_SIGMA = 1.0  # blur of the weight map (flow pixels): no hard seams where reliability ends


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

    def __init__(self, strength: float = DEFAULT_STRENGTH, flow_side: int = FLOW_SIDE, preset: str = FLOW_PRESET):
        self.strength = check_strength(strength)
        self.estimator = FlowEstimator(flow_side, preset)
        self.resets: Counter[str] = Counter()  # frames shown fresh, by reason: "start", "look", "fade", "cut", "size"
        self.blended = 0  # frames that had the previous output blended in
        self.reliable_share = 0.0  # of the last blended frame's pixels
        self._history: _History | None = None

    def summary(self) -> dict:
        """Strength, frames blended and frames shown fresh by reason (for --stats)."""
        return {"strength": self.strength, "blended_frames": self.blended, "fresh_frames": dict(self.resets)}

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
        forward = self.estimator.between(previous, current, width, height)
        reliable = consistency_mask(back, forward)
        photometric = np.abs(warp(previous, back).astype(np.float32) - current.astype(np.float32))
        reliable &= photometric <= PHOTOMETRIC_LEVELS
        share = float(reliable.mean())
        if share < CUT_RELIABLE:
            return None, back
        self.reliable_share = share
        weight = cv2.GaussianBlur(reliable.astype(np.float32) * self.strength, (0, 0), FEATHER_SIGMA)
        return weight, back

    def _blend(self, fresh: np.ndarray, previous: np.ndarray, weight: np.ndarray, back: np.ndarray) -> np.ndarray:
        """`fresh` with `previous` warped onto it, mixed in by `weight` (both scaled up to the frame's size)."""
        height, width = fresh.shape[:2]
        carried = warp(previous, resize_flow(back, width, height))
        weight = cv2.resize(weight, (width, height), interpolation=cv2.INTER_LINEAR)
        self.blended += 1
        return cv2.blendLinear(fresh, carried, 1.0 - weight, weight)


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
