"""The ONNX Runtime engine: the realtime Engine hooks over exported graphs.

Styles are computed once in torch when a look is set (the same `net.style`
as TorchEngine) and kept as numpy graph inputs; a frame then costs one
session run. Graphs come from the user cache (export/onnx.py), so a net is
exported and parity-checked once per set of weights. Alpha, colour, mask and
crossfades are the base Engine's, as for TorchEngine; graphs that take an
alpha input are run at 1.

With a GPU provider first (TensorRT or CUDA, from onnxruntime-gpu) and CUDA
in torch, frames live in torch CUDA tensors and the session reads and writes
them in place through IO binding, so the blends stay on the GPU and only the
uint8 frame crosses the bus. `provider` names the provider the session
actually runs on (ORT falls back to the CPU when a GPU provider cannot start).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from stylize.export import onnx as onnx_export
from stylize.models import zoo
from stylize.realtime.engines import Engine, Look, TorchEngine, look_style
from stylize.realtime.backends import CPU_PROVIDER, GPU_PROVIDERS
from stylize.tensors import array_to_frame, frame_to_array, frame_to_tensor, tensor_to_frame


@dataclass
class _Prepared:
    look: Look
    method: str
    feeds: dict[str, np.ndarray]  # the style's graph inputs (alpha at 1); empty for a fast net


class OnnxEngine(Engine):
    """Fast nets and arbitrary-style nets through ONNX Runtime (CPU by default)."""

    backend = "onnxruntime"

    def __init__(self, threads: int | None = None, providers: Sequence[str] | None = None,
                 nets: dict[str, torch.nn.Module] | None = None, depth: int | None = None,
                 precision: str = "fp32", calibration: Sequence[str | os.PathLike] = ()):
        """threads: ORT intra-op threads (None: one per core). providers: ORT execution providers.
        nets: method name → ready torch net (e.g. built in memory); others load from registered weights.
        depth: frames in flight on the async path (default 2 when a GPU provider leads, else 1).
        precision: the graphs' (export/onnx.py PRECISIONS); int8 is calibrated on the `calibration` photos.
        """
        self.providers = list(providers or [CPU_PROVIDER])
        on_gpu = self.providers[0] in GPU_PROVIDERS and torch.cuda.is_available()
        self.device = torch.device("cuda" if on_gpu else "cpu")
        super().__init__(depth or (2 if on_gpu else 1))
        self.threads = threads
        self.precision = precision
        self._variant = {"precision": precision, "calibration": tuple(calibration)}
        self._nets: dict[str, torch.nn.Module] = {name: net.eval() for name, net in (nets or {}).items()}
        self._sessions: dict[tuple, object] = {}
        self.spinning = True  # ORT's default: its threads spin between ops, the fastest when nothing else runs

    def share_cores(self) -> None:
        # Spinning threads keep both cores busy between frames. At 640x480 with the smoother on its own
        # thread, it cost 28-31 % of the student's fps with spinning and 18 % without (README "Flicker").
        self.spinning = False

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
                                                             threads=self.threads, providers=self.providers,
                                                             spinning=self.spinning, **self._variant)
        return self._sessions[key]

    @property
    def provider(self) -> str:
        """The execution provider the latest session runs on (the first asked for, before any session)."""
        for session in reversed(self._sessions.values()):
            return session.get_providers()[0]
        return self.providers[0]

    def torch_engine(self) -> TorchEngine:
        """A CPU torch engine over the same nets, with this engine's controls: for what a graph cannot do
        (tiles that replay the whole picture's normalisation statistics)."""
        engine = TorchEngine(nets=self._nets)
        engine.alpha, engine.preserve_color = self.alpha, self.preserve_color
        return engine

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
    def _upload(self, frame: np.ndarray):
        if self.device.type == "cuda":
            return frame_to_tensor(frame, self.device)
        return frame_to_array(frame)

    def _upload_mask(self, mask: np.ndarray):
        if self.device.type == "cuda":
            return torch.from_numpy(mask.astype(np.float32)).to(self.device)[None, None]
        return super()._upload_mask(mask)

    def _run(self, prepared: _Prepared, content):
        session = self._session(prepared.method, *content.shape[-2:])
        if isinstance(content, torch.Tensor):
            return run_bound(session, content, prepared.feeds)
        return onnx_export.run_session(session, content, prepared.feeds)

    def _download(self, output) -> np.ndarray:
        if isinstance(output, torch.Tensor):
            return tensor_to_frame(output)
        # Graphs clamp to [0,1] and the base class only blends such outputs: the one-pass conversion applies.
        return array_to_frame(output, in_range=True)


def run_bound(session, content: torch.Tensor, feeds: dict[str, np.ndarray]) -> torch.Tensor:
    """One session run with the frame and the output in torch CUDA memory, bound in place (no host copies
    of the picture); the small style inputs are bound from the host."""
    content = content.contiguous()
    output = torch.empty_like(content)  # every graph returns exactly its input's shape
    device = content.device.index or 0
    binding = session.io_binding()
    binding.bind_input(onnx_export.CONTENT, "cuda", device, np.float32, tuple(content.shape), content.data_ptr())
    wanted = {i.name for i in session.get_inputs()}
    for name, value in feeds.items():
        if name in wanted:
            binding.bind_cpu_input(name, value)
    binding.bind_output(onnx_export.OUTPUT, "cuda", device, np.float32, tuple(output.shape), output.data_ptr())
    # ORT runs on its own CUDA stream: finish torch's work on `content` first.
    torch.cuda.current_stream(content.device).synchronize()
    session.run_with_iobinding(binding)
    return output


def _lerp_feeds(a: dict[str, np.ndarray], b: dict[str, np.ndarray], t: float) -> dict[str, np.ndarray]:
    """Style inputs from a (t=0) to b (t=1); every style input is affine in the look, so this is a style fade."""
    return {name: (a[name] + np.float32(t) * (b[name] - a[name])).astype(np.float32) for name in b}
