"""Engines: one small interface over every way of running a style net.

An engine turns an RGB uint8 frame into a stylized RGB uint8 frame:

    engine.set_style(look)                    # precompute style parameters once
    out = engine(frame, mask)                 # synchronous: HxWx3 uint8 RGB in and out
    engine.submit(frame, mask); out = engine.collect(); engine.close()   # asynchronous

The base class `Engine` holds everything shared per frame: the working size
(realtime/work_size.py), the crossfade between looks, alpha, colour
preservation and the mask. Live controls (alpha, preserve_color,
crossfade_ms, work_pixels) are plain attributes read when a frame is
submitted. A backend implements only these hooks:

    _build(look)          -> a prepared look (its net, its precomputed style)
    _interpolates(a, b), _interpolated(a, b, t)   style-parameter fades between prepared looks
    _upload(frame)        -> the backend's input (stage 1: upload)
    _upload_mask(mask)    -> the mask as a weight on the input's device
    _run(prepared, input) -> the look at full strength, in [0,1] (stage 2: compute)
    _download(output)     -> HxWx3 uint8 RGB (stage 3: download)

Async contract: `submit` returns at once; at most `depth` frames may be in
flight (submitted, not yet collected), a further submit is a programming
error. `collect` blocks for the oldest frame and returns frames in
submission order; an exception raised by any stage for that frame is raised
there. The three stages run in one thread each, so on the CPU the upload of
frame k+1 overlaps the compute of frame k; a GPU backend can put its own
streams and buffers behind the same hooks. `close` discards the frames in
flight (a stage already running finishes its frame) and joins the threads;
the next `submit` starts fresh ones. `__call__` runs the same stages inline.
"""
from __future__ import annotations

import contextlib
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from stylize.errors import UserError
from stylize.models import looks, registry, zoo
from stylize.models.color import COLOR_MODES, luminance_only, match_color
from stylize.realtime import work_size
from stylize.realtime.cuda_frames import CudaStreams, FrameTransfers
from stylize.realtime.cuda_graphs import NetRunner
from stylize.tensors import frame_to_tensor, tensor_to_frame


@dataclass
class Look:
    """What the picture should look like: a fixed fast net, or style images for an arbitrary net."""

    name: str
    method: str  # a fast-net name, or an arbitrary-style method such as "adain"
    style_images: list[np.ndarray] = field(default_factory=list)  # RGB uint8
    style_weights: list[float] | None = None
    style: object | None = None  # precomputed style parameters, used as they are
    builtin: str | None = None  # a built-in look's name (stylize.models.looks): its style, no images needed

    @property
    def is_fast_net(self) -> bool:
        return registry.is_fast(self.method)


def color_mode(preserve_color: bool | str | None) -> str | None:
    """The colour preservation a `preserve_color` value asks for: None (off), "luminance" or "match"."""
    if preserve_color is None or preserve_color is False:
        return None
    if preserve_color is True:
        return "luminance"
    if preserve_color not in COLOR_MODES:
        raise ValueError(f"preserve_color must be None, False, True or one of {COLOR_MODES}, got {preserve_color!r}")
    return preserve_color


def recolor(stylized: torch.Tensor, content: torch.Tensor, preserve_color: bool | str | None) -> torch.Tensor:
    """Keep the content's colours in a stylized picture (NCHW float in [0,1]).

    "luminance" keeps the stylized luminance under the content's chroma;
    "match" moves the stylized picture's RGB mean and covariance onto the
    content's, so it also works for looks without a style image.
    """
    mode = color_mode(preserve_color)
    if mode is None:
        return stylized
    if mode == "luminance":
        return luminance_only(stylized, content)
    return match_color(stylized, content)


def look_style(look: Look, net: torch.nn.Module, device: torch.device | str = "cpu"):
    """The precomputed style of `look` for its arbitrary-style `net`; None for a fast net."""
    if look.is_fast_net:
        return None
    if look.style is not None:
        return look.style
    if look.builtin:
        return looks.style_for(look.builtin, look.method, net)
    if not look.style_images:
        raise UserError(f"method {look.method!r} needs a style image (--style) or a built-in look (--look)")
    return net.style([frame_to_tensor(image, device) for image in look.style_images], look.style_weights)


@dataclass
class Crossfade:
    source: object  # the backend's prepared look faded from
    started: float
    seconds: float


@dataclass(frozen=True)
class _Plan:
    """What one frame gets, fixed when it is submitted: a later control change never reaches a frame in flight."""

    looks: tuple  # prepared looks to run: one, or the two ends of a pixel blend
    fade: float  # how far the pixel blend has gone from looks[0] to looks[1]
    alpha: float
    preserve_color: str | None
    background: object = None  # the prepared look where the mask is 0; None keeps the picture there
    work_pixels: int | None = None  # see realtime/work_size.py; None paints at the frame's size


def _lerp(start, end, weight):
    """start + weight * (end - start) for torch tensors and numpy arrays alike."""
    if isinstance(start, torch.Tensor):
        return torch.lerp(start, end, weight)
    return start + weight * (end - start)


def _recolor(stylized, content, mode: str):
    if isinstance(stylized, np.ndarray):  # colour operations are written once, in torch; this view is free
        return recolor(torch.from_numpy(stylized), torch.from_numpy(content), mode).numpy()
    return recolor(stylized, content, mode)


class Engine(ABC):
    """The shared per-frame logic and the async stages; see the module docstring for the hooks."""

    backend: str = "?"
    # Runs a torch net in the calling thread, so a pass can record or replay normalisation statistics
    # (models/normstats.py); ONNX graphs compute their own.
    shares_stats: bool = False

    def __init__(self, depth: int = 1) -> None:
        self.alpha = 1.0  # 0 gives the input frame exactly; in between, a pixel blend towards the look
        self.preserve_color: bool | str | None = False  # None/False, True or "luminance", "match"
        self.crossfade_ms = 0.0  # a set_style() after the first fades over this long
        self.work_pixels: int | None = None  # paint larger frames at this many pixels (realtime/work_size.py)
        self.look: Look | None = None
        self.clock = time.monotonic  # the crossfade's time base
        self.depth = depth  # frames the async path keeps in flight
        self._current = None  # the prepared look on screen
        self._fade: Crossfade | None = None
        self._background = None  # see set_background
        self._prepared: dict[tuple[str, str], object] = {}
        self._stages: _StageThreads | None = None
        self._in_flight = 0

    def share_cores(self) -> None:
        """Other threads (a mask, the smoother) will need CPU time beside the net: don't hold the cores
        idle between frames. Called before the first frame; most engines have nothing to change."""

    # -- looks -------------------------------------------------------------------
    def set_style(self, look: Look) -> None:
        """Switch to `look`, precomputing whatever it needs (never per frame).

        With `crossfade_ms` > 0 the picture fades from the previous look over
        that time instead of cutting: between two looks of the same arbitrary
        net through their style parameters (one net pass per frame), otherwise
        by blending the two pictures.
        """
        target = self._prepare(look)
        if self._current is not None and self.crossfade_ms > 0 and self._current is not target:
            self._fade = Crossfade(self._fade_source(), self.clock(), self.crossfade_ms / 1000)
        else:
            self._fade = None
        self._current = target
        self.look = look

    def set_background(self, look: Look | None) -> None:
        """Paint where a frame's mask is 0 with `look` instead of keeping the picture (None: keep it).

        With a person mask this is the person in one look and the room in
        another; each frame then costs two net passes.
        """
        self._background = None if look is None else self._prepare(look)

    def _prepare(self, look: Look):
        """The backend's ready-to-run form of `look`, cached so cycling through a look list never recomputes."""
        key = (look.name, look.method)
        cached = self._prepared.get(key)
        if cached is None or cached.look is not look:
            cached = self._prepared[key] = self._build(look)
        return cached

    def _fade_source(self):
        """What the screen shows now, as the start of a new fade."""
        t = self._fade_position()
        if t is None:
            return self._current
        source, current = self._fade.source, self._current
        if self._interpolates(source, current):
            return self._interpolated(source, current, t)
        return current if t >= 0.5 else source  # a pixel blend can only restart from one end

    def _fade_position(self) -> float | None:
        if self._fade is None:
            return None
        t = (self.clock() - self._fade.started) / self._fade.seconds
        if t >= 1.0:
            self._fade = None
            return None
        return max(0.0, t)

    @property
    def fading(self) -> bool:
        """True while a crossfade between two looks is running."""
        return self._fade_position() is not None

    # -- backend hooks -------------------------------------------------------------
    @abstractmethod
    def _build(self, look: Look):
        """Prepare `look` for this backend: load its net, precompute its style. The result has `.look`."""

    @abstractmethod
    def _interpolates(self, a, b) -> bool:
        """Whether a fade from prepared look `a` to `b` can interpolate style parameters."""

    @abstractmethod
    def _interpolated(self, source, target, t: float):
        """A prepared look whose style parameters lie `t` of the way from `source` to `target`."""

    @abstractmethod
    def _upload(self, frame: np.ndarray):
        """HxWx3 uint8 RGB → the backend's input, 1x3xHxW float in [0,1]."""

    @abstractmethod
    def _run(self, prepared, content):
        """`prepared` applied to `content` at full strength, in [0,1], the same type as `content`."""

    @abstractmethod
    def _download(self, output) -> np.ndarray:
        """The backend's output in [0,1] → HxWx3 uint8 RGB."""

    def _upload_mask(self, mask: np.ndarray):
        """HxW float weights → 1x1xHxW, broadcastable against the input."""
        return mask.astype(np.float32)[None, None]

    # -- one frame -------------------------------------------------------------------
    def _plan(self) -> _Plan:
        if self._current is None:
            raise RuntimeError("set_style() must be called before stylizing")
        current, t = self._current, self._fade_position()
        if t is None:
            looks_to_run = (current,)
        elif self._interpolates(self._fade.source, current):
            looks_to_run = (self._interpolated(self._fade.source, current, t),)
        else:
            looks_to_run = (self._fade.source, current)
        return _Plan(looks_to_run, t or 0.0, float(self.alpha), color_mode(self.preserve_color), self._background,
                     self.work_pixels)

    @torch.inference_mode()
    def _compute(self, plan: _Plan, content, weight=None):
        """The frame as planned: crossfade, then alpha, colour and mask, all on the backend's arrays."""
        if plan.alpha == 0.0:
            return content  # exactly the input, whatever the net would reconstruct
        stylized = self._finished(plan, plan.looks, plan.fade, content)
        if weight is not None:
            rest = content if plan.background is None else self._finished(plan, (plan.background,), 0.0, content)
            stylized = _lerp(rest, stylized, weight)
        return stylized

    def _finished(self, plan: _Plan, looks_to_run: tuple, fade: float, content):
        """`looks_to_run` (one, or the two ends of a pixel blend at `fade`) with the plan's alpha and colour."""
        outputs = [self._run(prepared, content) for prepared in looks_to_run]
        stylized = outputs[0] if len(outputs) == 1 else _lerp(outputs[0], outputs[1], fade)
        if plan.alpha != 1.0:
            stylized = _lerp(content, stylized, plan.alpha)
        if plan.preserve_color is not None:
            stylized = _recolor(stylized, content, plan.preserve_color)
        return stylized

    def __call__(self, frame: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Stylize one RGB uint8 frame now; `mask` (HxW float, 1 = stylize) limits where."""
        job = _Job(self._plan(), frame, mask)
        for stage in (self._upload_stage, self._compute_stage, self._download_stage):
            stage(job)
        return job.value

    # -- the asynchronous path ---------------------------------------------------------
    @property
    def in_flight(self) -> int:
        """Frames submitted and not yet collected."""
        return self._in_flight

    def submit(self, frame: np.ndarray, mask: np.ndarray | None = None) -> None:
        """Start stylizing `frame` with the controls as they are now; returns at once.

        The stages read `frame` and `mask` later: leave both unchanged until the frame is collected.
        """
        if self._in_flight >= self.depth:
            raise RuntimeError(f"{self._in_flight} frames in flight already (depth {self.depth}): collect() first")
        job = _Job(self._plan(), frame, mask)
        if self._stages is None:
            self._stages = _StageThreads([self._upload_stage, self._compute_stage, self._download_stage],
                                         f"engine:{self.backend}")
        self._stages.put(job)
        self._in_flight += 1

    def collect(self) -> np.ndarray:
        """The oldest submitted frame, stylized (blocks until it is); re-raises what failed on it."""
        if not self._in_flight:
            raise RuntimeError("collect() without a frame in flight")
        job = self._stages.get()
        self._in_flight -= 1
        if job.error is not None:
            raise job.error
        return job.value

    def close(self, timeout: float | None = None) -> bool:
        """Discard the frames in flight and end the stage threads; False if one outlived `timeout`.

        A stage already working on a frame finishes it first (a net pass cannot
        be cut short). The engine stays usable: the next submit starts new threads.
        """
        stages, self._stages, self._in_flight = self._stages, None, 0
        return stages.close(timeout) if stages is not None else True

    def _upload_stage(self, job: _Job) -> None:
        job.frame = job.value
        shape = work_size.working_shape(*job.frame.shape[:2], job.plan.work_pixels)
        job.small = work_size.shrink(job.frame, shape)
        job.value = self._upload(job.small)
        job.weight = None if job.weight is None else self._upload_mask(work_size.shrink(job.weight, shape))

    def _compute_stage(self, job: _Job) -> None:
        job.value = self._compute(job.plan, job.value, job.weight)

    def _download_stage(self, job: _Job) -> None:
        job.value = work_size.restore(self._download(job.value), job.small, job.frame)


@dataclass
class _Job:
    """One submitted frame on its way through the stages."""

    plan: _Plan
    value: object  # the frame, then the backend's input, its output, the stylized frame
    weight: object = None  # the mask, then its uploaded weight
    error: BaseException | None = None
    frame: np.ndarray | None = None  # the frame as submitted
    small: np.ndarray | None = None  # the frame at its working size (the frame itself when that is its own)


_END = object()  # closes a stage thread's inbox


class _StageThreads:
    """One thread per stage, joined in order by FIFO queues, so consecutive frames overlap."""

    def __init__(self, stages: list[Callable[[_Job], None]], name: str):
        self._queues = [queue.SimpleQueue() for _ in range(len(stages) + 1)]
        self._discard = threading.Event()
        self._threads = [threading.Thread(target=self._work, args=(stage, self._queues[i], self._queues[i + 1]),
                                          name=f"{name}:{stage.__name__.strip('_')}", daemon=True)
                         for i, stage in enumerate(stages)]
        for thread in self._threads:
            thread.start()

    def put(self, job: _Job) -> None:
        self._queues[0].put(job)

    def get(self) -> _Job:
        return self._queues[-1].get()

    def close(self, timeout: float | None) -> bool:
        self._discard.set()
        self._queues[0].put(_END)
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def _work(self, stage: Callable[[_Job], None], inbox: queue.SimpleQueue, outbox: queue.SimpleQueue) -> None:
        while (job := inbox.get()) is not _END:
            if job.error is None and not self._discard.is_set():
                try:
                    stage(job)
                except Exception as exc:  # it belongs to this frame: collect() raises it
                    job.error = exc
            outbox.put(job)
        outbox.put(_END)


@dataclass
class _Prepared:
    """A look made ready to run: its net and (for arbitrary nets) its precomputed style."""

    look: Look
    net: torch.nn.Module
    style: object | None = None  # the net's style parameters; has .lerp(other, t)


@dataclass(frozen=True)
class CudaOptions:
    """How TorchEngine runs on a CUDA device (realtime/cuda_frames.py, realtime/cuda_graphs.py)."""

    precision: str = "bf16"  # bf16, fp16 or fp32 (autocast)
    graphs: bool = True  # a CUDA graph per input shape, captured after warm-up
    compile: bool = False  # torch.compile each net (slow to start: seconds per shape)
    scale: float = 1.0  # the net runs at this fraction of the frame's size, resized on the device
    bgr: bool = False  # frames in and out are BGR (OpenCV's order); swapped on the device


class TorchEngine(Engine):
    """Fast nets and arbitrary-style nets with torch, on the CPU or a CUDA device.

    On CUDA, frames cross the bus as uint8 through two pinned buffers on their
    own streams, are converted on the device, and the net runs in bf16,
    channels_last, from a CUDA graph per input shape (`cuda` sets this up);
    two frames are in flight by default. `streams` replaces the CUDA streams:
    `cuda_frames.HostStreams()` runs the same staged path on the CPU.
    """

    backend = "torch"
    shares_stats = True

    def __init__(self, device: str = "cpu", nets: dict[str, torch.nn.Module] | None = None,
                 depth: int | None = None, cuda: CudaOptions | None = None, streams=None):
        """`nets` maps method names to ready nets (e.g. one built in memory); others load from weights.
        `depth`: frames in flight on the async path (default 2 on CUDA, where transfers overlap compute, else 1).
        """
        self.device = torch.device(device)
        staged = self.device.type == "cuda" or streams is not None
        if cuda is not None and not staged:
            raise UserError(f"CUDA engine options need a CUDA device, not {self.device}")
        super().__init__(depth or (2 if staged else 1))
        self.cuda = (cuda or CudaOptions()) if staged else None
        self._frames = self._runner = None
        if staged:
            self._frames = FrameTransfers(streams or CudaStreams(self.device), bgr=self.cuda.bgr)
            self._runner = NetRunner(self.cuda.precision, self.cuda.graphs, self.cuda.compile, self.cuda.scale)
        self._nets: dict[str, torch.nn.Module] = {}
        for name, net in (nets or {}).items():
            self._nets[name] = self._ready(net)

    def close(self, timeout: float | None = None) -> bool:
        closed = super().close(timeout)
        if closed and self._frames is not None:
            self._frames.reset()  # frames discarded between two stages held on to their buffers
        return closed

    @property
    def graph_status(self) -> dict[str, str]:
        """Per input shape ("WxH"): "graph", or "eager: why"; empty off CUDA or before any capture."""
        return dict(self._runner.status) if self._runner is not None else {}

    def _ready(self, net: torch.nn.Module) -> torch.nn.Module:
        net = net.to(self.device).eval()
        return self._runner.prepare(net) if self._runner is not None else net

    def _net(self, method: str) -> torch.nn.Module:
        if method not in self._nets:
            self._nets[method] = self._ready(zoo.load(method))
        return self._nets[method]

    @torch.inference_mode()
    def _build(self, look: Look) -> _Prepared:
        net = self._net(look.method)
        prepared = _Prepared(look, net, look_style(look, net, self.device))
        if self.device.type == "cuda":
            torch.cuda.current_stream(self.device).synchronize()  # the compute stream reads this style
        return prepared

    def computing(self):
        """A block with the compute stream current (on CUDA): work in it is ordered with the frames'."""
        return self._frames.streams.computing() if self._frames is not None else contextlib.nullcontext()

    @torch.inference_mode()
    def device_pass(self, content: torch.Tensor) -> torch.Tensor:
        """The current look's net alone on a 1x3xHxW tensor in [0,1] already on the device (no transfers,
        no blending), on the compute stream: what a benchmark times to see the net's own cost."""
        if self._current is None:
            raise RuntimeError("set_style() must be called before stylizing")
        with self.computing():
            return self._run(self._current, content)

    def _interpolated(self, source: _Prepared, target: _Prepared, t: float) -> _Prepared:
        with self.computing():  # after the frames already queued, before the ones that use it
            return _Prepared(target.look, target.net, source.style.lerp(target.style, t))

    @staticmethod
    def _interpolates(a: _Prepared, b: _Prepared) -> bool:
        return a.style is not None and b.style is not None and a.net is b.net

    def _upload(self, frame: np.ndarray):
        if self._frames is not None:
            return self._frames.upload(frame)
        return frame_to_tensor(frame, self.device)

    def _upload_mask(self, mask: np.ndarray):
        if self._frames is not None:
            return self._frames.upload_mask(mask)
        return torch.from_numpy(mask.astype(np.float32)).to(self.device)[None, None]

    def _compute(self, plan: _Plan, content, weight=None):
        if self._frames is None:
            return super()._compute(plan, content, weight)
        frames = self._frames
        with frames.streams.computing(), torch.inference_mode():
            x = frames.to_input(content)
            return frames.to_output(super()._compute(plan, x, None if weight is None else frames.mask_input(weight)))

    def _run(self, prepared: _Prepared, content: torch.Tensor) -> torch.Tensor:
        if self._runner is not None:
            return self._runner(prepared.net, content, prepared.style)
        if prepared.style is None:  # fast nets take and give 0-255
            return prepared.net(content * 255).div_(255).clamp_(0, 1)
        return prepared.net(content, prepared.style).clamp_(0, 1)

    def _download(self, output) -> np.ndarray:
        if self._frames is not None:
            return self._frames.download(output)
        return tensor_to_frame(output)
