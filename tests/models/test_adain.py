"""AdaIN net: shapes, weights round trips, precomputed styles, and the paper's controls.

The decoder is randomly initialised (no trained one exists yet), with its
output bias moved to 0.5 so that outputs land inside [0,1] like a trained
net's; otherwise the final clamp would make every comparison trivially equal.
The VGG is the real relu3_1 file.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
import torch

from stylize.models import weights
from stylize.models.adain import AdaINNet, Decoder, Style, adain, channel_stats
from stylize.models.color import luminance_only, match_color, rgb_to_ycc
from stylize.models.vgg import VGGEncoder

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[2]


def _vgg_file() -> Path | None:
    root = Path(os.environ.get("STYLIZE_WEIGHTS") or REPO.parent / "shared" / "weights")
    path = root / weights.spec_for("vgg19_r31").file
    return path if path.is_file() else None


@pytest.fixture(scope="module")
def encoder() -> VGGEncoder:
    path = _vgg_file()
    if path is None:
        pytest.skip("VGG relu3_1 weights not found (set STYLIZE_WEIGHTS or provide ../shared/weights)")
    return VGGEncoder.from_state_dict(weights.load("vgg19_r31", explicit=path)).eval()


def _decoder(depth: str = "relu3_1", seed: int = 0) -> Decoder:
    torch.manual_seed(seed)
    decoder = Decoder(depth)
    with torch.no_grad():
        decoder[-1].bias.add_(0.5)
    return decoder.eval()


@pytest.fixture(scope="module")
def net(encoder: VGGEncoder) -> AdaINNet:
    return AdaINNet(encoder, _decoder())


def _image(height: int, width: int, seed: int) -> torch.Tensor:
    return torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def images() -> dict[str, torch.Tensor]:
    # Style images of different sizes: a Style must not care.
    return {"content": _image(45, 61, 0), "a": _image(40, 40, 1), "b": _image(33, 50, 2) ** 3}


# ------------------------------------------------------- building blocks --
def test_adain_gives_the_content_the_style_statistics():
    content = torch.randn(2, 8, 9, 11) * 3 + 1
    style_mean, style_std = torch.randn(1, 8, 1, 1), torch.rand(1, 8, 1, 1) + 0.5
    mean, std = channel_stats(adain(content, style_mean, style_std))
    torch.testing.assert_close(mean, style_mean.expand(2, -1, -1, -1), atol=1e-5, rtol=0)
    torch.testing.assert_close(std, style_std.expand(2, -1, -1, -1), atol=1e-3, rtol=1e-3)


def test_decoder_mirrors_the_encoder():
    convs = [(m.in_channels, m.out_channels) for m in Decoder("relu3_1") if isinstance(m, torch.nn.Conv2d)]
    assert convs == [(256, 128), (128, 128), (128, 64), (64, 64), (64, 3)]
    deep = Decoder("relu4_1")
    # Same Sequential indices as the pytorch-AdaIN reference decoder.pth.
    assert [k for k in deep.state_dict() if k.endswith("weight")] == [
        f"{i}.weight" for i in (1, 5, 8, 11, 14, 18, 21, 25, 28)]
    assert deep[1].in_channels == 512
    assert not isinstance(deep[-1], torch.nn.ReLU)


def test_decoder_weights_round_trip_on_their_own():
    decoder = _decoder("relu3_1", seed=3)
    buffer = io.BytesIO()
    torch.save(decoder.state_dict(), buffer)
    buffer.seek(0)
    loaded = Decoder.from_state_dict(torch.load(buffer, weights_only=True))
    assert loaded.depth == "relu3_1"
    features = torch.rand(1, 256, 7, 9)
    torch.testing.assert_close(loaded(features), decoder(features), rtol=0, atol=0)
    assert Decoder.from_state_dict(Decoder("relu4_1").state_dict()).depth == "relu4_1"


def test_encoder_and_decoder_depths_must_agree():
    with pytest.raises(ValueError, match="relu4_1"):
        AdaINNet(VGGEncoder("relu4_1"), Decoder("relu3_1"))


# ------------------------------------------------------------------ net --
def test_a_style_is_encoded_once_not_per_frame(net, images):
    calls = []
    handle = net.encoder.register_forward_hook(lambda *_: calls.append(1))
    try:
        style = net.style([images["a"], images["b"]], weights=[0.5, 0.5])
        assert len(calls) == 2
        with torch.no_grad():
            for _ in range(3):
                net(images["content"], style)
        assert len(calls) == 2 + 3  # one encoder pass per frame, none for the style
    finally:
        handle.remove()
    assert isinstance(style, Style) and style.mean.shape == (2, 256, 1, 1)


def test_alpha_zero_is_the_content_path(net, images):
    content = images["content"]
    style = net.style([images["a"]])
    with torch.no_grad():
        features = net.encoder(content)
        torch.testing.assert_close(net.stylize_features(features, style, alpha=0.0), features)
        expected = net.decoder(features)[..., :45, :61].clamp(0, 1)
        torch.testing.assert_close(net(content, style, alpha=0.0), expected)
        half = net.stylize_features(features, style, alpha=0.5)
        torch.testing.assert_close(half, 0.5 * features + 0.5 * net.stylize_features(features, style))


def test_blend_weights(net, images):
    alone = net.style([images["a"]])
    torch.testing.assert_close(net.style([images["a"], images["b"]], weights=[1, 0]).blended(), alone.blended())
    a, b = alone, net.style([images["b"]])
    mean, std = net.style([images["a"], images["b"]], weights=[0.7, 0.3]).blended()
    torch.testing.assert_close(mean, 0.7 * a.mean + 0.3 * b.mean)
    torch.testing.assert_close(std, 0.7 * a.std + 0.3 * b.std)
    with pytest.raises(ValueError):
        net.style([images["a"], images["b"]], weights=[1])


def test_lerp_endpoints_and_middle(net, images):
    a, b = net.style([images["a"]]), net.style([images["b"]])
    for t, expected in [(0.0, a), (1.0, b)]:
        torch.testing.assert_close(a.lerp(b, t).blended(), expected.blended())
    mean, std = a.lerp(b, 0.25).blended()
    torch.testing.assert_close(mean, 0.75 * a.mean + 0.25 * b.mean)
    # Different numbers of looks: the blends are interpolated.
    pair = net.style([images["a"], images["b"]], weights=[0.2, 0.8])
    torch.testing.assert_close(pair.lerp(a, 1.0).blended(), a.blended())
    torch.testing.assert_close(pair.lerp(a, 0.0).blended(), pair.blended())


def test_mask_selects_styles_per_region(net, images):
    content = _image(64, 64, 5)
    pair = net.style([images["a"], images["b"]])
    a, b = net.style([images["a"]]), net.style([images["b"]])
    with torch.no_grad():
        features = net.encoder(content)  # 16x16
        ones, zeros = torch.ones(1, 1, 64, 64), torch.zeros(1, 1, 64, 64)
        only_a, only_b = net.stylize_features(features, a), net.stylize_features(features, b)
        torch.testing.assert_close(net.stylize_features(features, pair, mask=ones), only_a)
        torch.testing.assert_close(net.stylize_features(features, pair, mask=zeros), only_b)
        # One look: mask 0 keeps the content features.
        torch.testing.assert_close(net.stylize_features(features, a, mask=zeros), features)
        # Left half style 0, right half style 1 (away from the resampled edge).
        left = torch.zeros(1, 1, 64, 64)
        left[..., :32] = 1
        split = net.stylize_features(features, pair, mask=left)
        torch.testing.assert_close(split[..., :7], only_a[..., :7])
        torch.testing.assert_close(split[..., 9:], only_b[..., 9:])
        assert net(content, pair, mask=left).shape == content.shape
    with pytest.raises(ValueError, match="one or two"):
        net.stylize_features(features, net.style([images["a"]] * 3), mask=left)


def test_colour_preservation(net, images):
    content = images["content"]
    matched = net.style([images["b"]], match_to=content)
    torch.testing.assert_close(matched.blended(), net.style([match_color(images["b"], content)]).blended())
    assert not torch.allclose(matched.mean, net.style([images["b"]]).mean)

    style = net.style([images["b"]])
    with torch.no_grad():
        out = net(content, style, preserve_color="luminance")
        torch.testing.assert_close(out, luminance_only(net(content, style), content))
    chroma_error = (rgb_to_ycc(out)[:, 1:] - rgb_to_ycc(content)[:, 1:]).abs().mean()
    assert chroma_error < 0.02
    with pytest.raises(ValueError, match="match_to"):
        net(content, style, preserve_color="match")
