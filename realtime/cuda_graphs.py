"""Running a style net on CUDA fast: reduced precision, channels_last, CUDA graphs per input shape, torch.compile.

    runner = NetRunner(precision="bf16", graphs=True, compile=False)
    out = runner(net, content, style)   # on the current (compute) stream; float32 1x3xHxW in [0,1]

A net runs eagerly under autocast for its first `warmup` calls of an input
shape (cuDNN picks its algorithms, the allocator settles), is then captured
into a CUDA graph for that shape, and replayed from then on: the content and
style tensors are copied into the graph's static inputs, the graph replays,
and its output is copied out. A capture that fails leaves that shape eager,
and says so once (`status` records it). A pass that records or replays
normalisation statistics (models/normstats.py) always runs eagerly, since
a graph would replay the statistics it captured.

bf16 is the default: the same speed as fp16 on tensor cores, and the AdaIN
statistics of VGG features stay within its range. `scale` runs the net on
a resized picture (resized on the device, antialiased) and brings the
result back to the frame's size.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from stylize.errors import OptionError
from stylize.models import normstats

PRECISIONS = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
WARMUP = 2  # eager calls of a shape before it is captured

log = logging.getLogger("stylize")


def style_leaves(style) -> list[torch.Tensor]:
    """The tensors of a style object (dataclasses, tuples, tensors), in a fixed order."""
    if style is None:
        return []
    if isinstance(style, torch.Tensor):
        return [style]
    if dataclasses.is_dataclass(style):
        return [t for f in dataclasses.fields(style) for t in style_leaves(getattr(style, f.name))]
    if isinstance(style, tuple):
        return [t for item in style for t in style_leaves(item)]
    raise TypeError(f"cannot take the tensors of a {type(style).__name__}")


def rebuilt(style, leaves):
    """`style` with its tensors replaced, in `style_leaves` order, by those `leaves` yields."""
    if style is None:
        return None
    if isinstance(style, torch.Tensor):
        return next(leaves)
    if dataclasses.is_dataclass(style):
        return type(style)(**{f.name: rebuilt(getattr(style, f.name), leaves) for f in dataclasses.fields(style)})
    if isinstance(style, tuple):
        items = [rebuilt(item, leaves) for item in style]
        return type(style)(*items) if hasattr(style, "_fields") else tuple(items)
    raise TypeError(f"cannot rebuild a {type(style).__name__}")


@dataclass
class _Graph:
    graph: torch.cuda.CUDAGraph
    content: torch.Tensor  # static inputs, copied into before each replay
    style: list[torch.Tensor]
    output: torch.Tensor  # static output, copied out after each replay


class NetRunner:
    """Calls a net (a fast net when `style` is None) the fast way; see the module docstring."""

    def __init__(self, precision: str = "bf16", graphs: bool = True, compile: bool = False,
                 scale: float = 1.0, warmup: int = WARMUP):
        if precision not in PRECISIONS:
            raise OptionError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if not 0.05 <= scale <= 4:
            raise OptionError(f"scale must be between 0.05 and 4, got {scale}")
        self.dtype = PRECISIONS[precision]
        self.graphs, self.compile, self.scale, self.warmup = graphs, compile, scale, warmup
        self.status: dict[str, str] = {}  # "WxH" -> "graph" or "eager: why"
        self._calls: dict[tuple, int] = {}
        self._captured: dict[tuple, _Graph | None] = {}  # None: capture failed, stays eager
        self._compiled: dict[int, torch.nn.Module] = {}
        self._pool = None

    def prepare(self, net: torch.nn.Module) -> torch.nn.Module:
        """Ready a net once: channels_last weights."""
        return net.to(memory_format=torch.channels_last)

    def __call__(self, net: torch.nn.Module, content: torch.Tensor, style=None) -> torch.Tensor:
        if not self.graphs or normstats.active():
            return self.forward(net, content, style)
        leaves = style_leaves(style)
        key = (id(net), tuple(content.shape), tuple(tuple(t.shape) for t in leaves))
        if key not in self._captured:
            self._calls[key] = calls = self._calls.get(key, 0) + 1
            if calls <= self.warmup:
                return self.forward(net, content, style)
            self._captured[key] = self._capture(net, content, style)
        graph = self._captured[key]
        if graph is None:
            return self.forward(net, content, style)
        graph.content.copy_(content)
        for static, leaf in zip(graph.style, leaves, strict=True):
            static.copy_(leaf)
        graph.graph.replay()
        return graph.output.clone()  # the next replay overwrites the static output

    def forward(self, net: torch.nn.Module, content: torch.Tensor, style=None) -> torch.Tensor:
        """One eager pass: resize, autocast, channels_last; float32 1x3xHxW in [0,1] at content's size."""
        call = self._net(net)
        height, width = content.shape[-2:]
        x = content
        if self.scale != 1.0:
            size = (max(8, round(height * self.scale)), max(8, round(width * self.scale)))
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=self.scale < 1)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cuda", dtype=self.dtype, enabled=self.dtype != torch.float32, cache_enabled=False):
            y = call(x * 255).div(255) if style is None else call(x, style)  # fast nets take and give 0-255
        y = y.float()
        if tuple(y.shape[-2:]) != (height, width):
            y = F.interpolate(y, size=(height, width), mode="bilinear", align_corners=False)
        return y.clamp_(0, 1)

    def _net(self, net: torch.nn.Module):
        if not self.compile:
            return net
        if id(net) not in self._compiled:
            self._compiled[id(net)] = torch.compile(net, dynamic=False)
        return self._compiled[id(net)]

    def _capture(self, net, content: torch.Tensor, style) -> _Graph | None:
        shape = f"{content.shape[-1]}x{content.shape[-2]}"
        static_content = content.clone()
        static_leaves = [t.clone() for t in style_leaves(style)]
        static_style = rebuilt(style, iter(static_leaves))
        graph = torch.cuda.CUDAGraph()
        if self._pool is None:
            self._pool = torch.cuda.graph_pool_handle()
        try:
            # thread_local: the upload and download threads keep calling CUDA while this thread captures
            with torch.cuda.graph(graph, pool=self._pool, capture_error_mode="thread_local"):
                output = self.forward(net, static_content, static_style)
        except Exception as exc:  # any capture failure leaves this shape eager; the frames go on
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.status[shape] = f"eager: graph capture failed ({reason})"
            log.warning("stylize: CUDA graph capture failed at %s, running it eagerly: %s", shape, reason)
            return None
        self.status[shape] = "graph"
        return _Graph(graph, static_content, static_leaves, output)
