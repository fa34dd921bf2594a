"""The student's two decoder designs: which one a file holds, and that the shipped one prints no grid."""
import numpy as np
import pytest
import torch

from stylize.bench.artefacts import periodic_ratio
from stylize.models import zoo
from stylize.models.student import StudentNet, design_of, widths_of
from stylize.offline.train.student_redesign import redesign


def _random(design: str, widths=(16, 32, 64), seed: int = 0) -> StudentNet:
    torch.manual_seed(seed)
    net = StudentNet(widths, design).eval()
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)  # biases too, so the sub-pixels disagree
    return net


@pytest.mark.parametrize("design", ["resize", "shuffle"])
def test_the_weights_say_their_design_and_widths(design):
    net = _random(design, (8, 16, 24))
    state = net.inference_state_dict()
    assert design_of(state) == design and widths_of(state) == (8, 16, 24)
    loaded = StudentNet.from_inference_state_dict(state)
    picture = torch.rand(1, 3, 37, 53)
    style = net.style([torch.rand(1, 3, 40, 40)])
    assert torch.equal(loaded(picture, style), net(picture, style))


def test_a_resize_decoder_keeps_a_flat_picture_flat_where_a_pixel_shuffle_prints_a_grid():
    flat = torch.full((1, 3, 160, 160), 0.5)
    spread = {}
    for design in ("resize", "shuffle"):
        net = _random(design)
        with torch.no_grad():
            out = net(flat, net.style([torch.rand(1, 3, 64, 64)]))
        if design == "shuffle":
            out = out[..., 40:-40, 40:-40]  # beyond the reach of the padding
        spread[design] = float(out.std(dim=(-2, -1)).max())  # per colour: the colour may shift
    # The resize student's margin keeps even its edges like the middle.
    assert spread["resize"] < 1e-3 < 0.01 < spread["shuffle"]


@pytest.mark.parametrize("size", [(5, 3), (37, 53), (64, 128)])
def test_the_margin_leaves_the_size_where_it_was(size):
    net = _random("resize", (8, 16, 24))
    picture = torch.rand(1, 3, *size)
    with torch.no_grad():
        assert net(picture, net.style([torch.rand(1, 3, 40, 40)])).shape == picture.shape
        assert net.encoder.trim(net.encoder(picture)).shape[-2:] == (-(-size[0] // 4), -(-size[1] // 4))


def test_a_mask_paints_where_it_is_despite_the_margin(shared):
    net = zoo.load("student").float().eval()
    assert net.design == "resize"
    picture = torch.rand(1, 3, 64, 128, generator=torch.Generator().manual_seed(0))
    style = net.style([torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))])
    split = 16  # near the edge, where a mask stretched over the margin too would land 8 px off
    left = torch.zeros(1, 1, 64, 128)
    left[..., :split] = 1
    with torch.no_grad():
        painted, halves, kept = (net(picture, style, mask=mask) for mask in (None, left, torch.zeros_like(left)))
    band = 12  # the nets' reach across the mask's edge
    assert float((painted - kept).abs().mean()) > 0.02  # the look changes the picture (0.034)
    assert float((halves[..., split + band:] - kept[..., split + band:]).abs().max()) < 0.01
    assert float((halves[..., : split - band] - painted[..., : split - band]).abs().max()) < 0.01


def test_on_a_photo_the_resize_design_has_no_grid_beyond_the_photos(shared):
    import cv2

    from stylize.imageio import read_image

    photo = read_image(sorted((shared / "data" / "eval" / "content").glob("*.jpg"))[0])
    photo = cv2.resize(photo, (256, 256), interpolation=cv2.INTER_AREA)
    content = torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255
    ratios = {}
    for design in ("resize", "shuffle"):
        net = _random(design)
        with torch.no_grad():
            out = net(content, net.style([content.flip(-1)]))
        ratios[design] = periodic_ratio((out[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255).astype(np.uint8), photo)
    assert ratios["resize"] < 3 < ratios["shuffle"]


def test_redesign_starts_from_the_shuffle_nets_sub_pixel_mean():
    old = _random("shuffle")
    new = redesign(old, 64, [np.full((32, 32, 3), 128, np.uint8)])
    assert new.design == "resize" and new.widths == (16, 32, 64)
    features = torch.rand(1, 16, 20, 20)
    half_old = old.decoder.at_half[2](features).reshape(1, 3, 4, 20, 20).mean(2)
    half_new = new.decoder.at_half[2](features)
    assert torch.allclose(half_new[..., 1:-1, 1:-1], half_old[..., 1:-1, 1:-1], atol=1e-5)  # padding differs


def test_redesign_keeps_the_channels_that_matter():
    old = _random("shuffle")
    with torch.no_grad():
        old.decoder.at_quarter[0].weight[:, 5:] *= 0.01  # only channels 0-4 are read by the decoder
        old.encoder[4].bias[:5] += 1  # and they are alive on every pixel
    new = redesign(old, 5, [np.random.default_rng(0).integers(0, 255, (48, 48, 3), np.uint8)])
    assert torch.equal(new.encoder[4].weight, old.encoder[4].weight[:5])
