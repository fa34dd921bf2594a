"""The `stylize` command line: one parser, one verb per module in this package."""
from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from contextlib import contextmanager

from stylize import __version__
from stylize.errors import UserError

# verb -> module in stylize.cli; each module has `add_parser(subparsers)`
# and `run(args) -> int`.
VERBS = ["image", "video", "batch", "live", "sketch", "looks", "keyframes", "look", "distill", "weights", "info",
         "train", "bench", "export"]

EPILOG = """examples:
  stylize image photo.jpg --look starry-night -o out.png
  stylize image photo.jpg --method candy -o out.png
  stylize image photo.jpg --style starry.jpg --method gatys -o out.png
  stylize sketch car.png --style starry.jpg -o car.png --svg car.svg
  stylize live --source testpattern --no-preview --stream udp://127.0.0.1:9000
  stylize looks
  stylize weights list
  stylize info
  stylize export onnx --method student -o student.onnx --check

Run `stylize VERB --help` for each verb's options and examples."""


def sentence(text: str) -> str:
    """A verb's one-line help as its --help description: first letter up, full stop; the rest as written,
    so names keep their capitals (OBS, ONNX Runtime, VGG-19, AdaIN), which str.capitalize() would lower."""
    return text[:1].upper() + text[1:] + "."


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps our hand-wrapped examples and shows defaults."""

    def add_argument(self, action) -> None:
        super().add_argument(action)
        if isinstance(action, argparse._SubParsersAction) and action.choices:
            # argparse measures the verbs without their own indent, so a long one (keyframes) lost its column.
            longest = max(map(len, action.choices)) + self._current_indent + self._indent_increment
            self._action_max_length = max(self._action_max_length, longest)


class Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr and exit code 2, like every other error."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="stylize", description="Real-time style transfer for webcams, video and images.",
        epilog=EPILOG, formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"stylize {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb in VERBS:
        module = importlib.import_module(f"stylize.cli.{verb}")
        module.add_parser(verbs, [common])
    return parser


def _interrupt(signum, frame):
    raise KeyboardInterrupt


@contextmanager
def held_interrupts():
    """Hold Ctrl-C while modules import, then raise it: an interrupt inside a C extension's import
    (numpy, torch) surfaces as an ImportError traceback instead of a KeyboardInterrupt."""
    held: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if held:
        raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run one verb; `argv` None: this process's command line, and this process ends after it."""
    if argv is not None:
        return _main(list(argv))
    try:
        return _main(sys.argv[1:])
    finally:
        # The verb is done and its files are final: a signal arriving while Python shuts down
        # would only turn the exit code into a kill (143), so the stop signals are ignored now.
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_IGN)


def _main(argv: list[str]) -> int:
    # Named before parsing: Ctrl-C may come while the verbs (and torch) are still importing.
    verb = next((word for word in argv if not word.startswith("-")), None)
    label = f"stylize {verb}" if verb in VERBS else "stylize"
    try:
        # `kill` (SIGTERM) finishes like Ctrl-C: videos are finalised, training saves a checkpoint.
        signal.signal(signal.SIGTERM, _interrupt)
        with held_interrupts():  # every verb module (and torch) imports here
            parser = build_parser()
        args = parser.parse_args(argv)
        if not args.verb:
            parser.print_help()
            return 2
        return _run(args)
    except (KeyboardInterrupt, ImportError) as exc:
        if not _caused_by_interrupt(exc):
            raise
        print(f"{label}: interrupted", file=sys.stderr)
        return 130


def _caused_by_interrupt(exc: BaseException) -> bool:
    """Ctrl-C inside a C extension's first import (a verb's lazy onnxruntime, cv2) comes out as an
    ImportError raised from the KeyboardInterrupt."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _run(args: argparse.Namespace) -> int:
    try:
        return args.run(args) or 0
    except UserError as exc:
        if args.debug:
            raise
        print(f"stylize {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `stylize weights list | head`
        sys.stderr.close()
        return 0
