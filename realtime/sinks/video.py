"""VideoWriter: stylized frames to a video file, with the source's audio copied untouched."""
from __future__ import annotations

import os
import sys
from fractions import Fraction
from pathlib import Path

import av
from tqdm import tqdm

from stylize.errors import UserError
from stylize.imageio import output_errors
from stylize.realtime.frames import Frame
from stylize.realtime.sinks.base import Sink
from stylize.realtime.sinks.encoding import ENCODERS, add_audio_route, add_video_stream, as_rate, video_frame

# Used when no source file says otherwise; a multiple of every common frame rate.
DEFAULT_TIME_BASE = Fraction(1, 90000)


class VideoWriter(Sink):
    """Encodes to `path` (format from its suffix) with H.264, or MPEG-4 where H.264 is missing.

    - `audio_from`: a source file whose audio streams are remuxed packet for
      packet, never re-encoded. Its video stream's time base is reused, so the
      frame timestamps of the output equal the input's. Only in lossless mode.
    - `time_base`: the video stream's time base, for frames that keep a source's
      timestamps without its audio (one segment of a longer video); default the
      time base of `audio_from`'s video, else 1/90000.
    - `lossless=True` (file → file): frames must come in order; `frame.pts`
      (seconds in the source's timeline, as `av.VideoFrame.time` gives it) is
      kept, or `index / fps` when a frame has none. With `lossless=False`
      (recording a live show) time starts at the first frame written and
      follows `pts`, else the capture clock, so dropped frames keep real time.
    - The file is written to a hidden temporary name beside `path` and
      renamed by `close()`, which also finalises a partial file after Ctrl-C
      or an error, so it plays. If no frame was written, or the file could not
      be finished (a full disk), nothing is left behind. `saved_path` says
      where the file went (None: nowhere).
    - In lossless mode a file that is not complete never takes the place of
      another: when the run failed (`run_failed()`), or `path` already
      exists, the frames written are kept as NAME.partial.EXT
      (`partial_path`) instead, and an existing `path` stays as it was. A
      stopped recording (not lossless) always takes `path`.
    - `end_of_stream()` copies the audio that follows the last frame; without
      it (interrupted) audio stops where the video stops.
    - A progress bar with ETA goes to stderr when `total_frames` is known.
    - `codec` forces one encoder (e.g. "mpeg4"); by default the first of
      libx264, libopenh264, mpeg4 that this FFmpeg has.
    """

    name = "video"

    def __init__(self, path: str | os.PathLike, *, audio_from: str | os.PathLike | None = None,
                 total_frames: int | None = None, lossless: bool = True, progress: bool | None = None,
                 crf: int = 18, preset: str = "veryfast", codec: str | None = None,
                 time_base: Fraction | None = None):
        if audio_from is not None and not lossless:
            raise ValueError("audio can only be copied in lossless (file → file) mode")
        self.path = Path(path)
        self.tmp_path = self.path.with_name(f".{self.path.name}.partial{self.path.suffix}")
        self.partial_path = self.path.with_name(f"{self.path.stem}.partial{self.path.suffix}")
        self.saved_path: Path | None = None
        self.audio_from = audio_from
        self.total_frames = total_frames
        self.lossless = lossless
        self.progress = total_frames is not None if progress is None else progress
        self.crf, self.preset = crf, preset
        self.encoders = (codec,) if codec else ENCODERS
        self.frames_written = 0
        self._container = None
        self._video = None
        self._source = None  # the input file the audio comes from
        self._audio_out: dict[int, av.stream.Stream] = {}  # input stream index → output stream
        self._audio_packets = None  # iterator over the input's audio packets
        self._held_audio = None  # the first packet not yet due
        self._bar = None
        self._fps = Fraction(30)
        self._time_base = time_base or DEFAULT_TIME_BASE
        self._fixed_time_base = time_base is not None
        self._last_pts: int | None = None
        self._end_time = Fraction(0)  # end of the last written frame, seconds
        self._origin: float | None = None  # non-lossless: time of the first frame
        self._complete = False
        self._failed = False
        self._closed = False

    # -- Sink ---------------------------------------------------------------
    def open(self, width: int, height: int, fps: float | Fraction) -> None:
        if self._container is not None:
            raise RuntimeError("VideoWriter.open() called twice")
        self._fps = as_rate(fps)
        _check_writable(self.path)
        try:
            try:
                self._container = av.open(str(self.tmp_path), "w")
            except (ValueError, av.FFmpegError) as exc:
                raise UserError(f"cannot write a video to {self.path}: {exc}") from None
            if self.audio_from is not None:
                self._open_audio_source()
            self._video = add_video_stream(self._container, width, height, self._fps, self._time_base,
                                           live=False, crf=self.crf, preset=self.preset, encoders=self.encoders)
            try:
                self._container.start_encoding()  # fail here, not at the first frame
            except (ValueError, OSError, av.FFmpegError) as exc:
                raise UserError(f"cannot write a video to {self.path}: {exc}") from None
        except BaseException:
            self._discard()
            raise
        self._bar = tqdm(total=self.total_frames, unit="frame", desc=self.path.name, file=sys.stderr,
                         disable=not self.progress, dynamic_ncols=True)

    def write(self, frame: Frame) -> None:
        if self._container is None or self._closed:
            raise RuntimeError("VideoWriter.write() needs open() and no close()")
        time = self._frame_time(frame)
        pts = round(time / self._time_base)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # timestamps must rise, even if the clock stalls
        with output_errors(self.path):
            self._container.mux(self._video.encode(video_frame(frame.image, pts, self._time_base)))
            self._last_pts = pts
            self._end_time = pts * self._time_base + 1 / self._fps
            self._copy_audio(until=pts * self._time_base)
        self.frames_written += 1
        self._bar.update()

    def end_of_stream(self) -> None:
        self._complete = True

    def run_failed(self) -> None:
        self._failed = True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._container is None:
            return
        error = None
        try:
            with output_errors(self.path):
                if self.frames_written:
                    self._container.mux(self._video.encode(None))  # flush the encoder's delayed frames
                    self._copy_audio(until=None if self._complete else self._end_time)
                    for route in self._audio_out.values():
                        route.flush()
        except Exception as exc:  # still write the trailer below
            error = exc
        try:
            with output_errors(self.path):
                self._container.close()  # writes the trailer: the file becomes playable
        except Exception as exc:
            error = error or exc
        self._close_source()
        if self._bar is not None:
            self._bar.close()
        if self.frames_written and error is None:
            self.saved_path = self._final_name()
            os.replace(self.tmp_path, self.saved_path)
        else:
            _remove(self.tmp_path)
        if error is not None:
            raise error

    # -- details --------------------------------------------------------------
    def _final_name(self) -> Path:
        """`path`, unless the file is an incomplete file-mode result that would fail or replace another."""
        if not self.lossless or self._complete or not (self._failed or os.path.lexists(self.path)):
            return self.path
        return self.partial_path

    def _open_audio_source(self) -> None:
        try:
            self._source = av.open(str(self.audio_from))
        except (OSError, av.FFmpegError) as exc:
            raise UserError(f"cannot read audio from {self.audio_from}: {exc}") from None
        if self._source.streams.video and not self._fixed_time_base:
            self._time_base = self._source.streams.video[0].time_base or DEFAULT_TIME_BASE
        audio = list(self._source.streams.audio)
        for stream in audio:
            self._audio_out[stream.index] = add_audio_route(self._container, stream, self.path.suffix or "this")
        if audio:
            self._audio_packets = self._source.demux(*audio)

    def _frame_time(self, frame: Frame) -> Fraction:
        if self.lossless:
            return Fraction(frame.pts) if frame.pts is not None else frame.index / self._fps
        clock = frame.pts if frame.pts is not None else frame.captured_at
        if self._origin is None:
            self._origin = clock
        return Fraction(clock - self._origin)

    def _copy_audio(self, until: Fraction | None) -> None:
        """Mux the source's audio packets up to time `until` (seconds; None: all).

        Called after each video frame, so audio and video packets reach the
        muxer in time order and it can interleave them.
        """
        while self._audio_packets is not None:
            packet = self._held_audio or next(self._audio_packets, None)
            self._held_audio = None
            if packet is None:
                self._audio_packets = None
                break
            if packet.size == 0:  # the demuxer's end-of-stream marker
                continue
            stamp = packet.dts if packet.dts is not None else packet.pts
            if until is not None and stamp is not None and stamp * packet.time_base > until:
                self._held_audio = packet
                break
            self._audio_out[packet.stream.index].mux(packet)

    def _close_source(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None
        self._audio_packets = None

    def _discard(self) -> None:
        """Undo a failed open(): nothing half-written stays behind."""
        self._closed = True
        if self._container is not None:
            try:
                self._container.close()
            except Exception:
                pass
        self._close_source()
        _remove(self.tmp_path)


def _check_writable(path: Path) -> None:
    folder = path.parent
    if path.is_dir():
        raise UserError(f"cannot write a video to {path}: it is a folder")
    if not folder.is_dir():
        raise UserError(f"cannot write a video to {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise UserError(f"cannot write a video to {path}: folder {folder} is not writable")


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
