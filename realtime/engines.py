"""Engines: one small interface over every way of running a style net.

An engine turns an RGB uint8 frame into a stylized RGB uint8 frame:

    engine.set_style(look)      # precompute style parameters once
    out = engine(frame)         # HxWx3 uint8 RGB in and out
    engine.submit(frame); out = engine.collect()   # pipelined where possible

Live controls (alpha, colour preservation) are plain attributes that take
effect on the next frame.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
import torch

from stylize.errors import UserError
from stylize.models import weights, zoo
from stylize.models.color import luminance_only


@dataclass
class Look:
    """What the picture should look like: a fixed fast net, or style images for an arbitrary net."""

    name: str
    method: str  # a fast-net name, or an arbitrary-style method such as "adain"
    style_images: list[np.ndarray] = field(default_factory=list)  # RGB uint8
    style_weights: list[float] | None = None

    @property
    def is_fast_net(self) -> bool:
        return self.method in weights.FAST_NETS


def frame_to_tensor(frame: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(frame)).to(device).permute(2, 0, 1)[None].float().div_(255)


def tensor_to_frame(x: torch.Tensor) -> np.ndarray:
    return x[0].clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


class Engine(ABC):
    backend: str = "?"

    def __init__(self) -> None:
        self.alpha = 1.0
        self.preserve_color = False
        self.look: Look | None = None
        self._pending: list[np.ndarray] = []

    @abstractmethod
    def set_style(self, look: Look) -> None:
        """Switch to `look`, precomputing whatever it needs (never per frame)."""

    @abstractmethod
    def __call__(self, frame: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Stylize one RGB uint8 frame; `mask` (HxW float, 1 = stylize) limits where."""

    # Synchronous default; GPU engines overlap transfer and compute instead.
    def submit(self, frame: np.ndarray) -> None:
        self._pending.append(self(frame))

    def collect(self) -> np.ndarray:
        return self._pending.pop(0)


class TorchEngine(Engine):
    backend = "torch"

    def __init__(self, device: str = "cpu"):
        super().__init__()
        self.device = torch.device(device)
        self._nets: dict[str, torch.nn.Module] = {}
        self._style = None

    def _net(self, method: str) -> torch.nn.Module:
        if method not in self._nets:
            if method in weights.FAST_NETS:
                net = zoo.load_fast_net(method)
            else:
                net = zoo.load_arbitrary_net(method)
            self._nets[method] = net.to(self.device).eval()
        return self._nets[method]

    @torch.inference_mode()
    def set_style(self, look: Look) -> None:
        net = self._net(look.method)
        if look.is_fast_net:
            self._style = None
        else:
            if not look.style_images:
                raise UserError(f"method {look.method!r} needs a style image (--style) or a built-in look (--look)")
            images = [frame_to_tensor(image, self.device) for image in look.style_images]
            self._style = net.style(images, look.style_weights)
        self.look = look

    @torch.inference_mode()
    def __call__(self, frame: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        if self.look is None:
            raise RuntimeError("set_style() must be called before stylizing")
        net = self._nets[self.look.method]
        content = frame_to_tensor(frame, self.device)
        if self.look.is_fast_net:
            stylized = net(content * 255).div_(255).clamp_(0, 1)
            stylized = torch.lerp(content, stylized, self.alpha)
        else:
            stylized = net(content, self._style, alpha=self.alpha).clamp_(0, 1)
        if self.preserve_color:
            stylized = luminance_only(stylized, content)
        if mask is not None:
            weight = torch.from_numpy(mask.astype(np.float32)).to(self.device)[None, None]
            stylized = torch.lerp(content, stylized, weight)
        return tensor_to_frame(stylized)
