"""Encoder choice per container format (WebM gets VP9/Opus) and the size odd frames are written at."""
from __future__ import annotations

import logging
from fractions import Fraction

import cv2  # noqa: F401  (before av: see realtime/sinks/__init__.py)
import av
import numpy as np
import pytest

from stylize.realtime.frames import Frame
from stylize.realtime.sinks import VideoWriter
from stylize.realtime.sinks.encoding import (ENCODERS, AudioCopy, AudioReencoder, add_audio_route,
                                             add_video_stream, audio_encoder, encoded_size, has_encoder,
                                             video_encoders, video_frame)

LOGGER = "stylize.realtime.sinks.encoding"


def halves(height: int, width: int) -> np.ndarray:
    """Red left half, blue right half: recognisable after lossy coding."""
    image = np.zeros((height, width, 3), np.uint8)
    image[:, : width // 2] = (210, 30, 30)
    image[:, width // 2:] = (30, 30, 210)
    return image


def write(path, width: int, height: int, count: int = 5) -> None:
    with VideoWriter(path) as writer:
        writer.open(width, height, 25)
        for i in range(count):
            writer.write(Frame(halves(height, width), i, 0.0))


def decode(path) -> tuple[str, list[np.ndarray]]:
    with av.open(str(path)) as container:
        codec = container.streams.video[0].codec_context.name
        return codec, [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def test_webm_takes_vpx_and_every_other_format_the_default_list():
    assert video_encoders("webm") == ("libvpx-vp9", "libvpx")
    assert video_encoders("mp4") == video_encoders("matroska") == ENCODERS
    assert video_encoders("webm", ("mpeg4",)) == ("mpeg4",)  # an explicit choice is not overridden
    assert audio_encoder("mp4") is None and audio_encoder("matroska") is None


@pytest.mark.skipif(not has_encoder("libvpx-vp9"), reason="this FFmpeg has no VP9 encoder")
def test_a_webm_output_is_vp9_and_plays(tmp_path):
    out = tmp_path / "out.webm"
    write(out, 96, 64)
    codec, frames = decode(out)
    assert codec == "vp9" and len(frames) == 5
    left, right = frames[-1][:, :40].mean(axis=(0, 1)), frames[-1][:, 56:].mean(axis=(0, 1))
    assert np.abs(left - (210, 30, 30)).max() < 20 and np.abs(right - (30, 30, 210)).max() < 20


@pytest.mark.skipif(not (has_encoder("libopus") or has_encoder("vorbis")), reason="no Opus or Vorbis encoder")
def test_webm_audio_is_opus_or_vorbis():
    assert audio_encoder("webm") in ("libopus", "opus", "libvorbis", "vorbis")


@pytest.mark.parametrize("size,written", [((321, 241), (320, 240)), ((320, 241), (320, 240)),
                                          ((320, 240), (320, 240))])
def test_the_written_size_is_the_encoded_size_and_a_crop_is_said(tmp_path, caplog, size, written):
    out = tmp_path / "odd.mp4"
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        write(out, *size, count=2)
    _, frames = decode(out)
    assert encoded_size(*size) == written == (frames[0].shape[1], frames[0].shape[0])
    warnings = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    if size == written:
        assert warnings == []
    else:
        assert warnings == [f"stylize: {size[0]}x{size[1]} frames are written as {written[0]}x{written[1]}: "
                            "yuv420p video needs even sides, so the last column or row is dropped"]


@pytest.fixture(scope="module")
def bunny(shared):
    return shared / "media" / "adain_cutBunny.mp4"  # 10 s, 240 frames at 24 fps, AAC stereo at 44.1 kHz


def mux_audio(source, target):
    """Every audio packet of `source` into `target` (one frame of video with it), through add_audio_route."""
    with av.open(str(source)) as src, av.open(str(target), "w") as out:
        audio = src.streams.audio[0]
        route = add_audio_route(out, audio, target.suffix)
        video = add_video_stream(out, 64, 48, Fraction(24), Fraction(1, 24), live=False)
        out.mux(video.encode(video_frame(halves(48, 64), 0, Fraction(1, 24))))
        for packet in src.demux(audio):
            if packet.size:
                route.mux(packet)
        out.mux(video.encode(None))
        route.flush()
    return route


def audio_of(path) -> tuple[str, float]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return stream.codec_context.name, sum(f.samples for f in container.decode(stream)) / stream.rate


@pytest.mark.skipif(not has_encoder("libvpx-vp9") or audio_encoder("webm") is None, reason="no WebM encoders")
def test_aac_audio_is_reencoded_for_webm_and_lasts_as_long(bunny, tmp_path):
    route = mux_audio(bunny, tmp_path / "out.webm")
    assert isinstance(route, AudioReencoder)
    codec, seconds = audio_of(tmp_path / "out.webm")
    assert codec in ("opus", "vorbis") and seconds == pytest.approx(10.0, abs=0.05)


def test_aac_audio_is_copied_unchanged_where_the_format_holds_it(bunny, tmp_path):
    route = mux_audio(bunny, tmp_path / "out.mkv")
    assert isinstance(route, AudioCopy)
    with av.open(str(bunny)) as src, av.open(str(tmp_path / "out.mkv")) as out:
        original = [bytes(p) for p in src.demux(audio=0) if p.size]
        copied = [bytes(p) for p in out.demux(audio=0) if p.size]
    assert copied == original
