"""Shared PyAV plumbing for the sinks that encode video (files and MPEG-TS streams)."""
from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from stylize.errors import UserError

# Preferred first: H.264 plays everywhere; MPEG-4 Part 2 is the fallback that
# every FFmpeg build has.
ENCODERS = ("libx264", "libopenh264", "mpeg4")


def as_rate(fps: float | Fraction) -> Fraction:
    """A frame rate as an exact fraction (29.97 → 30000/1001); 30 when unknown."""
    if not fps or fps <= 0:
        return Fraction(30)
    return Fraction(fps).limit_denominator(1001)


def add_video_stream(container, width: int, height: int, fps: Fraction, time_base: Fraction, *,
                     live: bool, crf: int = 18, preset: str = "veryfast", encoders: tuple[str, ...] = ENCODERS):
    """Add a yuv420p video stream with the first of `encoders` that works; `live` trades compression for latency."""
    stream = _add_first_encoder(container, fps, encoders)
    codec = stream.codec_context.name
    stream.width, stream.height = even(width), even(height)
    stream.pix_fmt = "yuv420p"
    stream.time_base = time_base
    if codec == "mpeg4" and time_base.denominator > 65535:
        time_base = Fraction(1, 60000)  # the most MPEG-4 Part 2 allows; PyAV rescales frame times to it
    stream.codec_context.time_base = time_base
    if live:
        # A keyframe every second lets a viewer (OBS) join a running stream quickly.
        stream.codec_context.gop_size = max(1, round(fps))
    if codec == "libx264":
        options = {"crf": str(crf), "preset": preset}
        if live:
            options.update(preset="ultrafast", tune="zerolatency")
        stream.options = options
    else:
        # No constant-quality knob shared by these encoders: aim for about 0.2 bit per pixel.
        stream.bit_rate = int(max(500_000, 0.2 * stream.width * stream.height * float(fps)))
    return stream


def _add_first_encoder(container, fps: Fraction, encoders: tuple[str, ...]):
    for name in encoders:
        try:
            av.Codec(name, "w")
        except Exception:  # not compiled into this FFmpeg
            continue
        try:
            return container.add_stream(name, rate=fps)
        except ValueError:  # the container format cannot hold it
            continue
    raise UserError(f"no encoder among {', '.join(encoders)} can write {container.format.name!r} here; "
                    f"try an .mp4 or .mkv output")


def even(n: int) -> int:
    return n - (n % 2)


def video_frame(image: np.ndarray, pts: int, time_base: Fraction) -> av.VideoFrame:
    """Wrap an RGB image; odd sizes lose their last row/column (yuv420p needs even sizes)."""
    h, w = image.shape[:2]
    if h % 2 or w % 2:
        image = image[: even(h), : even(w)]
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    frame.pts = pts
    frame.time_base = time_base
    return frame
