"""Shared PyAV plumbing for the sinks that encode video (files and MPEG-TS streams)."""
from __future__ import annotations

import logging
from fractions import Fraction

import av
import numpy as np

from stylize.errors import UserError

log = logging.getLogger(__name__)

# Preferred first: H.264 plays everywhere; MPEG-4 Part 2 is the fallback that
# every FFmpeg build has.
ENCODERS = ("libx264", "libopenh264", "mpeg4")
# Formats that hold only a few codecs, with the encoders to try for them, best first.
# WebM takes VP8, VP9 or AV1 video and Opus or Vorbis audio, nothing else.
FORMAT_VIDEO_ENCODERS = {"webm": ("libvpx-vp9", "libvpx")}
FORMAT_AUDIO_ENCODERS = {"webm": ("libopus", "opus", "libvorbis", "vorbis")}
VPX_ENCODERS = ("libvpx-vp9", "libvpx")
# Encoders that keep RGB frames bit for bit (intermediate files that are encoded again later),
# with their pixel format and options.
LOSSLESS_RGB = {"libx264rgb": ("rgb24", {"qp": "0", "preset": "ultrafast"}), "ffv1": ("bgr0", {})}
# VP9's quality scale (0-63) against x264's (0-51): VP9 at 24 comes close to x264 at 18
# (PSNR 39.8 against 40.5 dB on a 640x360 clip, in 90 % of the bytes).
VPX_CRF_PER_X264_CRF = 24 / 18


def video_encoders(format_name: str, requested: tuple[str, ...] = ENCODERS) -> tuple[str, ...]:
    """The video encoders to try for a container format (`container.format.name`), best first.

    The default preference (H.264, then MPEG-4) gives way to the format's own
    list where the format holds only a few codecs; an explicit choice is kept.
    """
    if tuple(requested) == ENCODERS:
        return FORMAT_VIDEO_ENCODERS.get(format_name, ENCODERS)
    return tuple(requested)


def audio_encoder(format_name: str) -> str | None:
    """The audio encoder a format needs when the source's audio cannot be copied into it; None: copy only."""
    return next((name for name in FORMAT_AUDIO_ENCODERS.get(format_name, ()) if has_encoder(name)), None)


def has_encoder(name: str) -> bool:
    try:
        av.Codec(name, "w")
    except Exception:  # not compiled into this FFmpeg
        return False
    return True


def as_rate(fps: float | Fraction) -> Fraction:
    """A frame rate as an exact fraction (29.97 → 30000/1001); 30 when unknown."""
    if not fps or fps <= 0:
        return Fraction(30)
    return Fraction(fps).limit_denominator(1001)


def add_video_stream(container, width: int, height: int, fps: Fraction, time_base: Fraction, *,
                     live: bool, crf: int = 18, preset: str = "veryfast", encoders: tuple[str, ...] = ENCODERS):
    """Add a yuv420p video stream with the first of `encoders` that works; `live` trades compression for latency."""
    stream = _add_first_encoder(container, fps, video_encoders(container.format.name, encoders))
    codec = stream.codec_context.name
    stream.width, stream.height = encoded_size(width, height)
    if (stream.width, stream.height) != (width, height):
        log.warning("stylize: %dx%d frames are written as %dx%d: yuv420p video needs even sides, "
                    "so the last column or row is dropped", width, height, stream.width, stream.height)
    stream.pix_fmt = LOSSLESS_RGB[codec][0] if codec in LOSSLESS_RGB else "yuv420p"
    stream.time_base = time_base
    if codec == "mpeg4" and time_base.denominator > 65535:
        time_base = Fraction(1, 60000)  # the most MPEG-4 Part 2 allows; PyAV rescales frame times to it
    stream.codec_context.time_base = time_base
    if live:
        # A keyframe every second lets a viewer (OBS) join a running stream quickly.
        stream.codec_context.gop_size = max(1, round(fps))
    if codec in LOSSLESS_RGB:
        stream.options = LOSSLESS_RGB[codec][1]
    elif codec == "libx264":
        options = {"crf": str(crf), "preset": preset}
        if live:
            options.update(preset="ultrafast", tune="zerolatency")
        stream.options = options
    elif codec in VPX_ENCODERS:
        stream.options = _vpx_options(crf, live)
    else:
        # No constant-quality knob shared by these encoders: aim for about 0.2 bit per pixel.
        stream.bit_rate = int(max(500_000, 0.2 * stream.width * stream.height * float(fps)))
    return stream


def _vpx_options(crf: int, live: bool) -> dict[str, str]:
    """Constant quality (bit rate 0 lifts the cap); libvpx's default speed is far too slow for a CPU."""
    quality = min(63, round(crf * VPX_CRF_PER_X264_CRF))
    return {"crf": str(quality), "b": "0", "deadline": "realtime" if live else "good",
            "cpu-used": "8" if live else "4", "row-mt": "1"}


def _add_first_encoder(container, fps: Fraction, encoders: tuple[str, ...]):
    for name in encoders:
        if not has_encoder(name):
            continue
        try:
            return container.add_stream(name, rate=fps)
        except ValueError:  # the container format cannot hold it
            continue
    raise UserError(f"no encoder among {', '.join(encoders)} can write {container.format.name!r} here; "
                    f"try an .mp4 or .mkv output")


def even(n: int) -> int:
    return n - (n % 2)


def encoded_size(width: int, height: int) -> tuple[int, int]:
    """The (width, height) a video of `width`x`height` frames has once written: odd sides lose one pixel.

    H.264 in yuv420p, the one pixel format every player decodes, cannot hold an
    odd side (its crop window moves in steps of two). Keeping 321x241 exactly
    needs yuv444p (High 4:4:4, which browsers and QuickTime refuse) or a
    container crop that players ignore, so every encoder crops the same way.
    """
    return even(width), even(height)


def video_frame(image: np.ndarray, pts: int, time_base: Fraction) -> av.VideoFrame:
    """Wrap an RGB image; odd sizes lose their last row/column (yuv420p needs even sizes)."""
    h, w = image.shape[:2]
    if h % 2 or w % 2:
        image = image[: even(h), : even(w)]
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    frame.pts = pts
    frame.time_base = time_base
    return frame


class AudioCopy:
    """A source audio stream muxed packet for packet, never re-encoded."""

    def __init__(self, container, source_stream):
        self._container = container
        self.stream = container.add_stream_from_template(source_stream)  # ValueError: the format cannot hold it

    def mux(self, packet: av.Packet) -> None:
        packet.stream = self.stream
        self._container.mux(packet)

    def flush(self) -> None:
        """Nothing is held back when copying."""


class AudioReencoder:
    """A source audio stream re-encoded for a format that cannot hold it unchanged (AAC into WebM)."""

    def __init__(self, container, source_stream, encoder: str):
        self._container = container
        rates = av.Codec(encoder, "w").audio_rates  # None: any rate (Vorbis); Opus takes five
        rate = source_stream.rate if not rates or source_stream.rate in rates else max(rates)
        self.stream = container.add_stream(encoder, rate=rate)
        self.stream.layout = source_stream.layout.name

    def mux(self, packet: av.Packet) -> None:
        for frame in packet.decode():
            frame.pts = None  # the encoder counts its own samples, resampled to its rate
            self._container.mux(self.stream.encode(frame))

    def flush(self) -> None:
        self._container.mux(self.stream.encode(None))


def add_audio_route(container, source_stream, target: str = "this"):
    """How a source audio stream reaches `container`: copied where its format can hold it, else re-encoded
    with the format's own audio encoder (WebM: Opus, else Vorbis). `target` names the output in the error."""
    try:
        return AudioCopy(container, source_stream)
    except ValueError:
        encoder = audio_encoder(container.format.name)
    if encoder is None:
        raise UserError(f"{target} files cannot hold the source's {source_stream.codec_context.name} audio "
                        f"unchanged; write a .mkv instead")
    return AudioReencoder(container, source_stream, encoder)
