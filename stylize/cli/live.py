"""`stylize live`: a camera (or file, stream, test pattern) painted live, to a window, OBS or a file."""
from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from stylize.cli._looks import add_look_options, backend_label, build_looks, check_common, make_engine
from stylize.cli.video import VIDEO_SUFFIXES, check_output
from stylize.errors import UserError
from stylize.realtime.controls import Controls, OscServer
from stylize.realtime.masks import MODES as MASK_MODES
from stylize.realtime.masks import MotionMask
from stylize.realtime.pipeline import Pipeline, StopReason, write_stats
from stylize.realtime.sinks import NetworkStream, PreviewWindow, VideoWriter, VirtualCamera, format_hotkeys
from stylize.realtime.sources import open_source

HELP = "stylize a camera live, into a preview window, OBS (stream or virtual camera) or a file"
EXAMPLES = f"""examples:
  # the first camera with the built-in looks (or every fast net found); keys n/p or 1-9 switch
  stylize live

  # two built-in looks through the embedded net, or your own paintings
  stylize live --look starry-night,great-wave
  stylize live --style a.jpg,b.jpg --method aesfa

  # three looks to switch between, fading over 800 ms; OSC control on port 9000
  stylize live --source /dev/video0 --method candy,mosaic,scream --crossfade-ms 800 --osc 9000

  # no camera? a moving test pattern; or play a file at its own rate, like a camera
  stylize live --source testpattern --method udnie
  stylize live --source clip.mp4 --method wave --size 480

  # for OBS: an MPEG-TS stream (OBS Media Source, input udp://127.0.0.1:9000,
  # format mpegts) or a virtual camera (needs the 'vcam' extra), and record the show
  stylize live --stream udp://127.0.0.1:9000 --record show.mp4 --no-preview
  stylize live --vcam --method la_muse

  # paint only the moving performer, keep the room as it is
  stylize live --method mosaic --mask-mode person

  # 30 s run without a window, timings to a file
  stylize live --source testpattern --no-preview --duration 30 --stats live.json

preview window keys:
{format_hotkeys()}

OSC addresses (UDP, 127.0.0.1 unless --osc-host):
  /stylize/look INDEX|NAME   /stylize/next   /stylize/previous   /stylize/alpha 0..1
  /stylize/crossfade MS   /stylize/freeze [0|1]   /stylize/view stylized|original|split
  /stylize/preserve_color 0|1
"""


def add_parser(verbs, parents) -> None:
    p = verbs.add_parser("live", parents=parents, help=HELP, description=HELP.capitalize() + ".",
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_argument_group("input")
    source.add_argument("--source", default="0",
                        help="camera index (0) or device (/dev/video0), a video file (played at its own "
                             "rate), an image folder, a URL (rtsp://, udp://, http://, srt://), or "
                             "testpattern[:WxH@FPS] (default 0)")
    source.add_argument("--capture", metavar="WxH", help="camera resolution to ask for, e.g. 1280x720 (MJPG)")
    source.add_argument("--fps", type=float, help="camera frame rate to ask for; images per second for a folder")
    outputs = p.add_argument_group("outputs")
    outputs.add_argument("--preview", action=argparse.BooleanOptionalAction, default=True,
                         help="show the preview window with HUD and hotkeys (default on)")
    outputs.add_argument("--stream", metavar="URL", help="send to udp://HOST:PORT or srt://HOST:PORT (MPEG-TS "
                                                         "H.264), or serve MJPEG at http://HOST:PORT/")
    outputs.add_argument("--vcam", action="store_true", help="appear as a virtual webcam (pip install 'stylize[vcam]')")
    outputs.add_argument("--record", metavar="FILE.mp4", help="record from the start; key r toggles recording "
                                                              "(without --record it goes to stylize-TIME.mp4)")
    outputs.add_argument("--stats", metavar="FILE.json", help="write fps, latency p50/p95 and drops per stage")
    add_look_options(p, several=True)
    live = p.add_argument_group("performing")
    live.add_argument("--crossfade-ms", type=float, default=500.0,
                      help="fade between looks over this many milliseconds (default 500; 0 cuts)")
    live.add_argument("--mask-mode", choices=MASK_MODES,
                      help="stylize only the moving person, or only the background (background subtraction)")
    live.add_argument("--osc", type=int, metavar="PORT", help="listen for OSC control messages on this UDP port")
    live.add_argument("--osc-host", default="127.0.0.1", help="address the OSC port binds to (default 127.0.0.1)")
    live.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    p.set_defaults(run=run)


def _capture_size(text: str | None) -> tuple[int | None, int | None]:
    if not text:
        return None, None
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise UserError(f"--capture must look like 1280x720, got {text!r}") from None
    return width, height


def _check(args) -> None:
    check_common(args)
    if args.crossfade_ms < 0:
        raise UserError(f"--crossfade-ms must be 0 or more, got {args.crossfade_ms}")
    if args.duration is not None and args.duration <= 0:
        raise UserError(f"--duration must be positive, got {args.duration}")
    if args.fps is not None and args.fps <= 0:
        raise UserError(f"--fps must be positive, got {args.fps}")
    if args.osc is not None and not 0 < args.osc < 65536:
        raise UserError(f"--osc must be a port number from 1 to 65535, got {args.osc}")
    if args.record:
        if Path(args.record).suffix.lower() not in VIDEO_SUFFIXES:
            raise UserError(f"{args.record}: unknown video extension; use one of {', '.join(VIDEO_SUFFIXES)}")
        check_output(args.record, "recording")
    if args.stats:
        check_output(args.stats, "stats file")


class Recordings:
    """Makes a new writer each time recording is switched on: --record FILE, then FILE-2, FILE-3, ..."""

    def __init__(self, first: str | None):
        self.first = first
        self.paths: list[Path] = []

    def __call__(self) -> VideoWriter:
        base = Path(self.first) if self.first else Path(time.strftime("stylize-%Y%m%d-%H%M%S.mp4"))
        path, n = base, 1
        while self._taken(path):
            n += 1
            path = base.with_name(f"{base.stem}-{n}{base.suffix}")
        self.paths.append(path)
        return VideoWriter(path, lossless=False, progress=False)

    def _taken(self, path: Path) -> bool:
        # The --record FILE itself may be replaced, as asked; no other take overwrites a file.
        return path in self.paths or (path.exists() and str(path) != self.first)


def run(args) -> int:
    _check(args)
    looks = build_looks(args, several=True)
    width, height = _capture_size(args.capture)
    with ExitStack() as stack:
        controls = Controls([look.name for look in looks], alpha=args.alpha, crossfade_ms=args.crossfade_ms,
                            recording=bool(args.record), preserve_color=args.preserve_color)
        if args.osc is not None:
            stack.enter_context(OscServer(controls, args.osc, args.osc_host))
        try:
            source = open_source(args.source, size=args.size, paced=True, fps=args.fps,
                                 camera_width=width, camera_height=height)
        except UserError as exc:
            if args.source.isdigit() or args.source.startswith("/dev/video"):
                raise UserError(f"{exc} (no camera? try --source testpattern or a video file)") from None
            raise
        stack.callback(source.close)
        sinks = []
        if args.preview:
            sinks.append(PreviewWindow(controls))
        if args.stream:
            sinks.append(NetworkStream(args.stream))
        if args.vcam:
            sinks.append(VirtualCamera())
        engine = make_engine(args)
        controls.backend = backend_label(engine)
        recordings = Recordings(args.record)
        pipeline = Pipeline(source, engine, looks, sinks, controls=controls,
                            mask=MotionMask(args.mask_mode) if args.mask_mode else None,
                            duration=args.duration, recorder=recordings)
        result = pipeline.run()
    result.stats["backend"] = controls.backend
    if args.stats:
        write_stats(args.stats, result.stats)
    for path in recordings.paths:
        if path.exists():
            print(f"recorded {path}", file=sys.stderr)
    if result.reason in (StopReason.END_OF_STREAM, StopReason.QUIT, StopReason.DURATION):
        return 0
    if result.reason == StopReason.INTERRUPTED:
        return 130
    if getattr(args, "debug", False) and result.error is not None:
        raise result.error
    print(f"stylize live: {'lost the source' if result.reason == StopReason.SOURCE_LOST else 'error'}: "
          f"{result.message}", file=sys.stderr)
    return 1
