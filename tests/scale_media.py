"""Real media for the scale tests: a clip cut from a video by copying packets, and what decoding finds."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def cut_clip(source: Path, target: Path, frames: int) -> Path:
    """The first `frames` video frames of `source` and the audio alongside, packets copied unchanged."""
    with av.open(str(source)) as original, av.open(str(target), "w") as out:
        video = out.add_stream_from_template(original.streams.video[0])
        audio = out.add_stream_from_template(original.streams.audio[0])
        rate = original.streams.video[0].average_rate
        seconds, count = frames / rate, 0
        for packet in original.demux():
            if packet.size == 0:
                continue
            if packet.stream.type == "video":
                if count == frames:
                    continue
                count += 1
                packet.stream = video
            elif packet.pts * packet.time_base < seconds:
                packet.stream = audio
            else:
                continue
            out.mux(packet)
    return target


def frame_stamps(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        return [frame.pts for frame in container.decode(container.streams.video[0])]


def frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(container.streams.video[0])]


def audio_packets(path: Path) -> list[tuple]:
    with av.open(str(path)) as container:
        return [(p.pts, p.dts, bytes(p)) for p in container.demux(container.streams.audio[0]) if p.size]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two uint8 pictures in dB (inf when they are equal)."""
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if error == 0 else 10 * np.log10(255.0 ** 2 / error)
