"""Automatic regions: they follow a picture's colour blocks, partition it, and need no model."""
from __future__ import annotations

import numpy as np
import pytest

from stylize.errors import OptionError
from stylize.offline.regions import auto_regions


def _three_blocks() -> np.ndarray:
    """Sky, grass and a red barn, with a little noise so no colour is exactly flat."""
    rgb = np.zeros((60, 90, 3), np.uint8)
    rgb[:30] = (90, 150, 230)
    rgb[30:] = (60, 160, 50)
    rgb[35:55, 50:80] = (200, 30, 30)
    noise = np.random.default_rng(0).integers(-8, 9, rgb.shape)
    return np.clip(rgb.astype(int) + noise, 0, 255).astype(np.uint8)


def _blocks() -> list[np.ndarray]:
    sky, grass, barn = (np.zeros((60, 90), bool) for _ in range(3))
    sky[:30] = True
    barn[35:55, 50:80] = True
    grass[30:] = True
    grass &= ~barn
    return [sky, grass, barn]  # largest first, like the masks


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return (a & b).sum() / (a | b).sum()


@pytest.mark.parametrize("method", ["kmeans", "slic"])
def test_regions_follow_the_colour_blocks_and_partition_the_picture(method):
    if method == "slic":
        pytest.importorskip("skimage")
    masks = auto_regions(_three_blocks(), 3, method=method)
    assert len(masks) == 3
    assert all(m.dtype == np.float32 and m.shape == (60, 90) for m in masks)
    assert np.array_equal(np.sum(masks, axis=0), np.ones((60, 90)))
    for mask, block in zip(masks, _blocks()):
        assert _iou(mask > 0.5, block) > 0.9


def test_auto_picks_a_method_that_is_installed():
    masks = auto_regions(_three_blocks(), 2)
    assert len(masks) == 2
    assert np.array_equal(np.sum(masks, axis=0), np.ones((60, 90)))


def test_a_picture_smaller_than_the_count_gives_fewer_regions():
    masks = auto_regions(np.full((1, 2, 3), 128, np.uint8), 4, method="kmeans")
    assert len(masks) == 2 and np.array_equal(np.sum(masks, axis=0), np.ones((1, 2)))


@pytest.mark.parametrize("count, method", [(0, "kmeans"), (17, "kmeans"), (2.5, "kmeans"), (True, "kmeans"),
                                           (3, "watershed")])
def test_bad_arguments_are_option_errors(count, method):
    with pytest.raises(OptionError):
        auto_regions(_three_blocks(), count, method=method)
