"""The one conversion between RGB frames and net inputs, for torch and for numpy (ONNX Runtime).

A frame is HxWx3 uint8 RGB; a net input or output is 1x3xHxW float32 in [0,1].
Both variants scale by the same float32 1/255 on the way in and round half to
even on the way out (torch.round, OpenCV's saturate_cast), so the same values
give the same pixels on either side, and a frame survives the round trip
unchanged.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

_SCALE = 1 / 255  # a multiply, not a division: the same float32 result in torch and numpy, and faster


def frame_to_tensor(frame: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """HxWx3 uint8 RGB → 1x3xHxW float32 in [0,1] on `device`."""
    return torch.from_numpy(np.ascontiguousarray(frame)).to(device).permute(2, 0, 1)[None].float().mul_(_SCALE)


def tensor_to_frame(x: torch.Tensor) -> np.ndarray:
    """1x3xHxW float in [0,1] → HxWx3 uint8 RGB: clamped, scaled by 255, rounded half to even."""
    return x[0].clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def frame_to_array(frame: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB → 1x3xHxW float32 in [0,1], equal to frame_to_tensor(frame).numpy()."""
    return np.ascontiguousarray(frame.transpose(2, 0, 1)[None], dtype=np.float32) * np.float32(_SCALE)


def array_to_frame(x: np.ndarray, in_range: bool = False) -> np.ndarray:
    """1x3xHxW float32 → HxWx3 uint8 RGB, the same pixels as tensor_to_frame.

    `in_range=True` promises no value below 0 (graphs that clamp their output,
    and blends of such outputs): OpenCV's convertScaleAbs then converts in one
    pass, about 0.1 ms at 640x480. Its absolute value would turn a negative
    value into a bright one, so otherwise addWeighted's saturating cast (about
    twice the time) clamps both ends.
    """
    if in_range:
        planes = [cv2.convertScaleAbs(plane, alpha=255) for plane in x[0]]
    else:
        planes = [cv2.addWeighted(plane, 255.0, plane, 0.0, 0.0, dtype=cv2.CV_8U) for plane in x[0]]
    return cv2.merge(planes)
