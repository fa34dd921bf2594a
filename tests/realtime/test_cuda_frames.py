"""The CUDA engine's double-buffered staging, run on the CPU: the copy streams are threads (HostStreams)
whose copies a test slows down or holds, and every copy and net pass is logged in order."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from helpers import OneLookEngine
from stylize.realtime.cuda_frames import SLOTS, HostStreams
from stylize.realtime.engines import CudaOptions, Look, TorchEngine

LOOK = Look("invert", "invert")
WAIT = 10.0  # seconds before a test fails instead of hanging


class Recorder:
    """Logs each copy (stream, frame index) and each net pass; holds the ones a test gates."""

    def __init__(self):
        self.log: list[tuple[str, int]] = []
        self.gates: dict[tuple[str, int], threading.Event] = {}
        self.seen: dict[tuple[str, int], threading.Event] = {}
        self.host_buffers: set[int] = set()
        self._lock = threading.Lock()

    def hold(self, what: str, index: int) -> threading.Event:
        self.gates[(what, index)] = threading.Event()
        return self.gates[(what, index)]

    def wait_for(self, what: str, index: int) -> None:
        assert self._seen(what, index).wait(WAIT), f"{what} of frame {index} never happened"

    def happened(self, what: str, index: int) -> bool:
        return self._seen(what, index).is_set()

    def note(self, what: str, index: int) -> None:
        with self._lock:
            self.log.append((what, index))
        self._seen(what, index).set()
        gate = self.gates.get((what, index))
        if gate is not None:
            assert gate.wait(WAIT), f"the test never released {what} of frame {index}"

    def _seen(self, what: str, index: int) -> threading.Event:
        with self._lock:
            return self.seen.setdefault((what, index), threading.Event())

    def copy(self, which: str, dst: torch.Tensor, src: torch.Tensor) -> None:
        """HostStreams' hook, before each copy. Frame i is filled with i; the net inverts it."""
        if which == "upload":
            self.host_buffers.add(src.data_ptr())
            self.note("upload", int(src[0, 0, 0]))
        else:
            self.note("download", 255 - int(src[0, 0, 0]))


class GatedEngine(OneLookEngine, TorchEngine):
    """The real staged TorchEngine path on the CPU, with a net that inverts and logs each pass."""

    def __init__(self, recorder: Recorder, depth: int = 2, fail_upload: int | None = None):
        def slow_copy(which, dst, src):
            recorder.copy(which, dst, src)
            if which == "upload" and int(src[0, 0, 0]) == fail_upload:
                raise OSError(f"copy of frame {fail_upload} failed")

        super().__init__("cpu", depth=depth, cuda=CudaOptions(precision="fp32", graphs=False),
                         streams=HostStreams(slow_copy))
        self.recorder = recorder

    def _run(self, prepared, content):
        index = round(float(content[0, 0, 0, 0]) * 255)
        self.recorder.note("run", index)
        return 1 - content


def picture(index: int, height: int = 4, width: int = 6) -> np.ndarray:
    return np.full((height, width, 3), index, np.uint8)


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def engine(recorder):
    engine = GatedEngine(recorder)
    engine.set_style(LOOK)
    yield engine
    engine.close(WAIT)
    engine._frames.streams.close()


def test_the_next_upload_runs_while_a_frame_computes(engine, recorder):
    release = recorder.hold("run", 0)
    engine.submit(picture(0))
    engine.submit(picture(1))
    recorder.wait_for("run", 0)
    recorder.wait_for("upload", 1)  # frame 1 reached the copy stream while frame 0's pass is held
    assert not recorder.happened("download", 0)
    release.set()
    assert engine.collect()[0, 0, 0] == 255
    assert engine.collect()[0, 0, 0] == 254


def test_the_next_frame_computes_while_a_frame_downloads(engine, recorder):
    release = recorder.hold("download", 0)
    engine.submit(picture(0))
    engine.submit(picture(1))
    recorder.wait_for("download", 0)
    recorder.wait_for("run", 1)  # frame 1's pass runs while frame 0 is still on its way back
    release.set()
    assert [engine.collect()[0, 0, 0] for _ in range(2)] == [255, 254]


def test_slow_copies_keep_every_frame_intact_and_in_order_through_two_host_buffers(engine, recorder):
    # Every upload is held until the previous frame's pass has run, so a
    # buffer reused too early would hand a pass the wrong frame.
    for index in range(1, 12):
        recorder.hold("upload", index)
    out = []
    engine.submit(picture(0, 5, 7))
    for index in range(1, 12):
        engine.submit(picture(index, 5, 7))
        recorder.wait_for("run", index - 1)
        recorder.gates[("upload", index)].set()
        out.append(engine.collect())
    out.append(engine.collect())
    assert [frame[0, 0, 0] for frame in out] == [255 - i for i in range(12)]
    assert all((frame == frame[0, 0, 0]).all() for frame in out)
    assert len(recorder.host_buffers) == SLOTS
    runs = [index for what, index in recorder.log if what == "run"]
    assert runs == list(range(12))
    for index in range(12):  # each frame: upload, then its pass, then its download
        order = [recorder.log.index((what, index)) for what in ("upload", "run", "download")]
        assert order == sorted(order)


def test_a_size_change_gets_new_buffers(engine):
    engine.submit(picture(3, 4, 6))
    engine.submit(picture(4, 9, 5))
    assert engine.collect().shape == (4, 6, 3)
    second = engine.collect()
    assert second.shape == (9, 5, 3) and (second == 251).all()
    assert engine(picture(5, 4, 6)).shape == (4, 6, 3)


def test_a_failed_copy_is_raised_for_its_frame_and_the_next_frames_go_on(recorder):
    engine = GatedEngine(recorder, fail_upload=1)
    engine.set_style(LOOK)
    try:
        engine.submit(picture(0))
        engine.submit(picture(1))
        assert engine.collect()[0, 0, 0] == 255
        with pytest.raises(OSError, match="copy of frame 1"):
            engine.collect()
        assert engine(picture(2))[0, 0, 0] == 253
    finally:
        engine.close(WAIT)
        engine._frames.streams.close()


def test_the_staged_path_gives_the_plain_path_pixels(one_torch_thread):
    from stylize.bench.nets import random_net

    net = random_net("student")
    look = Look("s", "student", [np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8)])
    plain = TorchEngine("cpu", nets={"student": net})
    streams = HostStreams()
    staged = TorchEngine("cpu", nets={"student": net}, cuda=CudaOptions(precision="fp32", graphs=False),
                         streams=streams)
    assert staged.depth == 2 and plain.depth == 1
    frames = [np.random.default_rng(i).integers(0, 256, (24, 30, 3), dtype=np.uint8) for i in range(3)]
    mask = np.linspace(0, 1, 30, dtype=np.float32)[None].repeat(24, 0)
    try:
        for engine in (plain, staged):
            engine.set_style(look)
            engine.alpha = 0.6
        for frame in frames:
            assert np.array_equal(plain(frame), staged(frame))
            assert np.array_equal(plain(frame, mask), staged(frame, mask))
        staged.alpha = 0.0
        assert np.array_equal(staged(frames[0]), frames[0])
    finally:
        streams.close()


def test_bgr_frames_are_swapped_on_the_device():
    streams = HostStreams()
    engine = TorchEngine("cpu", cuda=CudaOptions(precision="fp32", graphs=False, bgr=True), streams=streams)
    frame = np.zeros((2, 3, 3), np.uint8)
    frame[..., 0] = 10  # blue in BGR
    uploaded = engine._frames.upload(frame)
    content = engine._frames.to_input(uploaded)
    assert float(content[0, 2, 0, 0]) * 255 == pytest.approx(10) and float(content[0, 0, 0, 0]) == 0
    assert np.array_equal(engine._frames.download(engine._frames.to_output(content)), frame)
    streams.close()


def test_cuda_options_refuse_a_plain_cpu_engine():
    from stylize.errors import UserError

    with pytest.raises(UserError, match="CUDA"):
        TorchEngine("cpu", cuda=CudaOptions())


def test_closing_with_frames_in_flight_leaves_the_engine_usable(engine, recorder):
    for round_ in range(3):  # each close discards a frame between its stages, which held a buffer
        release = recorder.hold("run", 10 * round_)
        engine.submit(picture(10 * round_))
        engine.submit(picture(10 * round_ + 1))
        recorder.wait_for("run", 10 * round_)
        release.set()
        assert engine.close(WAIT)
    assert engine(picture(7))[0, 0, 0] == 248


def test_failed_copies_hand_their_buffers_back(recorder):
    engine = GatedEngine(recorder, fail_upload=1)
    engine.set_style(LOOK)
    try:
        for _ in range(SLOTS + 1):
            with pytest.raises(OSError):
                engine(picture(1))
        assert engine(picture(2))[0, 0, 0] == 253
    finally:
        engine.close(WAIT)
        engine._frames.streams.close()
