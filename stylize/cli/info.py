"""`stylize info`: versions, devices, ONNX Runtime providers and where weights were found."""
from __future__ import annotations

import argparse
import json
import platform

from stylize import __version__
from stylize.models import weights

HELP = "show versions, devices, ONNX Runtime providers and found weights"
EXAMPLES = """examples:
  stylize info           # human-readable report
  stylize info --json    # the same as JSON, for bug reports and scripts
"""


def add_parser(verbs, parents) -> None:
    p = verbs.add_parser("info", parents=parents, help=HELP, description=HELP.capitalize() + ".",
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


def run(args) -> int:
    info = collect()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for key, value in info.items():
        if key == "weights":
            print("weights:")
            for name, path in value.items():
                print(f"  {name:<16}{path or 'not found'}")
        elif isinstance(value, dict):
            print(f"{key}:")
            for k, v in value.items():
                print(f"  {k:<16}{v}")
        else:
            print(f"{key + ':':<24}{', '.join(value) if isinstance(value, list) else value}")
    return 0
