"""`stylize bench speed|quality|pipeline`: the benchmarks in bench/, each writing JSON + PNG."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from stylize.cli import sentence
from stylize.errors import UserError
from stylize.sizes import parse_wxh, positive_float

HELP = "measure speed, quality and endurance (JSON and PNG into ./bench-results/, or the folder -o names)"
EXAMPLES = """examples:
  stylize bench speed --method student --resolution 640x480 --backend onnxruntime
  stylize bench quality                    # about half an hour on a quiet 2-core CPU
  stylize bench pipeline --seconds 20      # threaded live pipeline vs a naive loop
  stylize bench soak --minutes 20          # live's memory and fps over a long run with OSC changes
  stylize bench sketch                     # sketch stylization: line fidelity and style against Gatys

  # replace the results committed with the repository (run from its root)
  stylize bench speed --method student --backend onnxruntime --threads 2 -o bench/results
"""

SPEED_HELP = "frames per second of a net at a resolution, next to the naive VGG-19 relu3_1 AdaIN timed in the same run"
SPEED_EXAMPLES = """examples:
  # the CPU target: the student through ONNX Runtime on 2 cores, >= 20 fps
  stylize bench speed --method student --resolution 640x480 --backend onnxruntime --threads 2

  # a fast net in eager torch, 5 s per contender, JSON on stdout
  stylize bench speed --method candy --backend torch --seconds 5 --json

  # a training checkpoint instead of the registered weights
  stylize bench speed --method student --net student=runs/student/checkpoint.pt

Nets without registered weights are timed with random weights (the cost is the
same) and the result says so.
"""

QUALITY_HELP = "VGG-19 relu3_1 content and style losses of every method on the eval set, against Gatys"
QUALITY_EXAMPLES = """examples:
  # the default (~30 min): 153 pairs at 512 px, Gatys on 8 reference pairs at 384 px
  stylize bench quality

  # score a training checkpoint against the shipped AdaIN, without Gatys
  stylize bench quality --methods student,adain --net student=runs/student/checkpoint.pt --pairs 0

  # a quick look: small images, 2 reference pairs, short Gatys runs
  stylize bench quality --short-side 256 --gatys-short-side 192 --pairs 2 --gatys-steps 30

  # every one of the 289 pairs, Gatys included (hours)
  stylize bench quality --full
"""

PIPELINE_HELP = "the threaded live pipeline against a naive read, stylize, show loop, in one run"
PIPELINE_EXAMPLES = """examples:
  # the default: 3 alternating runs of 40 s per loop at 640x480, camera at 30 fps
  stylize bench pipeline

  # a quick look with a given fast net
  stylize bench pipeline --seconds 10 --repeats 1 --method candy --resolution 320x240

Both loops stream MPEG-TS (H.264) to udp://127.0.0.1, the OBS path.
"""

SOAK_HELP = "memory (RSS) and frame rate drift of a long `live` run whose looks and alpha change over OSC"
SOAK_EXAMPLES = """examples:
  # the endurance check: 20 minutes, RSS must stay within ±5 % after the warm-up
  stylize bench soak --minutes 20 -o bench/results

  # a quick look
  stylize bench soak --minutes 1

`live` runs in a subprocess on a test pattern and serves MJPEG on 127.0.0.1;
the frames a viewer receives give the fps, /proc/PID/status the RSS.
"""


SKETCH_HELP = "line fidelity, VGG-19 style loss and time of `stylize sketch` on line drawings, against Gatys"
SKETCH_EXAMPLES = """examples:
  # the default: 4 drawings x 2 paintings at 512 px, 60+40 steps each for sketch and Gatys
  stylize bench sketch

  # a quick look on a busy machine
  nice -n 10 stylize bench sketch --size 256 --steps 20,15 --gatys-steps 20,15

Writes sketch.json and sketch.png (drawing | curves | Gatys | ours per painting).
"""


def _add_sketch(benches, parents) -> None:
    sketch = benches.add_parser("sketch", parents=parents, help=SKETCH_HELP, description=sentence(SKETCH_HELP),
                                epilog=SKETCH_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sketch.add_argument("--size", type=int, default=512, help="long side of the drawings in pixels (default 512)")
    sketch.add_argument("--steps", default="60,40", help="sketch steps per scale, coarse first (default 60,40)")
    sketch.add_argument("--gatys-steps", default="60,40", help="Gatys steps per scale, coarse first (default 60,40)")
    sketch.add_argument("--sketches", help="comma-separated drawing names in ../shared/data/sketches "
                                           "(default: a car, a hat, a plane, a hen)")
    sketch.add_argument("--styles", help="comma-separated painting names in ../shared/data/eval/style "
                                         "(default: gordic_vg_starry_night,jcj_wave)")
    sketch.add_argument("--background", choices=("paper", "tint"), default="paper",
                        help="the sketch's paper (default paper)")
    _add_output(sketch)
    sketch.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    sketch.set_defaults(run=run_sketch)


def _steps(text: str, option: str) -> tuple[int, ...]:
    try:
        steps = tuple(int(part) for part in text.split(","))
    except ValueError:
        steps = ()
    if not steps or min(steps) < 1:
        raise UserError(f"{option} must be whole numbers above 0 per scale, e.g. 60,40, got {text!r}")
    return steps


def run_sketch(args) -> int:
    from stylize.bench import sketch

    if args.size < 32:
        raise UserError(f"--size must be at least 32 pixels, got {args.size}")
    settings = sketch.Settings(size=args.size, steps=_steps(args.steps, "--steps"),
                               gatys_steps=_steps(args.gatys_steps, "--gatys-steps"), background=args.background)
    if args.sketches:
        settings.sketches = tuple(n.strip() for n in args.sketches.split(",") if n.strip())
    if args.styles:
        settings.styles = tuple(n.strip() for n in args.styles.split(",") if n.strip())
    result = sketch.run(settings, args.output)
    _show(args, result, sketch.format_result(result))
    return 0


def add_parser(verbs, parents) -> None:
    p = verbs.add_parser("bench", help=HELP, description=sentence(HELP), epilog=EXAMPLES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    benches = p.add_subparsers(dest="bench", metavar="BENCHMARK", required=True)

    speed = benches.add_parser("speed", parents=parents, help=SPEED_HELP, description=sentence(SPEED_HELP),
                               epilog=SPEED_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    speed.add_argument("--method", required=True, help="student, aesfa, adain or a fast net such as candy")
    speed.add_argument("--resolution", default="640x480", metavar="WxH", help="frame size (default 640x480)")
    speed.add_argument("--backend", choices=("torch", "onnxruntime"), default="torch",
                       help="eager torch on the CPU, or the ONNX export in ONNX Runtime (default torch)")
    speed.add_argument("--threads", type=int, help="CPU threads for the net and the baseline "
                                                   "(default: every core this process may use)")
    speed.add_argument("--seconds", type=positive_float, default=10.0,
                       help="timed seconds per contender (default 10)")
    _add_common(speed)
    speed.set_defaults(run=run_speed)

    quality = benches.add_parser("quality", parents=parents, help=QUALITY_HELP,
                                 description=sentence(QUALITY_HELP), epilog=QUALITY_EXAMPLES,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    quality.add_argument("--eval", dest="eval_dir", help="folder with content/ and style/ "
                                                         "(default: ../shared/data/eval from the current directory)")
    quality.add_argument("--short-side", type=int, default=512,
                         help="short side in pixels of the main set's pictures (default 512)")
    quality.add_argument("--gatys-short-side", type=int, default=384,
                         help="short side in pixels of the Gatys reference pairs (default 384)")
    quality.add_argument("--main-pairs", type=int,
                         help="content x style pairs for the nets at --short-side (default: 153 of the 289, "
                              "9 styles per content)")
    quality.add_argument("--pairs", type=int, default=8, help="number of Gatys reference pairs (default 8)")
    quality.add_argument("--full", action="store_true", help="every pair, for the nets and for Gatys")
    quality.add_argument("--gatys-steps", type=int, help="Gatys optimisation steps per scale (default: its own)")
    quality.add_argument("--methods", help="comma-separated subset, e.g. student,adain,gatys (default: all)")
    _add_common(quality)
    quality.set_defaults(run=run_quality)

    pipeline = benches.add_parser("pipeline", parents=parents, help=PIPELINE_HELP,
                                  description=sentence(PIPELINE_HELP), epilog=PIPELINE_EXAMPLES,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    pipeline.add_argument("--seconds", type=positive_float, default=40.0, help="length of each run (default 40)")
    pipeline.add_argument("--resolution", default="640x480", metavar="WxH", help="frame size (default 640x480)")
    pipeline.add_argument("--fps", type=positive_float, default=30.0, help="the camera's frame rate (default 30)")
    pipeline.add_argument("--repeats", type=int, default=3, help="alternating runs of each loop (default 3)")
    pipeline.add_argument("--method", help="fast net to use (default: the fastest one found here)")
    pipeline.add_argument("--name", default="pipeline", help="file stem of the results: NAME.json, NAME.png "
                                                             "(default pipeline)")
    _add_output(pipeline)
    pipeline.set_defaults(run=run_pipeline)

    _add_soak(benches, parents)
    _add_sketch(benches, parents)


def _add_soak(benches, parents) -> None:
    soak = benches.add_parser("soak", parents=parents, help=SOAK_HELP, description=sentence(SOAK_HELP),
                              epilog=SOAK_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    soak.add_argument("--minutes", type=positive_float, default=20.0, help="length of the run (default 20)")
    soak.add_argument("--resolution", default="320x240", metavar="WxH", help="test pattern size (default 320x240)")
    soak.add_argument("--fps", type=positive_float, default=30.0, help="the test pattern's rate (default 30)")
    soak.add_argument("--looks", default="starry-night,great-wave,tahiti",
                      help="built-in looks the OSC changes step through (default starry-night,great-wave,tahiti)")
    _add_output(soak)
    soak.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    soak.set_defaults(run=run_soak)


def _add_common(parser) -> None:
    parser.add_argument("--net", action="append", metavar="METHOD=PATH",
                        help="use this checkpoint or state dict for METHOD (repeatable)")
    _add_output(parser)
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


def _add_output(parser) -> None:
    parser.add_argument("-o", "--output", metavar="FOLDER",
                        help="folder for the JSON and PNG, created if needed (default: ./bench-results; "
                             "-o bench/results replaces the results committed with the repository)")


def _show(args, result: dict, formatted: str) -> None:
    """The result on stdout; with --json the files written are named on stderr, so stdout stays JSON."""
    if not args.json:
        print(formatted)
        return
    print(json.dumps(result, indent=2))
    for path in result.get("files", []):
        print(f"wrote {path}", file=sys.stderr)


def run_speed(args) -> int:
    from stylize.bench import speed
    from stylize.bench.nets import parse_net_files

    speed.check_method(args.method)
    files = parse_net_files(args.net)
    if args.threads is not None and args.threads < 1:
        raise UserError(f"--threads must be at least 1, got {args.threads}")
    resolution = parse_wxh(args.resolution, "--resolution")
    print(f"timing {args.method} and the AdaIN-r31 baseline, {args.seconds:g} s each ...", file=sys.stderr)
    result = speed.run(args.method, resolution, args.backend, args.threads,
                       args.seconds, str(files[args.method]) if args.method in files else None, args.output)
    _show(args, result, speed.format_result(result))
    return 0


def run_quality(args) -> int:
    from stylize.bench import quality
    from stylize.bench.nets import parse_net_files

    for name in ("short_side", "gatys_short_side"):
        if getattr(args, name) < 32:
            raise UserError(f"--{name.replace('_', '-')} must be at least 32 pixels, got {getattr(args, name)}")
    for name in ("pairs", "main_pairs"):
        if (getattr(args, name) or 0) < 0:
            raise UserError(f"--{name.replace('_', '-')} must be 0 or more, got {getattr(args, name)}")
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip()) if args.methods else None
    settings = quality.Settings(size=args.short_side, gatys_size=args.gatys_short_side, pairs=args.pairs,
                                full=args.full, gatys_steps=args.gatys_steps, methods=methods,
                                net_files=parse_net_files(args.net))
    if args.eval_dir:
        settings.eval_dir = args.eval_dir
    if args.main_pairs is not None:
        settings.main_pairs = args.main_pairs
    result = quality.run(settings, args.output)
    _show(args, result, quality.format_result(result))
    return 0


def run_pipeline(args) -> int:
    from stylize.bench import pipeline

    if args.repeats < 1:
        raise UserError(f"--repeats must be at least 1, got {args.repeats}")
    if not args.name or Path(args.name).name != args.name:
        raise UserError(f"--name is a file stem without folders, got {args.name!r}; the folder is -o")
    if args.method:
        pipeline.check_method(args.method)
    settings = pipeline.Settings(seconds=args.seconds, resolution=parse_wxh(args.resolution, "--resolution"),
                                 fps=args.fps, repeats=args.repeats, method=args.method, name=args.name)
    print(pipeline.format_result(pipeline.run(settings, args.output)))
    return 0


def run_soak(args) -> int:
    from stylize.bench import soak

    settings = soak.Settings(minutes=args.minutes, resolution=parse_wxh(args.resolution, "--resolution"),
                             fps=args.fps, looks=args.looks)
    print(f"soaking live for {args.minutes:g} min ...", file=sys.stderr)
    result = soak.run(settings, args.output)
    _show(args, result, soak.format_result(result))
    return 0
