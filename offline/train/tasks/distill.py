"""Distil an offline look (Gatys, DiffStyler over keyframes) into a per-look live net.

The net is models/distilled.py's DistilledNet: the CPU student's encoder and
decoder with the look's AdaIN statistics built in, started from the shipped
student. We chose it by speed: it is the only live net near 30 fps at
640x480 on two CPU cores (student 28.4 fps in ONNX Runtime against 4.7 for
AesFA and 1.1 for AdaIN-r31, bench/results/speed_*), so fine-tuning a VGG or
AesFA decoder could not be live here whatever its fidelity. By default it is
thinned to widths 16,24,48 (from the student's strongest channels): 1.19x the
student's fps timed in turns, and on the street look it flickered less and
stayed closer to the paintings than AdaIN-r31 (README, "Offline looks").
The temporal weights (60 each, shift and flow) were chosen the same way:
both terms together flickered least, neither cost fidelity.

`config.content_dir` is the look folder (`stylize look ... -o LOOKDIR`) and
`config.style_dir` a video of the same scenes (or the look folder again):
its frames are the unseen frames of the style and temporal terms. The loss:

* pixel: L1 to the painting on aligned crops of keyframe and painting;
* content: VGG relu3_1 MSE to the painting's (the perceptual match);
* style: mean/std at relu1_1..relu3_1 against the paintings', on keyframes
  and on the unseen video frames;
* temporal (shift): on video frames, the output of a crop against that of
  the same crop shifted by a few pixels, with a little noise: the difference
  a shift makes between neighbouring frames is flicker, since a stride-4
  encoder is not shift-equivariant by itself;
* flow: on pairs of neighbouring video frames, the output for frame t
  against the output for frame t-1 warped onto t along their optical flow,
  where the flow is consistent (offline/train/flow_pairs.py): real motion,
  occlusions left out.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from stylize.errors import OptionError
from stylize.imageio import read_image, resize_to
from stylize.models import weights
from stylize.models.adain import channel_stats
from stylize.models.distilled import DistilledNet
from stylize.models.losses import mean_std, mean_std_style_loss
from stylize.models.student import StudentNet
from stylize.offline.look_pass import read_look
from stylize.offline.train.config import option
from stylize.offline.train.data import ImageBank, shrink_for_crops
from stylize.offline.train.flow_pairs import FlowPairBank, flow_difference
from stylize.offline.train.tasks.base import STYLE_TAPS, Task, add_term

BORDER = 8  # pixels left out of the temporal comparison: padding makes the edges differ anyway


@dataclass
class DistillOptions:
    pixel_weight: float = option(5.0, "weight of the pixel L1 to the painted keyframes (default %(default)s)")
    temporal_weight: float = option(60.0, "weight of the temporal term, the L1 between the outputs of a crop and "
                                          "of the same crop shifted, on video frames (default %(default)s; 0: off)")
    flow_weight: float = option(60.0, "weight of the flow term, the L1 between the output for a video frame and "
                                      "the previous frame's warped along the optical flow (default %(default)s; "
                                      "0: off; needs a video)")
    max_shift: int = option(3, "largest shift in pixels of the temporal term (default %(default)s)")
    noise: float = option(0.02, "std of the noise added to the shifted crop (default %(default)s, in [0,1] units)")
    frames_per_step: int = option(2, "video frames per step for the style and temporal terms (default %(default)s)")
    widths: str = option("16,24,48", "channels of the net, at most the student's 16,32,64; fewer run faster; "
                                     "it starts from the student's strongest channels (default %(default)s)")
    hold_out: int = option(0, "keyframes left out of training, spread over the clip, for `stylize bench distill` "
                              "to measure fidelity on (default %(default)s)")


def held_out(pairs: list, count: int) -> list:
    """`count` pairs spread evenly over the clip (never the first), kept out of training."""
    if count <= 0:
        return []
    if count >= len(pairs):
        raise OptionError(f"--hold-out {count} leaves no keyframe to train on ({len(pairs)} painted)")
    return [pairs[min(len(pairs) - 1, 1 + round((i + 0.5) * (len(pairs) - 1) / count))] for i in range(count)]


def _look_pairs(look_dir: str, short_side: int, crop: int, hold_out: int) -> list[np.ndarray]:
    """Each training keyframe with its painting as one 6-channel image, so crops and flips stay aligned."""
    _, pairs = read_look(look_dir)
    kept = held_out(pairs, hold_out)
    stacked = []
    for pair in (p for p in pairs if p not in kept):
        keyframe = shrink_for_crops(read_image(pair.keyframe), crop, short_side)
        painting = resize_to(read_image(pair.look), *keyframe.shape[:2])
        stacked.append(np.concatenate([keyframe, painting], axis=2))
    return stacked


class DistillTask(Task):
    """Fine-tune the student, its look built in, to reproduce the offline paintings on any frame."""

    name = "distill"
    summary = "a per-look live net distilled from an offline look (stylize look) on a video's keyframes"
    Options = DistillOptions
    loss_terms = ("pixel", "temporal", "flow")

    @classmethod
    def data(cls, config, options: DistillOptions, device: torch.device) -> tuple[ImageBank, ImageBank]:
        """(keyframe+painting pairs, unseen frames): the video's, with flow to their previous frames (9
        channels, FlowPairBank), else the training keyframes themselves (3 channels)."""
        stacked = _look_pairs(config.content_dir, config.short_side, config.crop, options.hold_out)
        pairs = ImageBank.of(stacked, config.crop, device)
        if config.style_dir == config.content_dir:
            return pairs, ImageBank.of([pair[..., :3] for pair in stacked], config.crop, device)
        return pairs, FlowPairBank.from_video(config.style_dir, config.short_side, config.crop, device)

    def build_net(self) -> DistilledNet:
        pairs = read_look(self.config.content_dir)[1]
        kept = held_out(pairs, self.options.hold_out)
        paintings = [read_image(pair.look) for pair in pairs if pair not in kept]
        self.look_stats = self._painting_stats(paintings)
        student = StudentNet.from_inference_state_dict(weights.load("student"))
        means, stds = zip(*(channel_stats(student.encoder(_tensor(p))) for p in paintings))
        net = DistilledNet.from_student(student, torch.cat(means).mean(0), torch.cat(stds).mean(0))
        return net.thinned(_widths(self.options.widths, net.widths)) if self.options.widths else net

    @torch.no_grad()
    def _painting_stats(self, paintings: list[np.ndarray]) -> dict:
        """The style target: mean/std per VGG tap, averaged over the paintings."""
        per = [{k: mean_std(v.float()) for k, v in self.vgg.taps(_tensor(p).to(self.device), STYLE_TAPS).items()}
               for p in paintings]
        return {tap: tuple(torch.stack([s[tap][i] for s in per]).mean(0) for i in range(2)) for tap in STYLE_TAPS}

    def losses(self, pairs: torch.Tensor, frames: torch.Tensor) -> dict[str, torch.Tensor]:
        keyframes, paintings = pairs[:, :3], pairs[:, 3:]
        output = self.net.unit_forward(keyframes)
        with torch.no_grad():
            target = self.vgg(paintings).float()
        losses = self.perceptual(output, target, self.look_stats)
        add_term(losses, "pixel", F.l1_loss(output.float(), paintings), self.options.pixel_weight)
        frames = frames[: self.options.frames_per_step]
        unseen = self.net.unit_forward(frames[:, :3])
        unseen_style = mean_std_style_loss(self.output_taps(unseen), self.look_stats)
        # The style term counts keyframes and unseen frames alike.
        losses["total"] = losses["total"] + self.config.style_weight * (unseen_style - losses["style"]) / 2
        losses["style"] = (losses["style"] + unseen_style) / 2
        if self.options.temporal_weight:
            add_term(losses, "temporal", F.l1_loss(*self._shifted_pair(frames[:, :3])), self.options.temporal_weight)
        if self.options.flow_weight and frames.shape[1] > 3:
            previous = self.net.unit_forward(frames[:, 3:6])
            add_term(losses, "flow", flow_difference(unseen, previous, frames[:, 6:], BORDER), self.options.flow_weight)
        return losses

    def _shifted_pair(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the part of crop A's output that B also shows, the same part of B's output); B = A moved by (dy, dx)."""
        shift = self.options.max_shift
        dy, dx = (int(v) for v in torch.randint(-shift, shift + 1, (2,)))
        height, width = frames.shape[-2] - shift * 2, frames.shape[-1] - shift * 2
        crop_a = frames[..., shift:shift + height, shift:shift + width]
        crop_b = frames[..., shift + dy:shift + dy + height, shift + dx:shift + dx + width]
        crop_b = (crop_b + self.options.noise * torch.randn_like(crop_b)).clamp(0, 1)
        out_a, out_b = self.net.unit_forward(crop_a), self.net.unit_forward(crop_b)
        # B[i, j] shows A[i + dy, j + dx]; compare where both do, away from the padded borders.
        ys, xs = slice(BORDER + max(dy, 0), height - BORDER + min(dy, 0)), slice(BORDER + max(dx, 0),
                                                                                  width - BORDER + min(dx, 0))
        ys_b, xs_b = slice(ys.start - dy, ys.stop - dy), slice(xs.start - dx, xs.stop - dx)
        return out_a[..., ys, xs].float(), out_b[..., ys_b, xs_b].float()

    @torch.no_grad()
    def stylize(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.net.unit_forward(content[:, :3])

    def preview(self, pairs: torch.Tensor, frames: torch.Tensor) -> np.ndarray:
        """Rows: keyframe | painting | the net's output; then unseen frames | their outputs."""
        rows = [torch.cat([p[:3], p[3:], self.stylize(p[None], p[None])[0].clamp(0, 1)], dim=2) for p in pairs]
        grid = torch.cat(rows, dim=1)
        return (grid.permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)

    def inference_state(self) -> dict[str, torch.Tensor]:
        return self.net.state_dict()


def _widths(text: str, student: tuple[int, ...]) -> tuple[int, ...]:
    """`--widths 16,32,48` as numbers, each at least 4 and at most the student's."""
    try:
        widths = tuple(int(part) for part in text.split(","))
    except ValueError:
        widths = ()
    if len(widths) != len(student) or not all(4 <= new <= old for new, old in zip(widths, student)):
        raise OptionError(f"--widths {text!r}: give {len(student)} whole numbers, each from 4 to the student's "
                          f"({','.join(map(str, student))})")
    return widths


def _tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float().div(255)


def work_folder(net_path: str | os.PathLike) -> Path:
    """Where a distillation keeps its checkpoint, loss log and samples: NET.pt -> NET.distill/."""
    path = Path(net_path)
    return path.with_name(path.stem + ".distill")


def distill_look(look_dir: str | os.PathLike, net_path: str | os.PathLike, *, video: str | os.PathLike | None = None,
                 options: DistillOptions | None = None, long_side: int | None = None, progress: bool = True,
                 resume: bool = False, **config) -> dict:
    """Train a distilled net for the look in `look_dir` and write it to `net_path` (with its sidecar).

    `config` holds TrainConfig fields (steps, crop, short_side, batch, lr, device, threads, seed, ...);
    `long_side` sets short_side from the keyframes' shape, so their long side is that many pixels.
    With `resume`, the checkpoint in the work folder (`work_folder(net_path)`) is continued.
    Returns the sidecar record, with the last step's losses under "losses".
    """
    from stylize.errors import OutputError
    from stylize.jobs import check_output
    from stylize.models.distilled import write_net
    from stylize.offline.train.config import TrainConfig
    from stylize.offline.train.trainer import Trainer

    net_path = Path(net_path)
    check_output(net_path, "the distilled net")
    if net_path.exists():
        raise OutputError(f"{net_path} exists already; give a new file name")
    record, pairs = read_look(look_dir)
    if long_side:
        height, width = read_image(pairs[0].keyframe).shape[:2]
        config["short_side"] = max(config.get("crop", 256), round(long_side * min(height, width) / max(height, width)))
    out = work_folder(net_path)
    settings = TrainConfig(kind="distill", content_dir=str(look_dir), style_dir=str(video or look_dir), out=str(out),
                           **{"checkpoint_every": 100, "sample_every": 100, **config})
    trainer = Trainer(settings, options or DistillOptions(), progress=progress)
    if resume and (out / "checkpoint.pt").is_file():
        trainer.resume(out / "checkpoint.pt")
    losses = trainer.run()
    styles = ", ".join(Path(s).name for s in record.get("styles", []))
    with trainer.averaged():
        kept = [p.look.name for p in held_out(pairs, trainer.options.hold_out)]
        about = {"look": f"{record.get('kind', '?')} with {styles} on {len(pairs) - len(kept)} keyframes",
                 "held_out": kept,
                 "look_dir": str(Path(look_dir).resolve()), "video": str(video) if video else None,
                 "steps": trainer.step, "train": trainer.settings()}
        sidecar = write_net(net_path, trainer.task.net, about)
    return {**sidecar, "losses": losses}
