"""Dense optical flow (OpenCV DIS), backward warping and the forward-backward consistency check.

Conventions, shared by every function here:
  - a flow is an HxWx2 float32 array of (dx, dy) in pixels of its own size;
  - `estimator(a, b)` is the flow *from a to b*: the pixel at x in `a` is
    seen at x + flow(x) in `b`;
  - `warp(b, flow)` pulls `b` back onto `a`'s grid (backward warping), so
    `warp(b, estimator(a, b))` looks like `a` wherever nothing was occluded;
  - `consistency_mask(forward, backward)` is True where the flow a→b and the
    flow b→a agree (the pixel is visible in both frames and the flow is
    trustworthy), False at occlusions, flow errors and where x + flow(x)
    leaves the picture.

To carry frame t-1 onto frame t (temporal losses, flicker metrics,
smoothing): `back = estimator(frame_t, frame_t_minus_1)`, then
`warp(stylized_t_minus_1, back)`, valid where
`consistency_mask(back, estimator(frame_t_minus_1, frame_t))`.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

PRESETS = {"ultrafast": cv2.DISOpticalFlow_PRESET_ULTRAFAST, "fast": cv2.DISOpticalFlow_PRESET_FAST,
           "medium": cv2.DISOpticalFlow_PRESET_MEDIUM}
# Forward-backward tolerance (Sundaram et al. 2010, as in Ruder et al. 2016): the round trip may miss by
# CONSISTENCY_RELATIVE of the squared motion plus CONSISTENCY_PIXELS² (in pixels of the flow's own size).
CONSISTENCY_RELATIVE = 0.01
CONSISTENCY_PIXELS = 0.5


def to_gray(image: np.ndarray) -> np.ndarray:
    """HxW uint8 gray from HxWx3 RGB uint8 (a gray HxW uint8 image is returned as it is)."""
    if image.ndim == 2:
        return image
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


class Scratch:
    """Named arrays reused from call to call, each remade only when its shape or dtype changes.

    A fresh 640x480 array costs its page faults every time it is allocated
    (about 0.2 ms each, more than the arithmetic done on it), so per-frame
    work writes into these. One Scratch belongs to one thread.
    """

    def __init__(self):
        self._arrays: dict[str, np.ndarray] = {}

    def __call__(self, name: str, shape: tuple[int, ...], dtype=np.uint8) -> np.ndarray:
        array = self._arrays.get(name)
        if array is None or array.shape != tuple(shape) or array.dtype != dtype:
            array = self._arrays[name] = np.empty(shape, dtype)
        return array


def resize_flow(flow: np.ndarray, width: int, height: int, scratch: Scratch | None = None) -> np.ndarray:
    """`flow` resampled to width x height, its vectors scaled to the new pixel size (into `scratch` if given)."""
    h, w = flow.shape[:2]
    if (w, h) == (width, height):
        return flow
    scaled = flow * np.array([width / w, height / h], np.float32)  # at the small size: a quarter of the work
    out = None if scratch is None else scratch("flow", (height, width, 2), np.float32)
    return cv2.resize(scaled, (width, height), dst=out, interpolation=cv2.INTER_LINEAR)


class FlowEstimator:
    """DIS optical flow computed at a reduced resolution and returned at the size asked for.

    `max_side`: the long side (pixels) the frames are shrunk to before the
    flow is computed (None: full size); a quarter-size flow costs about a
    sixteenth and is smooth enough to warp stylized frames. `preset`:
    "ultrafast", "fast" or "medium" (OpenCV's DIS presets). One estimator
    holds one OpenCV DIS object: give each thread its own.
    """

    def __init__(self, max_side: int | None = 320, preset: str = "fast"):
        if preset not in PRESETS:
            raise ValueError(f"unknown DIS preset {preset!r}; choose from {', '.join(PRESETS)}")
        if max_side is not None and max_side < 16:
            raise ValueError(f"max_side must be at least 16 pixels, got {max_side}")
        self.max_side = max_side
        self.preset = preset
        self._dis = cv2.DISOpticalFlow_create(PRESETS[preset])

    def working_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) the flow is computed at for frames of width x height."""
        if self.max_side is None or max(width, height) <= self.max_side:
            return width, height
        scale = self.max_side / max(width, height)
        return max(8, round(width * scale)), max(8, round(height * scale))

    def shrink(self, image: np.ndarray) -> np.ndarray:
        """The gray picture the flow is computed on: `image` (RGB or gray uint8) at the working size."""
        gray = to_gray(image)
        size = self.working_size(gray.shape[1], gray.shape[0])
        if size == (gray.shape[1], gray.shape[0]):
            return np.ascontiguousarray(gray)
        return shrink_to(gray, size)

    def __call__(self, a: np.ndarray, b: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        """The flow from `a` to `b` (same-size RGB or gray uint8) at `size` = (width, height), default a's size."""
        if a.shape[:2] != b.shape[:2]:
            raise ValueError(f"frames differ in size: {a.shape[:2]} and {b.shape[:2]}")
        width, height = size or (a.shape[1], a.shape[0])
        return self.between(self.shrink(a), self.shrink(b), width, height)

    def between(self, small_a: np.ndarray, small_b: np.ndarray, width: int, height: int) -> np.ndarray:
        """The flow between two pictures already `shrink`-ed, at width x height (reuse a shrunk frame twice)."""
        flow = self._dis.calc(small_a, small_b, None)
        return resize_flow(flow, width, height)


def shrink_to(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`image` (uint8) shrunk to `size` = (width, height): halved by pixel averaging while that stays above
    `size`, then resampled bilinearly the rest of the way.

    OpenCV's area resampling is fast for whole factors and slow for others
    (640x480 to 240x180 gray: 1.7 ms against 0.2 ms this way).
    """
    width, height = size
    while image.shape[1] >= 2 * width and image.shape[0] >= 2 * height:
        image = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)
    if image.shape[1::-1] == (width, height):
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


@lru_cache(maxsize=8)
def _grid(width: int, height: int) -> np.ndarray:
    """HxWx2 float32 (x, y) of every pixel, made once per size (read-only)."""
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    grid = np.dstack([xs, ys])
    grid.flags.writeable = False
    return grid


def sample_points(flow: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The HxWx2 float32 map (x + dx, y + dy) that cv2.remap reads from (written into `out` if given)."""
    height, width = flow.shape[:2]
    return cv2.add(flow, _grid(width, height), dst=out)


def warp(image: np.ndarray, flow: np.ndarray, scratch: Scratch | None = None) -> np.ndarray:
    """`image` sampled at x + flow(x) (bilinear, edges replicated): pulled back onto the flow's grid.

    `image` may be uint8 or float, HxW or HxWxC, at the flow's size; the result has its dtype.
    With `scratch` the result and the maps are its arrays, overwritten by the next call.
    """
    if image.shape[:2] != flow.shape[:2]:
        raise ValueError(f"image {image.shape[:2]} and flow {flow.shape[:2]} differ in size")
    scratch = scratch or Scratch()
    points = sample_points(flow, scratch("points", flow.shape, np.float32))
    if image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8:
        # OpenCV's remap has a vectorised path for 4 channels: RGBA there and back is twice as fast as RGB.
        height, width = image.shape[:2]
        rgba = cv2.cvtColor(image, cv2.COLOR_RGB2RGBA, dst=scratch("rgba", (height, width, 4)))
        warped = cv2.remap(rgba, points, None, cv2.INTER_LINEAR, dst=scratch("warped", (height, width, 4)),
                           borderMode=cv2.BORDER_REPLICATE)
        return cv2.cvtColor(warped, cv2.COLOR_RGBA2RGB, dst=scratch("carried", image.shape))
    return cv2.remap(image, points, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def consistency_mask(forward: np.ndarray, backward: np.ndarray, relative: float = CONSISTENCY_RELATIVE,
                     pixels: float = CONSISTENCY_PIXELS) -> np.ndarray:
    """HxW bool: True where `forward` (a→b) and `backward` (b→a) agree, on a's grid.

    A pixel x passes when |f(x) + b(x + f(x))|² <= relative·(|f(x)|² + |b(x + f(x))|²) + pixels²
    and x + f(x) lies inside the picture. Occluded pixels (visible in a, hidden
    in b) fail: the backward flow there belongs to the occluder.
    """
    if forward.shape != backward.shape:
        raise ValueError(f"flows differ in shape: {forward.shape} and {backward.shape}")
    height, width = forward.shape[:2]
    points = sample_points(forward)
    map_x, map_y = points[..., 0], points[..., 1]
    back = cv2.remap(backward, points, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    miss = np.sum((forward + back) ** 2, axis=2)
    scale = np.sum(forward ** 2, axis=2) + np.sum(back ** 2, axis=2)
    inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
    return inside & (miss <= relative * scale + pixels ** 2)
