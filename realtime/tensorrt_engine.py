"""The native TensorRT engine: the realtime Engine hooks over TensorRT engines built from the ONNX graphs.

Looks are prepared exactly as for the ONNX Runtime engine (the style in
torch once, then plain graph inputs), so this class only swaps the session:
frames are torch CUDA tensors, and each run binds their addresses into a
TensorRT execution context (`set_tensor_address`) and enqueues it on torch's
current CUDA stream (`execute_async_v3`), so no host copy and no sync sits
between the upload, the run and the blends. Engines are built once per GPU
model, TensorRT version and graph (export/tensorrt.py).

Written against the TensorRT 10 API and not run here (see the README's
"Export" section): nothing stylize is developed on has TensorRT and a GPU.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from stylize.errors import UserError
from stylize.export import onnx as onnx_export
from stylize.export import tensorrt as trt_export
from stylize.realtime.onnx_engine import OnnxEngine


class TensorRTRunner:
    """One deserialized TensorRT engine and its execution context, run on torch CUDA tensors."""

    def __init__(self, path, profiles: Sequence[trt_export.Profile]):
        trt = trt_export.import_tensorrt()
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self._engine = self._runtime.deserialize_cuda_engine(path.read_bytes())
        if self._engine is None:
            raise UserError(f"{path}: TensorRT cannot load this engine (built by another version?)")
        self._context = self._engine.create_execution_context()
        self.profiles = list(profiles)
        self._profile = 0
        self._inputs = {self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)
                        if self._engine.get_tensor_mode(self._engine.get_tensor_name(i)) == trt.TensorIOMode.INPUT}

    def __call__(self, content: torch.Tensor, feeds: dict[str, np.ndarray]) -> torch.Tensor:
        content = content.contiguous()
        stream = torch.cuda.current_stream(content.device).cuda_stream
        profile = trt_export.choose_profile(self.profiles, *content.shape[-2:])
        if profile != self._profile:
            self._context.set_optimization_profile_async(profile, stream)
            self._profile = profile
        self._context.set_input_shape(onnx_export.CONTENT, tuple(content.shape))
        self._context.set_tensor_address(onnx_export.CONTENT, content.data_ptr())
        # The style inputs are a few KB: uploaded per run, they follow a crossfade's every step. torch's
        # allocator is stream-ordered, so they live until this stream has used them.
        style = {name: torch.from_numpy(value).to(content.device, non_blocking=True)
                 for name, value in feeds.items() if name in self._inputs}
        for name, tensor in style.items():
            self._context.set_tensor_address(name, tensor.data_ptr())
        output = torch.empty_like(content)  # every graph returns exactly its input's shape
        self._context.set_tensor_address(onnx_export.OUTPUT, output.data_ptr())
        if not self._context.execute_async_v3(stream):
            raise UserError(f"TensorRT failed on a {content.shape[-1]}x{content.shape[-2]} frame")
        return output


class TensorRTEngine(OnnxEngine):
    """Every registered net through native TensorRT engines (fp16 by default) on the current CUDA device."""

    backend = "tensorrt"

    def __init__(self, nets: dict[str, torch.nn.Module] | None = None, fp16: bool = True,
                 profiles: str = trt_export.DEFAULT_PROFILES, depth: int = 2):
        """profiles: the frame sizes to tune for (export/tensorrt.py parse_profiles); larger frames fail."""
        trt_export.import_tensorrt()
        trt_export.gpu_name()  # refuses without a GPU, before any net loads
        super().__init__(nets=nets, depth=depth)
        self.device = torch.device("cuda")
        self.fp16 = fp16
        self._profiles = trt_export.parse_profiles(profiles)

    @property
    def provider(self) -> str:
        return f"cuda {'fp16' if self.fp16 else 'fp32'}"

    def _session(self, method: str, height: int, width: int) -> TensorRTRunner:
        key = (method,) if onnx_export.is_dynamic(method) else (method, height, width)
        if key not in self._sessions:
            path, profiles = trt_export.cached_engine(method, self._net(method), fp16=self.fp16,
                                                      profiles=self._profiles, size=(height, width))
            self._sessions[key] = TensorRTRunner(path, profiles)
        return self._sessions[key]

    def _run(self, prepared, content: torch.Tensor) -> torch.Tensor:
        return self._session(prepared.method, *content.shape[-2:])(content, prepared.feeds)
