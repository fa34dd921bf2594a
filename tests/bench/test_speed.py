"""Speed benchmark smoke tests: tiny frames, fractions of a second, results written. No timing asserts."""
from __future__ import annotations

import json
import math

import cv2
import pytest
import torch

from helpers import hostile_weight_files
from stylize.bench import speed
from stylize.cli import main


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    yield
    torch.set_num_threads(previous)  # speed.run sets the thread count it measures with


def check_entry(entry: dict) -> None:
    for key in ("median_ms", "p90_ms", "fps"):
        assert math.isfinite(entry[key]) and entry[key] > 0
    assert entry["p90_ms"] >= entry["median_ms"]
    assert entry["frames"] >= 1


def test_student_through_onnxruntime_writes_json_and_chart(weights_dir, tmp_path):
    result = speed.run("student", (64, 48), "onnxruntime", threads=1, seconds=0.3, out=tmp_path)
    saved = json.loads((tmp_path / "speed_student_onnxruntime_64x48_t1.json").read_text())
    assert saved["method"] == "student" and saved["resolution"] == "64x48" and saved["threads"] == 1
    check_entry(saved["new"])
    check_entry(saved["baseline"])
    assert saved["fps_ratio"] == pytest.approx(saved["new"]["fps"] / saved["baseline"]["fps"], rel=0.01)
    assert saved["machine"]["cores"] >= 1 and saved["machine"]["cpu"]
    assert len(saved["machine"]["load_average_at_start"]) == 3
    assert "target" not in saved  # the 20 fps target is for 640x480 only
    chart = cv2.imread(str(tmp_path / "speed_student_onnxruntime_64x48_t1.png"))
    assert chart is not None and chart.shape[0] > 100
    assert "student" in speed.format_result(result) and "baseline" in speed.format_result(result)


def test_cli_times_a_fast_net_in_torch(weights_dir, tmp_path, capsys):
    code = main(["bench", "speed", "--method", "candy", "--resolution", "48x32", "--threads", "1",
                 "--seconds", "0.2", "-o", str(tmp_path), "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["backend"] == "torch" and "candy" in result["new"]["weights"]
    check_entry(result["new"])
    assert (tmp_path / "speed_candy_torch_48x32_t1.png").is_file()


def test_cli_rejects_an_unknown_method_in_one_line(tmp_path, capsys):
    assert main(["bench", "speed", "--method", "nope", "--seconds", "0.1", "--output", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "unknown method 'nope'" in lines[0]
    assert not list(tmp_path.iterdir())


def test_without_output_results_go_to_the_current_directory(in_scratch_dir, capsys):
    assert main(["bench", "speed", "--method", "candy", "--resolution", "32x32", "--threads", "1",
                 "--seconds", "0.1"]) == 0
    written = in_scratch_dir / "bench-results" / "speed_candy_torch_32x32_t1.json"
    assert f"wrote {written}" in capsys.readouterr().out.splitlines()[-2]
    assert json.loads(written.read_text())["method"] == "candy"


def test_json_keeps_stdout_json_and_names_the_files_on_stderr(weights_dir, tmp_path, capsys):
    assert main(["bench", "speed", "--method", "candy", "--resolution", "32x32", "--threads", "1",
                 "--seconds", "0.1", "-o", str(tmp_path), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["files"] == [str(tmp_path / f"speed_candy_torch_32x32_t1.{ext}")
                                                 for ext in ("json", "png")]
    assert f"wrote {tmp_path / 'speed_candy_torch_32x32_t1.json'}" in captured.err


@pytest.mark.parametrize("text", ["640", "640x", "axb", "8x8"])
def test_bad_resolutions_are_one_line_and_exit_2(text, tmp_path, capsys):
    assert main(["bench", "speed", "--method", "candy", "--resolution", text, "-o", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "--resolution must" in lines[0]
    assert not list(tmp_path.iterdir())


def test_resolution_is_width_by_height():
    assert speed.fixed_frame(640, 480).shape == (480, 640, 3)


@pytest.mark.parametrize("name", ["code.pt", "code.pkl", "photo.jpg", "bare.pt", "truncated.pt"])
def test_a_net_file_that_is_no_plain_state_dict_is_one_plain_line(tmp_path, capsys, name):
    files = hostile_weight_files(tmp_path)
    assert main(["bench", "speed", "--method", "student", "--net", f"student={files[name]}", "--resolution",
                 "32x32", "--threads", "1", "--seconds", "0.1", "-o", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"stylize bench: error: --net student: {files[name]}"), error
    assert "weights_only" not in error and "\x1b" not in error
    expected = {"code.pt": "is not a plain state dict", "code.pkl": "is not a plain state dict",
                "photo.jpg": "is not a PyTorch weights file", "bare.pt": "holds no state dict",
                "truncated.pt": "truncated or damaged"}[name]
    assert expected in error
    assert not (tmp_path / "PWNED").exists()
