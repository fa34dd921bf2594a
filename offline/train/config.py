"""The options of a training run: the ones every task shares, and how any option declares itself.

An option is a dataclass field made with `option()`: its metadata carries the
command-line help and argparse settings, so `stylize train` builds its flags
from the dataclasses (`TrainConfig` here, each task's `Options` in tasks/)
and a task's options exist only on that task's command line.
"""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import Any

from stylize.errors import OptionError

PRECISIONS = ("auto", "bf16", "fp32")


def option(default: Any = dataclasses.MISSING, help: str = "", **cli: Any) -> Any:
    """A dataclass field that is also a command-line option.

    `help` may use argparse's `%(default)s`. `cli` holds further argparse
    settings: `flags` (default: `--the-field-name`), `type` (default: the
    type of the default value), `choices`, `metavar`, `required`.
    """
    return dataclasses.field(default=default, metadata={"help": help, "cli": cli})


def cli_fields(options_class: type) -> list[dataclasses.Field]:
    """The fields of an options dataclass that appear on the command line (those made with `option()`)."""
    return [field for field in dataclasses.fields(options_class) if "help" in field.metadata]


def check_choices(options: Any) -> None:
    """Refuse a value outside an option's `choices`, for callers that bypass argparse."""
    for field in cli_fields(type(options)):
        choices = field.metadata["cli"].get("choices")
        value = getattr(options, field.name)
        if choices is not None and value not in choices:
            raise OptionError(f"{field.name} must be one of {', '.join(map(str, choices))}, got {value!r}")


def plain_dict(options: Any) -> dict:
    """The options as plain values (tuples as lists), as checkpoints record them."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(options).items()}


def parse_widths(text: str) -> tuple[int, ...]:
    """`16,32,64` -> (16, 32, 64); an argparse `type`, so a bad value is a usage error."""
    try:
        widths = tuple(int(w) for w in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated integers, got {text!r}") from None
    if any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return widths


@dataclass
class TrainConfig:
    """What every task shares: the data, the schedule, the device and the outputs."""

    kind: str
    content_dir: str = option(help="folder of content photos", flags=("--content",), required=True, metavar="DIR")
    style_dir: str = option(help="folder of style images (paintings, textures)", flags=("--style",),
                            required=True, metavar="DIR")
    out: str = option(help="output folder (created)", flags=("-o", "--output"), required=True, metavar="DIR")
    crop: int = option(256, "side of the square training crops in pixels (default %(default)s)", metavar="PX")
    short_side: int = option(384, "shrink images to this short side before cropping (default %(default)s): the "
                                  "scale the net will stylize at, which sets the size of the strokes it learns",
                             metavar="PX")
    steps: int = option(20000, "total optimiser steps (default %(default)s)")
    batch: int = option(8, "batch size (default %(default)s)")
    lr: float = option(1e-4, "Adam learning rate (default %(default)s)")
    lr_decay: float = 5e-5  # lr / (1 + decay * step), as in the AdaIN reference
    style_weight: float = option(10.0, "style loss weight (default %(default)s)")
    tv_weight: float = option(0.0, "weight of a total-variation term on the output (default %(default)s); the "
                                   "shipped student used 10 in its last stage to damp a fine checkerboard")
    ema_decay: float = option(0.0, "keep a moving average of the weights with this decay per step (e.g. 0.998 "
                                   "averages over about 500 steps) and sample, evaluate, export and ship it "
                                   "instead of the last step's weights (default 0: off); it steadies a net whose "
                                   "checkpoints swing, as AesFA's do")
    device: str = option("auto", "auto, cpu, cuda or cuda:N (default %(default)s)")
    precision: str = option("auto", "autocast precision (default: bf16 where the hardware supports it)",
                            choices=PRECISIONS)
    threads: int | None = option(None, "CPU threads for torch (default: torch's choice); use 1 per process when "
                                       "several runs share a small machine, or they slow each other down", type=int)
    seed: int = option(0, "random seed (default %(default)s)")
    max_seconds: float | None = option(None, "stop after this many seconds of training, checkpointed and "
                                             "exported as at --steps (default: no limit)", type=float)
    sample_every: int = option(500, "steps between sample grids (default %(default)s)")
    checkpoint_every: int = option(500, "steps between checkpoints (default %(default)s)")
    log_every: int = 10

    def __post_init__(self) -> None:
        check_choices(self)
        if self.crop < 32 or self.crop % 8:
            raise OptionError(f"--crop must be a multiple of 8 and at least 32, got {self.crop}")
        if self.short_side < self.crop:
            raise OptionError(f"--short-side {self.short_side} is smaller than the --crop {self.crop} crops")
        if self.steps < 1 or self.batch < 1:
            raise OptionError("--steps and --batch must be positive")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise OptionError(f"--max-seconds must be positive, got {self.max_seconds}")
        if not 0 <= self.ema_decay < 1:
            raise OptionError(f"--ema-decay must be in [0, 1) (0 turns it off), got {self.ema_decay}")

    def as_dict(self) -> dict:
        return plain_dict(self)
