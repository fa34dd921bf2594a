"""The live path: source thread → latest-frame slot → engine loop → one thread per sink.

    Source thread ──slot──▶ engine loop ──▶ sink thread ─▶ preview / writer / stream / vcam
                                        └─▶ sink thread ─▶ ...

With a mask, a mask thread sits between the source and the engine loop; with
temporal smoothing, a smoothing thread sits between the engine loop and the
sinks, so each stage works on its own frame while the net paints the next one.

Two modes:
  - live: every hand-over is a one-slot `LatestSlot`. A slow stage never
    builds a backlog: the stage before it overwrites the unread frame and the
    slot counts a drop. Latency stays about one frame of the slowest stage.
  - file (file → file): the source and the `lossless` sinks are connected by
    small blocking queues, so every frame arrives, in order. Other sinks (a
    preview) still get a latest slot and may skip frames.

The engine loop keeps up to `engine.depth` frames in the engine
(submit/collect), so a GPU engine can upload one frame while computing
another; outputs keep their source frame's index, pts and capture time.

Shutdown: quit (window, q/Esc, OSC), Ctrl-C or SIGTERM, `duration`, end of stream or a
lost source all end in the same place: the source stops, the engine loop
hands on its frames in flight (end of stream) or drops them (any other stop),
each sink thread drains or stops, finalises its sink, and
every thread is joined with a timeout, so a stuck device cannot hang the exit.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stylize.imageio import write_atomic
from stylize.realtime.controls import Controls
from stylize.realtime.engines import Engine, Look
from stylize.realtime.frames import Frame, LatestSlot
from stylize.realtime.sinks import Sink
from stylize.realtime.sources import EndOfStream, Source, SourceLost
from stylize.realtime.temporal import TemporalSmoother

POLL = 0.05  # how often a stage waiting for room in a full file-mode queue looks up for a stop, seconds
MAIN_POLL = 0.1  # how often the main thread checks for quit and --duration, seconds
FILE_QUEUE = 4  # frames buffered between stages in file mode: enough to overlap decode and encode
FINALISE_TIMEOUT = 60.0  # seconds a lossless (file mode) writer may take to finish its file
HUD_WINDOW = 2.0  # seconds of history behind the live fps and latency figures
HUD_EVERY = 0.25  # seconds between stats updates for the HUD

log = logging.getLogger("stylize")


class StopReason:
    END_OF_STREAM = "end of stream"
    SOURCE_LOST = "source lost"
    QUIT = "quit"
    DURATION = "duration reached"
    INTERRUPTED = "interrupted"
    FAILED = "failed"


@dataclass
class StageStats:
    """Frames through one stage, when they passed and (for sinks) how old they were."""

    name: str
    frames: int = 0
    drops: int = 0
    busy_s: float = 0.0  # time spent working (engine: stylizing; sink: writing)
    first_at: float | None = None
    last_at: float | None = None
    latencies_ms: list[float] = field(default_factory=list)
    recent: deque = field(default_factory=lambda: deque(maxlen=512))  # (time, latency_ms)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, now: float, busy_s: float = 0.0, latency_ms: float | None = None) -> None:
        with self.lock:
            self.frames += 1
            self.busy_s += busy_s
            self.first_at = now if self.first_at is None else self.first_at
            self.last_at = now
            if latency_ms is not None:
                self.latencies_ms.append(latency_ms)
            self.recent.append((now, latency_ms))

    def live(self, now: float) -> tuple[float, float, float]:
        """fps, latency p50 and p95 (ms) over the last HUD_WINDOW seconds."""
        with self.lock:
            window = [(t, lat) for t, lat in self.recent if now - t <= HUD_WINDOW]
        if len(window) < 2:
            return 0.0, 0.0, 0.0
        span = window[-1][0] - window[0][0]
        fps = (len(window) - 1) / span if span > 0 else 0.0
        latencies = [lat for _, lat in window if lat is not None]
        p50, p95 = _percentiles(latencies)
        return fps, p50, p95

    def summary(self) -> dict:
        with self.lock:
            span = (self.last_at - self.first_at) if self.frames > 1 else 0.0
            p50, p95 = _percentiles(self.latencies_ms)
            out = {"frames": self.frames, "drops": self.drops,
                   "fps": round((self.frames - 1) / span, 3) if span > 0 else 0.0,
                   "busy_ms_per_frame": round(1000 * self.busy_s / self.frames, 3) if self.frames else 0.0}
            if self.latencies_ms:
                out.update(latency_ms_p50=round(p50, 3), latency_ms_p95=round(p95, 3),
                           latency_ms_max=round(max(self.latencies_ms), 3))
            return out


def _percentiles(values: Sequence[float]) -> tuple[float, float]:
    if not values:
        return 0.0, 0.0
    p50, p95 = np.percentile(np.asarray(values, dtype=np.float64), [50, 95])
    return float(p50), float(p95)


class _Channel:
    """A hand-over between two stages: a latest slot (may drop) or a bounded FIFO (never drops).

    Readers block until an item comes or the channel is closed; they never
    poll, so idle stages cost nothing and do not wake up the cores the net uses.
    """

    def __init__(self, lossless: bool):
        self.lossless = lossless
        self._slot = None if lossless else LatestSlot()
        self._items: deque = deque()
        self._cond = threading.Condition()
        self._closed = False

    @property
    def drops(self) -> int:
        return self._slot.drops if self._slot is not None else 0

    def put(self, item, stop: threading.Event) -> bool:
        """Hand `item` over; a lossless channel waits for room. False if stopped or closed first."""
        if self._slot is not None:
            self._slot.put(item)
            return True
        with self._cond:
            while len(self._items) >= FILE_QUEUE and not self._closed:
                if stop.is_set():
                    return False
                self._cond.wait(POLL)  # only under back-pressure: look up for a stop now and then
            if self._closed:
                return False
            self._items.append(item)
            self._cond.notify_all()
            return True

    def get(self):
        """The next item; None once the channel is closed and empty."""
        if self._slot is not None:
            return self._slot.get(None)
        with self._cond:
            self._cond.wait_for(lambda: self._items or self._closed)
            if not self._items:
                return None
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def close(self) -> None:
        """No more items will come; readers get what is there, then None."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._slot is not None:
            self._slot.close()


class _Stage:
    """Per-frame work on its own thread: each item of `inbox`, in order, through `work`, then to `emit`.

    `emit` returns False when the run is stopping; `stop` also ends the loop
    between two items (frames still queued are dropped), and `on_error` hears
    what failed. `recent_ms` keeps the last costs for the HUD.
    """

    def __init__(self, name: str, work: Callable, inbox: _Channel, emit: Callable[[object], bool],
                 stop: threading.Event, on_error: Callable[[Exception], None], on_end: Callable[[], None]):
        self.work, self.inbox, self._emit = work, inbox, emit
        self._stop, self._on_error, self._on_end = stop, on_error, on_end
        self.stats = StageStats(name)
        self.recent_ms: deque[float] = deque(maxlen=30)
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        try:
            while (item := self.inbox.get()) is not None and not self._stop.is_set():
                started = time.monotonic()
                result = self.work(item)
                now = time.monotonic()
                self.stats.record(now, now - started)
                self.recent_ms.append(1000 * (now - started))
                if not self._emit(result):
                    break
        except Exception as exc:
            self._on_error(exc)
        finally:
            self._on_end()


class _MaskStage(_Stage):
    """The mask of each frame, on its own thread between the source and the engine loop.

    So the mask of frame N+1 is computed while the engine stylizes frame N,
    not in front of it. Hands (frame, mask) pairs on through a channel like
    the others (a latest slot live, a bounded FIFO in file mode).
    """

    def __init__(self, mask: Callable[[np.ndarray], np.ndarray], inbox: _Channel, lossless: bool,
                 stop: threading.Event, on_error: Callable[[Exception], None]):
        self.mask, self.outbox = mask, _Channel(lossless)
        super().__init__("mask", lambda frame: (frame, mask(frame.image)), inbox,
                         lambda pair: self.outbox.put(pair, stop), stop, on_error, self.outbox.close)

    def status(self) -> str:
        """The mask's kind and its recent cost per frame, for the HUD."""
        recent = list(self.recent_ms)
        cost = f"{sum(recent) / len(recent):.1f} ms" if recent else "..."
        return f"mask {self.label}: {cost}"

    @property
    def label(self) -> str:
        """What the mask is and where it runs, e.g. "person (onnxruntime CPU, 2 threads)"."""
        return getattr(self.mask, "label", "custom")


class _SinkWorker:
    """One sink in its own thread, fed by its own channel."""

    def __init__(self, sink: Sink, lossless: bool, stats: StageStats, on_error: Callable[[Sink, Exception], None]):
        self.sink = sink
        self.channel = _Channel(lossless)
        self.stats = stats
        self._on_error = on_error
        self._abort = threading.Event()  # stop without draining (quit, Ctrl-C, errors)
        self.ended_normally = False
        self.failed = False  # the run ended by an error: the sink is told before it closes
        self.thread = threading.Thread(target=self._run, name=f"sink:{sink.name}", daemon=True)

    def _run(self) -> None:
        try:
            while not self._abort.is_set():
                frame = self.channel.get()
                if frame is None:  # closed and drained
                    break
                started = time.monotonic()
                self.sink.write(frame)
                now = time.monotonic()
                self.stats.record(now, now - started, 1000 * (now - frame.captured_at))
            if self.ended_normally and not self._abort.is_set():
                self.sink.end_of_stream()
        except Exception as exc:  # one broken sink ends the run, with its reason
            self.failed = True
            self._on_error(self.sink, exc)
        finally:
            self.stats.drops = self.channel.drops
            if self.failed:
                self.sink.run_failed()
            self._close_sink()

    def _close_sink(self) -> None:
        try:
            self.sink.close()
        except Exception as exc:
            self._on_error(self.sink, exc)

    def finish(self, drain: bool, failed: bool = False) -> None:
        """Tell the thread to end: after the frames already handed over (drain) or at once; `failed`: by an error."""
        self.ended_normally = drain
        self.failed = self.failed or failed
        if not drain:
            self._abort.set()
        self.channel.close()


@dataclass
class RunResult:
    reason: str  # one of StopReason
    message: str = ""  # what went wrong, for SOURCE_LOST and FAILED
    error: BaseException | None = None  # the exception behind FAILED
    stats: dict = field(default_factory=dict)


class Pipeline:
    """Runs `source` through `engine` into `sinks` until something stops it; see the module docstring.

    `looks` are what the controls cycle through (the engine starts on
    `controls.look_index`). `mask` turns a frame into an HxW weight map (1 =
    stylize). `recorder` makes a new recording sink each time recording is
    switched on from the controls (the sink given the frame size at open).
    `smoothing` (realtime/temporal.py) blends each stylized frame with the
    previous one along the flow, told which look painted it and whether a crossfade ran.
    """

    def __init__(self, source: Source, engine: Engine, looks: Sequence[Look], sinks: Sequence[Sink] = (),
                 *, controls: Controls | None = None, lossless: bool = False,
                 mask: Callable[[np.ndarray], np.ndarray] | None = None, duration: float | None = None,
                 recorder: Callable[[], Sink] | None = None, join_timeout: float = 5.0,
                 smoothing: TemporalSmoother | None = None):
        if not looks:
            raise ValueError("Pipeline needs at least one look")
        self.source = source
        self.engine = engine
        self.looks = list(looks)
        self.controls = controls or Controls([look.name for look in looks], alpha=engine.alpha,
                                             preserve_color=engine.preserve_color, backend=engine.backend)
        self.lossless = lossless
        self.mask = mask
        self.duration = duration
        self.recorder = recorder
        self.smoothing = smoothing
        self.join_timeout = join_timeout
        self.sinks = list(sinks)
        self._stop = threading.Event()  # every thread's signal to end
        self._done = threading.Event()  # the engine loop has finished
        self._lock = threading.Lock()
        self._result: RunResult | None = None
        self._signalled = False  # SIGINT or SIGTERM arrived during run()
        self._input = _Channel(lossless)
        self._masks = None if mask is None else _MaskStage(mask, self._input, lossless, self._stop,
                                                                 self._mask_failed)
        self._feed = self._input if self._masks is None else self._masks.outbox  # what the engine loop reads
        # The smoother blends frame N while the net paints N+1; one thread, so the frames keep their order.
        self._smoother = None if smoothing is None else _Stage(
            "smoothing", self._smooth, _Channel(lossless), self._hand_out, self._stop, self._smoothing_failed,
            lambda: None)
        if self._masks is not None or self._smoother is not None:
            engine.share_cores()
        self._workers: list[_SinkWorker] = []  # the sinks the engine feeds now
        self._all_workers: list[_SinkWorker] = []  # including recordings already switched off
        self._recording: _SinkWorker | None = None
        self._held: tuple[np.ndarray, np.ndarray | None] | None = None  # picture and mask kept while frozen
        self.source_stats = StageStats("source")
        self.engine_stats = StageStats("engine")
        self._started_at = 0.0
        self._ended_at = 0.0
        self._published_at = 0.0
        self._source_thread = threading.Thread(target=self._read_source, name="source", daemon=True)
        self._engine_thread = threading.Thread(target=self._engine_loop, name="engine", daemon=True)

    # -- running ---------------------------------------------------------------
    def run(self) -> RunResult:
        """Open the sinks, run until stopped, shut everything down.

        Run from the main thread, SIGINT (Ctrl-C) and SIGTERM are a clean stop.
        Their handler only asks the main loop to stop, so no signal, however
        many arrive and whenever, can cut the finalising of a file short.
        """
        with _stop_signals(self._on_signal):
            self._start()
            while not self._done.wait(MAIN_POLL):
                if self._signalled:
                    self._finish(StopReason.INTERRUPTED)
                elif self.controls.quit_requested.is_set():
                    self._finish(StopReason.QUIT)
                elif self.duration is not None and time.monotonic() - self._started_at >= self.duration:
                    self._finish(StopReason.DURATION)
            if self._signalled:  # a signal during the last frames still means the run was cut short
                self._finish(StopReason.INTERRUPTED)
            return self._shut_down()

    def _start(self) -> None:
        """Open everything before any thread starts, so a bad output fails cleanly; then start the threads."""
        self._apply_controls(first=True)
        size = (self.source.width, self.source.height, self.source.fps)
        opened: list[Sink] = []
        try:
            for sink in self.sinks:
                sink.open(*size)
                opened.append(sink)
            first_recording = self._new_recording() if self.controls.recording and self.recorder else None
        except BaseException:
            for sink in opened:
                sink.close()
            raise
        for sink in self.sinks:
            self._add_worker(sink)
        if first_recording is not None:
            self._recording = self._add_worker(first_recording)
        self._started_at = time.monotonic()
        self._source_thread.start()
        for stage in self._stages:
            stage.thread.start()
        self._engine_thread.start()

    def _on_signal(self, signum, frame) -> None:
        # Runs in the main thread between two bytecodes, possibly inside _finish (which holds
        # self._lock): so it only sets a flag, which the main loop reads.
        self._signalled = True

    def stop(self, reason: str = StopReason.QUIT) -> None:
        """Ask a running pipeline to stop (from any thread)."""
        self._finish(reason)

    def _finish(self, reason: str, message: str = "", error: BaseException | None = None) -> None:
        """Record why the run ends (the first reason wins) and stop everything."""
        with self._lock:
            if self._result is None:
                self._result = RunResult(reason, message, error)
        self._stop.set()
        self.source.interrupt()
        self._input.close()
        self._feed.close()
        if self._smoother is not None:
            self._smoother.inbox.close()

    @property
    def _stages(self) -> list[_Stage]:
        """The threads beside the engine loop (mask, smoothing), in the frames' order."""
        return [stage for stage in (self._masks, self._smoother) if stage is not None]

    def _shut_down(self) -> RunResult:
        # All joins share one deadline: a stuck device delays the exit by join_timeout at most.
        # The sinks come before the source: a source stuck in a driver call must not
        # use up the time the writers need to finalise their files.
        deadline = time.monotonic() + self.join_timeout
        _join(self._engine_thread, deadline)
        stages = [stage.thread for stage in self._stages]
        # After end of stream in file mode the smoothing thread still holds the last few frames of the
        # file: they go to the writers before these finish, given the time a writer gets for its trailer.
        handing_on = self.lossless and self._result is None
        for thread in stages:
            _join(thread, max(deadline, time.monotonic() + FINALISE_TIMEOUT) if handing_on else deadline)
        # After end of stream the sinks drain what they were given; otherwise they stop at once.
        drain = self._result is None
        failed = not drain and self._result.reason in (StopReason.FAILED, StopReason.SOURCE_LOST)
        workers = list(self._all_workers)
        for worker in workers:
            worker.finish(drain, failed)
        for worker in workers:  # each sink thread finalises its own sink before it ends
            # A file written frame by frame is the run's product: give its trailer time.
            _join(worker.thread, max(deadline, time.monotonic() + FINALISE_TIMEOUT) if worker.channel.lossless
                  else deadline)
        _join(self._source_thread, deadline)
        try:
            self.source.close()
        except Exception as exc:  # the source is gone anyway; don't hide why we stopped
            log.debug("closing %s failed: %s", self.source.name, exc)
        self._ended_at = time.monotonic()
        result = self._result or RunResult(StopReason.END_OF_STREAM)
        result.stats = self.stats()
        result.stats["stopped"] = result.reason
        stuck = [t.name for t in (self._engine_thread, *stages, self._source_thread, *(w.thread for w in workers))
                 if t.is_alive()]
        if stuck:
            result.stats["threads_not_joined"] = stuck
        return result

    # -- stages -----------------------------------------------------------------
    def _read_source(self) -> None:
        try:
            while not self._stop.is_set():
                frame = self.source.read()
                self.source_stats.record(frame.captured_at)
                if not self._input.put(frame, self._stop):
                    break
        except EndOfStream:
            pass  # normal: the engine drains the input, then the run ends
        except SourceLost as exc:
            self._finish(StopReason.SOURCE_LOST, str(exc))
        except Exception as exc:
            self._finish(StopReason.FAILED, f"{self.source.name}: {exc}", exc)
        finally:
            self._input.close()  # the engine drains what is left, then ends

    def _engine_loop(self) -> None:
        # Up to engine.depth frames are in the engine at once; each keeps its Frame (index, pts,
        # capture time) and the picture it was given, so the output pairs with the right metadata.
        in_flight: deque[tuple[Frame, np.ndarray, float, tuple]] = deque()
        try:
            while True:
                item = self._feed.get()
                if item is None or self._stop.is_set():  # end of stream, or stopping
                    break
                frame, weights = item if self._masks is not None else (item, None)
                self._apply_controls()
                image, weights = self._picture(frame, weights)
                started = time.monotonic()
                painted = (self.engine.look, self.engine.fading)  # read before submit plans the frame: no fade missed
                self.engine.submit(image, weights)
                in_flight.append((frame, image, time.monotonic() - started, painted))
                if len(in_flight) >= self.engine.depth:
                    self._deliver(*in_flight.popleft())
            while in_flight and not self._stop.is_set():  # end of stream: every frame goes out
                self._deliver(*in_flight.popleft())
        except Exception as exc:
            self._finish(StopReason.FAILED, f"stylizing failed: {exc}", exc)
        finally:
            # Frames still in flight when stopping are dropped; a stage stuck in a device call is left behind.
            if not self.engine.close(self.join_timeout):
                log.warning("stylize: the engine did not stop within %g s", self.join_timeout)
            if self._smoother is not None:
                self._smoother.inbox.close()  # it hands on what it was given, then ends
            self._done.set()

    def _picture(self, frame: Frame, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        """The picture to stylize and its mask: the frame's, or the held ones while frozen."""
        if not (self.controls.frozen and self._held is not None):
            # The mask is held with its picture; the held picture is still restylized, so look and alpha
            # changes show.
            self._held = (frame.image, weights)
        return self._held

    def _mask_failed(self, exc: Exception) -> None:
        self._finish(StopReason.FAILED, f"mask failed: {exc}", exc)

    def _deliver(self, frame: Frame, image: np.ndarray, submit_s: float, painted: tuple) -> None:
        """Collect the oldest frame in flight and hand it on: to the smoothing thread, or to every sink."""
        started = time.monotonic()
        stylized = self.engine.collect()
        now = time.monotonic()
        self.engine_stats.record(now, submit_s + now - started)  # the time the engine held this loop up
        out = Frame(stylized, frame.index, frame.captured_at, frame.pts, original=image)
        if self._smoother is not None:
            self._smoother.inbox.put((out, painted), self._stop)
        else:
            self._hand_out(out)

    def _smooth(self, item: tuple[Frame, tuple]) -> Frame:
        """The smoothing thread's work: the frame to show, given which look painted it and whether it faded."""
        out, painted = item
        return dataclasses.replace(out, image=self.smoothing(out.original, out.image, *painted))

    def _hand_out(self, out: Frame) -> bool:
        """Give `out` to every sink (and the HUD its figures now and then); False once the run is stopping."""
        for worker in list(self._workers):
            worker.channel.put(out, self._stop)
        now = time.monotonic()
        if now - self._published_at >= HUD_EVERY:
            self._publish(now)
        return not self._stop.is_set()

    def _smoothing_failed(self, exc: Exception) -> None:
        self._finish(StopReason.FAILED, f"temporal smoothing failed: {exc}", exc)

    def _apply_controls(self, first: bool = False) -> None:
        controls, engine = self.controls, self.engine
        engine.alpha = controls.alpha
        engine.preserve_color = controls.preserve_color
        look = self.looks[controls.look_index]
        if first:
            engine.crossfade_ms = 0.0
            for other in self.looks:  # load every net and style now, not on stage at the first switch
                engine.set_style(other)
            engine.set_style(look)
        elif engine.look is not look:
            engine.crossfade_ms = controls.crossfade_ms
            engine.set_style(look)
        if not first and self.recorder is not None and controls.recording != (self._recording is not None):
            self._toggle_recording()

    def _toggle_recording(self) -> None:
        if self._recording is None:
            try:
                sink = self._new_recording()
            except Exception as exc:  # a failed recording must not end the show
                log.warning("stylize: cannot record: %s", exc)
                self.controls.recording = False
                return
            self._recording = self._add_worker(sink)
        else:
            worker, self._recording = self._recording, None
            self._workers.remove(worker)
            worker.finish(drain=True)  # its thread finalises the file

    def _new_recording(self) -> Sink:
        sink = self.recorder()
        sink.open(self.source.width, self.source.height, self.source.fps)
        return sink

    def _add_worker(self, sink: Sink) -> _SinkWorker:
        lossless = self.lossless and sink.lossless
        name = f"sink:{sink.name}"
        if any(w.stats.name == name for w in self._all_workers):  # e.g. a second recording
            name = f"{name}#{len(self._all_workers)}"
        worker = _SinkWorker(sink, lossless, StageStats(name), self._sink_failed)
        self._workers.append(worker)
        self._all_workers.append(worker)
        worker.thread.start()
        return worker

    def _sink_failed(self, sink: Sink, exc: Exception) -> None:
        self._finish(StopReason.FAILED, f"{sink.name}: {exc}", exc)

    # -- stats --------------------------------------------------------------------
    def _publish(self, now: float) -> None:
        """Headline figures for the HUD: the first sink's view (or the engine's without sinks)."""
        self._published_at = now
        stage = self._workers[0].stats if self._workers else self.engine_stats
        fps, p50, p95 = stage.live(now)
        if not self._workers:
            p50 = p95 = 0.0
        self.controls.publish_stats(fps, p50, p95, self.drops)
        if self._masks is not None:
            self.controls.mask_status = self._masks.status()

    @property
    def drops(self) -> int:
        between = [stage.outbox if stage is self._masks else stage.inbox for stage in self._stages]
        return self._input.drops + sum(c.drops for c in between) + sum(w.channel.drops for w in self._all_workers)

    def stats(self) -> dict:
        """Per-stage figures (what --stats writes); callable while running."""
        self.source_stats.drops = self._input.drops
        end = self._ended_at or time.monotonic()
        stages = {"source": self.source_stats.summary(), "engine": self.engine_stats.summary()}
        if self._masks is not None:
            stages["mask"] = {"kind": self._masks.label, **self._masks.stats.summary()}
        if self._smoother is not None:
            self._smoother.stats.drops = self._smoother.inbox.drops
            stages["smoothing"] = self._smoother.stats.summary()
        for worker in list(self._all_workers):
            worker.stats.drops = worker.channel.drops
            stages[worker.stats.name] = worker.stats.summary()
        result = {
            "mode": "file" if self.lossless else "live",
            "source": self.source.name,
            "size": [self.source.width, self.source.height],
            "backend": self.engine.backend,
            "look": self.controls.look_name,
            "seconds": round(max(0.0, end - self._started_at), 3) if self._started_at else 0.0,
            "drops": self.drops,
            "stages": stages,
        }
        if self._smoother is not None:
            result["temporal_smoothing"] = self.smoothing.summary()
        if self._result is not None:
            result["stopped"] = self._result.reason
            if self._result.message:
                result["message"] = self._result.message
        return result


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def _stop_signals(handler: Callable):
    """SIGINT and SIGTERM go to `handler` inside the block (main thread only; an ignored signal stays ignored)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be changed from the main thread
        return
    previous = {}
    for number in STOP_SIGNALS:
        if signal.getsignal(number) is not signal.SIG_IGN:
            previous[number] = signal.signal(number, handler)
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def _join(thread: threading.Thread, deadline: float) -> None:
    if thread.ident is not None:  # never started when opening failed
        thread.join(max(0.0, deadline - time.monotonic()))


def write_stats(path: str | Path, stats: dict) -> None:
    write_atomic(path, (json.dumps(stats, indent=2) + "\n").encode())
