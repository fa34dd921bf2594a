"""`stylize keyframes`: pick a video's keyframes (scene cuts, and a frame at least every few seconds)."""
from __future__ import annotations

import argparse
import sys

from stylize.cli import sentence
from stylize.sizes import non_negative_float, positive_float, positive_int

HELP = "pick a video's keyframes (scene cuts plus a maximum spacing) as PNGs with a JSON index"
EXAMPLES = """examples:
  # at most 12 keyframes, none closer than 0.5 s, one at least every 2 s
  stylize keyframes clip.mp4 -o keys/ --max 12

  # then give them an offline look and distil it into a live net
  stylize look gatys --keyframes keys/ --style starry.jpg -o looks/
  stylize distill --looks looks/ --video clip.mp4 -o starry-clip.pt

A cut is a jump in the colour histogram or a drop in structural similarity (SSIM)
between consecutive frames. The folder gets key_NNNNNN.png (NNNNNN = frame number)
and keyframes.json with each frame's number, time in seconds and why it was chosen.
"""


def add_parser(verbs, parents) -> None:
    p = verbs.add_parser("keyframes", parents=parents, help=HELP, description=sentence(HELP),
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="VIDEO", help="a video file (anything `stylize video` reads)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for the keyframes (created)")
    p.add_argument("--max", type=positive_int, default=24, metavar="N",
                   help="at most N keyframes: the first frame, the strongest cuts, then evenly spread "
                        "frames (default 24)")
    p.add_argument("--min-gap-s", type=non_negative_float, default=0.5, metavar="S",
                   help="no two keyframes closer than S seconds (default 0.5)")
    p.add_argument("--max-gap-s", type=positive_float, default=2.0, metavar="S",
                   help="a keyframe at least every S seconds, cut or not (default 2)")
    p.add_argument("--size", type=positive_int, help="long side of the PNGs in pixels (default: the video's)")
    p.set_defaults(run=run)


def run(args) -> int:
    from stylize import api

    frames = api.keyframes(args.input, args.output, max_frames=args.max, min_gap_s=args.min_gap_s,
                           max_gap_s=args.max_gap_s, size=args.size, progress=True)
    reasons = {reason: sum(k.reason == reason for k in frames) for reason in ("start", "cut", "gap")}
    print(f"{args.input} -> {args.output}: {len(frames)} keyframes ({reasons['cut']} cuts, "
          f"{reasons['gap']} for spacing)", file=sys.stderr)
    return 0
