"""Training images: a folder held in memory on the training device, served as random square crops."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from stylize.errors import InputError
from stylize.imageio import list_images, read_image


def shrink_for_crops(rgb: np.ndarray, crop: int, short_side: int) -> np.ndarray:
    """Shrink (never enlarge) an image to `short_side`, keeping both sides at least `crop`.

    The scale sets what the net learns: the style statistics of a crop and the
    size of the strokes depend on it. Crops from 2x-downscaled paintings taught
    strokes too small for 384-512 px images.
    """
    short = min(rgb.shape[:2])
    target = max(crop, min(short, short_side))
    if short == target:
        return rgb
    factor = target / short
    size = (max(crop, round(rgb.shape[1] * factor)), max(crop, round(rgb.shape[0] * factor)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


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
            raise InputError(f"{folder}: not a folder of images")
        paths = list_images(folder)
        if not paths:
            raise InputError(f"{folder}: no images found")
        self.crop = crop
        self.device = device
        self.images = [torch.from_numpy(shrink_for_crops(read_image(path), crop, short_side))
                       .permute(2, 0, 1).contiguous().to(device) for path in paths]

    @classmethod
    def of(cls, images: list[np.ndarray], crop: int, device: torch.device) -> "ImageBank":
        """A bank of pictures already in memory (HxWxC uint8, any C: aligned channels crop and flip together)."""
        if not images:
            raise InputError("no images to train on")
        bank = cls.__new__(cls)
        bank.crop, bank.device = crop, device
        bank.images = [torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).contiguous().to(device)
                       for image in images]
        return bank

    def __len__(self) -> int:
        return len(self.images)

    def windows(self, batch: int, generator: torch.Generator) -> list[tuple[int, int, int, bool]]:
        """`batch` random crops as (image index, top, left, flipped left-right)."""
        picks = torch.randint(len(self.images), (batch,), generator=generator).tolist()
        chosen = []
        for index in picks:
            image = self.images[index]
            top = int(torch.randint(image.shape[1] - self.crop + 1, (1,), generator=generator))
            left = int(torch.randint(image.shape[2] - self.crop + 1, (1,), generator=generator))
            chosen.append((index, top, left, bool(torch.rand((), generator=generator) < 0.5)))
        return chosen

    def sample(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """`batch` random crops, each flipped left-right with probability 1/2, as floats in [0, 1]."""
        crops = []
        for index, top, left, flipped in self.windows(batch, generator):
            crop = self.images[index][:, top:top + self.crop, left:left + self.crop]
            crops.append(crop.flip(-1) if flipped else crop)
        return torch.stack(crops).float().div_(255)

    def fixed(self, count: int, seed: int) -> torch.Tensor:
        """The same `count` crops every time, for comparable sample grids."""
        return self.sample(count, torch.Generator().manual_seed(seed))
