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


WORKER_PROCESS = """
import pickle, sys
from stylize.scale.worker import Worker
spec = pickle.loads(open(sys.argv[1], "rb").read())
result = Worker(spec).image(sys.argv[2], sys.argv[3])
print(result.message)
sys.exit(0 if result.ok else 1)
"""


def test_a_fresh_worker_process_registers_the_distilled_nets_it_is_given(tmp_path, content_path):
    """A Ray worker starts with the built-in nets only: the spec's net files are what make `--net` work there."""
    import dataclasses
    import pickle
    import subprocess
    import sys

    from stylize import api
    from stylize.models.distilled import DistilledNet, write_net
    from stylize.scale.worker import JobSpec

    net_file = tmp_path / "mine.pt"
    write_net(net_file, DistilledNet(), {"look": "test"})
    spec = JobSpec(api.make_look(api.load_net(net_file)), size=48, net_files=(str(net_file),))
    for given, name in ((spec, "with"), (dataclasses.replace(spec, net_files=()), "without")):
        (tmp_path / f"{name}.pkl").write_bytes(pickle.dumps(given))
        done = subprocess.run([sys.executable, "-c", WORKER_PROCESS, str(tmp_path / f"{name}.pkl"),
                               str(content_path), str(tmp_path / f"{name}.png")],
                              capture_output=True, text=True, timeout=120)
        assert (done.returncode == 0) == (name == "with"), done.stdout + done.stderr
    assert (tmp_path / "with.png").stat().st_size > 0 and not (tmp_path / "without.png").exists()
