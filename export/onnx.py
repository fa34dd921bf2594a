"""Export style nets to ONNX, check them against torch, and cache them per weights.

One exported graph serves every look of a net: the style is computed once in
torch and fed to the graph as plain inputs, never baked in.

Graph inputs and output (all float32, NCHW, RGB in [0,1]):

    content              1,3,H,W   the frame; H and W are dynamic
    style_mean/style_std 1,C,1,1   adain, student: AdaIN statistics (Style.blended())
    alpha                1         adain, student: feature-space strength (the engines feed 1 and
                                   blend pixels, so that alpha 0 is exactly the input)
    block{i}_{band}_{k}  ...       aesfa: the predicted kernels, in AesFAStyle.tensors() order
                                   (band high|low, k spatial|pointwise|bias)
    stylized             1,3,H,W   the output, clamped to [0,1], exactly the input's size

Fast per-look nets (Johnson, Engstrom) take only `content`. They work in
0-255 inside; the graph wraps them so that every graph speaks [0,1].

Limits, each checked by `check_parity`:
* AesFA's alpha is not a graph input: its alpha < 1 fades the kernels
  towards the frame's own style code, an adaptive pool that the ONNX exporter
  cannot express for arbitrary sizes. The engines blend pixels for every net.
* Engstrom nets compute their TensorFlow 'SAME' padding with Python arithmetic
  on the input size, which the tracer freezes. Their graphs have a fixed size
  (one export per frame size); every other graph takes any size.

Precisions (`export_onnx(..., precision=)`), each with its parity check:
* fp32: max abs difference to torch <= 2e-3.
* fp16: weights and activations in float16 inside, float32 in and out (the
  convention holds); max abs difference <= 1e-2 (measured ~1e-3 in ORT CPU).
* int8: static QDQ quantisation calibrated on photos (export/quantize.py);
  judged by the mean abs difference on a photo, <= 0.05 (measured: student
  0.02, AesFA 0.037; README "Export"), since a few pixels near a clipped
  range can be far off.

The legacy TorchScript exporter is used (`dynamo=False`): the torch.export
path needs onnxscript, which is not a dependency, and these nets trace cleanly.
"""
from __future__ import annotations

import copy
import hashlib
import logging
import os
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn

from stylize.errors import UserError
from stylize.models import registry, weights, zoo
from stylize.models.adain import Style
from stylize.models.aesfa import AesFAStyle
from stylize.models.graphs import kernel_input_names

OPSET = 17
# Bump when a graph wrapper changes, so cached exports from older code are not reused.
GRAPH_FORMAT = 2
PARITY_TOLERANCE = 2e-3  # max abs difference in [0,1] units, ~half a uint8 level
PRECISIONS = ("fp32", "fp16", "int8")
# precision -> (the parity measure, its tolerance in [0,1] units); see the module notes.
PARITY = {"fp32": ("max", PARITY_TOLERANCE), "fp16": ("max", 1e-2), "int8": ("mean", 5e-2)}
EXPORT_SIZE = (96, 128)  # the traced example's height, width; dynamic graphs take any size
PARITY_SIZE = (67, 91)  # odd on purpose: catches sizes frozen during tracing
# The export cache holds one graph per net and weights (the fast nets are ~7 MB
# each); past this the least recently used are deleted.
CACHE_LIMIT_BYTES = 512 * 1024 * 1024

CONTENT, OUTPUT = "content", "stylized"

log = logging.getLogger(__name__)


class ParityError(UserError):
    """An exported graph that disagrees with torch beyond its precision's tolerance."""


def is_dynamic(method: str) -> bool:
    """Whether `method`'s graph takes any frame size (see the module notes on Engstrom)."""
    return registry.get(method).dynamic_size


# ------------------------------------------------------- style as inputs --
def style_feeds(style: Style | AesFAStyle | None, alpha: float = 1.0) -> dict[str, np.ndarray]:
    """The graph inputs that carry a precomputed style (empty for a fast net)."""
    if style is None:
        return {}
    if isinstance(style, AesFAStyle):
        return {name: tensor.detach().float().cpu().numpy()
                for name, tensor in zip(kernel_input_names(style), style.tensors())}
    mean, std = style.blended()
    return {"style_mean": mean.detach().float().cpu().numpy(), "style_std": std.detach().float().cpu().numpy(),
            "alpha": np.array([alpha], dtype=np.float32)}


def example_style(method: str, net: nn.Module, seed: int = 0) -> Style | AesFAStyle | None:
    """A style computed from a fixed random painting, for tracing and parity checks."""
    if not registry.get(method).arbitrary:
        return None
    painting = torch.rand(1, 3, 96, 96, generator=torch.Generator().manual_seed(seed))
    return net.style([painting])


# ------------------------------------------------------------------ export --
def export_onnx(method: str, path: str | os.PathLike, *, net: nn.Module | None = None,
                size: tuple[int, int] | None = None, precision: str = "fp32",
                calibration: Sequence[str | os.PathLike] = ()) -> Path:
    """Export `method`'s net (registered weights, or `net`) to `path`, written atomically.

    size (height, width): the traced example. It only matters for graphs with
    a fixed size (Engstrom nets), which then run at exactly that size.
    precision: fp32, fp16 or int8; int8 is calibrated on the photos in `calibration`.
    """
    if precision not in PRECISIONS:
        raise UserError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    if precision == "int8" and not calibration:
        raise UserError("an int8 export needs calibration photos (--calibrate DIR)")
    net = (net if net is not None else zoo.load(method)).eval()
    graph = registry.get(method).graph(net)
    if precision == "fp16":
        graph = Float32IO(copy.deepcopy(graph).half())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _temporary(path) as traced:
        _trace(method, net, graph, traced, size or EXPORT_SIZE)
        if precision == "int8":
            from stylize.export import quantize

            with _temporary(path) as quantised:
                # A fixed-size graph (Engstrom) calibrates at its own size.
                photo_size = None if is_dynamic(method) else (size or EXPORT_SIZE)
                feeds = quantize.calibration_feeds(method, net, list(calibration), photo_size)
                quantize.quantize_int8(traced, quantised, feeds)
                os.replace(quantised, path)
        else:
            os.replace(traced, path)
    return path


class Float32IO(nn.Module):
    """A half-precision graph that still takes and gives float32, as the graph convention says."""

    def __init__(self, graph: nn.Module):
        super().__init__()
        self.graph = graph

    def forward(self, content: torch.Tensor, *style: torch.Tensor) -> torch.Tensor:
        return self.graph(content.half(), *(tensor.half() for tensor in style)).float()


@contextmanager
def _temporary(beside: Path):
    """A temporary file name beside `beside` (same folder, so a rename is atomic), removed afterwards."""
    handle, name = tempfile.mkstemp(prefix=f".{beside.name}.", suffix=".part", dir=beside.parent)
    os.close(handle)
    try:
        yield name
    finally:
        Path(name).unlink(missing_ok=True)


def _trace(method: str, net: nn.Module, graph: nn.Module, target: str, size: tuple[int, int]) -> None:
    height, width = size
    content = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0))
    feeds = style_feeds(example_style(method, net))
    dynamic = {CONTENT: {2: "height", 3: "width"}, OUTPUT: {2: "height", 3: "width"}} if is_dynamic(method) else None
    with warnings.catch_warnings(), torch.no_grad():
        # The legacy exporter warns that it is legacy and that some slices
        # cannot be constant-folded; neither is actionable here.
        warnings.simplefilter("ignore")
        torch.onnx.export(graph, (content, *(torch.from_numpy(v) for v in feeds.values())), target,
                          dynamo=False, input_names=[CONTENT, *feeds], output_names=[OUTPUT], dynamic_axes=dynamic,
                          opset_version=OPSET, do_constant_folding=True)
    _name_output_shape(target)


def _name_output_shape(path: str) -> None:
    """Give `stylized` the content's shape names (1x3xheightxwidth): the tracer names the output's batch and
    channel sides after an internal node, which tools that read the graph's signature would show."""
    import onnx

    model = onnx.load(path)
    dims = model.graph.output[0].type.tensor_type.shape.dim
    for dim, like in zip(dims, model.graph.input[0].type.tensor_type.shape.dim):
        dim.CopyFrom(like)
    onnx.save(model, path)


# ------------------------------------------------------------------ runtime --
def open_session(path: str | os.PathLike, threads: int | None = None,
                 providers: Sequence[str] | None = None, spinning: bool = True):
    """An ONNX Runtime session; `threads` caps intra-op threads (None: ORT's default, one per core);
    `spinning=False` lets them sleep between ops, for when other threads need the cores."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1  # the graphs are a single chain; parallelism is intra-op
    if threads:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3  # errors only: ORT's warnings about unused initialisers are noise here
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=list(providers or ["CPUExecutionProvider"]))
    except Exception as exc:  # ORT raises its own types for corrupt or unsupported files
        raise UserError(f"{path}: ONNX Runtime cannot load this model ({exc})") from None


def run_session(session, content: np.ndarray, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """Run a graph on content (1,3,H,W float32 [0,1]); `feeds` may hold inputs the graph lacks."""
    wanted = {i.name for i in session.get_inputs()}
    inputs = {CONTENT: content, **{k: v for k, v in feeds.items() if k in wanted}}
    return session.run([OUTPUT], inputs)[0]


def check_parity(method: str, path: str | os.PathLike, *, net: nn.Module | None = None,
                 size: tuple[int, int] | None = None, tolerance: float | None = None,
                 threads: int | None = 1, precision: str = "fp32", content: np.ndarray | None = None) -> float:
    """Run the graph in ONNX Runtime (CPU) and the net in torch (fp32) on one frame.

    Returns the gap in [0,1] units by `precision`'s measure (PARITY: the max
    abs difference, or the mean for int8); raises ParityError when it is above
    `tolerance` (default: the precision's). The frame is `content` (an HxWx3
    uint8 photo, resized to the size) or seeded noise; the default size is
    odd, so a dynamic graph whose size got frozen during tracing fails here.
    """
    measure, default_tolerance = PARITY[precision]
    tolerance = default_tolerance if tolerance is None else tolerance
    net = (net if net is not None else zoo.load(method)).eval()
    height, width = size or (PARITY_SIZE if is_dynamic(method) else EXPORT_SIZE)
    frame = _parity_frame(content, height, width)
    style = example_style(method, net, seed=2)
    expected = _torch_reference(method, net, frame, style)
    session = open_session(path, threads)
    try:
        got = run_session(session, frame.numpy(), style_feeds(style))
    except Exception as exc:
        raise ParityError(f"{method}: ONNX Runtime failed on a {width}x{height} frame ({exc})") from None
    if got.shape != tuple(expected.shape):
        raise ParityError(f"{method}: ONNX output is {got.shape[-1]}x{got.shape[-2]}, expected {width}x{height}")
    difference = np.abs(got - expected.numpy())
    gap = float(difference.max() if measure == "max" else difference.mean())
    if not gap <= tolerance:  # also catches NaN
        raise ParityError(f"{method}: ONNX Runtime ({precision}) and torch differ by {gap:.3g} ({measure} abs, "
                          f"> {tolerance:g}) on a {width}x{height} frame; the export is not usable")
    return gap


def _parity_frame(content: np.ndarray | None, height: int, width: int) -> torch.Tensor:
    if content is None:
        return torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(1))
    import cv2

    rgb = cv2.resize(content, (width, height), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32) / 255)


@torch.no_grad()
def _torch_reference(method: str, net: nn.Module, content: torch.Tensor, style) -> torch.Tensor:
    """The graph wrapper's output in torch, after checking that it agrees with the net's own forward."""
    expected = registry.get(method).graph(net)(content, *(torch.from_numpy(v) for v in style_feeds(style).values()))
    if style is not None:
        gap = (net(content, style) - expected).abs().max().item()
        if gap > PARITY_TOLERANCE:
            raise ParityError(f"{method}: the export wrapper differs from the net by {gap:.2g}; "
                              "the graph definition is out of date")
    return expected


# ------------------------------------------------------------------- cache --
def weights_digest(method: str, net: nn.Module) -> str:
    """sha256 over the weights a picture depends on: names, dtypes, shapes and bytes.

    Keying the cache by the weights baked into the graph (not by a file name)
    means a retrained or re-registered net never meets a stale export. Only
    the inference weights count: a training-only part (the student's
    distillation head, random on every load) would make every key unique.
    """
    digest = hashlib.sha256(f"{method}:{type(net).__name__}:{GRAPH_FORMAT}:{OPSET}".encode())
    for name, tensor in sorted(registry.get(method).inference_state(net).items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        data = tensor.float() if tensor.dtype == torch.bfloat16 else tensor  # numpy has no bfloat16
        digest.update(data.numpy().tobytes())
    return digest.hexdigest()


def cache_path(method: str, net: nn.Module, size: tuple[int, int] | None = None, precision: str = "fp32",
               calibration: Sequence[str | os.PathLike] = ()) -> Path:
    """Where the export of `net` lives in the user cache; fixed-size graphs also key by size, int8 graphs
    by the bytes of their calibration photos."""
    name = f"{method}-{weights_digest(method, net)[:20]}"
    if not is_dynamic(method):
        height, width = size or EXPORT_SIZE
        name += f"-{width}x{height}"
    if precision != "fp32":
        name += f"-{precision}"
    if calibration:
        digest = hashlib.sha256()
        for photo in calibration:
            digest.update(Path(photo).read_bytes())
        name += f"-{digest.hexdigest()[:12]}"
    return weights.cache_dir() / "onnx" / f"{name}.onnx"


def cached_onnx(method: str, *, net: nn.Module | None = None, size: tuple[int, int] | None = None,
                precision: str = "fp32", calibration: Sequence[str | os.PathLike] = ()) -> Path:
    """The ONNX file for `method`, exported and parity-checked on first use, then reused.

    size (height, width) is only used by fixed-size graphs (Engstrom nets);
    precision and calibration as for export_onnx (int8 is checked on its first calibration photo).
    """
    net = (net if net is not None else zoo.load(method)).eval()
    path = cache_path(method, net, size, precision, calibration)
    if path.is_file():
        os.utime(path)  # most recently used: the last to be evicted
        return path
    # Export beside the final name and check parity before it becomes visible,
    # so the cache never holds a graph that failed its check.
    candidate = path.with_name(f".{path.stem}.{os.getpid()}.onnx")
    photo = None
    if calibration:
        from stylize.imageio import read_image

        photo = read_image(calibration[0])
    try:
        export_onnx(method, candidate, net=net, size=size, precision=precision, calibration=calibration)
        check_parity(method, candidate, net=net, size=None if is_dynamic(method) else size, precision=precision,
                     content=photo)
        os.replace(candidate, path)
    finally:
        candidate.unlink(missing_ok=True)
    evict(path.parent, keep=path)
    return path


def cached_session(method: str, *, net: nn.Module | None = None, size: tuple[int, int] | None = None,
                   threads: int | None = None, providers: Sequence[str] | None = None, spinning: bool = True,
                   **variant):
    """An ONNX Runtime session on the cached export; a cached file that fails to load is exported again.

    variant: precision and calibration, as for cached_onnx."""
    net = (net if net is not None else zoo.load(method)).eval()
    path = cached_onnx(method, net=net, size=size, **variant)
    try:
        return open_session(path, threads, providers, spinning)
    except UserError:
        # A truncated or corrupted cache entry (a full disk, a crash mid-copy):
        # the cache is ours to repair, so the user never has to clear it by hand.
        path.unlink(missing_ok=True)
        log.warning("stylize: the cached ONNX export %s was corrupt; exported it again", path)
        return open_session(cached_onnx(method, net=net, size=size, **variant), threads, providers, spinning)


def evict(folder: Path, keep: Path, limit_bytes: int = CACHE_LIMIT_BYTES) -> list[Path]:
    """Delete the least recently used exports until the folder holds at most `limit_bytes` (`keep` stays)."""
    entries = []
    for path in folder.glob("*.onnx"):
        try:
            entries.append((path.stat().st_mtime, path.stat().st_size, path))
        except FileNotFoundError:  # another process evicted it first
            continue
    total = sum(size for _, size, _ in entries)
    removed = []
    for _, size, path in sorted(entries):
        if total <= limit_bytes:
            break
        if path == keep or path.name.startswith("."):
            continue
        path.unlink(missing_ok=True)
        total -= size
        removed.append(path)
    return removed
