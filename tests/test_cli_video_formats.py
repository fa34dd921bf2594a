"""`stylize video` outputs: WebM with its sound, a truncated input reported, odd sizes reported as written."""
from __future__ import annotations

import av
import pytest

from helpers import run_cli
from stylize.realtime.sinks.encoding import audio_encoder, has_encoder

BUNNY = "media/adain_cutBunny.mp4"  # 640x360, 24 fps, 240 frames, AAC audio
FOX = "media/lengstrom_fox.mp4"  # 640x640, 420 frames, its index before the frames


@pytest.mark.skipif(not has_encoder("libvpx-vp9") or audio_encoder("webm") is None, reason="no WebM encoders")
def test_webm_output_is_vp9_with_the_sound_reencoded(shared, tmp_path):
    out = tmp_path / "bunny.webm"
    result = run_cli("video", shared / BUNNY, "-o", out, "--look", "starry-night", "--size", "64")
    assert result.returncode == 0, result.stderr.decode()
    with av.open(str(out)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert video.codec_context.name in ("vp9", "libvpx-vp9") and audio.codec_context.name in ("opus", "vorbis")
        frames = sum(1 for _ in container.decode(video=0))
    with av.open(str(out)) as container:
        seconds = sum(float(p.duration * p.time_base) for p in container.demux(audio=0) if p.duration)
    assert frames == 240
    assert seconds == pytest.approx(10.0, abs=0.3)  # the sound lasts as long as the clip


def test_a_truncated_input_is_reported_against_the_frames_it_declares(shared, tmp_path):
    data = (shared / FOX).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 43 // 100])
    out = tmp_path / "out.mp4"
    result = run_cli("video", cut, "-o", out, "--look", "starry-night", "--size", "32")
    assert result.returncode == 1
    last = result.stderr.decode().strip().splitlines()[-1]
    assert "ends early: wrote" in last and "of the 420 frames it declares" in last, last
    with av.open(str(out)) as container:
        written = sum(1 for _ in container.decode(video=0))
    assert 0 < written < 420 and f"wrote {written} of the 420" in last


def test_an_odd_size_is_reported_as_the_size_written(shared, tmp_path):
    out = tmp_path / "odd.mp4"
    result = run_cli("video", shared / BUNNY, "-o", out, "--look", "starry-night", "--size", "65")
    assert result.returncode == 0, result.stderr.decode()
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        size = (stream.width, stream.height)
    assert size == (64, 36)  # 65x37 asked; H.264 in yuv420p needs even sides
    assert "64x36" in result.stderr.decode().strip().splitlines()[-1]
