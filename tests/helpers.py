"""Small helpers the tests import (tests/ is on pytest's pythonpath)."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
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


class _Payload:
    """Unpickling this runs code: it would create the file `marker`."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def hostile_weight_files(folder: Path) -> dict[str, Path]:
    """Files a user may pass where weights or a checkpoint belong: a photo, a bare tensor, pickles with code
    (saved by torch and raw), an empty and a truncated file. Unpickling either pickle creates folder/PWNED."""
    import pickle

    import cv2
    import torch

    marker = folder / "PWNED"
    files = {name: folder / name for name in ("photo.jpg", "bare.pt", "code.pt", "code.pkl", "empty.pt",
                                              "truncated.pt")}
    cv2.imwrite(str(files["photo.jpg"]), solid_rgb(32, 32))
    torch.save(torch.zeros(3), files["bare.pt"])
    torch.save({"model": _Payload(marker)}, files["code.pt"])
    files["code.pkl"].write_bytes(pickle.dumps(_Payload(marker)))
    files["empty.pt"].write_bytes(b"")
    files["truncated.pt"].write_bytes(files["bare.pt"].read_bytes()[:200])
    return files


def texture(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth random RGB texture DIS can track."""
    noise = np.random.default_rng(seed).integers(0, 256, (height, width, 3)).astype(np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 2.0)


def shifted(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """`image` moved by (dx, dy): the pixel at x in `image` is at x + (dx, dy) in the result."""
    return np.roll(image, (dy, dx), axis=(0, 1))
def write_clip(path: Path, frames, fps: int = 12) -> Path:
    """Encode RGB uint8 frames (all one even size) as an H.264 file with PyAV."""
    import av

    frames = list(frames)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "12"}
        for rgb in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())
    return path


class ManualClock:
    """A hand-driven time base (seconds): tests move `now`; `sleep` advances it and is recorded."""

    def __init__(self, now: float = 100.0):
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
