"""The flicker metric on a real clip: about the floor unstylized, larger when frames flicker, smaller smoothed."""
from __future__ import annotations

import json

import numpy as np
import pytest

from stylize import api
from stylize.bench.flicker import video_frames, warping_error, warping_errors
from stylize.cli import main
from stylize.jobs import stylize_video_file
from stylize.realtime.frames import Frame
from stylize.realtime.sinks import VideoWriter
from stylize.realtime.temporal import TemporalSmoother

FRAMES = 16
SIZE = 160  # long side: 160x90


@pytest.fixture(scope="module")
def street(shared, tmp_path_factory):
    """The first frames of the pedestrian clip at 160x90, re-encoded with the project's writer."""
    path = tmp_path_factory.mktemp("flicker") / "street.mp4"
    frames = list(video_frames(str(shared / "media" / "terryky_pexels_street.mp4"), SIZE))[:FRAMES]
    writer = VideoWriter(path, progress=False)
    writer.open(frames[0].shape[1], frames[0].shape[0], 25.0)
    for index, image in enumerate(frames):
        writer.write(Frame(image, index, 0.0, index / 25.0))
    writer.end_of_stream()
    writer.close()
    return path


def flickering(frames: list[np.ndarray], seed: int = 0, level: float = 12.0) -> list[np.ndarray]:
    """Each frame with fresh noise: what a per-frame stylization's crawling strokes look like to the metric."""
    rng = np.random.default_rng(seed)
    return [np.clip(f + rng.normal(0, level, f.shape), 0, 255).astype(np.uint8) for f in frames]


def test_flicker_is_above_the_floor_and_smoothing_brings_it_down(street):
    source = list(video_frames(str(street)))
    noisy = flickering(source)
    smoother = TemporalSmoother(0.6)
    smoothed = [smoother(src, frame) for src, frame in zip(source, noisy)]
    reports = warping_errors(source, {"noisy": noisy, "smoothed": smoothed})
    floor, flicker, tamed = (reports[name].mean for name in ("source", "noisy", "smoothed"))
    assert reports["source"].frames == FRAMES and len(reports["noisy"].per_frame) == FRAMES - 1
    assert 0 < floor < 0.01
    assert flicker > 2 * floor
    assert tamed < 0.6 * flicker
    assert smoother.blended == FRAMES - 1
    assert warping_error(noisy, source).per_frame == reports["noisy"].per_frame


def test_a_shorter_stylized_sequence_counts_the_unpaired_frames(street):
    source = list(video_frames(str(street)))
    report = warping_error(source[:10], source)
    assert report.frames == 10 and report.unpaired == FRAMES - 10


def test_an_unstylized_copy_scores_the_floor_and_smoothing_lowers_a_real_net(street, tmp_path, one_torch_thread):
    """Through the video job: alpha 0 re-encodes the source; the student with and without --temporal-smoothing."""
    copy, plain, smooth = tmp_path / "copy.mp4", tmp_path / "plain.mp4", tmp_path / "smooth.mp4"
    look = api.look("starry-night")
    stylize_video_file(street, copy, look, api.new_engine("torch", alpha=0.0), progress=False)
    stylize_video_file(street, plain, look, api.new_engine("torch"), progress=False)
    result = stylize_video_file(street, smooth, look, api.new_engine("torch"), progress=False,
                                temporal_smoothing=0.6)
    assert result.stats["temporal_smoothing"]["blended_frames"] == FRAMES - 1
    source = list(video_frames(str(street)))
    floor = warping_error(source, source).mean
    copied = warping_error(video_frames(str(copy)), source).mean
    per_frame = warping_error(video_frames(str(plain)), source).mean
    smoothed = warping_error(video_frames(str(smooth)), source).mean
    assert copied == pytest.approx(floor, rel=0.5)
    assert per_frame > 1.5 * floor
    assert smoothed < 0.8 * per_frame


def test_bench_flicker_writes_json_and_plot(street, style_path, in_scratch_dir, capsys, one_torch_thread):
    assert main(["bench", "flicker", str(street), "--source", str(street), "--smoothing", "--style", str(style_path),
                 "--fps-cost", "student", "--resolution", "64x48", "--seconds", "0.2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["per-frame"]["warping_error"] == report["source"]["warping_error"]
    assert report["smoothing"]["strength"] == TemporalSmoother().strength
    assert len(report["per_frame_error"]["smoothed"]) == FRAMES - 1
    assert report["style_loss"]["frames_scored"] == 2 and report["style_loss"]["smoothed"] > 0
    assert report["fps_cost"]["resolution"] == "64x48" and report["fps_cost"]["smoothed"]["frames"] > 0
    assert sorted(p.name for p in (in_scratch_dir / "bench-results").iterdir()) == [
        "flicker_street.json", "flicker_street.png"]


def test_bench_flicker_refuses_a_strength_out_of_range(street, tmp_path, capsys):
    assert main(["bench", "flicker", str(street), "--source", str(street), "--smoothing", "1.5",
                 "-o", str(tmp_path)]) == 2
    assert "--temporal-smoothing" in capsys.readouterr().err
