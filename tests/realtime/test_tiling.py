"""Big pictures in overlapping tiles: bounded tiles, weights that sum to 1, no seam, close to the whole picture."""
import numpy as np
import pytest

from helpers import solid_rgb
from stylize import api
from stylize.imageio import read_image
from stylize.jobs import ImageJob
from stylize.realtime.tiling import axis_tiles, needs_tiles, stylize_tiled, tile_count


@pytest.mark.parametrize("length, tile, overlap", [(50, 64, 16), (64, 64, 16), (65, 64, 16), (300, 64, 16),
                                                   (1000, 256, 64), (1001, 256, 100)])
def test_axis_weights_sum_to_one_and_tiles_overlap_enough(length, tile, overlap):
    tiles = axis_tiles(length, tile, overlap)
    total = np.zeros(length)
    for start, weight in zip(tiles.starts, tiles.weights):
        assert start >= 0 and start + tiles.size <= length and weight.shape == (tiles.size,)
        total[start:start + tiles.size] += weight
    np.testing.assert_allclose(total, 1.0, atol=1e-6)
    assert tiles.starts[0] == 0 and tiles.starts[-1] + tiles.size == length and tiles.size <= tile
    assert all(tiles.size - (b - a) >= overlap - 1 for a, b in zip(tiles.starts, tiles.starts[1:]))


def test_tiles_are_no_bigger_than_needed():
    assert axis_tiles(100, 128, 32).starts == [0] and axis_tiles(100, 128, 32).size == 100
    # 1080 rows in 1024-pixel tiles: two tiles of 604 sharing 128, not two of 1024 sharing 968.
    rows = axis_tiles(1080, 1024, 128)
    assert (rows.starts, rows.size) == ([0, 476], 604)


def test_a_picture_every_tile_agrees_on_comes_back_unchanged():
    image = solid_rgb(150, 230)
    seen = []

    def identity(tile, mask):
        seen.append(tile.shape)
        return tile

    out = stylize_tiled(identity, image, tile=64, overlap=16, progress=False)
    np.testing.assert_array_equal(out, image)  # the 2-D weights are a partition of unity
    assert len(seen) == tile_count(150, 64, 16) * tile_count(230, 64, 16) == 3 * 5
    assert len(set(seen)) == 1 and max(seen[0][:2]) <= 64  # memory bounded by one tile; one size for every tile


def test_disagreeing_tiles_blend_without_a_seam():
    # Each tile paints itself one flat grey: the blend must ramp, never step, between them.
    image = np.zeros((64, 400, 3), np.uint8)
    count = iter(range(100))

    def flat(tile, mask):
        return np.full_like(tile, 40 * next(count) % 256)

    out = stylize_tiled(flat, image, tile=96, overlap=32, progress=False).astype(int)[0, :, 0]
    steps = np.abs(np.diff(out))
    assert out.max() - out.min() >= 120  # the tiles did disagree
    assert steps.max() <= 40 * np.pi / (2 * 32) + 1  # the raised cosine's steepest slope, plus rounding


def test_the_mask_is_cut_with_its_tile():
    image, mask = solid_rgb(80, 120), np.random.default_rng(1).random((80, 120))
    pieces = []

    def keep(tile, tile_mask):
        pieces.append(tile_mask.shape)
        return tile

    stylize_tiled(keep, image, mask, tile=48, overlap=12, progress=False)
    assert len(set(pieces)) == 1 and max(pieces[0]) <= 48


def _psnr(a, b):
    return 10 * np.log10(255 ** 2 / np.mean((a.astype(float) - b.astype(float)) ** 2))


def test_tiled_is_close_to_the_whole_picture(shared, one_torch_thread):
    # chelsea is 481x320: 2x3 tiles of 192x203 sharing 64 pixels. Measured 20.0 dB: the nets normalise
    # over what they see, so each tile's strokes differ a little from the whole picture's (the same picture
    # shifted by 4 pixels gives about 41 dB); the blend hides where tiles meet.
    photo = read_image(shared / "data" / "eval" / "content" / "skimage_chelsea.jpg")
    engine = api.engine("student")
    engine.set_style("starry-night")
    whole = engine(photo)
    tiled = stylize_tiled(engine, photo, tile=256, overlap=64, progress=False)
    assert _psnr(whole, tiled) > 19.0


def test_image_job_tiles_above_its_pixel_budget(shared, one_torch_thread):
    photo = read_image(shared / "data" / "eval" / "content" / "skimage_chelsea.jpg")
    engine = api.new_engine()
    look = api.look("great-wave")
    tiled_job = ImageJob(look, engine, tile_budget=100_000, tile=256, overlap=64)
    assert needs_tiles(*photo.shape[:2], 100_000)
    np.testing.assert_array_equal(tiled_job(photo), stylize_tiled(engine, photo, tile=256, overlap=64,
                                                                  progress=False))
    whole_job = ImageJob(look, engine)
    np.testing.assert_array_equal(whole_job(photo), engine(photo))
