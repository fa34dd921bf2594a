"""The AdaIN-r31 decoder, trained as in the AdaIN paper."""
from __future__ import annotations

import torch

from stylize.models.adain import AdaINNet, Decoder
from stylize.offline.train.tasks.base import Task


class AdaINTask(Task):
    """The AdaIN paper's objective: decode AdaIN(VGG(c), VGG(s)) back to an image."""

    name = "adain"
    summary = "the AdaIN-r31 decoder over the frozen VGG-19 encoder"

    def build_net(self) -> AdaINNet:
        return self.spec.cls(self.vgg, Decoder(self.vgg.depth))

    @property
    def trainable(self) -> torch.nn.Module:
        return self.net.decoder

    def losses(self, content, style):
        vgg = self.teacher(content, style)
        output = self.net.decoder(vgg.target)[..., : content.shape[-2], : content.shape[-1]]
        return self.perceptual(output, vgg.target, vgg.style_stats)
