"""The file jobs called as a library: a video file into a stylized one, and the typed errors before any work."""
import os
import signal
import wave

import av
import pytest

from stylize import api
from stylize.errors import InputError, OptionError, OutputError
from stylize.jobs import ImageJob, stylize_video_file
from stylize.realtime.engines import TorchEngine
from stylize.realtime.pipeline import StopReason
from stylize.realtime.sinks import VideoWriter
from stylize.realtime.sources import TestPattern

FRAMES = 24


@pytest.fixture
def clip(tmp_path):
    """A short silent 96x64 clip, written with the project's own writer."""
    path = tmp_path / "clip.mp4"
    writer = VideoWriter(path, progress=False)
    with TestPattern(96, 64, fps=24, frames=FRAMES, paced=False) as source:
        writer.open(source.width, source.height, source.fps)
        for frame in source:
            writer.write(frame)
    writer.end_of_stream()
    writer.close()
    return path


def _decoded(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_video_job_writes_every_frame_and_reports(clip, tmp_path, weights_dir, one_torch_thread):
    out, stats = tmp_path / "out.mkv", tmp_path / "stats.json"
    result = stylize_video_file(clip, out, api.make_look("wave"), api.new_engine(), size=48, progress=False,
                                stats_path=stats)
    assert result.finished and result.reason == StopReason.END_OF_STREAM
    assert (result.frames, result.width, result.height) == (FRAMES, 48, 32)
    assert result.stats["stages"]["sink:video"]["frames"] == FRAMES and result.stats["backend"] == "torch cpu"
    assert _decoded(out) == FRAMES and stats.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "out.mkv", "stats.json"]


class _TermAfter(TorchEngine):
    """The torch engine, sending this process SIGTERM once `count` frames are stylized (as `kill` would)."""

    def __init__(self, count):
        super().__init__()
        self.count, self.done = count, 0

    def _download(self, output):
        self.done += 1
        if self.done == self.count:
            os.kill(os.getpid(), signal.SIGTERM)
        return super()._download(output)


def test_sigterm_stops_the_job_with_a_playable_file(clip, tmp_path, weights_dir, one_torch_thread):
    before = signal.getsignal(signal.SIGTERM)
    out = tmp_path / "cut.mp4"
    result = stylize_video_file(clip, out, api.make_look("wave"), _TermAfter(3), progress=False)
    assert result.reason == StopReason.INTERRUPTED and not result.finished
    assert 1 <= result.frames < FRAMES and _decoded(out) == result.frames
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "cut.mp4"]  # finalised and renamed
    assert signal.getsignal(signal.SIGTERM) == before  # the job's handler is gone again


def _audio_only(path):
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 800)
    return path


@pytest.mark.parametrize("case, error, needle", [
    ("missing input", InputError, "no such file"),
    ("no video stream", InputError, "no video stream"),
    ("unknown suffix", OutputError, "extension"),
    ("overwrite input", OutputError, "overwrite"),
    ("output folder missing", OutputError, "does not exist"),
])
def test_bad_video_paths_raise_typed_errors_and_leave_nothing(case, error, needle, clip, tmp_path):
    source, target = {
        "missing input": (tmp_path / "nope.mp4", tmp_path / "out.mp4"),
        "no video stream": (_audio_only(tmp_path / "a.wav"), tmp_path / "out.mp4"),
        "unknown suffix": (clip, tmp_path / "out.gif"),
        "overwrite input": (clip, clip),
        "output folder missing": (clip, tmp_path / "no" / "out.mp4"),
    }[case]
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(error, match=needle):
        stylize_video_file(source, target, api.make_look("wave"), api.new_engine(), progress=False)
    assert sorted(os.listdir(tmp_path)) == before


def test_image_job_checks_its_options():
    with pytest.raises(OptionError, match="alpha"):
        ImageJob(api.look("great-wave"), api.new_engine(), alpha=2.0)
    with pytest.raises(OptionError, match="preserve"):
        ImageJob(api.look("great-wave"), api.new_engine(), preserve_color="sepia")
    with pytest.raises(ValueError, match="engine"):
        ImageJob(api.look("great-wave"))

