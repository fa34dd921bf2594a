"""Gatys optimisation with the real VGG-r31 weights on small synthetic images.

Images are tiny (<= 96 px) and runs short (a few dozen loss evaluations), so
the whole file takes seconds. The content is a smooth colour ramp with a disc;
the styles are noisy diagonal stripes, red/orange or blue, whose statistics are
far from the content's, so every effect asserted here is large.
"""
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from stylize.errors import UserError
from stylize.models import weights
from stylize.models.color import rgb_to_ycc
from stylize.models.vgg import VGGEncoder
from stylize.offline.gatys import gatys

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[2]


def _weights_dir() -> Path:
    return Path(os.environ.get("STYLIZE_WEIGHTS") or REPO.parent / "shared" / "weights")


@pytest.fixture(scope="module")
def encoder():
    path = _weights_dir() / weights.spec_for("vgg19_r31").file
    if not path.is_file():
        pytest.skip(f"VGG-r31 weights not found at {path}; set STYLIZE_WEIGHTS to the shared weights directory")
    return VGGEncoder.from_state_dict(weights.load("vgg19_r31", explicit=path))


def make_content(h: int = 48, w: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    image = np.stack([60 + 120 * xx / w, 90 + 120 * yy / h, np.full_like(xx, 150)], axis=-1)
    disc = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (min(h, w) / 4) ** 2
    image[disc] = (230, 230, 80)
    return image.astype(np.uint8)


def make_style(colour_a, colour_b, size: int = 96, seed: int = 0) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    stripes = ((xx + yy) // 6 % 2).astype(bool)[..., None]
    image = np.where(stripes, np.array(colour_a, np.float32), np.array(colour_b, np.float32))
    image += np.random.default_rng(seed).normal(0, 15, (size, size, 1))
    return image.clip(0, 255).astype(np.uint8)


RED = make_style((240, 60, 20), (120, 20, 10))
BLUE = make_style((20, 60, 240), (10, 20, 110), seed=1)


def chroma(image: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    return rgb_to_ycc(x)[:, 1:]


@pytest.mark.parametrize("style_stat", ["gram", "meanstd"])
def test_style_loss_drops_tenfold(encoder, style_stat):
    result = gatys(make_content(), [RED], encoder=encoder, style_stat=style_stat, scales=1, steps=30,
                   progress=False)
    history = result.history
    assert len(history) == 30
    first, last = history[0]["style"], history[-1]["style"]
    assert last <= first / 10, f"style loss only went from {first:.3g} to {last:.3g}"
    assert history[-1]["total"] < history[0]["total"]


def test_adam_also_reduces_style_loss(encoder):
    result = gatys(make_content(), [RED], encoder=encoder, optimizer="adam", scales=1, steps=30, progress=False)
    assert result.history[-1]["style"] <= result.history[0]["style"] / 3


def test_same_seed_same_image_and_seed_matters(encoder):
    kwargs = dict(encoder=encoder, scales=1, steps=10, init_noise=0.05, progress=False)
    first = gatys(make_content(48, 48), [RED], seed=3, **kwargs).image
    again = gatys(make_content(48, 48), [RED], seed=3, **kwargs).image
    other = gatys(make_content(48, 48), [RED], seed=4, **kwargs).image
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_odd_size_multiscale_keeps_the_content_size(encoder):
    records = []
    content = make_content(71, 83)
    result = gatys(content, [RED], encoder=encoder, scales=2, steps=(6, 4), progress=False,
                   callback=records.append)
    assert result.image.shape == (71, 83, 3) and result.image.dtype == np.uint8
    assert [r["scale"] for r in result.history] == [0] * 6 + [1] * 4
    assert records == result.history
    assert np.abs(result.image.astype(int) - content).mean() > 5  # it did stylize


def test_scales_too_small_are_skipped(encoder):
    # 40 px: the 20 px level is below the minimum, so only the full scale runs
    result = gatys(make_content(40, 40), [RED], encoder=encoder, scales=2, steps=(7, 3), progress=False)
    assert [r["scale"] for r in result.history] == [0] * 3


def test_mask_keeps_unmasked_content(encoder):
    content = make_content()
    mask = np.zeros(content.shape[:2], np.float32)
    mask[:, :32] = 1
    out = gatys(content, [RED], encoder=encoder, mask=mask, scales=1, steps=15, progress=False).image
    changed = np.abs(out.astype(int) - content).mean(axis=(0, 2))
    assert np.array_equal(out[:, 32:], content[:, 32:])
    assert changed[:32].mean() > 10


def test_mask_chooses_between_two_styles(encoder):
    content = make_content()
    mask = np.zeros(content.shape[:2], np.float32)
    mask[:, :32] = 1  # left: red style, right: blue style
    out = gatys(content, [RED, BLUE], encoder=encoder, mask=mask, scales=1, steps=20, progress=False).image
    red_minus_blue = out[..., 0].astype(int) - out[..., 2].astype(int)
    left, right = red_minus_blue[:, :24].mean(), red_minus_blue[:, 40:].mean()
    assert left > right + 40, f"red-blue left {left:.1f}, right {right:.1f}"


@pytest.fixture(scope="module")
def stylized_without_colour_preservation(encoder):
    return gatys(make_content(), [RED], encoder=encoder, scales=1, steps=15, progress=False).image


def test_luminance_mode_keeps_the_content_chroma(encoder, stylized_without_colour_preservation):
    content = make_content()
    out = gatys(content, [RED], encoder=encoder, preserve_color="luminance", scales=1, steps=15,
                progress=False).image
    kept = (chroma(out) - chroma(content)).abs().mean().item()
    lost = (chroma(stylized_without_colour_preservation) - chroma(content)).abs().mean().item()
    assert kept < 0.01, kept
    assert lost > 5 * kept, (lost, kept)


def test_match_mode_keeps_the_content_colours(encoder, stylized_without_colour_preservation):
    content = make_content()
    out = gatys(content, [RED], encoder=encoder, preserve_color="match", scales=1, steps=15, progress=False).image
    mean_rgb = content.reshape(-1, 3).mean(axis=0)
    matched = np.abs(out.reshape(-1, 3).mean(axis=0) - mean_rgb).max()
    unmatched = np.abs(stylized_without_colour_preservation.reshape(-1, 3).mean(axis=0) - mean_rgb).max()
    assert matched < 20 and unmatched > 3 * matched, (matched, unmatched)


def test_blended_styles_land_between(encoder):
    kwargs = dict(encoder=encoder, scales=1, steps=15, progress=False)
    content = make_content()
    red_heavy = gatys(content, [RED, BLUE], [0.9, 0.1], **kwargs).image.astype(float)
    blue_heavy = gatys(content, [RED, BLUE], [0.1, 0.9], **kwargs).image.astype(float)
    assert (red_heavy[..., 0] - red_heavy[..., 2]).mean() > (blue_heavy[..., 0] - blue_heavy[..., 2]).mean() + 40


def test_progress_bar_goes_to_stderr(encoder, capsys):
    gatys(make_content(32, 32), [RED], encoder=encoder, scales=1, steps=2, progress=True)
    captured = capsys.readouterr()
    assert "gatys" in captured.err and captured.out == ""


@pytest.mark.parametrize("bad", [
    dict(style_stat="histogram"),
    dict(optimizer="sgd"),
    dict(preserve_color="sepia"),
    dict(mask=np.ones((10, 10), np.float32)),
    dict(steps=(5, 5), scales=3),
    dict(steps=0),
    dict(steps=-1),
    dict(steps=(3, 0, 2), scales=3),
    dict(steps=2.5),
    dict(steps=True),
    dict(steps="10"),
    dict(style_layers=("relu4_1",)),
])
def test_bad_arguments_are_user_errors(encoder, bad):
    with pytest.raises(UserError):
        gatys(make_content(32, 32), [RED], encoder=encoder, progress=False, **bad)


def test_no_style_is_a_user_error(encoder):
    with pytest.raises(UserError):
        gatys(make_content(32, 32), [], encoder=encoder, progress=False)


def test_zero_steps_through_the_api_is_refused_not_replaced_by_the_default(encoder, monkeypatch):
    """The whole path a user takes: stylize.stylize_image(..., method="gatys", steps=0) must not optimise."""
    import stylize

    monkeypatch.setenv("STYLIZE_WEIGHTS", str(_weights_dir()))
    with pytest.raises(UserError, match="steps"):
        stylize.stylize_image(make_content(32, 32), style=RED, method="gatys", steps=0)
