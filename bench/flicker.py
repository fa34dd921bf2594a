"""Flicker: the temporal warping error of a stylized video, against its source's own.

The measure of video style transfer papers (Lai et al. 2018, Ruder et al. 2016):
optical flow (DIS, realtime/flow.py) is computed on the *source* frames; the
stylized frame t-1 is warped onto frame t along it, and the score is the mean
squared difference, in [0,1] RGB, over the pixels the forward-backward
consistency check finds visible in both frames, averaged over the frames.
The source's own warping error, scored the same way, is the floor that
compression, lighting and flow errors set: a perfectly stable stylization
would sit near it.

`stylize bench flicker OUT.mp4 --source IN.mp4` scores a video;
`--smoothing S` also scores OUT smoothed in memory by the post-stage
`--temporal-smoothing S` applies (realtime/temporal.py), `--style PAINTING`
adds the VGG-r31 style loss of both, and `--fps-cost METHOD` times METHOD at
640x480 on the source's frames with and without the smoothing, in turns.
Results: NAME.json and NAME.png (per-frame error), in the folder given
(default ./bench-results/).
"""
from __future__ import annotations

import itertools
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from stylize.realtime.flow import FlowEstimator, consistency_mask, warp

METRIC_PRESET = "medium"  # the metric's flow: full resolution, DIS's most careful preset


@dataclass
class FlickerReport:
    """Warping error per frame pair (frame t-1 carried onto t, t >= 1) and the share of pixels scored."""

    per_frame: list[float] = field(default_factory=list)
    valid_share: list[float] = field(default_factory=list)
    frames: int = 0  # frames read from both sequences
    unpaired: int = 0  # frames one sequence had beyond the other's end (not scored)

    @property
    def mean(self) -> float:
        """The warping error averaged over the frame pairs (NaN without any)."""
        return float(np.mean(self.per_frame)) if self.per_frame else float("nan")

    def summary(self) -> dict:
        return {"warping_error": round(self.mean, 7), "frames": self.frames, "unpaired_frames": self.unpaired,
                "valid_pixel_share": round(float(np.mean(self.valid_share)), 4) if self.valid_share else 0.0}


def metric_flow() -> FlowEstimator:
    """The flow the metric uses: DIS at full resolution."""
    return FlowEstimator(max_side=None, preset=METRIC_PRESET)


def pair_error(previous: np.ndarray, current: np.ndarray, back: np.ndarray, valid: np.ndarray) -> float:
    """Mean squared error in [0,1] RGB between `current` and `previous` warped along `back`, over `valid` pixels."""
    carried = warp(previous, back).astype(np.float32)
    squared = np.mean((carried - current.astype(np.float32)) ** 2, axis=2)
    return float(squared[valid].mean() / 255.0 ** 2)


def warping_errors(source_frames: Iterable[np.ndarray], candidates: dict[str, Iterable[np.ndarray]],
                   floor: bool = True, estimator: FlowEstimator | None = None) -> dict[str, FlickerReport]:
    """The warping error of each candidate sequence, with the flow computed once per frame on the source.

    Every sequence holds HxWx3 uint8 RGB frames; the source frames are
    resized to each candidate's size where they differ. `floor` adds the
    source's own error as "source". Sequences are read together and stop at
    the shortest; the frames left over are counted as `unpaired`.
    """
    estimator = estimator or metric_flow()
    names = (["source"] if floor else []) + list(candidates)
    reports = {name: FlickerReport() for name in names}
    previous: dict[str, np.ndarray] = {}
    flows = _FlowCache(estimator)
    sentinel = object()
    streams = [iter(source_frames)] + [iter(frames) for frames in candidates.values()]
    for row in itertools.zip_longest(*streams, fillvalue=sentinel):
        if any(item is sentinel for item in row):
            for report in reports.values():
                report.unpaired = 1 + sum(1 for _ in itertools.zip_longest(*streams))
            break
        flows.advance(row[0])
        frames = dict(zip(names, row if floor else row[1:]))
        for name, frame in frames.items():
            back, valid = flows.at(frame.shape[1], frame.shape[0])
            reports[name].frames += 1
            if back is not None and name in previous and valid.any():
                reports[name].per_frame.append(pair_error(previous[name], frame, back, valid))
                reports[name].valid_share.append(float(valid.mean()))
            previous[name] = frame
    return reports


def warping_error(stylized_frames: Iterable[np.ndarray], source_frames: Iterable[np.ndarray],
                  estimator: FlowEstimator | None = None) -> FlickerReport:
    """The warping error of `stylized_frames` along the flow of `source_frames` (both RGB uint8, in order)."""
    return warping_errors(source_frames, {"stylized": stylized_frames}, floor=False, estimator=estimator)["stylized"]


class _FlowCache:
    """The backward flow and consistency of the latest source frame pair, per frame size."""

    def __init__(self, estimator: FlowEstimator):
        self.estimator = estimator
        self._previous: np.ndarray | None = None
        self._current: np.ndarray | None = None
        self._sized: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def advance(self, source: np.ndarray) -> None:
        self._previous, self._current, self._sized = self._current, source, {}

    def at(self, width: int, height: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(flow from the current frame to the previous, consistency) at width x height; (None, None) at first."""
        if self._previous is None:
            return None, None
        if (width, height) not in self._sized:
            previous, current = (_fit(frame, width, height) for frame in (self._previous, self._current))
            back = self.estimator(current, previous)
            forward = self.estimator(previous, current)
            self._sized[width, height] = back, consistency_mask(back, forward)
        return self._sized[width, height]


def _fit(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    if frame.shape[:2] == (height, width):
        return frame
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)


def video_frames(path: str, size: int | None = None) -> Iterator[np.ndarray]:
    """The RGB frames of a video file, decoded in order (long side `size`, None: as stored)."""
    from stylize.jobs import open_video

    with open_video(path, size) as video:
        for frame in video:
            yield frame.image


def progress(frames: Iterable[np.ndarray], total: int | None, label: str) -> Iterator[np.ndarray]:
    from tqdm import tqdm

    yield from tqdm(frames, total=total, desc=label, unit="frame", file=sys.stderr, leave=False)
