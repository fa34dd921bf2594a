"""Train the live nets (AdaIN-r31 decoder, AesFA, the CPU student) against VGG-19 relu3_1.

    trainer = Trainer(TrainConfig(kind="student", content_dir=..., style_dir=..., out=...))
    trainer.run()

The output folder gets `checkpoint.pt` (resumable, written atomically every
`checkpoint_every` steps and on Ctrl-C), `losses.csv`, `samples/step_NNNNNN.png`
(content rows x style columns) and, at the end, `<kind>.pt`: the inference
weights in fp16, plus its sha256 in `<kind>.pt.sha256`.
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from stylize.errors import UserError
from stylize.imageio import list_images, read_image
from stylize.models import weights, zoo
from stylize.models.adain import AdaINNet, Decoder, adain, channel_stats
from stylize.models.aesfa import AesFANet
from stylize.models.losses import content_loss, mean_std, mean_std_style_loss, tv_loss
from stylize.models.student import VGG_RELU3_1_CHANNELS, StudentNet
from stylize.offline.averaging import WeightAverage

STYLE_TAPS = ("relu1_1", "relu2_1", "relu3_1")
KINDS = ("adain", "aesfa", "student")


@dataclass
class TrainConfig:
    kind: str
    content_dir: str
    style_dir: str
    out: str
    size: int = 256
    short_side: int = 384  # images are shrunk to this short side before cropping
    steps: int = 20000
    batch: int = 8
    lr: float = 1e-4
    lr_decay: float = 5e-5  # lr / (1 + decay * step), as in the AdaIN reference
    device: str = "auto"
    seed: int = 0
    style_weight: float = 10.0
    tv_weight: float = 0.0
    distill_weight: float = 1.0  # student, aesfa: VGG relu3_1 feature mimicry (training only)
    contrastive_weight: float = 1.0  # aesfa: aesthetic contrastive loss
    identity_weight: float = 0.0  # aesfa: rebuild an image from its own style (pixel L1)
    teacher_weight: float = 0.0  # aesfa: pixel L1 to the shipped AdaIN-r31's output for the same pair
    teacher_feature_weight: float = 0.0  # aesfa: VGG feature MSE to that same image, at the style taps
    content_target: str = "content"  # aesfa: relu3_1 of the content, or "adain": AdaIN's target, as AdaIN trains
    ema_decay: float = 0.0  # > 0: sample, evaluate and export a moving average of the weights (offline/averaging)
    widths: tuple[int, ...] | None = None  # student / aesfa width override
    sample_every: int = 500
    checkpoint_every: int = 500
    log_every: int = 10
    threads: int | None = None
    precision: str = "auto"  # auto | bf16 | fp32 (auto: bf16 where the hardware has it)

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


def use_bf16(precision: str, device: torch.device) -> bool:
    """bf16 autocast on CUDA, and on CPUs with native bf16 dot products (about 1.5-2x faster here)."""
    if precision in ("bf16", "fp32"):
        return precision == "bf16"
    if device.type == "cuda":
        return True
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available in this torch build / machine")
    return torch.device(name)


class ImageBank:
    """A folder of images held in memory as uint8, served as random crops.

    The whole training set (~33 MB of JPEG) is a few hundred MB decoded at
    the working scale, so it sits on the training device and crops, flips
    and the uint8→float conversion happen there (on the GPU when training
    on CUDA) with no loader processes.
    """

    def __init__(self, folder: str | Path, crop: int, device: torch.device, short_side: int = 384):
        folder = Path(folder)
        if not folder.is_dir():
            raise UserError(f"{folder}: not a folder of images")
        paths = list_images(folder)
        if not paths:
            raise UserError(f"{folder}: no images found")
        self.crop = crop
        self.images: list[torch.Tensor] = []
        for path in paths:
            rgb = read_image(path)
            # Shrink (never enlarge) to the scale the net will stylize at: the
            # style statistics of a crop, and the size of the strokes the net
            # learns, depend on it. Crops from 2x-downscaled paintings taught
            # strokes too small for 384-512 px images.
            short = min(rgb.shape[:2])
            target = max(crop, min(short, short_side))
            if short != target:
                factor = target / short
                rgb = cv2.resize(rgb, (max(crop, round(rgb.shape[1] * factor)), max(crop, round(rgb.shape[0] * factor))),
                                 interpolation=cv2.INTER_AREA)
            self.images.append(torch.from_numpy(rgb).permute(2, 0, 1).contiguous().to(device))
        self.device = device

    def __len__(self) -> int:
        return len(self.images)

    def sample(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        picks = torch.randint(len(self.images), (batch,), generator=generator).tolist()
        crops = []
        for index in picks:
            image = self.images[index]
            top = int(torch.randint(image.shape[1] - self.crop + 1, (1,), generator=generator))
            left = int(torch.randint(image.shape[2] - self.crop + 1, (1,), generator=generator))
            crop = image[:, top:top + self.crop, left:left + self.crop]
            if torch.rand((), generator=generator) < 0.5:
                crop = crop.flip(-1)
            crops.append(crop)
        return torch.stack(crops).float().div_(255)

    def fixed(self, count: int, seed: int) -> torch.Tensor:
        """The same `count` crops every time, for comparable sample grids."""
        return self.sample(count, torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------- tasks --
class Teacher(NamedTuple):
    """What VGG says about a batch: relu3_1 of content and style, the style statistics, the AdaIN target."""

    content: torch.Tensor
    style: torch.Tensor
    style_stats: dict
    target: torch.Tensor


class _Task:
    """One trainable net and its losses.

    `trainable` is what gets optimised and saved as the checkpoint's model;
    `aux` holds modules that exist only for training (they are optimised
    and checkpointed too, but never shipped).
    """

    net: torch.nn.Module

    def __init__(self, config: TrainConfig, vgg):
        self.config = config
        self.vgg = vgg
        self.aux = torch.nn.ModuleDict()

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
            losses["tv"] = tv_loss(output)
            losses["total"] = losses["total"] + self.config.tv_weight * losses["tv"]
        return losses

    def losses(self, content: torch.Tensor, style: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    @torch.no_grad()
    def stylize(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.net(content, self.net.style([style]))

    def inference_state(self) -> dict[str, torch.Tensor]:
        return self.net.state_dict()


class AdaINTask(_Task):
    """The AdaIN paper's objective: decode AdaIN(VGG(c), VGG(s)) back to an image."""

    def __init__(self, config, vgg):
        super().__init__(config, vgg)
        self.net = AdaINNet(vgg, Decoder(vgg.depth))
        self.trainable = self.net.decoder

    def losses(self, content, style):
        vgg = self.teacher(content, style)
        output = self.net.decoder(vgg.target)[..., : content.shape[-2], : content.shape[-1]]
        return self.perceptual(output, vgg.target, vgg.style_stats)

    def inference_state(self):
        return self.net.decoder.state_dict()


class StudentTask(_Task):
    """AdaIN-r31's objective through the compact net, plus VGG feature distillation.

    The output is judged in VGG space exactly like AdaIN-r31's (content loss
    to the VGG AdaIN target, mean/std style loss), and the compact encoder is
    pulled towards VGG relu3_1 through a 1x1 head, so its statistics carry
    the same meaning as the teacher's.
    """

    def __init__(self, config, vgg):
        super().__init__(config, vgg)
        self.net = StudentNet(config.widths or (16, 32, 64)).to(next(vgg.parameters()).device)
        self.trainable = self.net

    def losses(self, content, style):
        vgg = self.teacher(content, style)
        content_feat = self.net.encoder(content).float()
        style_feat = self.net.encoder(style).float()
        distill = (F.mse_loss(self.net.distill_head(content_feat), vgg.content)
                   + F.mse_loss(self.net.distill_head(style_feat), vgg.style))
        output = self.net.decoder(adain(content_feat, *channel_stats(style_feat)))
        losses = self.perceptual(output[..., : content.shape[-2], : content.shape[-1]], vgg.target, vgg.style_stats)
        losses["distill"] = distill
        losses["total"] = losses["total"] + self.config.distill_weight * distill
        return losses

    def inference_state(self):
        return self.net.inference_state_dict()


def _band_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-sample distance of channel statistics (N,): the style distance of two feature maps."""
    (ma, sa), (mb, sb) = mean_std(a.float()), mean_std(b.float())
    return ((ma - mb) ** 2 + (sa - sb) ** 2).flatten(1).mean(dim=1)


class AesFATask(_Task):
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

    def __init__(self, config, vgg):
        super().__init__(config, vgg)
        width = (config.widths or (32,))[0]
        self.net = AesFANet(width=width)
        self.trainable = self.net
        if config.distill_weight:
            # Stage-2 bands (high at 1/4, low upsampled to it) -> VGG relu3_1, as for the student.
            self.aux["distill_head"] = torch.nn.Conv2d(4 * width, VGG_RELU3_1_CHANNELS, 1)
        self.adain_decoder: Decoder | None = None
        if config.teacher_weight or config.teacher_feature_weight:
            # Our shipped AdaIN-r31 decoder, frozen: its images are the target of output distillation.
            self.adain_decoder = Decoder.from_state_dict(weights.load(zoo.ARBITRARY_WEIGHTS["adain"]))
            self.adain_decoder.to(next(vgg.parameters()).device).eval().requires_grad_(False)

    def losses(self, content, style):
        vgg = self.teacher(content, style)
        content_feats = self.net.encode(content)
        style_feats = self.net.encode(style)
        style_code = self.net.style_code(style_feats[-1])
        kernels = self.net.predict_style(style_code)
        output = self.net.decode(content_feats[-1], kernels)[..., : content.shape[-2], : content.shape[-1]]
        taps = self.output_taps(output)
        losses = self.perceptual(output, vgg.target if self.config.content_target == "adain" else vgg.content,
                                 vgg.style_stats, taps)
        self._add_teacher_terms(losses, output, taps, vgg)
        if "distill_head" in self.aux:
            losses["distill"] = (self._distill(content_feats[-1], vgg.content)
                                 + self._distill(style_feats[-1], vgg.style))
            losses["total"] = losses["total"] + self.config.distill_weight * losses["distill"]
        if content.shape[0] > 1 and self.config.contrastive_weight:
            out_aesthetic = self.net.aesthetic_features(output)
            style_aesthetic = [*style_feats, style_code]
            positive = sum(_band_distance(o, s) for octs in zip(out_aesthetic, style_aesthetic)
                           for o, s in zip(*octs))
            negative = sum(_band_distance(o, s.roll(1, dims=0)) for octs in zip(out_aesthetic, style_aesthetic)
                           for o, s in zip(*octs))
            losses["contrastive"] = (positive / (negative + 1e-6)).mean()
            losses["total"] = losses["total"] + self.config.contrastive_weight * losses["contrastive"]
        if self.config.identity_weight:
            content_kernels = self.net.predict_style(self.net.style_code(content_feats[-1]))
            losses["identity"] = (self._rebuilt(content_feats[-1], content_kernels, content)
                                  + self._rebuilt(style_feats[-1], kernels, style))
            losses["total"] = losses["total"] + self.config.identity_weight * losses["identity"]
        return losses

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
        config = self.config
        if config.teacher_weight:
            losses["teacher"] = F.l1_loss(output.float(), adain_image.float())
            losses["total"] = losses["total"] + config.teacher_weight * losses["teacher"]
        if config.teacher_feature_weight:
            with torch.no_grad():
                adain_taps = self.output_taps(adain_image.clamp(0, 1))
            losses["teacher_features"] = sum(F.mse_loss(taps[name], adain_taps[name]) for name in STYLE_TAPS)
            losses["total"] = losses["total"] + config.teacher_feature_weight * losses["teacher_features"]

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


TASKS = {"adain": AdaINTask, "aesfa": AesFATask, "student": StudentTask}


# --------------------------------------------------------------- trainer --
def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_atomic(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.part")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def sample_grid(task: _Task, contents: torch.Tensor, styles: torch.Tensor) -> np.ndarray:
    """Top row: styles; left column: contents; cells: stylized. RGB uint8."""
    size = contents.shape[-1]
    blank = torch.ones(3, size, size, device=contents.device)
    rows = [torch.cat([blank, *styles], dim=2)]
    for content in contents:
        cells = [content]
        for style in styles:
            cells.append(task.stylize(content[None], style[None])[0].clamp(0, 1))
        rows.append(torch.cat(cells, dim=2))
    grid = torch.cat(rows, dim=1)
    return (grid.permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)


def _widen_log(path: Path, fields: list[str]) -> None:
    """Rewrite a loss log from an older version under the current columns, so appended rows line up."""
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames == fields:
            return
        rows = list(reader)
    tmp = path.with_name(f".{path.name}.part")
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


class Trainer:
    def __init__(self, config: TrainConfig, progress: bool = True):
        if config.kind not in TASKS:
            raise UserError(f"unknown net {config.kind!r}; choose from {', '.join(TASKS)}")
        if config.size < 32 or config.size % 8:
            raise UserError(f"--size must be a multiple of 8 and at least 32, got {config.size}")
        aesfa_only = {"--teacher-weight": config.teacher_weight,
                      "--teacher-feature-weight": config.teacher_feature_weight,
                      "--identity-weight": config.identity_weight,
                      "--content-target adain": config.content_target == "adain"}
        if config.kind != "aesfa" and any(aesfa_only.values()):
            raise UserError(f"{', '.join(k for k, v in aesfa_only.items() if v)}: only for aesfa, not {config.kind}")
        if config.content_target not in ("content", "adain"):
            raise UserError(f"content target must be 'content' or 'adain', got {config.content_target!r}")
        if config.short_side < config.size:
            raise UserError(f"--short-side {config.short_side} is smaller than the --size {config.size} crops")
        self.config = config
        self.progress = progress
        self.device = pick_device(config.device)
        if config.threads:
            torch.set_num_threads(config.threads)
        self.out = Path(config.out)
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "samples").mkdir(exist_ok=True)
        torch.manual_seed(config.seed)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.contents = ImageBank(config.content_dir, config.size, self.device, config.short_side)
        self.styles = ImageBank(config.style_dir, config.size, self.device, config.short_side)
        vgg = zoo.load_vgg().to(self.device)
        self.task = TASKS[config.kind](config, vgg)
        self.task.net.to(self.device)
        self.task.aux.to(self.device)
        self.optimizer = torch.optim.Adam([*self.task.trainable.parameters(), *self.task.aux.parameters()],
                                          lr=config.lr)
        self.average = WeightAverage(self.task.trainable, config.ema_decay) if config.ema_decay else None
        self.step = 0
        self.preview_contents = self.contents.fixed(4, seed=1)
        self.preview_styles = self.styles.fixed(4, seed=2)

    # --- checkpoints
    def checkpoint(self) -> Path:
        path = self.out / "checkpoint.pt"
        save_atomic({"kind": self.config.kind, "step": self.step, "config": self.config.as_dict(),
                     "model": self.task.trainable.state_dict(), "aux": self.task.aux.state_dict(),
                     **({"average": self.average.state_dict()} if self.average else {}),
                     "optimizer": self.optimizer.state_dict(),
                     "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state()}, path)
        return path

    def resume(self, path: str | Path) -> None:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"--resume {path}: no such checkpoint")
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("kind") != self.config.kind:
            raise UserError(f"--resume {path}: checkpoint is for {state.get('kind')!r}, not {self.config.kind!r}")
        try:
            self.task.trainable.load_state_dict(state["model"])
            self.task.aux.load_state_dict(state.get("aux", {}))
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError) as error:
            saved = state.get("config", {})
            raise UserError(f"--resume {path}: the checkpoint does not fit this net; it was trained with "
                            f"--widths {saved.get('widths')} and --distill-weight {saved.get('distill_weight')} "
                            f"({str(error).splitlines()[0]})") from None
        if self.average:
            # A run that kept no average (or a different one) starts it from the weights it resumes.
            self.average = WeightAverage(self.task.trainable, self.config.ema_decay)
            if "average" in state:
                self.average.load_state_dict(state["average"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        self.step = state["step"]

    def averaged(self):
        """A context with the weights that stand for the run in the net: the average if kept."""
        return self.average.applied(self.task.trainable) if self.average else contextlib.nullcontext()

    def export(self) -> Path:
        """fp16 inference weights plus their sha256, for the registry."""
        path = self.out / f"{self.config.kind}.pt"
        with self.averaged():
            state = {k: v.detach().half().cpu() for k, v in self.task.inference_state().items()}
        save_atomic(state, path)
        (self.out / f"{path.name}.sha256").write_text(f"{sha256_file(path)}  {path.name}\n")
        return path

    @torch.no_grad()
    def evaluate(self, content: torch.Tensor, style: torch.Tensor) -> dict[str, float]:
        """The losses on a fixed batch, without training (for held-out checks)."""
        self.task.net.eval()
        with self.averaged():
            losses = {k: float(v) for k, v in self.task.losses(content, style).items()}
        self.task.net.train()
        return losses

    # --- loop
    def _log(self, writer, losses: dict[str, float], seconds: float) -> None:
        writer.writerow({"step": self.step, "seconds": round(seconds, 2), **{k: f"{v:.6g}" for k, v in losses.items()}})

    def _sample(self) -> Path:
        self.task.net.eval()
        with self.averaged():
            grid = sample_grid(self.task, self.preview_contents, self.preview_styles)
        self.task.net.train()
        path = self.out / "samples" / f"step_{self.step:06d}.png"
        cv2.imwrite(str(path), grid[:, :, ::-1])
        return path

    def run(self) -> dict[str, float]:
        config = self.config
        bf16 = use_bf16(config.precision, self.device)
        log_path = self.out / "losses.csv"
        fields = ["step", "seconds", "total", "content", "style", "tv", "distill", "contrastive", "identity", "teacher",
                  "teacher_features"]
        new_log = not log_path.exists() or self.step == 0
        if not new_log:
            _widen_log(log_path, fields)
        started = time.perf_counter()
        last: dict[str, float] = {}
        self.task.net.train()
        with open(log_path, "w" if new_log else "a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
            if new_log:
                writer.writeheader()
            bar = tqdm(total=config.steps, initial=self.step, desc=f"train {config.kind}", unit="step",
                       disable=not self.progress, dynamic_ncols=True)
            try:
                while self.step < config.steps:
                    for group in self.optimizer.param_groups:
                        group["lr"] = config.lr / (1 + config.lr_decay * self.step)
                    content = self.contents.sample(config.batch, self.generator)
                    style = self.styles.sample(config.batch, self.generator)
                    with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16):
                        losses = self.task.losses(content, style)
                    self.optimizer.zero_grad(set_to_none=True)
                    losses["total"].backward()
                    self.optimizer.step()
                    if self.average:
                        self.average.update(self.task.trainable)
                    self.step += 1
                    last = {k: float(v.detach()) for k, v in losses.items()}
                    if not math.isfinite(last["total"]):
                        raise UserError(f"loss became {last['total']} at step {self.step}; lower --lr")
                    bar.update(1)
                    if self.step % config.log_every == 0 or self.step == config.steps:
                        bar.set_postfix({k: f"{v:.3g}" for k, v in last.items()})
                        self._log(writer, last, time.perf_counter() - started)
                        handle.flush()
                    if self.step % config.sample_every == 0 or self.step == config.steps:
                        self._sample()
                    if self.step % config.checkpoint_every == 0:
                        self.checkpoint()
            finally:
                bar.close()
                self.checkpoint()  # also on Ctrl-C, so --resume loses nothing
        self.export()
        return last
