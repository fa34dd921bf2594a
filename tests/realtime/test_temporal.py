"""Temporal smoothing: blends where the flow holds, keeps motion sharp, and resets at cuts and crossfades."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from helpers import shifted, texture
from stylize import api
from stylize.bench.flicker import video_frames
from stylize.errors import OptionError
from stylize.realtime.engines import TorchEngine
from stylize.realtime.temporal import TemporalSmoother, check_strength


def test_a_still_scene_is_averaged_and_a_moving_one_is_not_smeared():
    background = texture(160, 120, seed=3)
    rng = np.random.default_rng(0)
    still = TemporalSmoother(0.6)
    noisy = [np.clip(background + rng.normal(0, 10, background.shape), 0, 255).astype(np.uint8) for _ in range(8)]
    outputs = [still(background, frame).astype(float) for frame in noisy]
    change_in = np.mean([np.abs(b.astype(float) - a).mean() for a, b in zip(noisy[3:], noisy[4:])])
    change_out = np.mean([np.abs(b - a).mean() for a, b in zip(outputs[3:], outputs[4:])])
    assert change_out < 0.6 * change_in  # the noise no longer changes from frame to frame
    moving = TemporalSmoother(0.6)
    for step in range(8):  # the "stylization" is the frame itself: carried along the flow, it must stay put
        frame = shifted(background, 3 * step, 0)
        shown = moving(frame, frame)
    assert np.abs(shown.astype(float) - frame)[10:-10, 40:-10].mean() < 3
    assert moving.blended == 7 and moving.resets["start"] == 1


@pytest.mark.parametrize("other", ["terryky_pexels_family", "lengstrom_fox"])
def test_a_scene_cut_resets(shared, other):
    street = next(iter(video_frames(str(shared / "media" / "terryky_pexels_street.mp4"), 160)))
    cut = cv2.resize(next(iter(video_frames(str(shared / "media" / f"{other}.mp4"), 160))), street.shape[1::-1])
    smoother = TemporalSmoother(0.6)
    smoother(street, street)
    smoother(street, street)
    shown = smoother(cut, cut)
    assert smoother.resets["cut"] == 1 and smoother.blended == 1 and np.array_equal(shown, cut)


def test_smoothing_resets_during_and_after_a_crossfade(one_torch_thread):
    """Through a real engine with an injected clock: every frame of the fade is shown fresh."""
    engine = TorchEngine("cpu")
    now = [0.0]
    engine.clock = lambda: now[0]
    first, second = api.look("starry-night"), api.look("great-wave")
    engine.set_style(first)
    smoother = TemporalSmoother(0.6)
    frame = texture(64, 48, seed=6)

    def step() -> tuple[np.ndarray, np.ndarray]:
        painted = (engine.look, engine.fading)
        fresh = engine(frame)
        return smoother(frame, fresh, *painted), fresh

    for _ in range(3):
        step()
    assert smoother.blended == 2
    engine.crossfade_ms = 1000
    engine.set_style(second)
    for t in (0.0, 0.3, 0.6, 0.9):
        now[0] = t
        shown, fresh = step()
        assert np.array_equal(shown, fresh)
    assert smoother.resets["fade"] == 4 and smoother.blended == 2
    now[0] = 1.2  # the fade is over: a fresh start, then blending again
    shown, fresh = step()
    assert np.array_equal(shown, fresh) and smoother.resets["start"] == 2
    step()
    assert smoother.blended == 3
    engine.crossfade_ms = 0  # a cut between looks
    engine.set_style(first)
    shown, fresh = step()
    assert np.array_equal(shown, fresh) and smoother.resets["look"] == 1


@pytest.mark.parametrize("strength", [-0.1, 0.96, float("nan")])
def test_strength_out_of_range_is_an_option_error(strength):
    with pytest.raises(OptionError, match="--temporal-smoothing"):
        check_strength(strength)


def test_the_api_engine_smooths_consecutive_frames(one_torch_thread):
    import stylize

    engine = stylize.engine("student", "torch", temporal_smoothing=0.5)
    engine.set_style("starry-night")
    frame = texture(64, 48, seed=7)
    engine(frame)
    engine(shifted(frame, 2, 0))
    assert isinstance(engine.smoothing, stylize.TemporalSmoother)
    assert engine.smoothing.strength == 0.5 and engine.smoothing.blended == 1
