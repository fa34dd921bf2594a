"""DiffStyler's pieces on diffusers and peft (the optional `diffusion` extra).

parts.py loads a user-supplied Stable Diffusion folder, settings.py holds the
knobs, lora.py trains one style LoRA, inversion.py runs DDIM both ways,
injection.py carries features and self-attention from the content's pass into
the styled passes, and fusion.py runs the mask-wise denoising loop.
offline/diffstyler.py is the public entry point that joins them.
"""
from __future__ import annotations

import importlib

from stylize.errors import StylizeError

EXTRA_HINT = 'pip install "stylize[diffusion]"'


def require(*modules: str) -> None:
    """Import the heavy packages up front, so that a missing one is a one-line error naming the extra."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            raise StylizeError(f"DiffStyler needs the {name} package: {EXTRA_HINT}") from None
