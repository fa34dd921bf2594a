"""Put trained weights into the package: models/shipped/<name>.pt plus a registry entry.

    python -m stylize.offline.ship student runs/student/student.pt --architecture student \\
        --note "CPU student, 4000 steps at 128 px on 2 CPU cores"

The file is rewritten as fp16 and its sha256 recorded in models/shipped/registry.json,
which models/weights.py reads at import time.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch

from stylize.models import weights
from stylize.models.weights import SHIPPED_DIR, SHIPPED_REGISTRY, sha256_of

LICENCE = "MIT (trained by the stylize project)"


def _fp16(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().half() if value.is_floating_point() else value.detach().cpu()
    if isinstance(value, dict):
        return {k: _fp16(v) for k, v in value.items()}
    return value


def ship(name: str, state: dict, architecture: str, note: str) -> Path:
    SHIPPED_DIR.mkdir(exist_ok=True)
    target = SHIPPED_DIR / f"{name}.pt"
    tmp = target.with_name(f".{target.name}.part")
    torch.save(_fp16(state), tmp)
    os.replace(tmp, target)
    registry = json.loads(SHIPPED_REGISTRY.read_text()) if SHIPPED_REGISTRY.is_file() else {}
    registry[name] = {"file": target.name, "sha256": sha256_of(target), "size": target.stat().st_size,
                      "architecture": architecture, "licence": LICENCE, "note": note}
    SHIPPED_REGISTRY.write_text(json.dumps(registry, indent=2, sort_keys=True) + "\n")
    entry = registry[name]
    # This process sees the new file at once (e.g. looks built right after the nets).
    weights.register(weights.WeightSpec(name, entry["file"], entry["sha256"], architecture, LICENCE,
                                        size=entry["size"], note=note, shipped=True))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name")
    parser.add_argument("source", help="a state dict saved by `stylize train` (KIND.pt)")
    parser.add_argument("--architecture", required=True, choices=["student", "aesfa", "adain-decoder", "looks"])
    parser.add_argument("--note", required=True, help="how it was trained (shown by `stylize weights list`)")
    args = parser.parse_args()
    state = torch.load(args.source, map_location="cpu", weights_only=True)
    path = ship(args.name, state, args.architecture, args.note)
    print(f"{path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
