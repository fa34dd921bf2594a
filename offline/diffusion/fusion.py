"""Mask-wise fusion: each mask region is denoised by its own style LoRA; outside every mask the content stays.

Per sampling step: the base UNet runs on the content's inverted latent (the
injection source, see injection.py); then each style LoRA whose mask is not
empty predicts, with guidance and its own prompt, on the shared generated
latent, with the source's features and self-attention injected. The
predictions are blended by the masks (normalised where masks overlap) and the
DDIM step is taken; where the masks do not reach (weight 1 - sum of masks,
floored at 0) the latent is replaced by the inversion's own latent for the
next timestep, so those regions follow the content's trajectory exactly and
end at its clean latent.
"""
from __future__ import annotations

import contextlib
from collections.abc import Sequence

import cv2
import numpy as np
import torch
from tqdm import tqdm

from stylize.offline.diffusion.injection import FeatureInjector
from stylize.offline.diffusion.inversion import Trajectory, alpha, ddim_move
from stylize.offline.diffusion.lora import StyleLora, add_adapter, base_model
from stylize.offline.diffusion.parts import DiffusionParts, encode_prompt
from stylize.offline.diffusion.settings import DiffStylerSettings


def latent_weights(masks: Sequence[np.ndarray], size: tuple[int, int], device: torch.device) -> torch.Tensor:
    """HxW masks in [0,1] -> n x 1 x h x w float32 weights at the latent size (area-averaged)."""
    cells = [cv2.resize(np.clip(m, 0, 1).astype(np.float32), (size[1], size[0]), interpolation=cv2.INTER_AREA)
             for m in masks]
    return torch.from_numpy(np.stack(cells)[:, None]).to(device)


def shares(weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(each mask's share of the styled prediction, the styled weight): shares sum to 1 wherever a mask reaches."""
    total = weights.sum(0, keepdim=True)
    return weights / total.clamp_min(1e-6), total.clamp(0, 1)


@contextlib.contextmanager
def attached(unet, loras: Sequence[StyleLora]):
    """The LoRAs attached under private names (yielded in order), removed on exit."""
    names = []
    try:
        for index, lora in enumerate(loras):
            names.append(f"diffstyler_{index}")
            add_adapter(unet, names[-1], lora.rank, lora.state)
        yield names
    finally:
        if names:
            unet.delete_adapters(names)


def _guided(parts: DiffusionParts, x: torch.Tensor, timestep: int, cond: torch.Tensor, uncond: torch.Tensor,
            guidance: float) -> torch.Tensor:
    """The active adapter's classifier-free guided output at x."""
    if guidance == 1:
        return parts.unet(x, timestep, encoder_hidden_states=cond).sample
    both = parts.unet(torch.cat([x, x]), timestep, encoder_hidden_states=torch.cat([uncond, cond])).sample
    unconditional, conditional = both.chunk(2)
    return unconditional + guidance * (conditional - unconditional)


@torch.no_grad()
def denoise_masked(parts: DiffusionParts, trajectory: Trajectory, loras: Sequence[StyleLora],
                   weights: torch.Tensor, settings: DiffStylerSettings, progress: bool = False) -> torch.Tensor:
    """The fused clean latent: loras[i] paints weights[i] (n x 1 x h x w at the latent size)."""
    if len(loras) != len(weights):
        raise ValueError(f"{len(loras)} LoRAs but {len(weights)} masks")
    share, inside = (w.to(parts.dtype) for w in shares(weights))
    source_embeds, uncond = encode_prompt(parts, ""), encode_prompt(parts, settings.negative_prompt)
    conds = [encode_prompt(parts, lora.prompt) for lora in loras]
    painting = [i for i in range(len(loras)) if share[i].any()]
    n_features, n_attention = settings.injection_steps()
    steps, x = trajectory.timesteps, trajectory.noisiest
    with attached(parts.unet, loras) as names, FeatureInjector(parts.unet) as injector:
        for index, timestep in enumerate(tqdm(steps, desc="DiffStyler", disable=not progress, leave=False)):
            injector.record()
            with base_model(parts.unet):
                parts.unet(trajectory.latents[timestep], timestep, encoder_hidden_states=source_embeds)
            injector.inject(features=index < n_features, attention=index < n_attention)
            output = torch.zeros_like(x)
            for i in painting:
                parts.unet.set_adapter(names[i])
                output += share[i] * _guided(parts, x, timestep, conds[i], uncond, settings.guidance)
            injector.off()
            there = steps[index + 1] if index + 1 < len(steps) else None
            moved = ddim_move(x, output, alpha(parts, timestep), alpha(parts, there), parts.prediction_type)
            x = inside * moved + (1 - inside) * trajectory.after(index)
    return x
