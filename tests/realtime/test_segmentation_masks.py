"""The person mask: hysteresis and feathering on synthetic masks, the EMA and modes on real frames,
and the pipeline computing it beside the net (counted by events, never timed)."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from helpers import OneLookEngine
from stylize.errors import OptionError
from stylize.realtime.engines import Engine, Look
from stylize.realtime.masks import Hysteresis, PersonMask, feathered, live_mask, still_mask
from stylize.realtime.pipeline import Pipeline
from stylize.realtime.sources import TestPattern

WAIT = 10.0  # seconds an awaited event may take before the test counts it as missed


def test_hysteresis_holds_a_pixel_between_the_levels():
    threshold = Hysteresis(0.3, 0.7)
    first = threshold(np.array([[0.2, 0.45, 0.55, 0.9]], np.float32))
    np.testing.assert_array_equal(first, [[0, 0, 1, 1]])  # the first frame is cut at the midpoint
    # Everything between the levels keeps its state, whichever side of 0.5 it wanders to.
    held = threshold(np.array([[0.65, 0.6, 0.35, 0.4]], np.float32))
    np.testing.assert_array_equal(held, [[0, 0, 1, 1]])
    flipped = threshold(np.array([[0.75, 0.6, 0.25, 0.4]], np.float32))
    np.testing.assert_array_equal(flipped, [[1, 0, 0, 1]])


def test_hysteresis_keeps_a_noisy_edge_from_shimmering():
    rng = np.random.default_rng(0)
    edge = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (16, 1))
    threshold, naive_flips, steady_flips = Hysteresis(), 0, 0
    previous_naive = previous_steady = None
    for _ in range(30):
        noisy = np.clip(edge + rng.normal(0, 0.08, edge.shape).astype(np.float32), 0, 1)
        naive, steady = noisy >= 0.5, threshold(noisy) > 0.5
        if previous_naive is not None:
            naive_flips += int((naive != previous_naive).sum())
            steady_flips += int((steady != previous_steady).sum())
        previous_naive, previous_steady = naive, steady
    assert naive_flips > 200
    assert steady_flips < naive_flips / 10


def test_feathering_softens_a_hard_edge_and_zero_keeps_it():
    square = np.zeros((100, 100), np.float32)
    square[25:75, 25:75] = 1.0
    hard = feathered(square, 0.0)
    np.testing.assert_array_equal(hard, square)
    soft = feathered(square, 0.03)  # sigma 3 px
    ramp = soft[50]
    assert ramp[50] > 0.99 and ramp[5] < 0.01  # the middle and far outside are untouched
    band = int(((ramp > 0.05) & (ramp < 0.95)).sum())
    assert 8 <= band <= 24  # both edges are a few sigmas wide
    wider = feathered(square, 0.06)[50]
    assert int(((wider > 0.05) & (wider < 0.95)).sum()) > band
    assert abs(float(soft.sum()) - float(square.sum())) < 0.01 * float(square.sum())


def test_person_and_background_masks_split_the_frame(segmenter, family_frames):
    person = PersonMask("person", segmenter=segmenter)
    background = PersonMask("background", segmenter=segmenter)
    for frame in family_frames[:6]:
        on, off = person(frame), background(frame)
        np.testing.assert_allclose(on + off, 1.0, atol=1e-6)
    assert on.shape == frame.shape[:2] and on.dtype == np.float32
    assert on[280:320, 520:560].min() > 0.99  # the man's face
    assert on[40:240, 110:380].mean() < 0.01  # the bookshelf
    soft = (on > 0.05) & (on < 0.95)
    assert 0.005 < soft.mean() < 0.1  # a feathered edge: a band, not a step and not a blur of everything


def test_the_ema_follows_a_change_over_a_few_frames(segmenter, family_frames):
    """A person who vanishes fades out over frames with smoothing, at once without."""
    empty = np.full_like(family_frames[0], 40)
    steady, instant = PersonMask(smoothing=0.6, segmenter=segmenter), PersonMask(smoothing=0.0, segmenter=segmenter)
    for mask in (steady, instant):
        mask(family_frames[0])
    assert instant(empty)[300, 540] < 0.01
    first_after = steady(empty)[300, 540]
    assert first_after > 0.99  # 0.6 of the person is still there: above the lower level, held
    later = [steady(empty)[300, 540] for _ in range(4)]
    assert later[-1] < 0.01


def test_a_still_picture_has_no_history_and_motion_needs_a_video(segmenter, family_frames):
    once = still_mask(family_frames[3], "person", segmenter=segmenter)
    np.testing.assert_array_equal(once, PersonMask(segmenter=segmenter)(family_frames[3]))
    with pytest.raises(OptionError, match="needs a video"):
        still_mask(family_frames[3], "motion", segmenter=segmenter)
    with pytest.raises(OptionError, match="--mask-smoothing"):
        live_mask("person", smoothing=1.0, segmenter=segmenter)
    with pytest.raises(OptionError, match="--mask-feather"):
        live_mask("background", feather=float("inf"), segmenter=segmenter)


class GatedEngine(OneLookEngine, Engine):
    """A real engine (its net inverts the picture) whose pass over frame k waits for the mask of frame k+1 to
    start: if masks ran in front of the net, that mask could not start, and the pass counts it as missed."""

    backend = "gated"

    def __init__(self, mask_started: list[threading.Event]):
        super().__init__(depth=1)
        self.mask_started = mask_started
        self.overlapped = self.missed = 0

    def _upload(self, frame):
        return frame.astype(np.float32)

    def _upload_mask(self, mask):
        return mask[..., None]  # HxWx1 against this engine's HxWx3 pictures

    def _run(self, prepared, content):
        following = self.overlapped + self.missed + 1
        if following < len(self.mask_started):
            if self.mask_started[following].wait(WAIT):
                self.overlapped += 1
            else:
                self.missed += 1
        return 255 - content

    def _download(self, output):
        return np.clip(output + 0.5, 0, 255).astype(np.uint8)


class CountedMask:
    """The real person mask; sets an event as it starts on each frame."""

    def __init__(self, inner: PersonMask, frames: int):
        self.inner, self.label = inner, inner.label
        self.started = [threading.Event() for _ in range(frames)]
        self.calls = 0

    def __call__(self, rgb):
        self.started[self.calls].set()
        self.calls += 1
        return self.inner(rgb)


def test_the_pipeline_segments_the_next_frame_while_the_net_runs(segmenter):
    frames = 6
    mask = CountedMask(PersonMask(segmenter=segmenter), frames)
    engine = GatedEngine(mask.started)
    source = TestPattern(96, 64, fps=30, frames=frames, paced=False)
    pipeline = Pipeline(source, engine, [Look("invert", "invert")], lossless=True, mask=mask)
    result = pipeline.run()
    assert result.reason == "end of stream"
    assert (engine.overlapped, engine.missed) == (frames - 1, 0)
    stage = result.stats["stages"]["mask"]
    assert stage["frames"] == frames and stage["kind"].startswith("person (onnxruntime ")
    pipeline._publish(0.0)  # what the HUD shows: the mask's kind and cost
    assert pipeline.controls.hud_lines()[-1].startswith("mask person (onnxruntime ")
    assert pipeline.controls.hud_lines()[-1].endswith(" ms")
