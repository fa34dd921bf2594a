"""`stylize bench speed|quality|pipeline|soak|flicker|scale|suite`: the benchmarks in bench/, each writing JSON + PNG."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from stylize.cli import sentence
from stylize.cli._looks import add_work_size_option
from stylize.errors import UserError
from stylize.realtime import work_size
from stylize.sizes import finite_float, parse_wxh, positive_float, positive_int

HELP = ("measure speed, quality, flicker, endurance, scale and distilled looks (JSON and PNG into ./bench-results/, "
        "or the folder -o names)")
EXAMPLES = """examples:
  stylize bench speed --method student --resolution 640x480 --backend onnxruntime
  stylize bench quality                    # about half an hour on a quiet 2-core CPU
  stylize bench pipeline --seconds 20      # threaded live pipeline vs a naive loop
  stylize bench soak --minutes 20          # live's memory and fps over a long run with OSC changes
  stylize bench flicker out.mp4 --source in.mp4 --smoothing   # temporal warping error, with and without smoothing
  stylize bench scale                      # a video over 1 and 2 Ray workers, and a model for N machines
  stylize bench suite --device cpu --backends torch,onnxruntime --resolutions 480p   # the CPU rows
  stylize bench sketch                     # sketch stylization: line fidelity and style against Gatys

  # replace the results committed with the repository (run from its root)
  stylize bench speed --method student --backend onnxruntime --threads 2 -o bench/results
"""

SPEED_HELP = "frames per second of a net at a resolution, next to the naive VGG-19 relu3_1 AdaIN timed in the same run"
SPEED_EXAMPLES = """examples:
  # the CPU targets: the student through ONNX Runtime on 2 cores, as `stylize live` runs it
  stylize bench speed --method student --resolution 1280x720 --backend onnxruntime --threads 2 --work-size auto

  # the net painting every pixel of the frame (what `stylize video` does by default)
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
  stylize bench quality --methods student,aesfa,peer --main-pairs 51   # ours against the installable peer
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

FLICKER_HELP = "temporal warping error (flicker) of a stylized video along its source's optical flow"
FLICKER_EXAMPLES = """examples:
  # how much a stylized video flickers, next to its source's own error (the floor)
  stylize video clip.mp4 -o clip-candy.mp4 --method candy --size 384
  stylize bench flicker clip-candy.mp4 --source clip.mp4

  # what --temporal-smoothing would do to it, the style loss against its painting,
  # and the fps it costs the student at 640x480 in the real pipeline, measured in turns
  stylize bench flicker clip-wave.mp4 --source clip.mp4 --smoothing --style wave.jpg --fps-cost student

The flow (DIS) is computed on the source frames; stylized frame t-1 is warped
onto frame t and compared over the pixels a forward-backward check finds in
both frames: mean squared error in [0,1] RGB, averaged over the frames.
--smoothing smooths the decoded stylized video in memory, as `stylize video
--temporal-smoothing` does while it writes.
"""

SCALE_HELP = "a long video split over 1 and 2 local Ray workers: throughput, split and join overhead, a model for N machines"
SCALE_EXAMPLES = """examples:
  # the committed figures (run from the repository root; needs `pip install 'stylize[ray]'`)
  stylize bench scale -o bench/results

  # a bigger frame, more segments, only the packet-copy join
  stylize bench scale --size 360 --segments 8 --joins remux

No cluster is used: the N-machine throughput is a model built from the measured
per-frame worker cost, the join cost and the fixed cost of a job.
"""


SUITE_HELP = "backends x resolutions x nets: fps, capture-to-host latency, GPU memory and the ratio to a naive " \
             "baseline timed in the same run"
SUITE_EXAMPLES = """examples:
  # the GPU rows (what bench/gpu_check.sh runs): every net at 480p, 720p, 1080p and 2160p
  stylize bench suite --device cuda --backends torch -o bench/results

  # the CPU rows at 480p, 2 threads
  stylize bench suite --device cpu --backends torch,torch-staged,onnxruntime --resolutions 480p --threads 2

  # a quick look at custom sizes, without the naive baseline
  stylize bench suite --device cpu --resolutions 320x240 --nets student --seconds 1 --no-naive

Backends: torch (TorchEngine; with --device cuda: two pinned buffers, bf16,
channels_last, CUDA graphs; with --device cpu: eager fp32), torch-staged (CPU only:
TorchEngine's CUDA path with CPU threads standing in for the CUDA streams),
onnxruntime (its CPU provider). The naive baseline is AdaIN VGG-r31 in eager fp32
with per-frame .cuda()/.cpu() and the style encoded every frame, on each device
a row runs on. Nets without registered weights are timed with random weights.
"""


DISTILL_HELP = ("a distilled net's fidelity to its offline look and flicker, each against AdaIN-r31, and its speed "
                "against the student")
DISTILL_EXAMPLES = """examples:
  # a net distilled with --hold-out 2: fidelity on those keyframes, flicker on ../shared/media, speed
  stylize bench distill --net starry-clip.pt -o bench/results

  # a quick look: 24 frames of one clip
  stylize bench distill --net starry-clip.pt --clips clip.mp4 --frames 24
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
    speed.add_argument("--backend", choices=("torch", "onnxruntime", "onnxruntime-int8"), default="torch",
                       help="eager torch (CPU), the ONNX export in ONNX Runtime, or its int8 form (default torch)")
    speed.add_argument("--threads", type=int, help="CPU threads for the net and the baseline "
                                                   "(default: every core this process may use)")
    speed.add_argument("--seconds", type=positive_float, default=10.0,
                       help="timed seconds per contender (default 10)")
    add_work_size_option(speed, work_size.FULL)
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
    _add_flicker(benches, parents)
    _add_scale(benches, parents)
    _add_suite(benches, parents)
    _add_distill(benches, parents)
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


def _add_flicker(benches, parents) -> None:
    from stylize.realtime.temporal import DEFAULT_STRENGTH

    flicker = benches.add_parser("flicker", parents=parents, help=FLICKER_HELP, description=sentence(FLICKER_HELP),
                                 epilog=FLICKER_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    flicker.add_argument("stylized", metavar="VIDEO_OUT", help="the stylized video")
    flicker.add_argument("--source", required=True, metavar="VIDEO_IN", help="the video it was stylized from")
    flicker.add_argument("--smoothing", type=finite_float, nargs="?", const=DEFAULT_STRENGTH, metavar="STRENGTH",
                         help=f"also score VIDEO_OUT smoothed as --temporal-smoothing STRENGTH would "
                              f"(without a value {DEFAULT_STRENGTH})")
    flicker.add_argument("--style", metavar="PAINTING", help="score the VGG-r31 style loss against this painting "
                                                             "on every 10th frame")
    flicker.add_argument("--fps-cost", metavar="METHOD", help="run METHOD on the source's frames at --resolution "
                                                              "through the live/video pipeline, with and without "
                                                              "the smoothing, in turns")
    flicker.add_argument("--resolution", default="640x480", metavar="WxH", help="frame size for --fps-cost "
                                                                                "(default 640x480)")
    flicker.add_argument("--backend", choices=("torch", "onnxruntime"), default="torch",
                         help="how --fps-cost runs the net (default torch)")
    flicker.add_argument("--threads", type=int, help="CPU threads for --fps-cost (default: every usable core)")
    flicker.add_argument("--seconds", type=positive_float, default=10.0,
                         help="timed seconds per contender for --fps-cost (default 10)")
    flicker.add_argument("--name", help="file stem of the results: NAME.json, NAME.png "
                                        "(default flicker_<VIDEO_OUT's stem>)")
    _add_output(flicker)
    flicker.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    flicker.set_defaults(run=run_flicker)


def _add_scale(benches, parents) -> None:
    scale = benches.add_parser("scale", parents=parents, help=SCALE_HELP, description=sentence(SCALE_HELP),
                               epilog=SCALE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    scale.add_argument("--video", default="../shared/media/adain_cutBunny.mp4", help="the video to split")
    scale.add_argument("--method", default="wave", help="the fast net (default wave)")
    scale.add_argument("--size", type=int, default=160, help="long side in pixels (default 160)")
    scale.add_argument("--segments", type=int, default=4, help="segments per run (default 4)")
    scale.add_argument("--joins", default="encode,remux", help="joins to time, comma-separated (default both)")
    _add_output(scale)
    scale.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    scale.set_defaults(run=run_scale)
def _add_suite(benches, parents) -> None:
    suite = benches.add_parser("suite", parents=parents, help=SUITE_HELP, description=sentence(SUITE_HELP),
                               epilog=SUITE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    suite.add_argument("--backends", default="torch",
                       help="comma-separated: torch, torch-staged, onnxruntime (default torch)")
    suite.add_argument("--device", choices=("cuda", "cpu"),
                       help="where torch runs (default: cuda when torch sees a CUDA device, else cpu)")
    suite.add_argument("--resolutions", default="480p,720p,1080p,2160p",
                       help="comma-separated names (480p, 720p, 1080p, 2160p) or WxH (default: all four names)")
    suite.add_argument("--nets", default="adain,student,aesfa", help="comma-separated (default adain,student,aesfa)")
    suite.add_argument("--seconds", type=positive_float, default=3.0, help="timed seconds per row (default 3)")
    suite.add_argument("--warmup", type=int, default=6, help="frames before timing each row; CUDA graphs are "
                                                             "captured in these (default 6)")
    suite.add_argument("--precision", choices=("bf16", "fp16", "fp32"), default="bf16",
                       help="torch's autocast precision on CUDA (default bf16)")
    suite.add_argument("--no-graphs", dest="graphs", action="store_false", help="torch on CUDA without CUDA graphs")
    suite.add_argument("--compile", action="store_true", help="torch.compile the nets on CUDA "
                                                              "(adds seconds per shape)")
    suite.add_argument("--no-naive", dest="naive", action="store_false", help="skip the naive baseline")
    suite.add_argument("--style-size", type=int, default=512,
                       help="side of the style image the naive baseline encodes every frame (default 512, "
                            "pytorch-AdaIN's)")
    suite.add_argument("--min-frames", type=int, default=5, help="frames per row at least (default 5)")
    suite.add_argument("--threads", type=int, help="CPU threads for torch and ONNX Runtime (default: all)")
    suite.add_argument("--name", default="suite", help="file stem of the results (default suite)")
    _add_output(suite)
    suite.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    suite.set_defaults(run=run_suite)
def _add_distill(benches, parents) -> None:
    distill = benches.add_parser("distill", parents=parents, help=DISTILL_HELP, description=sentence(DISTILL_HELP),
                                 epilog=DISTILL_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    distill.add_argument("--net", required=True, metavar="NET.pt", help="the net `stylize distill` wrote")
    distill.add_argument("--looks", metavar="LOOKDIR", help="its look folder (default: the one it was trained on)")
    distill.add_argument("--clips", help="comma-separated videos for flicker (default ../shared/media/*.mp4)")
    distill.add_argument("--frames", type=positive_int, default=48, help="frames per clip (default 48)")
    distill.add_argument("--size", type=positive_int, default=320, help="long side of the clips' frames (default 320)")
    distill.add_argument("--threads", type=positive_int, default=2, help="CPU threads (default 2)")
    distill.add_argument("--seconds", type=positive_float, default=10.0, help="timed seconds per contender in the "
                                                                              "speed test (default 10)")
    _add_output(distill)
    distill.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    distill.set_defaults(run=run_distill)


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
                       args.seconds, str(files[args.method]) if args.method in files else None, args.output,
                       work_pixels=work_size.resolve(args.work_size, on_gpu=False))
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


def run_flicker(args) -> int:
    from stylize.bench import flicker, speed
    from stylize.realtime.temporal import check_strength

    if args.smoothing is not None:
        check_strength(args.smoothing)
    if args.name is not None and (not args.name or Path(args.name).name != args.name):
        raise UserError(f"--name is a file stem without folders, got {args.name!r}; the folder is -o")
    if args.fps_cost:
        speed.check_method(args.fps_cost)
    if args.threads is not None and args.threads < 1:
        raise UserError(f"--threads must be at least 1, got {args.threads}")
    for path in (args.stylized, args.source, args.style):
        if path is not None and not Path(path).is_file():
            raise UserError(f"{path}: no such file")
    settings = flicker.Settings(args.stylized, args.source, smoothing=args.smoothing, style=args.style,
                                fps_cost=args.fps_cost, resolution=parse_wxh(args.resolution, "--resolution"),
                                seconds=args.seconds, backend=args.backend, threads=args.threads, name=args.name)
    print(f"scoring the flicker of {args.stylized} ...", file=sys.stderr)
    result = flicker.run(settings, args.output)
    _show(args, result, flicker.format_result(result))
    return 0


def run_scale(args) -> int:
    from stylize.bench import scale
    from stylize.scale.cluster import import_ray
    from stylize.scale import JOINS

    import_ray()
    joins = tuple(j.strip() for j in args.joins.split(",") if j.strip())
    if not joins or any(j not in JOINS for j in joins):
        raise UserError(f"--joins takes {', '.join(JOINS)}, got {args.joins!r}")
    if args.size < 16 or args.segments < 1:
        raise UserError("--size must be at least 16 and --segments at least 1")
    settings = scale.Settings(video=args.video, method=args.method, size=args.size, segments=args.segments,
                              joins=joins)
    print("timing one process, then 1 and 2 Ray workers ...", file=sys.stderr)
    result = scale.run(settings, args.output)
    _show(args, result, scale.format_result(result))
    return 0


def run_suite(args) -> int:
    from stylize.bench import suite

    if args.threads is not None and args.threads < 1:
        raise UserError(f"--threads must be at least 1, got {args.threads}")
    if not args.name or Path(args.name).name != args.name:
        raise UserError(f"--name is a file stem without folders, got {args.name!r}; the folder is -o")
    device = {"device": args.device} if args.device else {}
    settings = suite.Settings(backends=_names(args.backends), resolutions=_names(args.resolutions), **device,
                              nets=_names(args.nets), seconds=args.seconds, warmup=args.warmup,
                              naive=args.naive, precision=args.precision, graphs=args.graphs,
                              compile=args.compile, threads=args.threads, name=args.name,
                              style_size=args.style_size, min_frames=args.min_frames)
    print(f"suite: {len(settings.backends) * len(settings.resolutions) * len(settings.nets)} rows, "
          f"{args.seconds:g} s each ...", file=sys.stderr)
    result = suite.run(settings, args.output)
    _show(args, result, suite.format_result(result))
    return 0


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def run_distill(args) -> int:
    from stylize.bench import distill

    clips = [c.strip() for c in args.clips.split(",") if c.strip()] if args.clips else None
    result = distill.run(args.net, looks=args.looks, clips=clips, frames=args.frames, size=args.size,
                         threads=args.threads, seconds=args.seconds, out=args.output)
    _show(args, result, distill.format_result(result))
    return 0
