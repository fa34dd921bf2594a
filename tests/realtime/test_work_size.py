"""The working size: which shape a frame is painted at, shrinking, giving the detail back, and the engine's use."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from helpers import solid_rgb
from stylize.realtime import work_size
from stylize.realtime.engines import Look, TorchEngine

CANDY = Look("candy", "candy")


def test_a_frame_within_the_budget_keeps_its_shape():
    assert work_size.working_shape(480, 640, None) == (480, 640)
    assert work_size.working_shape(384, 512, work_size.DEFAULT_PIXELS) == (384, 512)
    assert work_size.working_shape(100, 100, work_size.DEFAULT_PIXELS) == (100, 100)


def test_a_larger_frame_gets_the_budget_with_its_aspect():
    height, width = work_size.working_shape(720, 1280, work_size.DEFAULT_PIXELS)
    assert abs(height * width - work_size.DEFAULT_PIXELS) <= width + height
    assert abs(width / height - 1280 / 720) < 0.01
    # a sliver never goes below the smallest side a net handles
    assert min(work_size.working_shape(40, 100_000, 4096)) == work_size.MIN_SIDE


def test_exact_halvings_average_two_by_two_blocks():
    picture = np.arange(4 * 8 * 3, dtype=np.uint8).reshape(4, 8, 3) * 2
    expected = picture.reshape(2, 2, 4, 2, 3).astype(float).mean(axis=(1, 3))
    np.testing.assert_allclose(work_size.shrink(picture, (2, 4)), expected, atol=0.5)


def test_shrink_takes_masks_and_leaves_a_picture_of_the_right_shape_alone():
    mask = np.ones((120, 200), np.float32)
    assert work_size.shrink(mask, (37, 61)).shape == (37, 61)
    np.testing.assert_array_equal(work_size.shrink(mask, (37, 61)), 1.0)
    frame = solid_rgb(30, 40)
    assert work_size.shrink(frame, (30, 40)) is frame
    assert work_size.shrink(solid_rgb(720, 1280), (333, 591)).shape == (333, 591, 3)


def test_an_unchanged_small_picture_restores_the_frame_exactly():
    frame = solid_rgb(96, 128, seed=1)
    small = work_size.shrink(frame, (41, 55))
    np.testing.assert_array_equal(work_size.restore(small.copy(), small, frame), frame)


def test_restore_adds_the_change_and_clips():
    frame = np.full((60, 80, 3), 250, np.uint8)
    frame[:, :40] = 3
    small = work_size.shrink(frame, (30, 40))
    brighter = work_size.restore(cv2.add(small, 10), small, frame)
    assert brighter[:, :35].tolist() == np.full((60, 35, 3), 13).tolist()
    assert (brighter[:, 45:] == 255).all()  # 250 + 10 clips at white
    darker = work_size.restore(cv2.subtract(small, 10), small, frame)
    assert (darker[:, :35] == 0).all()  # 3 - 10 clips at black
    same_size = solid_rgb(60, 80, seed=2)
    assert work_size.restore(same_size, frame, frame) is same_size


@pytest.mark.parametrize("given, expected", [
    (None, None), ("full", None), ("auto", work_size.AUTO), (" AUTO ", work_size.AUTO),
    ("512x384", 512 * 384), ("640X480", 640 * 480), (50_000, 50_000),
])
def test_parse_reads_every_way_of_giving_a_size(given, expected):
    assert work_size.parse(given) == expected


@pytest.mark.parametrize("given", ["", "big", "512", "512x", "x384", "16x16", "512x-3", "1e3x2", 10, -4,
                                   "100000x100000", 10**9])
def test_parse_refuses_anything_else_in_one_line(given):
    with pytest.raises(ValueError) as caught:
        work_size.parse(given)
    assert "\n" not in str(caught.value) and "work size" in str(caught.value)


def test_the_hud_says_what_the_net_paints():
    assert work_size.describe(None) == ""
    assert work_size.describe(640 * 480) == "paints <=0.31 MP"


def test_auto_is_the_budget_on_the_cpu_and_every_pixel_on_a_gpu():
    assert work_size.resolve(work_size.AUTO, on_gpu=False) == work_size.DEFAULT_PIXELS
    assert work_size.resolve(work_size.AUTO, on_gpu=True) is None
    assert work_size.resolve(1234, on_gpu=False) == 1234
    assert work_size.resolve(None, on_gpu=False) is None


@pytest.fixture(scope="module")
def photo(shared):
    picture = cv2.imread(str(shared / "data" / "eval" / "content" / "skimage_chelsea.jpg"))
    return np.ascontiguousarray(cv2.resize(picture, (256, 192), interpolation=cv2.INTER_AREA)[:, :, ::-1])


def _engine(work_pixels):
    engine = TorchEngine()
    engine.set_style(CANDY)
    engine.work_pixels = work_pixels
    return engine


def test_the_net_paints_the_working_size_and_the_frame_comes_back_whole(weights_dir, photo):
    engine = _engine(128 * 96)
    painted = []
    compute = engine._compute
    engine._compute = lambda plan, content, weight=None: painted.append(tuple(content.shape[-2:])) or compute(
        plan, content, weight)
    out = engine(photo)
    assert painted == [(96, 128)]
    assert out.shape == photo.shape and out.dtype == np.uint8
    # seen at the working size, the frame is the net's painting of the shrunk frame
    small_photo = work_size.shrink(photo, (96, 128))
    direct = _engine(None)(small_photo).astype(float)
    assert np.abs(work_size.shrink(out, (96, 128)) - direct).mean() < 0.2 * np.abs(small_photo - direct).mean()
    # and at full size it is nearer the full-size painting than the photo is
    full = _engine(None)(photo).astype(float)
    assert np.abs(out - full).mean() < 0.85 * np.abs(photo - full).mean()


def test_alpha_zero_and_outside_the_mask_are_the_frame_exactly(weights_dir, photo):
    engine = _engine(128 * 96)
    engine.alpha = 0.0
    np.testing.assert_array_equal(engine(photo), photo)
    engine.alpha = 1.0
    mask = np.zeros(photo.shape[:2], np.float32)
    mask[:, 128:] = 1.0
    out = engine(photo, mask)
    np.testing.assert_array_equal(out[:, :120], photo[:, :120])
    assert np.abs(out[:, 136:].astype(int) - photo[:, 136:]).mean() > 10


def test_the_async_path_gives_what_the_sync_one_does(weights_dir, photo):
    engine = _engine(128 * 96)
    expected = engine(photo)
    engine.submit(photo)
    np.testing.assert_array_equal(engine.collect(), expected)
    engine.close()
