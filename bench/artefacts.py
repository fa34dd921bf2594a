"""A periodic-artefact measure: how strongly an output repeats with a 2- or 4-pixel period.

A decoder that upsamples with a pixel shuffle or a strided transpose
convolution, or an encoder that downsamples with a plain stride 2, tends to
print a fixed grid on every picture: a screen door at 1x zoom. In the
frequency domain that grid is a sharp peak at the bins of period 2 and 4.

The measure looks where the photo itself is flat (sky, walls, skin), so that
the photo's own detail cannot be mistaken for a grid, and compares the output
with its input on the very same patches:

    peak level   in each patch (grayscale, mean removed, no window: a period
                 of 2 or 4 pixels falls exactly on a bin of a 32-px patch),
                 the largest FFT magnitude at the period-2/4 bins divided by
                 the median magnitude of the patch's whole spectrum;
    ratio        the mean peak level of the output over the flattest quarter
                 of the input's patches, divided by the input's own.

About 1 means no grid beyond what the photo (its JPEG blocks, its sensor)
already had; the live-quality target is <= 3.
"""
from __future__ import annotations

import numpy as np

PATCH = 64  # pixels; a multiple of 4, so periods 2 and 4 land on exact bins
FLAT_SHARE = 0.25  # the flattest quarter of the input's patches is scored
LIMIT = 3.0  # the live-quality issue's bound on the ratio
# 8-bit rounding alone puts white noise of 1/(255*sqrt(12)) into every pixel: its FFT magnitude in a patch is
# the floor of a "flat" spectrum. Without it a synthetic, perfectly flat patch divides by zero.
QUANTISATION_FLOOR = PATCH / (255 * 12 ** 0.5)
NO_PEAK = 1.0  # a bin no stronger than the bins around it

_PERIODIC = [(u, v) for u in (0, PATCH // 4, PATCH // 2, 3 * PATCH // 4)
             for v in (0, PATCH // 4, PATCH // 2, 3 * PATCH // 4) if (u, v) != (0, 0)]
_ROWS, _COLS = (np.array(index) for index in zip(*_PERIODIC))
_OFFSETS = np.array([(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if (dy, dx) != (0, 0)])


def _gray(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32) / 255.0


def _patches(gray: np.ndarray) -> np.ndarray:
    """Non-overlapping PATCH x PATCH tiles, as an (N, PATCH, PATCH) array."""
    rows, cols = gray.shape[0] // PATCH, gray.shape[1] // PATCH
    tiles = gray[:rows * PATCH, :cols * PATCH].reshape(rows, PATCH, cols, PATCH)
    return tiles.transpose(0, 2, 1, 3).reshape(-1, PATCH, PATCH)


def _peak_levels(tiles: np.ndarray) -> np.ndarray:
    """Per tile: the most prominent period-2/4 bin, over the median of the bins around it.

    A grid is a sharp spike; the photo's own structure spreads over many bins,
    so comparing each bin with its 5x5 neighbourhood (itself left out) sees
    the spike and not the photo's edges or gradients.
    """
    centred = tiles - tiles.mean(axis=(1, 2), keepdims=True)
    spectrum = np.abs(np.fft.fft2(centred))
    rows = (_ROWS[:, None] + _OFFSETS[None, :, 0]) % PATCH
    cols = (_COLS[:, None] + _OFFSETS[None, :, 1]) % PATCH
    around = np.median(spectrum[:, rows, cols], axis=2)  # (tiles, bins)
    prominence = spectrum[:, _ROWS, _COLS] / np.maximum(around, QUANTISATION_FLOOR)
    return prominence.max(axis=1)


def flat_tiles(source_rgb: np.ndarray) -> np.ndarray:
    """Indices of the flattest FLAT_SHARE of the source's tiles (at least one)."""
    tiles = _patches(_gray(source_rgb))
    if len(tiles) == 0:
        raise ValueError(f"a picture needs at least {PATCH}x{PATCH} pixels for the artefact measure")
    detail = np.abs(np.diff(tiles, axis=1)).mean(axis=(1, 2)) + np.abs(np.diff(tiles, axis=2)).mean(axis=(1, 2))
    count = max(1, int(len(tiles) * FLAT_SHARE))
    return np.argsort(detail, kind="stable")[:count]


def periodic_ratio(output_rgb: np.ndarray, source_rgb: np.ndarray) -> float:
    """The output's 2/4-px peak level in the source's flat areas, over the source's own there."""
    if output_rgb.shape != source_rgb.shape:
        raise ValueError(f"output {output_rgb.shape} and source {source_rgb.shape} differ in size")
    chosen = flat_tiles(source_rgb)
    output_level = _peak_levels(_patches(_gray(output_rgb))[chosen]).mean()
    source_level = _peak_levels(_patches(_gray(source_rgb))[chosen]).mean()
    return float(output_level / max(source_level, NO_PEAK))
