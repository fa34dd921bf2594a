"""Fast per-look feed-forward nets (one net = one painting).

Both nets take RGB in 0-255 (NCHW float) and return RGB in 0-255, unclamped;
`stylize_uint8` style callers clamp and round.

* `JohnsonNet` loads pytorch/examples `fast_neural_style` checkpoints unchanged.
* `EngstromNet` is Engstrom's TensorFlow fast-style-transfer with its TF quirks:
  zero 'SAME' padding, bias-free convs, instance norm with eps 1e-3 and
  stride-2 transposed convs cropped to exactly twice the input size.

Every instance norm takes its statistics through models/normstats.py, so the
tiles of a big picture can be normalised with the whole picture's.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from stylize.models import normstats


# ---------------------------------------------------------------- Johnson --
class _ReflectConv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, upsample: int | None = None):
        super().__init__()
        self.upsample = upsample
        self.pad = nn.ReflectionPad2d(kernel // 2)
        self.conv2d = nn.Conv2d(cin, cout, kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=self.upsample, mode="nearest")
        return self.conv2d(self.pad(x))


class _JohnsonResidual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = _ReflectConv(channels, channels, 3)
        self.in1 = normstats.InstanceNorm2d(channels, affine=True)
        self.conv2 = _ReflectConv(channels, channels, 3)
        self.in2 = normstats.InstanceNorm2d(channels, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.in1(self.conv1(x)))
        return x + self.in2(self.conv2(y))


class JohnsonNet(nn.Module):
    """Johnson et al. TransformerNet with the pytorch/examples key names."""

    def __init__(self):
        super().__init__()
        self.conv1 = _ReflectConv(3, 32, 9)
        self.in1 = normstats.InstanceNorm2d(32, affine=True)
        self.conv2 = _ReflectConv(32, 64, 3, stride=2)
        self.in2 = normstats.InstanceNorm2d(64, affine=True)
        self.conv3 = _ReflectConv(64, 128, 3, stride=2)
        self.in3 = normstats.InstanceNorm2d(128, affine=True)
        for i in range(1, 6):
            setattr(self, f"res{i}", _JohnsonResidual(128))
        self.deconv1 = _ReflectConv(128, 64, 3, upsample=2)
        self.in4 = normstats.InstanceNorm2d(64, affine=True)
        self.deconv2 = _ReflectConv(64, 32, 3, upsample=2)
        self.in5 = normstats.InstanceNorm2d(32, affine=True)
        self.deconv3 = _ReflectConv(32, 3, 9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        y = F.relu(self.in1(self.conv1(x)))
        y = F.relu(self.in2(self.conv2(y)))
        y = F.relu(self.in3(self.conv3(y)))
        for i in range(1, 6):
            y = getattr(self, f"res{i}")(y)
        y = F.relu(self.in4(self.deconv1(y)))
        y = F.relu(self.in5(self.deconv2(y)))
        y = self.deconv3(y)
        # Sizes that are not multiples of 4 come back a little larger; crop so
        # the output always matches the input.
        return y[..., :height, :width]


# --------------------------------------------------------------- Engstrom --
def _same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow 'SAME' zero padding: the extra pixel goes bottom/right."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):  # F.pad wants last dim first
        total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


def _tf_instance_norm(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    mean, var = normstats.statistics("instance_norm", x, normstats.moments,
                                     from_moments=normstats.moments_as_they_are)
    return scale.view(1, -1, 1, 1) * (x - mean) / torch.sqrt(var + 1e-3) + shift.view(1, -1, 1, 1)


class _TFConv(nn.Module):
    """Bias-free conv (or stride-2 transposed conv) followed by TF instance norm."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, transpose: bool = False):
        super().__init__()
        self.kernel, self.stride, self.transpose = kernel, stride, transpose
        shape = (cin, cout, kernel, kernel) if transpose else (cout, cin, kernel, kernel)
        self.weight = nn.Parameter(torch.zeros(shape))
        self.in_scale = nn.Parameter(torch.ones(cout))
        self.in_shift = nn.Parameter(torch.zeros(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.transpose:
            height, width = x.shape[-2:]
            x = F.conv_transpose2d(x, self.weight, stride=self.stride)
            x = x[..., : height * self.stride, : width * self.stride]
        else:
            x = F.conv2d(_same_pad(x, self.kernel, self.stride), self.weight, stride=self.stride)
        return _tf_instance_norm(x, self.in_scale, self.in_shift)


class _EngstromResidual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = _TFConv(channels, channels, 3)
        self.conv2 = _TFConv(channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class EngstromNet(nn.Module):
    """Engstrom's TF fast-style-transfer net (ml5.js weight layout)."""

    def __init__(self):
        super().__init__()
        self.conv1 = _TFConv(3, 32, 9)
        self.conv2 = _TFConv(32, 64, 3, stride=2)
        self.conv3 = _TFConv(64, 128, 3, stride=2)
        for i in range(1, 6):
            setattr(self, f"res{i}", _EngstromResidual(128))
        self.deconv1 = _TFConv(128, 64, 3, stride=2, transpose=True)
        self.deconv2 = _TFConv(64, 32, 3, stride=2, transpose=True)
        self.conv_out = _TFConv(32, 3, 9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        y = F.relu(self.conv1(x))
        y = F.relu(self.conv2(y))
        y = F.relu(self.conv3(y))
        for i in range(1, 6):
            y = getattr(self, f"res{i}")(y)
        y = F.relu(self.deconv1(y))
        y = F.relu(self.deconv2(y))
        y = torch.tanh(self.conv_out(y)) * 150 + 127.5
        return y[..., :height, :width]
