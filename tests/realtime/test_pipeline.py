"""The threaded pipeline: no backlog live, lossless in file mode, clean shutdowns, frames in flight.

Nothing here is timed: stages are driven and observed through counted events.
"""
from __future__ import annotations

import json
import os
import signal
import threading
import time

import numpy as np
import pytest

from stylize.realtime.controls import Controls
from helpers import OneLookEngine
from stylize.realtime.engines import Engine, Look, TorchEngine
from stylize.realtime.frames import Frame, LatestSlot
from stylize.realtime.pipeline import Pipeline, StopReason, write_stats
from stylize.realtime.sinks import Sink
from stylize.realtime.sources import EndOfStream, ImageFolder, Source, TestPattern
from stylize.realtime.temporal import TemporalSmoother

WAIT = 10.0  # seconds an awaited event may take before a test fails (only reached when something hangs)

LOOK = Look("invert", "invert")


class InvertEngine(OneLookEngine, Engine):
    """A real engine whose net inverts the picture; `before_run`, if given, runs first on every frame."""

    backend = "invert"

    def __init__(self, depth: int = 1, before_run=None):
        super().__init__(depth)
        self.before_run = before_run
        self.calls = 0

    def _upload(self, frame):
        return frame

    def _run(self, prepared, content):
        self.calls += 1
        if self.before_run is not None:
            self.before_run()
        return 255 - content

    def _download(self, output):
        return output


class Recorder(Sink):
    """Keeps every frame it is given and how it was driven; `on_write(recorder)` runs after each write."""

    def __init__(self, name="recorder", lossless=False, seconds=0.0, on_write=None):
        self.name, self.lossless, self.seconds, self.on_write = name, lossless, seconds, on_write
        self.frames: list[Frame] = []
        self.opened = None
        self.ended = False
        self.closes = 0

    def open(self, width, height, fps):
        self.opened = (width, height, fps)

    def write(self, frame):
        time.sleep(self.seconds)  # a slow writer, for back-pressure; nothing measures it
        self.frames.append(frame)
        if self.on_write is not None:
            self.on_write(self)

    def end_of_stream(self):
        self.ended = True

    def close(self):
        self.closes += 1


class CountedPattern(TestPattern):
    """A test pattern whose reads can be waited for."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reads = 0
        self.ended = False
        self._cond = threading.Condition()

    def read(self):
        try:
            frame = super().read()
        except EndOfStream:
            with self._cond:
                self.ended = True
                self._cond.notify_all()
            raise
        with self._cond:
            self.reads += 1
            self._cond.notify_all()
        return frame

    def wait_for_more(self, count: int) -> None:
        """Block until `count` more frames have been read, or the pattern ended."""
        with self._cond:
            target = self.reads + count
            assert self._cond.wait_for(lambda: self.reads >= target or self.ended, WAIT)


def test_latest_slot_keeps_the_newest_and_counts_drops():
    slot = LatestSlot()
    for i in range(5):
        slot.put(i)
    assert slot.get(0.1) == 4 and slot.drops == 4
    assert slot.get(0.01) is None
    waiter = threading.Thread(target=lambda: slot.get(None))
    waiter.start()
    slot.close()  # wakes a blocked reader
    waiter.join(2)
    assert not waiter.is_alive()


def test_slow_engine_drops_frames_but_never_builds_a_backlog():
    source = CountedPattern(64, 48, frames=200, paced=False)
    engine = InvertEngine(before_run=lambda: source.wait_for_more(5))  # a net 5x slower than the camera
    sink = Recorder()
    result = Pipeline(source, engine, [LOOK], [sink]).run()
    assert result.reason == StopReason.END_OF_STREAM
    stages = result.stats["stages"]
    assert stages["source"]["frames"] == 200
    assert stages["engine"]["frames"] == 200 - stages["source"]["drops"]  # every frame stylized or dropped
    assert stages["engine"]["frames"] < 200 / 4 + 2
    indexes = [f.index for f in sink.frames]
    # The engine always takes the newest frame: a queue would hand it the next one (steps of 1).
    assert all(step >= 4 for step in np.diff(indexes[:-1]))
    assert indexes[-1] == 199 and indexes == sorted(indexes)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_file_mode_is_lossless_in_order_and_pairs_each_output_with_its_frame(depth):
    writer = Recorder("writer", lossless=True, seconds=0.002)  # slower than the source: must be waited for
    preview = Recorder("preview", lossless=False, seconds=0.005)  # may skip frames
    source = TestPattern(32, 24, fps=25, frames=60, paced=False)
    result = Pipeline(source, InvertEngine(depth), [LOOK], [writer, preview], lossless=True).run()
    assert result.reason == StopReason.END_OF_STREAM
    assert [f.index for f in writer.frames] == list(range(60))
    for written, expected in zip(writer.frames, TestPattern(32, 24, fps=25, frames=60, paced=False)):
        assert written.pts == expected.pts
        np.testing.assert_array_equal(written.original, expected.image)
        np.testing.assert_array_equal(written.image, 255 - expected.image)
    assert result.stats["stages"]["sink:writer"]["drops"] == 0 and result.stats["stages"]["source"]["drops"] == 0
    assert writer.opened == (32, 24, 25) and writer.ended and writer.closes == 1
    assert preview.closes == 1 and 0 < len(preview.frames) <= 60


@pytest.mark.parametrize("depth", [1, 2])
def test_end_of_stream_hands_on_the_frames_in_flight_and_ends_every_thread(depth):
    source = TestPattern(32, 24, fps=50, frames=25, paced=False)
    sinks = [Recorder("a"), Recorder("b")]
    result = Pipeline(source, InvertEngine(depth), [LOOK], sinks).run()
    assert result.reason == StopReason.END_OF_STREAM
    assert all(s.closes == 1 and s.ended and s.frames[-1].index == 24 for s in sinks)
    assert "threads_not_joined" not in result.stats
    assert not [t for t in threading.enumerate() if t.name.startswith("engine:")]


def test_vanished_source_ends_the_run_as_source_lost(tmp_path):
    import cv2

    for i in range(200):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), np.full((24, 32, 3), i, np.uint8))

    def pull_the_plug(sink):
        if len(sink.frames) == 3:  # file mode: the source is held back by the full queues, far from the end
            for path in tmp_path.iterdir():
                path.unlink()

    sink = Recorder(lossless=True, on_write=pull_the_plug)
    source = ImageFolder(str(tmp_path), paced=False)
    result = Pipeline(source, InvertEngine(), [LOOK], [sink], lossless=True).run()
    assert result.reason == StopReason.SOURCE_LOST and "no such file" in result.message
    assert sink.closes == 1 and not sink.ended  # finalised, but not told the stream ended
    assert result.stats["stopped"] == StopReason.SOURCE_LOST and "threads_not_joined" not in result.stats


def test_stopping_does_not_wait_for_a_slow_paced_source(tmp_path):
    import cv2

    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((24, 32, 3), 80 * i, np.uint8))
    controls = Controls(["invert"])
    source = ImageFolder(str(tmp_path), fps=0.001, paced=True)  # the next image is due in 1000 s
    sink = Recorder(on_write=lambda _: controls.quit())
    # A generous join timeout: the source thread must end because it was interrupted, not abandoned.
    result = Pipeline(source, InvertEngine(), [LOOK], [sink], controls=controls, join_timeout=60).run()
    assert result.reason == StopReason.QUIT and "threads_not_joined" not in result.stats
    assert [f.index for f in sink.frames] == [0]


class HungCamera(Source):
    """A device whose driver blocks forever after a few frames."""

    name = "hung camera"
    width, height, fps = 32, 24, 30.0

    def __init__(self):
        super().__init__(paced=False)
        self.release = threading.Event()

    def _next(self):
        if self._index >= 3:
            self.release.wait()  # never set during the run
            raise EndOfStream
        return np.zeros((24, 32, 3), np.uint8), None


def test_quit_returns_even_when_the_source_is_stuck():
    controls = Controls(["invert"])
    source = HungCamera()
    sink = Recorder(on_write=lambda _: controls.quit())
    result = Pipeline(source, InvertEngine(), [LOOK], [sink], controls=controls, join_timeout=2.0).run()
    assert result.reason == StopReason.QUIT
    assert result.stats["threads_not_joined"] == ["source"]  # given up on, and the run still returned
    assert sink.closes == 1 and sink.frames
    source.release.set()


def test_ctrl_c_stops_cleanly():
    main = threading.main_thread().ident

    def interrupt_once(sink):
        if len(sink.frames) == 1:
            signal.pthread_kill(main, signal.SIGINT)

    sink = Recorder(lossless=True, on_write=interrupt_once)
    result = Pipeline(TestPattern(32, 24, fps=50), InvertEngine(), [LOOK], [sink], lossless=True).run()
    assert result.reason == StopReason.INTERRUPTED
    assert sink.closes == 1 and not sink.ended and sink.frames
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored after shutdown


class Broken(Recorder):
    def write(self, frame):
        raise OSError("disk full")


def test_a_failing_sink_stops_the_run_and_the_others_are_finalised():
    good, bad = Recorder("good"), Broken("bad")
    result = Pipeline(TestPattern(32, 24, fps=50), InvertEngine(), [LOOK], [good, bad]).run()
    assert result.reason == StopReason.FAILED and "bad: disk full" in result.message
    assert good.closes == 1 and bad.closes == 1


@pytest.mark.parametrize("depth", [1, 2])
def test_freeze_holds_the_picture_and_looks_still_switch(weights_dir, depth):
    looks = [Look("wave", "wave"), Look("candy", "candy")]
    controls = Controls(["wave", "candy"], crossfade_ms=0)
    sink = Recorder()
    engine = TorchEngine(depth=depth)
    pipeline = Pipeline(TestPattern(40, 32, fps=30), engine, looks, [sink], controls=controls)
    runner = threading.Thread(target=pipeline.run)
    runner.start()
    try:
        _wait(lambda: len(sink.frames) >= 2)
        controls.toggle_freeze()
        _wait(lambda: len(sink.frames) >= 4)
        mark = len(sink.frames)
        _wait(lambda: len(sink.frames) >= mark + 3)
        held = sink.frames[mark:]
        assert all(np.array_equal(f.original, held[0].original) for f in held)
        controls.pick_look(1)
        _wait(lambda: engine.look is looks[1])
        mark = len(sink.frames)
        _wait(lambda: len(sink.frames) >= mark + 2)
        assert np.array_equal(sink.frames[-1].original, held[0].original)
        assert not np.array_equal(sink.frames[-1].image, held[-1].image)  # the held picture in the new look
    finally:
        controls.quit()
        runner.join(10)


def test_recording_toggles_open_and_finalise_a_new_sink_each_time():
    controls = Controls(["invert"], recording=True)
    made: list[Recorder] = []

    def recorder():
        made.append(Recorder(f"rec{len(made)}"))
        return made[-1]

    pipeline = Pipeline(TestPattern(32, 24, fps=50), InvertEngine(), [LOOK], [], controls=controls,
                        recorder=recorder)
    runner = threading.Thread(target=pipeline.run)
    runner.start()
    try:
        _wait(lambda: made and len(made[0].frames) >= 3)
        controls.toggle_recording()
        _wait(lambda: made[0].closes == 1)
        controls.toggle_recording()
        _wait(lambda: len(made) == 2 and len(made[1].frames) >= 3)
    finally:
        controls.quit()
        runner.join(10)
    assert [r.closes for r in made] == [1, 1] and made[0].ended
    assert made[0].opened == (32, 24, 50)


def test_stats_are_written_as_json(tmp_path):
    sink = Recorder()
    result = Pipeline(TestPattern(32, 24, fps=50, frames=20), InvertEngine(), [LOOK], [sink]).run()
    path = tmp_path / "stats.json"
    write_stats(path, result.stats)
    stats = json.loads(path.read_text())
    assert stats["mode"] == "live" and stats["stopped"] == StopReason.END_OF_STREAM
    stages = stats["stages"]
    assert set(stages) == {"source", "engine", "sink:recorder"}
    assert stages["source"]["frames"] == 20
    assert stages["sink:recorder"]["frames"] + stages["sink:recorder"]["drops"] <= 20
    assert {"fps", "latency_ms_p50", "latency_ms_p95", "drops"} <= set(stages["sink:recorder"])
    assert not [p for p in os.listdir(tmp_path) if p != "stats.json"]  # written atomically


def _wait(condition, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for the pipeline")
        time.sleep(0.01)


class WatchedSmoother(TemporalSmoother):
    """The real smoother, noting what each call was given and what it returned."""

    def __init__(self, strength: float):
        super().__init__(strength)
        self.calls: list[tuple[np.ndarray, np.ndarray, object, bool, np.ndarray]] = []

    def __call__(self, source, stylized, look=None, fading=False):
        shown = super().__call__(source, stylized, look, fading)
        self.calls.append((source, stylized, look, fading, shown))
        return shown


def test_the_smoothing_thread_keeps_the_order_and_resets_through_a_crossfade(weights_dir, one_torch_thread):
    """File mode, a look change with a crossfade on an injected clock that ticks once per frame read."""
    frames, switch_at = 40, 10
    looks = [Look("candy", "candy"), Look("mosaic", "mosaic")]
    controls = Controls(["candy", "mosaic"], crossfade_ms=500)
    engine = TorchEngine()
    now = [0.0]
    engine.clock = lambda: now[0]

    class Ticking(TestPattern):
        def read(self):
            now[0] += 0.05
            if self._index == switch_at:
                controls.pick_look(1)
            return super().read()

    smoother = WatchedSmoother(0.6)
    writer = Recorder("writer", lossless=True)
    result = Pipeline(Ticking(48, 32, fps=25, frames=frames, paced=False), engine, looks, [writer],
                      controls=controls, lossless=True, smoothing=smoother).run()
    assert result.reason == StopReason.END_OF_STREAM
    assert [f.index for f in writer.frames] == list(range(frames)) and len(smoother.calls) == frames
    for written, call, expected in zip(writer.frames, smoother.calls, TestPattern(48, 32, fps=25, frames=frames)):
        np.testing.assert_array_equal(call[0], expected.image)  # smoothed in the source's order
        assert written.image is call[4]  # and shown as the smoother returned it
    fading = [call[3] for call in smoother.calls]
    fade = [i for i, value in enumerate(fading) if value]
    assert fade and fade == list(range(fade[0], fade[-1] + 1)) and 0 < fade[0] and fade[-1] < frames - 2
    for index in (0, *fade, fade[-1] + 1):  # the first frame, every frame of the fade and the one after: fresh
        assert np.array_equal(smoother.calls[index][4], smoother.calls[index][1])
    assert smoother.calls[fade[-1] + 1][2] is looks[1]
    assert smoother.resets["fade"] == len(fade) and smoother.resets["start"] == 2 and "look" not in smoother.resets
    assert smoother.blended == frames - len(fade) - 2 - smoother.resets["cut"] > frames / 2
    assert result.stats["stages"]["smoothing"]["frames"] == frames
    assert not [t for t in threading.enumerate() if t.name == "smoothing"]


class SharingCounted(InvertEngine):
    """Counts what the pipeline tells the engine about the threads beside it."""

    def __init__(self):
        super().__init__()
        self.shared = 0

    def share_cores(self):
        self.shared += 1


@pytest.mark.parametrize("stages", ["none", "mask", "smoothing"])
def test_the_engine_is_told_to_share_the_cores_when_a_stage_runs_beside_it(stages):
    engine = SharingCounted()
    Pipeline(TestPattern(32, 24, fps=100, frames=2), engine, [LOOK],
             mask=(lambda image: np.ones(image.shape[:2], np.float32)) if stages == "mask" else None,
             smoothing=TemporalSmoother(0.5) if stages == "smoothing" else None)
    assert engine.shared == (0 if stages == "none" else 1)


def test_onnx_runtime_stops_spinning_when_it_shares_the_cores():
    from stylize.realtime.onnx_engine import OnnxEngine

    engine = OnnxEngine(threads=1)
    assert engine.spinning
    engine.share_cores()
    assert not engine.spinning
