"""Sources: RGB frames with timestamps, end of stream told apart from a lost source, clear errors."""
from __future__ import annotations

import socket
import threading
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers import ManualClock, run_cli, solid_rgb
from stylize.cli import build_parser
from stylize.cli.live import _open_source
from stylize.errors import InputError, OptionError, UserError
from stylize.realtime.sinks import NetworkStream
from stylize.realtime.sources import (EndOfStream, ImageFolder, SourceLost, TestPattern, VideoFile, Webcam,
                                      fit_long_side, open_source)

BUNNY = "media/adain_cutBunny.mp4"  # 640x360, 24 fps, 240 frames, AAC audio


def test_test_pattern_moves_and_ends_when_told():
    pattern = TestPattern(96, 64, fps=30, frames=12, paced=False)
    frames = list(pattern)
    assert [f.index for f in frames] == list(range(12))
    assert all(f.image.shape == (64, 96, 3) and f.image.dtype == np.uint8 for f in frames)
    assert not np.array_equal(frames[0].image, frames[11].image)  # it moves
    assert frames[1].pts == pytest.approx(1 / 30)
    with pytest.raises(EndOfStream):
        pattern.read()



def test_paced_source_waits_until_each_frame_is_due():
    clock = ManualClock(50.0)
    pattern = TestPattern(32, 32, fps=50, paced=True)
    pattern.clock, pattern.sleep = clock, clock.sleep
    first = pattern.read()
    clock.now += 0.005  # the reader took 5 ms: the next frame is due 15 ms later
    second = pattern.read()
    assert clock.sleeps == [pytest.approx(0.015)]
    clock.now += 0.1  # a reader that falls behind does not wait, and sees the lag in the stamp
    third = pattern.read()
    assert len(clock.sleeps) == 1
    assert [f.captured_at for f in (first, second, third)] == pytest.approx([50.0, 50.02, 50.04])


def test_video_file_gives_rgb_frames_with_timestamps(shared):
    path = str(shared / BUNNY)
    with VideoFile(path, size=64) as source:
        assert (source.width, source.height) == fit_long_side(640, 360, 64) == (64, 36)
        assert source.fps == pytest.approx(24) and source.frame_count == 240
        frames = list(source)
    assert len(frames) == 240
    assert frames[0].image.shape == (36, 64, 3)
    pts = [f.pts for f in frames]
    assert pts == sorted(pts) and pts[24] - pts[0] == pytest.approx(1.0, abs=1e-3)
    # Colour order: PyAV's RGB must match OpenCV's BGR decode once swapped.
    capture = cv2.VideoCapture(path)
    ok, bgr = capture.read()
    capture.release()
    assert ok
    reference = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (64, 36), interpolation=cv2.INTER_AREA)
    wrong_order = reference[:, :, ::-1]
    ours = frames[0].image.astype(int)
    assert np.abs(ours - reference).mean() < np.abs(ours - wrong_order).mean()


FOX = "media/lengstrom_fox.mp4"  # 640x640, 420 frames, its index (moov) before the frames


def test_a_video_cut_short_with_its_index_whole_is_reported_as_truncated(shared, tmp_path, caplog):
    data = (shared / FOX).read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # the index survives a cut at the end
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 43 // 100])
    with caplog.at_level("WARNING", logger="stylize.realtime.sources"), VideoFile(str(cut), size=32) as source:
        assert source.frames_expected == 420 and not source.truncated
        frames = list(source)
    assert source.truncated and source.frames_decoded == len(frames)
    assert 0 < len(frames) < 420
    [record] = [r for r in caplog.records if r.name == "stylize.realtime.sources"]
    assert f"{cut} ends after {len(frames)} of the 420 frames it declares" in record.getMessage()


def test_a_whole_video_is_not_truncated_and_says_nothing(shared, caplog):
    with caplog.at_level("WARNING", logger="stylize.realtime.sources"), VideoFile(str(shared / BUNNY),
                                                                                  size=32) as source:
        assert len(list(source)) == source.frames_decoded == source.frames_expected == 240
    assert not source.truncated
    assert not [r for r in caplog.records if r.name == "stylize.realtime.sources"]


def test_opencv_capture_that_stops_delivering_is_lost_not_ended(shared):
    # OpenCV opens a file path like a device: the Webcam code path (BGR→RGB,
    # resize) runs for real, and running dry reads as a vanished device.
    camera = Webcam(str(shared / BUNNY), size=80)
    assert (camera.width, camera.height) == fit_long_side(640, 360, 80) == (80, 44)
    first = camera.read()
    assert first.image.shape == (44, 80, 3) and first.pts is None
    with pytest.raises(SourceLost):
        for _ in range(1000):
            camera.read()
    camera.close()


def test_image_folder_in_name_order_then_end(tmp_path):
    for i, colour in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        size = (40, 60) if i else (32, 48)  # later images are resized to the first one's size
        cv2.imwrite(str(tmp_path / f"{i:02d}.png"), np.full((*size, 3), colour[::-1], np.uint8))
    source = ImageFolder(str(tmp_path), paced=False)
    frames = list(source)
    assert [f.image.shape for f in frames] == [(32, 48, 3)] * 3
    assert [tuple(f.image[0, 0]) for f in frames] == [(255, 0, 0), (0, 255, 0), (0, 0, 255)]


def test_image_folder_that_vanishes_is_lost(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.zeros((20, 20, 3), np.uint8))
    source = ImageFolder(str(tmp_path), paced=False)
    source.read()
    for path in tmp_path.iterdir():
        path.unlink()
    with pytest.raises(SourceLost):
        source.read()


def test_a_file_deleted_between_the_check_and_the_read_is_a_lost_source(tmp_path, monkeypatch):
    for i in range(2):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((24, 32, 3), i, np.uint8))
    source = ImageFolder(str(tmp_path), paced=False)
    open_path = Path.open

    def vanish_then_open(path, *args, **kwargs):  # the file goes after read_image saw it exist, before it is read
        if path.parent == tmp_path:
            path.unlink()
        return open_path(path, *args, **kwargs)

    monkeypatch.setattr(Path, "open", vanish_then_open)
    with pytest.raises(SourceLost, match="no such file"):
        source.read()


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_network_stream_is_read_and_its_loss_detected():
    url = f"udp://127.0.0.1:{_free_udp_port()}"
    stop = threading.Event()

    def broadcast():  # the sinks' real MPEG-TS sender, on 127.0.0.1
        sender = NetworkStream(url)
        sender.open(96, 64, 25)
        pattern = TestPattern(96, 64, 25, paced=True)
        try:
            while not stop.is_set():
                sender.write(pattern.read())
        finally:
            sender.close()

    thread = threading.Thread(target=broadcast, daemon=True)
    thread.start()
    try:
        source = open_source(url, size=48)  # the default timeout: 2 s
        assert (source.width, source.height) == (48, 32)
        frames = [source.read() for _ in range(10)]
        assert all(f.image.shape == (32, 48, 3) for f in frames)
        assert [f.index for f in frames] == list(range(10))
    finally:
        stop.set()
        thread.join(5)
    with pytest.raises(SourceLost, match="no data for 2 s"):  # the sender is gone: lost, not ended
        for _ in range(1000):
            source.read()
    source.close()


def test_missing_corrupt_and_audio_only_files_are_user_errors(tmp_path, shared):
    with pytest.raises(UserError, match="no such file"):
        open_source(str(tmp_path / "nope.mp4"))
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    with pytest.raises(UserError, match="corrupt"):
        open_source(str(corrupt))
    sound = tmp_path / "sound.wav"
    with wave.open(str(sound), "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 800)
    with pytest.raises(UserError, match="no video stream"):
        open_source(str(sound))


def test_camera_that_cannot_open_names_the_devices():
    import glob

    with pytest.raises(UserError) as error:
        open_source("57")
    devices = glob.glob("/dev/video*")
    message = str(error.value)
    assert "camera 57" in message
    assert ("no video devices exist" in message) if not devices else all(d in message for d in devices)
    with pytest.raises(UserError, match="does not exist"):
        open_source("/dev/video97")


def test_bad_specs():
    with pytest.raises(UserError, match="unsupported URL scheme"):
        open_source("ftp://example.com/x.mp4")
    with pytest.raises(UserError, match="16x16"):
        open_source("testpattern:8x8")
    pattern = open_source("testpattern:320x240@15", size=160, paced=False)
    assert (pattern.width, pattern.height, pattern.fps) == (160, 120, 15)


@pytest.mark.parametrize("spec,size,message", [
    ("testpattern:50000x50000", None, r"50000x50000 \(2500 megapixels\), above the limit"),
    ("testpattern:640x480", 100000, r"100000x75000 .* above the limit"),
    ("testpattern:640x480@0", None, "frame rate must be from 0.001 to 1000 frames per second, got 0"),
    ("testpattern:640x480@0.0000001", None, "frame rate must be from 0.001"),
    ("testpattern:640x480@" + "9" * 400, None, "frame rate must be from 0.001 to 1000 frames per second, got inf"),
])
def test_test_pattern_sizes_and_rates_are_bounded_before_allocating(spec, size, message):
    with pytest.raises(OptionError, match=message):
        open_source(spec, size=size)


def test_a_video_declaring_a_huge_picture_is_refused_before_a_frame_is_decoded(tmp_path):
    bomb = tmp_path / "bomb.y4m"  # a raw-video header declaring 16000x16000, with a sliver of one frame
    bomb.write_bytes(b"YUV4MPEG2 W16000 H16000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(4096))
    with pytest.raises(InputError, match="16000x16000 .* above the limit of 150 megapixels"):
        open_source(str(bomb))


@pytest.mark.parametrize("spec", ["testpattern:50000x50000", "testpattern:640x480@0"])
def test_live_refuses_unbounded_test_patterns_in_one_line(spec, tmp_path):
    result = run_cli("live", "--source", spec, "--no-preview", "--stats", tmp_path / "s.json", "--method", "candy")
    stderr = result.stderr.decode().strip()
    assert result.returncode == 2 and len(stderr.splitlines()) == 1 and "Traceback" not in stderr, stderr


class StallingMjpeg(BaseHTTPRequestHandler):
    """Sends `frames` JPEG parts of an MJPEG stream, then holds the connection open, sending nothing."""

    frames = 8
    release = threading.Event()

    def do_GET(self) -> None:
        jpeg = cv2.imencode(".jpg", solid_rgb(48, 64))[1].tobytes()
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        for _ in range(self.frames):
            self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n"
                             + f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
        self.wfile.write(b"--frame\r\n")  # the next part begins, and stalls
        self.wfile.flush()
        self.release.wait(30)

    def log_message(self, *args) -> None:
        pass


def test_a_stalled_mjpeg_sender_is_lost_after_the_source_timeout():
    server = ThreadingHTTPServer(("127.0.0.1", 0), StallingMjpeg)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        source = open_source(f"http://127.0.0.1:{server.server_address[1]}/", timeout=0.5)
        reads = 0
        with pytest.raises(SourceLost, match=r"no data for 0\.5 s"):
            while reads < 1000:
                source.read()
                reads += 1
        assert reads == StallingMjpeg.frames  # every frame sent was read, then the stall was reported
        source.close()
    finally:
        StallingMjpeg.release.set()
        server.shutdown()
        server.server_close()


def test_live_source_timeout_reaches_a_udp_source_whose_sender_vanishes():
    url = f"udp://127.0.0.1:{_free_udp_port()}"
    args = build_parser().parse_args(["live", "--source", url, "--source-timeout", "0.75", "--size", "48"])
    opened, sent = threading.Event(), threading.Event()

    def broadcast(after_open: int = 25):  # until the source has opened (at most 30 s), then a second more
        sender = NetworkStream(url)
        sender.open(96, 64, 25)
        pattern = TestPattern(96, 64, 25, paced=True)
        for _ in range(750):
            if opened.is_set():
                break
            sender.write(pattern.read())
        for _ in range(after_open):
            sender.write(pattern.read())
        sender.close()
        sent.set()

    thread = threading.Thread(target=broadcast, daemon=True)
    thread.start()
    try:
        source = _open_source(args, None, None)
    finally:
        opened.set()
    thread.join(10)
    assert sent.is_set()
    reads = 0
    with pytest.raises(SourceLost, match=r"no data for 0\.75 s"):
        while reads < 1000:
            source.read()
            reads += 1
    assert reads > 0
    source.close()


def test_a_folder_scaled_beyond_the_pixel_limit_or_at_a_rate_that_never_comes_is_refused(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((30, 40, 3), np.uint8))
    with pytest.raises(OptionError, match=r"100000x75000 .* above the limit"):
        open_source(str(tmp_path), size=100000)
    with pytest.raises(OptionError, match=r"--fps \(images per second\) must be from 0.001"):
        open_source(str(tmp_path), fps=1e-300)
