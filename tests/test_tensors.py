"""The one frame<->tensor conversion: torch and numpy agree, halves round to even, frames survive the trip."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from stylize.tensors import array_to_frame, frame_to_array, frame_to_tensor, tensor_to_frame


def planes(values: np.ndarray) -> np.ndarray:
    """1x3x1xN float32: the same values in each channel."""
    return np.tile(values.astype(np.float32)[None, None, None, :], (1, 3, 1, 1))


def test_every_pixel_value_survives_the_round_trip():
    frame = np.tile(np.arange(256, dtype=np.uint8)[None, :, None], (2, 1, 3))
    np.testing.assert_array_equal(tensor_to_frame(frame_to_tensor(frame)), frame)
    np.testing.assert_array_equal(array_to_frame(frame_to_array(frame)), frame)
    np.testing.assert_array_equal(array_to_frame(frame_to_array(frame), in_range=True), frame)


def test_torch_and_numpy_inputs_are_identical():
    frame = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    np.testing.assert_array_equal(frame_to_array(frame), frame_to_tensor(frame).numpy())


def halves() -> np.ndarray:
    k = np.arange(256)
    exact = ((k + 0.5) / 255).astype(np.float32)
    assert np.array_equal(exact * np.float32(255), k + 0.5)  # the products really are k + 0.5
    return np.concatenate([exact, np.nextafter(exact, np.float32(2)), np.nextafter(exact, np.float32(-1))])


@pytest.mark.parametrize("in_range", [False, True])
def test_halves_round_to_even_on_both_sides(in_range):
    values = halves()
    expected = np.rint(np.clip(values, 0, 1) * np.float32(255)).astype(np.uint8)
    assert expected[0] == 0 and expected[1] == 2  # 0.5 -> 0, 1.5 -> 2
    from_torch = tensor_to_frame(torch.from_numpy(planes(values)))
    from_numpy = array_to_frame(planes(values), in_range=in_range)
    np.testing.assert_array_equal(from_torch[0, :, 0], expected)
    np.testing.assert_array_equal(from_numpy, from_torch)


def test_out_of_range_values_clamp_on_both_sides():
    values = np.array([-0.3, -0.001, 1.2, 7.0], np.float32)
    from_torch = tensor_to_frame(torch.from_numpy(planes(values)))
    np.testing.assert_array_equal(from_torch[0, :, 0], [0, 0, 255, 255])
    np.testing.assert_array_equal(array_to_frame(planes(values)), from_torch)
