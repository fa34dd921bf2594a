"""`stylize info`: versions, devices, ONNX Runtime providers and where weights were found."""
from __future__ import annotations

import argparse
import json
import platform

from stylize import __version__
from stylize.cli import sentence
from stylize.models import weights

HELP = "show versions, devices, ONNX Runtime providers and found weights"
EXAMPLES = """examples:
  stylize info           # human-readable report
  stylize info --json    # the same as JSON, for bug reports and scripts
"""


def add_parser(verbs, parents) -> None:
    p = verbs.add_parser("info", parents=parents, help=HELP, description=sentence(HELP),
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run)


def collect() -> dict:
    import av
    import cv2
    import numpy
    import onnxruntime
    import torch

    cuda = torch.cuda.is_available()
    return {
        "stylize": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torch_device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.version.cuda if cuda else None,
        "numpy": numpy.__version__,
        "opencv": cv2.__version__,
        "pyav": av.__version__,
        "onnxruntime": onnxruntime.__version__,
        "onnxruntime_providers": onnxruntime.get_available_providers(),
        "weights_dirs": {label: str(path) for label, path in weights.weights_dirs()},
        "weights": {name: str(weights.find(name) or "") or None for name in weights.REGISTRY},
    }


# How the report names each key for people (the JSON keeps the keys).
LABELS = {"python": "Python", "torch": "PyTorch", "torch_device": "PyTorch device", "torch_threads": "PyTorch threads",
          "cuda": "CUDA", "numpy": "NumPy", "opencv": "OpenCV", "pyav": "PyAV", "onnxruntime": "ONNX Runtime",
          "onnxruntime_providers": "ONNX Runtime providers", "weights_dirs": "weights folders"}


def run(args) -> int:
    info = collect()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for key, value in info.items():
        label = LABELS.get(key, key)
        if key == "weights":
            print(f"{label}:")
            for name, path in value.items():
                print(f"  {name:<16}{path or 'not found'}")
        elif isinstance(value, dict):
            print(f"{label}:")
            for k, v in value.items():
                print(f"  {k:<18}{v}")
        else:
            print(f"{label + ':':<26}{', '.join(value) if isinstance(value, list) else value}")
    return 0
