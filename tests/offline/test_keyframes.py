"""Keyframes on a real H.264 clip with a synthetic cut, decoded the way the file job decodes."""
from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import run_cli, write_clip
from stylize.errors import OptionError
from stylize.offline.keyframes import INDEX_NAME, extract_keyframes, read_index


def _scene(seed: int, count: int, height: int = 48, width: int = 64) -> list[np.ndarray]:
    """A smooth random picture panning right by one pixel a frame."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (height // 8, width // 8 + count, 3)).astype(np.float32)
    import cv2

    big = cv2.resize(base, ((width // 8 + count) * 8, height), interpolation=cv2.INTER_CUBIC)
    return [np.clip(big[:, i:i + width], 0, 255).astype(np.uint8) for i in range(count)]


@pytest.fixture(scope="module")
def cut_clip(tmp_path_factory):
    """24 frames at 12 fps: one scene for 1 s, then a cut to another."""
    return write_clip(tmp_path_factory.mktemp("clip") / "cut.mp4", _scene(1, 12) + _scene(2, 12), fps=12)


def test_the_cut_and_the_start_are_found(cut_clip, tmp_path):
    frames = extract_keyframes(cut_clip, tmp_path / "keys", max_gap_s=10, min_gap_s=0.2, progress=False)
    assert [(k.frame, k.reason) for k in frames] == [(0, "start"), (12, "cut")]
    assert frames[1].time == pytest.approx(1.0, abs=1e-3)
    index = json.loads((tmp_path / "keys" / INDEX_NAME).read_text())
    assert [k["file"] for k in index["keyframes"]] == ["key_000000.png", "key_000012.png"]
    assert read_index(tmp_path / "keys") == frames
    assert (tmp_path / "keys" / "key_000012.png").stat().st_size > 0


def test_the_maximum_spacing_adds_frames_and_max_trims_them(cut_clip, tmp_path):
    spaced = extract_keyframes(cut_clip, tmp_path / "a", max_gap_s=0.5, min_gap_s=0.2, progress=False)
    assert [(k.frame, k.reason) for k in spaced] == [(0, "start"), (6, "gap"), (12, "cut"), (18, "gap")]
    trimmed = extract_keyframes(cut_clip, tmp_path / "b", max_frames=2, max_gap_s=0.5, progress=False)
    assert [k.frame for k in trimmed] == [0, 12]  # the cut outranks the spacing frames


def test_bad_spacing_and_an_existing_index_are_refused(cut_clip, tmp_path):
    with pytest.raises(OptionError):
        extract_keyframes(cut_clip, tmp_path / "k", min_gap_s=3, max_gap_s=1)
    extract_keyframes(cut_clip, tmp_path / "k", progress=False)
    with pytest.raises(OptionError, match="exists already"):
        extract_keyframes(cut_clip, tmp_path / "k", progress=False)


def test_cli(cut_clip, tmp_path):
    done = run_cli("keyframes", cut_clip, "-o", tmp_path / "keys", "--max-gap-s", "5")
    assert done.returncode == 0, done.stderr
    assert b"2 keyframes (1 cuts" in done.stderr
    bad = run_cli("keyframes", tmp_path / "nothing.mp4", "-o", tmp_path / "k2")
    assert bad.returncode == 2 and bad.stderr.decode().count("\n") == 1
