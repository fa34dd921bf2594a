"""Neighbouring video frames with the optical flow between them, for a flow-warped temporal loss.

For each pair (frame t-1, frame t) of a clip, DIS flow (realtime/flow.py) from
t to t-1 and the forward-backward consistency mask are computed once, at the
training size, and held in memory beside the frames. A training crop is cut
from all of them at once, so `flow_difference` can pull the net's output for
t-1 onto t along real motion and compare it with the output for t where the
flow is trustworthy: what the viewer sees as flicker.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from stylize.offline.train.data import ImageBank, shrink_for_crops
from stylize.realtime.flow import FlowEstimator, consistency_mask

MAX_PAIRS = 96  # pairs kept from a clip: their frames and flows stay in memory
FLOW_SIDE = 512  # the flow is computed at most at this long side and resized to the frames'
MIN_VALID = 0.5  # a pair whose flow is trustworthy on less of the picture (a scene cut) is left out


def neighbour_frames(video: str, short_side: int, crop: int, count: int = MAX_PAIRS) -> list[tuple]:
    """Up to `count` (frame t-1, frame t) pairs spread over `video`, shrunk for crops of `crop`."""
    from stylize.jobs import open_video

    pairs, previous = [], None
    with open_video(video, None) as source:
        step = max(1, (source.frame_count or count) // count)
        for frame in source:
            if previous is not None and frame.index % step == 0:
                pairs.append(tuple(shrink_for_crops(f, crop, short_side) for f in (previous, frame.image)))
                if len(pairs) == count:
                    break
            previous = frame.image
    return pairs


def pair_flows(pairs: list[tuple], progress: bool = True) -> list[np.ndarray]:
    """Per pair, HxWx3 float32 on frame t's grid: the flow to frame t-1 (dx, dy) and 1 where it is consistent."""
    estimator = FlowEstimator(max_side=FLOW_SIDE, preset="medium")
    flows = []
    for previous, current in tqdm(pairs, desc="flow between neighbouring frames", disable=not progress,
                                  leave=False):
        back = estimator(current, previous)
        valid = consistency_mask(back, estimator(previous, current))
        flows.append(np.concatenate([back, valid[..., None].astype(np.float32)], axis=2))
    return flows


class FlowPairBank(ImageBank):
    """Crops of (frame t, frame t-1, flow t→t-1, valid) as one 9-channel batch; frames in [0, 1], flow in pixels."""

    @classmethod
    def from_video(cls, video: str, short_side: int, crop: int, device: torch.device,
                   progress: bool = True) -> "FlowPairBank":
        pairs = neighbour_frames(video, short_side, crop)
        flows = pair_flows(pairs, progress)
        # A clip that is all cuts keeps every pair rather than none.
        kept = [(pair, flow) for pair, flow in zip(pairs, flows) if flow[..., 2].mean() >= MIN_VALID] or \
            list(zip(pairs, flows))
        bank = cls.of([np.concatenate([current, previous], axis=2) for (previous, current), _ in kept], crop, device)
        bank.flows = [torch.from_numpy(flow).permute(2, 0, 1).contiguous().to(device) for _, flow in kept]
        return bank

    def sample(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        crops = []
        for index, top, left, flipped in self.windows(batch, generator):
            window = (slice(None), slice(top, top + self.crop), slice(left, left + self.crop))
            frames, flow = self.images[index][window].float().div(255), self.flows[index][window].clone()
            if flipped:  # a mirrored picture moves the other way
                frames, flow = frames.flip(-1), flow.flip(-1)
                flow[0] = -flow[0]
            crops.append(torch.cat([frames, flow]))
        return torch.stack(crops)


def warp(images: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """`images` (B,C,H,W) sampled at x + flow(x) (flow B,2,H,W in pixels), bilinearly: pulled onto flow's grid."""
    height, width = images.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(height, device=flow.device, dtype=flow.dtype),
                            torch.arange(width, device=flow.device, dtype=flow.dtype), indexing="ij")
    grid = torch.stack([(xs + flow[:, 0]) * (2 / max(1, width - 1)) - 1,
                        (ys + flow[:, 1]) * (2 / max(1, height - 1)) - 1], dim=-1)
    return F.grid_sample(images, grid.to(images.dtype), mode="bilinear", padding_mode="border", align_corners=True)


def flow_difference(current: torch.Tensor, previous: torch.Tensor, flow: torch.Tensor, border: int) -> torch.Tensor:
    """Mean L1 between `current` and `previous` warped onto it, over consistent pixels.

    `flow` is (B,3,H,W): the flow from t to t-1 and its validity. Pixels within
    `border` of the crop's edge, or whose flow leads there, are left out: the
    net's padding makes them differ whatever the motion.
    """
    height, width = current.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(height, device=flow.device, dtype=flow.dtype),
                            torch.arange(width, device=flow.device, dtype=flow.dtype), indexing="ij")
    to_x, to_y = xs + flow[:, 0], ys + flow[:, 1]

    def inside(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (x >= border) & (x <= width - 1 - border) & (y >= border) & (y <= height - 1 - border)

    valid = ((flow[:, 2] > 0.5) & inside(xs, ys) & inside(to_x, to_y)).unsqueeze(1).to(current.dtype)
    difference = (current.float() - warp(previous.float(), flow[:, :2].float())).abs() * valid
    return difference.sum() / (valid.sum() * current.shape[1]).clamp(min=1)
