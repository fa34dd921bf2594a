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
