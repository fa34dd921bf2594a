"""Put trained weights into the package: models/shipped/<name>.pt plus a registry entry.

Run from the repository root (it writes into ./models/shipped, or the folder -o names):

    python -m stylize.offline.ship student runs/student/student.pt --architecture student \\
        --note "CPU student, 4000 steps at 128 px on 2 CPU cores"

The file is rewritten as fp16 and its sha256 recorded in the folder's registry.json,
which models/weights.py reads at import time.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch

from stylize.errors import UserError
from stylize.imageio import write_atomic
from stylize.models import weights
from stylize.models.weights import SHIPPED_DIR, sha256_of

LICENCE = "MIT (trained by the stylize project)"
# From the current directory, not from this file: an installed package is no place to write.
DEFAULT_FOLDER = Path("models") / "shipped"


def _fp16(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().half() if value.is_floating_point() else value.detach().cpu()
    if isinstance(value, dict):
        return {k: _fp16(v) for k, v in value.items()}
    return value


def ship(name: str, state: dict, architecture: str, note: str,
         folder: str | os.PathLike = DEFAULT_FOLDER) -> Path:
    """Write `state` as fp16 to FOLDER/<name>.pt and record it in FOLDER/registry.json; the file's path.

    `folder` (default ./models/shipped) must exist. When it is the folder this
    package reads its shipped weights from, this process sees the new file at once
    (e.g. looks built right after the nets).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder; run from the repository root or name the folder with -o")
    target = folder / f"{name}.pt"
    tmp = target.with_name(f".{target.name}.part")
    torch.save(_fp16(state), tmp)
    os.replace(tmp, target)
    registry_path = folder / "registry.json"
    registry = json.loads(registry_path.read_text()) if registry_path.is_file() else {}
    registry[name] = {"file": target.name, "sha256": sha256_of(target), "size": target.stat().st_size,
                      "architecture": architecture, "licence": LICENCE, "note": note}
    write_atomic(registry_path, (json.dumps(registry, indent=2, sort_keys=True) + "\n").encode())
    if folder.resolve() == SHIPPED_DIR.resolve():
        entry = registry[name]
        weights.register(weights.WeightSpec(name, entry["file"], entry["sha256"], architecture, LICENCE,
                                            size=entry["size"], note=note, shipped=True))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name")
    parser.add_argument("source", help="a state dict saved by `stylize train` (KIND.pt)")
    parser.add_argument("--architecture", required=True, choices=["student", "aesfa", "adain-decoder", "looks"])
    parser.add_argument("--note", required=True, help="how it was trained (shown by `stylize weights list`)")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_FOLDER,
                        help="the shipped-weights folder (default: models/shipped in the current directory)")
    args = parser.parse_args()
    state = torch.load(args.source, map_location="cpu", weights_only=True)
    try:
        path = ship(args.name, state, args.architecture, args.note, args.output)
    except UserError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    print(f"{path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
