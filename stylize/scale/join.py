"""Segments into one video, in order, with the source's timestamps and its audio untouched.

Two ways, chosen by the caller (see worker.Worker.segment for how each kind of
segment is written):
- "encode": the segments hold the stylized RGB frames bit for bit; they are
  decoded and encoded once, through the same VideoWriter as `stylize video`,
  so the file is identical to a single-process run. Costs one encode of the
  whole video on the driver.
- "remux": the segments are already in the final codec; their packets are
  copied in order, timestamps moved back to where they were in the source.
  Costs about a file copy; the frames differ from a single-process run by the
  encoder's noise, because each segment's encoder starts afresh. Where the
  segments cannot be remuxed together (different encoders or parameter sets,
  say FFmpeg builds that differ across a cluster), it falls back to "encode".
"""
from __future__ import annotations

import heapq
import os
from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path

import av

from stylize.errors import OutputError
from stylize.imageio import output_errors
from stylize.realtime.frames import Frame
from stylize.realtime.sinks import VideoWriter
from stylize.realtime.sinks.encoding import add_audio_route
from stylize.scale import JOINS  # noqa: F401  (re-exported: the joins this module makes)
from stylize.scale.plan import VideoPlan



def join_segments(plan: VideoPlan, files: list[Path], target: str | os.PathLike, how: str = "encode") -> str:
    """Write `target` from the segment `files` of `plan` and the source's audio; returns how it was joined."""
    target = Path(target)
    if os.path.lexists(target):
        raise OutputError(f"{target}: exists; nothing was overwritten")
    if how == "remux" and _remuxable(plan, files):
        temporary = target.with_name(f".{target.name}.partial{target.suffix}")
        try:
            with output_errors(target):
                _remux(plan, files, temporary, target.suffix)
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
        return "remux"
    _encode_once(plan, files, target)
    return "encode"


def _remuxable(plan: VideoPlan, files: list[Path]) -> bool:
    """Same codec, size, parameter sets (extradata) and the source's time base in every segment."""
    seen = set()
    for path in files:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            context = stream.codec_context
            seen.add((context.name, context.width, context.height, bytes(context.extradata or b""),
                      stream.time_base == plan.time_base))
    return len(seen) == 1 and next(iter(seen))[-1]


def _remux(plan: VideoPlan, files: list[Path], temporary: Path, suffix: str) -> None:
    with ExitStack() as stack:
        output = stack.enter_context(av.open(str(temporary), "w"))
        first = stack.enter_context(av.open(str(files[0])))
        video = output.add_stream_from_template(first.streams.video[0])
        video.time_base = plan.time_base
        original = stack.enter_context(av.open(plan.source))
        routes = {stream.index: add_audio_route(output, stream, suffix or "this")
                  for stream in original.streams.audio}
        frames = _video_packets(plan, files, video, stack)
        audio = original.demux(*original.streams.audio) if routes else iter(())
        for packet in heapq.merge(frames, audio, key=_decode_time):
            if packet.stream is video:
                output.mux(packet)
            elif packet.size:
                routes[packet.stream.index].mux(packet)
        for route in routes.values():
            route.flush()


def _video_packets(plan: VideoPlan, files: list[Path], video, stack: ExitStack):
    """Every segment's video packets in decode order, on the source's timeline, moved onto `video`."""
    last_dts = None
    for segment, path in zip(plan.segments, files):
        container = stack.enter_context(av.open(str(path)))
        for packet in container.demux(container.streams.video[0]):
            if packet.size == 0:
                continue
            packet.pts += segment.start_pts
            packet.dts = packet.dts + segment.start_pts if packet.dts is not None else None
            if last_dts is not None and packet.dts is not None and packet.dts <= last_dts:
                packet.dts = last_dts + 1  # a segment's first packets decode a little before it starts
                if packet.pts < packet.dts:
                    raise OutputError(f"{path}: its timestamps overlap the segment before; cannot join")
            last_dts = packet.dts
            packet.stream = video
            yield packet
        container.close()


def _decode_time(packet) -> Fraction:
    stamp = packet.dts if packet.dts is not None else (packet.pts or 0)
    return stamp * packet.time_base


def _encode_once(plan: VideoPlan, files: list[Path], target: Path) -> None:
    """Decode the segments and encode them as one file through the VideoWriter (audio copied as always)."""
    with av.open(str(files[0])) as first:
        stream = first.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
    with av.open(plan.source) as original:
        rate = original.streams.video[0].average_rate or original.streams.video[0].guessed_rate
    writer = VideoWriter(target, audio_from=plan.source, lossless=True, progress=False)
    writer.open(width, height, float(rate) if rate else 30.0)
    try:
        for segment, path in zip(plan.segments, files):
            offset = float(segment.start_pts * plan.time_base)
            with av.open(str(path)) as container:
                for index, frame in enumerate(container.decode(container.streams.video[0]), segment.start):
                    writer.write(Frame(frame.to_ndarray(format="rgb24"), index, 0.0, frame.time + offset))
        writer.end_of_stream()
    except BaseException:
        writer.run_failed()
        raise
    finally:
        writer.close()
    if writer.saved_path != target:
        raise OutputError(f"{target}: could not be written whole")
