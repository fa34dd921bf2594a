"""The finished segments of one output, kept beside it until the join, so a re-run resumes.

`.NAME.segments/` beside the output holds `plan.json` (what the segments are
for: the source's path, size and modification time, the look and the cuts)
and one `NNNNN.EXT` per finished segment. A worker writes its segment under a
temporary name, so a file under its final name was closed; it is still
verified (decodable, the planned frame count, a first timestamp of 0)
before a re-run skips it. Segments from another plan are removed.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from stylize.scale.plan import Segment, VideoPlan

SEGMENT_SUFFIX = ".mp4"


class SegmentStore:
    def __init__(self, target: str | os.PathLike, plan: VideoPlan, options: dict):
        target = Path(target)
        self.folder = target.with_name(f".{target.name}.segments")
        self.plan = plan
        source = Path(plan.source).stat()
        self.key = _digest({"plan": plan.describe(), "options": options,
                            "source": [str(Path(plan.source).resolve()), source.st_size, source.st_mtime_ns]})

    def open(self) -> None:
        """Create the folder, or keep it when it holds segments of this very plan (else start it afresh)."""
        marker = self.folder / "plan.json"
        if self.folder.is_dir():
            try:
                if json.loads(marker.read_text()).get("key") == self.key:
                    return
            except (OSError, ValueError):
                pass
            shutil.rmtree(self.folder)
        self.folder.mkdir()
        marker.write_text(json.dumps({"key": self.key, "source": self.plan.source}))

    def path(self, segment: Segment) -> Path:
        return self.folder / f"{segment.index:05d}{SEGMENT_SUFFIX}"

    def finished(self, segment: Segment) -> bool:
        """True when the segment's file is there, decodes, and holds exactly the planned frames."""
        path = self.path(segment)
        if not path.is_file():
            return False
        if verify_segment(path, segment):
            return True
        path.unlink()
        return False

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def verify_segment(path: Path, segment: Segment) -> bool:
    """Decode every frame of a segment file: the planned count, starting at the planned timestamp."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stamps = [frame.pts for frame in container.decode(stream)]
    except (av.FFmpegError, OSError, IndexError):
        return False
    return len(stamps) == segment.frames and min(stamps, default=None) == 0


def _digest(values: dict) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()
