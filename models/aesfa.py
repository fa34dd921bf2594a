"""AesFA (Kwon, Kim et al., "AesFA: An Aesthetic Feature-Aware Arbitrary Neural
Style Transfer", AAAI 2024); architecture only.

AesFA needs no pre-trained network at inference. One light encoder splits an
image into two frequency bands with octave convolutions: a high band at 1/4
and a low band at 1/8 of the input size. Pooled to k x k, the two bands give a
style *code*. From the code, kernel predictors make per-style dynamic kernels
for every AdaOctConv block of the decoder: a grouped k x k "spatial" kernel,
a grouped 1x1 "pointwise" kernel and a bias, for each band. An AdaOctConv
block applies these kernels to each band of the content (AdaConv, Chandran
et al. 2021); the first block instance-normalises the content before, so
there the kernels and bias play the part of AdaIN's std and mean, but they
act on space and on channels. A learned 3x3 conv and an octave conv follow.
The decoder upsamples between blocks and merges the bands into RGB at the end.

Live use. `AesFANet.style` precomputes an `AesFAStyle` (all the kernels) once
per look. A frame costs one encoder pass and one decoder pass. The kernel
predictors are affine in the code, so blending codes with weights equals
blending the kernels, and `AesFAStyle.lerp` (a crossfade) is exact. The
paper's *style blending* takes the high band's code from one image and the
low band's from another: `style(images=[A], low_freq_images=[B])`.

`alpha` has no content-only path to fall back on: every decoder block is
style-conditioned. So alpha < 1 interpolates the kernels from the content's
own style (the frame used as its own style image) to the target style. The
frame's code comes from the features that were encoded anyway; only the
small kernel prediction is added per frame. alpha=0 is a faithful
reconstruction only if training adds an identity term (as in SANet),
|decode(f, predict_style(style_code(f))) - c| with f = encode(c)[-1]. The
paper does not use one.

The first block's instance norm and the frame's own code are statistics of
the content; both go through models/normstats.py, so the tiles of a big
picture can take the whole picture's.

Shape rules. Two stride-2 stages plus the low band's extra halving make the
encoder downsample by 8. `encode` reflect-pads the bottom/right edges up to a
multiple of 8, and `forward` crops back, so any size (for example 333x517)
comes out exactly as it went in.

Training (the losses are not implemented here). The release config weights
them as L = L_percept + 5 * L_aesthetic, where:

* L_percept = L_content + 10 * L_style, computed with a frozen VGG-19 during
  training only. L_content is the MSE between the relu3_1 features of
  the output and of the content. L_style sums EFDM (exact feature
  distribution matching: the MSE to the style's values, sorted and
  re-assigned by rank per channel) between output and style at
  relu1_1..relu4_1. The "vgg19_r31" weights stop at relu3_1; relu4_1 needs
  the full "vgg19" weights, or the term is dropped.
* L_aesthetic, the aesthetic feature contrastive loss, is computed on AesFA's
  *own* encoder: `aesthetic_features(x)` gives both encoder stages and the
  pooled code, each with both bands. For each sample it is
  sum EFDM(output, its style) / sum EFDM(output, negative style), summed over
  those features. The negative is the batch's other style image closest to
  the output in VGG style distance. The release trains two encoders of the
  same shape, one for content and one for style, and sums the loss over
  both. Here one encoder serves both roles.

Departures from the reference code, all deliberate: one shared encoder;
the low→high octave path convolves before upsampling (Chen et al.'s
OctConv, 4x cheaper); activations after the stem and after each
post-upsample conv, where the reference stacks linear convs; the
final two linear 1x1 convs are fused into one band merge to RGB; every
convolution pads by reflection. And three that make it trainable on a CPU
budget (with the paper's layout, 4000 CPU steps over several sessions gave
textured mud that ignored the style):
* the code pools each channel's std as well as its mean, and the first
  block's predictors start as AdaIN of the content on those statistics;
* only the first block instance-normalises; in the paper every block does,
  which wipes out the statistics the first one set, as if AdaIN's decoder
  renormalised after every layer;
* each predicted kernel is a fixed identity plus the predicted residual, so
  an untrained decoder passes the content through instead of filtering it
  with three cascaded random kernels.

Use `encode`, `style_code`, `predict_style` and `decode` with autograd for
training. `decode` returns raw RGB at the padded size. `style()` is the
inference entry point: it runs without grad and its result is detached.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable, NamedTuple, Sequence

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from stylize.models import normstats
from stylize.models.adain import normalised_weights

SIZE_MULTIPLE = 8  # total downsampling of the low band


class Octave(NamedTuple):
    """A feature map split into a high-frequency band and a low band at half its resolution."""

    high: torch.Tensor
    low: torch.Tensor


def _conv(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, groups=groups, bias=bias,
                     padding_mode="reflect")


def _halves(channels: int) -> int:
    if channels % 2:
        raise ValueError(f"octave features split channels evenly between the bands; got {channels}")
    return channels // 2


def _upsample(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


class PerBand(nn.Module):
    """Apply one parameter-free op (an activation, an upsample) to both bands."""

    def __init__(self, op: Callable[[torch.Tensor], torch.Tensor] | nn.Module):
        super().__init__()
        self.op = op

    def forward(self, x: Octave) -> Octave:
        return Octave(self.op(x.high), self.op(x.low))


def _act() -> PerBand:
    return PerBand(nn.LeakyReLU())


class OctaveSplit(nn.Module):
    """Single-band features → an Octave: high at the given stride, low pooled first to twice it."""

    def __init__(self, cin: int, cout: int, stride: int = 2):
        super().__init__()
        self.to_high = _conv(cin, _halves(cout), 3, stride)
        self.to_low = _conv(cin, _halves(cout), 3, stride)

    def forward(self, x: torch.Tensor) -> Octave:
        return Octave(self.to_high(x), self.to_low(F.avg_pool2d(x, 2)))


class OctaveConv(nn.Module):
    """Octave convolution (Chen et al. 2019) on evenly split bands.

    Each band is convolved on its own. With `exchange`, each band also
    receives the other one, resampled to its resolution. As in Chen et al.,
    the low→high path convolves at the low resolution and upsamples after.
    That costs 4x less than convolving the upsampled map, which is what the
    AesFA reference does. A depthwise octave conv never exchanges: a
    depthwise conv mixes no channels at all.
    """

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, depthwise: bool = False,
                 exchange: bool = True):
        super().__init__()
        hin, hout = _halves(cin), _halves(cout)
        if depthwise and cin != cout:
            raise ValueError("a depthwise octave conv keeps its channel count")
        groups = hin if depthwise else 1
        self.high_to_high = _conv(hin, hout, kernel, stride, groups)
        self.low_to_low = _conv(hin, hout, kernel, stride, groups)
        self.exchange = exchange and not depthwise
        if self.exchange:
            # One bias per output band is enough, so the cross paths have none.
            self.low_to_high = _conv(hin, hout, kernel, stride, bias=False)
            self.high_to_low = _conv(hin, hout, kernel, stride, bias=False)

    def forward(self, x: Octave) -> Octave:
        high, low = self.high_to_high(x.high), self.low_to_low(x.low)
        if self.exchange:
            high = high + _upsample(self.low_to_high(x.low))
            low = low + self.high_to_low(F.avg_pool2d(x.high, 2))
        return Octave(high, low)


class OctaveMerge(nn.Module):
    """An Octave → one map at the high band's resolution (a 1x1 conv per band, summed)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.from_high = nn.Conv2d(_halves(cin), cout, 1)
        self.from_low = nn.Conv2d(_halves(cin), cout, 1, bias=False)

    def forward(self, x: Octave) -> torch.Tensor:
        # A 1x1 conv commutes with nearest upsampling; convolve at low resolution, which is cheaper.
        return self.from_high(x.high) + _upsample(self.from_low(x.low))


# ------------------------------------------------------------------ style --
@dataclass(frozen=True)
class DynamicKernels:
    """A band's predicted AdaConv parameters, batched by style (B = 1, or one per sample)."""

    spatial: torch.Tensor  # B, C, group, k, k
    pointwise: torch.Tensor  # B, C, group, 1, 1
    bias: torch.Tensor  # B, C


class OctaveKernels(NamedTuple):
    high: DynamicKernels
    low: DynamicKernels


@dataclass(frozen=True)
class AesFAStyle:
    """Precomputed kernels for every AdaOctConv block of the decoder: one look."""

    layers: tuple[OctaveKernels, ...]

    def map(self, fn: Callable[..., torch.Tensor], *others: "AesFAStyle") -> "AesFAStyle":
        """Apply `fn` to every kernel tensor, together with the matching tensors of `others`."""
        def band(*kernels: DynamicKernels) -> DynamicKernels:
            return DynamicKernels(*(fn(*(getattr(k, f.name) for k in kernels)) for f in fields(DynamicKernels)))
        return AesFAStyle(tuple(OctaveKernels(*(band(*bands) for bands in zip(*layers)))
                                for layers in zip(self.layers, *(o.layers for o in others), strict=True)))

    def lerp(self, other: "AesFAStyle", t: float) -> "AesFAStyle":
        """Interpolate from this style (t=0) to `other` (t=1). Exact, since the predictors are affine."""
        return self.map(lambda a, b: torch.lerp(a, b.to(a), t), other)

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> "AesFAStyle":
        return self.map(lambda x: x.to(device, dtype))

    def tensors(self) -> list[torch.Tensor]:
        """All kernels in a fixed order, e.g. as graph inputs for an exported decoder."""
        return [getattr(k, f.name) for layer in self.layers for k in layer for f in fields(DynamicKernels)]


class KernelPredictor(nn.Module):
    """Style code of one band (B, S, k, k) → that band's DynamicKernels.

    The spatial kernel keeps the code's layout, so a k x k style pattern can
    become a k x k filter. The pointwise kernel and the bias come from the
    code's global mean. Both kernels are an identity plus a style-predicted
    residual: all maps stay affine in the code, and an untrained decoder
    passes the content through instead of filtering it with random kernels.
    """

    def __init__(self, channels: int, group_size: int, code_channels: int, code_size: int):
        super().__init__()
        self.channels, self.group_size, self.code_size = channels, group_size, code_size
        self.spatial = _conv(code_channels, channels * group_size, code_size)
        self.pointwise = nn.Linear(code_channels, channels * group_size)
        self.bias = nn.Linear(code_channels, channels)
        # Fixed, so not saved: the identity of a grouped conv (each output
        # channel copies its own channel of its group, at the kernel centre).
        identity = torch.zeros(channels, group_size, code_size, code_size)
        identity[torch.arange(channels), torch.arange(channels) % group_size, code_size // 2, code_size // 2] = 1
        self.register_buffer("identity_spatial", identity, persistent=False)
        self.register_buffer("identity_pointwise", identity[..., code_size // 2:code_size // 2 + 1,
                                                            code_size // 2:code_size // 2 + 1].clone(),
                             persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Residual kernels at a quarter of unit gain, a style "mean" (bias) at about unit size.

        PyTorch's default init gives every map a random constant part (its
        bias) about as large as the style-dependent part, and weights so
        small that the kernels barely move with the code. Here the biases
        are zero and the weights are scaled for a code of about unit size.
        Unit gain would be entries of about 1/sqrt(group * k * k) for the
        spatial residual and 1/sqrt(group) for the pointwise one; a quarter
        of that keeps the identity dominant at the start. (With no identity
        and full gain, three cascaded random filters turned every content
        into the same embossed swirls, and the VGG losses never untangled
        them in a CPU budget.)
        """
        g, k = self.group_size, self.code_size
        for layer, gain in ((self.spatial, 0.25 / math.sqrt(g * k * k)), (self.pointwise, 0.25 / math.sqrt(g)),
                            (self.bias, 1.0)):
            nn.init.normal_(layer.weight, std=gain / math.sqrt(layer.weight[0].numel()))
            nn.init.zeros_(layer.bias)

    @torch.no_grad()
    def start_as_adain(self) -> None:
        """Predict AdaIN from a code of the same features' [means, stds]: bias = mean, pointwise = std.

        Then the block's instance norm plus these kernels is exactly AdaIN
        (with the identity spatial kernel), so the decoder sees the style's
        statistics from the first step, as AdaIN's and the student's do.
        """
        c = self.channels
        if self.group_size != 1 or self.bias.in_features != 2 * c:
            raise ValueError("an AdaIN start needs group size 1 and a code of the block's own means and stds")
        eye = torch.eye(c)
        self.bias.weight.copy_(torch.cat([eye, torch.zeros(c, c)], dim=1))
        self.pointwise.weight.copy_(torch.cat([torch.zeros(c, c), eye], dim=1))
        self.pointwise.bias.fill_(-1.0)  # cancels the identity: pointwise = std

    def forward(self, code: torch.Tensor) -> DynamicKernels:
        b, c, g, k = code.shape[0], self.channels, self.group_size, self.code_size
        pooled = code.mean(dim=(2, 3))
        return DynamicKernels(self.identity_spatial + self.spatial(code).view(b, c, g, k, k),
                              self.identity_pointwise + self.pointwise(pooled).view(b, c, g, 1, 1),
                              self.bias(pooled))


def _conv_per_style(x: torch.Tensor, weight: torch.Tensor, groups: int,
                    bias: torch.Tensor | None = None) -> torch.Tensor:
    """Grouped conv of x (N,C,H,W) with style-batched weights (B,Cout,Cin/groups,k,k), B = 1 or N.

    With one style it is a plain conv. With one style per sample, the batch
    is folded into the channels so that a single grouped conv does all
    samples.
    """
    if weight.shape[0] == 1:
        return F.conv2d(x, weight[0], None if bias is None else bias[0], groups=groups)
    n, _, height, width = x.shape
    out = F.conv2d(x.reshape(1, -1, height, width), weight.flatten(0, 1),
                   None if bias is None else bias.flatten(), groups=groups * n)
    return out.view(n, -1, *out.shape[-2:])


class AdaptiveConv(nn.Module):
    """AdaConv on one band: instance norm (optional), then the style's kernels, then a learned 3x3 conv."""

    def __init__(self, channels: int, group_size: int, normalise: bool = True):
        super().__init__()
        if channels % group_size:
            raise ValueError(f"{channels} channels do not split into groups of {group_size}")
        self.groups = channels // group_size
        self.normalise = normalise
        self.conv = _conv(channels, channels, 3)

    def forward(self, x: torch.Tensor, kernels: DynamicKernels) -> torch.Tensor:
        if self.normalise:
            x = normstats.instance_norm(x)
        x = F.pad(x, [kernels.spatial.shape[-1] // 2] * 4, mode="reflect")
        x = _conv_per_style(x, kernels.spatial, self.groups)
        x = _conv_per_style(x, kernels.pointwise, self.groups, kernels.bias)
        return self.conv(x)


class AdaOctConv(nn.Module):
    """The paper's AdaOctConv block: AdaConv on each band with its kernels, then a depthwise octave conv."""

    def __init__(self, channels: int, group_size: int, code_channels: int, code_size: int, normalise: bool = True):
        super().__init__()
        band, code_band = _halves(channels), _halves(code_channels)
        self.predict_high = KernelPredictor(band, group_size, code_band, code_size)
        self.predict_low = KernelPredictor(band, group_size, code_band, code_size)
        self.adaconv_high = AdaptiveConv(band, group_size, normalise)
        self.adaconv_low = AdaptiveConv(band, group_size, normalise)
        self.octave = OctaveConv(channels, channels, 3, depthwise=True)
        self.act = _act()

    def kernels(self, code: Octave) -> OctaveKernels:
        return OctaveKernels(self.predict_high(code.high), self.predict_low(code.low))

    def forward(self, x: Octave, kernels: OctaveKernels) -> Octave:
        x = self.act(Octave(self.adaconv_high(x.high, kernels.high), self.adaconv_low(x.low, kernels.low)))
        return self.act(self.octave(x))


# ------------------------------------------------------------- networks --
class AesFAEncoder(nn.Module):
    """The shared octave encoder: RGB [0,1] → [stage-1 Octave, stage-2 Octave].

    Channels (high + low) are width, 2*width and 4*width. The stage-2 bands
    sit at 1/4 (high) and 1/8 (low) of the input size. The input size must
    be a multiple of 8; `AesFANet.encode` pads it.
    """

    def __init__(self, width: int):
        super().__init__()
        self.stem = nn.Sequential(_conv(3, width, 7), nn.LeakyReLU())
        self.stage1 = nn.Sequential(
            OctaveSplit(width, width), _act(),
            OctaveConv(width, 2 * width, 1), _act(),
            OctaveConv(2 * width, 2 * width, 3), _act(),
        )
        self.stage2 = nn.Sequential(
            OctaveConv(2 * width, 2 * width, 3, stride=2, depthwise=True), _act(),
            OctaveConv(2 * width, 4 * width, 1), _act(),
            OctaveConv(4 * width, 4 * width, 3), _act(),
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He init for the LeakyReLU stack, zero biases.

        The encoder has no normalisation. With PyTorch's default init each
        conv shrinks the signal about 3x, so at the stage-2 output the
        features, and the pooled style code, are almost the same constant
        for every image (the code varied by ~1% between styles): the kernel
        predictors then see no style at all, and the decoder learns one
        fixed look. He init keeps the image-dependent part at unit scale
        (the code then varies by ~40% between styles).
        """
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, a=0.01, nonlinearity="leaky_relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        for module in self.modules():
            if isinstance(module, OctaveConv) and module.exchange:
                # Two paths sum into each band: halve each one's variance.
                for conv in (module.high_to_high, module.low_to_low, module.low_to_high, module.high_to_low):
                    conv.weight.data.mul_(1 / math.sqrt(2))

    def forward(self, image: torch.Tensor) -> list[Octave]:
        first = self.stage1(self.stem(image))
        return [first, self.stage2(first)]


class AesFADecoder(nn.Module):
    """Stage-2 content Octave + AesFAStyle → RGB (linear, about [0,1]) at the input size.

    There are three AdaOctConv blocks at 4w, 2w and w channels, with groups
    of `group_sizes`. Between blocks come a 1x1 octave conv that halves the
    channels, a x2 upsample and a 3x3 conv per band. At the end, the bands
    merge into RGB.
    """

    def __init__(self, width: int, code_channels: int, code_size: int, group_sizes: Sequence[int] = (1, 2, 4)):
        super().__init__()
        channels = [4 * width, 2 * width, width]
        if len(group_sizes) != len(channels):
            raise ValueError(f"group_sizes needs {len(channels)} entries, one per AdaOctConv block")
        # Only the first block normalises its content: the later ones would
        # wipe out the statistics the first one set (as AdaIN's decoder has no norm).
        self.blocks = nn.ModuleList(AdaOctConv(c, g, code_channels, code_size, normalise=i == 0)
                                    for i, (c, g) in enumerate(zip(channels, group_sizes)))
        self.upsamplers = nn.ModuleList(
            nn.Sequential(
                OctaveConv(c, c // 2, 1), PerBand(_upsample),
                # The reference has no activation here, leaving two linear convs back to back.
                OctaveConv(c // 2, c // 2, 3, exchange=False), _act(),
            )
            for c in channels[:-1]
        )
        self.to_rgb = OctaveMerge(width, 3)
        # The first block works on the encoder's stage-2 features, the very
        # features the code describes, so it can start as AdaIN on them.
        if code_channels == 2 * channels[0] and group_sizes[0] == 1:
            for predictor in (self.blocks[0].predict_high, self.blocks[0].predict_low):
                predictor.start_as_adain()
        # Start from a flat mid-grey with small variations. With the unit-gain
        # encoder and kernel predictors, the default init gives a raw output
        # with std ~0.5, and first VGG losses ~5x those of a grey image.
        for conv in (self.to_rgb.from_high, self.to_rgb.from_low):
            nn.init.normal_(conv.weight, std=0.1 / math.sqrt(2 * conv.weight[0].numel()))
        nn.init.constant_(self.to_rgb.from_high.bias, 0.5)

    def kernels(self, code: Octave) -> AesFAStyle:
        return AesFAStyle(tuple(block.kernels(code) for block in self.blocks))

    def forward(self, content: Octave, style: AesFAStyle) -> torch.Tensor:
        x = content
        for i, (block, kernels) in enumerate(zip(self.blocks, style.layers, strict=True)):
            x = block(x, kernels)
            if i < len(self.upsamplers):
                x = self.upsamplers[i](x)
        return self.to_rgb(x)


def _pooled_mean_std(x: torch.Tensor, cells: int) -> torch.Tensor:
    """Per channel, the mean and the std of x in each of cells x cells regions: (N, 2C, cells, cells)."""
    mean = F.adaptive_avg_pool2d(x, cells)
    variance = (F.adaptive_avg_pool2d(x.square(), cells) - mean.square()).clamp_min(0)
    return torch.cat([mean, (variance + 1e-5).sqrt()], dim=1)


def _code_statistics(band: torch.Tensor, cells: int) -> tuple[torch.Tensor]:
    return (_pooled_mean_std(band, cells),)


class AesFANet(nn.Module):
    """AesFA: shared octave encoder + style-conditioned octave decoder. No VGG at inference.

    width: channels after the stem (the paper uses 64). The encoder goes up
    to 4*width and the style code has 8*width (a mean and a std per channel). Use a slim width
    (16, 24, ...) for CPU real time. width must be a multiple of
    2 * group_sizes[-1], so that every band splits into whole groups.
    style_kernel: spatial size k of the pooled style code and of the
    predicted kernels (paper: 3).
    """

    def __init__(self, width: int = 64, style_kernel: int = 3, group_sizes: Sequence[int] = (1, 2, 4)):
        super().__init__()
        if style_kernel % 2 == 0:
            raise ValueError(f"style_kernel must be odd so its kernels have a centre; got {style_kernel}")
        self.width, self.style_kernel, self.group_sizes = width, style_kernel, tuple(group_sizes)
        self.encoder = AesFAEncoder(width)
        self.decoder = AesFADecoder(width, 8 * width, style_kernel, group_sizes)  # code: mean and std of 4w

    @classmethod
    def from_state_dict(cls, state_dict: dict[str, torch.Tensor]) -> "AesFANet":
        """Build the net the weights were saved from and load them.

        width, style_kernel and group_sizes are read off the tensor shapes.
        """
        predictor = "decoder.blocks.{}.predict_high.{}.weight"
        blocks = sorted({int(key.split(".")[2]) for key in state_dict if key.startswith("decoder.blocks.")})
        net = cls(width=state_dict["encoder.stem.0.weight"].shape[0],
                  style_kernel=state_dict[predictor.format(0, "spatial")].shape[-1],
                  group_sizes=[state_dict[predictor.format(i, "pointwise")].shape[0]
                               // state_dict[predictor.format(i, "bias")].shape[0] for i in blocks])
        net.load_state_dict({k: v.float() for k, v in state_dict.items()})
        return net

    # Building blocks, with autograd, for training --------------------------
    def encode(self, image: torch.Tensor) -> list[Octave]:
        """Encoder features per stage for RGB [0,1]. The input is padded to a multiple of 8 first."""
        height, width = image.shape[-2:]
        pad_h, pad_w = -height % SIZE_MULTIPLE, -width % SIZE_MULTIPLE
        if pad_h or pad_w:
            image = F.pad(image, (0, pad_w, 0, pad_h), mode="reflect")
        return self.encoder(image)

    def style_code(self, features: Octave) -> Octave:
        """Stage-2 features → the style code: each band's mean and std, pooled to k x k cells.

        The paper pools the mean only. The std doubles the code but lets
        the first block start as AdaIN (see `KernelPredictor.start_as_adain`).
        """
        return Octave(*(_pooled_mean_std(band, self.style_kernel) for band in features))

    def _own_code(self, features: Octave) -> Octave:
        """The style code of the content itself: statistics of the content, so shared like a normalisation's."""
        return Octave(*(normstats.statistics("aesfa_code", band, _code_statistics, self.style_kernel)[0]
                        for band in features))

    def predict_style(self, code: Octave) -> AesFAStyle:
        return self.decoder.kernels(code)

    def decode(self, content_features: Octave, style: AesFAStyle) -> torch.Tensor:
        """Raw RGB at the padded size (no crop, no clamp), for losses."""
        return self.decoder(content_features, style)

    def aesthetic_features(self, image: torch.Tensor) -> list[Octave]:
        """The features of the aesthetic contrastive loss: both encoder stages, then the style code."""
        features = self.encode(image)
        return [*features, self.style_code(features[-1])]

    # Inference -------------------------------------------------------------
    @torch.no_grad()
    def style(self, images: Sequence[torch.Tensor] | torch.Tensor, weights: Sequence[float] | None = None,
              low_freq_images: Sequence[torch.Tensor] | torch.Tensor | None = None,
              low_freq_weights: Sequence[float] | None = None) -> AesFAStyle:
        """Precompute the kernels of a look from style images (each 1,3,H,W in [0,1]).

        `weights` blend the images' codes (default: equally). With
        `low_freq_images`, the low band's code comes from those images,
        blended by `low_freq_weights`, and the high band's code from
        `images`: the paper's style blending.
        """
        high, low = self._blended_code(images, weights)
        if low_freq_images is not None:
            _, low = self._blended_code(low_freq_images, low_freq_weights)
        return self.predict_style(Octave(high, low))

    def _blended_code(self, images: Sequence[torch.Tensor] | torch.Tensor,
                      weights: Sequence[float] | None) -> Octave:
        if isinstance(images, torch.Tensor):
            images = list(images.split(1))
        if not images:
            raise ValueError("style() needs at least one style image")
        codes = [self.style_code(self.encode(image)[-1]) for image in images]
        w = normalised_weights(weights, len(codes)).to(codes[0].high)
        return Octave(*(sum(wi * band for wi, band in zip(w, bands)) for bands in zip(*codes)))

    def forward(self, content: torch.Tensor, style: AesFAStyle, alpha: float = 1.0) -> torch.Tensor:
        """Stylize content (N,3,H,W in [0,1]). Returns RGB of exactly its size, clamped to [0,1].

        alpha < 1 fades the kernels towards the frame's own style (see the
        module docstring). At alpha=1 nothing about the style is computed per
        frame.
        """
        height, width = content.shape[-2:]
        features = self.encode(content)[-1]
        if alpha != 1.0:
            style = self.predict_style(self._own_code(features)).lerp(style, alpha)
        return self.decode(features, style)[..., :height, :width].clamp(0, 1)
