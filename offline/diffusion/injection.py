"""Plug-and-play injection: the content's decoder features and self-attention steer the styled passes.

At each sampling step the base UNet first runs on the content's inverted
latent for that timestep (the "source" pass) and the injector records:
  - the residual branch of the decoder's spatial feature block (the output of
    up_blocks[1].resnets[1].conv2, before the skip connection is added; in
    Stable Diffusion 1.x that is PnP's layer-4 feature at 16x16 for 512 px);
  - the queries and keys of the decoder's self-attention layers, all but the
    first (in Stable Diffusion 1.x that is PnP's decoder layers 4-11).
During the styled passes (a style LoRA on the generated latent) the recorded
tensors replace the freshly computed ones, so the result keeps the content's
layout while each LoRA paints the values. DiffStyler's observation is that a
LoRA leaves the UNet's spatial features in place, so the base model's features
fit every style model ("cross-LoRA" injection).

The hooks sit on the modules themselves (forward hooks on to_q, to_k and
conv2), so they work with any attention processor. Attach LoRA adapters first:
peft wraps to_q and to_k, and the hooks must sit on the wrappers.
"""
from __future__ import annotations

import torch

from stylize.errors import WeightsError

FEATURE_BLOCK = (1, 1)  # (up block, resnet) whose residual branch is injected


def feature_module(unet) -> torch.nn.Module:
    block, resnet = FEATURE_BLOCK
    try:
        return unet.up_blocks[block].resnets[resnet].conv2
    except (AttributeError, IndexError):
        raise WeightsError(f"the UNet has no up_blocks[{block}].resnets[{resnet}] to take features from; "
                           f"DiffStyler needs a Stable Diffusion style UNet") from None


def self_attentions(unet) -> list[torch.nn.Module]:
    """The decoder's self-attention layers that get the content's queries and keys, in forward order."""
    layers = [module for name, module in unet.up_blocks.named_modules() if name.endswith(".attn1")]
    if len(layers) < 2:
        raise WeightsError("the UNet's decoder has fewer than two self-attention layers; "
                           "DiffStyler needs a Stable Diffusion style UNet")
    return layers[1:]


class FeatureInjector:
    """Forward hooks that record in `record()` mode and replace in `inject(...)` mode; `off()` leaves all as is.

    Use as a context manager: the hooks are removed on exit. `injected` counts
    the tensors replaced since the last `record()`.
    """

    def __init__(self, unet):
        self.feature = feature_module(unet)
        self.attention = [projection for layer in self_attentions(unet) for projection in (layer.to_q, layer.to_k)]
        self.mode = "off"
        self.inject_features = self.inject_attention = False
        self.store: dict[torch.nn.Module, torch.Tensor] = {}
        self.injected = 0
        self._handles = []

    def __enter__(self) -> FeatureInjector:
        for module in (self.feature, *self.attention):
            self._handles.append(module.register_forward_hook(self._hook))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self.store.clear()

    def record(self) -> None:
        self.mode, self.injected = "record", 0
        self.store.clear()

    def inject(self, features: bool, attention: bool) -> None:
        self.mode, self.inject_features, self.inject_attention = "inject", features, attention

    def off(self) -> None:
        self.mode = "off"

    def _hook(self, module, inputs, output):
        if self.mode == "record":
            self.store[module] = output.detach()
            return None
        wanted = self.inject_features if module is self.feature else self.inject_attention
        if self.mode != "inject" or not wanted:
            return None
        source = self.store[module]
        if source.shape[1:] != output.shape[1:]:
            raise ValueError(f"recorded {tuple(source.shape)} does not fit {tuple(output.shape)}: "
                             f"the source and styled latents must have one size")
        self.injected += 1
        return source.expand_as(output)
