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

from stylize.models import registry, weights, zoo
from stylize.offline import looks
from stylize.offline.averaging import trained_weights
from stylize.offline.ship import ship

# The run folders: one per shipped arbitrary-style net, named after its method.
RUNS = ("student", "adain", "aesfa")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, help="folder holding the student/, adain/ and aesfa/ runs")
    parser.add_argument("--paintings", type=Path, required=True, help="folder of the built-in looks' paintings")
    parser.add_argument("--device", default="2-core CPU", help="where the runs trained, for the notes")
    parser.add_argument("--only", help="comma-separated subset of the runs (default: all three)")
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(RUNS)
    for run in RUNS:
        if run not in chosen:
            continue
        spec = registry.get(run)
        checkpoint = torch.load(args.runs / run / "checkpoint.pt", map_location="cpu", weights_only=True)
        config = checkpoint["config"]
        crop = config.get("crop", config.get("size"))  # "size" in the oldest checkpoints
        note = (f"{checkpoint['step']} steps, batch {config['batch']}, {crop} px crops, "
                f"lr {config['lr']}, on the {args.device}")
        net = spec.from_state(trained_weights(checkpoint), zoo.load_vgg)
        path = ship(spec.weights, spec.inference_state(net), weights.spec_for(spec.weights).architecture, note)
        print(f"{spec.weights}: {path} ({path.stat().st_size / 1e6:.2f} MB) — {note}")
    # Looks depend on the nets' weights, so they are rebuilt after every ship.
    path = ship(looks.LOOKS_NAME, looks.build(args.paintings), "looks", looks.NOTE)
    print(f"looks: {path} ({path.stat().st_size / 1e3:.0f} kB)")
    print(json.dumps({p.name: p.stat().st_size for p in path.parent.glob('*.pt')}))


if __name__ == "__main__":
    main()
