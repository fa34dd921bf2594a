"""The backends: one table of every way to run a net behind the Engine interface.

    backends.names()                    # ("auto", "torch", "onnxruntime", "tensorrt")
    backends.missing("tensorrt")        # None when usable here, else one line saying what to install
    engine = backends.create("auto")    # the fastest backend present; backends.label(engine) says which

Each backend is a name, a one-line summary, a check of what it needs, and a
constructor (threads, nets) -> Engine. `auto` picks, on a CUDA machine,
TensorRT > torch CUDA > ONNX Runtime CUDA; on the CPU it picks CPU_AUTO, the
faster of torch and ONNX Runtime for the default net as measured (the
numbers are beside CPU_AUTO).
Heavy packages (onnxruntime, tensorrt) are imported only when a backend is
checked or built.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Callable

import torch

from stylize.errors import OptionError
from stylize.realtime.engines import Engine, TorchEngine

AUTO = "auto"
# The faster CPU backend for the default net with 2 threads, interleaved in one run: onnxruntime / torch
# fps 0.903 at 640x480 and 1.031 at 1280x720 (bench/results/int8_student_t2.json; separate runs agree:
# torch 31.0, onnxruntime 28.4 fps in speed_student_{torch,onnxruntime}_640x480_t2.json).
CPU_AUTO = "torch"
TENSORRT_EXTRA = 'pip install "stylize[tensorrt]"'
# ONNX Runtime's GPU providers, best first; the CPU provider closes every list.
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")
CPU_PROVIDER = "CPUExecutionProvider"

Nets = dict[str, torch.nn.Module] | None


@dataclass(frozen=True)
class Backend:
    name: str
    summary: str
    missing: Callable[[], str | None]  # None when it can run here, else why not, in one line
    build: Callable[[int | None, Nets], Engine]  # (threads, nets) -> an engine; threads: CPU threads or None


def cuda_available() -> bool:
    return torch.cuda.is_available()


def ort_providers() -> list[str]:
    """The ONNX Runtime providers to ask for, best first: GPU ones only when this build has them and a GPU is
    here (a CPU-only torch cannot tell, so ORT's own list decides then), and always the CPU one last."""
    import onnxruntime

    present = onnxruntime.get_available_providers()
    return [p for p in GPU_PROVIDERS if p in present] + [CPU_PROVIDER]


def _ort_missing() -> str | None:
    if importlib.util.find_spec("onnxruntime") is None:
        return "the onnxruntime backend needs ONNX Runtime: pip install onnxruntime"
    return None


def _tensorrt_missing() -> str | None:
    if importlib.util.find_spec("tensorrt") is None:
        return f"the tensorrt backend needs TensorRT: {TENSORRT_EXTRA}"
    if not cuda_available():
        return "the tensorrt backend needs an NVIDIA GPU with CUDA, and none is visible to torch"
    return None


def _torch(threads: int | None, nets: Nets) -> Engine:
    return TorchEngine("cuda" if cuda_available() else "cpu", nets=nets)


def _onnxruntime(threads: int | None, nets: Nets) -> Engine:
    from stylize.realtime.onnx_engine import OnnxEngine

    return OnnxEngine(threads=threads, providers=ort_providers(), nets=nets)


def _tensorrt(threads: int | None, nets: Nets) -> Engine:
    from stylize.realtime.tensorrt_engine import TensorRTEngine

    return TensorRTEngine(nets=nets)


BACKENDS: dict[str, Backend] = {b.name: b for b in (
    Backend("torch", "PyTorch, on CUDA when available, else the CPU", lambda: None, _torch),
    Backend("onnxruntime", "ONNX Runtime over the exported graph: TensorRT or CUDA providers when present, "
                           "else the CPU", _ort_missing, _onnxruntime),
    Backend("tensorrt", "a native TensorRT engine built from the exported graph (NVIDIA GPUs)",
            _tensorrt_missing, _tensorrt),
)}


def names() -> tuple[str, ...]:
    """Every backend name a user may give, `auto` first."""
    return (AUTO, *BACKENDS)


def get(name: str) -> Backend:
    try:
        return BACKENDS[name]
    except KeyError:
        raise OptionError(f"unknown backend {name!r}; choose from {', '.join(names())}") from None


def missing(name: str) -> str | None:
    """Why `name` cannot run here (one line), or None when it can."""
    return get(name).missing()


def available() -> list[str]:
    """The backends that can run here."""
    return [name for name, backend in BACKENDS.items() if backend.missing() is None]


def auto_choice() -> str:
    """What `auto` means on this machine (see the module notes for the order)."""
    if cuda_available():
        return "tensorrt" if missing("tensorrt") is None else "torch"
    if missing("onnxruntime") is None and any(p in GPU_PROVIDERS for p in ort_providers()):
        return "onnxruntime"
    return CPU_AUTO


def create(name: str = AUTO, threads: int | None = None, nets: Nets = None) -> Engine:
    """An engine for backend `name` (or the one `auto` picks); OptionError when it cannot run here."""
    chosen = auto_choice() if name == AUTO else name
    reason = missing(chosen)
    if reason is not None:
        raise OptionError(reason)
    return get(chosen).build(threads, nets)


def label(engine: Engine) -> str:
    """The backend and where it runs, e.g. "torch cpu", "onnxruntime CPUExecutionProvider"."""
    where = getattr(engine, "provider", None)
    if where is None:
        device = getattr(engine, "device", None)
        where = device.type if device is not None else None
    text = f"{engine.backend} {where}" if where else engine.backend
    if getattr(engine, "precision", "fp32") != "fp32":
        text += f" {engine.precision}"
    return text
