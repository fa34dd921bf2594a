"""Live masks: stylize only the moving subject (`person`) or only the background.

OpenCV background subtraction (MOG2) learns the static scene and marks what
moves in front of it, so no segmentation model has to be downloaded. The raw
foreground is cleaned with a morphological open/close, smoothed over time
(so the mask does not flicker or vanish the moment someone pauses) and
feathered (so the boundary between painted and unpainted pixels is soft).

The subtractor works on a small copy of the frame: the mask only needs to
be as sharp as the feathering, and this keeps it to a millisecond or two.
A subject that stands perfectly still for longer than `history` frames is
slowly learnt into the background; that is the price of needing no model.
"""
from __future__ import annotations

import cv2
import numpy as np

MODES = ("person", "background")
WORK_WIDTH = 160  # the subtractor's resolution, in pixels across


class MotionMask:
    """Call with an RGB frame; returns HxW float32 in [0,1] where 1 means stylize."""

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
        moving = moving.astype(np.float32)
        if self._state is None or self._state.shape != moving.shape:
            self._state = moving
        else:
            self._state = self.smoothing * self._state + (1 - self.smoothing) * moving
        sigma = max(0.5, self.feather * max(work_w, work_h))
        soft = cv2.GaussianBlur(self._state, (0, 0), sigma)
        mask = cv2.resize(soft, (width, height), interpolation=cv2.INTER_LINEAR)
        np.clip(mask, 0.0, 1.0, out=mask)
        return mask if self.mode == "person" else 1.0 - mask
