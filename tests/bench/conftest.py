"""Benchmarks run from a scratch current directory and must leave the committed bench/results alone."""
from __future__ import annotations

import pytest

from helpers import REPO


@pytest.fixture
def in_scratch_dir(weights_dir, tmp_path, monkeypatch):
    """chdir to tmp_path (weights found by absolute path); afterwards bench/results is as it was."""
    committed = REPO / "bench" / "results"
    before = {path.name: path.stat().st_mtime_ns for path in committed.iterdir()}
    monkeypatch.setenv("STYLIZE_WEIGHTS", str(weights_dir.resolve()))  # it may be relative to the repo
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    assert {path.name: path.stat().st_mtime_ns for path in committed.iterdir()} == before
