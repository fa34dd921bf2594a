"""Shared fixtures: the real ../shared toolbox, weights and a CLI runner."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from helpers import run_cli

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("STYLIZE_SHARED", REPO.parent / "shared"))
WEIGHTS = Path(os.environ.get("STYLIZE_WEIGHTS", SHARED / "weights"))


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is missing (tests read real files from ../shared)")
    return path


@pytest.fixture(scope="session")
def shared() -> Path:
    return _need(SHARED)


@pytest.fixture(scope="session")
def weights_dir() -> Path:
    return _need(WEIGHTS)


# Every test (and every CLI subprocess) sees the real weights and a private,
# empty cache, never the developer's ~/.cache/stylize.
os.environ["STYLIZE_WEIGHTS"] = str(WEIGHTS)
os.environ["STYLIZE_CACHE"] = tempfile.mkdtemp(prefix="stylize-test-cache-")


@pytest.fixture(scope="session")
def content_path(shared) -> Path:
    return _need(shared / "data" / "eval" / "content" / "gordic_tubingen.jpg")


@pytest.fixture(scope="session")
def style_path(shared) -> Path:
    styles = sorted((shared / "data" / "eval" / "style").glob("*.jpg"))
    if not styles:
        pytest.skip("no eval style images")
    return styles[0]


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def one_torch_thread():
    """One torch thread for small nets: on a busy 2-core machine, two OpenMP
    threads stall at every barrier while one runs these tiny workloads fast."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
