"""Deterministic DDIM both ways: invert a content latent into noise, and denoise back along the same timesteps.

One update serves both directions: from the model's output at a latent it
estimates the clean latent and the noise, then re-noises the estimate to the
target noise level. Inversion evaluates the model at the current (less noisy)
latent with the target timestep, sampling at the current latent with its own
timestep, so the two are mirror images; the gap between them is the DDIM
inversion error, which shrinks with the step size.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from tqdm import tqdm

from stylize.errors import OptionError
from stylize.offline.diffusion.parts import DiffusionParts, encode_prompt

CLEAN_ALPHA = 1.0  # the clean latent's noise level: all signal


@dataclass
class Trajectory:
    """The content's latents along the inversion: one per sampling timestep, noisiest first, and the clean one."""
    timesteps: list[int]  # sampling order, descending
    latents: dict[int, torch.Tensor]
    clean: torch.Tensor

    def after(self, index: int) -> torch.Tensor:
        """The latent one sampling step less noisy than timesteps[index]."""
        return self.latents[self.timesteps[index + 1]] if index + 1 < len(self.timesteps) else self.clean

    @property
    def noisiest(self) -> torch.Tensor:
        return self.latents[self.timesteps[0]]


def sampling_timesteps(parts: DiffusionParts, steps: int) -> list[int]:
    """The scheduler's DDIM timesteps for `steps` steps, noisiest first."""
    parts.scheduler.set_timesteps(steps)
    return [int(t) for t in parts.scheduler.timesteps]


def alpha(parts: DiffusionParts, timestep: int | None) -> float:
    """The cumulative signal level at `timestep`; None is the clean latent."""
    return CLEAN_ALPHA if timestep is None else float(parts.scheduler.alphas_cumprod[timestep])


def ddim_move(x: torch.Tensor, output: torch.Tensor, alpha_here: float, alpha_there: float,
              prediction_type: str) -> torch.Tensor:
    """Move latent `x` from noise level alpha_here to alpha_there, given the model's output at x."""
    a, b = alpha_here ** 0.5, (1 - alpha_here) ** 0.5
    if prediction_type == "epsilon":
        noise = output
        clean = (x - b * noise) / a
    elif prediction_type == "v_prediction":
        clean = a * x - b * output
        noise = a * output + b * x
    else:
        raise OptionError(f"DiffStyler supports epsilon and v_prediction models, not {prediction_type!r}")
    return alpha_there ** 0.5 * clean + (1 - alpha_there) ** 0.5 * noise


Denoiser = Callable[[torch.Tensor, int], torch.Tensor]


def plain_denoiser(parts: DiffusionParts, prompt: str = "") -> Denoiser:
    """The base model's output for `prompt` without guidance: what inversion and its reconstruction use."""
    embeds = encode_prompt(parts, prompt)

    def denoise(x: torch.Tensor, timestep: int) -> torch.Tensor:
        return parts.unet(x, timestep, encoder_hidden_states=embeds).sample
    return denoise


@torch.no_grad()
def invert_latent(parts: DiffusionParts, clean: torch.Tensor, steps: int, inversion_steps: int,
                  progress: bool = False) -> Trajectory:
    """DDIM-invert `clean` on the union of the inversion and the sampling timesteps; keep the sampling ones."""
    keep = sampling_timesteps(parts, steps)
    grid = sorted(set(sampling_timesteps(parts, inversion_steps)) | set(keep))  # least noisy first
    denoise = plain_denoiser(parts)
    latents, x, level = {}, clean, None
    for timestep in tqdm(grid, desc="DDIM inversion", disable=not progress, leave=False):
        x = ddim_move(x, denoise(x, timestep), alpha(parts, level), alpha(parts, timestep), parts.prediction_type)
        level = timestep
        if timestep in keep:
            latents[timestep] = x
    return Trajectory(keep, latents, clean)


@torch.no_grad()
def reconstruct(parts: DiffusionParts, trajectory: Trajectory, denoise: Denoiser | None = None,
                progress: bool = False) -> torch.Tensor:
    """Plain DDIM sampling from the trajectory's noise back to a clean latent (by default the base model)."""
    denoise = denoise or plain_denoiser(parts)
    x = trajectory.noisiest
    steps = trajectory.timesteps
    for index, timestep in enumerate(tqdm(steps, desc="DDIM sampling", disable=not progress, leave=False)):
        there = steps[index + 1] if index + 1 < len(steps) else None
        x = ddim_move(x, denoise(x, timestep), alpha(parts, timestep), alpha(parts, there), parts.prediction_type)
    return x
