"""`stylize look`: paint a video's keyframes with one shared look by a slow offline method."""
from __future__ import annotations

import argparse
import sys

from stylize.cli import sentence
from stylize.sizes import finite_float, positive_int

HELP = ("offline pass: paint every keyframe with one look by Gatys or DiffStyler (slow), to distil later; "
        "not `stylize looks`, which lists the built-in looks")
EXAMPLES = """examples:
  # Gatys on every keyframe at 384 px (about a minute a frame on a laptop CPU)
  stylize look gatys --keyframes keys/ --style starry.jpg -o looks/

  # stopped half-way? the same command carries on with the frames left
  stylize look gatys --keyframes keys/ --style starry.jpg -o looks/

  # only the people painted (the person-segmentation net), or your own masks (white = paint)
  stylize look gatys --keyframes keys/ --style starry.jpg --mask-mode person -o looks-people/
  stylize look gatys --keyframes keys/ --style starry.jpg --mask-dir masks/ -o looks-masked/

  # DiffStyler: one LoRA per painting in the folder; needs a Stable Diffusion folder of your own
  stylize look diffstyler --keyframes keys/ --style-dir paintings/ --mask-mode regions \\
      --sd-model ~/models/stable-diffusion-v1-5 -o looks-diff/

Each painting lands in LOOKDIR beside its keyframe's name (key_000123.png) with a
JSON of where it came from; LOOKDIR/look.json records the method and every setting.
Then: stylize distill --looks LOOKDIR -o NET.pt
"""


def add_parser(verbs, parents) -> None:
    p = verbs.add_parser("look", parents=parents, help=HELP, description=sentence(HELP),
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=("gatys", "diffstyler"), metavar="METHOD", help="gatys or diffstyler")
    p.add_argument("--keyframes", required=True, metavar="DIR", help="a folder made by `stylize keyframes`")
    p.add_argument("-o", "--output", required=True, metavar="LOOKDIR", help="folder for the paintings (created)")
    style = p.add_mutually_exclusive_group(required=True)
    style.add_argument("--style", metavar="IMG", help="the painting whose look every keyframe takes")
    style.add_argument("--style-dir", metavar="DIR", help="a folder of paintings (Gatys blends them; DiffStyler "
                                                          "trains one LoRA each, one per mask region)")
    masks = p.add_mutually_exclusive_group()
    masks.add_argument("--mask-dir", metavar="DIR", help="masks named like the keyframes (white = paint)")
    masks.add_argument("--mask-mode", choices=("person", "regions"),
                       help="person: paint the people (segmentation net); regions: automatic colour regions, "
                            "one per style (DiffStyler)")
    p.add_argument("--size", type=positive_int, default=384, help="long side painted at, in pixels (default 384)")
    p.add_argument("--steps", type=positive_int, help="Gatys: optimiser steps per scale (default 100,60,40)")
    p.add_argument("--style-weight", type=finite_float, help="Gatys: style loss weight (default 1e5 on Grams)")
    p.add_argument("--sd-model", metavar="PATH", help="DiffStyler: a diffusers-format Stable Diffusion folder")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(run=run)


def run(args) -> int:
    from stylize import api

    done = api.offline_look(args.kind, args.keyframes, args.output, style=args.style, style_dir=args.style_dir,
                            mask_dir=args.mask_dir, mask_mode=args.mask_mode, size=args.size, steps=args.steps,
                            style_weight=args.style_weight, sd_model=args.sd_model, device=args.device,
                            seed=args.seed, progress=True)
    print(f"look {args.kind}: {len(done)} keyframes painted into {args.output}", file=sys.stderr)
    return 0
