"""`stylize train`: train AdaIN-r31, AesFA or the CPU student on image folders."""
from __future__ import annotations

import argparse

from stylize.errors import UserError

HELP = "train a live net (adain, aesfa, student) against the VGG-19 relu3_1 teacher"
EXAMPLES = """examples:
  # the CPU student at 128 px (what we ship when no GPU is around)
  stylize train student --content ../shared/data/train/content --style ../shared/data/train/style \\
      --size 128 --steps 3000 --batch 4 -o runs/student

  # AdaIN-r31 decoder on a GPU: ~20k steps at 256 px take minutes on an H100
  stylize train adain --content DIR --style DIR --size 256 --steps 20000 --batch 16 -o runs/adain

  # carry on where a run stopped (Ctrl-C saves a checkpoint)
  stylize train adain --content DIR --style DIR --resume runs/adain/checkpoint.pt --steps 30000 -o runs/adain

The output folder gets checkpoint.pt, losses.csv, samples/step_*.png (look at
them) and, at the end, KIND.pt: fp16 inference weights with a .sha256 beside.
Needs the VGG-19 weights (see `stylize weights list`).
"""


def add_parser(verbs, parents) -> None:
    p = verbs.add_parser("train", parents=parents, help=HELP, description=HELP.capitalize() + ".",
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=["adain", "aesfa", "student"], help="which net to train")
    p.add_argument("--content", required=True, help="folder of content photos")
    p.add_argument("--style", required=True, help="folder of style images (paintings, textures)")
    p.add_argument("-o", "--output", required=True, help="output folder (created)")
    p.add_argument("--size", type=int, default=256, help="square crop size in pixels (default 256)")
    p.add_argument("--short-side", type=int, default=384,
                   help="shrink images to this short side before cropping (default 384): the scale the net "
                        "will stylize at, which sets the size of the strokes it learns")
    p.add_argument("--steps", type=int, default=20000, help="total optimiser steps (default 20000)")
    p.add_argument("--batch", type=int, default=8, help="batch size (default 8)")
    p.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (default 1e-4)")
    p.add_argument("--style-weight", type=float, default=10.0, help="style loss weight (default 10)")
    p.add_argument("--tv-weight", type=float, default=0.0,
                   help="weight of a total-variation term on the output (default 0); the shipped student "
                        "used 10 in its last stage to damp a fine checkerboard")
    p.add_argument("--contrastive-weight", type=float, default=1.0,
                   help="aesfa: weight of the aesthetic contrastive loss (default 1; 0 for the first steps "
                        "of a CPU run, where batch 4 makes it too noisy to help)")
    p.add_argument("--distill-weight", type=float, default=1.0,
                   help="student, aesfa: weight of the VGG relu3_1 feature mimicry of the net's own encoder "
                        "(default 1; training only, nothing of it ships)")
    p.add_argument("--identity-weight", type=float, default=0.0,
                   help="aesfa: weight of the identity term, L1 between an image and its decoding with its own "
                        "style (default 0: the paper has none; borrowed from SANet, it also makes alpha=0 "
                        "a faithful reconstruction)")
    p.add_argument("--teacher-weight", type=float, default=0.0,
                   help="aesfa: weight of output distillation, pixel L1 to the shipped AdaIN-r31's image for "
                        "the same pair (default 0): a dense target that differs with every style, for a "
                        "style pathway that the VGG losses alone teach slowly")
    p.add_argument("--teacher-feature-weight", type=float, default=0.0,
                   help="aesfa: weight of output distillation in VGG space, the MSE of relu1_1, relu2_1 and "
                        "relu3_1 to those of the same AdaIN-r31 image (default 0); unlike the pixel L1 it "
                        "carries brush strokes where they are, not blurred")
    p.add_argument("--content-target", choices=["content", "adain"], default="content",
                   help="aesfa: what the relu3_1 content loss compares the output with: the content's features "
                        "(default, as the paper) or AdaIN's target, the content's features with the style's "
                        "statistics (as AdaIN-r31 and the student train), which asks less of the content")
    p.add_argument("--ema-decay", type=float, default=0.0,
                   help="keep a moving average of the weights with this decay per step (e.g. 0.998 averages "
                        "over about 500 steps) and sample, evaluate, export and ship it instead of the last "
                        "step's weights (default 0: off); it steadies a net whose checkpoints swing, as AesFA's do")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"],
                   help="autocast precision (default: bf16 where the hardware supports it)")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice); use 1 per "
                   "process when several runs share a small machine, or they slow each other down")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--resume", help="checkpoint.pt to continue from")
    p.add_argument("--sample-every", type=int, default=500, help="steps between sample grids (default 500)")
    p.add_argument("--checkpoint-every", type=int, default=500, help="steps between checkpoints (default 500)")
    p.add_argument("--widths", help="student/aesfa channel widths, comma-separated (e.g. 16,32,64)")
    p.set_defaults(run=run)


def run(args) -> int:
    from stylize.offline.train import TrainConfig, Trainer

    if args.steps < 1 or args.batch < 1:
        raise UserError("--steps and --batch must be positive")
    if not 0 <= args.ema_decay < 1:
        raise UserError(f"--ema-decay must be in [0, 1) (0 turns it off), got {args.ema_decay}")
    widths = None
    if args.widths:
        try:
            widths = tuple(int(w) for w in args.widths.split(","))
        except ValueError:
            raise UserError(f"--widths must be integers, got {args.widths!r}") from None
    config = TrainConfig(kind=args.kind, content_dir=args.content, style_dir=args.style, out=args.output,
                         size=args.size, short_side=args.short_side, steps=args.steps, batch=args.batch, lr=args.lr,
                         style_weight=args.style_weight, tv_weight=args.tv_weight,
                         contrastive_weight=args.contrastive_weight, distill_weight=args.distill_weight,
                         identity_weight=args.identity_weight, teacher_weight=args.teacher_weight,
                         teacher_feature_weight=args.teacher_feature_weight,
                         content_target=args.content_target, ema_decay=args.ema_decay, device=args.device, precision=args.precision,
                         seed=args.seed, sample_every=args.sample_every,
                         checkpoint_every=args.checkpoint_every, widths=widths, threads=args.threads)
    trainer = Trainer(config)
    if args.resume:
        trainer.resume(args.resume)
    losses = trainer.run()
    print(f"trained {args.kind} to step {trainer.step}: " + ", ".join(f"{k} {v:.4g}" for k, v in losses.items()))
    print(f"weights: {trainer.out / (args.kind + '.pt')}")
    return 0
