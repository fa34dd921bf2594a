"""`stylize train TASK`: train AdaIN-r31, AesFA or the CPU student on image folders.

Each task has its own subcommand, built from `TrainConfig` (the options every
task shares) and the task's own `Options`, so a task's options exist only on
its command line.
"""
from __future__ import annotations

import argparse
import dataclasses

from stylize.offline.train import TASKS, TrainConfig, Trainer
from stylize.offline.train.config import cli_fields
from stylize.sizes import finite_float

HELP = "train a live net (AdaIN-r31, AesFA or the CPU student) against the VGG-19 relu3_1 teacher"
EXAMPLES = """examples:
  # the CPU student on 128 px crops (what we ship when no GPU is around)
  stylize train student --content ../shared/data/train/content --style ../shared/data/train/style \\
      --crop 128 --steps 3000 --batch 4 -o runs/student

  # AdaIN-r31 decoder on a GPU: ~20k steps on 256 px crops take minutes on an H100
  stylize train adain --content DIR --style DIR --crop 256 --steps 20000 --batch 16 -o runs/adain

  # fine-tune from exported weights (e.g. a student re-laid out by stylize.offline.train.student_redesign)
  stylize train student --content DIR --style DIR --init runs/redesign/student.pt -o runs/student2

  # carry on where a run stopped (Ctrl-C saves a checkpoint)
  stylize train adain --content DIR --style DIR --resume runs/adain/checkpoint.pt --steps 30000 -o runs/adain

The output folder gets checkpoint.pt, losses.csv, samples/step_*.png (look at
them) and, at the end, TASK.pt: fp16 inference weights with a .sha256 beside.
Needs the VGG-19 weights (see `stylize weights list`).
Run `stylize train TASK --help` for the options of each task.
"""


def add_options(parser: argparse.ArgumentParser, options_class: type) -> None:
    """One flag per field of an options dataclass that was made with `option()`."""
    for field in cli_fields(options_class):
        cli = dict(field.metadata["cli"])
        flags = cli.pop("flags", (f"--{field.name.replace('_', '-')}",))
        if isinstance(field.default, bool):
            cli.setdefault("action", argparse.BooleanOptionalAction)
        elif field.default is not dataclasses.MISSING:
            cli.setdefault("type", type(field.default))
        if cli.get("type") is float:
            cli["type"] = finite_float  # NaN or inf would train a net to NaN
        if field.default is not dataclasses.MISSING:
            cli["default"] = field.default
        parser.add_argument(*flags, dest=field.name, help=field.metadata["help"], **cli)


def options_from(args: argparse.Namespace, options_class: type, **extra):
    """An options dataclass filled from parsed arguments."""
    return options_class(**{field.name: getattr(args, field.name) for field in cli_fields(options_class)}, **extra)


def add_parser(verbs, parents) -> None:
    p = verbs.add_parser("train", help=HELP, description=HELP[0].upper() + HELP[1:] + ".", epilog=EXAMPLES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    tasks = p.add_subparsers(dest="kind", metavar="TASK", required=True)
    for name, task in TASKS.items():
        t = tasks.add_parser(name, parents=parents, help=task.summary,
                             description=f"Train {task.summary}.", formatter_class=argparse.HelpFormatter)
        add_options(t, TrainConfig)
        start = t.add_mutually_exclusive_group()
        start.add_argument("--resume", metavar="CHECKPOINT", help="checkpoint.pt to continue from")
        start.add_argument("--init", metavar="WEIGHTS", help="start from these weights (a TASK.pt with its .sha256 "
                                                               "beside) instead of a random net, at step 0")
        group = t.add_argument_group(f"options of the {name} task")
        add_options(group, task.Options)
        t.set_defaults(run=run)


def run(args) -> int:
    config = options_from(args, TrainConfig, kind=args.kind)
    trainer = Trainer(config, options_from(args, TASKS[args.kind].Options))
    if args.resume:
        trainer.resume(args.resume)
    elif args.init:
        trainer.start_from(args.init)
    losses = trainer.run()
    print(f"trained {args.kind} to step {trainer.step}: " + ", ".join(f"{k} {v:.4g}" for k, v in losses.items()))
    print(f"weights: {trainer.out / (args.kind + '.pt')}")
    return 0
