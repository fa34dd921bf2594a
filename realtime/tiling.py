"""Stylize a big picture in overlapping tiles, so memory stays bounded by the tile size.

Each tile is stylized on its own; where tiles overlap their pictures are
blended with smooth weights that fall from 1 to 0 across the overlap (a
raised cosine) and are normalised so that at every pixel they sum to 1 (a
partition of unity). The blend therefore has no seam and leaves a picture
that every tile agrees on unchanged. The weights are separable: a row weight
times a column weight, each normalised along its own axis.

The tiles agree because they are normalised alike. Every net normalises by
statistics of what it sees (AdaIN's content mean and std, instance norm), so
a tile on its own paints its own palette and strokes (chelsea in 2x3 tiles:
19-25 dB PSNR against the whole picture, doubled strokes in the overlaps).
Here one reference pass over the whole picture, shrunk to at most
`reference_pixels` (the pixel budget: the same memory as a picture that is
not tiled), records every normalisation's statistics (models/normstats.py),
and every full-resolution tile replays them. Tiles also start on a grid of
ALIGN pixels, so their strided convs sample the picture as the whole pass
does.

Statistics of a shrunk picture are not those of the full one: the nets see
finer detail at full size. For nets with at most REMEASURE_LIMIT
normalisations (AdaIN, the student, AesFA) extra passes over the tiles
measure each statistic at full resolution, which makes them the full
picture's. Measured on chelsea (481x320) in 256-pixel tiles sharing 64,
against the whole picture in one pass:

    reference          student  aesfa  adain  candy  scream
    full size           63.8    58.9   62.8   46.6   44.9  dB
    1/4 of the pixels   55.8    52.1   55.6   15.4   22.2  (fast nets: not remeasured)
    70% of the pixels   55.8    52.1   55.6   25.9   31.2
    each tile its own   24.4    24.7   23.0   19.1   22.6

The fast nets chain 15-16 instance norms and would need a remeasuring pass
for each, so they keep the shrunk picture's statistics: the picture then
differs from a whole-picture pass in scale (candy paints larger, warmer
blobs) but its tiles agree with each other (> 40 dB against the whole
picture with the same statistics), with one palette and no doubled stroke.
Chelsea upscaled to 1443x960 in 512-pixel tiles: candy 55.8 dB with
full-size statistics, 27.5 dB with those of a 1-megapixel shrink, the
student 67.5 dB remeasured (each tile on its own: 17.6 and 21.4 dB).
"""
from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from tqdm import tqdm

from stylize.imageio import resize_to
from stylize.models.normstats import SharedStats

TILE = 1024  # tile side in pixels: about 1 megapixel per net pass
OVERLAP = 128  # pixels shared by neighbouring tiles, blended across
# Tiles start on multiples of the nets' total stride (8 for AesFA, 4 for the others), so the strided convs
# and pools of every tile sample the same pixel grid as the whole picture's; off the grid a tile paints
# other strokes (the student: 31 grey levels mean difference for a tile 3 pixels off).
ALIGN = 8
# A remeasuring pass makes exact the statistics whose input depends on no other statistic; n chained
# normalisations need n passes, and in between the estimate gets worse (candy: 15 dB after the shrunk pass,
# 12 after one remeasure, 7 after two). So nets with up to this many normalisations are remeasured, one
# pass per normalisation (AdaIN and the student 1, AesFA 2); the fast nets (15, 16) keep the shrunk pass's.
REMEASURE_LIMIT = 2
PIXEL_BUDGET = 2_200_000  # pictures up to this many pixels (1080p and a bit) go through whole
PROGRESS_DELAY = 3.0  # seconds before a progress bar appears: quick pictures show none



class TilingNote(UserWarning):
    """The tiles of a picture are not stylized the usual way (another backend, or per-tile statistics)."""


Stylizer = Callable[[np.ndarray, "np.ndarray | None"], np.ndarray]


@dataclass(frozen=True)
class Tiles:
    """Where the tiles lie along one axis, and each tile's blend weight along it."""

    starts: list[int]
    size: int
    weights: list[np.ndarray]  # one 1-D float32 weight per tile, `size` long


def needs_tiles(height: int, width: int, budget: int = PIXEL_BUDGET) -> bool:
    return height * width > budget


def tile_count(length: int, tile: int, overlap: int) -> int:
    """How many tiles of at most `tile` pixels, sharing `overlap`, cover `length` pixels."""
    return 1 if length <= tile else -(-(length - overlap) // (tile - overlap))


def axis_tiles(length: int, tile: int, overlap: int, align: int = ALIGN) -> Tiles:
    """Equal tiles along one axis, as small as covers it with `overlap` shared, and weights that sum to 1.

    Each tile is at most `tile` long and starts on a multiple of `align`; the
    first starts at 0, the last ends at `length`.
    """
    if not 0 < overlap < tile:
        raise ValueError(f"overlap must be between 0 and the tile size {tile}, got {overlap}")
    count = tile_count(length, tile, overlap)
    while (placed := _place(length, count, overlap, align))[1] > tile:
        count += 1
    starts, size = placed
    raw = np.zeros((count, length), np.float64)
    for i, start in enumerate(starts):
        raw[i, start:start + size] = _ramp(size, min(overlap, size // 2), first=i == 0, last=i == count - 1)
    total = raw.sum(axis=0)
    weights = [(raw[i, s:s + size] / total[s:s + size]).astype(np.float32) for i, s in enumerate(starts)]
    return Tiles(starts, size, weights)


def _place(length: int, count: int, overlap: int, align: int) -> tuple[list[int], int]:
    """Starts on multiples of `align` and the smallest common size for `count` tiles sharing >= `overlap`."""
    if count == 1:
        return [0], length
    size = -(-(length + (count - 1) * overlap) // count)
    size += (length - size) % align  # the last tile, which ends at `length`, starts on the grid too
    while True:
        step = (length - size) / (count - 1)
        starts = [align * round(i * step / align) for i in range(count)]
        if all(size - (b - a) >= overlap for a, b in zip(starts, starts[1:])):
            return starts, size
        size += align


def _ramp(size: int, band: int, first: bool, last: bool) -> np.ndarray:
    """1 inside, a raised cosine down to nearly 0 over `band` pixels at each edge that meets another tile."""
    weight = np.ones(size, np.float64)
    # Positions 0.5 .. band-0.5 across the edge: never exactly 0, so the normalisation is defined.
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(band) + 0.5) / band)
    if not first:
        weight[:band] = ramp
    if not last:
        weight[size - band:] = ramp[::-1]
    return weight


def shrunk_to_fit(image: np.ndarray, pixels: int) -> np.ndarray:
    """`image` (HxW or HxWxC) scaled down, keeping its shape, to at most `pixels` pixels; unchanged if it fits."""
    height, width = image.shape[:2]
    if height * width <= pixels:
        return image
    scale = math.sqrt(pixels / (height * width))
    size = max(1, math.floor(height * scale)), max(1, math.floor(width * scale))
    if image.ndim == 2:  # a mask: float weights
        return cv2.resize(image, size[::-1], interpolation=cv2.INTER_AREA)
    return resize_to(image, *size)


def reference_stats(stylize: Stylizer, image: np.ndarray, mask: np.ndarray | None = None,
                    pixels: int = PIXEL_BUDGET) -> SharedStats:
    """The normalisation statistics of one pass of `stylize` over `image` shrunk to at most `pixels` pixels."""
    stats = SharedStats()
    with stats.recording():
        stylize(shrunk_to_fit(image, pixels), None if mask is None else shrunk_to_fit(mask, pixels))
    return stats


def stylize_tiled(stylize: Stylizer, image: np.ndarray, mask: np.ndarray | None = None, *, tile: int = TILE,
                  overlap: int = OVERLAP, progress: bool = True, reference_pixels: int | None = PIXEL_BUDGET,
                  remeasure_limit: int = REMEASURE_LIMIT) -> np.ndarray:
    """`stylize(tile RGB, tile mask or None)` over overlapping tiles of `image`, blended seamlessly.

    reference_pixels: every tile replays the normalisation statistics of one
    pass over the picture shrunk to at most this many pixels (the picture
    itself when it fits). `stylize` must then run its torch net in the
    calling thread (a TorchEngine does). None: each tile normalises itself,
    for stylizers that cannot replay (ONNX graphs).
    When the reference pass saw a shrunk picture and made at most
    `remeasure_limit` normalisations, as many passes over the tiles come
    first, each measuring the statistics at full resolution while replaying
    the current ones: the statistics become those of the full picture.

    Memory is one tile's worth of net activations (or the reference pass's)
    plus a float accumulator of the picture. A progress bar goes to stderr
    once the run takes more than PROGRESS_DELAY seconds (and `progress` is on).
    """
    height, width = image.shape[:2]
    stats = None if reference_pixels is None else reference_stats(stylize, image, mask, reference_pixels)
    remeasure = _remeasure_passes(stats, height * width > (reference_pixels or 0), remeasure_limit)
    windows = list(_windows(axis_tiles(height, tile, overlap), axis_tiles(width, tile, overlap)))
    blended = np.zeros((height, width, 3), np.float32)
    with tqdm(total=len(windows) * (1 + remeasure), desc="tiles", unit="tile", file=sys.stderr,
              disable=not progress, delay=PROGRESS_DELAY, dynamic_ncols=True) as bar:
        for _ in range(remeasure):
            for window, weight in windows:
                with stats.measuring(torch.from_numpy(weight[..., 0])):
                    stylize(image[window], None if mask is None else mask[window])
                bar.update()
            stats.remeasure()
        for window, weight in windows:
            with stats.replaying() if stats is not None else nullcontext():
                piece = stylize(image[window], None if mask is None else mask[window])
            blended[window] += weight * piece.astype(np.float32)
            bar.update()
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def _remeasure_passes(stats: SharedStats | None, shrunk: bool, limit: int) -> int:
    if stats is None or not shrunk or stats.remeasurable > limit:
        return 0
    return stats.remeasurable


def _windows(rows: Tiles, cols: Tiles) -> Iterator[tuple[tuple[slice, slice], np.ndarray]]:
    """Each tile's place in the picture and its HxWx1 blend weight."""
    for top, row_weight in zip(rows.starts, rows.weights):
        for left, col_weight in zip(cols.starts, cols.weights):
            window = (slice(top, top + rows.size), slice(left, left + cols.size))
            yield window, row_weight[:, None, None] * col_weight[None, :, None]
