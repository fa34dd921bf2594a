"""Lay a trained student out in another decoder design and width, as the start of a fine-tune.

    python -m stylize.offline.train.student_redesign --photos ../shared/data/train/content -o runs/redesign
    stylize train student --content ... --style ... --init runs/redesign/student.pt -o runs/student

The first two encoder convs and the decoder's half-resolution conv keep their
weights. Narrowing the last encoder conv keeps the channels that carry the
most into the decoder: their feature std over the photos times the norm of
the decoder weights that read them. The "resize" decoder's RGB conv starts as
the mean of the pixel shuffle's four sub-pixel convs, so the new net starts
as a smoothed copy of the old one's output and the fine-tune only has to
sharpen it and learn the zero padding.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

from stylize.imageio import list_images, read_image, write_atomic
from stylize.models import zoo
from stylize.models.student import SUBPIXELS, StudentNet
from stylize.models.weights import sha256_of
from stylize.offline.train.trainer import save_atomic

RANKING_SIDE = 256  # photos are resized to this for the channel ranking
RANKING_PHOTOS = 16


@torch.no_grad()
def channel_ranking(net: StudentNet, photos: list[np.ndarray]) -> torch.Tensor:
    """The last encoder conv's channels, most useful first (feature std x decoder weight norm)."""
    stds = torch.stack([net.encoder(_tensor(photo)).std(dim=(0, 2, 3)) for photo in photos]).mean(0)
    reading = net.decoder.at_quarter[0].weight.pow(2).sum(dim=(0, 2, 3)).sqrt()
    return torch.argsort(stds * reading, descending=True)


def _tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255


@torch.no_grad()
def redesign(net: StudentNet, width: int, photos: list[np.ndarray]) -> StudentNet:
    """A resize student whose last encoder conv has `width` channels, started from the trained shuffle `net`."""
    if net.design != "shuffle":
        raise ValueError("only a shuffle student can be laid out as a resize one")
    keep = torch.sort(channel_ranking(net, photos)[:width]).values
    old = net.inference_state_dict()
    state = dict(old)
    for key in ("encoder.4.weight", "encoder.4.bias"):
        state[key] = old[key][keep]
    state["decoder.at_quarter.0.weight"] = old["decoder.at_quarter.0.weight"][:, keep]
    # Pixel shuffle channel c*4+k is sub-pixel k of colour c.
    rgb_weight, rgb_bias = old["decoder.at_half.2.weight"], old["decoder.at_half.2.bias"]
    state["decoder.at_half.2.weight"] = rgb_weight.reshape(3, SUBPIXELS, *rgb_weight.shape[1:]).mean(1)
    state["decoder.at_half.2.bias"] = rgb_bias.reshape(3, SUBPIXELS).mean(1)
    return StudentNet.from_inference_state_dict({k: v.float() for k, v in state.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, required=True, help="folder of photos for the channel ranking")
    parser.add_argument("--width", type=int, default=48, help="channels of the last encoder conv (default 48)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="folder for student.pt (+ .sha256)")
    args = parser.parse_args()
    net = zoo.load("student").float().eval()
    photos = [cv2.resize(read_image(p), (RANKING_SIDE, RANKING_SIDE), interpolation=cv2.INTER_AREA)
              for p in list_images(args.photos)[:RANKING_PHOTOS]]
    new = redesign(net, args.width, photos)
    args.output.mkdir(parents=True, exist_ok=True)
    path = args.output / "student.pt"
    save_atomic(new.inference_state_dict(), path)
    write_atomic(path.with_name(path.name + ".sha256"), f"{sha256_of(path)}  {path.name}\n".encode())
    print(f"{path}: widths {new.widths}, design {new.design}")


if __name__ == "__main__":
    main()
