"""Curve extraction on synthetic drawings whose true lines are known: circles, polylines, a T-junction."""
import cv2
import numpy as np
import pytest

from stylize.errors import InputError
from stylize.offline import curves

TOLERANCE = 1.5  # px, the bound on the recovered geometry


def page(size: int = 96) -> np.ndarray:
    return np.full((size, size, 3), 255, np.uint8)


def samples(strokes: list[curves.Stroke], per_segment: int = 40) -> np.ndarray:
    """Points densely along every fitted segment, (n, 2) as x, y."""
    t = np.linspace(0, 1, per_segment)[:, None]
    out = []
    for stroke in strokes:
        for j in range(stroke.segments):
            p0, p1, p2, p3 = stroke.points[3 * j:3 * j + 4]
            out.append((1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t ** 2 * p2 + t ** 3 * p3)
    return np.concatenate(out)


def distance_to_polyline(points: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Each point's distance to the polyline through `corners`."""
    best = np.full(len(points), np.inf)
    for a, b in zip(corners[:-1], corners[1:]):
        ab = b - a
        t = np.clip(((points - a) @ ab) / (ab @ ab), 0, 1)
        best = np.minimum(best, np.linalg.norm(points - (a + t[:, None] * ab), axis=1))
    return best


def nearest(points: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Each point's distance to the nearest of `others`."""
    return np.linalg.norm(points[:, None] - others[None], axis=2).min(axis=1)


def dense(corners: np.ndarray, step: float = 0.5) -> np.ndarray:
    parts = [np.linspace(a, b, max(2, int(np.linalg.norm(b - a) / step))) for a, b in zip(corners[:-1], corners[1:])]
    return np.concatenate(parts)


def test_a_circle_is_one_closed_stroke_within_tolerance():
    image = page()
    cv2.circle(image, (48, 47), 30, (0, 0, 0), 2, cv2.LINE_AA)
    strokes = curves.extract(image)
    assert len(strokes) == 1 and strokes[0].closed
    fitted = samples(strokes)
    radius = np.linalg.norm(fitted - (48, 47), axis=1)
    assert np.abs(radius - 30).max() <= TOLERANCE
    truth = 30 * np.stack([np.cos(np.linspace(0, 2 * np.pi, 400)), np.sin(np.linspace(0, 2 * np.pi, 400))], 1)
    assert nearest(truth + (48, 47), fitted).max() <= TOLERANCE  # the whole circle, no piece missing


def test_a_polyline_keeps_its_corners_and_ends():
    corners = np.array([[10, 60], [40, 25], [70, 55], [88, 30]], float)  # corners of 86 and 94 degrees
    image = page()
    cv2.polylines(image, [corners.astype(np.int32)], False, (0, 0, 0), 2)
    strokes = curves.extract(image)
    fitted = samples(strokes)
    assert distance_to_polyline(fitted, corners).max() <= TOLERANCE
    assert nearest(dense(corners), fitted).max() <= TOLERANCE  # corners and ends reached
    ends = np.concatenate([[s.points[0], s.points[-1]] for s in strokes])
    assert min(np.linalg.norm(ends - corners[0], axis=1)) <= TOLERANCE
    assert min(np.linalg.norm(ends - corners[-1], axis=1)) <= TOLERANCE


def test_a_t_junction_gives_three_strokes_meeting_at_the_joint():
    image = page()
    cv2.line(image, (10, 20), (86, 20), (0, 0, 0), 2)
    cv2.line(image, (48, 20), (48, 85), (0, 0, 0), 2)
    strokes = curves.extract(image)
    assert len(strokes) == 3
    bar, stem = np.array([[10, 20.5], [86, 20.5]]), np.array([[48.5, 20], [48.5, 85]])
    fitted = samples(strokes)
    assert np.minimum(distance_to_polyline(fitted, bar), distance_to_polyline(fitted, stem)).max() <= TOLERANCE
    for line in (bar, stem):
        assert nearest(dense(line), fitted).max() <= TOLERANCE
    ends = np.concatenate([[s.points[0], s.points[-1]] for s in strokes])
    assert (np.linalg.norm(ends - (48.5, 20.5), axis=1) <= TOLERANCE + 0.5).sum() == 3


def test_each_stroke_keeps_the_width_it_was_drawn_with():
    image = page(128)
    cv2.line(image, (10, 30), (118, 30), (0, 0, 0), 9)
    cv2.line(image, (10, 90), (118, 90), (0, 0, 0), 1)
    strokes = sorted(curves.extract(image), key=lambda s: s.points[0, 1])
    assert len(strokes) == 2
    assert abs(np.median(strokes[0].widths) - 9) <= 1.5
    assert abs(np.median(strokes[1].widths) - 1) <= 1.0


def test_faint_pencil_on_shaded_paper_and_a_thick_marker_both_binarise():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:128, 0:128]
    gray = 0.95 - 0.15 * xx / 128 + rng.normal(0, 0.01, (128, 128))  # shaded scan with grain
    gray[40:42, 10:118] -= 0.12  # faint pencil
    gray[80:92, 10:118] = 0.05  # marker
    ink = curves.binarise(gray.astype(np.float32))
    assert ink[40:42, 12:116].mean() > 0.95 and ink[80:92, 12:116].mean() > 0.95
    paper = np.ones_like(ink)
    paper[37:45] = paper[77:95] = False
    assert ink[paper].mean() < 0.001


def test_an_empty_page_and_a_photo_are_refused():
    with pytest.raises(InputError, match="empty"):
        curves.extract(page())
    rng = np.random.default_rng(1)
    photo = cv2.GaussianBlur(rng.integers(0, 256, (96, 96, 3)).astype(np.uint8), (0, 0), 2)
    with pytest.raises(InputError, match="not a line drawing"):
        curves.extract(cv2.resize(photo, (192, 192)))
