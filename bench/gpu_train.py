"""Train the three arbitrary-style nets (the student, AesFA, the AdaIN-r31 decoder) within one time budget.

    python -m stylize.bench.gpu_train --stage DATA          # here: put the training set, VGG and checkpoints in DATA
    python -m stylize.bench.gpu_train DATA OUT --seconds 300   # there: train, write OUT/<net>.tar + OUT/gpu_train.json

bench/gpu_train.sh wraps both. DATA holds content/ and style/ (the training
photos and paintings, shrunk to the training short side when staged), weights/
(the VGG-19 relu3_1 encoder, for STYLIZE_WEIGHTS) and runs/<net>/checkpoint.pt
where a run exists to carry on from. The nets train one after the other, each
for its share of the budget (`SHARES`, less the time already spent), at 256 px
crops; a run resumed from a checkpoint keeps the options it was trained with.
Each net's results go into one tar (the device tool brings back at most 8
files): <net>.pt (fp16 inference weights) and its .sha256, checkpoint.pt
(resumable), losses.csv and the last sample grid.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tarfile
import time
from pathlib import Path

from stylize.errors import InputError, OptionError, StylizeError

KINDS = ("student", "aesfa", "adain")
SHARES = {"student": 0.25, "aesfa": 0.40, "adain": 0.35}  # AesFA's steps cost the most (teacher and losses)
TAR_LIMIT = 16 * 2 ** 20  # what one file may weigh on the way back
# Options a resumed run keeps from its checkpoint (the rest is this run's: data, crop, device, budget).
KEPT = ("lr", "lr_decay", "style_weight", "tv_weight", "ema_decay", "batch", "short_side")


def stage(target: Path, shared: Path, runs: Path, short_side: int = 384, limit: int | None = None) -> dict:
    """Copy the training set (shrunk to `short_side`; the first `limit` images of each folder if given),
    the VGG weights and any checkpoints into `target`."""
    import cv2

    from stylize.imageio import list_images, read_image

    if target.exists():
        raise InputError(f"--stage {target}: already exists; remove it first")
    counts = {}
    for part in ("content", "style"):
        (target / part).mkdir(parents=True)
        images = list_images(shared / "data" / "train" / part)[:limit]
        for path in images:
            image = read_image(path)
            scale = short_side / min(image.shape[:2])
            if scale >= 1:  # already no bigger than training shrinks it to: the file as it is
                shutil.copy2(path, target / part / Path(path).name)
                continue
            image = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                               interpolation=cv2.INTER_AREA)
            ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
            (target / part / (Path(path).stem + ".jpg")).write_bytes(data.tobytes())
        counts[part] = len(images)
    vgg = shared / "weights" / "vgg19_normalised"
    shutil.copytree(vgg, target / "weights" / vgg.name)
    for kind in KINDS:
        checkpoint = runs / kind / "checkpoint.pt"
        if checkpoint.is_file():
            (target / "runs" / kind).mkdir(parents=True)
            shutil.copy2(checkpoint, target / "runs" / kind / "checkpoint.pt")
            counts[f"checkpoint {kind}"] = 1
    counts["MiB"] = round(sum(f.stat().st_size for f in target.rglob("*") if f.is_file()) / 2 ** 20, 1)
    return counts


def saved_settings(checkpoint: Path | None) -> dict:
    if checkpoint is None:
        return {}
    from stylize.offline.train.trainer import read_checkpoint

    return read_checkpoint(checkpoint).get("config", {})


def trainer_for(kind: str, data: Path, out: Path, seconds: float, args) -> tuple:
    """A Trainer for `kind` over `data`, resumed from DATA/runs/<kind>/checkpoint.pt where there is one."""
    from stylize.offline.train import TASKS, TrainConfig, Trainer

    checkpoint = data / "runs" / kind / "checkpoint.pt"
    checkpoint = checkpoint if checkpoint.is_file() else None
    saved = saved_settings(checkpoint)
    options_class = TASKS[kind].Options
    options = options_class(**{f.name: (tuple(saved[f.name]) if isinstance(saved[f.name], list) else saved[f.name])
                               for f in dataclasses.fields(options_class) if f.name in saved})
    kept = {name: saved[name] for name in KEPT if name in saved}
    kept.setdefault("batch", args.batch)
    kept["short_side"] = max(kept.get("short_side", args.crop), args.crop)
    config = TrainConfig(kind=kind, content_dir=str(data / "content"), style_dir=str(data / "style"),
                         out=str(out / kind), crop=args.crop, steps=10 ** 9, max_seconds=max(1.0, seconds),
                         device=args.device, sample_every=args.sample_every, checkpoint_every=args.sample_every,
                         **kept)
    trainer = Trainer(config, options, progress=False)
    if checkpoint is not None:
        trainer.resume(checkpoint)
    return trainer, checkpoint


def pack(folder: Path, kind: str, tar_path: Path) -> dict:
    """One tar per net: its weights, sha256, checkpoint, loss log and last sample; without the checkpoint
    when that would pass TAR_LIMIT."""
    samples = sorted((folder / "samples").glob("*.png"))
    members = [folder / f"{kind}.pt", folder / f"{kind}.pt.sha256", folder / "checkpoint.pt",
               folder / "losses.csv", *samples[-1:]]
    if sum(m.stat().st_size for m in members if m.exists()) > TAR_LIMIT * 0.98:
        members = [m for m in members if m.name != "checkpoint.pt"]
    with tarfile.open(tar_path, "w") as tar:
        for member in members:
            if member.exists():
                tar.add(member, arcname=member.name)
    return {"tar": tar_path.name, "members": [m.name for m in members if m.exists()],
            "mib": round(tar_path.stat().st_size / 2 ** 20, 2)}


def train_one(kind: str, data: Path, work: Path, out: Path, seconds: float, args) -> dict:
    """Train `kind` for about `seconds` (its set-up included) and pack its results into OUT/<kind>.tar."""
    began = time.perf_counter()
    trainer, checkpoint = trainer_for(kind, data, work, seconds, args)
    trainer.config.max_seconds = max(1.0, seconds - (time.perf_counter() - began) - args.margin)
    first = trainer.step
    trained = time.perf_counter()
    losses = trainer.run()
    elapsed = time.perf_counter() - trained
    entry = {"kind": kind, "device": str(trainer.device), "resumed_from": str(checkpoint) if checkpoint else None,
             "steps_before": first, "steps_after": trainer.step, "train_seconds": round(elapsed, 1),
             "steps_per_second": round((trainer.step - first) / elapsed, 2), "crop": trainer.config.crop,
             "batch": trainer.config.batch, "losses": {k: round(v, 5) for k, v in losses.items()},
             "sha256": (work / kind / f"{kind}.pt.sha256").read_text().split()[0]}
    entry.update(pack(work / kind, kind, out / f"{kind}.tar"))
    print(f"{kind}: steps {first} -> {trainer.step} in {elapsed:.0f} s on {trainer.device}; "
          f"{entry['tar']} {entry['mib']} MiB", flush=True)
    return entry


def train_all(data: Path, out: Path, args) -> dict:
    """Every net in KINDS within `args.seconds`, each its share of what is left."""
    import tempfile

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="gpu-train-"))  # not in OUT: only the
    # tars and the summary go back
    deadline = time.perf_counter() + args.seconds
    runs = []
    left = list(args.nets)
    for kind in args.nets:
        share = SHARES[kind] / sum(SHARES[k] for k in left)
        runs.append(train_one(kind, data, work, out, share * (deadline - time.perf_counter()), args))
        left.remove(kind)
    import torch

    result = {"benchmark": "gpu_train", "budget_seconds": args.seconds, "runs": runs,
              "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
              "torch": torch.__version__, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    (out / "gpu_train.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m stylize.bench.gpu_train", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", help="staged folder (content/, style/, weights/, runs/); with --stage, the one to make")
    p.add_argument("out", nargs="?", help="output folder for <net>.tar and gpu_train.json")
    p.add_argument("--stage", action="store_true", help="make DATA from --shared and --runs instead of training")
    p.add_argument("--shared", default="../shared", help="the shared folder to stage from (default ../shared)")
    p.add_argument("--runs", default="runs", help="folder of runs/<net>/checkpoint.pt to carry on (default runs)")
    p.add_argument("--short-side", type=int, default=384, help="staged images' short side (default 384)")
    p.add_argument("--limit", type=int, help="stage only the first N images of each folder (dry runs)")
    p.add_argument("--seconds", type=float, default=300.0, help="time budget for all nets (default 300)")
    p.add_argument("--nets", default=",".join(KINDS), help=f"comma-separated (default {','.join(KINDS)})")
    p.add_argument("--crop", type=int, default=256, help="training crop (default 256)")
    p.add_argument("--batch", type=int, default=8, help="batch for runs without a checkpoint (default 8)")
    p.add_argument("--device", default="auto", help="auto, cuda or cpu (default auto)")
    p.add_argument("--sample-every", type=int, default=500, help="steps between samples and checkpoints")
    p.add_argument("--margin", type=float, default=3.0, help="seconds kept per net for export and packing")
    p.add_argument("--work", help="folder for the runs themselves (default: a new temporary folder)")
    args = p.parse_args(argv)
    args.nets = tuple(n.strip() for n in args.nets.split(",") if n.strip())
    if not set(args.nets) <= set(KINDS) or not args.nets:
        raise OptionError(f"--nets: choose from {', '.join(KINDS)}")
    if not args.seconds > 0:
        raise OptionError("--seconds must be positive")
    if not args.stage and not args.out:
        raise OptionError("give the output folder (or --stage to make DATA)")
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse(sys.argv[1:] if argv is None else argv)
        data = Path(args.data)
        if args.stage:
            print(json.dumps(stage(data, Path(args.shared), Path(args.runs), args.short_side, args.limit)))
            return 0
        if not (data / "content").is_dir() or not (data / "style").is_dir():
            raise InputError(f"{data}: no content/ and style/ folders (make them with --stage)")
        if (data / "weights").is_dir():
            os.environ["STYLIZE_WEIGHTS"] = str((data / "weights").resolve())
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        train_all(data, out, args)
        return 0
    except StylizeError as exc:
        print(f"gpu_train: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
