"""Person segmentation: MediaPipe Selfie Segmentation (ONNX) in ONNX Runtime.

The model takes the whole frame resized (not cropped) to 256x256, NHWC RGB
in [0,1], and gives the probability of "person" per pixel at 256x256, which
is resized back to the frame. It costs a few milliseconds on two CPU threads,
so it runs beside the style net rather than in front of it (see pipeline.py).
The file is registered in models/weights.py and hash-checked before it is used.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import cv2
import numpy as np

from stylize.errors import InputError, WeightsError
from stylize.models import weights

MODEL = "selfie_segmentation"  # its name in the weights registry
SIDE = 256  # the model's input and output size
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def model_path(explicit: str | os.PathLike | None = None) -> Path:
    """The segmentation model's file: found, or downloaded; else one WeightsError saying where it looked."""
    spec = weights.spec_for(MODEL)
    found = weights.find(MODEL, explicit)
    if found is not None:
        return found
    try:
        return weights.resolve(MODEL, explicit)  # the download
    except WeightsError:
        looked = ", ".join(str(path) for _, path in weights.candidates(spec, explicit))
        raise WeightsError(
            f"person masks need the segmentation model {Path(spec.file).name}, which is not in {looked} and could "
            f"not be downloaded from {spec.url}; fetch it with `stylize weights fetch {MODEL}` or set "
            f"STYLIZE_WEIGHTS to a folder holding {spec.file}") from None


def providers_for(device: str) -> list[str]:
    """ONNX Runtime providers for an engine on `device`: CUDA first where onnxruntime-gpu offers it."""
    import onnxruntime

    if device == "cuda" and CUDA in onnxruntime.get_available_providers():
        return [CUDA, CPU]
    return [CPU]


class PersonSegmenter:
    """Call with an HxWx3 uint8 RGB frame; returns HxW float32, the probability that each pixel is a person.

    `threads`: ONNX Runtime's intra-op threads on the CPU. `device`: "cuda"
    runs the model on the GPU when onnxruntime-gpu is installed (else the CPU);
    `provider` says which ("CUDA" or "CPU").
    """

    def __init__(self, threads: int = 2, device: str = "cpu", path: str | os.PathLike | None = None):
        import onnxruntime

        spec = weights.spec_for(MODEL)
        found = model_path(path)
        model = found.read_bytes()
        if hashlib.sha256(model).hexdigest() != spec.sha256:
            raise WeightsError(f"{found} is not the registered {MODEL} model (sha256 differs); refusing to use it")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle pool threads sleep instead of spinning: the style net needs those cores between two masks.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(model, options, providers=providers_for(device))
        self._input = self._session.get_inputs()[0].name
        self.provider = "CUDA" if self._session.get_providers()[0] == CUDA else "CPU"
        self.threads = threads

    def describe(self) -> str:
        """Where the model runs, for reports and the HUD."""
        return "onnxruntime CUDA" if self.provider == "CUDA" else f"onnxruntime CPU, {self.threads} threads"

    def probabilities(self, rgb: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        """The person probability at `size` (width, height; default the frame's), float32 in [0,1]."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise InputError(f"segmentation needs an HxWx3 uint8 RGB frame, got {rgb.dtype} {rgb.shape}")
        height, width = rgb.shape[:2]
        small = cv2.resize(rgb, (SIDE, SIDE), interpolation=cv2.INTER_AREA)
        batch = (small.astype(np.float32) * np.float32(1 / 255))[None]
        (out,) = self._session.run(None, {self._input: batch})
        probability = np.ascontiguousarray(out[0, :, :, 0], dtype=np.float32)
        resized = cv2.resize(probability, size or (width, height), interpolation=cv2.INTER_LINEAR)
        return np.clip(resized, 0.0, 1.0, out=resized)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        return self.probabilities(rgb)
