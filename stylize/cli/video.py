"""`stylize video`: stylize every frame of a video file, in order, keeping its sound."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from stylize.cli._looks import add_look_options, backend_label, build_looks, check_common, make_engine
from stylize.errors import UserError
from stylize.realtime.pipeline import Pipeline, StopReason, write_stats
from stylize.realtime.sinks import VideoWriter
from stylize.realtime.sources import VideoFile

HELP = "stylize a video file, every frame in order, with its audio copied unchanged"
EXAMPLES = """examples:
  # a fast net's fixed look, same size as the input; the sound is copied untouched
  stylize video clip.mp4 -o clip-candy.mp4 --method candy

  # any painting with an arbitrary-style net, at 720 px on the long side, half strength
  stylize video clip.mp4 -o out.mp4 --style starry.jpg --method adain --size 720 --alpha 0.5

  # keep the clip's colours; write per-stage timings
  stylize video clip.mov -o out.mkv --method mosaic --preserve-color --stats timings.json

Ctrl-C stops early and still leaves a playable file with the frames done so far.
Output is H.264 (MPEG-4 where H.264 is missing); .mp4, .mkv and .mov work.
"""

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".m4v", ".avi", ".webm")


def add_parser(verbs, parents) -> None:
    p = verbs.add_parser("video", parents=parents, help=HELP, description=HELP.capitalize() + ".",
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="INPUT", help="a video file")
    p.add_argument("-o", "--output", required=True, help="the stylized video file (.mp4, .mkv, .mov, ...)")
    add_look_options(p, several=False)
    p.add_argument("--stats", metavar="FILE.json", help="write frame counts, fps and per-stage timings here")
    p.set_defaults(run=run)


def check_output(path: str, label: str = "output") -> None:
    """Fail before any work if a video or stats file cannot be written at `path`."""
    target = Path(path)
    if target.is_dir():
        raise UserError(f"{path}: {label} is a folder; give a file name")
    if not target.parent.is_dir():
        raise UserError(f"{path}: {label} folder {target.parent} does not exist")
    if not os.access(target.parent, os.W_OK):
        raise UserError(f"{path}: {label} folder {target.parent} is not writable")


def run(args) -> int:
    check_common(args)
    looks = build_looks(args, several=False)
    check_output(args.output)
    if Path(args.output).suffix.lower() not in VIDEO_SUFFIXES:
        raise UserError(f"{args.output}: unknown video extension; use one of {', '.join(VIDEO_SUFFIXES)}")
    if args.stats:
        check_output(args.stats, "stats file")
    if Path(args.input).exists() and Path(args.output).exists() and Path(args.input).samefile(args.output):
        raise UserError(f"{args.output}: the output would overwrite the input; pick another name")
    started = time.perf_counter()
    with VideoFile(args.input, size=args.size, paced=False) as source:
        writer = VideoWriter(args.output, audio_from=args.input, total_frames=source.frame_count, lossless=True)
        engine = make_engine(args)
        result = Pipeline(source, engine, looks, [writer], lossless=True).run()
    result.stats["backend"] = backend_label(engine)
    if args.stats:
        write_stats(args.stats, result.stats)
    seconds = time.perf_counter() - started
    frames = writer.frames_written
    if result.reason == StopReason.END_OF_STREAM:
        print(f"{args.input} -> {args.output} ({frames} frames, {source.width}x{source.height}, "
              f"{looks[0].name}, {seconds:.1f} s)", file=sys.stderr)
        return 0
    kept = f"{args.output} has the first {frames} frames" if frames else "nothing was written"
    if result.reason == StopReason.INTERRUPTED:
        print(f"stylize video: interrupted; {kept}", file=sys.stderr)
        return 130
    if getattr(args, "debug", False) and result.error is not None:
        raise result.error
    print(f"stylize video: error: {result.message}; {kept}", file=sys.stderr)
    return 1
