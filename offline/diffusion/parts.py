"""A Stable Diffusion model's parts, loaded from a diffusers-format folder, and the conversions around them.

No Stable Diffusion weights ship with stylize or can be downloaded by it: the
user points `load_pipeline` at a folder they already have (for example a
`save_pretrained` copy of Stable Diffusion 1.5). The folder must hold
model_index.json and the unet, vae, text_encoder, tokenizer and scheduler
sub-folders of a StableDiffusionPipeline.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from stylize.errors import OptionError, WeightsError
from stylize.offline.diffusion import require
from stylize.offline.train.device import pick_device

PARTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass
class DiffusionParts:
    """The loaded model: every net is frozen and in eval mode. The VAE stays float32 (fp16 VAEs can overflow)."""
    unet: torch.nn.Module
    vae: torch.nn.Module
    text_encoder: torch.nn.Module
    tokenizer: object
    scheduler: object  # a DDIMScheduler; only its noise schedule (alphas_cumprod) and timesteps are used
    device: torch.device
    dtype: torch.dtype

    @property
    def pixel_factor(self) -> int:
        """Pixels per latent cell times the UNet's own downsampling: working sizes are multiples of this."""
        vae_factor = 2 ** (len(self.vae.config.block_out_channels) - 1)
        return vae_factor * 2 ** (len(self.unet.config.block_out_channels) - 1)

    @property
    def prediction_type(self) -> str:
        return self.scheduler.config.prediction_type


def check_model_dir(sd_model_dir: str | os.PathLike) -> Path:
    """The folder, if it is a diffusers-format Stable Diffusion folder; else a one-line WeightsError."""
    path = Path(sd_model_dir)
    missing = [name for name in ("model_index.json", *PARTS) if not (path / name).exists()]
    if not path.is_dir() or missing:
        raise WeightsError(f"--sd-model {path}: not a diffusers-format Stable Diffusion folder (missing "
                           f"{', '.join(missing) if path.is_dir() else 'the folder'}); stylize cannot download one, "
                           f"save one with StableDiffusionPipeline.save_pretrained")
    return path


def load_pipeline(sd_model_dir: str | os.PathLike, device: str = "auto",
                  dtype: str | torch.dtype | None = None) -> DiffusionParts:
    """Load the UNet, VAE, text encoder, tokenizer and a DDIM scheduler from `sd_model_dir`.

    dtype: the UNet's and text encoder's precision; by default float16 on CUDA and float32 elsewhere.
    """
    require("diffusers", "peft", "transformers")
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    path = check_model_dir(sd_model_dir)
    where = pick_device(device)
    precision = _dtype(dtype, where)
    try:
        unet = UNet2DConditionModel.from_pretrained(path, subfolder="unet", torch_dtype=precision)
        vae = AutoencoderKL.from_pretrained(path, subfolder="vae", torch_dtype=torch.float32)
        text_encoder = CLIPTextModel.from_pretrained(path / "text_encoder", torch_dtype=precision)
        tokenizer = CLIPTokenizer.from_pretrained(path / "tokenizer")
        scheduler = DDIMScheduler.from_pretrained(path, subfolder="scheduler")
    except (OSError, ValueError, KeyError) as exc:
        raise WeightsError(f"--sd-model {path}: cannot load it: {str(exc).splitlines()[0]}") from None
    for net in (unet, vae, text_encoder):
        net.requires_grad_(False).eval().to(where)
    return DiffusionParts(unet, vae, text_encoder, tokenizer, scheduler, where, precision)


def _dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    if dtype is None:
        return torch.float16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, torch.dtype) and dtype in DTYPES.values():
        return dtype
    if dtype in DTYPES:
        return DTYPES[dtype]
    raise OptionError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")


def working_size(parts: DiffusionParts, height: int, width: int, long_side: int) -> tuple[int, int]:
    """(height, width) with the long side near `long_side`, the aspect kept, both multiples of pixel_factor."""
    factor = parts.pixel_factor
    scale = long_side / max(height, width)
    return tuple(max(factor, round(side * scale / factor) * factor) for side in (height, width))


@torch.no_grad()
def encode_prompt(parts: DiffusionParts, prompt: str) -> torch.Tensor:
    """1 x tokens x dim text embeddings, padded to the tokenizer's full length as Stable Diffusion was trained."""
    tokens = parts.tokenizer(prompt, padding="max_length", max_length=parts.tokenizer.model_max_length,
                             truncation=True, return_tensors="pt")
    return parts.text_encoder(tokens.input_ids.to(parts.device))[0].to(parts.dtype)


def image_to_vae_input(parts: DiffusionParts, rgb: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """HxWx3 uint8 -> 1x3xhxw float32 in [-1, 1] at `size` (height, width), on the model's device."""
    resized = cv2.resize(rgb, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(resized).to(parts.device).permute(2, 0, 1)[None].float()
    return x / 127.5 - 1


def latent_distribution(parts: DiffusionParts, rgb: np.ndarray, size: tuple[int, int]):
    """The VAE posterior of the picture at `size`: (mean, std), already scaled into the UNet's latent space."""
    with torch.no_grad():
        posterior = parts.vae.encode(image_to_vae_input(parts, rgb, size)).latent_dist
    scale, shift = parts.vae.config.scaling_factor, parts.vae.config.get("shift_factor") or 0.0
    return (posterior.mean - shift) * scale, posterior.std * scale


def encode_image(parts: DiffusionParts, rgb: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """The picture's latent (the posterior mean, so that inversion is deterministic), in the UNet's dtype."""
    return latent_distribution(parts, rgb, size)[0].to(parts.dtype)


@torch.no_grad()
def decode_latent(parts: DiffusionParts, latent: torch.Tensor) -> np.ndarray:
    """A latent -> HxWx3 uint8 RGB at the working size."""
    scale, shift = parts.vae.config.scaling_factor, parts.vae.config.get("shift_factor") or 0.0
    image = parts.vae.decode(latent.float() / scale + shift).sample
    return ((image[0] + 1) * 127.5).clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
