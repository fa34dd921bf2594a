"""What every benchmark result carries and how it is written: the machine, JSON and PNG files.

Numbers are only comparable on the same machine under the same load, so each
result records the CPU, the core count, the library versions and the load
average when the run started.
"""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from stylize.imageio import encode, write_atomic

# Where a run writes when no folder is given: beside the user, never into the
# installed package or over the committed bench/results/ (those take `-o bench/results`).
DEFAULT_RESULTS = "bench-results"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def machine() -> dict:
    """The machine and software a result was measured with; call it when the run starts."""
    import onnxruntime
    import torch

    return {
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "numpy": np.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def results_dir(out: str | os.PathLike | None) -> Path:
    """The folder results go to, created: `out`, else ./bench-results in the current directory."""
    path = Path(out) if out else Path.cwd() / DEFAULT_RESULTS
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_json(path: Path, data: dict) -> Path:
    write_atomic(path, (json.dumps(data, indent=2, allow_nan=False) + "\n").encode())
    return path


def write_png(path: Path, rgb: np.ndarray) -> Path:
    write_atomic(path, encode(rgb, ".png"))
    return path
