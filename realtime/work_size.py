"""The net's working size: paint a large frame small, then give it back its own detail.

A net's cost grows with the pixels it paints: on two CPU cores the student
paints a 1280x720 frame in about three times a 640x480 frame's time. With a
working size, a frame with more pixels is shrunk to that many, aspect kept,
stylized there, and brought back to the frame's size as

    frame + upsampled(stylized_small - frame_small)

so the frame's own edges and fine detail stay sharp, and whatever the net
left unchanged (alpha 0, outside a mask) is the frame exactly. The price is
a weaker look: the marks are painted larger and the photo's finest texture
shows through (the student's style loss at 720p rises, README "Working size").
"""
from __future__ import annotations

import math

import cv2
import numpy as np

# Frames up to 640x480 are painted whole: shrinking a 480-px picture to 512x384 already raised the
# student's style loss above the peer's. Larger ones then run at 640x480's speed: 1280x720 at 41 fps on
# two CPU cores (bench/results/speed_student_onnxruntime_1280x720_t2_at739x416.json, README "Working size").
DEFAULT_SIZE = (640, 480)
DEFAULT_PIXELS = DEFAULT_SIZE[0] * DEFAULT_SIZE[1]
MIN_SIDE = 32  # no net makes sense below this
MAX_PIXELS = 64_000_000
FULL = "full"  # every pixel painted at the frame's size
AUTO = "auto"  # DEFAULT_PIXELS on the CPU, FULL on a GPU


def working_shape(height: int, width: int, pixels: int | None) -> tuple[int, int]:
    """The (height, width) a frame is painted at: the frame's own when it has at most `pixels` (None: any)."""
    if pixels is None or height * width <= pixels:
        return height, width
    scale = math.sqrt(pixels / (height * width))
    return max(MIN_SIDE, round(height * scale)), max(MIN_SIDE, round(width * scale))


def shrink(picture: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """`picture` (a frame or a mask) brought down to `shape`; itself when it has that shape already.

    Exact halvings average 2x2 blocks; the last step, by less than half, is bilinear: an area average
    by an uneven ratio costs a tenth of the net's time here (2.7 ms against 0.3 for 1280x720 to 739x416)."""
    height, width = shape
    while picture.shape[0] >= 2 * height and picture.shape[1] >= 2 * width:
        half = (picture.shape[1] // 2, picture.shape[0] // 2)
        picture = cv2.resize(picture, half, interpolation=cv2.INTER_AREA)
    if picture.shape[:2] == (height, width):
        return picture
    return cv2.resize(picture, (width, height), interpolation=cv2.INTER_LINEAR)


def restore(stylized_small: np.ndarray, frame_small: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """The frame with what stylizing changed at the small size, upsampled (uint8 RGB, the frame's size)."""
    if stylized_small.shape == frame.shape:
        return stylized_small
    height, width = frame.shape[:2]
    change = cv2.subtract(stylized_small, frame_small, dtype=cv2.CV_16S)
    change = cv2.resize(change, (width, height), interpolation=cv2.INTER_CUBIC)  # sharper marks than bilinear
    # max(., 0) then the saturating conversion clips to [0, 255]
    return cv2.convertScaleAbs(cv2.max(cv2.add(frame, change, dtype=cv2.CV_16S), 0))


def describe(pixels: int | None) -> str:
    """The working size in a few words, for the HUD: "" when every pixel is painted."""
    return "" if pixels is None else f"paints <={pixels / 1e6:.2f} MP"


def parse(value: str | int | None) -> int | str | None:
    """A working size as given: "auto", "full" or None (every pixel), "WxH" (its area) or a pixel count.
    Returns AUTO, None or the pixel budget; anything else raises ValueError in one line."""
    if value is None or isinstance(value, int):
        return _checked(value, value)
    text = value.strip().lower()
    if text in (AUTO, FULL):
        return None if text == FULL else AUTO
    width, sep, height = text.partition("x")
    if not (sep and width.isdigit() and height.isdigit()) or min(int(width), int(height)) < MIN_SIDE:
        raise ValueError(f"work size: auto, full or WxH with sides of at least {MIN_SIDE} such as 960x540, "
                         f"not {value!r}")
    return _checked(int(width) * int(height), value)


def _checked(pixels: int | None, given) -> int | None:
    if pixels is not None and not MIN_SIDE * MIN_SIDE <= pixels <= MAX_PIXELS:
        raise ValueError(f"work size {given!r}: from {MIN_SIDE}x{MIN_SIDE} to {MAX_PIXELS // 1_000_000} MP")
    return pixels


def resolve(value: int | str | None, on_gpu: bool) -> int | None:
    """The pixel budget a parsed `value` means for an engine (None: the frame's own size)."""
    if value == AUTO:
        return None if on_gpu else DEFAULT_PIXELS
    return value
