"""The parsers for numeric command-line values: frame sizes written as WIDTHxHEIGHT (640x480), finite
floats (argparse types that refuse NaN and infinity) and positive counts, shared by every option that takes one."""
from __future__ import annotations

import argparse
import math
import os
import re

from stylize.errors import OptionError

MIN_SIDE = 16
_WXH = re.compile(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*")


def parse_wxh(text: str, what: str = "the size", minimum: int = MIN_SIDE) -> tuple[int, int]:
    """'640x480' -> (640, 480), width first like every screen size.

    `what` names the option or spec in the error message (e.g. "--capture").
    Both sides must be at least `minimum` pixels.
    """
    match = _WXH.fullmatch(text or "")
    if not match:
        raise OptionError(f"{what} must look like WIDTHxHEIGHT, e.g. 640x480, got {text!r}")
    width, height = int(match.group(1)), int(match.group(2))
    if width < minimum or height < minimum:
        raise OptionError(f"{what} must be at least {minimum}x{minimum} pixels, got {text!r}")
    return width, height


def _float_type(check, requirement: str, name: str):
    """An argparse `type` that accepts a finite float passing `check`, so a bad value is a one-line usage error."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not math.isfinite(value) or not check(value):
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {text!r}")
        return value
    parse.__name__ = name  # argparse names the type in its "invalid ... value" message
    return parse


# argparse types for numeric options: NaN and ±inf are refused everywhere (a NaN duration never ends).
finite_float = _float_type(lambda v: True, "a finite number", "finite_float")
positive_float = _float_type(lambda v: v > 0, "a finite number above 0", "positive_float")
non_negative_float = _float_type(lambda v: v >= 0, "a finite number, 0 or more", "non_negative_float")


def positive_int(text: str) -> int:
    """An argparse `type` for a count that must be 1 or more (--steps): 0 and negatives are usage errors."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number above 0, got {text!r}")
    return value


# The largest picture anything reads: 150 megapixels holds a 100 MP camera's photos and every video size
# (8K is 33 MP), and refuses a decompression bomb before it is decoded. STYLIZE_MAX_PIXELS raises it.
DEFAULT_MAX_PIXELS = 150_000_000
MAX_PIXELS_VARIABLE = "STYLIZE_MAX_PIXELS"
# A file that big needs at most 4 bytes a pixel (8-bit RGBA, uncompressed); more is not a picture.
BYTES_PER_PIXEL_LIMIT = 4


def max_pixels() -> int:
    """The pixel limit: $STYLIZE_MAX_PIXELS when set to a positive whole number, else the default."""
    text = os.environ.get(MAX_PIXELS_VARIABLE, "").strip()
    if not text:
        return DEFAULT_MAX_PIXELS
    if not text.isdigit() or int(text) < 1:
        raise OptionError(f"${MAX_PIXELS_VARIABLE} must be a positive whole number of pixels, got {text!r}")
    return int(text)


def max_file_bytes() -> int:
    """The most bytes read from one input or style file: what the largest allowed picture can take."""
    return BYTES_PER_PIXEL_LIMIT * max_pixels()


def check_pixels(width: int, height: int, what: str, error: type[Exception] = OptionError) -> None:
    """Refuse a declared picture size above the pixel limit, before anything that big is allocated."""
    limit = max_pixels()
    if width * height > limit:
        raise error(f"{what} is {width}x{height} ({width * height / 1e6:.0f} megapixels), above the limit of "
                    f"{limit / 1e6:g} megapixels; set {MAX_PIXELS_VARIABLE} to allow more")
