"""What every training task is: a net, its own options, and its losses against the VGG-19 teacher."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np
import torch

from stylize.models import registry
from stylize.models.adain import adain, channel_stats
from stylize.models.losses import content_loss, mean_std, mean_std_style_loss, tv_loss
from stylize.models.registry import NetSpec
from stylize.offline.train.config import TrainConfig, option
from stylize.offline.train.data import ImageBank

STYLE_TAPS = ("relu1_1", "relu2_1", "relu3_1")
# The loss terms every task reports (`tv` only with a TV weight); a task's own follow them.
PERCEPTUAL_LOSSES = ("total", "content", "style", "tv")


class Teacher(NamedTuple):
    """What VGG says about a batch: relu3_1 of content and style, the style statistics, the AdaIN target."""

    content: torch.Tensor
    style: torch.Tensor
    style_stats: dict
    target: torch.Tensor


@dataclass
class NoOptions:
    """A task with no options of its own."""


@dataclass
class EncoderDistillOptions:
    """For tasks whose own encoder learns to mimic VGG-19 relu3_1 through a 1x1 head."""

    distill_weight: float = option(1.0, "weight of the VGG-19 relu3_1 feature mimicry of the net's own encoder "
                                        "(default %(default)s; training only, nothing of it ships)")


def add_term(losses: dict[str, torch.Tensor], name: str, value: torch.Tensor, weight: float) -> None:
    """Report a loss term and add it, weighted, to the total."""
    losses[name] = value
    losses["total"] = losses["total"] + weight * value


class Task:
    """One trainable net and its losses.

    A task declares its `name`, a one-line `summary`, the dataclass of the
    `Options` only it takes (fields made with `config.option()`, which also
    become its command-line flags) and the `loss_terms` it adds to
    PERCEPTUAL_LOSSES. It builds its net in `build_net()`, which runs in
    `__init__` once `config`, `options`, `vgg` and `device` are set.

    `trainable` is what gets optimised and saved as the checkpoint's model;
    `aux` holds modules that exist only for training (they are optimised
    and checkpointed too, but never shipped).
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    Options: ClassVar[type] = NoOptions
    loss_terms: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: TrainConfig, options, vgg):
        self.config = config
        self.options = options
        self.vgg = vgg
        self.device = next(vgg.parameters()).device
        self.aux = torch.nn.ModuleDict()
        self.net = self.build_net()

    @classmethod
    def data(cls, config: TrainConfig, options, device: torch.device) -> tuple[ImageBank, ImageBank]:
        """What `losses` is fed, as two banks of crops: by default the content and the style folder."""
        return (ImageBank(config.content_dir, config.crop, device, config.short_side),
                ImageBank(config.style_dir, config.crop, device, config.short_side))

    def preview(self, contents: torch.Tensor, styles: torch.Tensor) -> np.ndarray:
        """The sample grid the trainer writes: styles across, contents down, each cell stylized."""
        size = contents.shape[-1]
        blank = torch.ones(3, size, size, device=contents.device)
        rows = [torch.cat([blank, *styles], dim=2)]
        for content in contents:
            cells = [content]
            for style in styles:
                cells.append(self.stylize(content[None], style[None])[0].clamp(0, 1))
            rows.append(torch.cat(cells, dim=2))
        grid = torch.cat(rows, dim=1)
        return (grid.permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)

    @property
    def spec(self) -> NetSpec:
        """The registry's entry for the net this task trains (task names are method names)."""
        return registry.get(self.name)

    def build_net(self) -> torch.nn.Module:
        """The net to train, freshly initialised."""
        raise NotImplementedError

    @property
    def trainable(self) -> torch.nn.Module:
        return self.net

    def losses(self, content: torch.Tensor, style: torch.Tensor) -> dict[str, torch.Tensor]:
        """The loss terms for a batch; `total` is what gets minimised."""
        raise NotImplementedError

    def teacher(self, content: torch.Tensor, style: torch.Tensor) -> Teacher:
        with torch.no_grad():
            content_feat = self.vgg(content).float()
            style_taps = {k: v.float() for k, v in self.vgg.taps(style, STYLE_TAPS).items()}
            target = adain(content_feat, *channel_stats(style_taps["relu3_1"]))
            style_stats = {name: mean_std(feat) for name, feat in style_taps.items()}
        return Teacher(content_feat, style_taps["relu3_1"], style_stats, target)

    def output_taps(self, output: torch.Tensor) -> dict[str, torch.Tensor]:
        # Statistics in fp32 even under bf16 autocast: a bf16 std is too coarse.
        return {k: v.float() for k, v in self.vgg.taps(output, STYLE_TAPS).items()}

    def perceptual(self, output: torch.Tensor, target: torch.Tensor, style_stats,
                   taps: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """Content and style losses (and TV), from the output's VGG taps if the caller already has them."""
        taps = taps or self.output_taps(output)
        losses = {"content": content_loss(taps["relu3_1"], target),
                  "style": mean_std_style_loss(taps, style_stats)}
        losses["total"] = losses["content"] + self.config.style_weight * losses["style"]
        if self.config.tv_weight:
            add_term(losses, "tv", tv_loss(output), self.config.tv_weight)
        return losses

    @torch.no_grad()
    def stylize(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.net(content, self.net.style([style]))

    def inference_state(self) -> dict[str, torch.Tensor]:
        """The weights that ship: what `stylize` loads for this method."""
        return self.spec.inference_state(self.net)
