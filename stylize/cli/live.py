"""`stylize live`: a camera (or file, stream, test pattern) painted live, to a window, OBS or a file."""
from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from stylize.cli import sentence
from stylize.cli._looks import (add_look_options, add_mask_options, add_smoothing_option, add_work_size_option,
                                backend_label, build_looks,
                                check_common, check_mask, make_engine, make_mask, make_smoother)
from stylize.cli.video import VIDEO_SUFFIXES, check_output
from stylize.errors import OptionError, UserError
from stylize.realtime import work_size
from stylize.realtime.controls import Controls, OscServer
from stylize.realtime.pipeline import Pipeline, StopReason, write_stats
from stylize.realtime import sinks as sink_types  # its PyAV sinks load when named, so `stylize bench` runs without PyAV
from stylize.realtime.sinks import PreviewWindow, Sink, format_hotkeys
from stylize.realtime.sources import DEFAULT_TIMEOUT, open_source
from stylize.sizes import non_negative_float, parse_wxh, positive_float

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

  # less flicker: blend each frame with the previous one along the optical flow
  stylize live --look starry-night --temporal-smoothing 0.6

  # a 720p camera with every pixel painted (slower on a CPU than the default --work-size auto)
  stylize live --capture 1280x720 --look starry-night --work-size full

  # paint only the people, keep the room as it is; or the person in one look, the room in another
  stylize live --method mosaic --mask-mode person
  stylize live --look starry-night --mask-mode person --background-look great-wave

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
    p = verbs.add_parser("live", parents=parents, help=HELP, description=sentence(HELP),
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_argument_group("input")
    source.add_argument("--source", default="0",
                        help="camera index (0) or device (/dev/video0), a video file (played at its own "
                             "rate), an image folder, a URL (rtsp://, udp://, http://, srt://), or "
                             "testpattern[:WxH@FPS] (default 0)")
    source.add_argument("--capture", metavar="WxH", help="camera resolution to ask for, e.g. 1280x720 (MJPG)")
    source.add_argument("--fps", type=positive_float, help="camera frame rate to ask for; images per second for a folder")
    source.add_argument("--source-timeout", type=positive_float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"a network source that sends nothing for this long is lost (default {DEFAULT_TIMEOUT:g})")
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
    live.add_argument("--crossfade-ms", type=non_negative_float, default=500.0,
                      help="fade between looks over this many milliseconds (default 500; 0 cuts)")
    add_smoothing_option(live)
    add_work_size_option(live, work_size.AUTO)
    live.add_argument("--osc", type=int, metavar="PORT", help="listen for OSC control messages on this UDP port")
    live.add_argument("--osc-host", default="127.0.0.1", help="address the OSC port binds to (default 127.0.0.1)")
    live.add_argument("--duration", type=positive_float, metavar="SECONDS", help="stop after this long")
    add_mask_options(p)
    p.set_defaults(run=run)


def _check(args) -> None:
    check_common(args)
    make_smoother(args)  # a strength out of range fails before the camera opens
    check_mask(args)
    if args.osc is not None and not 0 < args.osc < 65536:
        raise UserError(f"--osc must be a port number from 1 to 65535, got {args.osc}")
    if args.record:
        if Path(args.record).suffix.lower() not in VIDEO_SUFFIXES:
            raise UserError(f"{args.record}: unknown video extension; use one of {', '.join(VIDEO_SUFFIXES)}")
        check_output(args.record, "recording")
    if args.stats:
        check_output(args.stats, "stats file")


def _check_outputs(args) -> None:
    if not (args.preview or args.stream or args.record or args.vcam or args.stats):
        raise OptionError("--no-preview leaves nothing to watch or keep: add --stream URL, --record FILE.mp4, "
                          "--vcam or --stats FILE.json")


class Recordings:
    """Makes a new writer each time recording is switched on: --record FILE, then FILE-2, FILE-3, ..."""

    def __init__(self, first: str | None):
        self.first = first
        self.paths: list[Path] = []

    def __call__(self) -> sink_types.VideoWriter:
        base = Path(self.first) if self.first else Path(time.strftime("stylize-%Y%m%d-%H%M%S.mp4"))
        path, n = base, 1
        while self._taken(path):
            n += 1
            path = base.with_name(f"{base.stem}-{n}{base.suffix}")
        self.paths.append(path)
        print(f"recording: {path}", file=sys.stderr, flush=True)
        return sink_types.VideoWriter(path, lossless=False, progress=False)

    def _taken(self, path: Path) -> bool:
        # The --record FILE itself may be replaced, as asked; no other take overwrites a file.
        return path in self.paths or (path.exists() and str(path) != self.first)


def run(args) -> int:
    _check(args)
    looks = build_looks(args, several=True)
    _check_outputs(args)
    capture = parse_wxh(args.capture, "--capture") if args.capture else (None, None)
    with ExitStack() as stack:
        controls = Controls([look.name for look in looks], alpha=args.alpha, crossfade_ms=args.crossfade_ms,
                            recording=bool(args.record), preserve_color=args.preserve_color)
        if args.osc is not None:
            stack.enter_context(OscServer(controls, args.osc, args.osc_host))
        source = _open_source(args, *capture)
        stack.callback(source.close)
        sinks = _sinks(args, controls)
        engine = make_engine(args)
        controls.backend = ", ".join(filter(None, (backend_label(engine), work_size.describe(engine.work_pixels))))
        recordings = Recordings(args.record)
        pipeline = Pipeline(source, engine, looks, sinks, controls=controls,
                            mask=make_mask(args, engine), duration=args.duration, recorder=recordings,
                            smoothing=make_smoother(args))
        result = pipeline.run()
    result.stats["backend"], result.stats["work_pixels"] = backend_label(engine), engine.work_pixels
    if args.stats:
        write_stats(args.stats, result.stats)
    for path in recordings.paths:
        if path.exists():
            print(f"recorded {path}", file=sys.stderr)
    print(summary(result.stats), file=sys.stderr)
    return _exit_code(args, result)


def _open_source(args, width: int | None, height: int | None):
    try:
        return open_source(args.source, size=args.size, paced=True, fps=args.fps,
                           camera_width=width, camera_height=height, timeout=args.source_timeout)
    except UserError as exc:
        if args.source.isdigit() or args.source.startswith("/dev/video"):
            raise UserError(f"{exc} (no camera? try --source testpattern or a video file)") from None
        raise


def _sinks(args, controls: Controls) -> list[Sink]:
    sinks: list[Sink] = []
    if args.preview:
        sinks.append(PreviewWindow(controls))
    if args.stream:
        sinks.append(Announced(sink_types.NetworkStream(args.stream), describe_stream))
    if args.vcam:
        sinks.append(Announced(sink_types.VirtualCamera(), describe_vcam))
    return sinks


def _exit_code(args, result) -> int:
    if result.reason in (StopReason.END_OF_STREAM, StopReason.QUIT, StopReason.DURATION):
        return 0
    if result.reason == StopReason.INTERRUPTED:
        return 130
    if getattr(args, "debug", False) and result.error is not None:
        raise result.error
    print(f"stylize live: {'lost the source' if result.reason == StopReason.SOURCE_LOST else 'error'}: "
          f"{result.message}", file=sys.stderr)
    return 1


class Announced(Sink):
    """Passes frames to `inner`; once it is open, says on stderr where a viewer finds it."""

    def __init__(self, inner: Sink, describe: Callable[[Sink], str]):
        self.inner = inner
        self.describe = describe
        self.lossless = inner.lossless

    @property
    def name(self) -> str:  # a sink may name itself only once open (the vcam's device)
        return self.inner.name

    def open(self, width, height, fps) -> None:
        self.inner.open(width, height, fps)
        print(self.describe(self.inner), file=sys.stderr, flush=True)

    def write(self, frame) -> None:
        self.inner.write(frame)

    def end_of_stream(self) -> None:
        self.inner.end_of_stream()

    def close(self) -> None:
        self.inner.close()


def describe_stream(stream: sink_types.NetworkStream) -> str:
    """The line that tells a viewer what to open for `--stream`."""
    scheme = urlsplit(stream.url).scheme
    if scheme == "http":
        host, port = stream.address or (urlsplit(stream.url).hostname, urlsplit(stream.url).port)
        # A server on every interface is reached by this machine's name or address, not 0.0.0.0.
        shown = "THIS-MACHINE" if host in ("0.0.0.0", "::", "") else f"[{host}]" if ":" in host else host
        return (f"stream: MJPEG at http://{shown}:{port}/ (open it in a browser, or in OBS as a Media Source "
                f"with input format mpjpeg)")
    return (f"stream: MPEG-TS to {stream.url} (in OBS: Media Source, input {stream.url}, input format mpegts; "
            f"or ffplay {stream.url})")


def describe_vcam(camera: sink_types.VirtualCamera) -> str:
    device = camera.name.removeprefix("vcam ").strip() or "the virtual camera"
    return f"virtual camera: {device} (pick it in OBS as a Video Capture Device, or in a video-call app)"


def summary(stats: dict) -> str:
    """One line at the end of a run: frames stylized, their rate, frames dropped."""
    engine = stats["stages"]["engine"]
    return (f"live: {engine['frames']} frames in {stats['seconds']:.1f} s, {engine['fps']:.1f} fps, "
            f"{stats['drops']} dropped ({stats['stopped']})")
