"""The CPU student: AdaIN with a compact encoder and decoder, no VGG at inference.

The encoder is trained to mimic VGG-19 relu3_1 (feature distillation through a
1x1 `distill_head` that exists only for training) and works at a quarter of
the resolution after two stride-2 convs, which is where almost all of the cost
of AdaIN-r31 goes. No conv runs at full resolution.

Two decoder designs exist; the weights say which one they are:
  - "resize" (shipped): the picture is made at half resolution as RGB and
    upsampled bilinearly, and the convs pad with zeros. A pixel shuffle
    printed a fixed 2-px checkerboard on every output (its four sub-pixel
    channels never agree exactly, most visibly on flat areas); bilinear
    upsampling cannot make one. Zero padding fuses into ONNX Runtime's
    convolutions, where reflect padding is a separate copy of every
    activation. Zeros at every layer drew a line along the picture's edges,
    so the encoder first extends the picture by MARGIN pixels (edge pixels
    repeated: any size works) and the decoder cuts them off again; the
    zeros then fall outside the picture.
  - "shuffle": bilinear x2, then a pixel shuffle, with reflect padding; kept
    so that nets trained that way (distilled looks among them) still load.

Everything else (Style statistics, alpha, several styles, masks, colour
preservation, exact output size) is AdaIN's, inherited from `AdaINNet`.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from stylize.models.adain import AdaINNet

DEFAULT_WIDTHS = (16, 32, 48)
DESIGNS = ("resize", "shuffle")
DEFAULT_DESIGN = "resize"
PADDING = {"resize": "zeros", "shuffle": "reflect"}
SUBPIXELS = 4  # the pixel shuffle's 2x2 output pixels per channel
MARGIN = 16  # pixels; about how far the zero padding of all the layers together reaches in. A multiple of 4.
SCALE = 4  # the encoder's features are at 1/SCALE of the picture
VGG_RELU3_1_CHANNELS = 256
_LAST_DECODER_CONV = "decoder.at_half.2.weight"


def _conv(cin: int, cout: int, design: str, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride, padding=1, padding_mode=PADDING[design])


def _check_design(design: str) -> str:
    if design not in DESIGNS:
        raise ValueError(f"unknown student design {design!r}; choose from {', '.join(DESIGNS)}")
    return design


def margin_of(design: str) -> int:
    """Pixels the design's encoder adds around the picture (and its decoder removes)."""
    return MARGIN if design == "resize" else 0


class StudentEncoder(nn.Sequential):
    """RGB [0,1] → features at 1/4 resolution with `widths[-1]` channels (and the design's margin around)."""

    def __init__(self, widths: Sequence[int] = DEFAULT_WIDTHS, design: str = DEFAULT_DESIGN):
        a, b, c = widths
        d = _check_design(design)
        super().__init__(_conv(3, a, d, 2), nn.ReLU(), _conv(a, b, d, 2), nn.ReLU(), _conv(b, c, d), nn.ReLU())
        self.margin = margin_of(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.margin:
            x = F.pad(x, (self.margin,) * 4, mode="replicate")
        return super().forward(x)

    def trim(self, features: torch.Tensor) -> torch.Tensor:
        """The features of the picture itself, without the margin's."""
        m = self.margin // SCALE
        return features[..., m:features.shape[-2] - m, m:features.shape[-1] - m] if m else features


class StudentDecoder(nn.Module):
    """Features at 1/4 resolution → RGB at (at least) the encoder's input size."""

    def __init__(self, widths: Sequence[int] = DEFAULT_WIDTHS, design: str = DEFAULT_DESIGN):
        super().__init__()
        a, b, c = widths
        self.design = d = _check_design(design)
        self.margin = margin_of(d)
        rgb_channels = 3 if d == "resize" else 3 * SUBPIXELS
        self.at_quarter = nn.Sequential(_conv(c, b, d), nn.ReLU())
        self.at_half = nn.Sequential(_conv(b, a, d), nn.ReLU(), _conv(a, rgb_channels, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.at_half(_twice(self.at_quarter(x)))
        if self.design == "shuffle":
            return F.pixel_shuffle(x, 2)
        # The top-left margin goes; callers cut the bottom-right to the picture's size.
        return _twice(x)[..., self.margin:, self.margin:]


def _twice(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def widths_of(state: Mapping[str, torch.Tensor]) -> tuple[int, int, int]:
    """The channel widths of the student whose (encoder) weights these are."""
    return tuple(state[f"encoder.{index}.weight"].shape[0] for index in (0, 2, 4))


def design_of(state: Mapping[str, torch.Tensor]) -> str:
    """The decoder design of the student whose weights these are (the last conv's outputs tell)."""
    return "shuffle" if state[_LAST_DECODER_CONV].shape[0] == 3 * SUBPIXELS else "resize"


class StudentNet(AdaINNet):
    """AdaIN over the compact encoder/decoder; same API as `AdaINNet`."""

    def __init__(self, widths: Sequence[int] = DEFAULT_WIDTHS, design: str = DEFAULT_DESIGN):
        nn.Module.__init__(self)  # AdaINNet's VGG depth check does not apply here
        self.widths = tuple(widths)
        self.design = design
        self.encoder = StudentEncoder(widths, design)
        self.decoder = StudentDecoder(widths, design)
        # Maps student features onto VGG relu3_1 during training only.
        self.distill_head = nn.Conv2d(widths[-1], VGG_RELU3_1_CHANNELS, 1)

    def stylize_features(self, content_feat: torch.Tensor, style, alpha: float = 1.0,
                         mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is not None and self.encoder.margin:
            # The mask covers the picture; the features also cover the margin around it.
            m = self.encoder.margin // SCALE
            inner = (content_feat.shape[-2] - 2 * m, content_feat.shape[-1] - 2 * m)
            mask = F.interpolate(mask.to(content_feat), size=inner, mode="bilinear", align_corners=False)
            mask = F.pad(mask, (m,) * 4, mode="replicate")
        return super().stylize_features(content_feat, style, alpha, mask)

    def inference_state_dict(self) -> dict[str, torch.Tensor]:
        """The weights needed to stylize (no distillation head)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("distill_head.")}

    @classmethod
    def from_inference_state_dict(cls, state: dict[str, torch.Tensor]) -> "StudentNet":
        net = cls(widths_of(state), design_of(state))
        net.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
        missing = set(net.inference_state_dict()) - set(state)
        if missing:
            raise ValueError(f"student weights lack {sorted(missing)[:3]}…")
        return net
