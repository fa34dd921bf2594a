"""Ship the three live nets from `stylize train` checkpoints, then rebuild the looks.

    python -m stylize.offline.ship_runs runs/ --paintings ../shared/data/eval/style

Reads RUNS/{student,adain,aesfa}/checkpoint.pt (the latest step of each run,
or its weight average where the run kept one),
writes fp16 inference weights into models/shipped/ and records in each note
how far the run got.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from stylize.models.aesfa import AesFANet
from stylize.models.student import StudentNet
from stylize.offline import looks
from stylize.offline.averaging import trained_weights
from stylize.offline.ship import ship

# run folder -> (registry name, architecture, how to get inference weights from the trained module's state)
RUNS = {
    "student": ("student", "student",
                lambda state: StudentNet.from_inference_state_dict(state).inference_state_dict()),
    "adain": ("adain_r31_decoder", "adain-decoder", lambda state: state),
    "aesfa": ("aesfa", "aesfa", lambda state: AesFANet.from_state_dict(state).state_dict()),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, help="folder holding the student/, adain/ and aesfa/ runs")
    parser.add_argument("--paintings", type=Path, required=True, help="folder of the built-in looks' paintings")
    parser.add_argument("--device", default="2-core CPU", help="where the runs trained, for the notes")
    parser.add_argument("--only", help="comma-separated subset of the runs (default: all three)")
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(RUNS)
    for run, (name, architecture, inference) in RUNS.items():
        if run not in chosen:
            continue
        checkpoint = torch.load(args.runs / run / "checkpoint.pt", map_location="cpu", weights_only=True)
        config = checkpoint["config"]
        crop = config.get("crop", config.get("size"))  # "size" in the oldest checkpoints
        note = (f"{checkpoint['step']} steps, batch {config['batch']}, {crop} px crops, "
                f"lr {config['lr']}, on the {args.device}")
        path = ship(name, inference(trained_weights(checkpoint)), architecture, note)
        print(f"{name}: {path} ({path.stat().st_size / 1e6:.2f} MB) — {note}")
    # Looks depend on the nets' weights, so they are rebuilt after every ship.
    path = ship(looks.LOOKS_NAME, looks.build(args.paintings), "looks", looks.NOTE)
    print(f"looks: {path} ({path.stat().st_size / 1e3:.0f} kB)")
    print(json.dumps({p.name: p.stat().st_size for p in path.parent.glob('*.pt')}))


if __name__ == "__main__":
    main()
