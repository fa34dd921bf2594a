"""Where a video is cut: segments of about equal length, moved onto keyframes where one is near.

A segment owns frames [start, end) in presentation order and is written with
the source's own timestamps. Its worker seeks to the keyframe at or before the
first frame it needs, so it decodes at most one group of pictures it does not
write. `overlap` frames before `start` (the history a temporally smoothed net
needs) go through the net but are not written: every frame is written once.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

from stylize.errors import InputError, OptionError

SEGMENT_FRAMES = 1500  # the default length: about a minute of film, a modest loss when a worker dies
MAX_SEGMENTS = 10_000


@dataclass(frozen=True)
class Segment:
    index: int
    start: int  # first frame written (0-based, presentation order)
    end: int  # one past the last frame written
    first_pts: int  # pts of the first frame fed to the net (start - overlap), in the stream's time base
    start_pts: int  # pts of frame `start`
    end_pts: int | None  # pts of frame `end`; None: the segment runs to the end of the file
    history: int = 0  # frames before `start` fed to the net and not written (the overlap)

    @property
    def frames(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class VideoPlan:
    source: str
    frame_count: int
    time_base: Fraction  # of the source's video stream; every segment file keeps it
    keyframes: tuple[int, ...]  # frame numbers of the keyframes
    segments: tuple[Segment, ...]

    def describe(self) -> dict:
        """The plan as JSON-ready values (for the resume key)."""
        return {"source": self.source, "frames": self.frame_count, "time_base": str(self.time_base),
                "segments": [asdict(segment) for segment in self.segments]}


def scan(source: str | Path) -> tuple[list[int], set[int], Fraction]:
    """The video's frame timestamps in presentation order, the keyframes' timestamps, the time base.

    Only packets are read (nothing is decoded), so a two-hour film scans in seconds.
    """
    import av

    try:
        with av.open(str(source)) as container:
            if not container.streams.video:
                raise InputError(f"{source}: has no video stream")
            stream = container.streams.video[0]
            stamps, keys = [], set()
            for packet in container.demux(stream):
                if packet.size == 0 or packet.pts is None:
                    continue
                stamps.append(packet.pts)
                if packet.is_keyframe:
                    keys.add(packet.pts)
            time_base = stream.time_base
    except (av.FFmpegError, OSError) as exc:
        raise InputError(f"{source}: not a readable video (corrupt or unknown format): {exc}") from None
    if not stamps:
        raise InputError(f"{source}: has no video frames")
    return sorted(stamps), keys, time_base


def plan_video(source: str | Path, segments: int | None = None, overlap: int = 0,
               segment_frames: int = SEGMENT_FRAMES) -> VideoPlan:
    """Cut `source` into `segments` pieces (None: one per `segment_frames` frames)."""
    if overlap < 0:
        raise OptionError(f"the overlap must be 0 or more frames, got {overlap}")
    stamps, keys, time_base = scan(source)
    count = len(stamps)
    wanted = segments if segments is not None else math.ceil(count / segment_frames)
    if not 1 <= wanted <= MAX_SEGMENTS:
        raise OptionError(f"segments must be between 1 and {MAX_SEGMENTS}, got {wanted}")
    keyframes = [i for i, pts in enumerate(stamps) if pts in keys]
    cuts = cut_points(count, min(wanted, count), keyframes)
    pieces = []
    for index, (start, end) in enumerate(zip(cuts, cuts[1:])):
        first = max(0, start - overlap)
        pieces.append(Segment(index, start, end, stamps[first], stamps[start],
                              stamps[end] if end < count else None, start - first))
    return VideoPlan(str(source), count, time_base, tuple(keyframes), tuple(pieces))


def cut_points(count: int, pieces: int, keyframes: list[int]) -> list[int]:
    """Frame numbers [0, ..., count] that cut `count` frames into `pieces` segments.

    Each cut goes to the nearest keyframe within a quarter of a segment of the
    even cut (no frame decoded twice), else stays where it is (the worker then
    decodes from the keyframe before it).
    """
    length = count / pieces
    cuts = [0]
    for piece in range(1, pieces):
        even = round(piece * length)
        near = min(keyframes, key=lambda k: abs(k - even), default=even)
        cut = near if abs(near - even) <= length / 4 else even
        if cuts[-1] < cut < count:
            cuts.append(cut)
    return [*cuts, count]
