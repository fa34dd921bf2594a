"""Every backend present behaves as the Engine interface says, on the shipped student.

The same frames and looks go through each backend: its output must match
torch's within the backend's tolerance, and the shared behaviour (set_style,
crossfades, alpha 0 giving exactly the input, masks, submit/collect order at
depth 1 and 2) must hold on it. Backends that cannot run here (TensorRT
without tensorrt or a GPU) skip with the reason backends.missing gives.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

from stylize.models import zoo
from stylize.realtime import backends
from stylize.realtime.engines import Look, TorchEngine

from helpers import ManualClock, solid_rgb

SHAPE = (37, 52)  # odd on purpose
# backend -> (max abs, mean abs) difference to torch in uint8 levels it must stay within.
TOLERANCE = {"torch": (0, 0), "onnxruntime": (2, 0.05), "onnxruntime-int8": (90, 6.0), "tensorrt": (8, 1.0)}
CONFORMING = ["torch", "onnxruntime", "onnxruntime-int8", "tensorrt"]



@pytest.fixture(scope="module")
def student():
    return zoo.load("student")


@pytest.fixture(scope="module")
def looks():
    return [Look(f"noise{seed}", "student", [solid_rgb(64, 64, seed=seed)]) for seed in (1, 2)]


@pytest.fixture(scope="module")
def calibration(shared):
    from stylize.export.quantize import calibration_images

    return calibration_images(shared / "data" / "train" / "content", limit=3)


def build(name: str, student, calibration):
    if name == "onnxruntime-int8":
        from stylize.realtime.onnx_engine import OnnxEngine

        return OnnxEngine(threads=1, nets={"student": student}, precision="int8", calibration=calibration)
    reason = backends.missing(name)
    if reason is not None:
        pytest.skip(reason)
    return backends.create(name, threads=1, nets={"student": student})


@pytest.fixture(scope="module", params=CONFORMING)
def engine(request, student, calibration, looks):
    made = build(request.param, student, calibration)
    made.name = request.param
    made.set_style(looks[0])
    yield made
    made.close()


@pytest.fixture(scope="module")
def reference(student, looks):
    torch_engine = TorchEngine(nets={"student": student})
    torch_engine.set_style(looks[0])
    return torch_engine


@pytest.fixture
def fresh(engine, looks):
    """The module's engine, reset to the first look and default controls."""
    engine.crossfade_ms, engine.alpha, engine.preserve_color = 0.0, 1.0, False
    engine.set_style(looks[0])
    yield engine
    engine.close()


def within(engine, got: np.ndarray, expected: np.ndarray) -> None:
    worst, mean = TOLERANCE[engine.name]
    difference = np.abs(got.astype(int) - expected)
    assert got.shape == expected.shape and got.dtype == np.uint8
    assert difference.max() <= worst and difference.mean() <= mean, (difference.max(), difference.mean())


def test_the_picture_matches_torch(fresh, reference):
    frame = solid_rgb(*SHAPE, seed=5)
    within(fresh, fresh(frame), reference(frame))


def test_set_style_changes_the_picture_to_that_look(fresh, reference, looks):
    frame = solid_rgb(*SHAPE, seed=6)
    first = fresh(frame)
    fresh.set_style(looks[1])
    reference.set_style(looks[1])
    try:
        second = fresh(frame)
        within(fresh, second, reference(frame))
        assert np.abs(second.astype(int) - first).mean() > 3  # a different look, not the same picture
    finally:
        reference.set_style(looks[0])


def test_a_crossfade_starts_at_the_old_look_and_ends_at_the_new(fresh, looks):
    frame = solid_rgb(*SHAPE, seed=7)
    clock = fresh.clock = ManualClock()
    try:
        old = fresh(frame)
        fresh.crossfade_ms = 1000
        fresh.set_style(looks[1])
        start, clock.now = fresh(frame), clock.now + 0.5
        middle, clock.now = fresh(frame), clock.now + 0.6
        end = fresh(frame)
        fresh.crossfade_ms = 0
        fresh.set_style(looks[1])
        assert np.abs(start.astype(int) - old).max() <= 1
        np.testing.assert_array_equal(end, fresh(frame))
        assert 0 < np.abs(middle.astype(int) - old).mean() < np.abs(end.astype(int) - old).mean()
    finally:
        fresh.clock = time.monotonic


def test_alpha_zero_is_exactly_the_input_and_half_lies_between(fresh):
    frame = solid_rgb(*SHAPE, seed=8)
    full = fresh(frame)
    fresh.alpha = 0.0
    np.testing.assert_array_equal(fresh(frame), frame)
    fresh.alpha = 0.5
    half = fresh(frame).astype(int)
    expected = (frame.astype(int) + full) / 2
    assert np.abs(half - expected).max() <= 1.5


def test_a_mask_keeps_the_input_where_it_is_zero(fresh):
    frame = solid_rgb(*SHAPE, seed=9)
    full = fresh(frame)
    mask = np.zeros(SHAPE, np.float32)
    mask[:, SHAPE[1] // 2:] = 1.0
    out = fresh(frame, mask)
    np.testing.assert_array_equal(out[:, :SHAPE[1] // 2], frame[:, :SHAPE[1] // 2])
    np.testing.assert_array_equal(out[:, SHAPE[1] // 2:], full[:, SHAPE[1] // 2:])


@pytest.mark.parametrize("depth", [1, 2])
def test_submit_and_collect_return_frames_in_order_at_each_depth(fresh, depth):
    frames = [solid_rgb(*SHAPE, seed=20 + i) for i in range(5)]
    expected = [fresh(frame) for frame in frames]
    fresh.depth, original = depth, fresh.depth
    try:
        got = []
        for frame in frames:
            if fresh.in_flight == depth:
                got.append(fresh.collect())
            fresh.submit(frame)
        while fresh.in_flight:
            got.append(fresh.collect())
        with pytest.raises(RuntimeError):
            fresh.collect()  # nothing in flight
        for _ in range(depth):
            fresh.submit(frames[0])
        with pytest.raises(RuntimeError, match="in flight"):
            fresh.submit(frames[0])  # one past the depth is a programming error
    finally:
        fresh.close()
        fresh.depth = original
    assert len(got) == len(frames)
    for out, want in zip(got, expected):
        np.testing.assert_array_equal(out, want)
