"""Charts for benchmark results, drawn with OpenCV into RGB uint8 arrays (no plotting library needed)."""
from __future__ import annotations

import math

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
INK, GREY, LIGHT = (20, 20, 20), (110, 110, 110), (225, 225, 225)
# One colour per backend, in the order they first appear.
PALETTE = [(40, 110, 200), (220, 120, 30), (60, 160, 80), (150, 80, 170), (200, 60, 60), (120, 120, 40)]


def log_axis(low: float, high: float) -> tuple[float, float]:
    """Decade bounds that hold every value."""
    return 10 ** math.floor(math.log10(max(low, 1e-3))), 10 ** math.ceil(math.log10(max(high, 1e-3) * 1.01))


def _x(value: float, axis: tuple[float, float], left: int, span: int) -> int:
    low, high = axis
    return left + int(span * (math.log10(max(value, low)) - math.log10(low)) / (math.log10(high) - math.log10(low)))


def _grid(canvas: np.ndarray, axis: tuple[float, float], left: int, span: int, top: int, bottom: int) -> None:
    decade = axis[0]
    while decade <= axis[1] * 1.0001:
        x = _x(decade, axis, left, span)
        cv2.line(canvas, (x, top), (x, bottom), LIGHT, 1)
        cv2.putText(canvas, f"{decade:g}", (x - 10, bottom + 16), FONT, 0.4, GREY, 1, cv2.LINE_AA)
        decade *= 10


def suite_chart(result: dict) -> np.ndarray:
    """One horizontal bar per suite row (fps, log scale), grouped by resolution; a grey tick marks the naive
    baseline at that resolution and a red tick the compute floor where one is known."""
    rows = result["rows"]
    bar, gap, left, right, head = 18, 6, 250, 150, 70
    height = head + len(rows) * (bar + gap) + len(result["baselines"]) * 16 + 60
    width = 900
    canvas = np.full((height, width, 3), 255, np.uint8)
    device = result["gpu"]["name"] if result["gpu"] else result["machine"]["cpu"]
    cv2.putText(canvas, "frames per second through the engine (log scale)", (12, 24), FONT, 0.6, INK, 1,
                cv2.LINE_AA)
    cv2.putText(canvas, f"{device}; grey tick: naive AdaIN-r31 baseline; red tick: compute floor", (12, 46),
                FONT, 0.42, GREY, 1, cv2.LINE_AA)
    values = [row["fps"] for row in rows] + [row["floor"].get("floor_fps") or row["fps"] for row in rows]
    values += [entry[d]["fps"] for entry in result["baselines"] for d in ("cpu", "cuda") if d in entry]
    axis = log_axis(min(values), max(values))
    span = width - left - right
    bottom = height - 40
    _grid(canvas, axis, left, span, head - 8, bottom)
    colours = {}
    y = head
    for resolution in dict.fromkeys(row["resolution"] for row in rows):
        baseline = next(entry for entry in result["baselines"] if entry["resolution"] == resolution)
        for row in (row for row in rows if row["resolution"] == resolution):
            colour = colours.setdefault(f"{row['backend']} ({row['device']})", PALETTE[len(colours) % len(PALETTE)])
            _bar(canvas, row, baseline, colour, axis, left, span, y, bar)
            y += bar + gap
        y += 16
    for i, (backend, colour) in enumerate(colours.items()):
        cv2.rectangle(canvas, (12 + i * 170, height - 22), (26 + i * 170, height - 10), colour, -1)
        cv2.putText(canvas, backend, (32 + i * 170, height - 11), FONT, 0.42, INK, 1, cv2.LINE_AA)
    return canvas


def _bar(canvas, row: dict, baseline: dict, colour, axis, left: int, span: int, y: int, bar: int) -> None:
    label = f"{row['net']} {row['resolution']}" + (f" ({row['size']})" if row["size"] != row["resolution"] else "")
    cv2.putText(canvas, label[:34], (12, y + bar - 4), FONT, 0.42, INK, 1, cv2.LINE_AA)
    end = max(left + 1, _x(row["fps"], axis, left, span))
    cv2.rectangle(canvas, (left, y), (end, y + bar), colour, -1)
    ratio = f"  x{row['ratio_to_naive']:.3g}" if row.get("ratio_to_naive") else ""
    cv2.putText(canvas, f"{row['fps']:.4g} fps{ratio}", (end + 6, y + bar - 4), FONT, 0.42, INK, 1, cv2.LINE_AA)
    naive = baseline.get(row["device"])
    if naive:
        x = _x(naive["fps"], axis, left, span)
        cv2.line(canvas, (x, y - 2), (x, y + bar + 2), GREY, 3)
    floor_fps = row["floor"].get("floor_fps")
    if floor_fps:
        x = _x(floor_fps, axis, left, span)
        cv2.line(canvas, (x, y - 2), (x, y + bar + 2), (200, 40, 40), 2)
