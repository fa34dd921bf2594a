"""Where videos are cut, and the cutting options without Ray (no Ray session needed)."""
from __future__ import annotations

import pytest

from stylize.cli import main
from stylize.scale.plan import cut_points, plan_video

BUNNY = "media/adain_cutBunny.mp4"


def test_cuts_move_onto_a_near_keyframe_and_stay_put_otherwise():
    assert cut_points(240, 3, [0, 235]) == [0, 80, 160, 240]
    assert cut_points(240, 3, [0, 75, 170]) == [0, 75, 170, 240]
    assert cut_points(10, 4, [0]) == [0, 2, 5, 8, 10]


def test_a_plan_covers_every_frame_once_with_its_history(shared):
    plan = plan_video(shared / BUNNY, segments=4, overlap=3)
    assert plan.frame_count == 240 and plan.keyframes == (0, 235)
    assert [(s.start, s.end, s.history) for s in plan.segments] == [(0, 60, 0), (60, 120, 3), (120, 180, 3),
                                                                    (180, 240, 3)]
    assert plan.segments[-1].end_pts is None
    assert all(a.end_pts == b.start_pts > b.first_pts for a, b in zip(plan.segments, plan.segments[1:]))


@pytest.mark.parametrize("option", [["--workers", "2"], ["--segments", "3"], ["--join", "remux"]])
def test_cutting_options_without_ray_are_refused(shared, tmp_path, option, capsys):
    assert main(["video", str(shared / BUNNY), "-o", str(tmp_path / "out.mp4"), "--method", "wave", *option]) == 2
    assert "add --ray" in capsys.readouterr().err
    assert not (tmp_path / "out.mp4").exists()


def test_masks_with_ray_are_refused_before_anything_starts(shared, tmp_path, capsys):
    code = main(["video", str(shared / BUNNY), "-o", str(tmp_path / "out.mp4"), "--method", "wave",
                 "--mask-mode", "motion", "--ray"])
    assert code == 2 and "leave out --ray" in capsys.readouterr().err
    assert not (tmp_path / "out.mp4").exists()


def test_a_smoothed_segment_starts_from_its_own_history_and_writes_only_its_frames(shared, tmp_path):
    """What a Ray worker does with --temporal-smoothing, in this process: the history frames go through
    the net and the smoother, and only the segment's own frames are written."""
    from fractions import Fraction

    from stylize import api
    from stylize.scale.worker import JobSpec, Worker
    from scale_media import frame_stamps

    plan = plan_video(shared / BUNNY, segments=8, overlap=4)
    segment = plan.segments[2]
    spec = JobSpec(api.make_look("wave"), size=48, temporal_smoothing=0.6)
    worker = Worker(spec)
    result = worker.segment(str(shared / BUNNY), segment, str(tmp_path / "part.mkv"), plan.time_base,
                            lossless=True)
    assert result.ok, result.message
    assert result.frames == segment.frames == len(frame_stamps(tmp_path / "part.mkv"))
    assert spec.describe()["temporal_smoothing"] == 0.6 and JobSpec(spec.look).smoother() is None


def test_a_distilled_net_with_ray_is_refused_before_anything_starts(shared, tmp_path, capsys):
    from stylize.models.distilled import DistilledNet, write_net

    write_net(tmp_path / "mine.pt", DistilledNet(), {"look": "test"})
    code = main(["video", str(shared / BUNNY), "-o", str(tmp_path / "out.mp4"), "--net", str(tmp_path / "mine.pt"),
                 "--ray"])
    assert code == 2 and "leave out --ray" in capsys.readouterr().err
    assert not (tmp_path / "out.mp4").exists()
