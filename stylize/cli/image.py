"""`stylize image`: stylize photos with a fast net, an arbitrary-style net or Gatys."""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from stylize.errors import UserError
from stylize.imageio import (IMAGE_SUFFIXES, check_writable, list_images, read_image, resize_to,
                             write_image)
from stylize.models import looks, registry, weights, zoo

HELP = "stylize photos (files, folders or stdin) with a painting's look"
EXAMPLES = """examples:
  # a built-in look through the embedded net (no style image, no download)
  stylize image photo.jpg --look starry-night -o starry.png

  # any painting through the embedded net; or a fixed look from a fast per-look net
  stylize image photo.jpg --style painting.jpg -o painted.png
  stylize image photo.jpg --method candy -o candy.png

  # any painting, by optimisation (slow, best quality); keep the photo's colours
  stylize image photo.jpg --style starry.jpg --method gatys --preserve-color -o out.jpg

  # two paintings mixed 70/30, at 512 px on the long side
  stylize image photo.jpg --style a.jpg,b.jpg --style-weights 0.7,0.3 --size 512 -o out.png

  # only where the mask is white (with two styles: A on white, B on black)
  stylize image photo.jpg --style a.jpg --mask person.png -o out.png

  # folders in, folders out; '-' reads stdin / writes PNG to stdout
  stylize image shots/ --method mosaic -o styled/
  cat photo.jpg | stylize image - --method udnie -o - > out.png
"""

GATYS = "gatys"


def add_parser(verbs, parents) -> None:
    p = verbs.add_parser("image", parents=parents, help=HELP, description=HELP.capitalize() + ".",
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="image file(s), folder(s), or - for stdin")
    p.add_argument("-o", "--output",
                   help="output file, or a folder when there are several inputs; - for stdout (PNG)")
    p.add_argument("--style", help="style image(s), comma-separated")
    p.add_argument("--look", help="a built-in look instead of a style image (see `stylize image --list-looks`)")
    p.add_argument("--list-looks", action="store_true", help="list the built-in looks and exit")
    p.add_argument("--style-weights", help="blend weights for several styles, e.g. 0.7,0.3")
    p.add_argument("--method", default=None,
                   help=f"{registry.DEFAULT_METHOD} (default: the embedded CPU net), aesfa, adain, gatys (slow "
                        f"optimisation, best quality) or a fast net ({', '.join(registry.fast_methods())})")
    p.add_argument("--alpha", type=float, default=1.0, help="0 = the photo, 1 = full style (default 1)")
    p.add_argument("--preserve-color", nargs="?", const="luminance", choices=["luminance", "match"],
                   help="keep the photo's colours: 'luminance' (default) transfers only brightness; "
                        "'match' recolours the style to the photo's palette first")
    p.add_argument("--mask", help="grayscale image: white = stylize (or style A), black = keep (or style B)")
    p.add_argument("--size", type=int, help="long side of the output in pixels (default: the input's size)")
    p.add_argument("--steps", type=int, help="gatys: optimisation steps per scale")
    p.add_argument("--json", action="store_true", help="print one JSON line per image instead of text")
    p.set_defaults(run=run)


@dataclass
class Job:
    source: str  # path or "-"
    target: str  # path or "-"


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()] if text else []


def plan_jobs(inputs: list[str], output: str) -> list[Job]:
    """Expand folders and pair every input with its output path."""
    sources: list[str] = []
    for item in inputs:
        path = Path(item)
        if item != "-" and path.is_dir():
            found = list_images(path)
            if not found:
                raise UserError(f"{item}: folder has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
            sources += [str(p) for p in found]
        else:
            sources.append(item)
    to_folder = len(sources) > 1 or any(Path(i).is_dir() for i in inputs if i != "-") or Path(output).is_dir()
    if not to_folder:
        check_writable(output)
        return [Job(sources[0], output)]
    if output == "-":
        raise UserError("several inputs cannot all go to stdout; give an output folder with -o")
    folder = Path(output)
    if not folder.is_dir():
        if not folder.parent.is_dir():
            raise UserError(f"{folder}: output folder's parent {folder.parent} does not exist")
        folder.mkdir()
    jobs = []
    for source in sources:
        name = "stdin.png" if source == "-" else Path(source).name
        if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
            name = Path(name).stem + ".png"
        jobs.append(Job(source, str(folder / name)))
    return jobs


def read_mask(path: str, height: int, width: int) -> np.ndarray:
    """The mask as HxW float in [0,1], resized to the content if it differs."""
    gray = read_image(path, min_side=1).astype(np.float32).mean(axis=2) / 255.0
    if gray.shape != (height, width):
        gray = cv2.resize(gray, (width, height), interpolation=cv2.INTER_LINEAR)
    return gray


def _fit_long_side(rgb: np.ndarray, size: int | None) -> np.ndarray:
    if not size:
        return rgb
    height, width = rgb.shape[:2]
    scale = size / max(height, width)
    return resize_to(rgb, max(1, round(height * scale)), max(1, round(width * scale)))


def validate(args) -> tuple[str, list[np.ndarray], list[float] | None]:
    """Check every option before any slow work starts; returns method, styles, weights."""
    if not 0.0 <= args.alpha <= 1.0:
        raise UserError(f"--alpha must be between 0 and 1, got {args.alpha}")
    if args.size is not None and args.size < 16:
        raise UserError(f"--size must be at least 16 pixels, got {args.size}")
    style_paths = _split(args.style)
    if args.look and style_paths:
        raise UserError("give either --look or --style, not both")
    method = args.method or (registry.DEFAULT_METHOD if style_paths or args.look else None)
    if method is None:
        raise UserError("nothing to stylize with: give --look NAME, --style PAINTING.jpg or --method "
                        f"({', '.join(registry.fast_methods())})")
    known = (GATYS, *registry.arbitrary_methods(), *registry.fast_methods())
    if method not in known:
        raise UserError(f"unknown method {method!r}; choose from {', '.join(known)}")
    if registry.is_fast(method) and (style_paths or args.look):
        raise UserError(f"{method!r} is a fast net with a fixed look; --style and --look apply to gatys and "
                        f"{', '.join(registry.arbitrary_methods())}")
    if method == GATYS and not style_paths:
        raise UserError("gatys needs --style PAINTING.jpg (built-in looks are for the feed-forward nets)")
    if method in registry.arbitrary_methods() and not (style_paths or args.look):
        raise UserError(f"method {method!r} needs --style PAINTING.jpg or --look NAME")
    if args.look and args.look not in looks.names():
        raise UserError(f"unknown look {args.look!r}; built-in looks: {', '.join(looks.names()) or 'none'}")
    style_weights = None
    if args.style_weights:
        try:
            style_weights = [float(w) for w in _split(args.style_weights)]
        except ValueError:
            raise UserError(f"--style-weights must be numbers, got {args.style_weights!r}") from None
        if len(style_weights) != len(style_paths):
            raise UserError(f"--style-weights has {len(style_weights)} values for {len(style_paths)} styles")
        if any(w < 0 for w in style_weights) or sum(style_weights) <= 0:
            raise UserError("--style-weights must be non-negative and not all zero")
    styles = [read_image(path) for path in style_paths]
    if args.mask:
        read_mask(args.mask, 16, 16)  # readable at all? (resized per image later)
    return method, styles, style_weights


def run(args) -> int:
    if args.list_looks:
        for name in looks.names():
            print(f"{name:<18}{looks.describe(name)}")
        return 0
    if not args.inputs or not args.output:
        raise UserError("give at least one INPUT and -o OUTPUT (see --help)")
    method, styles, style_weights = validate(args)
    jobs = plan_jobs(args.inputs, args.output)
    stylize_one = _make_stylizer(method, styles, style_weights, args)
    for job in jobs:
        started = time.perf_counter()
        content = _fit_long_side(read_image(job.source), args.size)
        mask = read_mask(args.mask, *content.shape[:2]) if args.mask else None
        result = stylize_one(content, mask)
        write_image(job.target, result)
        seconds = time.perf_counter() - started
        report = {"input": job.source, "output": job.target, "method": method,
                  "width": result.shape[1], "height": result.shape[0], "seconds": round(seconds, 3)}
        if args.json:
            print(json.dumps(report), file=sys.stderr if job.target == "-" else sys.stdout)
        elif job.target != "-":
            print(f"{job.source} -> {job.target} ({method}, {result.shape[1]}x{result.shape[0]}, "
                  f"{seconds:.1f} s)", file=sys.stderr)
    return 0


def _make_stylizer(method, styles, style_weights, args):
    """A function (content RGB, mask or None) -> stylized RGB for the chosen method."""
    if method == GATYS:
        from stylize.offline.gatys import gatys

        encoder = zoo.load_vgg()

        def run_gatys(content, mask):
            options = {"steps": args.steps} if args.steps else {}
            result = gatys(content, styles, style_weights, encoder=encoder, mask=mask,
                           preserve_color=args.preserve_color, **options)
            image = result.image
            if args.alpha < 1.0:
                image = (content * (1 - args.alpha) + image * args.alpha + 0.5).astype(np.uint8)
            return image
        return run_gatys

    from stylize.realtime.engines import Look, TorchEngine

    engine = TorchEngine()
    engine.alpha = args.alpha
    engine.preserve_color = bool(args.preserve_color)

    def run_engine(content, mask):
        images = styles
        if args.preserve_color == "match":
            from stylize.models.color import match_color
            from stylize.realtime.engines import frame_to_tensor, tensor_to_frame
            images = [tensor_to_frame(match_color(frame_to_tensor(s), frame_to_tensor(content))) for s in styles]
            engine.preserve_color = False
        engine.set_style(Look(args.look or method, method, images, style_weights, builtin=args.look))
        return engine(content, mask)
    return run_engine
