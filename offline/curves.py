"""Line drawing -> strokes of piecewise cubic Béziers, each with the width it was drawn with.

The pipeline (no I/O; arrays in, dataclasses out):

    ink = binarise(gray)            # adaptive: faint pencil and thick marker both
    strokes = extract(rgb)          # skeleton, traced polylines, fitted Béziers

A stroke is a chain of cubic segments sharing end points: 3k+1 control points
(x, y) in pixels, and one width (pixels) per control point, read from the
distance transform of the ink along the skeleton.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from stylize.errors import InputError

DEFAULT_TOLERANCE = 0.8  # px: the largest distance of a traced pixel from its fitted curve
MIN_CONTRAST = 0.06  # ink must be this much darker than its local paper (faint pencil is ~0.1)
MAX_INK_SHARE = 0.35  # a drawing is mostly paper; a photo is not
PAPER_GRAIN = 0.04  # darkness a scanned paper's grain may have
MIN_PLAIN_PAPER = 0.96  # share of the page away from the lines that is plain paper (photos here: <= 0.94)
MIN_INK_PIXELS = 12
CORNER_DEGREES = 35  # a turn sharper than this is a corner the smoothing keeps
LINE_WINDOW = 9  # px: a line's edge pixels look this far for its core


@dataclass
class Stroke:
    """One traced line: control points (3k+1, 2) as x, y in pixels, widths (3k+1,) in pixels."""

    points: np.ndarray
    widths: np.ndarray
    closed: bool = False

    @property
    def segments(self) -> int:
        return (len(self.points) - 1) // 3


# ------------------------------------------------------------ binarise --
def paper_darkness(gray: np.ndarray) -> np.ndarray:
    """How much darker each pixel is than the paper around it (0 = paper), gray in [0, 1].

    The paper is estimated by a large closing (a max filter removes lines up
    to its size) then a blur, so shaded scans and tinted paper count as paper.
    """
    side = max(15, (min(gray.shape) // 16) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
    paper = cv2.GaussianBlur(cv2.morphologyEx(gray, cv2.MORPH_CLOSE, kernel), (0, 0), side / 4)
    return np.clip(np.maximum(paper, gray) - gray, 0, 1)


def binarise(gray: np.ndarray) -> np.ndarray:
    """Ink mask (bool HxW) of a drawing, gray in [0, 1].

    The threshold adapts to each line: half the darkest darkness within a few
    pixels (its own core), never below MIN_CONTRAST. A faint pencil line 0.12
    darker than its paper and a black marker beside it both keep their whole
    width, cut at half their depth; paper grain stays out.
    """
    darkness = paper_darkness(gray)
    core = cv2.dilate(darkness, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (LINE_WINDOW, LINE_WINDOW)))
    ink = darkness > np.maximum(MIN_CONTRAST, 0.5 * core)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    specks = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] < 3)
    return ink & ~np.isin(labels, specks[specks > 0])


def to_gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0


def check_drawing(gray: np.ndarray, ink: np.ndarray, label: str = "the drawing") -> None:
    """Refuse an empty page and a photo, each with a one-line reason.

    Away from its lines (more than 2 px) a drawing is plain paper; a photo or
    a painting has shading, texture and edges everywhere.
    """
    if ink.sum() < MIN_INK_PIXELS:
        raise InputError(f"{label}: the page is empty (no lines darker than the paper were found)")
    near_lines = cv2.dilate(ink.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    plain = float(np.mean(paper_darkness(gray)[~near_lines] < PAPER_GRAIN)) if (~near_lines).any() else 0.0
    if ink.mean() > MAX_INK_SHARE or plain < MIN_PLAIN_PAPER:
        raise InputError(f"{label}: this looks like a photo or a painting, not a line drawing (only {plain:.0%} "
                         f"of the page away from its dark lines is plain paper); give dark lines on light paper, "
                         f"or use `stylize image` for photos")


# -------------------------------------------------------------- trace --
_STEPS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]


def skeleton(ink: np.ndarray) -> np.ndarray:
    from skimage.morphology import skeletonize
    return skeletonize(ink)


def _neighbours(pixels: set, p: tuple[int, int]) -> list[tuple[int, int]]:
    return [(p[0] + dy, p[1] + dx) for dy, dx in _STEPS if (p[0] + dy, p[1] + dx) in pixels]


def trace(skel: np.ndarray) -> list[tuple[np.ndarray, bool]]:
    """Ordered polylines (n, 2) as (row, col), and whether each is a closed loop.

    Junction and end pixels (not exactly two neighbours) are nodes; every path
    runs from a node to a node, so a T-junction gives three paths meeting at
    one pixel. What is left after that are loops without nodes (a circle).
    """
    pixels = set(zip(*np.nonzero(skel)))
    degree = {p: len(_neighbours(pixels, p)) for p in pixels}
    nodes = {p for p, d in degree.items() if d != 2}
    used: set = set()  # undirected edges already walked
    paths: list[tuple[np.ndarray, bool]] = []
    for node in sorted(nodes):
        for first in _neighbours(pixels, node):
            if frozenset((node, first)) in used:
                continue
            path = _walk(pixels, nodes, used, node, first)
            if len(path) >= 3:  # two touching node pixels are one junction, not a line
                paths.append((np.array(path), False))
    for start in sorted(pixels):
        free = [q for q in _neighbours(pixels, start) if frozenset((start, q)) not in used]
        if start in nodes or not free:
            continue
        path = _walk(pixels, nodes | {start}, used, start, free[0])
        if len(path) >= 4:
            paths.append((np.array(path), path[-1] == start))
    return paths


def _walk(pixels: set, stops: set, used: set, start, step) -> list:
    """Follow unwalked edges from `start` through `step` until a stop pixel or a dead end."""
    path = [start]
    previous, current = start, step
    used.add(frozenset((previous, current)))
    while True:
        path.append(current)
        if current in stops:
            return path
        ahead = [q for q in _neighbours(pixels, current)
                 if q != previous and frozenset((current, q)) not in used]
        if not ahead:
            return path
        # Prefer a 4-neighbour: an 8-connected skeleton's diagonal shortcut would skip a pixel.
        ahead.sort(key=lambda q: abs(q[0] - current[0]) + abs(q[1] - current[1]))
        previous, current = current, ahead[0]
        used.add(frozenset((previous, current)))


def prune_spurs(paths: list[tuple[np.ndarray, bool]], ends: set, lengths: np.ndarray) -> list:
    """Drop short branches that end in the open: skeletonising a thick line leaves such hairs."""
    kept = []
    for (path, closed), limit in zip(paths, lengths):
        dangling = tuple(path[0]) in ends or tuple(path[-1]) in ends
        touches_junction = tuple(path[0]) not in ends or tuple(path[-1]) not in ends
        if dangling and touches_junction and len(path) <= limit:
            continue
        kept.append((path, closed))
    return kept


# ---------------------------------------------------------------- fit --
def _bernstein(t: np.ndarray) -> np.ndarray:
    s = 1 - t
    return np.stack([s ** 3, 3 * s * s * t, 3 * s * t * t, t ** 3], axis=1)


def _fit_one(points: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Least-squares cubic through the end points of `points` at parameters `t`: (4, 2)."""
    basis = _bernstein(t)
    p0, p3 = points[0], points[-1]
    rhs = points - np.outer(basis[:, 0], p0) - np.outer(basis[:, 3], p3)
    inner, *_ = np.linalg.lstsq(basis[:, 1:3], rhs, rcond=None)
    return np.vstack([p0, inner, p3])


def _reparameterise(ctrl: np.ndarray, points: np.ndarray, t: np.ndarray) -> np.ndarray:
    """One Newton step per point towards its nearest curve parameter."""
    d1 = 3 * np.diff(ctrl, axis=0)
    d2 = 2 * np.diff(d1, axis=0)
    s = 1 - t
    at = _bernstein(t) @ ctrl
    first = (s * s)[:, None] * d1[0] + (2 * s * t)[:, None] * d1[1] + (t * t)[:, None] * d1[2]
    second = s[:, None] * d2[0] + t[:, None] * d2[1]
    diff = at - points
    denominator = (first * first).sum(1) + (diff * second).sum(1)
    step = np.where(np.abs(denominator) > 1e-9, (diff * first).sum(1) / np.where(denominator == 0, 1, denominator), 0)
    new = np.clip(t - step, 0, 1)
    new[0], new[-1] = 0.0, 1.0
    return np.maximum.accumulate(new)


def _chord_parameters(points: np.ndarray) -> np.ndarray:
    lengths = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    return lengths / lengths[-1] if lengths[-1] > 0 else np.linspace(0, 1, len(points))


def fit_beziers(points: np.ndarray, tolerance: float = DEFAULT_TOLERANCE) -> list[np.ndarray]:
    """Cubic segments (each (4, 2)) fitting the ordered `points` within `tolerance` px.

    Schneider's scheme: fit one cubic by least squares with chord-length
    parameters refined by Newton steps; where the worst point is still too
    far, split there and fit both halves.
    """
    points = np.asarray(points, np.float64)
    if len(points) <= 3:
        p0, p3 = points[0], points[-1]
        return [np.vstack([p0, p0 + (p3 - p0) / 3, p0 + 2 * (p3 - p0) / 3, p3])]
    t = _chord_parameters(points)
    for _ in range(4):
        ctrl = _fit_one(points, t)
        t = _reparameterise(ctrl, points, t)
    ctrl = _fit_one(points, t)
    errors = np.linalg.norm(_bernstein(t) @ ctrl - points, axis=1)
    if errors.max() <= tolerance:
        return [ctrl]
    split = int(np.clip(np.argmax(errors), 2, len(points) - 3))
    return fit_beziers(points[:split + 1], tolerance) + fit_beziers(points[split:], tolerance)


def _chain(segments: list[np.ndarray]) -> np.ndarray:
    return np.vstack([segments[0]] + [segment[1:] for segment in segments[1:]])


# ------------------------------------------------------------ extract --
def extract(rgb: np.ndarray, tolerance: float = DEFAULT_TOLERANCE, label: str = "the drawing") -> list[Stroke]:
    """The strokes of a line drawing (HxWx3 uint8 RGB); InputError for an empty page or a photo."""
    gray = to_gray(rgb)
    ink = binarise(gray)
    check_drawing(gray, ink, label)
    strokes = strokes_of(ink, tolerance)
    if not strokes:
        raise InputError(f"{label}: no lines to trace, only dots; give a drawing made of lines")
    return strokes


def strokes_of(ink: np.ndarray, tolerance: float = DEFAULT_TOLERANCE) -> list[Stroke]:
    """Strokes fitted to an ink mask (bool HxW)."""
    distance = cv2.distanceTransform(np.pad(ink, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    skel = skeleton(ink)
    paths = trace(skel)
    pixels = set(zip(*np.nonzero(skel)))
    ends = {p for p in pixels if len(_neighbours(pixels, p)) == 1}
    spur_limits = np.array([1.5 * max(distance[tuple(p.T)].max(), 1.5) for p, _ in paths])
    strokes = []
    for path, closed in prune_spurs(paths, ends, spur_limits):
        xy = _smoothed(path[:, ::-1].astype(np.float64), closed)  # (row, col) -> (x, y)
        segments = _closed_fit(xy, tolerance) if closed else fit_beziers(xy, tolerance)
        points = _chain(segments)
        strokes.append(Stroke(points, _widths(points, path, distance), closed))
    return strokes


def _smoothed(xy: np.ndarray, closed: bool, radius: int = 2) -> np.ndarray:
    """A moving average along the path takes out the skeleton's pixel staircase; open ends and corners
    (turns over CORNER_DEGREES within `radius` + 1 pixels) stay put."""
    n, reach = len(xy), radius + 1
    if n < 2 * reach + 1:
        return xy
    kernel = np.ones(2 * radius + 1) / (2 * radius + 1)
    if closed:
        ring = np.concatenate([xy[-reach:-1], xy, xy[1:reach]])
    else:
        ring = np.concatenate([np.repeat(xy[:1], radius, 0), xy, np.repeat(xy[-1:], radius, 0)])
    out = np.stack([np.convolve(ring[:, k], kernel, "valid") for k in range(2)], 1)
    index = np.arange(n)
    before = xy[(index - reach) % n if closed else np.clip(index - reach, 0, n - 1)]
    after = xy[(index + reach) % n if closed else np.clip(index + reach, 0, n - 1)]
    incoming, outgoing = xy - before, after - xy
    cosine = (incoming * outgoing).sum(1) / np.maximum(
        np.linalg.norm(incoming, axis=1) * np.linalg.norm(outgoing, axis=1), 1e-9)
    corner = cosine < np.cos(np.radians(CORNER_DEGREES))
    if not closed:
        corner[[0, -1]] = True
    out[corner] = xy[corner]
    return out


def _closed_fit(xy: np.ndarray, tolerance: float) -> list[np.ndarray]:
    """A loop is fitted as two halves, so no single cubic has to close on itself."""
    half = len(xy) // 2
    return fit_beziers(xy[:half + 1], tolerance) + fit_beziers(xy[half:], tolerance)


def _widths(points: np.ndarray, path: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """Per control point: twice the ink's distance to the paper at the nearest skeleton pixel, minus the
    centre pixel's own half (a 1-px line has distance 1 at its centre)."""
    radius = distance[path[:, 0], path[:, 1]]
    nearest = np.argmin(((points[:, None, :] - path[None, :, ::-1]) ** 2).sum(-1), axis=1)
    # A median over a few neighbours steadies the width against skeleton pixels on a corner.
    window = [np.median(radius[max(0, i - 2):i + 3]) for i in nearest]
    return np.maximum(2 * np.asarray(window) - 1, 1.0)
