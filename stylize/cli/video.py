"""`stylize video`: stylize every frame of a video file, in order, keeping its sound."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stylize.cli import sentence
from stylize.cli._looks import (add_look_options, add_mask_options, add_smoothing_option, add_work_size_option,
                                build_looks, check_common,
                                check_mask, make_engine, make_mask)
from stylize.cli._scale import add_scale_options, check_no_split, video_on_ray
from stylize.jobs import VIDEO_SUFFIXES, check_output, stylize_video_file  # noqa: F401 (live checks --record)
from stylize.realtime import work_size
from stylize.realtime.pipeline import StopReason

HELP = "stylize a video file, every frame in order, with its audio copied unchanged"
EXAMPLES = """examples:
  # a fast net's fixed look, same size as the input; the sound is copied untouched
  stylize video clip.mp4 -o clip-candy.mp4 --method candy

  # any painting with an arbitrary-style net, at 720 px on the long side, half strength
  stylize video clip.mp4 -o out.mp4 --style starry.jpg --method adain --size 720 --alpha 0.5

  # less flicker: blend each frame with the previous one along the optical flow
  stylize video clip.mp4 -o out.mp4 --look starry-night --temporal-smoothing
  # only the people painted; or the people in one look and the room in another
  stylize video clip.mp4 -o out.mp4 --method candy --mask-mode person
  stylize video clip.mp4 -o out.mp4 --look starry-night --mask-mode person --background-look udnie

  # a quick draft of a 1080p clip: the net paints 640x480's pixel count, the detail is put back
  stylize video clip.mp4 -o draft.mp4 --look starry-night --work-size auto

  # keep the clip's colours; write per-stage timings
  stylize video clip.mov -o out.mkv --method mosaic --preserve-color luminance --stats timings.json

  # a long film over every core of this machine, or over a running Ray cluster
  stylize video film.mp4 -o film-candy.mp4 --method candy --ray
  stylize video film.mp4 -o film-candy.mp4 --method candy --ray ray://head:10001 --join remux

With --ray, killed workers are restarted and their segment redone; after Ctrl-C (or a
killed driver) the same command again resumes from the finished segments.

Ctrl-C (or kill) stops early and still leaves a playable file with the frames done so
far, under OUTPUT; when OUTPUT already exists, or an error (a broken input) stopped the
run, those frames go to OUTPUT's NAME.partial.EXT instead and an existing OUTPUT is left
as it was. A file that cannot be finished (a full disk) is not kept.
Output is H.264 (MPEG-4 where H.264 is missing); .mp4, .mkv and .mov work.
"""


def add_parser(verbs, parents) -> None:
    p = verbs.add_parser("video", parents=parents, help=HELP, description=sentence(HELP),
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="INPUT", help="a video file")
    p.add_argument("-o", "--output", required=True, help="the stylized video file (.mp4, .mkv, .mov, ...)")
    add_look_options(p, several=False)
    add_smoothing_option(p)
    add_work_size_option(p, work_size.FULL)
    p.add_argument("--stats", metavar="FILE.json", help="write frame counts, fps and per-stage timings here")
    add_mask_options(p)
    add_scale_options(p)
    p.set_defaults(run=run)


def run(args) -> int:
    check_common(args)
    check_mask(args)
    look = build_looks(args, several=False)[0]
    if args.ray is not None:
        return video_on_ray(args, look)
    check_no_split(args)
    engine = make_engine(args)
    result = stylize_video_file(args.input, args.output, look, engine, size=args.size, progress=True,
                                stats_path=args.stats, mask=make_mask(args, engine),
                                temporal_smoothing=args.temporal_smoothing)
    if result.finished:
        print(f"{args.input} -> {args.output} ({result.frames} frames, {result.width}x{result.height}, "
              f"{look.name}, {result.seconds:.1f} s)", file=sys.stderr)
        if result.message:  # the input ended before the frames it declares: say so, and fail the run
            print(f"stylize video: warning: {result.message}", file=sys.stderr)
            return 1
        return 0
    kept = _what_was_kept(args.output, result)
    if result.reason == StopReason.INTERRUPTED:
        print(f"stylize video: interrupted; {kept}", file=sys.stderr)
        return 130
    if getattr(args, "debug", False) and result.error is not None:
        raise result.error
    print(f"stylize video: error: {result.message}; {kept}", file=sys.stderr)
    return 1


def _what_was_kept(output: str, result) -> str:
    """Where the frames of an unfinished run are, and whether an existing output was left alone."""
    if not result.frames:
        return "no video file was written"
    if Path(result.target) == Path(output):
        return f"{output} has the first {result.frames} frames"
    untouched = f"; {output} was left as it was" if Path(output).exists() else ""
    return f"the first {result.frames} frames are in {result.target}{untouched}"
