"""The one parser for frame sizes written as WIDTHxHEIGHT (640x480), shared by every option that takes one."""
from __future__ import annotations

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
