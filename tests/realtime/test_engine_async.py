"""The engine's asynchronous path, on a fake backend whose stages are observed and held through events."""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pytest

from stylize.realtime.engines import Engine, Look
from stylize.tensors import array_to_frame, frame_to_array

LOOK = Look("invert", "invert")
WAIT = 10.0  # seconds an event may take before the test fails (only reached when something hangs)


@dataclass
class Prepared:
    look: Look


class FakeBackend(Engine):
    """A real Engine whose net inverts the picture. Frame i is a picture filled with i.

    Every stage logs (stage, i) when it starts; the copy back to the host
    (`_download`) of a frame in `held` waits until the test releases it.
    `fail_on` makes the net raise on that frame.
    """

    backend = "fake"

    def __init__(self, depth: int):
        super().__init__(depth)
        self.log: list[tuple[str, int]] = []
        self.started: dict[tuple[str, int], threading.Event] = {}
        self.held: dict[int, threading.Event] = {}
        self.fail_on: int | None = None
        self.busy = self.most_busy = 0  # frames between the start of their upload and the end of their download
        self._lock = threading.Lock()

    def hold(self, index: int) -> threading.Event:
        self.held[index] = threading.Event()
        return self.held[index]

    def wait_started(self, stage: str, index: int) -> None:
        assert self._event(stage, index).wait(WAIT), f"{stage} of frame {index} never started"

    def _event(self, stage: str, index: int) -> threading.Event:
        with self._lock:
            return self.started.setdefault((stage, index), threading.Event())

    def _note(self, stage: str, index: int, busy: int = 0) -> None:
        with self._lock:
            self.log.append((stage, index))
            self.busy += busy
            self.most_busy = max(self.most_busy, self.busy)
        self._event(stage, index).set()

    def _build(self, look):
        return Prepared(look)

    def _interpolates(self, a, b):
        return False

    def _interpolated(self, source, target, t):
        raise AssertionError("never interpolates")

    def _upload(self, frame):
        self._note("upload", int(frame[0, 0, 0]), busy=1)
        return frame_to_array(frame)

    def _run(self, prepared, content):
        index = round(float(content[0, 0, 0, 0]) * 255)
        self._note("run", index)
        if index == self.fail_on:
            raise OSError(f"device lost on frame {index}")
        return 1 - content

    def _download(self, output):
        index = 255 - round(float(output[0, 0, 0, 0]) * 255)
        self._note("download", index)
        gate = self.held.get(index)
        if gate is not None:
            assert gate.wait(WAIT), "the test never released the copy"
        frame = array_to_frame(output, in_range=True)
        with self._lock:
            self.busy -= 1
        return frame


def picture(index: int) -> np.ndarray:
    return np.full((4, 6, 3), index, np.uint8)


def engine_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("engine:fake")]


@pytest.fixture
def make_engine():
    made: list[FakeBackend] = []

    def make(depth: int) -> FakeBackend:
        engine = FakeBackend(depth)
        engine.set_style(LOOK)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        for gate in engine.held.values():
            gate.set()
        assert engine.close(WAIT)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_frames_come_back_in_submission_order_never_more_than_depth_in_flight(make_engine, depth):
    engine = make_engine(depth)
    outputs = []
    for index in range(12):
        if engine.in_flight == depth:
            outputs.append(engine.collect())
        engine.submit(picture(index))
        assert engine.in_flight <= depth
    while engine.in_flight:
        outputs.append(engine.collect())
    assert [int(out[0, 0, 0]) for out in outputs] == [255 - i for i in range(12)]
    assert 1 <= engine.most_busy <= depth
    assert [i for stage, i in engine.log if stage == "download"] == list(range(12))


def test_a_further_submit_past_depth_is_refused(make_engine):
    engine = make_engine(2)
    engine.submit(picture(1))
    engine.submit(picture(2))
    with pytest.raises(RuntimeError, match="collect"):
        engine.submit(picture(3))
    assert [int(engine.collect()[0, 0, 0]) for _ in range(2)] == [254, 253]
    with pytest.raises(RuntimeError, match="without a frame"):
        engine.collect()


def test_the_next_frame_is_uploaded_and_computed_while_the_previous_is_copied_back(make_engine):
    engine = make_engine(2)
    release = engine.hold(0)
    engine.submit(picture(0))
    engine.wait_started("download", 0)  # frame 0's copy is under way, and held
    engine.submit(picture(1))
    engine.wait_started("run", 1)  # frame 1 went through upload and compute meanwhile
    assert ("download", 1) not in engine.log
    release.set()
    assert int(engine.collect()[0, 0, 0]) == 255
    assert int(engine.collect()[0, 0, 0]) == 254
    assert engine.most_busy == 2


def test_close_with_frames_in_flight_ends_every_thread_and_discards_the_rest(make_engine):
    engine = make_engine(3)
    release = engine.hold(0)
    for index in range(3):
        engine.submit(picture(index))
    engine.wait_started("download", 0)
    assert len(engine_threads()) == 3  # one per stage
    stages = engine._stages
    closed = []
    closer = threading.Thread(target=lambda: closed.append(engine.close(WAIT)))
    closer.start()
    assert stages._discard.wait(WAIT)  # close() has begun
    release.set()  # the copy already running finishes; nothing else starts
    closer.join(WAIT)
    assert closed == [True] and not engine_threads()
    assert engine.in_flight == 0
    assert [i for stage, i in engine.log if stage == "download"] == [0]
    engine.submit(picture(7))  # still usable: fresh threads
    assert int(engine.collect()[0, 0, 0]) == 248


def test_a_failing_stage_surfaces_from_collect_and_later_frames_still_come(make_engine):
    engine = make_engine(2)
    engine.fail_on = 1
    engine.submit(picture(0))
    engine.submit(picture(1))
    assert int(engine.collect()[0, 0, 0]) == 255
    with pytest.raises(OSError, match="device lost on frame 1"):
        engine.collect()
    engine.submit(picture(2))
    assert int(engine.collect()[0, 0, 0]) == 253
    assert ("download", 1) not in engine.log  # a failed frame skips the stages after the failure


def test_each_frame_keeps_the_controls_it_was_submitted_with(make_engine):
    engine = make_engine(2)
    engine.alpha = 0.0
    engine.submit(picture(0))  # alpha 0: the input itself
    engine.alpha = 1.0
    engine.submit(picture(9))
    np.testing.assert_array_equal(engine.collect(), picture(0))
    np.testing.assert_array_equal(engine.collect(), 255 - picture(9))


def test_the_synchronous_call_gives_what_submit_and_collect_give(make_engine):
    engine = make_engine(1)
    mask = np.zeros((4, 6), np.float32)
    mask[:, 3:] = 1
    engine.submit(picture(40), mask)
    np.testing.assert_array_equal(engine.collect(), engine(picture(40), mask))
