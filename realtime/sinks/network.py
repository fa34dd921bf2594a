"""NetworkStream: the live picture for OBS or any player, as MPEG-TS over UDP/SRT or MJPEG over HTTP."""
from __future__ import annotations

import errno
import socket
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
MAX_VIEWERS = 8  # MJPEG viewers served at once; one more is answered 503
SPARE_CONNECTIONS = 8  # connections beyond the viewers that get an answer (503); more are closed unanswered
VIEWER_TIMEOUT = 5.0  # seconds an MJPEG viewer may take to ask, or to take a frame, before it is dropped


class NetworkStream(Sink):
    """Streams the stylized picture to `url`:

    - `udp://HOST:PORT`: MPEG-TS with H.264 (ultrafast, zerolatency, a keyframe
      every second so a viewer can join at any time), sent to HOST:PORT.
    - `srt://HOST:PORT[?mode=...]`: the same over SRT, where PyAV's FFmpeg
      was built with libsrt.
    - `http://HOST:PORT/`: MJPEG (multipart/x-mixed-replace) served by a
      small HTTP server listening on HOST:PORT to up to `max_viewers`
      viewers at once (default 8); up to SPARE_CONNECTIONS more are answered
      503 (busy), any beyond those closed unanswered, so a flood of
      connections cannot start a thread each.

    HOST defaults to 127.0.0.1. Timestamps follow the capture clock.
    The URL is checked before anything is opened: a port from 1 to 65535
    (0 for http://, any free port) and a host that resolves.
    """

    name = "stream"

    def __init__(self, url: str, *, jpeg_quality: int = 85, max_viewers: int = MAX_VIEWERS):
        scheme, host, port, parts = _destination(url)
        self.url = urlunsplit((scheme, f"[{host}]:{port}" if ":" in host else f"{host}:{port}", parts.path,
                               parts.query, ""))
        if scheme == "http":
            self._transport = _MjpegServer(host, port, jpeg_quality, max_viewers)
        else:
            self._transport = _MpegTsSender(self.url, scheme)
        self.name = f"stream {self.url}"

    @property
    def address(self) -> tuple[str, int] | None:
        """(host, port) the HTTP server listens on once open (the real port when 0 was asked)."""
        return getattr(self._transport, "address", None)

    @property
    def viewers(self) -> int:
        """MJPEG viewers being served now (always 0 for MPEG-TS, which is sent without asking)."""
        return getattr(self._transport, "viewers", 0)

    def open(self, width: int, height: int, fps: float | Fraction) -> None:
        self._transport.open(width, height, as_rate(fps))

    def write(self, frame: Frame) -> None:
        self._transport.write(frame)

    def close(self) -> None:
        self._transport.close()


def _destination(url: str):
    """(scheme, host, port, parts) of a stream URL, or a UserError that says what is wrong with it."""
    usage = "use udp://HOST:PORT, srt://HOST:PORT or http://HOST:PORT/"
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        netloc = parts.netloc.rpartition("@")[2]
        port_text = "" if ":" not in netloc or netloc.endswith("]") else netloc.rpartition(":")[2]
    except ValueError as exc:  # e.g. an unclosed [ in an IPv6 address
        raise UserError(f"cannot stream to {url!r}: {exc}; {usage}") from None
    if scheme not in SCHEMES:
        raise UserError(f"cannot stream to {url!r}: {usage}")
    if not port_text:
        raise UserError(f"cannot stream to {url!r}: the URL needs a port, e.g. {scheme}://127.0.0.1:9000")
    lowest = 0 if scheme == "http" else 1  # a server may ask for any free port; a destination may not
    if not port_text.isdigit() or not lowest <= int(port_text) <= 65535:
        raise UserError(f"cannot stream to {url!r}: the port must be a number from {lowest} to 65535, "
                        f"got {port_text!r}")
    host = parts.hostname or DEFAULT_HOST
    try:
        socket.getaddrinfo(host, int(port_text), type=socket.SOCK_STREAM if scheme == "http" else socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UserError(f"cannot stream to {url!r}: host {host!r} is not known "
                        f"({getattr(exc, 'strerror', None) or exc})") from None
    return scheme, host, int(port_text), parts


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
            reason = getattr(exc, "strerror", None) or str(exc)
            raise UserError(f"cannot stream to {self.url}: FFmpeg refused it ({reason})") from None

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
    """Serves the newest frame as JPEG to up to `max_viewers` viewers; encodes only while someone watches."""

    BOUNDARY = "frame"

    def __init__(self, host: str, port: int, quality: int, max_viewers: int = MAX_VIEWERS):
        if max_viewers < 1:
            raise ValueError(f"max_viewers must be at least 1, got {max_viewers}")
        self.host, self.port, self.quality, self.max_viewers = host, port, quality, max_viewers
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
            self._server = _CappedHTTPServer((self.host, self.port), Handler, self.max_viewers + SPARE_CONNECTIONS)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UserError(f"port {self.port} on {self.host} is busy; pick another for --stream") from None
            raise UserError(f"cannot serve MJPEG on {self.host}:{self.port}: {exc.strerror or exc}") from None
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

    def admit(self) -> bool:
        """Count one more viewer, unless `max_viewers` are already watching."""
        with self._cond:
            if self._viewers >= self.max_viewers:
                return False
            self._viewers += 1
            return True

    def leave(self) -> None:
        with self._cond:
            self._viewers -= 1

    @property
    def viewers(self) -> int:
        return self._viewers

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


class _CappedHTTPServer(ThreadingHTTPServer):
    """A thread per connection, but at most `limit` at once: a flood of connections is closed, not served."""

    daemon_threads = True

    def __init__(self, address, handler, limit: int):
        self._slots = threading.BoundedSemaphore(limit)
        super().__init__(address, handler)

    def process_request(self, request, client_address) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread started (e.g. none left): give the slot back
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class _MjpegHandler(BaseHTTPRequestHandler):
    server_hub: _MjpegServer
    timeout = VIEWER_TIMEOUT  # a viewer that never asks, or stops reading, is dropped and frees its place

    def do_GET(self) -> None:
        hub = self.server_hub
        if not hub.admit():
            self._refuse_busy(hub.max_viewers)
            return
        try:
            self._stream(hub)
        finally:
            hub.leave()

    def _refuse_busy(self, limit: int) -> None:
        body = f"this stream already has its {limit} viewers; try again later\n".encode()
        try:
            self.send_response(503, "Busy")
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Retry-After", "5")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # gone before it heard the answer

    def _stream(self, hub: _MjpegServer) -> None:
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={hub.BOUNDARY}")
        self.send_header("Cache-Control", "no-cache, no-store")
        self.send_header("Connection", "close")
        seen = 0
        try:
            self.end_headers()
            while not hub.closing:
                jpeg, seen = hub.next_jpeg(seen, timeout=0.5)
                if jpeg is None:
                    continue
                self.wfile.write(f"--{hub.BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                                 f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
                self.wfile.flush()
        except OSError:
            pass  # the viewer left, or stopped reading for VIEWER_TIMEOUT

    def log_message(self, format: str, *args) -> None:
        pass  # one line per request would flood the performer's terminal
