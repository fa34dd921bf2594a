"""The offline Gatys look over keyframes: outputs beside their keyframes' names, settings recorded, resumable."""
from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import run_cli, write_clip
from stylize import api
from stylize.errors import OptionError
from stylize.imageio import read_image
from stylize.offline.look_pass import LOOK_INDEX, read_look

pytestmark = pytest.mark.usefixtures("one_torch_thread", "weights_dir")


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """Two keyframes of a 2-scene clip at 48x32."""
    folder = tmp_path_factory.mktemp("look")
    rng = np.random.default_rng(0)
    scenes = [np.full((32, 48, 3), rng.integers(0, 256, 3), np.uint8) for _ in range(2)]
    frames = [np.clip(s.astype(int) + rng.integers(-20, 20, s.shape), 0, 255).astype(np.uint8)
              for s in scenes for _ in range(6)]
    clip = write_clip(folder / "two.mp4", frames, fps=6)
    api.keyframes(clip, folder / "keys", max_gap_s=10)
    return folder / "keys"


def _paint(keys, out, style, steps=2):
    return api.offline_look("gatys", keys, out, style=style, size=48, steps=steps, device="cpu")


def test_a_look_is_painted_and_resumed(keys, tmp_path, style_path):
    out = tmp_path / "look"
    first = _paint(keys, out, style_path)
    assert [k.frame for k in first] == [0, 6]
    record, pairs = read_look(out)
    assert record["kind"] == "gatys" and record["steps"] == 2 and record["styles"] == [str(style_path.resolve())]
    assert [p.look.name for p in pairs] == ["key_000000.png", "key_000006.png"]
    assert read_image(pairs[0].look).shape == read_image(pairs[0].keyframe).shape
    assert json.loads((out / "key_000006.json").read_text())["frame"] == 6
    kept = (out / "key_000000.png").stat().st_mtime_ns
    (out / "key_000006.png").unlink()  # as if the pass had stopped during the second frame
    again = _paint(keys, out, style_path)
    assert [k.frame for k in again] == [6]
    assert (out / "key_000000.png").stat().st_mtime_ns == kept
    assert _paint(keys, out, style_path) == []


def test_other_settings_over_a_look_are_refused(keys, tmp_path, style_path):
    out = tmp_path / "look"
    _paint(keys, out, style_path)
    with pytest.raises(OptionError, match="other settings.*steps"):
        _paint(keys, out, style_path, steps=3)
    assert json.loads((out / LOOK_INDEX).read_text())["steps"] == 2


def test_cli_and_a_missing_diffusion_setup(keys, tmp_path, style_path):
    done = run_cli("look", "gatys", "--keyframes", keys, "--style", style_path, "--size", "48", "--steps", "2",
                   "-o", tmp_path / "cli")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "cli" / "key_000006.png").is_file()
    diff = run_cli("look", "diffstyler", "--keyframes", keys, "--style", style_path, "-o", tmp_path / "d")
    assert diff.returncode == 2
    assert diff.stderr.decode().count("\n") == 1 and b"--sd-model" in diff.stderr
