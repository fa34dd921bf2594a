"""Where and in which precision a run trains."""
from __future__ import annotations

import torch

from stylize.errors import OptionError


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise OptionError(f"--device {name}: CUDA is not available in this torch build / machine")
    return torch.device(name)


def use_bf16(precision: str, device: torch.device) -> bool:
    """bf16 autocast on CUDA, and on CPUs with native bf16 dot products (about 1.5-2x faster here)."""
    if precision in ("bf16", "fp32"):
        return precision == "bf16"
    if device.type == "cuda":
        return True
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
