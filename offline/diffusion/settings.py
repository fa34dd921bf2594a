"""DiffStyler's settings, checked once so that a bad value fails before any model loads."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from stylize.errors import OptionError

DEFAULT_STYLE_PROMPT = "a painting in sks style"

# name -> (lowest, highest) allowed; both ends included.
_BOUNDS = {
    "steps": (1, 1000),
    "inversion_steps": (1, 1000),
    "guidance": (0.0, 50.0),
    "feature_injection": (0.0, 1.0),
    "attention_injection": (0.0, 1.0),
    "lora_rank": (1, 256),
    "lora_steps": (0, 100_000),
    "lr": (1e-8, 1.0),
    "seed": (0, 2**63 - 1),
    "size": (16, 2048),
}


@dataclass(frozen=True)
class DiffStylerSettings:
    """What one DiffStyler run does; the defaults follow the paper's released code (SD 1.5 at 512 px).

    steps: DDIM sampling steps. inversion_steps: DDIM inversion steps (a finer
    inversion follows the content more closely; the latents are kept at the
    sampling steps). guidance: classifier-free guidance scale of each style
    prompt. feature_injection / attention_injection: the fraction of the
    sampling steps, from the noisiest, during which the content's decoder
    features / self-attention queries and keys replace the styled pass's
    (plug-and-play injection; PnP's own defaults are 0.8 / 0.5). lora_rank,
    lora_steps, lr: the style LoRA's rank, training steps and AdamW learning
    rate. seed: the LoRA training's noise and timesteps. size: the long side
    of the working resolution in pixels. style_prompt: the prompt a LoRA is
    trained with and denoises with. negative_prompt: the unconditional prompt
    of guidance. keep_source_pixels: outside every mask the result is the
    content's own pixels rather than the VAE's reconstruction of them.
    """
    steps: int = 50
    inversion_steps: int = 100
    guidance: float = 7.5
    feature_injection: float = 0.5
    attention_injection: float = 0.5
    lora_rank: int = 16
    lora_steps: int = 200
    lr: float = 2e-4
    seed: int = 0
    size: int = 512
    style_prompt: str = DEFAULT_STYLE_PROMPT
    negative_prompt: str = ""
    keep_source_pixels: bool = True

    def __post_init__(self):
        for name, (low, high) in _BOUNDS.items():
            _check_number(name, getattr(self, name), low, high)
        for name in ("style_prompt", "negative_prompt"):
            if not isinstance(getattr(self, name), str):
                raise OptionError(f"DiffStyler {name} must be text, got {getattr(self, name)!r}")
        if not isinstance(self.keep_source_pixels, bool):
            raise OptionError(f"DiffStyler keep_source_pixels must be True or False, got {self.keep_source_pixels!r}")

    def injection_steps(self) -> tuple[int, int]:
        """How many of the first (noisiest) sampling steps inject features, and how many inject attention."""
        return round(self.feature_injection * self.steps), round(self.attention_injection * self.steps)

    def to_dict(self) -> dict:
        """The settings as plain JSON values, to record beside a result."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> DiffStylerSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise OptionError(f"unknown DiffStyler settings: {', '.join(unknown)}")
        return cls(**values)


def _check_number(name: str, value, low, high) -> None:
    whole = isinstance(low, int)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (whole and not isinstance(value, int)):
        kind = "a whole number" if whole else "a number"
        raise OptionError(f"DiffStyler {name} must be {kind}, got {value!r}")
    if not math.isfinite(value) or not low <= value <= high:
        raise OptionError(f"DiffStyler {name} must be between {low:g} and {high:g}, got {value!r}")
