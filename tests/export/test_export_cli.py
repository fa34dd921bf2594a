"""`stylize export onnx|tensorrt` as a user runs it: real subprocesses, real weights, files on disk."""
from __future__ import annotations

import importlib.util
import os
import stat

import numpy as np
import pytest

from stylize.cli import main
from stylize.export import onnx as ox
from stylize.models import zoo


def lines(result) -> list[str]:
    return result.stderr.decode().strip().splitlines()


def test_export_check_and_print_io_then_refuse_to_overwrite(cli, tmp_path):
    out = tmp_path / "student.onnx"
    result = cli("export", "onnx", "--method", "student", "-o", out, "--check", "--print-io")
    assert result.returncode == 0, result.stderr
    stdout = result.stdout.decode()
    for name in ("content", "style_mean", "style_std", "alpha", "stylized"):
        assert name in stdout
    assert "1x3xheightxwidth" in stdout
    checks = [line for line in lines(result) if line.startswith("check ")]
    assert [line.split()[1] for line in checks] == ["91x67:", "176x144:"]  # two sizes, one odd
    assert stat.S_IMODE(os.stat(out).st_mode) & 0o044  # an ordinary readable file, not a private temp
    session = ox.open_session(out, threads=1)
    frame = np.random.default_rng(0).random((1, 3, 33, 45), dtype=np.float32)
    channels = zoo.load("student").widths[-1]  # the style statistics are of the encoder's last conv
    feeds = {"style_mean": np.zeros((1, channels, 1, 1), np.float32),
             "style_std": np.ones((1, channels, 1, 1), np.float32),
             "alpha": np.ones(1, np.float32)}
    assert ox.run_session(session, frame, feeds).shape == (1, 3, 33, 45)

    before = out.read_bytes()
    again = cli("export", "onnx", "--method", "student", "-o", out)
    assert again.returncode == 2 and len(lines(again)) == 1 and "exists" in lines(again)[0]
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["student.onnx"]  # no temporary left


def test_int8_export_checks_on_a_photo(capsys, tmp_path, shared):
    out = tmp_path / "student-int8.onnx"
    code = main(["export", "onnx", "--method", "student", "-o", str(out), "--int8", "--calibrate",
                 str(shared / "data" / "train" / "content"), "--calibration-images", "2", "--check"])
    stderr = capsys.readouterr().err.strip().splitlines()
    assert code == 0 and out.is_file(), stderr
    assert sum("mean abs difference" in line for line in stderr) == 2
    assert "ONNX int8" in stderr[-1]


@pytest.mark.parametrize("flags, words", [
    (["--int8"], "--calibrate"),
    (["--calibrate", "."], "--int8"),
    (["--resolution", "320x240"], "any size"),
    (["--int8", "--calibrate", "/nonexistent"], "not a folder"),
])
def test_bad_options_are_one_line_and_exit_2(capsys, tmp_path, flags, words):
    code = main(["export", "onnx", "--method", "student", "-o", str(tmp_path / "x.onnx"), *flags])
    stderr = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(stderr) == 1 and words in stderr[0], stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("method, output, words", [("picasso", "x.onnx", "choose from"),
                                                   ("student", "no/x.onnx", "does not exist")])
def test_an_unknown_method_and_a_missing_folder_are_refused(capsys, tmp_path, method, output, words):
    code = main(["export", "onnx", "--method", method, "-o", str(tmp_path / output)])
    stderr = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(stderr) == 1 and words in stderr[0], stderr


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here")
def test_tensorrt_without_tensorrt_names_the_extra(capsys, tmp_path):
    code = main(["export", "tensorrt", "--method", "student", "-o", str(tmp_path / "s.engine")])
    stderr = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(stderr) == 1 and 'pip install "stylize[tensorrt]"' in stderr[0], stderr
    assert not list(tmp_path.iterdir())


def test_a_failed_check_exits_1_and_leaves_no_file(capsys, monkeypatch, tmp_path, shared):
    monkeypatch.setitem(ox.PARITY, "int8", ("mean", 1e-6))  # no int8 graph is that close
    out = tmp_path / "student-int8.onnx"
    code = main(["export", "onnx", "--method", "student", "-o", str(out), "--int8", "--calibrate",
                 str(shared / "data" / "train" / "content"), "--calibration-images", "1", "--check"])
    stderr = capsys.readouterr().err
    assert code == 1 and "check failed" in stderr and "int8" in stderr, stderr
    assert not list(tmp_path.iterdir())
