"""bench sketch's scores: every method's style is measured on its stroke pixels near the drawing's lines."""
import numpy as np
import pytest

from stylize.bench.sketch import _score, style_target

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_paint_far_from_the_lines_counts_only_in_the_all_strokes_style_loss(weights_dir):
    from stylize.models import zoo

    vgg = zoo.load_vgg()
    lines = np.zeros((64, 64), bool)
    lines[30:33, 8:56] = True
    drawn = np.full((64, 64, 3), 255, np.uint8)
    drawn[lines] = (40, 60, 120)
    painted = drawn.copy()
    painted[2:14, 2:62] = np.random.default_rng(0).integers(0, 160, (12, 60, 3))  # Gatys-like paint on the paper
    target = style_target(vgg, np.random.default_rng(1).integers(0, 256, (64, 64, 3)).astype(np.uint8))
    clean, messy = (_score(vgg, image, lines, target, 0.0) for image in (drawn, painted))
    assert clean["style_loss"] == pytest.approx(clean["style_loss_all_strokes"])
    assert messy["precision"] < 0.5 and messy["style_loss_all_strokes"] != pytest.approx(clean["style_loss"])
    # The paint is 16 px from the lines, beyond the reach of VGG's relu3_1 (about 10 px): the near-line score
    # does not see it at all.
    assert messy["style_loss"] == pytest.approx(clean["style_loss"], rel=1e-4)
