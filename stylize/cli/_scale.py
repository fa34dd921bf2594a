"""Shared by `video --ray` and `batch`: the cluster options, and running files through stylize.scale."""
from __future__ import annotations

import sys
from pathlib import Path

from stylize.cli import _looks
from stylize.realtime.engines import color_mode
from stylize.sizes import positive_int

ADDRESS_HELP = ("run on Ray: with no ADDRESS a local Ray started for this job (this machine's cores); "
                "'auto' or ray://HOST:PORT (or HOST:PORT) joins a running cluster. Needs `pip install "
                "'stylize[ray]'`; every node needs stylize, the weights and the files at the same paths")


def add_scale_options(parser, ray_help: str = ADDRESS_HELP) -> None:
    """--ray [ADDRESS], --workers, --segments, --overlap and --join."""
    from stylize.scale import JOINS

    group = parser.add_argument_group("many machines (Ray)")
    group.add_argument("--ray", nargs="?", const="", metavar="ADDRESS", help=ray_help)
    group.add_argument("--workers", type=positive_int, metavar="N",
                       help="Ray workers, each with the net loaded once (default: one per GPU of the cluster, "
                            "else one per CPU)")
    group.add_argument("--segments", type=positive_int, metavar="N",
                       help="cut each video into N segments (default: one per 1500 frames, at least one per worker)")
    group.add_argument("--overlap", type=int, default=0, metavar="FRAMES",
                       help="frames before each segment that go through the net but are not written again "
                            f"(history for --temporal-smoothing; default 0, or {SMOOTHING_HISTORY} with it)")
    group.add_argument("--join", choices=JOINS, default="encode",
                       help="encode: segments are kept lossless and encoded once at the end, so the file is "
                            "identical to a run without --ray (default); remux: segments are encoded in the "
                            "final codec and their packets copied, the join costs a file copy, frames differ "
                            "by encoder noise")


# Frames of history a smoothed segment starts with when --overlap is not given: each frame carries the one
# before with weight STRENGTH, so at the default 0.6 what came before those 8 frames weighs 0.6**8 < 2 %.
SMOOTHING_HISTORY = 8


def run_files(args, look, pairs, on_outcome=lambda outcome: None):
    """Stylize (source, target) pairs: on Ray when --ray was given, else here, one after the other."""
    from stylize.scale import jobs
    from stylize.scale.worker import JobSpec

    smoothing = getattr(args, "temporal_smoothing", None)
    backend = args.backend or "auto"  # None: not given (an explicit auto is announced, see _looks.make_engine)
    nets = tuple(str(Path(path).resolve()) for path in _looks.split(getattr(args, "net", None)))
    spec = JobSpec(look, backend, args.alpha, color_mode(args.preserve_color), args.size, smoothing, nets,
                   work_size=getattr(args, "work_size", None))
    if args.ray is None:
        check_no_split(args)
        return jobs.run_files(pairs, spec, on_outcome=on_outcome)
    from stylize.scale.cluster import RayExecutor, ray_session

    overlap = args.overlap if args.overlap or not smoothing else SMOOTHING_HISTORY
    split = jobs.Split(args.segments, overlap, args.join)
    with ray_session(args.ray or None) as ray:
        with RayExecutor(ray, spec, args.workers) as executor:
            print(f"stylize: Ray with {executor.workers} {executor.device} worker(s)", file=sys.stderr)
            return jobs.run_files(pairs, spec, executor, split, on_outcome=on_outcome)


def check_no_split(args) -> None:
    """Without --ray videos run whole: the options that cut them would be silently ignored."""
    from stylize.errors import OptionError

    given = [name for name, value in (("--workers", args.workers), ("--segments", args.segments),
                                      ("--overlap", args.overlap), ("--join", args.join != "encode")) if value]
    if given:
        raise OptionError(f"{', '.join(given)} cut videos for Ray workers; add --ray (or leave them out)")


def video_on_ray(args, look) -> int:
    """`stylize video IN -o OUT --ray`: one video split over the workers; 0 done, 1 failed (segments kept)."""
    import os

    from stylize.errors import OptionError, OutputError
    from stylize.jobs import check_output

    if args.stats:
        raise OptionError("--stats times the stages of one process; with --ray leave it out")
    if args.mask_mode or args.background_look:
        raise OptionError("--mask-mode and --background-look run in one process: leave out --ray for them")
    check_output(args.output)
    if os.path.lexists(args.output):
        raise OutputError(f"{args.output}: exists; nothing is overwritten (remove it or pick another name)")
    try:
        outcome = run_files(args, look, [(args.input, args.output)])[0]
    except KeyboardInterrupt:
        print(f"stylize video: interrupted; the finished segments are kept: run the same command again "
              f"to resume", file=sys.stderr)
        return 130
    if outcome.status != "done":
        print(f"stylize video: error: {outcome.message}", file=sys.stderr)
        return 1
    reused = f", {outcome.reused} reused" if outcome.reused else ""
    print(f"{args.input} -> {args.output} ({outcome.frames} frames, {outcome.segments} segments{reused}, "
          f"joined by {outcome.extra.get('join')}, {look.name}, {outcome.seconds:.1f} s)", file=sys.stderr)
    return 0
