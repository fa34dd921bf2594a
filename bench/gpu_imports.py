"""Check that every module on the GPU path imports without PyAV and python-osc (the GPU machine has neither).

    python -m stylize.bench.gpu_imports      # exit 0, or 1 naming each module that needs them

A real import blocker refuses `av` and `pythonosc` before any of the modules
below is imported, so a module-level `import av` anywhere on their import
path fails here as it would there. The `stylize` command line is built too
(every verb's options), since the GPU scripts run through it.
"""
from __future__ import annotations

import importlib
import importlib.abc
import sys

BLOCKED = ("av", "pythonosc")
GPU_PATH = (
    "stylize.realtime.engines", "stylize.realtime.cuda_frames", "stylize.realtime.cuda_graphs",
    "stylize.realtime.onnx_engine", "stylize.realtime.backends", "stylize.realtime.tensorrt_engine",
    "stylize.export.onnx", "stylize.export.tensorrt", "stylize.bench.suite", "stylize.bench.plots", "stylize.bench.report",
    "stylize.bench.nets", "stylize.bench.speed", "stylize.bench.gpu_train", "stylize.offline.train",
    "stylize.cli", "stylize.cli.bench", "stylize.cli.train", "stylize.cli.export",
)


class Blocker(importlib.abc.MetaPathFinder):
    """Refuses the BLOCKED packages, as if they were not installed."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: the GPU machine has no {name})",
                                      name=name)
        return None


def main() -> int:
    sys.meta_path.insert(0, Blocker())
    failed = []
    for name in GPU_PATH:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            failed.append(f"{name}: {exc}")
    if not failed:
        try:
            importlib.import_module("stylize.cli").build_parser()
        except ImportError as exc:
            failed.append(f"stylize.cli.build_parser(): {exc}")
    for line in failed:
        print(f"needs a package the GPU machine lacks: {line}", file=sys.stderr)
    print(f"gpu imports: {len(GPU_PATH) - len(failed)} of {len(GPU_PATH)} modules import without "
          f"{' and '.join(BLOCKED)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
