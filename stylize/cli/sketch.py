"""`stylize sketch`: a line drawing redrawn in a painting's manner, as strokes (PNG and SVG)."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from stylize import api
from stylize.cli import sentence
from stylize.cli._looks import split
from stylize.cli.image import _same_file
from stylize.errors import OptionError, OutputError
from stylize.imageio import check_writable, output_errors, write_atomic, write_image
from stylize.jobs import check_output
from stylize.sizes import non_negative_float, positive_float, positive_int

HELP = "redraw a line drawing's strokes in a painting's manner, keeping the design's lines (PNG and SVG)"
EXAMPLES = """examples:
  # check the extraction first: the fitted Bézier curves, as SVG (or PNG)
  stylize sketch car.png --curves-only -o curves.svg

  # the car drawn in Van Gogh's manner on white paper, with the strokes as SVG too
  stylize sketch car.png --style starry.jpg -o car-starry.png --svg car-starry.svg

  # a full painting: the style paints the paper as well, the lines stay dark
  stylize sketch car.png --style starry.jpg --background style -o painting.png

  # black lines that take only the style's texture and width; lines held tighter
  stylize sketch car.png --style woodcut.jpg --preserve-color --line-fidelity 3 -o inked.png

  # two styles by mask: the first where the mask is white (the body), the second on black (the wheels)
  stylize sketch car.png --style wave.jpg,scream.jpg --mask body.png -o two.png

  # quicker: 384 px on the long side, 30 steps per scale, another random wobble
  stylize sketch car.png --style starry.jpg --size 384 --steps 30 --seed 2 -o quick.png

How it works: the drawing is binarised, skeletonised and traced into
polylines, which are fitted with cubic Béziers (each stroke keeps the width it
was drawn with). A differentiable renderer draws them; each control point's
width, colour, a brush texture and a wobble of at most a pixel are optimised
so the strokes carry the painting's VGG-19 statistics, coarse to fine. A photo
or an empty page is refused: give dark lines on light paper.
"""


def add_parser(verbs, parents) -> None:
    p = verbs.add_parser("sketch", parents=parents, help=HELP, description=sentence(HELP), epilog=EXAMPLES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("drawing", metavar="DRAWING", help="the line drawing: dark lines on light paper (an image file)")
    p.add_argument("-o", "--output", required=True,
                   help="the picture (.png, .jpg, ...); with --curves-only also .svg. Never the drawing, a style "
                        "or the mask")
    p.add_argument("--style", help="the painting; two, comma-separated, with --mask")
    p.add_argument("--svg", metavar="OUT.svg", help="also write the stylized strokes as SVG (one path per stroke)")
    p.add_argument("--curves-only", action="store_true",
                   help="write the extracted curves (no style, no optimisation), to check the extraction")
    p.add_argument("--size", type=positive_int, help="long side of the result in pixels "
                                                     "(default: the drawing's size, at most 4 megapixels)")
    p.add_argument("--steps", type=positive_int, help="optimisation steps per scale (default 60 then 40)")
    p.add_argument("--background", choices=("paper", "tint", "style"), default="paper",
                   help="white paper, a flat tint from the style, or paper painted by the style (default paper)")
    p.add_argument("--line-fidelity", type=non_negative_float, default=1.0,
                   help="how firmly the strokes keep to the drawing's lines (default 1; 0 = only the bounds)")
    p.add_argument("--preserve-color", action="store_true",
                   help="keep the drawing's ink colour: the lines take only the style's texture and width")
    p.add_argument("--mask", help="grayscale image: with two styles, white = the first, black = the second; with "
                                  "one, white = stylize, black = keep the ink")
    p.add_argument("--style-weights", help="blend weights for several styles without a mask, e.g. 0.7,0.3")
    p.add_argument("--tolerance", type=positive_float, help="curve fitting tolerance in pixels (default 0.8)")
    p.add_argument("--seed", type=seed, default=0, help="seed of the strokes' starting wobble, 0 to 2^32-1 "
                                                        "(default 0)")
    p.set_defaults(run=run)


def seed(text: str) -> int:
    """An argparse `type` for a random seed: a whole number from 0 to 2^32 - 1."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not 0 <= value < 2 ** 32:
        raise argparse.ArgumentTypeError(f"must be from 0 to 4294967295, got {text!r}")
    return value


def _check_paths(args) -> None:
    """Every output writable, of the right kind, and none of them a file this run reads."""
    outputs = [args.output] + ([args.svg] if args.svg else [])
    for path in outputs:
        if Path(path).suffix.lower() == ".svg":
            check_output(path)
        else:
            check_writable(path)
    if args.svg and Path(args.svg).suffix.lower() != ".svg":
        raise OutputError(f"{args.svg}: --svg writes SVG; give a name ending in .svg")
    if not args.curves_only and Path(args.output).suffix.lower() == ".svg":
        raise OutputError(f"{args.output}: -o is the picture; give the SVG with --svg (or use --curves-only)")
    if args.svg and Path(args.svg).resolve() == Path(args.output).resolve():
        raise OutputError(f"{args.svg}: -o and --svg name the same file")
    for path in outputs:
        for source in [args.drawing, *split(args.style), args.mask]:
            if source and _same_file(source, path):
                raise OutputError(f"{path}: the output would overwrite the input {source}; pick another name")


def _weights(text: str | None) -> list[float] | None:
    if not text:
        return None
    try:
        return [float(w) for w in split(text)]
    except ValueError:
        raise OptionError(f"--style-weights must be numbers, got {text!r}") from None


def run(args) -> int:
    if args.curves_only == bool(args.style):
        raise OptionError("give --style PAINTING to stylize, or --curves-only to see the extracted curves")
    _check_paths(args)
    started = time.perf_counter()
    result = api.stylize_sketch(args.drawing, split(args.style) or None, size=args.size, steps=args.steps,
                                background=args.background, line_fidelity=args.line_fidelity,
                                preserve_color=args.preserve_color, style_weights=_weights(args.style_weights),
                                mask=args.mask, seed=args.seed, tolerance=args.tolerance, progress=True)
    for path in [args.output] + ([args.svg] if args.svg else []):
        if Path(path).suffix.lower() == ".svg":
            with output_errors(path):
                write_atomic(path, result.svg().encode("utf-8"))
        else:
            write_image(path, result.image)
    height, width = result.image.shape[:2]
    what = "curves" if args.curves_only else "sketch"
    print(f"{args.drawing} -> {args.output} ({what}, {len(result.strokes)} strokes, {width}x{height}, "
          f"{time.perf_counter() - started:.1f} s)", file=sys.stderr)
    return 0
