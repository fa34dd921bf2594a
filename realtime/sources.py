"""Frame sources: webcam, video file, network stream, image folder and a test pattern.

Every source yields `Frame`s of HxWx3 uint8 RGB stamped with the
`time.monotonic()` at which they were captured (for a paced source: when the
frame was due). `read()` tells the two ways a stream stops apart:
  - `EndOfStream`: the source finished normally (a file or folder ran out);
  - `SourceLost`: the device or stream vanished or broke mid-run.
Opening problems the user can fix (missing file, no camera) are `UserError`s,
raised by `open_source()` before anything starts.

Sources that are not clocked by a device (files, folders, the test pattern)
can be `paced`: they then release frames at their native rate, the way a
camera would, instead of as fast as they decode.

Every size a source declares, and the size it delivers, is checked against the
pixel limit (`stylize.sizes.max_pixels()`) before a frame is allocated. A
network source that sends nothing for `timeout` seconds (default 2) is lost.
"""
from __future__ import annotations

import glob
import logging
import math
import os
import re
import sys
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path

import cv2
import numpy as np

from stylize.errors import InputError, OptionError, UserError
from stylize.imageio import list_images, read_image
from stylize.realtime.frames import Frame
from stylize.sizes import check_pixels, parse_wxh

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 2.0  # seconds without data before a network source is lost
MIN_FPS, MAX_FPS = 0.001, 1000.0  # paced sources: from one frame in 1000 s (a slow slideshow) to 1000 a second


class EndOfStream(Exception):
    """The source has no more frames (normal end)."""


class SourceLost(Exception):
    """The source broke or disappeared while running."""


def fit_long_side(width: int, height: int, size: int | None) -> tuple[int, int]:
    """(width, height) scaled so the long side is `size`, rounded to even numbers for video codecs."""
    if not size:
        return width, height
    scale = size / max(width, height)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


class Source(ABC):
    """Yields RGB frames; `width`, `height` and `fps` are known once constructed."""

    name: str = "source"
    width: int
    height: int
    fps: float
    frame_count: int | None = None  # when known in advance (files)

    def __init__(self, paced: bool = False):
        self.paced = paced
        self._index = 0
        self._started: float | None = None
        self._interrupted = threading.Event()
        self.clock = time.monotonic  # capture times and pacing
        self.sleep = self._interrupted.wait  # pacing waits; interrupt() cuts them short

    @abstractmethod
    def _next(self) -> tuple[np.ndarray, float | None]:
        """The next RGB image at the source's size and its pts in seconds (or None)."""

    def read(self) -> Frame:
        image, pts = self._next()
        if self.paced:
            captured_at = self._wait_until_due(pts if pts is not None else self._index / self.fps)
        else:
            captured_at = self.clock()
        frame = Frame(image=image, index=self._index, captured_at=captured_at, pts=pts)
        self._index += 1
        return frame

    def _wait_until_due(self, pts: float) -> float:
        """Sleep until the frame at `pts` is due and return that moment.

        A reader that falls behind gets frames stamped with when they were due,
        as a camera's buffered frames carry their exposure time: the lag shows
        up as latency instead of being hidden.
        """
        now = self.clock()
        if self._started is None:
            self._started = now - pts
        due = self._started + pts
        if due > now:
            self.sleep(due - now)
        return due

    def interrupt(self) -> None:
        """Cut a pacing wait short (from another thread), so stopping never waits for the next frame's time."""
        self._interrupted.set()

    def _check_size(self, error: type[Exception] = InputError) -> None:
        """Refuse a frame size above the pixel limit (the source's own, or what --size scaled it to)."""
        check_pixels(self.width, self.height, f"{self.name}: the frame size", error)

    def _resize(self, image: np.ndarray) -> np.ndarray:
        if image.shape[1] == self.width and image.shape[0] == self.height:
            return image
        shrink = self.width * self.height < image.shape[0] * image.shape[1]
        return cv2.resize(image, (self.width, self.height),
                          interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)

    def close(self) -> None:
        """Release the device or file; safe to call more than once."""

    def __iter__(self):
        while True:
            try:
                yield self.read()
            except EndOfStream:
                return

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class TestPattern(Source):
    """A moving synthetic picture (colour bars, a bouncing disc, the frame number); never ends unless `frames`."""

    name = "testpattern"
    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, width: int = 640, height: int = 480, fps: float = 30.0, frames: int | None = None,
                 paced: bool = True):
        super().__init__(paced)
        self.width, self.height, self.fps, self.frame_count = width, height, fps, frames
        self._check_size(OptionError)
        _check_rate(fps, "the test pattern's frame rate")
        # Eight vertical colour bars over a vertical brightness ramp: texture for the nets to paint.
        bars = np.array([[255, 255, 255], [255, 255, 0], [0, 255, 255], [0, 255, 0],
                         [255, 0, 255], [255, 0, 0], [0, 0, 255], [30, 30, 30]], np.float32)
        columns = bars[np.arange(width) * len(bars) // width]
        ramp = np.linspace(1.0, 0.35, height, dtype=np.float32)[:, None, None]
        self._background = (columns[None] * ramp).astype(np.uint8)

    def _next(self) -> tuple[np.ndarray, float | None]:
        index = self._index
        if self.frame_count is not None and index >= self.frame_count:
            raise EndOfStream
        image = self._background.copy()
        t = index / self.fps
        radius = max(4, min(self.width, self.height) // 8)
        x = int((0.5 + 0.4 * np.sin(t * 1.3)) * self.width)
        y = int((0.5 + 0.4 * np.sin(t * 2.1 + 1.0)) * self.height)
        cv2.circle(image, (x, y), radius, (250, 120, 20), -1, lineType=cv2.LINE_AA)
        cv2.putText(image, f"{index:06d}", (8, max(20, self.height // 12)), cv2.FONT_HERSHEY_SIMPLEX,
                    max(0.4, self.height / 600), (0, 0, 0), 2, cv2.LINE_AA)
        return image, t


class Webcam(Source):
    """An OpenCV capture device by index (0) or path (/dev/video0); asks for size, fps and MJPG."""

    def __init__(self, device: int | str, width: int | None = None, height: int | None = None,
                 fps: float | None = None, mjpg: bool = True, size: int | None = None):
        super().__init__(paced=False)  # the camera's own clock paces it
        if width and height:
            check_pixels(width, height, "the --capture size")
        self.name = f"camera {device}"
        self._cap = _quiet_capture(device)
        if not self._cap.isOpened():
            self._cap.release()
            raise UserError(f"cannot open camera {device}; {describe_video_devices()}")
        if mjpg:  # most USB cameras only reach full rate at high resolutions in MJPG
            self._cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
        if width and height:
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps:
            self._cap.set(cv2.CAP_PROP_FPS, fps)
        ok, first = self._cap.read()
        if not ok or first is None:
            self._cap.release()
            raise UserError(f"camera {device} opened but delivers no frames (in use by another program?)")
        self._first = first
        native_h, native_w = first.shape[:2]
        self.width, self.height = fit_long_side(native_w, native_h, size)
        try:
            self._check_size(OptionError)
        except OptionError:
            self._cap.release()
            raise
        self.fps = self._cap.get(cv2.CAP_PROP_FPS) or fps or 30.0

    def _next(self) -> tuple[np.ndarray, float | None]:
        if self._first is not None:
            bgr, self._first = self._first, None
        else:
            ok, bgr = self._cap.read()
            if not ok or bgr is None:
                raise SourceLost(f"{self.name} stopped delivering frames (unplugged?)")
        return self._resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)), None

    def close(self) -> None:
        self._cap.release()


class VideoFile(Source):
    """A video file or network stream decoded with PyAV; pts comes from the stream's timestamps.

    A file that ends before the frame count its container declares (cut short by a
    crashed copy or a full disk, with its index still whole) sets `truncated`, logs a
    warning, and keeps `frames_decoded` against `frames_expected` for the caller's report.
    """

    def __init__(self, location: str, size: int | None = None, paced: bool = False,
                 network: bool = False, timeout: float = DEFAULT_TIMEOUT):
        super().__init__(paced)
        import av

        self.name = location
        self.location = location
        self.network = network
        self.timeout = timeout
        if not (math.isfinite(timeout) and timeout > 0):
            raise OptionError(f"the source timeout must be a positive number of seconds, got {timeout!r}")
        if not network:
            path = Path(location)
            if not path.exists():
                raise UserError(f"{location}: no such file")
            if path.is_dir():
                raise UserError(f"{location}: is a directory, expected a video file")
        try:
            # A read timeout turns a stalled stream into SourceLost instead of a hang.
            self._container = av.open(location, timeout=(timeout, timeout) if network else None)
        except av.error.ExitError:
            raise UserError(f"{location}: no stream arrived within {timeout:g} s") from None
        except (av.error.FFmpegError, OSError) as exc:
            what = "cannot open stream" if network else "not a readable video (corrupt or unknown format)"
            raise UserError(f"{location}: {what}: {_av_reason(exc)}") from None
        if not self._container.streams.video:
            self._container.close()
            raise UserError(f"{location}: has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"  # frame threading: decoding keeps up at high resolutions
        context = self._stream.codec_context
        if not context.width or not context.height:
            self._container.close()
            raise UserError(f"{location}: video stream has no picture size (corrupt?)")
        try:
            check_pixels(context.width, context.height, f"{location}: the video", InputError)
            self.width, self.height = fit_long_side(context.width, context.height, size)
            self._check_size(OptionError)
        except UserError:
            self._container.close()
            raise
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.fps = float(rate) if rate else 30.0
        self.frame_count = self._stream.frames or None
        self.frames_expected = self.frame_count
        self.frames_decoded = 0
        self.truncated = False
        self._decoder = self._container.decode(self._stream)

    def _next(self) -> tuple[np.ndarray, float | None]:
        import av

        try:
            frame = next(self._decoder)
        except StopIteration:
            if self.network:  # a live stream has no natural end: it went away
                raise SourceLost(f"{self.name}: stream ended") from None
            self._check_complete()
            raise EndOfStream from None
        except av.error.ExitError:  # PyAV's read timeout interrupted the demuxer
            raise SourceLost(f"{self.name}: no data for {self.timeout:g} s") from None
        except (av.error.FFmpegError, OSError) as exc:
            raise SourceLost(f"{self.name}: {_av_reason(exc)}") from None
        image = frame.to_ndarray(format="rgb24", width=self.width, height=self.height)
        self.frames_decoded += 1
        return image, frame.time  # the source's own timeline: the writer keeps it, audio stays in sync

    def _check_complete(self) -> None:
        """At the end of the file: warn when fewer frames came than the container declared."""
        if self.truncated or self.frames_expected is None or self.frames_decoded >= self.frames_expected:
            return
        self.truncated = True
        log.warning("stylize: %s ends after %d of the %d frames it declares (truncated?)",
                    self.name, self.frames_decoded, self.frames_expected)

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None


class ImageFolder(Source):
    """The images in a folder, in name order, at `fps` (all resized to the first image's size)."""

    def __init__(self, folder: str, size: int | None = None, fps: float = 1.0, paced: bool = True):
        super().__init__(paced)
        self.name = folder
        self._paths = list_images(Path(folder))
        if not self._paths:
            raise UserError(f"{folder}: folder has no images")
        first = read_image(self._paths[0])
        self.width, self.height = fit_long_side(first.shape[1], first.shape[0], size)
        self._check_size(OptionError)
        _check_rate(fps, "--fps (images per second)")
        self.fps = fps
        self.frame_count = len(self._paths)

    def _next(self) -> tuple[np.ndarray, float | None]:
        if self._index >= len(self._paths):
            raise EndOfStream
        path = self._paths[self._index]
        try:
            image = read_image(path)
        except FileNotFoundError:  # deleted between read_image's check and its read
            raise SourceLost(f"{path}: no such file") from None
        except (UserError, OSError) as exc:  # deleted, replaced or unreadable under us
            raise SourceLost(str(exc)) from None
        return self._resize(image), self._index / self.fps


def _check_rate(fps: float, what: str) -> None:
    """A paced source's rate: a NaN, zero or tiny rate would wait forever for the next frame."""
    if not (math.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):
        raise OptionError(f"{what} must be from {MIN_FPS:g} to {MAX_FPS:g} frames per second, got {fps:g}")


def _quiet_capture(device: int | str) -> cv2.VideoCapture:
    """Open a capture without OpenCV printing its probing warnings (our error says it in one line)."""
    logging = cv2.utils.logging
    previous = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        return cv2.VideoCapture(device)
    finally:
        logging.setLogLevel(previous)


def describe_video_devices() -> str:
    devices = sorted(glob.glob("/dev/video*"), key=lambda p: (len(p), p))
    if not devices:
        return "no video devices exist (no /dev/video*)"
    return "devices that exist: " + ", ".join(devices)


_CAMERA = re.compile(r"^(\d+|/dev/video\d+)$")
NETWORK_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt", "rtp")


def open_source(spec: str, size: int | None = None, paced: bool = True, fps: float | None = None,
                camera_width: int | None = None, camera_height: int | None = None,
                timeout: float = DEFAULT_TIMEOUT) -> Source:
    """A source from a command-line string: 0, /dev/video0, testpattern, FILE, FOLDER or URL.

    `testpattern` takes an optional geometry: testpattern:640x480@30.
    `paced` plays files, folders and the test pattern at their native rate.
    `timeout`: seconds a network source may send nothing before it is lost.
    """
    spec = spec.strip()
    if spec.startswith("testpattern"):
        width, height, rate = _pattern_geometry(spec)
        width, height = fit_long_side(width, height, size)
        return TestPattern(width, height, fps or rate, paced=paced)
    if _CAMERA.match(spec):
        device: int | str = int(spec) if spec.isdigit() else spec
        if isinstance(device, str) and not os.path.exists(device):
            raise UserError(f"cannot open camera {device}: it does not exist; {describe_video_devices()}")
        if sys.platform.startswith("linux") and not glob.glob("/dev/video*"):
            raise UserError(f"cannot open camera {device}: {describe_video_devices()}")
        return Webcam(device, camera_width, camera_height, fps, size=size)
    scheme = spec.split("://", 1)[0].lower() if "://" in spec else ""
    if scheme in NETWORK_SCHEMES:
        return VideoFile(spec, size=size, paced=False, network=True, timeout=timeout)
    if scheme:
        raise UserError(f"{spec}: unsupported URL scheme {scheme!r}; use one of {', '.join(NETWORK_SCHEMES)}")
    if os.path.isdir(spec):
        return ImageFolder(spec, size=size, fps=fps or 1.0, paced=paced)
    return VideoFile(spec, size=size, paced=paced)


def _pattern_geometry(spec: str) -> tuple[int, int, float]:
    match = re.fullmatch(r"testpattern(?::([^@]*))?(?:@(\d+(?:\.\d+)?))?", spec)
    if not match:
        raise UserError(f"{spec!r}: write the test pattern as testpattern or testpattern:WIDTHxHEIGHT@FPS")
    geometry, rate = match.groups()
    width, height = (640, 480) if geometry is None else parse_wxh(geometry, f"the test pattern's size in {spec!r}")
    check_pixels(width, height, f"the test pattern {spec!r}")
    return width, height, float(rate or 30)


def _av_reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc)
