"""The periodic-artefact measure sees a pixel grid and nothing else."""
import cv2
import numpy as np
import pytest

from stylize.bench.artefacts import LIMIT, periodic_ratio
from stylize.imageio import read_image, resize_short_side


def smooth_scene(height=256, width=320, seed=0, noise_seed=1):
    """A photo-like picture: gradients, a few soft blobs and sensor noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    picture = np.stack([90 + 60 * yy / height, 120 + 40 * xx / width, 160 - 50 * yy / height], axis=2)
    for _ in range(6):
        cy, cx, radius = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(15, 50)
        picture += rng.uniform(-40, 40) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / radius ** 2)[..., None]
    picture += np.random.default_rng(noise_seed).normal(0, 2.0, picture.shape)
    return np.clip(picture, 0, 255).astype(np.uint8)


def with_grid(picture, period, amplitude=6.0):
    yy, xx = np.mgrid[:picture.shape[0], :picture.shape[1]]
    grid = np.where(((yy // (period // 2)) + (xx // (period // 2))) % 2 == 0, amplitude, -amplitude)
    return np.clip(picture + grid[..., None], 0, 255).astype(np.uint8)


@pytest.mark.parametrize("period", [2, 4])
def test_a_checkerboard_is_far_above_the_limit(period):
    clean = smooth_scene()
    assert periodic_ratio(with_grid(clean, period), clean) > 5 * LIMIT


def test_the_picture_itself_and_fresh_sensor_noise_score_about_one():
    clean = smooth_scene()
    assert periodic_ratio(clean, clean) == pytest.approx(1.0)
    assert 0.7 < periodic_ratio(smooth_scene(noise_seed=2), clean) < 1.4


def test_a_real_photo_with_a_faint_grid_is_caught(content_path):
    photo = resize_short_side(read_image(content_path), 256)
    assert periodic_ratio(with_grid(photo, 2, amplitude=3.0), photo) > LIMIT
    assert periodic_ratio(cv2.GaussianBlur(photo, (0, 0), 1.0), photo) < LIMIT  # no false alarm


def test_sizes_must_match_and_be_big_enough():
    clean = smooth_scene()
    with pytest.raises(ValueError, match="differ"):
        periodic_ratio(clean[:128], clean)
    with pytest.raises(ValueError, match="at least"):
        periodic_ratio(clean[:16, :16], clean[:16, :16])


def test_a_perfectly_flat_page_neither_divides_by_zero_nor_hides_a_grid():
    flat = np.full((128, 128, 3), 240, np.uint8)
    assert periodic_ratio(flat, flat) <= 1.0
    gridded = periodic_ratio(with_grid(flat, 2), flat)
    assert np.isfinite(gridded) and gridded > 5 * LIMIT
