"""`--mask-mode` in video, live and image (the CLI, in process and as a subprocess) and the Python API: on the first second of the seated family clip,
where motion detection sees almost nothing and person segmentation sees the family."""
from __future__ import annotations

import json

import av
import numpy as np
import pytest

from helpers import run_cli
from stylize import api
from stylize.cli import main
from stylize.realtime.frames import Frame
from stylize.realtime.sinks import VideoWriter

FPS = 25
STYLIZED = 20  # mean absolute RGB difference above which a pixel counts as painted (re-encoding moves it far less)


@pytest.fixture(scope="module")
def first_second(shared, tmp_path_factory):
    """The clip's first second at 200x180: the family sits still on the sofa."""
    import cv2

    path = tmp_path_factory.mktemp("clip") / "family.mp4"
    writer = VideoWriter(path, progress=False)
    writer.open(200, 180, FPS)
    with av.open(str(shared / "media" / "terryky_pexels_family.mp4")) as container:
        for index, frame in zip(range(FPS), container.decode(video=0)):
            small = cv2.resize(frame.to_ndarray(format="rgb24"), (200, 180), interpolation=cv2.INTER_AREA)
            writer.write(Frame(small, index, 0.0, index / FPS))
    writer.end_of_stream()
    writer.close()
    return path


def _frames(path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]).astype(np.int16)


def _painted_share(source, output) -> np.ndarray:
    """Per frame, the share of pixels the output changed by more than STYLIZED."""
    before, after = _frames(source), _frames(output)
    assert before.shape == after.shape
    return (np.abs(after - before).mean(axis=3) > STYLIZED).mean(axis=(1, 2))


def test_person_mode_paints_the_family_from_the_first_frame_and_motion_mode_barely(
        first_second, tmp_path, weights_dir, one_torch_thread):
    person = tmp_path / "person.mp4"
    assert main(["video", str(first_second), "-o", str(person), "--look", "starry-night", "--mask-mode", "person"]) == 0
    motion = tmp_path / "motion.mp4"
    result = api.stylize_video(first_second, motion, look="starry-night", mask_mode="motion")
    assert result.finished and result.stats["stages"]["mask"]["frames"] == FPS
    painted_person, painted_motion = _painted_share(first_second, person), _painted_share(first_second, motion)
    assert painted_person.min() > 0.4  # the people, every frame of the first second
    assert painted_motion.mean() < 0.02  # a family sitting still hardly moves


def test_live_paints_people_with_the_mask_on_its_own_stage(first_second, tmp_path, weights_dir):
    stats = tmp_path / "live.json"
    done = run_cli("live", "--source", first_second, "--look", "starry-night", "--mask-mode", "person",
                   "--mask-smoothing", "0.3", "--mask-feather", "0.02", "--no-preview", "--stats", stats)
    assert done.returncode == 0, done.stderr.decode()
    stages = json.loads(stats.read_text())["stages"]
    assert stages["mask"]["frames"] >= stages["engine"]["frames"] > 0
    assert stages["mask"]["busy_ms_per_frame"] > 0


def test_the_person_in_one_look_and_the_room_in_another(first_second, weights_dir, one_torch_thread):
    frame = _frames(first_second)[0].astype(np.uint8)
    person_only = api.stylize_image(frame, look="starry-night", mask_mode="person", mask_feather=0)
    both = api.stylize_image(frame, look="starry-night", mask_mode="person", mask_feather=0, background_look="great-wave")
    wave = api.stylize_image(frame, look="great-wave")
    face, shelf = (slice(75, 85), slice(130, 140)), (slice(15, 55), slice(30, 85))  # at 200x180
    np.testing.assert_array_equal(both[face], person_only[face])
    np.testing.assert_array_equal(person_only[shelf], frame[shelf])
    np.testing.assert_array_equal(both[shelf], wave[shelf])
    background = api.stylize_image(frame, look="starry-night", mask_mode="background", mask_feather=0)
    np.testing.assert_array_equal(background[face], frame[face])


def test_image_paints_the_person_and_the_room_in_two_looks(first_second, tmp_path, weights_dir, one_torch_thread):
    from stylize.imageio import read_image, write_image

    still, out = tmp_path / "still.png", tmp_path / "out.png"
    frame = _frames(first_second)[0].astype(np.uint8)
    write_image(str(still), frame)
    assert main(["image", str(still), "--look", "starry-night", "--mask-mode", "person", "--background-look",
                 "great-wave", "-o", str(out)]) == 0
    expected = api.stylize_image(frame, look="starry-night", mask_mode="person", background_look="great-wave")
    np.testing.assert_array_equal(read_image(str(out)), expected)
    assert np.abs(expected.astype(int) - frame).mean() > STYLIZED  # painted everywhere, in one look or the other


def test_two_paintings_under_a_mask_go_one_to_white_and_one_to_black(first_second, shared, weights_dir,
                                                                      one_torch_thread):
    paintings = sorted((shared / "data" / "eval" / "style").glob("*.jpg"))[:2]
    frame = _frames(first_second)[0].astype(np.uint8)
    halves = np.zeros(frame.shape[:2], np.float32)
    halves[:, :100] = 1.0
    both = api.stylize_image(frame, style=paintings, mask=halves).astype(int)
    first, second = (api.stylize_image(frame, style=painting).astype(int) for painting in paintings)
    assert np.abs(both[:, :100] - first[:, :100]).max() <= 1
    assert np.abs(both[:, 100:] - second[:, 100:]).max() <= 1
    assert np.abs(first - second).mean() > 10  # two different looks, not one mixed look


def test_without_the_model_person_mode_says_where_it_looked(first_second, tmp_path, monkeypatch, capsys):
    empty = tmp_path / "no-weights"
    empty.mkdir()
    monkeypatch.setenv("STYLIZE_WEIGHTS", str(empty))
    monkeypatch.setenv("STYLIZE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out.mp4"
    assert main(["video", str(first_second), "-o", str(out), "--look", "starry-night", "--mask-mode", "person"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert str(empty / "person_segmentation" / "selfie_segmentation.onnx") in lines[0]
    assert "stylize weights fetch selfie_segmentation" in lines[0]
    assert not out.exists()


@pytest.mark.parametrize("argv, needle", [
    (["live", "--source", "testpattern", "--look", "starry-night", "--background-look", "great-wave", "--no-preview",
      "--duration", "1", "--stats", "s.json"], "add --mask-mode person"),
    (["video", "in.mp4", "-o", "out.mp4", "--look", "starry-night", "--mask-mode", "background",
      "--background-look", "great-wave"], "two looks swapped"),
    (["video", "in.mp4", "-o", "out.mp4", "--look", "starry-night", "--mask-mode", "person", "--mask-smoothing", "1"],
     "--mask-smoothing"),
    (["live", "--source", "testpattern", "--look", "starry-night", "--mask-feather", "0.1", "--no-preview",
      "--stats", "s.json"], "add --mask-mode"),
    (["image", "a.png", "-o", "b.png", "--look", "starry-night", "--mask-mode", "motion"], "invalid choice"),
])
def test_mask_options_that_cannot_work_are_one_line_errors(argv, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.png").write_bytes(b"")
    try:
        code = main(argv)
    except SystemExit as exit:  # argparse's own usage errors
        code = exit.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
