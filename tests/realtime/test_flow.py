"""Flow, warping and the consistency check on synthetic pictures whose true motion is known."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from stylize.realtime.flow import FlowEstimator, consistency_mask, resize_flow, warp


def texture(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth random RGB texture DIS can track."""
    noise = np.random.default_rng(seed).integers(0, 256, (height, width, 3)).astype(np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 2.0)


def shifted(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """`image` moved by (dx, dy): the pixel at x in `image` is at x + (dx, dy) in the result."""
    return np.roll(image, (dy, dx), axis=(0, 1))


def test_flow_recovers_a_shift_at_full_and_reduced_resolution():
    a = texture(200, 160)
    b = shifted(a, 4, -3)
    for estimator in (FlowEstimator(max_side=None), FlowEstimator(max_side=100)):
        flow = estimator(a, b)
        assert flow.shape == (160, 200, 2) and flow.dtype == np.float32
        interior = flow[30:-30, 30:-30].reshape(-1, 2)
        assert np.allclose(np.median(interior, axis=0), (4, -3), atol=0.5)
    assert FlowEstimator(max_side=100).working_size(200, 160) == (100, 80)


def test_flow_at_a_requested_size_is_scaled():
    a = texture(200, 160)
    flow = FlowEstimator(max_side=None)(a, shifted(a, 6, 0), size=(100, 80))
    assert flow.shape == (80, 100, 2)
    assert np.median(flow[15:-15, 15:-15, 0]) == pytest.approx(3, abs=0.4)
    assert np.allclose(resize_flow(np.ones((10, 20, 2), np.float32), 40, 5)[..., 0], 2)


def test_warp_pulls_the_second_picture_back_onto_the_first():
    a = texture(160, 120)
    b = shifted(a, 5, 2)
    flow = np.zeros((120, 160, 2), np.float32)
    flow[..., 0], flow[..., 1] = 5, 2  # the true flow a -> b
    assert np.array_equal(warp(b, flow)[10:-10, 10:-10], a[10:-10, 10:-10])
    estimated = warp(b, FlowEstimator(max_side=None)(a, b)).astype(np.float32)
    assert np.abs(estimated - a)[20:-20, 20:-20].mean() < 3  # of 255
    assert warp(b.astype(np.float32) / 255, flow).dtype == np.float32


def test_consistency_flags_pixels_that_leave_the_picture():
    height, width = 60, 80
    forward = np.zeros((height, width, 2), np.float32)
    forward[..., 0] = 10  # everything moves 10 px right: the last 10 columns leave the picture
    backward = -forward
    valid = consistency_mask(forward, backward)
    assert valid[:, :width - 10].all() and not valid[:, width - 9:].any()
    assert not consistency_mask(forward, forward)[:, :width - 10].any()  # a flow that disagrees with itself


def test_consistency_excludes_the_background_a_moving_square_covers():
    background = texture(160, 120, seed=1)
    square = texture(40, 40, seed=2)
    a, b = background.copy(), background.copy()
    a[40:80, 40:80] = square
    b[40:80, 52:92] = square  # the square moves 12 px right and covers a's columns 80..91
    estimator = FlowEstimator(max_side=None, preset="medium")
    valid = consistency_mask(estimator(a, b), estimator(b, a))
    covered = valid[45:75, 82:90]
    far_background = valid[10:30, 10:150]
    assert covered.mean() < 0.3
    assert far_background.mean() > 0.9
