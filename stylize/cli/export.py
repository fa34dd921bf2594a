"""`stylize export`: the live nets as ONNX graphs (fp32, fp16, int8) or TensorRT engines, for other tools."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from stylize.cli import sentence
from stylize.errors import OptionError, OutputError
from stylize.imageio import read_image
from stylize.jobs import check_output
from stylize.models import registry
from stylize.sizes import parse_wxh, positive_int

HELP = "export a live net as an ONNX graph (fp32, fp16 or int8) or a TensorRT engine"
EXAMPLES = """examples:
  stylize export onnx --method student -o student.onnx --check
  stylize export onnx --method adain -o adain-fp16.onnx --fp16
  stylize export onnx --method student -o student-int8.onnx --int8 --calibrate photos/ --check
  stylize export onnx --method scream -o scream-720p.onnx --resolution 1280x720    # Engstrom nets: one size
  stylize export onnx --print-io                   # every net's graph inputs and outputs
  stylize export tensorrt --method student -o student.engine --fp16 --profiles 480p,720p,1080p

Every graph takes `content` (1x3xHxW float32 RGB in [0,1], any H and W) and
gives `stylized` (the same shape and range); an arbitrary-style net also takes
its style as inputs (see --print-io and the README's "Export" section), so one
graph serves every look. --check runs the graph in ONNX Runtime next to torch
at two sizes, one odd, and fails above the tolerance (max abs difference fp32
2e-3, fp16 1e-2; mean abs difference int8 5e-2, on a calibration photo).
"""
FIXED_SIZE = (640, 480)  # Engstrom graphs' default frame size (width, height)


def add_parser(verbs, parents) -> None:
    p = verbs.add_parser("export", parents=parents, help=HELP, description=sentence(HELP), epilog=EXAMPLES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    kinds = p.add_subparsers(dest="format", metavar="FORMAT", required=True)
    onnx_help = "an ONNX graph (fp32, fp16 or int8) for ONNX Runtime and the tools that read ONNX"
    onnx = kinds.add_parser("onnx", parents=parents, help=onnx_help, description=sentence(onnx_help), epilog=EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_common(onnx)
    precision = onnx.add_mutually_exclusive_group()
    precision.add_argument("--fp16", action="store_true", help="float16 inside, float32 in and out (for GPUs)")
    precision.add_argument("--int8", action="store_true", help="int8 convolutions, calibrated on --calibrate "
                                                               "(for CPUs; fastest with AVX-512 VNNI)")
    onnx.add_argument("--calibrate", metavar="DIR", help="a folder of photos to calibrate --int8 on")
    onnx.add_argument("--calibration-images", type=positive_int, default=32, metavar="N",
                      help="photos read from --calibrate, first by name (default 32)")
    onnx.add_argument("--check", action="store_true", help="compare with torch at two sizes; exit 1 if it differs")
    onnx.add_argument("--print-io", action="store_true", help="list the graph's inputs and outputs (without "
                                                              "-o: export to a temporary file; without --method: "
                                                              "every net's)")
    onnx.set_defaults(run=run_onnx)
    trt_help = "a TensorRT engine for NVIDIA GPUs, built from the ONNX graph"
    trt = kinds.add_parser("tensorrt", parents=parents, help=trt_help, description=sentence(trt_help), epilog=EXAMPLES,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_common(trt)
    trt.add_argument("--fp16", action="store_true", help="let TensorRT pick float16 kernels")
    trt.add_argument("--profiles", default="480p,720p,1080p",
                     help="frame sizes to tune for, comma-separated: 240p..2160p or WIDTHxHEIGHT "
                          "(default 480p,720p,1080p); larger frames are refused")
    trt.set_defaults(run=run_tensorrt)


def _add_common(parser) -> None:
    parser.add_argument("--method", help=f"the net: {', '.join(registry.methods())}")
    parser.add_argument("-o", "--output", metavar="FILE", help="where to write it (never overwritten)")
    parser.add_argument("--resolution", metavar="WxH", help="WIDTHxHEIGHT of a fixed-size graph (Engstrom nets: "
                                       f"{', '.join(m for m in registry.methods() if not registry.get(m).dynamic_size)}"
                                       f"; default {FIXED_SIZE[0]}x{FIXED_SIZE[1]}); other graphs take any size")


# --------------------------------------------------------------------- onnx --
def run_onnx(args) -> int:
    if args.print_io and not args.output:
        return print_graphs([registry.get(args.method).method] if args.method else registry.methods())
    method, output, size = _plan(args)
    precision = "fp16" if args.fp16 else "int8" if args.int8 else "fp32"
    photos = _calibration(args)
    from stylize.export import onnx as onnx_export
    from stylize.models import zoo

    started = time.monotonic()
    net = zoo.load(method)
    with _staged(output) as staged:
        onnx_export.export_onnx(method, staged, net=net, size=size, precision=precision, calibration=photos)
        if args.check and not _check(method, staged, net, size, precision, photos):
            return 1
        _publish(staged, output)
    if args.print_io:
        print_io(method, output)
    print(f"{method} -> {output} (ONNX {precision}, {output.stat().st_size / 1e6:.1f} MB, "
          f"{time.monotonic() - started:.1f} s)", file=sys.stderr)
    return 0


def _plan(args) -> tuple[str, Path, tuple[int, int] | None]:
    """The method, the output path (checked before any work) and the traced size (height, width)."""
    if not args.method:
        raise OptionError(f"--method is needed; choose from {', '.join(registry.methods())}")
    spec = registry.get(args.method)
    if not args.output:
        raise OptionError("-o FILE is needed: where to write the export")
    output = Path(args.output)
    if output.exists():
        raise OutputError(f"{output}: exists already; stylize export never overwrites a file")
    check_output(output, "export")
    if args.resolution and spec.dynamic_size:
        raise OptionError(f"--resolution is for fixed-size graphs; {args.method}'s graph takes any size")
    width, height = parse_wxh(args.resolution, "--resolution") if args.resolution else FIXED_SIZE
    return args.method, output, None if spec.dynamic_size else (height, width)


def _calibration(args) -> list[Path]:
    if args.int8 and not args.calibrate:
        raise OptionError("--int8 needs --calibrate DIR: a folder of photos like the ones it will stylize")
    if args.calibrate and not args.int8:
        raise OptionError("--calibrate is for --int8")
    if not args.int8:
        return []
    from stylize.export.quantize import calibration_images

    return calibration_images(args.calibrate, args.calibration_images)


class _staged:
    """A temporary name beside the output, removed unless it was published."""

    def __init__(self, output: Path):
        self.output = output

    def __enter__(self) -> Path:
        handle, name = tempfile.mkstemp(prefix=f".{self.output.name}.", suffix=".part", dir=self.output.parent)
        os.close(handle)
        self.path = Path(name)
        return self.path

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)


def _publish(staged: Path, output: Path) -> None:
    """Give the finished file its name without replacing one that appeared meanwhile (a hard link fails then)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staged, 0o666 & ~umask)  # a temporary file is private; the export is an ordinary file
    try:
        os.link(staged, output)
    except FileExistsError:
        raise OutputError(f"{output}: appeared while exporting; not overwritten") from None
    except OSError:  # a file system without hard links
        if output.exists():
            raise OutputError(f"{output}: appeared while exporting; not overwritten") from None
        os.replace(staged, output)


def _check(method: str, path: Path, net, size, precision: str, photos: list[Path]) -> bool:
    """Parity with torch at two sizes (one odd) or a fixed graph's one size; prints each gap."""
    from stylize.export import onnx as onnx_export

    measure, tolerance = onnx_export.PARITY[precision]
    photo = read_image(photos[0]) if photos else None  # int8 is judged on a photo like its calibration
    for height, width in [size] if size else CHECK_SIZES:
        try:
            gap = onnx_export.check_parity(method, path, net=net, size=(height, width), precision=precision,
                                           content=photo)
        except onnx_export.ParityError as exc:
            print(f"stylize export: check failed: {exc}", file=sys.stderr)
            return False
        print(f"check {width}x{height}: {measure} abs difference {gap:.2g} <= {tolerance:g}", file=sys.stderr)
    return True


CHECK_SIZES = ((67, 91), (144, 176))  # (height, width): odd, then even; neither is the traced size


def print_io(method: str, path: Path) -> None:
    """Each input and output of the graph at `path`: name, element type and shape (names for dynamic sides)."""
    from stylize.export import onnx as onnx_export

    session = onnx_export.open_session(path, threads=1)
    size = "any size" if registry.get(method).dynamic_size else "fixed size"
    print(f"{method} ({size}): {path.name}")
    for kind, values in (("in ", session.get_inputs()), ("out", session.get_outputs())):
        for value in values:
            shape = "x".join(str(side) for side in value.shape)
            print(f"  {kind} {value.name:<22} {value.type.replace('tensor(', '').rstrip(')'):<8} {shape}")


def print_graphs(methods: list[str]) -> int:
    """--print-io without -o: export each net (whose weights are here) to a temporary file, list its graph."""
    from stylize.errors import WeightsError
    from stylize.export import onnx as onnx_export
    from stylize.models import zoo

    with tempfile.TemporaryDirectory(prefix="stylize-io-") as folder:
        for method in methods:
            try:
                net = zoo.load(method)
            except WeightsError as exc:
                print(f"{method}: skipped ({str(exc).splitlines()[0][:100]})")
                continue
            size = None if registry.get(method).dynamic_size else FIXED_SIZE[::-1]
            path = onnx_export.export_onnx(method, Path(folder) / f"{method}.onnx", net=net, size=size)
            print_io(method, path)
    return 0


# ----------------------------------------------------------------- tensorrt --
def run_tensorrt(args) -> int:
    from stylize.export import tensorrt as trt_export

    method, output, size = _plan(args)
    profiles = trt_export.parse_profiles(args.profiles)
    trt = trt_export.import_tensorrt()  # the one-line refusal names the extra to install
    gpu = trt_export.gpu_name()
    from stylize.export import onnx as onnx_export
    from stylize.models import zoo

    started = time.monotonic()
    onnx_path = onnx_export.cached_onnx(method, net=zoo.load(method), size=size)
    if size:
        profiles = trt_export.fixed_profile(*size)
    with _staged(output) as staged:
        trt_export.build_engine(onnx_path, staged, profiles, fp16=args.fp16,
                                timing_cache=trt_export.timing_cache_path(gpu, trt.__version__))
        _publish(staged, output)
    shapes = ", ".join(f"{p.opt[1]}x{p.opt[0]}" for p in profiles)
    print(f"{method} -> {output} (TensorRT {trt.__version__} on {gpu}, {'fp16' if args.fp16 else 'fp32'}, "
          f"profiles {shapes}, {time.monotonic() - started:.1f} s)", file=sys.stderr)
    return 0
