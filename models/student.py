"""The CPU student: AdaIN with a compact encoder and decoder, no VGG at inference.

The encoder is trained to mimic VGG-19 relu3_1 (feature distillation through a
1x1 `distill_head` that exists only for training) and works at a quarter of
the resolution after two stride-2 convs, which is where almost all of the cost
of AdaIN-r31 goes. The decoder upsamples once bilinearly and once by a pixel
shuffle, so no conv ever runs at full resolution. (Nearest upsampling left
visible 4-px blocks. A full-resolution conv instead of the pixel shuffle
cost 40% more time in ONNX Runtime at 640x480; bilinear costs nothing.)

Everything else (Style statistics, alpha, several styles, masks, colour
preservation, exact output size) is AdaIN's, inherited from `AdaINNet`.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from stylize.models.adain import AdaINNet

DEFAULT_WIDTHS = (16, 32, 64)
VGG_RELU3_1_CHANNELS = 256


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride, padding=1, padding_mode="reflect")


class StudentEncoder(nn.Sequential):
    """RGB [0,1] → features at 1/4 resolution with `widths[-1]` channels."""

    def __init__(self, widths: Sequence[int] = DEFAULT_WIDTHS):
        a, b, c = widths
        super().__init__(_conv(3, a, 2), nn.ReLU(), _conv(a, b, 2), nn.ReLU(), _conv(b, c), nn.ReLU())


class StudentDecoder(nn.Module):
    def __init__(self, widths: Sequence[int] = DEFAULT_WIDTHS):
        super().__init__()
        a, b, c = widths
        self.at_quarter = nn.Sequential(_conv(c, b), nn.ReLU())
        self.at_half = nn.Sequential(_conv(b, a), nn.ReLU(), _conv(a, 3 * 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(self.at_quarter(x), scale_factor=2, mode="bilinear", align_corners=False)
        return F.pixel_shuffle(self.at_half(x), 2)


class StudentNet(AdaINNet):
    """AdaIN over the compact encoder/decoder; same API as `AdaINNet`."""

    def __init__(self, widths: Sequence[int] = DEFAULT_WIDTHS):
        nn.Module.__init__(self)  # AdaINNet's VGG depth check does not apply here
        self.widths = tuple(widths)
        self.encoder = StudentEncoder(widths)
        self.decoder = StudentDecoder(widths)
        # Maps student features onto VGG relu3_1 during training only.
        self.distill_head = nn.Conv2d(widths[-1], VGG_RELU3_1_CHANNELS, 1)

    def inference_state_dict(self) -> dict[str, torch.Tensor]:
        """The weights needed to stylize (no distillation head)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("distill_head.")}

    @classmethod
    def from_inference_state_dict(cls, state: dict[str, torch.Tensor]) -> "StudentNet":
        widths = (state["encoder.0.weight"].shape[0], state["encoder.2.weight"].shape[0],
                  state["encoder.4.weight"].shape[0])
        net = cls(widths)
        net.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
        missing = set(net.inference_state_dict()) - set(state)
        if missing:
            raise ValueError(f"student weights lack {sorted(missing)[:3]}…")
        return net
