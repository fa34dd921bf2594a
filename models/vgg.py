"""VGG-19 'normalised' encoder with named taps, loadable from any key prefix.

The layout is the nn.Sequential of the AdaIN reference encoder: a 1x1 conv that
maps RGB [0,1] to mean-subtracted BGR x255, then ReflectionPad2d(1) + conv3x3 +
ReLU blocks with ceil-mode max pools between stages. Weight files may stop at
any layer (ours stop at relu3_1); the module is built only as deep as the file.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn

# (tap name, in channels, out channels) for each conv in order; "pool" marks a
# MaxPool2d. Indices in the Sequential follow from this order exactly as in the
# official vgg_normalised.pth: conv0 is index 0, every 3x3 block takes three
# slots (pad, conv, relu) and every pool one.
_LAYOUT: list[tuple[str, int, int] | str] = [
    ("relu1_1", 3, 64), ("relu1_2", 64, 64), "pool",
    ("relu2_1", 64, 128), ("relu2_2", 128, 128), "pool",
    ("relu3_1", 128, 256), ("relu3_2", 256, 256), ("relu3_3", 256, 256), ("relu3_4", 256, 256), "pool",
    ("relu4_1", 256, 512), ("relu4_2", 512, 512), ("relu4_3", 512, 512), ("relu4_4", 512, 512), "pool",
    ("relu5_1", 512, 512), ("relu5_2", 512, 512), ("relu5_3", 512, 512), ("relu5_4", 512, 512),
]

TAP_ORDER = [entry[0] for entry in _LAYOUT if entry != "pool"]


def _build_layers(depth_tap: str) -> tuple[list[nn.Module], dict[str, int]]:
    layers: list[nn.Module] = [nn.Conv2d(3, 3, 1)]
    taps: dict[str, int] = {}
    for entry in _LAYOUT:
        if entry == "pool":
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
            continue
        name, cin, cout = entry
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3), nn.ReLU()]
        taps[name] = len(layers) - 1
        if name == depth_tap:
            break
    return layers, taps


def deepest_tap_in(state_dict: dict[str, torch.Tensor]) -> str:
    """The deepest tap whose conv weights are all present in `state_dict`."""
    layers, taps = _build_layers(TAP_ORDER[-1])
    deepest = None
    for name in TAP_ORDER:
        conv_index = taps[name] - 1
        if f"{conv_index}.weight" not in state_dict:
            break
        deepest = name
    if deepest is None or "0.weight" not in state_dict:
        raise ValueError("not a vgg_normalised state dict: keys '0.weight' and '2.weight' are required")
    return deepest


class VGGEncoder(nn.Sequential):
    """VGG-19 normalised encoder truncated at `depth` (a tap name).

    `forward(x)` returns the deepest tap; `taps(x, names)` returns a dict of the
    requested activations computed in one pass.
    """

    def __init__(self, depth: str = "relu3_1"):
        if depth not in TAP_ORDER:
            raise ValueError(f"unknown VGG tap {depth!r}; choose from {', '.join(TAP_ORDER)}")
        layers, taps = _build_layers(depth)
        super().__init__(*layers)
        self.depth = depth
        self.tap_index = taps
        for p in self.parameters():
            p.requires_grad_(False)

    @property
    def tap_names(self) -> list[str]:
        return list(self.tap_index)

    @classmethod
    def from_state_dict(cls, state_dict: dict[str, torch.Tensor], depth: str | None = None) -> "VGGEncoder":
        """Build as deep as `depth` (default: as deep as the weights go) and load.

        Keys beyond the chosen depth are ignored, so the full official file
        loads into a shallow encoder.
        """
        available = deepest_tap_in(state_dict)
        depth = depth or available
        if TAP_ORDER.index(depth) > TAP_ORDER.index(available):
            raise ValueError(f"these VGG weights stop at {available}; {depth} needs a deeper file "
                             "(the full official vgg_normalised.pth)")
        encoder = cls(depth)
        wanted = encoder.state_dict().keys()
        encoder.load_state_dict(OrderedDict((k, state_dict[k].float()) for k in wanted))
        return encoder

    def taps(self, x: torch.Tensor, names: list[str] | tuple[str, ...] | None = None) -> dict[str, torch.Tensor]:
        names = list(names or self.tap_names)
        unknown = [n for n in names if n not in self.tap_index]
        if unknown:
            raise ValueError(f"tap(s) {unknown} not available; this encoder stops at {self.depth}")
        last = max(self.tap_index[n] for n in names)
        wanted = {self.tap_index[n]: n for n in names}
        out: dict[str, torch.Tensor] = {}
        for i, layer in enumerate(self):
            x = layer(x)
            if i in wanted:
                out[wanted[i]] = x
            if i == last:
                break
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x)
