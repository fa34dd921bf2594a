"""One style LoRA per style: peft low-rank adapters on the UNet's attention projections, trained on the style image(s).

Training is the standard denoising objective (as in DreamBooth-LoRA, which
DiffStyler uses): noise a style latent to a random timestep and regress the
model's prediction (noise, or velocity for v-prediction models) with the style
prompt as the condition. The base weights stay frozen; only the adapter learns.
A StyleLora carries its prompt, so the region it paints is denoised with the
prompt it was trained on.
"""
from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from stylize.errors import InputError, OutputError, WeightsError
from stylize.imageio import write_atomic
from stylize.jobs import as_rgb
from stylize.offline.diffusion.parts import DiffusionParts, encode_prompt, latent_distribution, working_size
from stylize.offline.diffusion.settings import DiffStylerSettings

TARGET_MODULES = ("to_q", "to_k", "to_v", "to_out.0")
FORMAT = "stylize-diffstyler-lora/1"


@dataclass
class StyleLora:
    """A trained style adapter: its name, prompt, rank and peft weights (keys without an adapter name)."""
    name: str
    prompt: str
    rank: int
    state: dict[str, torch.Tensor]
    losses: list[float] = field(default_factory=list)  # the training loss at each step

    def save(self, path: str | os.PathLike) -> None:
        """Write a .safetensors file (the prompt and rank in its metadata); an existing file is never replaced."""
        from safetensors.torch import save
        target = Path(path)
        if target.exists():
            raise OutputError(f"{target}: exists; give a new file name")
        metadata = {"format": FORMAT, "name": self.name, "prompt": self.prompt, "rank": str(self.rank),
                    "losses": json.dumps(self.losses)}
        write_atomic(target, save({k: v.contiguous() for k, v in self.state.items()}, metadata=metadata))

    @classmethod
    def load(cls, path: str | os.PathLike) -> StyleLora:
        from safetensors import SafetensorError, safe_open
        try:
            with safe_open(str(path), framework="pt") as handle:
                metadata = handle.metadata() or {}
                state = {key: handle.get_tensor(key) for key in handle.keys()}
        except (OSError, SafetensorError) as exc:
            raise WeightsError(f"{path}: not a readable safetensors file: {exc}") from None
        if metadata.get("format") != FORMAT:
            raise WeightsError(f"{path}: not a DiffStyler LoRA saved by stylize")
        return cls(metadata["name"], metadata["prompt"], int(metadata["rank"]), state,
                   json.loads(metadata.get("losses", "[]")))


def lora_config(rank: int):
    from peft import LoraConfig
    return LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=list(TARGET_MODULES))


def add_adapter(unet, adapter: str, rank: int, state: dict[str, torch.Tensor] | None = None) -> None:
    """Attach a LoRA named `adapter` to the UNet (with `state`'s weights when given) and make it the active one."""
    from peft.utils import set_peft_model_state_dict
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*multiple adapters.*")
        unet.add_adapter(lora_config(rank), adapter_name=adapter)
    if state is not None:
        dtype = next(unet.parameters()).dtype
        result = set_peft_model_state_dict(unet, {k: v.to(dtype) for k, v in state.items()}, adapter_name=adapter)
        missing = [key for key in result.missing_keys if f".{adapter}." in key or key.endswith(f".{adapter}")]
        if result.unexpected_keys or missing:
            unet.delete_adapters(adapter)
            raise WeightsError(f"LoRA {adapter!r} does not fit this UNet (was it trained on another model?)")
    unet.set_adapter(adapter)


@contextlib.contextmanager
def base_model(unet):
    """The UNet without any adapter, inside the block."""
    if not getattr(unet, "_hf_peft_config_loaded", False):
        yield
        return
    unet.disable_adapters()
    try:
        yield
    finally:
        unet.enable_adapters()


def denoising_loss(parts: DiffusionParts, latent: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor,
                   embeds: torch.Tensor) -> torch.Tensor:
    """The diffusion training loss of the UNet as it stands (with its active adapter) on one noised latent."""
    noisy = parts.scheduler.add_noise(latent, noise, timesteps)
    if parts.prediction_type == "v_prediction":
        target = parts.scheduler.get_velocity(latent, noise, timesteps)
    else:
        target = noise
    dtype = next(parts.unet.parameters()).dtype
    with torch.autocast(parts.device.type, dtype=dtype, enabled=dtype != torch.float32):
        prediction = parts.unet(noisy.to(dtype), timesteps, encoder_hidden_states=embeds.expand(len(latent), -1, -1))
    return F.mse_loss(prediction.sample.float(), target.float())


def style_latents(parts: DiffusionParts, style_images: Sequence, size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Each style picture's VAE posterior (mean, std) at the working size: computed once, sampled every step."""
    images = [as_rgb(image) for image in style_images]
    if not images:
        raise InputError("DiffStyler needs at least one style image to train a LoRA on")
    return [tuple(t.float() for t in latent_distribution(parts, image, working_size(parts, *image.shape[:2], size)))
            for image in images]


def _training_batch(parts, posterior, generator):
    mean, std = posterior
    latent = mean + std * torch.randn(mean.shape, generator=generator, device=parts.device)
    noise = torch.randn(mean.shape, generator=generator, device=parts.device)
    count = parts.scheduler.config.num_train_timesteps
    timesteps = torch.randint(0, count, (1,), generator=generator, device=parts.device)
    return latent, noise, timesteps


def train_style_lora(parts: DiffusionParts, style_images: Sequence[np.ndarray | str | os.PathLike],
                     settings: DiffStylerSettings, progress: bool = True, *, name: str = "style",
                     prompt: str | None = None) -> StyleLora:
    """Train one LoRA on the style image(s) (arrays or paths) for settings.lora_steps AdamW steps.

    The prompt defaults to settings.style_prompt. The UNet is left as it was
    found: the adapter is trained under a private name and removed afterwards.
    """
    posteriors = style_latents(parts, style_images, settings.size)
    prompt = settings.style_prompt if prompt is None else prompt
    embeds = encode_prompt(parts, prompt)
    adapter = "diffstyler_training"
    add_adapter(parts.unet, adapter, settings.lora_rank)
    try:
        params = [p for p in parts.unet.parameters() if p.requires_grad]
        for p in params:
            p.data = p.data.float()  # the adapter learns in float32 even when the base model is half precision
        optimizer = torch.optim.AdamW(params, lr=settings.lr, weight_decay=1e-2)
        generator = torch.Generator(device=parts.device).manual_seed(settings.seed)
        losses = []
        for step in tqdm(range(settings.lora_steps), desc=f"LoRA {name}", disable=not progress):
            batch = _training_batch(parts, posteriors[step % len(posteriors)], generator)
            loss = denoising_loss(parts, *batch, embeds)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        state = adapter_state(parts.unet, adapter)
    finally:
        parts.unet.delete_adapters(adapter)
        parts.unet.requires_grad_(False)
    return StyleLora(name, prompt, settings.lora_rank, state, losses)


def adapter_state(unet, adapter: str) -> dict[str, torch.Tensor]:
    """The adapter's weights as float32 CPU tensors, keyed as peft saves them."""
    from peft.utils import get_peft_model_state_dict
    return {key: value.detach().float().cpu().clone()
            for key, value in get_peft_model_state_dict(unet, adapter_name=adapter).items()}


@torch.no_grad()
def lora_loss(parts: DiffusionParts, lora: StyleLora | None, style_images: Sequence, settings: DiffStylerSettings,
              samples: int = 8, seed: int = 1234) -> float:
    """The mean denoising loss of a LoRA (None: the base model) on the style image(s), over a fixed noise draw.

    The same seed gives the same latents, noise and timesteps, so two LoRAs (or
    a LoRA and the base model) are compared on one batch.
    """
    posteriors = style_latents(parts, style_images, settings.size)
    embeds = encode_prompt(parts, settings.style_prompt if lora is None else lora.prompt)
    generator = torch.Generator(device=parts.device).manual_seed(seed)
    batches = [_training_batch(parts, posteriors[i % len(posteriors)], generator) for i in range(samples)]
    context = base_model(parts.unet) if lora is None else _attached(parts.unet, lora)
    with context:
        return float(np.mean([float(denoising_loss(parts, *batch, embeds)) for batch in batches]))


@contextlib.contextmanager
def _attached(unet, lora: StyleLora, adapter: str = "diffstyler_probe"):
    add_adapter(unet, adapter, lora.rank, lora.state)
    try:
        yield
    finally:
        unet.delete_adapters(adapter)
