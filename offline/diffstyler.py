"""DiffStyler: diffusion-based localized style transfer (S. Li, arXiv 2403.18461), on diffusers and peft.

The method, as the paper and its released code (built on plug-and-play
diffusion features, Tumanyan et al. 2023) do it:
  1. one LoRA per style, trained on the style image(s) with the denoising loss
     and a style prompt (train_style_lora);
  2. DDIM inversion of the content with the base model and an empty prompt
     (ddim_invert);
  3. denoising from the inverted noise where, at every step, the base model's
     pass over the content's inverted latent supplies decoder features and
     self-attention queries/keys that replace the styled passes' own, for the
     first feature_injection / attention_injection of the steps;
  4. mask-wise fusion: each mask region takes its own LoRA's guided noise
     prediction; outside every mask the latent is the inversion's own, and the
     final picture keeps the content's pixels there (diffstyle).
Masks are user pictures, the person/background split of a segmenter
(person_masks), or automatic colour regions (stylize.offline.regions).

It needs a user-supplied diffusers-format Stable Diffusion folder
(load_pipeline); stylize cannot download one. The packages come with
`pip install "stylize[diffusion]"`.

Typical use (the `stylize look diffstyler` verb does the same per keyframe):

    parts = load_pipeline("path/to/stable-diffusion-v1-5")
    settings = DiffStylerSettings()
    lora = train_style_lora(parts, ["style.jpg"], settings)
    lora.save("style.safetensors")
    rgb = diffstyle(parts, content_rgb, [lora], None, settings)

Several styles need one mask each, in the order of the LoRAs: user PNGs
(paths or arrays), person_masks(rgb) for [person, background], or
stylize.offline.regions.auto_regions(rgb, len(loras)). Soft masks (values
between 0 and 1) feather the seams between styles and kept content.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np

from stylize.errors import InputError
from stylize.imageio import resize_to
from stylize.jobs import as_mask, as_rgb
from stylize.offline.diffusion.inversion import Trajectory, invert_latent
from stylize.offline.diffusion.lora import StyleLora, lora_loss, train_style_lora
from stylize.offline.diffusion.parts import DiffusionParts, decode_latent, encode_image, load_pipeline, working_size
from stylize.offline.diffusion.settings import DiffStylerSettings

__all__ = ["DiffStylerSettings", "DiffusionParts", "StyleLora", "Trajectory", "load_pipeline", "train_style_lora",
           "lora_loss", "ddim_invert", "diffstyle", "diffstyle_latent", "person_masks"]

ImageInput = MaskInput = np.ndarray | str | os.PathLike  # an array, or a picture's path


def ddim_invert(parts: DiffusionParts, content_rgb: np.ndarray, settings: DiffStylerSettings,
                progress: bool = False) -> Trajectory:
    """The content's DDIM inversion at the working size: latents at every sampling timestep, and its clean latent."""
    content = as_rgb(content_rgb)
    clean = encode_image(parts, content, working_size(parts, *content.shape[:2], settings.size))
    return invert_latent(parts, clean, settings.steps, settings.inversion_steps, progress)


def _masks(masks: Sequence[MaskInput] | None, count: int, height: int, width: int) -> list[np.ndarray]:
    if masks is None:
        if count != 1:
            raise InputError(f"{count} styles need one mask each; without masks give one style")
        return [np.ones((height, width), np.float32)]
    masks = list(masks)
    if len(masks) != count:
        raise InputError(f"{count} styles but {len(masks)} masks: give one mask per style")
    return [as_mask(mask, height, width) for mask in masks]


def diffstyle_latent(parts: DiffusionParts, trajectory: Trajectory, loras: Sequence[StyleLora],
                     masks: Sequence[np.ndarray], settings: DiffStylerSettings, progress: bool = False):
    """The fused clean latent for HxW masks of any size (they are area-resized to the latent)."""
    from stylize.offline.diffusion.fusion import denoise_masked, latent_weights
    weights = latent_weights(masks, tuple(trajectory.clean.shape[-2:]), parts.device)
    return denoise_masked(parts, trajectory, loras, weights, settings, progress)


def diffstyle(parts: DiffusionParts, content_rgb: ImageInput, loras: Sequence[StyleLora],
              masks: Sequence[MaskInput] | None, settings: DiffStylerSettings, progress: bool = True,
              trajectory: Trajectory | None = None) -> np.ndarray:
    """Style the content: HxWx3 uint8 RGB at the content's size.

    masks: one per LoRA (HxW arrays in [0,1] or uint8, or picture paths; white
    = that style), or None with a single LoRA for the whole picture. Pass the
    `trajectory` of an earlier ddim_invert of this content with these settings
    to skip the inversion.
    """
    content = as_rgb(content_rgb)
    height, width = content.shape[:2]
    fields = _masks(masks, len(loras), height, width)
    if trajectory is None:
        trajectory = ddim_invert(parts, content, settings, progress)
    latent = diffstyle_latent(parts, trajectory, loras, fields, settings, progress)
    styled = resize_to(decode_latent(parts, latent), height, width)
    if not settings.keep_source_pixels:
        return styled
    inside = np.clip(np.sum(fields, axis=0), 0, 1)[..., None]
    return (inside * styled + (1 - inside) * content).round().astype(np.uint8)


def person_masks(rgb: np.ndarray, segmenter: Callable[[np.ndarray], np.ndarray] | None = None) -> list[np.ndarray]:
    """[person, background] probability masks (HxW float32) for two styles, from a person segmenter.

    The default segmenter is stylize.realtime.segmentation.PersonSegmenter.
    """
    if segmenter is None:
        from stylize.realtime.segmentation import PersonSegmenter
        segmenter = PersonSegmenter()
    person = np.clip(np.asarray(segmenter(as_rgb(rgb)), dtype=np.float32), 0, 1)
    return [person, 1 - person]
