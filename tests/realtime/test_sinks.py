"""Sinks with real components: PyAV files, UDP and HTTP streams on 127.0.0.1, pyvirtualcam."""
from __future__ import annotations

import socket
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import cv2  # noqa: F401  (before av: see realtime/sinks/__init__.py)
import av
import numpy as np
import pytest

from helpers import run_cli
from stylize.errors import UserError
from stylize.realtime.frames import Frame
from stylize.realtime.sinks import NetworkStream, VideoWriter, VirtualCamera
from stylize.realtime.sinks.network import MAX_VIEWERS, SPARE_CONNECTIONS, ffmpeg_has_srt


@pytest.fixture(scope="module")
def clip(shared):
    path = shared / "media" / "adain_cutBunny.mp4"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    return path


def read_frames(path, limit: int | None = None):
    """(Frames with source timestamps, stream) of a file's video, as the pipeline's file source gives them."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        info = {"width": stream.width, "height": stream.height, "fps": stream.average_rate,
                "count": stream.frames, "pts": []}
        frames = []
        for i, decoded in enumerate(container.decode(stream)):
            if limit is not None and i >= limit:
                break
            info["pts"].append(decoded.pts)
            frames.append(Frame(decoded.to_ndarray(format="rgb24"), i, time.monotonic(), pts=decoded.time))
    return frames, info


def packets(path, kind: str):
    """[(pts, dts, bytes)] of the first `kind` stream, and its time base."""
    with av.open(str(path)) as container:
        stream = getattr(container.streams, kind)[0]
        return [(p.pts, p.dts, bytes(p)) for p in container.demux(stream) if p.size], stream.time_base


def decoded_pts(path) -> list[int]:
    with av.open(str(path)) as container:
        return [frame.pts for frame in container.decode(video=0)]


def pattern(height: int = 240, width: int = 320) -> np.ndarray:
    """Red left half, blue right half: easy to recognise after lossy coding."""
    image = np.zeros((height, width, 3), np.uint8)
    image[:, : width // 2] = (210, 30, 30)
    image[:, width // 2:] = (30, 30, 210)
    return image


def looks_like_pattern(image: np.ndarray) -> bool:
    h, w = image.shape[:2]
    left, right = image[:, : w // 2 - 8].mean(axis=(0, 1)), image[:, w // 2 + 8:].mean(axis=(0, 1))
    return bool(np.abs(left - (210, 30, 30)).max() < 20 and np.abs(right - (30, 30, 210)).max() < 20)


def free_port(kind=socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- VideoWriter ----------------------------------------------------------------

def test_video_round_trip_keeps_every_frame_timestamp_and_audio_packet(clip, tmp_path):
    frames, info = read_frames(clip)
    out = tmp_path / "out.mp4"
    with VideoWriter(out, audio_from=clip, total_frames=info["count"]) as writer:
        writer.open(info["width"], info["height"], info["fps"])
        for frame in frames:
            writer.write(frame)
        writer.end_of_stream()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # the temporary name is gone

    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "h264"
        assert video.average_rate == info["fps"]
        assert (video.width, video.height) == (info["width"], info["height"])
    assert decoded_pts(out) == info["pts"]  # same count, same timestamps

    audio_in, base_in = packets(clip, "audio")
    audio_out, base_out = packets(out, "audio")
    assert base_out == base_in
    assert len(audio_out) == len(audio_in)
    assert audio_out == audio_in  # pts, dts and bytes: remuxed, not re-encoded


def test_audio_and_video_are_interleaved(clip, tmp_path):
    frames, info = read_frames(clip, limit=72)
    out = tmp_path / "out.mkv"
    with VideoWriter(out, audio_from=clip) as writer:
        writer.open(info["width"], info["height"], info["fps"])
        for frame in frames:
            writer.write(frame)
    # In file order, no packet is far ahead of the other stream's latest one.
    latest = {}
    with av.open(str(out)) as container:
        for packet in container.demux():
            if packet.dts is None:
                continue
            latest[packet.stream.type] = float(packet.dts * packet.time_base)
            if len(latest) == 2:
                assert abs(latest["audio"] - latest["video"]) < 0.5


def test_interrupted_video_is_finalised_and_playable(clip, tmp_path):
    frames, info = read_frames(clip, limit=60)
    out = tmp_path / "cut.mp4"
    with pytest.raises(KeyboardInterrupt):
        with VideoWriter(out, audio_from=clip, total_frames=info["count"]) as writer:
            writer.open(info["width"], info["height"], info["fps"])
            for frame in frames:
                writer.write(frame)
            raise KeyboardInterrupt  # Ctrl-C in the middle of the file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mp4"]
    assert decoded_pts(out) == info["pts"][:60]
    audio, base = packets(out, "audio")
    audio_in, _ = packets(clip, "audio")
    end = 60 / info["fps"]
    # The audio stops with the video, and what is there is the source's, untouched.
    assert 0 < len(audio) < len(audio_in)
    assert audio == audio_in[: len(audio)]
    assert end - Fraction(1, 4) < audio[-1][0] * base <= end


def test_live_recording_follows_the_capture_clock(tmp_path):
    out = tmp_path / "live.mp4"
    start = time.monotonic()
    with VideoWriter(out, lossless=False) as writer:
        writer.open(320, 240, 30)
        for i, offset in enumerate([0.0, 0.1, 0.2, 0.5, 0.6]):  # frames dropped between 0.2 and 0.5
            writer.write(Frame(pattern(), i, start + 10 + offset))
    with av.open(str(out)) as container:
        seconds = [float(frame.time) for frame in container.decode(video=0)]
    assert seconds == pytest.approx([0.0, 0.1, 0.2, 0.5, 0.6], abs=1e-3)


def test_odd_frame_sizes_are_written(tmp_path):
    out = tmp_path / "odd.mp4"
    with VideoWriter(out) as writer:
        writer.open(321, 241, 25)
        for i in range(3):
            writer.write(Frame(pattern(241, 321), i, 0.0))
    with av.open(str(out)) as container:
        decoded = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert len(decoded) == 3 and decoded[0].shape == (240, 320, 3)
    assert looks_like_pattern(decoded[0])


def test_mpeg4_fallback_encoder_writes_a_playable_file(tmp_path):
    out = tmp_path / "fallback.mp4"
    with VideoWriter(out, codec="mpeg4") as writer:
        writer.open(320, 240, 25)
        for i in range(5):
            writer.write(Frame(pattern(), i, 0.0))
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.name == "mpeg4"
        decoded = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert len(decoded) == 5 and looks_like_pattern(decoded[-1])


def test_no_frames_leaves_nothing_behind(tmp_path):
    writer = VideoWriter(tmp_path / "empty.mp4")
    writer.open(320, 240, 25)
    writer.close()
    writer.close()  # idempotent
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        VideoWriter(tmp_path / "missing" / "out.mp4").open(320, 240, 25)
    with pytest.raises(UserError, match="folder"):
        VideoWriter(tmp_path).open(320, 240, 25)
    with pytest.raises(UserError, match="cannot write"):
        VideoWriter(tmp_path / "out.unknown-format").open(320, 240, 25)
    assert list(tmp_path.iterdir()) == []


# -- NetworkStream --------------------------------------------------------------

def stream_frames(sink: NetworkStream, reader: threading.Thread, limit: int = 200) -> None:
    """Open the sink, start the reader if needed, feed the pattern at 25 fps until it has what it wants."""
    sink.open(320, 240, 25)
    if reader.ident is None:  # readers of served streams (HTTP) can only connect once the sink is open
        reader.start()
    try:
        for i in range(limit):
            if not reader.is_alive():
                break
            sink.write(Frame(pattern(), i, time.monotonic()))
            time.sleep(0.04)
    finally:
        sink.close()
    reader.join(timeout=10)


def test_udp_mpegts_stream_is_read_back_with_pyav():
    port = free_port()
    received, errors = [], []

    def read():
        try:
            with av.open(f"udp://127.0.0.1:{port}", format="mpegts", options={"timeout": "5000000"}) as container:
                for frame in container.decode(video=0):
                    received.append((frame.key_frame, frame.to_ndarray(format="rgb24")))
                    if len(received) >= 40:
                        break
        except Exception as exc:  # reported below
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.3)  # the receiver binds its port; frames sent before are simply missed, as in OBS
    stream_frames(NetworkStream(f"udp://127.0.0.1:{port}"), reader)
    assert not errors
    assert len(received) >= 40
    assert all(looks_like_pattern(image) for _, image in received[-5:])
    # A keyframe at least every second (25 frames), so a late viewer can start.
    assert sum(key for key, _ in received) >= 2


def test_mjpeg_http_stream_is_read_back_and_a_busy_port_is_refused():
    sink = NetworkStream("http://127.0.0.1:0/")
    sink.open(320, 240, 25)
    host, port = sink.address
    with pytest.raises(UserError, match="busy"):
        NetworkStream(f"http://127.0.0.1:{port}/").open(320, 240, 25)
    sink.close()

    port = free_port(socket.SOCK_STREAM)
    received, errors = [], []

    def read():
        try:
            with av.open(f"http://127.0.0.1:{port}/", format="mpjpeg", options={"timeout": "5000000"}) as container:
                for frame in container.decode(video=0):
                    received.append(frame.to_ndarray(format="rgb24"))
                    if len(received) >= 5:
                        break
        except Exception as exc:
            errors.append(exc)

    reader = threading.Thread(target=read)
    stream_frames(NetworkStream(f"http://127.0.0.1:{port}/"), reader)
    assert not errors
    assert len(received) == 5 and all(looks_like_pattern(image) for image in received)


def _ask(port: int):
    """A real viewer: connects, asks for the stream; the socket, its reader and the response's status line."""
    viewer = socket.create_connection(("127.0.0.1", port), timeout=10)
    reader = viewer.makefile("rb")
    try:
        viewer.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        status = reader.readline().decode().strip()
    except (ConnectionResetError, BrokenPipeError):  # closed by the server without an answer
        status = ""
    return viewer, reader, status


def test_mjpeg_server_serves_eight_viewers_and_answers_a_ninth_with_503():
    assert MAX_VIEWERS == 8
    sink = NetworkStream("http://127.0.0.1:0/")
    sink.open(64, 48, 25)
    port = sink.address[1]
    viewers = []
    try:
        for _ in range(MAX_VIEWERS):
            viewer, reader, status = _ask(port)
            viewers += [reader, viewer]
            assert status.split()[1] == "200", status
        extra, reply, status = _ask(port)
        assert status.split()[1] == "503", status
        assert b"already has its 8 viewers" in reply.read()  # then the server closes the connection
        reply.close(), extra.close()
        viewers.pop().close(), viewers.pop().close()  # one leaves: the server notices at its next frame and frees the place
        for i in range(500):
            if sink.viewers < MAX_VIEWERS:
                break
            sink.write(Frame(pattern()[:48, :64], i, time.monotonic()))
            time.sleep(0.01)
        assert sink.viewers == MAX_VIEWERS - 1
        late, reader, status = _ask(port)
        viewers += [reader, late]
        assert status.split()[1] == "200", status
    finally:
        for viewer in viewers:
            viewer.close()
        sink.close()


def test_a_flood_of_connections_is_closed_instead_of_each_getting_a_thread():
    sink = NetworkStream("http://127.0.0.1:0/", max_viewers=1)
    sink.open(64, 48, 25)
    port = sink.address[1]
    held = []
    try:
        viewer, reader, status = _ask(port)
        held += [reader, viewer]
        assert status.split()[1] == "200", status
        # Connections that never ask hold the spare places (for up to VIEWER_TIMEOUT)...
        held += [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(SPARE_CONNECTIONS)]
        # ...so one more is closed without an answer or a thread of its own.
        flood, reader, status = _ask(port)
        held += [reader, flood]
        assert status == ""
        for connection in held[2:]:
            connection.close()
        for _ in range(500):  # the places come back as their threads see the connections close
            late, reader, status = _ask(port)
            reader.close(), late.close()
            if status:
                break
            time.sleep(0.01)
        assert status.split()[1] == "503", status  # the one viewer place is still taken
    finally:
        for connection in held:
            connection.close()
        sink.close()


@pytest.mark.parametrize("url, message", [
    ("rtmp://127.0.0.1:1935/live", "udp://HOST:PORT"),
    ("udp://127.0.0.1", "needs a port"),
    ("127.0.0.1:9000", "udp://HOST:PORT"),
    ("udp://nonexistent.invalid:9000", "host 'nonexistent.invalid' is not known"),
    ("udp://999.1.1.1:9000", "host '999.1.1.1' is not known"),
    ("udp://127.0.0.1:99999", "port must be a number from 1 to 65535, got '99999'"),
    ("udp://127.0.0.1:0", "port must be a number from 1 to 65535, got '0'"),
    ("http://127.0.0.1:65536/", "port must be a number from 0 to 65535"),
    ("udp://127.0.0.1:abc", "port must be a number"),
    ("udp://[::1:9000", "Invalid IPv6 URL"),
    ("http://nonexistent.invalid:8080/", "is not known"),
])
def test_bad_stream_urls_are_user_errors(url, message):
    with pytest.raises(UserError, match=message):
        NetworkStream(url)


def test_a_bad_stream_host_is_one_line_on_the_command_line():
    result = run_cli("live", "--source", "testpattern:64x48", "--no-preview", "--method", "candy",
                     "--duration", "1", "--stream", "udp://nonexistent.invalid:9000")
    stderr = result.stderr.decode().strip()
    assert result.returncode == 2 and len(stderr.splitlines()) == 1, stderr
    assert stderr.startswith("stylize live: error: cannot stream to 'udp://nonexistent.invalid:9000': host "
                             "'nonexistent.invalid' is not known ("), stderr


def test_srt_without_ffmpeg_support_is_a_user_error():
    if ffmpeg_has_srt():
        pytest.skip("this PyAV's FFmpeg has SRT")
    with pytest.raises(UserError, match="no SRT support"):
        NetworkStream(f"srt://127.0.0.1:{free_port()}").open(320, 240, 25)


# -- VirtualCamera --------------------------------------------------------------

def test_virtual_camera_without_backend_says_how_to_get_one():
    try:
        import pyvirtualcam  # noqa: F401
    except ImportError:
        expected = r"pip install 'stylize\[vcam\]'"
    else:
        if list(Path("/dev").glob("video*")):
            pytest.skip("a video device exists; the missing-backend error cannot be provoked")
        expected = "modprobe v4l2loopback" if sys.platform.startswith("linux") else "OBS"
    with pytest.raises(UserError, match=expected) as error:
        VirtualCamera().open(320, 240, 30)
    assert "\n" not in str(error.value)
