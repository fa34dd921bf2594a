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

The legacy TorchScript exporter is used (`dynamo=False`): the torch.export
path needs onnxscript, which is not a dependency, and these nets trace cleanly.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
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
GRAPH_FORMAT = 1
PARITY_TOLERANCE = 2e-3  # max abs difference in [0,1] units, ~half a uint8 level
EXPORT_SIZE = (96, 128)  # the traced example's height, width; dynamic graphs take any size
PARITY_SIZE = (67, 91)  # odd on purpose: catches sizes frozen during tracing
# The export cache holds one graph per net and weights (the fast nets are ~7 MB
# each); past this the least recently used are deleted.
CACHE_LIMIT_BYTES = 512 * 1024 * 1024

CONTENT, OUTPUT = "content", "stylized"

log = logging.getLogger(__name__)


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
                size: tuple[int, int] | None = None) -> Path:
    """Export `method`'s net (registered weights, or `net`) to `path`, written atomically.

    size (height, width): the traced example. It only matters for graphs with
    a fixed size (Engstrom nets), which then run at exactly that size.
    """
    net = (net if net is not None else zoo.load(method)).eval()
    graph = registry.get(method).graph(net)
    height, width = size or EXPORT_SIZE
    content = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0))
    feeds = style_feeds(example_style(method, net))
    names = [CONTENT, *feeds]
    dynamic = {CONTENT: {2: "height", 3: "width"}, OUTPUT: {2: "height", 3: "width"}} if is_dynamic(method) else None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # The legacy exporter warns that it is legacy and that some slices
            # cannot be constant-folded; neither is actionable here.
            warnings.simplefilter("ignore")
            torch.onnx.export(graph, (content, *(torch.from_numpy(v) for v in feeds.values())), tmp_name,
                              dynamo=False, input_names=names, output_names=[OUTPUT], dynamic_axes=dynamic,
                              opset_version=OPSET, do_constant_folding=True)
        os.replace(tmp_name, path)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    return path


# ------------------------------------------------------------------ runtime --
def open_session(path: str | os.PathLike, threads: int | None = None,
                 providers: Sequence[str] | None = None):
    """An ONNX Runtime session; `threads` caps intra-op threads (None: ORT's default, one per core)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1  # the graphs are a single chain; parallelism is intra-op
    if threads:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3  # errors only: ORT's warnings about unused initialisers are noise here
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
                 size: tuple[int, int] | None = None, tolerance: float = PARITY_TOLERANCE,
                 threads: int | None = 1) -> float:
    """Run the graph in ONNX Runtime (CPU) and the net in torch on one random frame.

    Returns the max abs difference in [0,1] units; raises UserError when it
    is above `tolerance`. The default size is odd, so a dynamic graph whose
    size got frozen during tracing fails here rather than in use.
    """
    net = (net if net is not None else zoo.load(method)).eval()
    height, width = size or (PARITY_SIZE if is_dynamic(method) else EXPORT_SIZE)
    content = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(1))
    style = example_style(method, net, seed=2)
    with torch.no_grad():
        graph = registry.get(method).graph(net)
        expected = graph(content, *(torch.from_numpy(v) for v in style_feeds(style).values()))
        if style is not None:  # and the net's own forward, which the graph must agree with
            direct = net(content, style)
            expected_gap = (direct - expected).abs().max().item()
            if expected_gap > tolerance:
                raise UserError(f"{method}: the export wrapper differs from the net by {expected_gap:.2g}; "
                                "the graph definition is out of date")
    session = open_session(path, threads)
    try:
        got = run_session(session, content.numpy(), style_feeds(style))
    except Exception as exc:
        raise UserError(f"{method}: ONNX Runtime failed on a {width}x{height} frame ({exc})") from None
    if got.shape != tuple(expected.shape):
        raise UserError(f"{method}: ONNX output is {got.shape[-1]}x{got.shape[-2]}, expected {width}x{height}")
    gap = float(np.abs(got - expected.numpy()).max())
    if not gap <= tolerance:  # also catches NaN
        raise UserError(f"{method}: ONNX Runtime and torch differ by {gap:.3g} (> {tolerance:g}) "
                        f"on a {width}x{height} frame; the export is not usable")
    return gap


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


def cache_path(method: str, net: nn.Module, size: tuple[int, int] | None = None) -> Path:
    """Where the export of `net` lives in the user cache; fixed-size graphs also key by size."""
    name = f"{method}-{weights_digest(method, net)[:20]}"
    if not is_dynamic(method):
        height, width = size or EXPORT_SIZE
        name += f"-{width}x{height}"
    return weights.cache_dir() / "onnx" / f"{name}.onnx"


def cached_onnx(method: str, *, net: nn.Module | None = None, size: tuple[int, int] | None = None) -> Path:
    """The ONNX file for `method`, exported and parity-checked on first use, then reused.

    size (height, width) is only used by fixed-size graphs (Engstrom nets).
    """
    net = (net if net is not None else zoo.load(method)).eval()
    path = cache_path(method, net, size)
    if path.is_file():
        os.utime(path)  # most recently used: the last to be evicted
        return path
    # Export beside the final name and check parity before it becomes visible,
    # so the cache never holds a graph that failed its check.
    candidate = path.with_name(f".{path.stem}.{os.getpid()}.onnx")
    try:
        export_onnx(method, candidate, net=net, size=size)
        check_parity(method, candidate, net=net, size=None if is_dynamic(method) else size)
        os.replace(candidate, path)
    finally:
        candidate.unlink(missing_ok=True)
    evict(path.parent, keep=path)
    return path


def cached_session(method: str, *, net: nn.Module | None = None, size: tuple[int, int] | None = None,
                   threads: int | None = None, providers: Sequence[str] | None = None):
    """An ONNX Runtime session on the cached export; a cached file that fails to load is exported again."""
    net = (net if net is not None else zoo.load(method)).eval()
    path = cached_onnx(method, net=net, size=size)
    try:
        return open_session(path, threads, providers)
    except UserError:
        # A truncated or corrupted cache entry (a full disk, a crash mid-copy):
        # the cache is ours to repair, so the user never has to clear it by hand.
        path.unlink(missing_ok=True)
        log.warning("stylize: the cached ONNX export %s was corrupt; exported it again", path)
        return open_session(cached_onnx(method, net=net, size=size), threads, providers)


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
