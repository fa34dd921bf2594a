"""NetworkStream: the live picture for OBS or any player, as MPEG-TS over UDP/SRT or MJPEG over HTTP."""
from __future__ import annotations

import errno
import threading
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import av
import cv2

from stylize.errors import UserError
from stylize.realtime.frames import Frame
from stylize.realtime.sinks.base import Sink
from stylize.realtime.sinks.encoding import add_video_stream, as_rate, video_frame

SCHEMES = ("udp", "srt", "http")
DEFAULT_HOST = "127.0.0.1"
TS_TIME_BASE = Fraction(1, 90000)  # MPEG-TS counts in 90 kHz ticks


class NetworkStream(Sink):
    """Streams the stylized picture to `url`:

    - `udp://HOST:PORT`: MPEG-TS with H.264 (ultrafast, zerolatency, a keyframe
      every second so a viewer can join at any time), sent to HOST:PORT.
    - `srt://HOST:PORT[?mode=...]`: the same over SRT, where PyAV's FFmpeg
      was built with libsrt.
    - `http://HOST:PORT/`: MJPEG (multipart/x-mixed-replace) served to any
      number of viewers by a small HTTP server listening on HOST:PORT.

    HOST defaults to 127.0.0.1. Timestamps follow the capture clock.
    """

    name = "stream"

    def __init__(self, url: str, *, jpeg_quality: int = 85):
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            raise UserError(f"cannot stream to {url!r}: use udp://HOST:PORT, srt://HOST:PORT or http://HOST:PORT/")
        try:
            port = parts.port
        except ValueError:
            port = None
        if port is None:
            raise UserError(f"cannot stream to {url!r}: the URL needs a port, e.g. {scheme}://127.0.0.1:9000")
        host = parts.hostname or DEFAULT_HOST
        self.url = urlunsplit((scheme, f"{host}:{port}", parts.path, parts.query, ""))
        if scheme == "http":
            self._transport = _MjpegServer(host, port, jpeg_quality)
        else:
            self._transport = _MpegTsSender(self.url, scheme)
        self.name = f"stream {self.url}"

    @property
    def address(self) -> tuple[str, int] | None:
        """(host, port) the HTTP server listens on once open (the real port when 0 was asked)."""
        return getattr(self._transport, "address", None)

    def open(self, width: int, height: int, fps: float | Fraction) -> None:
        self._transport.open(width, height, as_rate(fps))

    def write(self, frame: Frame) -> None:
        self._transport.write(frame)

    def close(self) -> None:
        self._transport.close()


def ffmpeg_has_srt() -> bool:
    """True when the FFmpeg inside PyAV was configured with libsrt."""
    meta = av._core.library_meta.get("libavformat", {})
    return "--enable-libsrt" in meta.get("configuration", "")


class _MpegTsSender:
    def __init__(self, url: str, scheme: str):
        self.scheme = scheme
        self.url = _with_udp_defaults(url) if scheme == "udp" else url
        self._container = None
        self._stream = None
        self._origin: float | None = None
        self._last_pts = -1
        self._closed = False

    def open(self, width: int, height: int, fps: Fraction) -> None:
        if self.scheme == "srt" and not ffmpeg_has_srt():
            raise UserError("this PyAV's FFmpeg has no SRT support; stream to udp://127.0.0.1:PORT instead "
                            "(same OBS settings) or install a PyAV built with libsrt")
        try:
            # Send each packet at once instead of filling an I/O buffer first.
            self._container = av.open(self.url, "w", format="mpegts",
                                      container_options={"flush_packets": "1", "muxdelay": "0"})
            self._stream = add_video_stream(self._container, width, height, fps, TS_TIME_BASE, live=True)
            self._container.start_encoding()
        except av.error.ProtocolNotFoundError:
            self._abort()
            raise UserError(f"this PyAV's FFmpeg cannot stream to {self.scheme}:// URLs; use udp://") from None
        except (OSError, av.FFmpegError) as exc:
            self._abort()
            raise UserError(f"cannot stream to {self.url}: {exc}") from None

    def write(self, frame: Frame) -> None:
        if self._origin is None:
            self._origin = frame.captured_at
        pts = max(self._last_pts + 1, round((frame.captured_at - self._origin) / TS_TIME_BASE))
        self._last_pts = pts
        self._container.mux(self._stream.encode(video_frame(frame.image, pts, TS_TIME_BASE)))

    def close(self) -> None:
        if self._closed or self._container is None:
            self._closed = True
            return
        self._closed = True
        try:
            self._container.mux(self._stream.encode(None))
        except (OSError, av.FFmpegError):
            pass  # a vanished viewer must not stop the shutdown
        finally:
            self._abort()

    def _abort(self) -> None:
        if self._container is not None:
            try:
                self._container.close()
            except (OSError, av.FFmpegError):
                pass
            self._container = None


def _with_udp_defaults(url: str) -> str:
    # 7 TS packets of 188 bytes per datagram: the size every MPEG-TS receiver expects.
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("pkt_size", "1316")
    return urlunsplit(parts._replace(query=urlencode(query)))


class _MjpegServer:
    """Serves the newest frame as JPEG to every connected viewer; encodes only while someone watches."""

    BOUNDARY = "frame"

    def __init__(self, host: str, port: int, quality: int):
        self.host, self.port, self.quality = host, port, quality
        self._cond = threading.Condition()
        self._jpeg: bytes | None = None
        self._sequence = 0
        self._viewers = 0
        self._closing = False
        self._server = None
        self._thread = None

    @property
    def address(self) -> tuple[str, int] | None:
        return self._server.server_address[:2] if self._server else None

    def open(self, width: int, height: int, fps: Fraction) -> None:
        hub = self

        class Handler(_MjpegHandler):
            server_hub = hub

        try:
            self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UserError(f"port {self.port} on {self.host} is busy; pick another for --stream") from None
            raise UserError(f"cannot serve MJPEG on {self.host}:{self.port}: {exc.strerror or exc}") from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="mjpeg-server", daemon=True)
        self._thread.start()

    def write(self, frame: Frame) -> None:
        if not self._viewers:
            return
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if ok:
            with self._cond:
                self._jpeg, self._sequence = data.tobytes(), self._sequence + 1
                self._cond.notify_all()

    def next_jpeg(self, seen: int, timeout: float) -> tuple[bytes | None, int]:
        """The newest JPEG after number `seen`, or (None, seen) on timeout or shutdown."""
        with self._cond:
            self._cond.wait_for(lambda: self._sequence > seen or self._closing, timeout)
            if self._closing or self._sequence <= seen:
                return None, seen
            return self._jpeg, self._sequence

    def viewer(self, delta: int) -> None:
        with self._cond:
            self._viewers += delta

    @property
    def closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=2)


class _MjpegHandler(BaseHTTPRequestHandler):
    server_hub: _MjpegServer

    def do_GET(self) -> None:
        hub = self.server_hub
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={hub.BOUNDARY}")
        self.send_header("Cache-Control", "no-cache, no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        hub.viewer(+1)
        seen = 0
        try:
            while not hub.closing:
                jpeg, seen = hub.next_jpeg(seen, timeout=0.5)
                if jpeg is None:
                    continue
                self.wfile.write(f"--{hub.BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                                 f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the viewer left
        finally:
            hub.viewer(-1)

    def log_message(self, format: str, *args) -> None:
        pass  # one line per request would flood the performer's terminal
