"""The GPU scripts' dry runs (the same steps on the CPU at tiny sizes) and the GPU path's imports without
PyAV and python-osc, each in a real subprocess."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile

from helpers import REPO

LIMIT = 16 * 2 ** 20  # what one file may weigh on its way back from the GPU machine


def bash(*args, timeout=240):
    return subprocess.run(["bash", *map(str, args)], cwd=REPO, capture_output=True, text=True, timeout=timeout)


def test_the_gpu_path_imports_without_av_and_pythonosc():
    done = subprocess.run([sys.executable, "-m", "stylize.bench.gpu_imports"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    blocked = subprocess.run([sys.executable, "-c", "import sys; from stylize.bench.gpu_imports import Blocker; "
                              "sys.meta_path.insert(0, Blocker()); import stylize.realtime.sinks.network"],
                             capture_output=True, text=True, timeout=60)
    assert blocked.returncode == 1 and "blocked: the GPU machine has no av" in blocked.stderr


def test_gpu_check_dry_run(weights_dir, tmp_path):
    done = bash("bench/gpu_check.sh", "--dry-run", tmp_path / "check")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    out = tmp_path / "check"
    assert sorted(p.name for p in out.iterdir()) == ["check.log", "suite.json", "suite.png"]
    result = json.loads((out / "suite.json").read_text())
    assert [(row["net"], row["backend"], row["device"]) for row in result["rows"]] == [
        ("student", "torch-staged", "cpu"), ("adain", "torch-staged", "cpu")]
    assert all(row["ratio_to_naive"] > 0 and row["latency_p95_ms"] >= row["latency_p50_ms"] > 0
               for row in result["rows"])
    log = (out / "check.log").read_text()
    assert "modules import without av and pythonosc" in log and "skipped" in log and "passed;" in log


def test_gpu_train_dry_run(shared, tmp_path):
    done = bash("bench/gpu_train.sh", "--dry-run", tmp_path / "data", tmp_path / "train")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    out = tmp_path / "train"
    files = sorted(p.name for p in out.iterdir())
    assert files == ["adain.tar", "aesfa.tar", "gpu_train.json", "student.tar"]
    summary = json.loads((out / "gpu_train.json").read_text())
    for run in summary["runs"]:
        assert run["steps_after"] > run["steps_before"] == 0 and run["device"] == "cpu"
        tar_path = out / run["tar"]
        assert tar_path.stat().st_size <= LIMIT
        with tarfile.open(tar_path) as tar:
            weights = tar.extractfile(f"{run['kind']}.pt").read()
            assert {"checkpoint.pt", "losses.csv", f"{run['kind']}.pt.sha256"} <= set(tar.getnames())
        assert hashlib.sha256(weights).hexdigest() == run["sha256"]
    # a second run carries on from the staged checkpoints it is given
    (tmp_path / "data" / "runs" / "student").mkdir(parents=True)
    with tarfile.open(out / "student.tar") as tar:
        tar.extract("checkpoint.pt", tmp_path / "data" / "runs" / "student", filter="data")
    again = bash("bench/gpu_train.sh", "--dry-run", tmp_path / "data", tmp_path / "again", "--nets", "student")
    assert again.returncode == 0, again.stderr[-2000:]
    run = json.loads((tmp_path / "again" / "gpu_train.json").read_text())["runs"][0]
    assert run["steps_before"] > 0 and run["resumed_from"].endswith("checkpoint.pt")
