"""Strokes as an SVG document: one <path> per stroke, with its width and colour.

Text only, no I/O. SVG strokes have one width each, so a path gets the mean
of its control points' widths and the mean of their colours; the PNG keeps
the per-point variation.
"""
from __future__ import annotations

import base64
from collections.abc import Sequence
from xml.sax.saxutils import quoteattr

import numpy as np

from stylize.offline.curves import Stroke


def path_data(points: np.ndarray, closed: bool) -> str:
    """'M x y C x y x y x y ...' for a chain of cubic segments (3k+1 points)."""
    words = [f"M {points[0, 0]:.2f} {points[0, 1]:.2f}"]
    for i in range(1, len(points), 3):
        a, b, c = points[i], points[i + 1], points[i + 2]
        words.append(f"C {a[0]:.2f} {a[1]:.2f} {b[0]:.2f} {b[1]:.2f} {c[0]:.2f} {c[1]:.2f}")
    return " ".join(words) + (" Z" if closed else "")


def _hex(rgb: np.ndarray) -> str:
    r, g, b = (int(round(float(v) * 255)) for v in np.clip(rgb, 0, 1))
    return f"#{r:02x}{g:02x}{b:02x}"


def to_svg(strokes: Sequence[Stroke], width: int, height: int, colours: Sequence[np.ndarray] | None = None,
           background: np.ndarray | None = None, background_png: bytes | None = None) -> str:
    """The drawing: `colours` one (3k+1, 3) RGB array in [0, 1] per stroke (default black),
    `background` a flat RGB in [0, 1] (default white), or `background_png` a painted paper."""
    paper = _hex(np.ones(3) if background is None else background)
    lines = [f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
             f'<rect width="{width}" height="{height}" fill="{paper}"/>']
    if background_png is not None:
        data = base64.b64encode(background_png).decode("ascii")
        lines.append(f'<image width="{width}" height="{height}" xlink:href="data:image/png;base64,{data}"/>')
    lines.append('<g fill="none" stroke-linecap="round" stroke-linejoin="round">')
    for i, stroke in enumerate(strokes):
        colour = _hex(np.zeros(3) if colours is None else np.asarray(colours[i]).mean(axis=0))
        lines.append(f'<path d={quoteattr(path_data(stroke.points, stroke.closed))} stroke="{colour}" '
                     f'stroke-width="{float(np.mean(stroke.widths)):.2f}"/>')
    lines += ["</g>", "</svg>", ""]
    return "\n".join(lines)
