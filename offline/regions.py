"""Automatic picture regions, for giving each part of a picture its own style without any model download.

Both methods group pixels by colour (CIE Lab, so that distances follow what the
eye sees) and by position (so that a region is a connected-looking area rather
than every pixel of one colour), into `count` regions:
  - "slic": SLIC superpixels (scikit-image), grouped by k-means on each
    superpixel's mean colour and centre; the regions follow edges closely;
  - "kmeans": OpenCV k-means on every pixel's colour and position at a reduced
    size, then a median filter against specks;
  - "auto": "slic" when scikit-image is installed, else "kmeans".
The masks are HxW float32 in {0, 1}, largest region first, and partition the picture.
"""
from __future__ import annotations

import cv2
import numpy as np

from stylize.errors import OptionError
from stylize.jobs import as_rgb

METHODS = ("auto", "slic", "kmeans")
MAX_REGIONS = 16
WORK_SIDE = 256  # the long side regions are found at: enough for masks that are blurred by the styling anyway
POSITION_WEIGHT = 0.25  # how far position counts against colour (both about 0..100); more splits a sky in two
SUPERPIXELS_PER_REGION = 12


def auto_regions(rgb: np.ndarray, count: int, method: str = "auto") -> list[np.ndarray]:
    """Split the picture into `count` regions, or fewer where a tiny picture has fewer distinct pixels or the
    median filter removes a region of specks."""
    image = as_rgb(rgb)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_REGIONS:
        raise OptionError(f"the number of regions must be a whole number from 1 to {MAX_REGIONS}, got {count!r}")
    if method not in METHODS:
        raise OptionError(f"region method must be one of {', '.join(METHODS)}, got {method!r}")
    if method == "auto":
        method = "slic" if _has_skimage() else "kmeans"
    small = _shrink(image)
    labels = _slic_labels(small, count) if method == "slic" else _kmeans_labels(small, count)
    labels = cv2.resize(labels.astype(np.uint8), image.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    masks = [(labels == k).astype(np.float32) for k in np.unique(labels)]
    return sorted(masks, key=lambda m: -m.sum())


def _has_skimage() -> bool:
    try:
        import skimage.segmentation  # noqa: F401
    except ImportError:
        return False
    return True


def _shrink(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    scale = min(1.0, WORK_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA) if scale < 1 else image


def _features(lab: np.ndarray, ys: np.ndarray, xs: np.ndarray, side: int) -> np.ndarray:
    """Rows of (L, a, b, y, x): Lab from OpenCV's float conversion (L 0..100), positions scaled to 0..100."""
    position = np.stack([ys, xs], axis=-1).astype(np.float32) * (100.0 / side) * POSITION_WEIGHT
    return np.concatenate([lab.reshape(-1, 3), position.reshape(-1, 2)], axis=1).astype(np.float32)


def _cluster(features: np.ndarray, count: int) -> np.ndarray:
    """k-means labels for the rows of `features`, the same on every run (OpenCV's RNG is seeded)."""
    count = min(count, len(np.unique(features, axis=0)))
    if count <= 1:
        return np.zeros(len(features), np.int32)
    cv2.setRNGSeed(0)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 0.1)
    _, labels, _ = cv2.kmeans(features, count, None, criteria, 3, cv2.KMEANS_PP_CENTERS)
    return labels.ravel()


def _lab(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _kmeans_labels(image: np.ndarray, count: int) -> np.ndarray:
    height, width = image.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width]
    labels = _cluster(_features(_lab(image), ys, xs, max(height, width)), count).reshape(height, width)
    return cv2.medianBlur(labels.astype(np.uint8), 5) if min(height, width) >= 5 else labels


def _slic_labels(image: np.ndarray, count: int) -> np.ndarray:
    try:
        from skimage.segmentation import slic
    except ImportError:
        raise OptionError("region method 'slic' needs scikit-image: pip install scikit-image "
                          "(or use method 'kmeans')") from None
    height, width = image.shape[:2]
    superpixels = slic(image, n_segments=count * SUPERPIXELS_PER_REGION, compactness=10, start_label=0)
    ids, superpixels = np.unique(superpixels, return_inverse=True)
    superpixels = superpixels.reshape(height, width)
    flat, lab = superpixels.ravel(), _lab(image).reshape(-1, 3)
    sizes = np.bincount(flat, minlength=len(ids))[:, None]
    ys, xs = np.mgrid[0:height, 0:width]
    means = [np.bincount(flat, weights=channel, minlength=len(ids)) for channel in (*lab.T, ys.ravel(), xs.ravel())]
    means = np.stack(means, axis=1) / sizes
    features = _features(means[:, :3], means[:, 3], means[:, 4], max(height, width))
    return _cluster(features, count)[superpixels]
