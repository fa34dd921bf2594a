"""Ready-to-run nets from registered weights: where the net registry meets the weight files."""
from __future__ import annotations

import os

import torch.nn as nn

from stylize.errors import WeightsError
from stylize.models import registry, weights
from stylize.models.vgg import VGGEncoder

# The VGG taps the relu3_1-only file holds; deeper taps need the full official file.
_R31_TAPS = ("relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1")


def load(method: str, explicit: str | os.PathLike | None = None) -> nn.Module:
    """`method`'s net with its registered weights (hash-checked), in eval mode."""
    spec = registry.get(method)
    return spec.from_state(weights.load(spec.weights, explicit), load_vgg)


def load_vgg(depth: str | None = None, explicit: str | os.PathLike | None = None) -> VGGEncoder:
    """The VGG encoder: the relu3_1 file when it is enough and present, else the full official file.

    `depth` None means relu3_1, the tap every net here is built on; ask for
    relu4_1 explicitly to use the full file's deeper layers.
    """
    depth = depth or "relu3_1"
    if explicit:
        state = weights.verified_load_any(explicit, ("vgg19", "vgg19_r31"))
    elif weights.find("vgg19_r31") and depth in _R31_TAPS:
        state = weights.load("vgg19_r31")
    else:
        # The full official file: found locally, or downloaded into the cache.
        try:
            state = weights.load("vgg19")
        except WeightsError as exc:
            raise WeightsError(f"{exc} (the relu3_1-only file vgg19_r31, "
                               f"{weights.spec_for('vgg19_r31').file}, would also do)") from None
    try:
        return VGGEncoder.from_state_dict(state, depth).eval()
    except ValueError as exc:
        raise WeightsError(str(exc)) from None
