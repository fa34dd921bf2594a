"""Nothing the user already has is lost, and what a run says it saved is true.

Real `stylize` subprocesses, real signals, files decoded by PyAV, and a real
small tmpfs for a full disk (skipped where mounting is not allowed).
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import av
import cv2
import numpy as np
import pytest

from helpers import REPO, run_cli

BUNNY = "media/adain_cutBunny.mp4"  # 640x360, 24 fps, 240 frames, AAC audio
FRAMES = 240


def video_frames(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def names(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


class VideoRun:
    """`stylize video` in a subprocess, its stderr collected as it comes."""

    def __init__(self, source, out):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "stylize", "video", str(source), "-o", str(out), "--method", "wave",
             "--size", "64"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.stderr = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for chunk in iter(lambda: self.process.stderr.read1(4096), b""):
            self.stderr.extend(chunk)

    def frames_done(self) -> int:
        counts = re.findall(rb"\b(\d+)/%d\b" % FRAMES, bytes(self.stderr))
        return int(counts[-1]) if counts else 0

    def wait_for_frames(self, count: int) -> None:
        deadline = time.monotonic() + 120
        while self.frames_done() < count:
            assert self.process.poll() is None, self.stderr.decode()
            assert time.monotonic() < deadline, "no progress"
            time.sleep(0.01)

    def finish(self) -> tuple[int, str]:
        try:
            self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        self._reader.join(5)
        return self.process.returncode, self.stderr.decode()


@pytest.mark.parametrize("first, second, gap_s", [
    (signal.SIGTERM, signal.SIGTERM, 0.01),
    (signal.SIGTERM, signal.SIGTERM, 0.1),
    (signal.SIGINT, signal.SIGTERM, 0.05),
    (signal.SIGTERM, signal.SIGINT, 0.02),
])
def test_a_second_signal_while_finalising_still_leaves_a_playable_file(shared, tmp_path, first, second, gap_s):
    out = tmp_path / "cut.mp4"
    run = VideoRun(shared / BUNNY, out)
    run.wait_for_frames(5)
    run.process.send_signal(first)
    time.sleep(gap_s)
    run.process.send_signal(second)
    code, stderr = run.finish()
    assert code == 130, stderr
    assert names(tmp_path) == ["cut.mp4"]  # finalised and renamed, no hidden temporary
    frames = video_frames(out)
    assert 5 <= frames < FRAMES
    assert f"{out} has the first {frames} frames" in stderr


def test_interrupting_a_rerun_leaves_the_existing_output_as_it_was(shared, tmp_path):
    out = tmp_path / "clip.mp4"
    shutil.copy(shared / BUNNY, out)
    before = out.read_bytes()
    run = VideoRun(shared / BUNNY, out)
    run.wait_for_frames(5)
    run.process.send_signal(signal.SIGINT)
    code, stderr = run.finish()
    assert code == 130, stderr
    assert out.read_bytes() == before
    assert names(tmp_path) == ["clip.mp4", "clip.partial.mp4"]
    frames = video_frames(tmp_path / "clip.partial.mp4")
    assert 5 <= frames < FRAMES
    assert f"the first {frames} frames are in {tmp_path / 'clip.partial.mp4'}; {out} was left as it was" in stderr


def _corrupt_copy(shared, path):
    """The clip with a quarter of its bytes zeroed halfway in: the decoder gives up after about a third."""
    data = (shared / BUNNY).read_bytes()
    quarter = len(data) // 4
    path.write_bytes(data[: 2 * quarter] + bytes(quarter) + data[3 * quarter:])
    return path


@pytest.mark.parametrize("existing", [False, True])
def test_a_broken_input_keeps_its_frames_under_a_partial_name(shared, tmp_path, existing):
    source = _corrupt_copy(shared, tmp_path / "broken.mp4")
    out = tmp_path / "out.mp4"
    if existing:
        shutil.copy(shared / BUNNY, out)
    result = run_cli("video", source, "-o", out, "--method", "wave", "--size", "64")
    stderr = result.stderr.decode()
    assert result.returncode == 1, stderr
    partial = tmp_path / "out.partial.mp4"
    assert sorted(names(tmp_path)) == sorted(["broken.mp4", "out.partial.mp4"] + (["out.mp4"] if existing else []))
    if existing:
        assert out.read_bytes() == (shared / BUNNY).read_bytes()
    frames = video_frames(partial)
    assert 0 < frames < FRAMES
    assert f"the first {frames} frames are in {partial}" in stderr
    assert "Traceback" not in stderr


@pytest.fixture
def small_disk(tmp_path):
    """A 48 KiB tmpfs, full after a few dozen small frames."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_during_video_says_no_file_was_kept(shared, small_disk):
    out = small_disk / "v.mp4"
    result = run_cli("video", shared / BUNNY, "-o", out, "--method", "wave", "--size", "160")
    stderr = result.stderr.decode()
    assert result.returncode == 1, stderr
    assert names(small_disk) == []
    assert stderr.strip().splitlines()[-1].endswith(f"{out}: cannot write: No space left on device; "
                                                    f"no video file was written")
    assert "has the first" not in stderr and "Traceback" not in stderr


@pytest.fixture
def big_png(tmp_path):
    path = tmp_path / "big.png"
    noise = np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8)  # ~270 KB as PNG
    cv2.imwrite(str(path), noise)
    return path


def _one_line_error(result) -> str:
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr, stderr
    return stderr


def test_a_full_disk_on_image_output_is_one_line_and_leaves_nothing(big_png, small_disk):
    result = run_cli("image", big_png, "-o", small_disk / "out.png", "--method", "wave")
    assert "No space left on device" in _one_line_error(result)
    assert names(small_disk) == []


def test_a_full_disk_keeps_the_previous_image(big_png, small_disk):
    previous = small_disk / "out.png"
    previous.write_bytes(b"the photo from yesterday")
    _one_line_error(run_cli("image", big_png, "-o", previous, "--method", "wave"))
    assert names(small_disk) == ["out.png"] and previous.read_bytes() == b"the photo from yesterday"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_stdout_into_dev_full_is_one_line(big_png):
    with open("/dev/full", "wb") as full:
        result = subprocess.run([sys.executable, "-m", "stylize", "image", str(big_png), "-o", "-",
                                 "--method", "wave"], cwd=REPO, stdout=full, stderr=subprocess.PIPE, timeout=300)
    assert "standard output: cannot write" in _one_line_error(result)


# ------------------------------------------------------------------ image --
@pytest.fixture
def photos(tmp_path):
    """a.png and trip/a.png (same name, different pictures), link.png -> a.png; cwd is their folder."""
    (tmp_path / "trip").mkdir()
    cv2.imwrite(str(tmp_path / "a.png"), np.full((40, 48, 3), 70, np.uint8))
    cv2.imwrite(str(tmp_path / "trip" / "a.png"), np.full((40, 48, 3), 140, np.uint8))
    (tmp_path / "link.png").symlink_to(tmp_path / "a.png")
    return tmp_path


def _refused_in(folder, *args) -> str:
    files = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file() and not p.is_symlink()}
    result = subprocess.run([sys.executable, "-m", "stylize", "image", *args, "--method", "wave"], cwd=folder,
                            capture_output=True, timeout=300)
    stderr = _one_line_error(result)
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file() and not p.is_symlink()} == files
    return stderr


@pytest.mark.parametrize("args", [
    ["a.png", "-o", "a.png"],
    ["a.png", "-o", "./trip/../a.png"],
    ["a.png", "-o", "link.png"],
    ["link.png", "-o", "a.png"],
    ["trip", "-o", "trip"],
    ["trip/a.png", "a.png", "-o", "."],
])
def test_image_never_writes_over_an_input(photos, args):
    assert "would overwrite the input" in _refused_in(photos, *args)


def test_image_refuses_an_output_over_its_mask(photos):
    assert "would overwrite the input" in _refused_in(photos, "a.png", "--mask", "trip/a.png", "-o", "trip/a.png")


def test_two_inputs_with_one_name_are_refused_before_anything_is_written(photos):
    stderr = _refused_in(photos, "a.png", "trip/a.png", "-o", "styled")
    assert "a.png and trip/a.png would both be written to styled/a.png" in stderr
    assert not (photos / "styled").exists()


# ------------------------------------------------------------------- live --
def _grown(path, size: int) -> bool:
    try:
        return path.stat().st_size > size
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("first, second, gap_s", [(signal.SIGTERM, signal.SIGTERM, 0.02),
                                                  (signal.SIGINT, signal.SIGTERM, 0.06)])
def test_a_second_signal_while_a_live_recording_is_finalised_keeps_it(tmp_path, first, second, gap_s):
    record = tmp_path / "show.mp4"
    process = subprocess.Popen([sys.executable, "-m", "stylize", "live", "--source", "testpattern:320x240@30",
                                "--no-preview", "--method", "wave", "--record", str(record)],
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not _grown(tmp_path / ".show.mp4.partial.mp4", 1024):  # encoded frames have reached the file
            assert process.poll() is None and time.monotonic() < deadline, process.stderr.read().decode()
            time.sleep(0.02)
        process.send_signal(first)
        time.sleep(gap_s)
        process.send_signal(second)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr.decode()
    assert names(tmp_path) == ["show.mp4"]
    assert video_frames(record) > 0
    assert f"recorded {record}" in stderr.decode()


# ------------------------------------------------------------ VideoWriter --
def _write_frames(path, count: int, *, lossless: bool = True, complete: bool = False, failed: bool = False):
    from stylize.realtime.frames import Frame
    from stylize.realtime.sinks import VideoWriter

    writer = VideoWriter(path, lossless=lossless, progress=False, codec="mpeg4")
    writer.open(32, 24, 10)
    for index in range(count):
        writer.write(Frame(np.full((24, 32, 3), index * 20, np.uint8), index, captured_at=index / 10))
    if complete:
        writer.end_of_stream()
    if failed:
        writer.run_failed()
    writer.close()
    return writer


@pytest.mark.parametrize("existing, lossless, complete, failed, kept_as", [
    (False, True, True, False, "out.mp4"),  # done: the name asked for
    (True, True, True, False, "out.mp4"),  # done, replacing the old output as asked
    (False, True, False, False, "out.mp4"),  # interrupted: the frames done, under the name asked for
    (True, True, False, False, "out.partial.mp4"),  # interrupted: the old output stays
    (False, True, False, True, "out.partial.mp4"),  # failed: never under the name asked for
    (True, False, False, False, "out.mp4"),  # a stopped live recording is complete as it is
])
def test_where_the_video_writer_keeps_its_frames(tmp_path, existing, lossless, complete, failed, kept_as):
    out = tmp_path / "out.mp4"
    if existing:
        out.write_bytes(b"yesterday's video")
    writer = _write_frames(out, 3, lossless=lossless, complete=complete, failed=failed)
    assert writer.saved_path == tmp_path / kept_as
    assert video_frames(writer.saved_path) == 3
    if existing and kept_as != "out.mp4":
        assert out.read_bytes() == b"yesterday's video"
    assert sorted(names(tmp_path)) == sorted({kept_as, *(["out.mp4"] if existing else [])})


def test_a_video_writer_without_frames_keeps_nothing(tmp_path):
    writer = _write_frames(tmp_path / "out.mp4", 0, failed=True)
    assert writer.saved_path is None and names(tmp_path) == []
