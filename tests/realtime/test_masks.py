"""Live masks from background subtraction: the mover is found, edges are soft, the mask is steady."""
from __future__ import annotations

import numpy as np
import pytest

from stylize.realtime.engines import Look, TorchEngine
from stylize.realtime.masks import MotionMask

H, W = 120, 160


@pytest.fixture(scope="module")
def room():
    """A textured static background with a little sensor noise per frame."""
    rng = np.random.default_rng(0)
    background = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)

    def frame(box_x: int | None = None) -> np.ndarray:
        image = np.clip(background.astype(int) + rng.integers(-3, 4, background.shape), 0, 255).astype(np.uint8)
        if box_x is not None:
            image[30:90, box_x:box_x + 40] = (240, 30, 30)  # the "performer"
        return image
    return frame


def learn(mask: MotionMask, room, frames: int = 30) -> None:
    for _ in range(frames):
        mask(room())


def test_person_mode_marks_the_mover_and_not_the_room(room):
    mask = MotionMask("person")
    learn(mask, room)
    for step in range(12):
        weights = mask(room(40 + 3 * step))
    x = 40 + 3 * 11
    assert weights.shape == (H, W) and weights.dtype == np.float32
    assert weights[45:75, x + 10:x + 30].mean() > 0.6  # inside the mover
    assert weights[:15].max() < 0.05 and weights[105:].max() < 0.05  # room above and below


def test_background_mode_is_the_complement(room):
    person, background = MotionMask("person"), MotionMask("background")
    for _ in range(30):
        frame = room()
        person(frame), background(frame)
    for step in range(10):
        frame = room(30 + 4 * step)
        np.testing.assert_allclose(person(frame) + background(frame), 1.0, atol=1e-6)


def test_edges_are_feathered(room):
    mask = MotionMask("person")
    learn(mask, room)
    for step in range(12):
        weights = mask(room(40 + 3 * step))
    row = weights[60]
    soft = (row > 0.05) & (row < 0.95)
    assert soft.sum() >= 6  # a ramp, not a hard 0/1 step


def test_mask_fades_out_over_frames_when_the_mover_leaves(room):
    mask = MotionMask("person", smoothing=0.7)
    learn(mask, room)
    for step in range(12):
        mask(room(40 + 3 * step))
    x = 40 + 3 * 11
    after = [mask(room())[45:75, x + 10:x + 30].mean() for _ in range(25)]
    assert after[0] > 0.2  # not gone in one frame: no flicker when someone pauses or blurs
    assert after[-1] < 0.05  # but gone soon
    assert all(a >= b - 1e-6 for a, b in zip(after, after[1:]))


def test_masked_engine_leaves_the_room_untouched(weights_dir, room):
    mask = MotionMask("person")
    learn(mask, room)
    engine = TorchEngine()
    engine.set_style(Look("wave", "wave"))
    for step in range(12):
        frame = room(40 + 3 * step)
        weights = mask(frame)
    out = engine(frame, weights)
    x = 40 + 3 * 11
    np.testing.assert_allclose(out[:15], frame[:15], atol=1)  # background kept
    assert np.abs(out[45:75, x + 10:x + 30].astype(int) - frame[45:75, x + 10:x + 30]).mean() > 10
