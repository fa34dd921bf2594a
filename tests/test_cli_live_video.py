"""`stylize video` and `stylize live` through the real entry point, in subprocesses."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import wave

import av
import numpy as np
import pytest

from helpers import REPO, run_cli
from stylize.realtime.sources import TestPattern

BUNNY = "media/adain_cutBunny.mp4"  # 640x360, 24 fps, 240 frames, AAC audio


def video_frames(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def audio_packets(path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(audio=0) if p.size]


def test_video_round_trip_keeps_every_frame_and_the_sound(shared, tmp_path):
    source = shared / BUNNY
    out = tmp_path / "bunny.mp4"
    stats = tmp_path / "stats.json"
    result = run_cli("video", source, "-o", out, "--method", "wave", "--size", "64", "--stats", stats)
    assert result.returncode == 0, result.stderr.decode()
    assert video_frames(out) == video_frames(source) == 240
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (64, 36)
        assert float(stream.average_rate) == pytest.approx(24)
    assert audio_packets(out) == audio_packets(source)
    report = json.loads(stats.read_text())
    assert report["mode"] == "file" and report["stopped"] == "end of stream"
    assert report["stages"]["sink:video"]["frames"] == 240 and report["drops"] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bunny.mp4", "stats.json"]  # no temporary left


def test_ctrl_c_during_video_leaves_a_playable_file(shared, tmp_path):
    out = tmp_path / "cut.mp4"
    process = subprocess.Popen([sys.executable, "-m", "stylize", "video", str(shared / BUNNY), "-o", str(out),
                                "--method", "wave", "--size", "96"], cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = bytearray()

    def read_stderr():
        for chunk in iter(lambda: process.stderr.read1(4096), b""):
            stderr.extend(chunk)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while not _frames_done(stderr) >= 5:  # the progress bar says some frames are written
            assert process.poll() is None, stderr.decode()
            assert time.monotonic() < deadline, "no progress"
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        reader.join(5)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr.decode()
    assert "interrupted" in stderr.decode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mp4"]  # finalised and renamed
    assert 5 <= video_frames(out) < 240


def _frames_done(stderr: bytearray) -> int:
    counts = re.findall(rb"\b(\d+)/240\b", bytes(stderr))
    return int(counts[-1]) if counts else 0


def test_live_test_pattern_for_a_while_with_stats(tmp_path):
    stats = tmp_path / "live.json"
    result = run_cli("live", "--source", "testpattern:64x48@30", "--no-preview", "--method", "wave,candy",
                     "--duration", "1.5", "--stats", stats)
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(stats.read_text())
    assert report["mode"] == "live" and report["stopped"] == "duration reached"
    assert report["stages"]["engine"]["frames"] > 0 and report["look"] == "wave"
    assert report["backend"].startswith("torch")
    assert report["work_pixels"] == 640 * 480  # --work-size auto on the CPU


def test_live_paints_every_pixel_when_asked(tmp_path):
    stats = tmp_path / "live.json"
    result = run_cli("live", "--source", "testpattern:64x48@30", "--no-preview", "--method", "wave",
                     "--duration", "0.5", "--stats", stats, "--work-size", "full")
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(stats.read_text())["work_pixels"] is None


def test_live_plays_a_file_at_its_own_rate_and_records(shared, tmp_path):
    stats = tmp_path / "live.json"
    record = tmp_path / "show.mp4"
    started = time.monotonic()
    result = run_cli("live", "--source", shared / BUNNY, "--size", "64", "--no-preview", "--method", "wave",
                     "--duration", "2", "--record", record, "--stats", stats)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(stats.read_text())
    # Like a camera: no faster than 24 fps, whatever the decoder could do.
    assert 0 < report["stages"]["source"]["frames"] <= 24 * elapsed + 2
    assert video_frames(record) > 0
    assert f"recorded {record}" in result.stderr.decode()


def test_mask_mode_motion_paints_only_what_moves_and_background_all_but_people(tmp_path):
    # The test pattern's bars stand still; only its disc (and the frame counter) moves. Nobody is in it.
    still = TestPattern(160, 120, paced=False).read().image.astype(np.int16)
    off_from_still = {}
    for mode in ("motion", "background"):
        record = tmp_path / f"{mode}.mp4"
        result = run_cli("live", "--source", "testpattern:160x120@24", "--no-preview", "--method", "wave",
                         "--mask-mode", mode, "--duration", "3", "--record", record)
        assert result.returncode == 0, result.stderr.decode()
        with av.open(str(record)) as container:
            last = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)][-1]
        # The median pixel is a still one, whatever the disc covers.
        off_from_still[mode] = float(np.median(np.abs(last.astype(np.int16) - still)))
    assert off_from_still["motion"] < 12, off_from_still  # the bars pass through (H.264 costs a few levels)
    assert off_from_still["background"] > 3 * off_from_still["motion"] + 20, off_from_still


def test_help_teaches_by_example_and_lists_the_keys():
    live = run_cli("live", "--help").stdout.decode()
    for text in ("examples:", "--source testpattern", "next look", "freeze", "quit", "/stylize/alpha",
                 "--crossfade-ms", "--mask-mode"):
        assert text in live
    video = run_cli("video", "--help").stdout.decode()
    assert "examples:" in video and "stylize video clip.mp4 -o" in video


def _busy_udp_port():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def _busy_tcp_port():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def _audio_only(path):
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 800)
    return path


BAD_INPUTS = {
    "missing input": lambda d, s: (["video", d / "nope.mp4", "-o", d / "out.mp4", "--method", "wave"], "no such file"),
    "corrupt input": lambda d, s: (["video", _corrupt(d / "bad.mp4"), "-o", d / "out.mp4", "--method", "wave"],
                                   "corrupt"),
    "no video stream": lambda d, s: (["video", _audio_only(d / "a.wav"), "-o", d / "out.mp4", "--method", "wave"],
                                     "no video stream"),
    "unwritable output": lambda d, s: (["video", s / BUNNY, "-o", d / "missing" / "out.mp4", "--method", "wave"],
                                       "does not exist"),
    "output is a folder": lambda d, s: (["video", s / BUNNY, "-o", d, "--method", "wave"], "folder"),
    "output overwrites input": lambda d, s: (["video", _copy(s / BUNNY, d), "-o", d / "in.mp4", "--method", "wave"],
                                             "overwrite"),
    "unknown method": lambda d, s: (["video", s / BUNNY, "-o", d / "out.mp4", "--method", "vermeer"],
                                    "unknown method"),
    "camera that cannot open": lambda d, s: (["live", "--source", "57", "--no-preview", "--method", "wave",
                                              "--record", d / "out.mp4"], "camera 57"),
    "unwritable recording": lambda d, s: (["live", "--source", "testpattern", "--no-preview", "--method", "wave",
                                           "--record", d / "missing" / "out.mp4"], "does not exist"),
    "alpha out of range": lambda d, s: (["live", "--source", "testpattern", "--alpha", "3", "--method", "wave"],
                                        "--alpha"),
    "built-in look": lambda d, s: (["live", "--source", "testpattern", "--no-preview", "--look", "no-such-look"],
                                   "look"),
    "work size too small": lambda d, s: (["video", s / BUNNY, "-o", d / "out.mp4", "--method", "wave",
                                          "--work-size", "16x16"], "--work-size"),
    "work size not a size": lambda d, s: (["live", "--source", "testpattern", "--no-preview", "--method", "wave",
                                           "--work-size", "big"], "--work-size"),
}


def _corrupt(path):
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    return path


def _copy(source, folder):
    return shutil.copy(source, folder / "in.mp4")


def _one_line_exit_2(result, expected: str, folder, before: set[str]):
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert expected in stderr
    assert set(os.listdir(folder)) == before  # nothing (half-)written


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_2(case, shared, tmp_path):
    args, expected = BAD_INPUTS[case](tmp_path, shared)
    before = set(os.listdir(tmp_path))
    _one_line_exit_2(run_cli(*args), expected, tmp_path, before)


def test_no_display_for_the_preview(tmp_path):
    result = run_cli("live", "--source", "testpattern", "--method", "wave", "--stats", tmp_path / "s.json",
                     env={"DISPLAY": "", "WAYLAND_DISPLAY": ""})
    _one_line_exit_2(result, "--no-preview", tmp_path, set())


def test_busy_osc_port(tmp_path):
    with _busy_udp_port() as sock:
        port = sock.getsockname()[1]
        result = run_cli("live", "--source", "testpattern", "--no-preview", "--method", "wave", "--osc", port,
                         "--stats", tmp_path / "s.json")
    _one_line_exit_2(result, "busy", tmp_path, set())


def test_busy_stream_port(tmp_path):
    with _busy_tcp_port() as sock:
        port = sock.getsockname()[1]
        result = run_cli("live", "--source", "testpattern", "--no-preview", "--method", "wave",
                         "--stream", f"http://127.0.0.1:{port}/", "--record", tmp_path / "r.mp4")
    _one_line_exit_2(result, str(port), tmp_path, set())


def _mean_colour(path) -> np.ndarray:
    with av.open(str(path)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    return np.mean([frame.reshape(-1, 3).mean(0) for frame in frames[::40]], axis=0)


def test_video_preserve_color_match_works_with_a_look(shared, tmp_path):
    source = shared / BUNNY
    gaps = {}
    for mode in ("none", "match"):
        out = tmp_path / f"{mode}.mp4"
        flags = [] if mode == "none" else ["--preserve-color", mode]
        result = run_cli("video", source, "-o", out, "--look", "starry-night", "--size", "64", *flags)
        assert result.returncode == 0, result.stderr.decode()
        gaps[mode] = np.abs(_mean_colour(out) - _mean_colour(source)).sum()
    assert gaps["match"] < 0.5 * gaps["none"]
