"""A video file source that seeks to one segment and decodes only it (and the history before it)."""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from stylize.realtime.sources import EndOfStream, VideoFile
from stylize.scale.plan import Segment


class SegmentFile(VideoFile):
    """Frames `segment.start - segment.history` to `segment.end` of a file, numbered as in the whole file.

    Decoding starts at the keyframe at or before the first frame needed; the
    frames before that one are decoded and dropped. Frames numbered below
    `segment.start` are history (see worker.SegmentSink, which writes the rest).
    """

    def __init__(self, location: str, segment: Segment, size: int | None = None):
        super().__init__(location, size=size, paced=False)
        self.segment = segment
        self._time_base = self._stream.time_base
        self._container.seek(segment.first_pts, stream=self._stream, backward=True, any_frame=False)
        self._decoder = self._container.decode(self._stream)
        self._index = segment.start - segment.history
        self.frame_count = segment.frames
        self.frames_expected = None  # the whole file's count does not apply; the worker checks its own

    def _next(self) -> tuple[np.ndarray, float | None]:
        while True:
            image, time = super()._next()
            pts = round(Fraction(time) / self._time_base)
            if pts < self.segment.first_pts:
                continue  # decoded only to reach the first frame needed
            if self.segment.end_pts is not None and pts >= self.segment.end_pts:
                raise EndOfStream
            return image, time
