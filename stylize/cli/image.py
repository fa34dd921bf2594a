"""`stylize image`: stylize photos with a fast net, an arbitrary-style net or Gatys."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stylize import api
from stylize.cli import sentence
from stylize.cli._looks import add_look_options, add_mask_options, background_look, build_looks, check_common, \
    check_mask, make_engine, split
from stylize.cli.looks import list_looks
from stylize.errors import OptionError, UserError
from stylize.imageio import IMAGE_SUFFIXES, check_writable, list_images, read_image, write_image
from stylize.jobs import ImageJob, as_mask, fit_long_side
from stylize.sizes import positive_int
from stylize.realtime.engines import Look
from stylize.realtime.masks import engine_device, still_mask
from stylize.realtime.segmentation import PersonSegmenter

HELP = "stylize photos (files, folders or stdin) with a painting's look"
EXAMPLES = """examples:
  # a built-in look through the embedded net (no style image, no download)
  stylize image photo.jpg --look starry-night -o starry.png

  # any painting through the embedded net; or a fixed look from a fast per-look net
  stylize image photo.jpg --style painting.jpg -o painted.png
  stylize image photo.jpg --method candy -o candy.png

  # any painting, by optimisation (slow, best quality); keep the photo's colours
  stylize image photo.jpg --style starry.jpg --method gatys --preserve-color luminance -o out.jpg

  # a built-in look through ONNX Runtime, recoloured to the photo's palette
  stylize image photo.jpg --look great-wave --preserve-color match --backend onnxruntime -o wave.png

  # two paintings mixed 70/30, at 512 px on the long side
  stylize image photo.jpg --style a.jpg,b.jpg --style-weights 0.7,0.3 --size 512 -o out.png

  # only where the mask is white (with two styles: A on white, B on black)
  stylize image photo.jpg --style a.jpg --mask person.png -o out.png

  # only the people (found by a segmentation model); or the people in one look, the rest in another
  stylize image photo.jpg --method candy --mask-mode person -o out.png
  stylize image photo.jpg --look starry-night --mask-mode person --background-look udnie -o out.png

  # folders in, folders out; '-' reads stdin / writes PNG to stdout
  stylize image shots/ --method mosaic -o styled/
  cat photo.jpg | stylize image - --method udnie -o - > out.png
"""


def add_parser(verbs, parents) -> None:
    p = verbs.add_parser("image", parents=parents, help=HELP, description=sentence(HELP),
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="image file(s), folder(s), or - for stdin")
    p.add_argument("-o", "--output",
                   help="output file, or a folder when there are several inputs (each keeps its file name); "
                        "- for stdout (PNG). Never one of the inputs, styles or mask: that, or two inputs "
                        "with the same file name, is refused before anything is written")
    add_look_options(p, several=False, gatys=True)
    p.add_argument("--list-looks", action="store_true", help="list the built-in looks and exit (as `stylize looks`)")
    p.add_argument("--style-weights", help="blend weights for several styles, e.g. 0.7,0.3")
    p.add_argument("--mask", help="grayscale image: white = stylize (or style A), black = keep (or style B, or "
                                    "--background-look)")
    p.add_argument("--steps", type=positive_int, help="gatys: optimisation steps per scale")
    p.add_argument("--json", action="store_true", help="print one JSON line per image instead of text")
    add_mask_options(p, still=True)
    p.set_defaults(run=run)


@dataclass
class Job:
    source: str  # path or "-"
    target: str  # path or "-"


def plan_jobs(inputs: list[str], output: str, also_read: tuple[str, ...] = ()) -> list[Job]:
    """Expand folders and pair every input with its output path.

    Refuses (before anything is written) an output that is one of the inputs
    or one of `also_read` (style images, mask), through symlinks, hard links
    and relative paths, and two inputs that would be written to the same file.
    """
    sources = _expand(inputs)
    to_folder = len(sources) > 1 or any(Path(i).is_dir() for i in inputs if i != "-") or Path(output).is_dir()
    if not to_folder:
        check_writable(output)
        jobs = [Job(sources[0], output)]
    elif output == "-":
        raise UserError("several inputs cannot all go to stdout; give an output folder with -o")
    else:
        jobs = [Job(source, str(Path(output) / _output_name(source))) for source in sources]
    _check_targets(jobs, [*sources, *also_read])
    if to_folder:
        _make_folder(Path(output))
    return jobs


def _expand(inputs: list[str]) -> list[str]:
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
    return sources


def _output_name(source: str) -> str:
    name = "stdin.png" if source == "-" else Path(source).name
    return name if Path(name).suffix.lower() in IMAGE_SUFFIXES else Path(name).stem + ".png"


def _check_targets(jobs: list[Job], read: list[str]) -> None:
    """No output may be a file this run reads, nor the output of another input."""
    files = [path for path in read if path and path != "-" and Path(path).is_file()]
    written: dict[Path, str] = {}
    for job in jobs:
        if job.target == "-":
            continue
        target = Path(job.target)
        key = target.parent.resolve() / target.name
        if key in written:
            raise UserError(f"{written[key]} and {job.source} would both be written to {job.target}; "
                            f"stylize them in separate runs or into separate folders")
        written[key] = job.source
        clash = next((path for path in files if _same_file(path, target)), None)
        if clash is not None:
            raise UserError(f"{job.target}: the output would overwrite the input {clash}; "
                            f"pick another output name or folder")


def _same_file(a: str | Path, b: str | Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # b does not exist yet
        return False


def _make_folder(folder: Path) -> None:
    if not folder.is_dir():
        if not folder.parent.is_dir():
            raise UserError(f"{folder}: output folder's parent {folder.parent} does not exist")
        folder.mkdir()


def build_look(args) -> tuple[Look, Look | None]:
    """Check every look option before any slow work starts; returns the Look, and the one where the mask is off
    (--background-look, or a second painting under a mask) or None."""
    if args.net:
        check_mask(args)
        return build_looks(args, several=False)[0], background_look(args)
    weights = None
    if args.style_weights:
        try:
            weights = [float(w) for w in split(args.style_weights)]
        except ValueError:
            raise OptionError(f"--style-weights must be numbers, got {args.style_weights!r}") from None
    masked = bool(args.mask or args.mask_mode)
    two = None if args.look else api.split_styles(args.method, split(args.style) or None, weights, masked)
    look = two[0] if two else api.make_look(args.method, look=args.look, style=split(args.style) or None,
                                            style_weights=weights)
    if args.mask:
        as_mask(args.mask, 16, 16)  # readable at all? (resized per image later)
    if args.mask and args.mask_mode:
        raise OptionError("give either --mask PICTURE or --mask-mode, not both")
    if args.background_look and look.method == api.GATYS:
        raise OptionError("gatys paints two styles by itself: --style a.jpg,b.jpg with --mask")
    check_mask(args)
    return look, (two[1] if two and not args.background_look else background_look(args))


def run(args) -> int:
    if args.list_looks:  # the alias of `stylize looks`
        return list_looks()
    if not args.inputs or not args.output:
        raise OptionError("give at least one INPUT and -o OUTPUT (see --help)")
    check_common(args)
    look, rest = build_look(args)
    jobs = plan_jobs(args.inputs, args.output, also_read=(*split(args.style), args.mask))
    engine = None if look.method == api.GATYS else make_engine(args)
    if engine is not None:
        engine.set_background(rest)
    segmenter = PersonSegmenter(device=engine_device(engine)) if args.mask_mode else None
    stylize_one = ImageJob(look, engine, alpha=args.alpha, preserve_color=args.preserve_color, steps=args.steps,
                           progress=True)
    for job in jobs:
        started = time.perf_counter()
        content = fit_long_side(read_image(job.source), args.size)
        mask = as_mask(args.mask, *content.shape[:2]) if args.mask else None
        if segmenter is not None:
            mask = still_mask(content, args.mask_mode, args.mask_feather, segmenter=segmenter)
        result = stylize_one(content, mask)
        write_image(job.target, result)
        _report(args, job, look.method, result, time.perf_counter() - started)
    return 0


def _report(args, job: Job, method: str, result: np.ndarray, seconds: float) -> None:
    height, width = result.shape[:2]
    if args.json:
        report = {"input": job.source, "output": job.target, "method": method,
                  "width": width, "height": height, "seconds": round(seconds, 3)}
        print(json.dumps(report), file=sys.stderr if job.target == "-" else sys.stdout)
    elif job.target != "-":
        print(f"{job.source} -> {job.target} ({method}, {width}x{height}, {seconds:.1f} s)", file=sys.stderr)
