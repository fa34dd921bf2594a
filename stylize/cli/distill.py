"""`stylize distill`: teach a live net an offline look, so every frame of a video gets it at live speed."""
from __future__ import annotations

import argparse
import sys

from stylize.cli import sentence
from stylize.sizes import non_negative_float, positive_int

HELP = "distil an offline look (stylize look) into a live net for video, live and image (--net)"
EXAMPLES = """examples:
  # the keyframes' Gatys look, taught to the CPU student; the clip's other frames keep it steady
  stylize distill --looks looks/ --video clip.mp4 -o starry-clip.pt

  # then at live speed, anywhere a look goes
  stylize video clip.mp4 -o clip-starry.mp4 --net starry-clip.pt
  stylize live --net starry-clip.pt

  # stopped (Ctrl-C saves a checkpoint)? carry on, or train longer
  stylize distill --looks looks/ --video clip.mp4 -o starry-clip.pt --steps 1200 --resume

The net is the CPU student, thinned to widths 16,24,48 (faster than the student's
28 fps at 640x480 on two cores), with the look built in, fine-tuned on crops of each
keyframe and its painting: pixel and VGG relu3_1 match, the paintings' style statistics,
and two temporal terms against flicker: a crop against itself shifted, with noise, and
a frame of --video against the previous one warped along the optical flow. NET.pt holds fp16 weights and
NET.pt.json their sha256 and settings; NET.distill/ the checkpoint, losses.csv and
samples/ (keyframe | painting | net, look at them).
"""


def add_parser(verbs, parents) -> None:
    p = verbs.add_parser("distill", parents=parents, help=HELP, description=sentence(HELP),
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--looks", required=True, metavar="LOOKDIR", help="a folder made by `stylize look`")
    p.add_argument("--video", metavar="VIDEO", help="the clip the keyframes come from (or one like it): its other "
                                                    "frames train the style and temporal terms")
    p.add_argument("-o", "--output", required=True, metavar="NET.pt", help="the distilled net to write")
    p.add_argument("--steps", type=positive_int, default=600, help="optimiser steps (default 600)")
    p.add_argument("--size", type=positive_int, default=256, help="long side of the training frames in pixels (default 256)")
    p.add_argument("--crop", type=positive_int, default=128, help="side of the square crops (default 128)")
    p.add_argument("--batch", type=positive_int, default=4, help="crops per step (default 4)")
    p.add_argument("--temporal-weight", type=non_negative_float, help="weight of the shift temporal term: a crop "
                   "against itself shifted by a few pixels (default 60; 0 turns it off)")
    p.add_argument("--flow-weight", type=non_negative_float, help="weight of the flow temporal term: a frame of "
                   "--video against the previous one warped along the optical flow (default 60; 0 turns it off)")
    p.add_argument("--widths", metavar="A,B,C", help="the net's channels, at most the student's 16,32,64: fewer "
                   "run faster (default 16,24,48)")
    p.add_argument("--hold-out", type=int, default=0, metavar="N",
                   help="leave N keyframes out of training, for `stylize bench distill` to measure fidelity on")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--threads", type=positive_int, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in NET.distill/")
    p.set_defaults(run=run)


def run(args) -> int:
    from stylize import api

    record = api.distill(args.looks, args.output, video=args.video, steps=args.steps, size=args.size,
                         crop=args.crop, batch=args.batch, device=args.device, threads=args.threads,
                         temporal_weight=args.temporal_weight, flow_weight=args.flow_weight,
                         widths=args.widths, hold_out=args.hold_out,
                         resume=args.resume, seed=args.seed, progress=True)
    losses = ", ".join(f"{k} {v:.4g}" for k, v in record["losses"].items())
    print(f"distilled {record['look']} in {record['steps']} steps ({losses})", file=sys.stderr)
    print(f"net: {args.output} (sha256 {record['sha256'][:16]}…); use it with --net {args.output}", file=sys.stderr)
    return 0
