"""The compact CPU student: AdaIN over a small encoder distilled towards VGG-19 relu3_1."""
from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F

from stylize.models.adain import adain, channel_stats
from stylize.models.student import DEFAULT_DESIGN, DEFAULT_WIDTHS, DESIGNS, StudentNet
from stylize.offline.train.config import option, parse_widths
from stylize.offline.train.tasks.base import EncoderDistillOptions, Task, add_term


@dataclass
class StudentOptions(EncoderDistillOptions):
    widths: tuple[int, ...] = option(DEFAULT_WIDTHS, "channel widths of the three convs, comma-separated "
                                                     "(default %s)" % ",".join(map(str, DEFAULT_WIDTHS)),
                                     type=parse_widths, metavar="A,B,C")
    design: str = option(DEFAULT_DESIGN, "decoder design: resize (bilinear upsampling, zero padding) or shuffle "
                                         "(pixel shuffle, reflect padding) (default %(default)s)", choices=DESIGNS)


class StudentTask(Task):
    """AdaIN-r31's objective through the compact net, plus VGG feature distillation.

    The output is judged in VGG space exactly like AdaIN-r31's (content loss
    to the VGG AdaIN target, mean/std style loss), and the compact encoder is
    pulled towards VGG relu3_1 through a 1x1 head, so its statistics carry
    the same meaning as the teacher's.
    """

    name = "student"
    summary = "the compact CPU student, AdaIN over a small encoder distilled from VGG-19"
    Options = StudentOptions
    loss_terms = ("distill",)

    def build_net(self) -> StudentNet:
        return self.spec.cls(self.options.widths, self.options.design)

    def losses(self, content, style):
        vgg = self.teacher(content, style)
        content_feat = self.net.encoder(content).float()
        style_feat = self.net.encoder(style).float()
        trim = self.net.encoder.trim
        distill = (F.mse_loss(self.net.distill_head(trim(content_feat)), vgg.content)
                   + F.mse_loss(self.net.distill_head(trim(style_feat)), vgg.style))
        output = self.net.decoder(adain(content_feat, *channel_stats(style_feat)))
        losses = self.perceptual(output[..., : content.shape[-2], : content.shape[-1]], vgg.target, vgg.style_stats)
        add_term(losses, "distill", distill, self.options.distill_weight)
        return losses

