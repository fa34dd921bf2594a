"""Engines: one small interface over every way of running a style net.

An engine turns an RGB uint8 frame into a stylized RGB uint8 frame:

    engine.set_style(look)      # precompute style parameters once
    out = engine(frame)         # HxWx3 uint8 RGB in and out
    engine.submit(frame); out = engine.collect()   # pipelined where possible

Live controls (alpha, colour preservation) are plain attributes that take
effect on the next frame.
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
import torch

from stylize.errors import UserError
from stylize.models import looks, registry, zoo
from stylize.models.color import COLOR_MODES, luminance_only, match_color


@dataclass
class Look:
    """What the picture should look like: a fixed fast net, or style images for an arbitrary net."""

    name: str
    method: str  # a fast-net name, or an arbitrary-style method such as "adain"
    style_images: list[np.ndarray] = field(default_factory=list)  # RGB uint8
    style_weights: list[float] | None = None
    style: object | None = None  # precomputed style parameters, used as they are
    builtin: str | None = None  # a built-in look's name (stylize.models.looks): its style, no images needed

    @property
    def is_fast_net(self) -> bool:
        return registry.is_fast(self.method)


def color_mode(preserve_color: bool | str | None) -> str | None:
    """The colour preservation a `preserve_color` value asks for: None (off), "luminance" or "match"."""
    if preserve_color is None or preserve_color is False:
        return None
    if preserve_color is True:
        return "luminance"
    if preserve_color not in COLOR_MODES:
        raise ValueError(f"preserve_color must be None, False, True or one of {COLOR_MODES}, got {preserve_color!r}")
    return preserve_color


def recolor(stylized: torch.Tensor, content: torch.Tensor, preserve_color: bool | str | None) -> torch.Tensor:
    """Keep the content's colours in a stylized picture (NCHW float in [0,1]).

    "luminance" keeps the stylized luminance under the content's chroma;
    "match" moves the stylized picture's RGB mean and covariance onto the
    content's, so it also works for looks without a style image.
    """
    mode = color_mode(preserve_color)
    if mode is None:
        return stylized
    if mode == "luminance":
        return luminance_only(stylized, content)
    return match_color(stylized, content)


def frame_to_tensor(frame: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(frame)).to(device).permute(2, 0, 1)[None].float().div_(255)


def tensor_to_frame(x: torch.Tensor) -> np.ndarray:
    return x[0].clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


class Engine(ABC):
    backend: str = "?"

    def __init__(self) -> None:
        self.alpha = 1.0
        self.preserve_color: bool | str | None = None  # None/False, True or "luminance", "match"
        self.crossfade_ms = 0.0  # a set_style() after the first fades over this long
        self.look: Look | None = None
        self.clock = time.monotonic  # the crossfade's time base
        self._pending: list[np.ndarray] = []

    @abstractmethod
    def set_style(self, look: Look) -> None:
        """Switch to `look`, precomputing whatever it needs (never per frame).

        With `crossfade_ms` > 0 the picture fades from the previous look over
        that time instead of cutting.
        """

    @abstractmethod
    def __call__(self, frame: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Stylize one RGB uint8 frame; `mask` (HxW float, 1 = stylize) limits where."""

    @property
    def fading(self) -> bool:
        """True while a crossfade between two looks is running."""
        return False

    # Synchronous default; GPU engines overlap transfer and compute instead.
    def submit(self, frame: np.ndarray, mask: np.ndarray | None = None) -> None:
        self._pending.append(self(frame, mask))

    def collect(self) -> np.ndarray:
        return self._pending.pop(0)


class CrossfadingEngine(Engine):
    """The crossfade bookkeeping shared by the real backends.

    A backend says how to prepare a look (`_prepare`), whether two prepared
    looks can fade through their style parameters (`_interpolates`) and how
    (`_interpolated`); its `__call__` renders `self._current`, blending with
    `self._fade.source` while `_fade_position()` is not None.
    """

    def __init__(self) -> None:
        super().__init__()
        self._current = None  # the prepared look on screen (backend-specific)
        self._fade: Crossfade | None = None
        self._prepared: dict[tuple[str, str], object] = {}

    def set_style(self, look: Look) -> None:
        """Switch to `look`, precomputing whatever it needs (never per frame).

        With `crossfade_ms` > 0 the picture fades from the previous look over
        that time instead of cutting.
        """
        target = self._prepare(look)
        if self._current is not None and self.crossfade_ms > 0 and self._current is not target:
            self._fade = Crossfade(self._fade_source(), self.clock(), self.crossfade_ms / 1000)
        else:
            self._fade = None
        self._current = target
        self.look = look

    def _prepare(self, look: Look):
        """The backend's ready-to-run form of `look`, cached so cycling through a look list never recomputes."""
        key = (look.name, look.method)
        cached = self._prepared.get(key)
        if cached is None or cached.look is not look:
            cached = self._prepared[key] = self._build(look)
        return cached

    @abstractmethod
    def _build(self, look: Look):
        """Prepare `look` for this backend: load its net, precompute its style."""

    @abstractmethod
    def _interpolates(self, a, b) -> bool:
        """Whether a fade from prepared look `a` to `b` can interpolate style parameters."""

    @abstractmethod
    def _interpolated(self, source, target, t: float):
        """A prepared look whose style parameters lie `t` of the way from `source` to `target`."""

    def _fade_source(self):
        """What the screen shows now, as the start of a new fade."""
        t = self._fade_position()
        if t is None:
            return self._current
        source, current = self._fade.source, self._current
        if self._interpolates(source, current):
            return self._interpolated(source, current, t)
        return current if t >= 0.5 else source  # a pixel blend can only restart from one end

    def _fade_position(self) -> float | None:
        if self._fade is None:
            return None
        t = (self.clock() - self._fade.started) / self._fade.seconds
        if t >= 1.0:
            self._fade = None
            return None
        return max(0.0, t)

    @property
    def fading(self) -> bool:
        return self._fade_position() is not None


@dataclass
class _Prepared:
    """A look made ready to run: its net and (for arbitrary nets) its precomputed style."""

    look: Look
    net: torch.nn.Module
    style: object | None = None  # the net's style parameters; has .lerp(other, t)


@dataclass
class Crossfade:
    source: object  # the backend's prepared look faded from
    started: float
    seconds: float


def look_style(look: Look, net: torch.nn.Module, device: torch.device | str = "cpu"):
    """The precomputed style of `look` for its arbitrary-style `net`; None for a fast net."""
    if look.is_fast_net:
        return None
    if look.style is not None:
        return look.style
    if look.builtin:
        return looks.style_for(look.builtin, look.method, net)
    if not look.style_images:
        raise UserError(f"method {look.method!r} needs a style image (--style) or a built-in look (--look)")
    return net.style([frame_to_tensor(image, device) for image in look.style_images], look.style_weights)


class TorchEngine(CrossfadingEngine):
    """Fast nets and arbitrary-style nets with torch, on the CPU or a CUDA device.

    Crossfades: between two looks of the same arbitrary net the precomputed
    style parameters are interpolated (one net pass per frame); otherwise
    (fast nets, or mixed methods) both looks run and their pictures blend.
    """

    backend = "torch"

    def __init__(self, device: str = "cpu", nets: dict[str, torch.nn.Module] | None = None):
        """`nets` maps method names to ready nets (e.g. one built in memory); others load from weights."""
        super().__init__()
        self.device = torch.device(device)
        self._nets: dict[str, torch.nn.Module] = {
            name: net.to(self.device).eval() for name, net in (nets or {}).items()}

    def _net(self, method: str) -> torch.nn.Module:
        if method not in self._nets:
            self._nets[method] = zoo.load(method).to(self.device)
        return self._nets[method]

    @torch.inference_mode()
    def _build(self, look: Look) -> _Prepared:
        net = self._net(look.method)
        return _Prepared(look, net, look_style(look, net, self.device))

    def _interpolated(self, source: _Prepared, target: _Prepared, t: float) -> _Prepared:
        return _Prepared(target.look, target.net, source.style.lerp(target.style, t))

    @staticmethod
    def _interpolates(a: _Prepared, b: _Prepared) -> bool:
        return a.style is not None and b.style is not None and a.net is b.net

    def _render(self, prepared: _Prepared, content: torch.Tensor, style=None) -> torch.Tensor:
        """The look applied to `content` at the current alpha, float NCHW in [0,1]."""
        if prepared.style is None:
            stylized = prepared.net(content * 255).div_(255).clamp_(0, 1)
            return torch.lerp(content, stylized, self.alpha)
        return prepared.net(content, style if style is not None else prepared.style, alpha=self.alpha).clamp_(0, 1)

    @torch.inference_mode()
    def __call__(self, frame: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        if self._current is None:
            raise RuntimeError("set_style() must be called before stylizing")
        content = frame_to_tensor(frame, self.device)
        current = self._current
        t = self._fade_position()
        if t is None:
            stylized = self._render(current, content)
        elif self._interpolates(self._fade.source, current):
            stylized = self._render(current, content, self._fade.source.style.lerp(current.style, t))
        else:
            stylized = torch.lerp(self._render(self._fade.source, content), self._render(current, content), t)
        stylized = recolor(stylized, content, self.preserve_color)
        if mask is not None:
            weight = torch.from_numpy(mask.astype(np.float32)).to(self.device)[None, None]
            stylized = torch.lerp(content, stylized, weight)
        return tensor_to_frame(stylized)
