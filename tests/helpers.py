"""Small helpers the tests import (tests/ is on pytest's pythonpath)."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str, env: dict | None = None, input: bytes | None = None, timeout: float = 300):
    """Run the real `stylize` entry point in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "stylize", *map(str, args)], input=input,
                          capture_output=True, env=full_env, timeout=timeout, cwd=REPO)


def solid_rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


class OneLookEngine:
    """Mixin for fake test engines: a look needs no preparation and fades only by blending pictures."""

    def _build(self, look):
        return PreparedLook(look)

    def _interpolates(self, a, b):
        return False

    def _interpolated(self, source, target, t):
        raise AssertionError("never interpolates")


@dataclass
class PreparedLook:
    look: object
