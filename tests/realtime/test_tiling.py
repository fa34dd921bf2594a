"""Big pictures in overlapping tiles: bounded tiles on the stride grid, weights that sum to 1, no seam, and the
whole picture's normalisation statistics in every tile."""
import dataclasses

import numpy as np
import pytest

from helpers import solid_rgb
from stylize import api
from stylize.imageio import read_image
from stylize.jobs import ImageJob
from stylize.models import registry, zoo
from stylize.realtime.engines import Look, TorchEngine
from stylize.realtime.onnx_engine import OnnxEngine
from stylize.realtime.tiling import (ALIGN, TilingNote, axis_tiles, needs_tiles, reference_stats, shrunk_to_fit,
                                     stylize_tiled)


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
    # 1080 rows in 1024-pixel tiles: two tiles of 608 sharing 136, not two of 1024 sharing 968.
    rows = axis_tiles(1080, 1024, 128)
    assert (rows.starts, rows.size) == ([0, 472], 608)


@pytest.mark.parametrize("length, tile, overlap", [(481, 256, 64), (1443, 512, 128), (5000, 1024, 128),
                                                   (150, 64, 16)])
def test_tiles_start_on_the_nets_stride_grid(length, tile, overlap):
    # Off the grid, a tile's strided convs sample other pixels than the whole picture's and paint other strokes.
    assert all(start % ALIGN == 0 for start in axis_tiles(length, tile, overlap).starts)


def test_a_picture_every_tile_agrees_on_comes_back_unchanged():
    image = solid_rgb(150, 230)
    seen = []

    def identity(tile, mask):
        seen.append(tile.shape)
        return tile

    out = stylize_tiled(identity, image, tile=64, overlap=16, progress=False, reference_pixels=None)
    np.testing.assert_array_equal(out, image)  # the 2-D weights are a partition of unity
    assert len(seen) == len(axis_tiles(150, 64, 16).starts) * len(axis_tiles(230, 64, 16).starts) == 4 * 6
    assert len(set(seen)) == 1 and max(seen[0][:2]) <= 64  # memory bounded by one tile; one size for every tile


def test_disagreeing_tiles_blend_without_a_seam():
    # Each tile paints itself one flat grey: the blend must ramp, never step, between them.
    image = np.zeros((64, 400, 3), np.uint8)
    count = iter(range(100))

    def flat(tile, mask):
        return np.full_like(tile, 40 * next(count) % 256)

    out = stylize_tiled(flat, image, tile=96, overlap=32, progress=False, reference_pixels=None).astype(int)[0, :, 0]
    steps = np.abs(np.diff(out))
    assert out.max() - out.min() >= 120  # the tiles did disagree
    assert steps.max() <= 40 * np.pi / (2 * 32) + 1  # the raised cosine's steepest slope, plus rounding


def test_the_mask_is_cut_with_its_tile():
    image, mask = solid_rgb(80, 120), np.random.default_rng(1).random((80, 120))
    pieces = []

    def keep(tile, tile_mask):
        pieces.append(tile_mask.shape)
        return tile

    stylize_tiled(keep, image, mask, tile=48, overlap=12, progress=False, reference_pixels=1000)
    # The reference pass gets the shrunk mask, then each tile its own piece.
    assert pieces[0] == (25, 38) and len(set(pieces[1:])) == 1 and max(pieces[1]) <= 48


def _psnr(a, b):
    return 10 * np.log10(255 ** 2 / np.mean((a.astype(float) - b.astype(float)) ** 2))


def _chelsea(shared):
    return read_image(shared / "data" / "eval" / "content" / "skimage_chelsea.jpg")


def _one_method_per_net_class():
    """The first registered method of every net class: the student, AesFA, AdaIN, a Johnson and an Engstrom net."""
    first = {}
    for method in registry.methods():
        first.setdefault(registry.get(method).cls, method)
    return list(first.values())


def _engine(method):
    engine = api.engine(method)
    if registry.get(method).arbitrary:
        engine.set_style("starry-night")
    return engine


# chelsea is 481x320: 2x3 tiles of 192x209 sharing >= 64 pixels. Measured with statistics of the whole
# picture at full size: student 63.8 dB, aesfa 58.9, adain 62.8, candy 46.6, scream 44.9 (each tile
# normalising itself: 24.4, 24.7, 23.0, 19.1, 22.6 dB).
@pytest.mark.parametrize("method", _one_method_per_net_class())
def test_tiles_with_the_whole_pictures_statistics_match_the_whole_picture(shared, one_torch_thread, method):
    photo, engine = _chelsea(shared), _engine(method)
    whole = engine(photo)
    tiled = stylize_tiled(engine, photo, tile=256, overlap=64, progress=False,
                          reference_pixels=photo.shape[0] * photo.shape[1])
    assert _psnr(whole, tiled) > 40.0


# A reference pass over the picture shrunk to 1/4 of its pixels, against the whole picture: alone, student
# 26.5 dB, aesfa 26.3, adain 25.0 (at 70%: 39.2, 39.4, 34.4); remeasured over the tiles at full size,
# 55.8, 52.1, 55.6 (the same at 70%).
@pytest.mark.parametrize("method", [m for m in _one_method_per_net_class() if registry.get(m).arbitrary])
def test_a_shrunk_reference_is_remeasured_at_full_size(shared, one_torch_thread, method):
    photo, engine = _chelsea(shared), _engine(method)
    whole = engine(photo)
    tiled = stylize_tiled(engine, photo, tile=256, overlap=64, progress=False,
                          reference_pixels=photo.shape[0] * photo.shape[1] // 4)
    # The student's tiles each extend their own cut edges by its 16-px margin, and those repeated rows enter
    # the measured moments too (40.4 dB measured; AdaIN-r31, with no margin, > 50).
    assert _psnr(whole, tiled) > (37.0 if method == "student" else 50.0)


# The fast nets chain 15-16 instance norms, which remeasuring would need as many passes for, so their tiles
# keep the statistics of the shrunk picture. At 1/4 of the pixels: candy 15.4 dB, scream 22.2 against the
# whole picture (at 70%: 25.9, 31.2; each tile on its own: 19.1, 22.6, in a patchwork of palettes). The
# picture differs in scale (larger blobs, warmer), but the tiles agree: none stands out, none doubles a stroke.
@pytest.mark.parametrize("method", [m for m in _one_method_per_net_class() if not registry.get(m).arbitrary])
def test_fast_net_tiles_agree_on_the_shrunk_pictures_statistics(shared, one_torch_thread, method):
    photo, engine = _chelsea(shared), _engine(method)
    pixels = photo.shape[0] * photo.shape[1] // 4
    stats = reference_stats(engine, photo, None, pixels)
    with stats.replaying():
        whole_with_those_statistics = engine(photo)
    tiled = stylize_tiled(engine, photo, tile=256, overlap=64, progress=False, reference_pixels=pixels)
    assert _psnr(whole_with_those_statistics, tiled) > 40.0


def test_the_reference_pass_sees_the_picture_shrunk_to_the_budget():
    image = solid_rgb(300, 400)
    assert shrunk_to_fit(image, 120_000) is image
    small = shrunk_to_fit(image, 30_000)
    assert small.shape == (150, 200, 3) and shrunk_to_fit(np.ones((300, 400), np.float32), 30_000).shape == (150, 200)


def test_image_job_tiles_above_its_pixel_budget(shared, one_torch_thread):
    photo = _chelsea(shared)
    engine = api.new_engine()
    look = api.look("great-wave")
    tiled_job = ImageJob(look, engine, tile_budget=100_000, tile=256, overlap=64)
    assert needs_tiles(*photo.shape[:2], 100_000)
    np.testing.assert_array_equal(tiled_job(photo), stylize_tiled(engine, photo, tile=256, overlap=64,
                                                                  progress=False, reference_pixels=100_000))
    whole_job = ImageJob(look, engine)
    np.testing.assert_array_equal(whole_job(photo), engine(photo))


def test_onnx_tiles_run_through_torch_with_a_note(shared, one_torch_thread):
    photo, look = _chelsea(shared), api.look("great-wave")
    job = ImageJob(look, OnnxEngine(), tile_budget=100_000, tile=256, overlap=64)
    with pytest.warns(TilingNote, match="run through torch"):
        out = job(photo)
    torch_engine = TorchEngine()
    torch_engine.set_style(look)
    np.testing.assert_array_equal(out, stylize_tiled(torch_engine, photo, tile=256, overlap=64, progress=False,
                                                     reference_pixels=100_000))


def test_a_net_that_cannot_share_statistics_tiles_on_its_own_with_a_note(shared, one_torch_thread, monkeypatch):
    plain = dataclasses.replace(registry.get("candy"), method="candy-per-tile", shares_stats=False)
    monkeypatch.setitem(registry.NETS, plain.method, plain)
    photo, engine = _chelsea(shared), TorchEngine(nets={plain.method: zoo.load("candy")})
    job = ImageJob(Look("candy-per-tile", plain.method), engine, tile_budget=100_000, tile=256, overlap=64)
    with pytest.warns(TilingNote, match="cannot share normalisation statistics"):
        out = job(photo)
    np.testing.assert_array_equal(out, stylize_tiled(engine, photo, tile=256, overlap=64, progress=False,
                                                     reference_pixels=None))
