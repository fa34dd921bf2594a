"""AesFA, trained from scratch with the paper's losses plus the terms that made it learn on a CPU."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from stylize.models import registry, weights
from stylize.models.adain import Decoder
from stylize.models.aesfa import AesFANet
from stylize.models.losses import mean_std
from stylize.models.student import VGG_RELU3_1_CHANNELS
from stylize.offline.train.config import check_choices, option
from stylize.offline.train.tasks.base import STYLE_TAPS, EncoderDistillOptions, Task, Teacher, add_term


@dataclass
class AesFAOptions(EncoderDistillOptions):
    width: int = option(32, "channels after the stem, a multiple of 8 (default %(default)s; the paper uses 64)")
    contrastive_weight: float = option(
        1.0, "weight of the aesthetic contrastive loss (default %(default)s; 0 for the first steps of a CPU run, "
             "where batch 4 makes it too noisy to help)")
    identity_weight: float = option(
        0.0, "weight of the identity term, L1 between an image and its decoding with its own style (default "
             "%(default)s: the paper has none; borrowed from SANet, it also makes alpha=0 a faithful reconstruction)")
    teacher_weight: float = option(
        0.0, "weight of output distillation, pixel L1 to the shipped AdaIN-r31's image for the same pair (default "
             "%(default)s): a dense target that differs with every style, for a style pathway that the VGG losses "
             "alone teach slowly")
    teacher_feature_weight: float = option(
        0.0, "weight of output distillation in VGG space, the MSE of relu1_1, relu2_1 and relu3_1 to those of the "
             "same AdaIN-r31 image (default %(default)s); unlike the pixel L1 it carries brush strokes where they "
             "are, not blurred")
    content_target: str = option(
        "content", "what the relu3_1 content loss compares the output with: the content's features (default, as "
                   "the paper) or AdaIN's target, the content's features with the style's statistics (as AdaIN-r31 "
                   "and the student train), which asks less of the content", choices=("content", "adain"))

    def __post_init__(self) -> None:
        check_choices(self)


def _band_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-sample distance of channel statistics (N,): the style distance of two feature maps."""
    (ma, sa), (mb, sb) = mean_std(a.float()), mean_std(b.float())
    return ((ma - mb) ** 2 + (sa - sb) ** 2).flatten(1).mean(dim=1)


class AesFATask(Task):
    """AesFA's objective: VGG perceptual loss plus the aesthetic feature contrastive loss.

    Departures from the paper, forced by the weights we have or chosen for a
    CPU budget: style distances are mean/std matching rather than EFDM, the
    VGG style taps stop at relu3_1, and the contrastive negative of each
    sample is simply the next style in the batch instead of the nearest one.
    Optional terms the paper lacks (all training-only): VGG distillation of
    the encoder, an identity term, and output distillation from the shipped
    AdaIN-r31 (the teacher terms), which is what made the shipped net learn
    in a CPU budget.
    """

    name = "aesfa"
    summary = "AesFA, the aesthetic feature-aware net, with optional distillation from AdaIN-r31"
    Options = AesFAOptions
    loss_terms = ("distill", "contrastive", "identity", "teacher", "teacher_features")

    def __init__(self, config, options: AesFAOptions, vgg):
        super().__init__(config, options, vgg)
        if options.distill_weight:
            # Stage-2 bands (high at 1/4, low upsampled to it) -> VGG relu3_1, as for the student.
            self.aux["distill_head"] = torch.nn.Conv2d(4 * options.width, VGG_RELU3_1_CHANNELS, 1)
        teacher = options.teacher_weight or options.teacher_feature_weight
        self.adain_decoder: Decoder | None = self.build_adain_teacher() if teacher else None

    def build_net(self) -> AesFANet:
        return self.spec.cls(width=self.options.width)

    def build_adain_teacher(self) -> Decoder:
        """Our shipped AdaIN-r31 decoder, frozen: its images are the target of output distillation."""
        adain = registry.get("adain")
        decoder = adain.from_state(weights.load(adain.weights), vgg=lambda depth: self.vgg).decoder
        return decoder.to(self.device).eval().requires_grad_(False)

    def losses(self, content, style):
        vgg = self.teacher(content, style)
        content_feats = self.net.encode(content)
        style_feats = self.net.encode(style)
        style_code = self.net.style_code(style_feats[-1])
        kernels = self.net.predict_style(style_code)
        output = self.net.decode(content_feats[-1], kernels)[..., : content.shape[-2], : content.shape[-1]]
        taps = self.output_taps(output)
        options = self.options
        losses = self.perceptual(output, vgg.target if options.content_target == "adain" else vgg.content,
                                 vgg.style_stats, taps)
        self._add_teacher_terms(losses, output, taps, vgg)
        if "distill_head" in self.aux:
            add_term(losses, "distill", self._distill(content_feats[-1], vgg.content)
                     + self._distill(style_feats[-1], vgg.style), options.distill_weight)
        if content.shape[0] > 1 and options.contrastive_weight:
            add_term(losses, "contrastive", self._contrastive(output, [*style_feats, style_code]),
                     options.contrastive_weight)
        if options.identity_weight:
            content_kernels = self.net.predict_style(self.net.style_code(content_feats[-1]))
            add_term(losses, "identity", self._rebuilt(content_feats[-1], content_kernels, content)
                     + self._rebuilt(style_feats[-1], kernels, style), options.identity_weight)
        return losses

    def _contrastive(self, output: torch.Tensor, style_aesthetic: list) -> torch.Tensor:
        """Aesthetic distance to the sample's own style over that to the next style in the batch."""
        out_aesthetic = self.net.aesthetic_features(output)
        pairs = list(zip(out_aesthetic, style_aesthetic))
        positive = sum(_band_distance(o, s) for octs in pairs for o, s in zip(*octs))
        negative = sum(_band_distance(o, s.roll(1, dims=0)) for octs in pairs for o, s in zip(*octs))
        return (positive / (negative + 1e-6)).mean()

    def _add_teacher_terms(self, losses: dict[str, torch.Tensor], output: torch.Tensor,
                           taps: dict[str, torch.Tensor], vgg: Teacher) -> None:
        """Output distillation: match what the shipped AdaIN-r31 makes of the same pair.

        A dense, per-pixel target that differs with every style; the VGG
        losses alone give a from-scratch style pathway too weak a signal to
        learn from in a CPU budget. The pixel L1 (`teacher`) carries the
        palette but averages strokes into blur; the feature MSE at the style
        taps (`teacher_features`) carries the strokes too, where they are.
        """
        if self.adain_decoder is None:
            return
        with torch.no_grad():
            adain_image = self.adain_decoder(vgg.target)[..., : output.shape[-2], : output.shape[-1]]
        options = self.options
        if options.teacher_weight:
            add_term(losses, "teacher", F.l1_loss(output.float(), adain_image.float()), options.teacher_weight)
        if options.teacher_feature_weight:
            with torch.no_grad():
                adain_taps = self.output_taps(adain_image.clamp(0, 1))
            add_term(losses, "teacher_features", sum(F.mse_loss(taps[name], adain_taps[name]) for name in STYLE_TAPS),
                     options.teacher_feature_weight)

    def _distill(self, features, vgg_relu3_1: torch.Tensor) -> torch.Tensor:
        """MSE of the encoder's stage-2 features, mapped by the head, to VGG relu3_1.

        Not in the paper: it hands the from-scratch encoder VGG's notion of
        content, which the perceptual losses alone teach it slowly.
        """
        high, low = features
        both = torch.cat([high, F.interpolate(low, size=high.shape[-2:], mode="nearest")], dim=1)
        mapped = self.aux["distill_head"](both).float()
        return F.mse_loss(mapped[..., : vgg_relu3_1.shape[-2], : vgg_relu3_1.shape[-1]], vgg_relu3_1)

    def _rebuilt(self, features, own_kernels, image: torch.Tensor) -> torch.Tensor:
        """L1 between an image and its decoding with its own style (SANet's identity term).

        It gives the from-scratch encoder and decoder a direct pixel signal
        to keep content, which VGG losses alone teach slowly, and it makes
        alpha=0 a faithful reconstruction.
        """
        rebuilt = self.net.decode(features, own_kernels)[..., : image.shape[-2], : image.shape[-1]]
        return F.l1_loss(rebuilt.float(), image)
