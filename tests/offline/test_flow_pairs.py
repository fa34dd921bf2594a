"""Neighbouring frames with their flow: the previous frame warped along it lands on the current one."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from helpers import write_clip
from stylize.offline.train.flow_pairs import FlowPairBank, flow_difference

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _panning(count: int, height: int = 96, width: int = 128, speed: float = 2.0) -> list[np.ndarray]:
    """A smooth random picture moving left by `speed` pixels a frame."""
    rng = np.random.default_rng(7)
    coarse = rng.integers(0, 256, (height // 8, (width + round(speed * count)) // 8 + 2, 3)).astype(np.float32)
    big = cv2.resize(coarse, (coarse.shape[1] * 8, height), interpolation=cv2.INTER_CUBIC)
    return [np.ascontiguousarray(np.clip(big[:, round(speed * i):round(speed * i) + width], 0, 255)
                                 .astype(np.uint8)) for i in range(count)]


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> FlowPairBank:
    clip = write_clip(tmp_path_factory.mktemp("flow") / "pan.mp4", _panning(12), fps=12)
    return FlowPairBank.from_video(str(clip), short_side=96, crop=64, device=torch.device("cpu"), progress=False)


def test_the_flow_carries_the_previous_frame_onto_the_current_one(bank):
    assert len(bank) == 11  # every neighbouring pair of the 12 frames
    crops = bank.sample(16, torch.Generator().manual_seed(0))
    assert crops.shape == (16, 9, 64, 64)
    current, previous, flow = crops[:, :3], crops[:, 3:6], crops[:, 6:]
    assert flow[:, 2].mean() > 0.8  # a pan is visible almost everywhere
    still = torch.cat([torch.zeros_like(flow[:, :2]), flow[:, 2:]], dim=1)
    warped, unwarped = flow_difference(current, previous, flow, 4), flow_difference(current, previous, still, 4)
    print(f"L1 current vs previous: warped {warped:.5f}, not warped {unwarped:.5f}")
    assert warped < 0.4 * unwarped


def test_a_mirrored_crop_mirrors_its_flow(bank):
    """Half the crops are flipped: the picture moves right in them, and the flow must say so."""
    crops = bank.sample(32, torch.Generator().manual_seed(1))
    moving = crops[:, 6] * crops[:, 8]  # dx where the flow is valid
    mean_dx = moving.flatten(1).sum(1) / crops[:, 8].flatten(1).sum(1)
    # Frame t shows what t-1 showed 2 px to the right (left when mirrored).
    assert ((mean_dx - 2).abs() < 0.5).sum() + ((mean_dx + 2).abs() < 0.5).sum() == len(crops)
    assert 0 < (mean_dx > 0).sum() < len(crops)
