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


def resize_flow(flow: np.ndarray, width: int, height: int) -> np.ndarray:
    """`flow` resampled to width x height, its vectors scaled to the new pixel size."""
    h, w = flow.shape[:2]
    if (w, h) == (width, height):
        return flow
    resized = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
    resized[..., 0] *= width / w
    resized[..., 1] *= height / h
    return resized


class FlowEstimator:
    """DIS optical flow computed at a reduced resolution and returned at the size asked for.

    `max_side`: the long side (pixels) the frames are shrunk to before the
    flow is computed (None: full size); a quarter-size flow costs about a
    sixteenth and is smooth enough to warp stylized frames. `preset`:
    "ultrafast", "fast" or "medium" (OpenCV's DIS presets).
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
        return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)

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


def sample_points(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The float32 maps x + dx and y + dy that cv2.remap reads from."""
    height, width = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return xs + flow[..., 0], ys + flow[..., 1]


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """`image` sampled at x + flow(x) (bilinear, edges replicated): pulled back onto the flow's grid.

    `image` may be uint8 or float, HxW or HxWxC, at the flow's size; the result has its dtype.
    """
    if image.shape[:2] != flow.shape[:2]:
        raise ValueError(f"image {image.shape[:2]} and flow {flow.shape[:2]} differ in size")
    map_x, map_y = sample_points(flow)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


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
    map_x, map_y = sample_points(forward)
    back = cv2.remap(backward, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    miss = np.sum((forward + back) ** 2, axis=2)
    scale = np.sum(forward ** 2, axis=2) + np.sum(back ** 2, axis=2)
    inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
    return inside & (miss <= relative * scale + pixels ** 2)
