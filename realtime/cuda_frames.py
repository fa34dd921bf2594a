"""Frames to and from a CUDA device through two pinned host buffers, ordered by events across three streams.

    streams = CudaStreams(torch.device("cuda"))
    frames = FrameTransfers(streams)
    up = frames.upload(rgb)                  # host -> pinned buffer -> device, on the upload stream
    with streams.computing():
        x = frames.to_input(up)              # uint8 HxWx3 -> float 1x3xHxW in [0,1], on the compute stream
        done = frames.to_output(net(x))      # float -> uint8 HxWx3 in a device buffer
    rgb_out = frames.download(done)          # device -> pinned buffer -> a host array, on the download stream

Each call may come from its own thread (the engine's stage threads), so
frame N+1 uploads while frame N computes and frame N-1 downloads. Only uint8
crosses the bus; conversion, normalisation and the channel swap (`bgr=True`
takes and gives OpenCV's BGR) run on the device.

Buffers come in rings of two slots. A slot is handed back by the stage that
last reads it: an input slot by the compute stage once its conversion is
enqueued, an output slot by the download stage once its copy reached the
host. Before a slot's buffers are written again, the host waits for the
event of the copy out of its host buffer, and the writing stream waits for
the event of the last read of its device buffer, so nothing is overwritten
while a stream still reads it. A frame whose copy failed still hands its
slot back (the error is raised for that frame only), and `reset` gives
fresh rings after the engine closed with frames between two stages.

The streams are behind a small interface (`CudaStreams`); `HostStreams`
runs the two copy streams as CPU threads with an optional slowdown, so the
ordering can be tested without a GPU.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch

SLOTS = 2  # pinned host buffers each way: one being filled or drained while the other is in flight
_SCALE = 1 / 255  # the same multiply as stylize.tensors, so both paths give the same floats


class CudaStreams:
    """An upload, a compute and a download stream on one CUDA device, with events between them."""

    def __init__(self, device: torch.device):
        self.device = device
        self.upload = torch.cuda.Stream(device)
        self.compute = torch.cuda.Stream(device)
        self.download = torch.cuda.Stream(device)

    def host_buffer(self, shape: tuple[int, ...], dtype: torch.dtype = torch.uint8) -> torch.Tensor:
        return torch.empty(shape, dtype=dtype, pin_memory=True)

    def device_buffer(self, shape: tuple[int, ...], dtype: torch.dtype = torch.uint8) -> torch.Tensor:
        return torch.empty(shape, dtype=dtype, device=self.device)

    def copy(self, which: str, dst: torch.Tensor, src: torch.Tensor, after=()) -> torch.cuda.Event:
        """Enqueue dst <- src on the `which` ("upload" or "download") stream after the events `after`."""
        stream = getattr(self, which)
        with torch.cuda.stream(stream), torch.inference_mode():  # the buffers may be inference tensors
            for event in after:
                if event is not None:
                    stream.wait_event(event)
            dst.copy_(src, non_blocking=True)
            done = torch.cuda.Event()
            done.record(stream)
        return done

    def computing(self):
        """Make the compute stream current in this thread for the block."""
        return torch.cuda.stream(self.compute)

    def compute_after(self, event, guard: bool = False) -> None:
        """The compute stream waits for `event` (`guard`: another frame's, whose errors are not ours)."""
        if event is not None:
            self.compute.wait_event(event)

    def compute_mark(self) -> torch.cuda.Event:
        event = torch.cuda.Event()
        event.record(self.compute)
        return event

    def adopt(self, tensor: torch.Tensor) -> None:
        """Keep `tensor`'s memory from being reused while the compute stream may still read it."""
        tensor.record_stream(self.compute)

    def synchronize(self) -> None:
        for stream in (self.upload, self.compute, self.download):
            stream.synchronize()


class HostEvent:
    """An event a CPU thread sets: the CPU stand-in for torch.cuda.Event."""

    def __init__(self, done: bool = False):
        self._flag = threading.Event()
        self.error: BaseException | None = None  # what the work behind it raised
        if done:
            self._flag.set()

    def set(self, error: BaseException | None = None) -> None:
        self.error = error
        self._flag.set()

    def query(self) -> bool:
        return self._flag.is_set()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the work, whatever it raised (the frame it belonged to raises that)."""
        if not self._flag.wait(timeout):
            raise TimeoutError("a copy never finished")

    def synchronize(self, timeout: float | None = None) -> None:
        self.wait(timeout)
        if self.error is not None:
            raise self.error


class HostStreams:
    """The CPU stand-in for CudaStreams: the upload and download streams are threads that copy in order.

    The compute stream is whoever calls (it waits for events on the host).
    `slow_copy(which, dst, src)` runs before each copy: a test makes copies
    slow or holds them there, and notes their order.
    """

    def __init__(self, slow_copy: Callable[[str, torch.Tensor, torch.Tensor], None] | None = None):
        self.device = torch.device("cpu")
        self.slow_copy = slow_copy
        self._inboxes = {"upload": queue.SimpleQueue(), "download": queue.SimpleQueue()}
        self._threads = [threading.Thread(target=self._work, args=(which,), name=f"fake-{which}", daemon=True)
                         for which in self._inboxes]
        for thread in self._threads:
            thread.start()

    def host_buffer(self, shape, dtype=torch.uint8) -> torch.Tensor:
        return torch.empty(shape, dtype=dtype)

    device_buffer = host_buffer

    def copy(self, which: str, dst, src, after=()) -> HostEvent:
        done = HostEvent()
        self._inboxes[which].put((dst, src, tuple(after), done))
        return done

    def computing(self):
        return nullcontext()

    def compute_after(self, event, guard: bool = False) -> None:
        if event is not None:
            event.wait() if guard else event.synchronize()

    def compute_mark(self) -> HostEvent:
        return HostEvent(done=True)  # the host computes synchronously: done when marked

    def adopt(self, tensor) -> None:
        pass

    def synchronize(self) -> None:
        """Wait for the copies queued so far."""
        for which in self._inboxes:
            self.copy(which, None, None).synchronize()  # a marker: done once the copies before it are

    def close(self) -> None:
        for inbox in self._inboxes.values():
            inbox.put(None)
        for thread in self._threads:
            thread.join()

    def _work(self, which: str) -> None:
        while (item := self._inboxes[which].get()) is not None:
            dst, src, after, done = item
            if dst is None:
                done.set()
                continue
            try:
                for event in after:  # guards: reads by earlier frames, whose failures are theirs
                    if event is not None:
                        event.wait()
                if self.slow_copy is not None:
                    self.slow_copy(which, dst, src)
                with torch.inference_mode():
                    dst.copy_(src)
            except Exception as exc:  # the frame waiting on this copy raises it
                done.set(exc)
            else:
                done.set()


def settle(event) -> None:
    """Wait on the host for an earlier frame's event; what that frame's work raised is that frame's."""
    if isinstance(event, HostEvent):
        event.wait()
    elif event is not None:
        event.synchronize()  # a torch.cuda.Event: the host waits (its .wait() would only order a stream)


@dataclass
class _Slot:
    """One ring entry: a host and a device buffer and the events that guard them."""

    host: torch.Tensor | None = None
    device: torch.Tensor | None = None
    host_read: object = None  # event: the last copy out of `host` finished
    device_read: object = None  # event: the last read of `device` finished

    def fit(self, streams, shape: tuple[int, ...]) -> None:
        """Buffers of `shape`, reallocated (after their last reads) when the frame size changes."""
        if self.host is not None and tuple(self.host.shape) == shape:
            return
        for event in (self.host_read, self.device_read):
            settle(event)
        self.host, self.device = streams.host_buffer(shape), streams.device_buffer(shape)
        self.host_read = self.device_read = None


class _Ring:
    """Slots handed out in turn; `take` blocks until the stage that read a slot last has handed it back."""

    def __init__(self, count: int):
        self._free: queue.SimpleQueue[_Slot] = queue.SimpleQueue()
        for _ in range(count):
            self._free.put(_Slot())

    def take(self) -> _Slot:
        return self._free.get()

    def give_back(self, slot: _Slot) -> None:
        self._free.put(slot)


@dataclass
class Uploaded:
    """A frame on its way to the device: its input slot and the event of its copy."""

    slot: _Slot
    ready: object


@dataclass
class Computed:
    """A stylized frame in a device buffer: its output slot and the event of its conversion."""

    slot: _Slot
    ready: object


@dataclass
class UploadedMask:
    weight: torch.Tensor
    ready: object


class FrameTransfers:
    """uint8 frames to device tensors and back, double-buffered; see the module docstring."""

    def __init__(self, streams, bgr: bool = False, slots: int = SLOTS):
        self.streams = streams
        self.bgr = bgr  # frames in and out are BGR (OpenCV's order); the swap runs on the device
        self._slots = slots
        self._inputs, self._outputs = _Ring(slots), _Ring(slots)

    def upload(self, frame: np.ndarray) -> Uploaded:
        """Start copying an HxWx3 uint8 frame to the device; returns once it is in a pinned buffer."""
        slot = self._inputs.take()
        try:
            slot.fit(self.streams, frame.shape)
            settle(slot.host_read)  # the previous frame's copy out of this pinned buffer is done
            slot.host.numpy()[...] = frame
        except BaseException:
            self._inputs.give_back(slot)
            raise
        ready = self.streams.copy("upload", slot.device, slot.host, after=(slot.device_read,))
        slot.host_read = ready
        return Uploaded(slot, ready)

    def upload_mask(self, mask: np.ndarray) -> UploadedMask:
        weight = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None, None]
        target = self.streams.device_buffer(tuple(weight.shape), torch.float32)
        return UploadedMask(target, self.streams.copy("upload", target, weight))

    def to_input(self, uploaded: Uploaded) -> torch.Tensor:
        """On the compute stream: the uploaded frame as 1x3xHxW float32 in [0,1]; frees its input slot."""
        slot = uploaded.slot
        try:
            self.streams.compute_after(uploaded.ready)
            pixels = slot.device.flip(-1) if self.bgr else slot.device
            content = pixels.permute(2, 0, 1)[None].float().mul_(_SCALE)  # the conversion reads slot.device
            slot.device_read = self.streams.compute_mark()
        finally:  # a failed copy still hands the slot back (its next upload waits for nothing of this frame)
            self._inputs.give_back(slot)
        return content

    def mask_input(self, mask: UploadedMask) -> torch.Tensor:
        self.streams.compute_after(mask.ready)
        self.streams.adopt(mask.weight)
        return mask.weight

    def to_output(self, stylized: torch.Tensor) -> Computed:
        """On the compute stream: 1x3xHxW in [0,1] -> HxWx3 uint8 in an output slot's device buffer."""
        pixels = stylized[0].clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0)
        if self.bgr:
            pixels = pixels.flip(-1)
        slot = self._outputs.take()
        slot.fit(self.streams, tuple(pixels.shape))
        self.streams.compute_after(slot.device_read, guard=True)  # its last download is done
        slot.device.copy_(pixels)
        return Computed(slot, self.streams.compute_mark())

    def download(self, computed: Computed) -> np.ndarray:
        """Copy a computed frame to the host and wait for it: an HxWx3 uint8 array of its own."""
        slot = computed.slot
        try:
            landed = self.streams.copy("download", slot.host, slot.device, after=(computed.ready,))
            slot.device_read = landed
            landed.synchronize()
            return slot.host.numpy().copy()
        finally:
            self._outputs.give_back(slot)

    def reset(self) -> None:
        """Fresh rings, once no stage runs any more: a frame discarded between its stages kept its slot."""
        self.streams.synchronize()
        self._inputs, self._outputs = _Ring(self._slots), _Ring(self._slots)
