"""The ONNX Runtime engine: the realtime Engine interface over exported graphs.

Styles are computed once in torch when a look is set (the same `net.style`
as TorchEngine) and kept as numpy graph inputs; a frame then costs one
session run. Graphs come from the user cache (export/onnx.py), so a net is
exported and parity-checked once per set of weights.

Controls, against TorchEngine:
* alpha: exact for AdaIN and the student (a graph input). For AesFA and the
  fast nets the pictures are blended, as TorchEngine does for fast nets;
  torch's AesFA instead fades the kernels towards the frame's own style.
* preserve_color and the mask: the same operations as TorchEngine.
* crossfade_ms: looks of the same arbitrary net fade through their style
  inputs (one run per frame, exact for single-image looks); otherwise both
  looks run and their pictures blend.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np
import torch

from stylize.export import onnx as onnx_export
from stylize.models import zoo
from stylize.realtime.engines import CrossfadingEngine, Look, look_style, recolor

# The input that carries alpha in AdaIN and student graphs; for other graphs alpha blends pixels.
_ALPHA_INPUT = "alpha"


@dataclass
class _Prepared:
    look: Look
    method: str
    feeds: dict[str, np.ndarray]  # the style's graph inputs; empty for a fast net


def frame_to_input(frame: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB → 1,3,H,W float32 in [0,1]."""
    return np.ascontiguousarray(frame.transpose(2, 0, 1)[None], dtype=np.float32) * np.float32(1 / 255)


def output_to_frame(output: np.ndarray) -> np.ndarray:
    """1,3,H,W float in [0,1] → HxWx3 uint8 RGB, rounded like tensor_to_frame.

    OpenCV's saturating conversion is ~20x faster than numpy's clip/round/cast
    at 640x480 (0.1 ms vs 2-5 ms, a tenth of the student's frame budget). Its
    absolute value never acts: graphs clamp to [0,1], and every blend
    applied after them stays inside it.
    """
    return cv2.merge([cv2.convertScaleAbs(plane, alpha=255) for plane in output[0]])


class OnnxEngine(CrossfadingEngine):
    """Fast nets and arbitrary-style nets through ONNX Runtime (CPU by default)."""

    backend = "onnxruntime"

    def __init__(self, threads: int | None = None, providers: Sequence[str] | None = None,
                 nets: dict[str, torch.nn.Module] | None = None):
        """threads: ORT intra-op threads (None: one per core). providers: ORT execution providers.
        nets: method name → ready torch net (e.g. built in memory); others load from registered weights.
        """
        super().__init__()
        self.threads = threads
        self.providers = list(providers or ["CPUExecutionProvider"])
        self._nets: dict[str, torch.nn.Module] = {name: net.eval() for name, net in (nets or {}).items()}
        self._sessions: dict[tuple, object] = {}

    # ------------------------------------------------------------- nets --
    def _net(self, method: str) -> torch.nn.Module:
        if method not in self._nets:
            self._nets[method] = zoo.load(method)
        return self._nets[method]

    def _session(self, method: str, height: int, width: int):
        net = self._net(method)
        # Fixed-size graphs (Engstrom) need one export per frame size.
        key = (method,) if onnx_export.is_dynamic(method) else (method, height, width)
        if key not in self._sessions:
            self._sessions[key] = onnx_export.cached_session(method, net=net, size=(height, width),
                                                             threads=self.threads, providers=self.providers)
        return self._sessions[key]

    # ------------------------------------------------------------ looks --
    @torch.inference_mode()
    def _build(self, look: Look) -> _Prepared:
        style = look_style(look, self._net(look.method))
        return _Prepared(look, look.method, onnx_export.style_feeds(None if look.is_fast_net else style))

    def _interpolated(self, source: _Prepared, target: _Prepared, t: float) -> _Prepared:
        return _Prepared(target.look, target.method, _lerp_feeds(source.feeds, target.feeds, t))

    @staticmethod
    def _interpolates(a: _Prepared, b: _Prepared) -> bool:
        return a.method == b.method and bool(a.feeds) and bool(b.feeds)

    # ----------------------------------------------------------- frames --
    def _render(self, method: str, content: np.ndarray, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """One look on content (1,3,H,W float32) at the current alpha."""
        session = self._session(method, *content.shape[-2:])
        alpha_is_input = _ALPHA_INPUT in feeds
        if alpha_is_input:
            feeds = {**feeds, _ALPHA_INPUT: np.array([self.alpha], dtype=np.float32)}
        stylized = onnx_export.run_session(session, content, feeds)
        if not alpha_is_input and self.alpha != 1.0:
            stylized = content + self.alpha * (stylized - content)
        return stylized

    def __call__(self, frame: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        if self._current is None:
            raise RuntimeError("set_style() must be called before stylizing")
        content = frame_to_input(frame)
        current = self._current
        t = self._fade_position()
        if t is None:
            stylized = self._render(current.method, content, current.feeds)
        elif self._interpolates(self._fade.source, current):
            stylized = self._render(current.method, content, _lerp_feeds(self._fade.source.feeds, current.feeds, t))
        else:
            source = self._fade.source
            before = self._render(source.method, content, source.feeds)
            stylized = before + t * (self._render(current.method, content, current.feeds) - before)
        if self.preserve_color:
            stylized = recolor(torch.from_numpy(stylized), torch.from_numpy(content), self.preserve_color).numpy()
        if mask is not None:
            weight = mask.astype(np.float32)[None, None]
            stylized = content + weight * (stylized - content)
        return output_to_frame(stylized)


def _lerp_feeds(a: dict[str, np.ndarray], b: dict[str, np.ndarray], t: float) -> dict[str, np.ndarray]:
    """Style inputs from a (t=0) to b (t=1); every style input is affine in the look, so this is a style fade."""
    return {name: (a[name] + np.float32(t) * (b[name] - a[name])).astype(np.float32) for name in b}
