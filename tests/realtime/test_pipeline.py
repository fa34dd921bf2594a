"""The threaded pipeline: no backlog live, lossless in file mode, clean and quick shutdowns."""
from __future__ import annotations

import json
import os
import signal
import threading
import time

import numpy as np
import pytest

from stylize.realtime.controls import Controls
from stylize.realtime.engines import Engine, Look, TorchEngine
from stylize.realtime.frames import Frame, LatestSlot
from stylize.realtime.pipeline import Pipeline, StopReason, write_stats
from stylize.realtime.sinks import Sink
from stylize.realtime.sources import EndOfStream, ImageFolder, Source, TestPattern

LOOK = Look("invert", "invert")


class SlowEngine(Engine):
    """A real engine that inverts the picture and takes `seconds` per frame, like a heavy net."""

    backend = "slow"

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds
        self.calls = 0

    def set_style(self, look):
        self.look = look

    def __call__(self, frame, mask=None):
        self.calls += 1
        time.sleep(self.seconds)
        return 255 - frame


class Recorder(Sink):
    """Keeps every frame it is given and how it was driven."""

    def __init__(self, name="recorder", lossless=False, seconds=0.0):
        self.name, self.lossless, self.seconds = name, lossless, seconds
        self.frames: list[Frame] = []
        self.opened = None
        self.ended = False
        self.closes = 0

    def open(self, width, height, fps):
        self.opened = (width, height, fps)

    def write(self, frame):
        time.sleep(self.seconds)
        self.frames.append(frame)

    def end_of_stream(self):
        self.ended = True

    def close(self):
        self.closes += 1


class EndTimed(TestPattern):
    """A finite test pattern that notes when it reported end of stream."""

    ended_at = None

    def read(self):
        try:
            return super().read()
        except EndOfStream:
            self.ended_at = time.monotonic()
            raise


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


def test_slow_engine_drops_frames_but_latency_stays_bounded():
    engine = SlowEngine(0.08)
    sink = Recorder()
    source = TestPattern(64, 48, fps=100)  # a camera far faster than the net
    result = Pipeline(source, engine, [LOOK], [sink], duration=2.0).run()
    assert result.reason == StopReason.DURATION
    stats = result.stats
    assert stats["stages"]["source"]["drops"] > 0 and stats["drops"] >= stats["stages"]["source"]["drops"]
    assert stats["stages"]["source"]["frames"] > 2 * stats["stages"]["engine"]["frames"]
    # No backlog: a frame waits at most about one net interval before it is stylized. A queue
    # would make the last frames about a second old (100 fps in, ~12 fps out, for 2 s).
    assert stats["stages"]["sink:recorder"]["latency_ms_p95"] < 5 * 80
    assert sink.frames[-1].index >= stats["stages"]["source"]["frames"] - 20
    indexes = [f.index for f in sink.frames]
    assert indexes == sorted(indexes) and max(np.diff(indexes)) > 1  # stale frames were skipped


def test_file_mode_is_lossless_and_in_order():
    engine = SlowEngine(0.002)
    writer = Recorder("writer", lossless=True, seconds=0.01)  # slower than the source: must be waited for
    preview = Recorder("preview", lossless=False, seconds=0.03)  # may skip frames
    source = TestPattern(32, 24, fps=25, frames=60, paced=False)
    result = Pipeline(source, engine, [LOOK], [writer, preview], lossless=True).run()
    assert result.reason == StopReason.END_OF_STREAM
    assert [f.index for f in writer.frames] == list(range(60))
    first = TestPattern(32, 24, frames=1, paced=False).read().image
    np.testing.assert_array_equal(writer.frames[0].image, 255 - first)
    np.testing.assert_array_equal(writer.frames[0].original, first)
    assert result.stats["stages"]["sink:writer"]["drops"] == 0 and result.stats["stages"]["source"]["drops"] == 0
    assert writer.opened == (32, 24, 25) and writer.ended and writer.closes == 1
    assert preview.closes == 1 and 0 < len(preview.frames) <= 60


def test_end_of_stream_shuts_down_quickly():
    source = EndTimed(32, 24, fps=50, frames=25)
    sinks = [Recorder("a"), Recorder("b")]
    result = Pipeline(source, SlowEngine(0.01), [LOOK], sinks).run()
    returned = time.monotonic()
    assert result.reason == StopReason.END_OF_STREAM
    assert returned - source.ended_at < 2.0
    assert all(s.closes == 1 and s.ended for s in sinks)
    assert "threads_not_joined" not in result.stats


def test_vanished_source_shuts_down_quickly(tmp_path):
    import cv2

    for i in range(200):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), np.full((24, 32, 3), i, np.uint8))
    source = ImageFolder(str(tmp_path), fps=40, paced=True)
    sink = Recorder()
    vanished = []

    def pull_the_plug():
        for path in tmp_path.iterdir():
            path.unlink()
        vanished.append(time.monotonic())

    timer = threading.Timer(0.5, pull_the_plug)
    timer.start()
    result = Pipeline(source, SlowEngine(0.01), [LOOK], [sink]).run()
    returned = time.monotonic()
    timer.join()
    assert result.reason == StopReason.SOURCE_LOST and "no such file" in result.message
    assert returned - vanished[0] < 2.0
    assert sink.closes == 1 and not sink.ended  # finalised, but not told the stream ended
    assert result.stats["stopped"] == StopReason.SOURCE_LOST


def test_stopping_does_not_wait_for_a_slow_paced_source(tmp_path):
    import cv2

    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((24, 32, 3), 80 * i, np.uint8))
    controls = Controls(["invert"])
    source = ImageFolder(str(tmp_path), fps=0.2, paced=True)  # the next image is due in 5 s
    threading.Timer(0.5, controls.quit).start()
    started = time.monotonic()
    result = Pipeline(source, SlowEngine(0.0), [LOOK], [Recorder()], controls=controls).run()
    assert time.monotonic() - started < 0.5 + 2.0
    assert result.reason == StopReason.QUIT and "threads_not_joined" not in result.stats


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
    sink = Recorder()
    threading.Timer(0.3, controls.quit).start()
    started = time.monotonic()
    result = Pipeline(source, SlowEngine(0.0), [LOOK], [sink], controls=controls, join_timeout=1.0).run()
    assert time.monotonic() - started < 0.3 + 1.0 + 1.0
    assert result.reason == StopReason.QUIT
    assert result.stats["threads_not_joined"] == ["source"]
    assert sink.closes == 1 and sink.frames
    source.release.set()


def test_ctrl_c_stops_cleanly():
    sink = Recorder(lossless=True)
    main = threading.main_thread().ident
    threading.Timer(0.4, lambda: signal.pthread_kill(main, signal.SIGINT)).start()
    result = Pipeline(TestPattern(32, 24, fps=50), SlowEngine(0.01), [LOOK], [sink], lossless=True).run()
    assert result.reason == StopReason.INTERRUPTED
    assert sink.closes == 1 and not sink.ended and sink.frames
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored after shutdown


class Broken(Recorder):
    def write(self, frame):
        raise OSError("disk full")


def test_a_failing_sink_stops_the_run_and_the_others_are_finalised():
    good, bad = Recorder("good"), Broken("bad")
    result = Pipeline(TestPattern(32, 24, fps=50), SlowEngine(0.0), [LOOK], [good, bad]).run()
    assert result.reason == StopReason.FAILED and "bad: disk full" in result.message
    assert good.closes == 1 and bad.closes == 1


def test_freeze_holds_the_picture_and_looks_still_switch(weights_dir):
    looks = [Look("wave", "wave"), Look("candy", "candy")]
    controls = Controls(["wave", "candy"], crossfade_ms=0)
    sink = Recorder()
    engine = TorchEngine()
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

    pipeline = Pipeline(TestPattern(32, 24, fps=50), SlowEngine(0.005), [LOOK], [], controls=controls,
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
    result = Pipeline(TestPattern(32, 24, fps=50, frames=20), SlowEngine(0.0), [LOOK], [sink]).run()
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


def _wait(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for the pipeline")
        time.sleep(0.01)
