"""AesFA net: shapes, round trips, precomputed kernels, blending, and the training hooks.

The nets are slim and randomly initialised (no checkpoint exists yet). Their
RGB bias is moved to 0.5 so that outputs land inside [0,1] like a trained
net's; otherwise the final clamp would make comparisons trivially equal.
"""
from __future__ import annotations

import io

import pytest
import torch

from stylize.models.aesfa import AdaptiveConv, AesFANet, AesFAStyle, KernelPredictor, Octave

pytestmark = pytest.mark.usefixtures("one_torch_thread")

WIDTH = 8


def _net(width: int = WIDTH, seed: int = 0) -> AesFANet:
    torch.manual_seed(seed)
    net = AesFANet(width=width)
    with torch.no_grad():
        net.decoder.to_rgb.from_high.bias.add_(0.5)
    return net.eval()


@pytest.fixture(scope="module")
def net() -> AesFANet:
    return _net()


def _image(height: int, width: int, seed: int) -> torch.Tensor:
    return torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def images() -> dict[str, torch.Tensor]:
    smooth = torch.nn.functional.interpolate(_image(8, 8, 3), size=(48, 48), mode="bilinear")
    return {"content": _image(45, 61, 0), "a": _image(40, 40, 1), "b": smooth, "c": _image(37, 52, 2) ** 3}


def _assert_styles_close(x: AesFAStyle, y: AesFAStyle) -> None:
    for a, b in zip(x.tensors(), y.tensors(), strict=True):
        torch.testing.assert_close(a, b)


def test_architecture_is_read_off_a_state_dict():
    odd = AesFANet(width=16, style_kernel=5, group_sizes=(2, 4, 8))
    half = {k: v.half() for k, v in odd.state_dict().items()}  # shipped nets are stored in fp16
    loaded = AesFANet.from_state_dict(half)
    assert (loaded.width, loaded.style_kernel, loaded.group_sizes) == (16, 5, (2, 4, 8))


def test_width_sets_the_size():
    def count(net: AesFANet) -> int:
        return sum(p.numel() for p in net.parameters())
    assert count(AesFANet(width=8)) < count(AesFANet(width=16)) < count(AesFANet(width=64))
    with pytest.raises(ValueError):
        AesFANet(width=12)  # 6 channels per band cannot form groups of 4


def test_kernels_are_precomputed_once_per_style(net, images):
    encoder_calls, predictor_calls = [], []
    hooks = [net.encoder.register_forward_hook(lambda *_: encoder_calls.append(1))]
    hooks += [m.register_forward_hook(lambda *_: predictor_calls.append(1))
              for m in net.modules() if isinstance(m, KernelPredictor)]
    try:
        style = net.style([images["a"], images["c"]])
        assert len(encoder_calls) == 2 and len(predictor_calls) == 6  # 3 blocks x 2 bands
        with torch.no_grad():
            for _ in range(3):
                net(images["content"], style)
        assert len(encoder_calls) == 2 + 3 and len(predictor_calls) == 6
    finally:
        for hook in hooks:
            hook.remove()
    assert all(not t.requires_grad for t in style.tensors())


def test_alpha_fades_from_the_content_as_its_own_style(net, images):
    content, style = images["content"], net.style([images["a"]])
    with torch.no_grad():
        own = net(content, net.style([content]))
        torch.testing.assert_close(net(content, style, alpha=0.0), own)
        torch.testing.assert_close(net(content, style, alpha=1.0), net(content, style))
        assert not torch.allclose(net(content, style, alpha=0.5), own)


def test_blend_weights_and_lerp(net, images):
    a, c = net.style([images["a"]]), net.style([images["c"]])
    _assert_styles_close(net.style([images["a"], images["c"]], weights=[1, 0]), a)
    _assert_styles_close(a.lerp(c, 0.0), a)
    _assert_styles_close(a.lerp(c, 1.0), c)
    # The predictors are affine in the code, so a crossfade equals a code blend.
    _assert_styles_close(a.lerp(c, 0.3), net.style([images["a"], images["c"]], weights=[0.7, 0.3]))


def test_style_blending_takes_each_band_from_its_own_image(net, images):
    a, b = net.style([images["a"]]), net.style([images["b"]])
    blend = net.style([images["a"]], low_freq_images=[images["b"]])
    for mixed, from_a, from_b in zip(blend.layers, a.layers, b.layers):
        torch.testing.assert_close(mixed.high.spatial, from_a.high.spatial)
        torch.testing.assert_close(mixed.low.bias, from_b.low.bias)
    with torch.no_grad():
        features = net.encode(images["content"])[-1]
        mixed, only_a, only_b = (net.decode(features, s) for s in (blend, a, b))
    # Untrained codes differ little between images, so the outputs do too; the
    # pipeline is deterministic, so anything far above float rounding is real.
    assert (mixed - only_a).abs().max() > 1e-6
    assert (mixed - only_b).abs().max() > 1e-6


def test_one_style_per_sample_matches_one_at_a_time(net, images):
    contents = torch.cat([_image(32, 40, 5), _image(32, 40, 6)])
    styles = torch.cat([images["a"][..., :32, :32], images["c"][..., :32, :32]])
    with torch.no_grad():
        per_sample = net.predict_style(net.style_code(net.encode(styles)[-1]))
        batched = net.decode(net.encode(contents)[-1], per_sample)
        for i in range(2):
            single = net.decode(net.encode(contents[i:i + 1])[-1], net.style([styles[i:i + 1]]))
            torch.testing.assert_close(batched[i:i + 1], single, atol=1e-5, rtol=1e-4)


def test_training_path_reaches_every_parameter():
    net = _net(seed=1).train()
    content, style = _image(32, 32, 7), _image(32, 32, 8)
    features = net.aesthetic_features(style)
    assert len(features) == 3 and all(isinstance(f, Octave) for f in features)
    first, second, code = features
    assert first.high.shape == (1, WIDTH, 16, 16) and first.low.shape == (1, WIDTH, 8, 8)
    assert second.high.shape == (1, 2 * WIDTH, 8, 8) and second.low.shape == (1, 2 * WIDTH, 4, 4)
    assert code.high.shape == code.low.shape == (1, 4 * WIDTH, 3, 3)  # mean and std of each channel
    output = net.decode(net.encode(content)[-1], net.predict_style(code))
    features_of_output = [band for octave in net.aesthetic_features(output) for band in octave]
    loss = output.square().mean() + sum(band.mean() for band in features_of_output)
    loss.backward()
    missing = [name for name, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert not missing


@pytest.mark.parametrize("group_size", [1, 2, 4])
def test_predicted_kernels_are_an_identity_plus_a_residual(group_size):
    """With the residual maps at zero, an AdaConv block passes its normalised input through unchanged."""
    torch.manual_seed(0)
    predictor, adaconv = KernelPredictor(8, group_size, code_channels=6, code_size=3), AdaptiveConv(8, group_size)
    with torch.no_grad():
        predictor.spatial.weight.zero_()
        predictor.pointwise.weight.zero_()
    kernels = predictor(torch.randn(2, 6, 3, 3))
    x = torch.randn(2, 8, 10, 12)
    expected = adaconv.conv(torch.nn.functional.instance_norm(x) + kernels.bias[..., None, None])
    torch.testing.assert_close(adaconv(x, kernels), expected, atol=1e-5, rtol=1e-5)
    # ...and the identity is a fixed buffer, not saved with the weights.
    assert not any(key.startswith("identity") for key in predictor.state_dict())


def test_first_block_starts_as_adain_on_the_code_statistics():
    """Untrained, block 0 gives instance-normalised content the std and mean that the style code pools."""
    torch.manual_seed(0)
    net = AesFANet(width=WIDTH)
    block = net.decoder.blocks[0]
    with torch.no_grad():
        block.predict_high.spatial.weight.zero_()  # leave the identity spatial kernel
    code = net.style_code(net.encode(_image(64, 64, 9))[-1])
    pooled = code.high.mean(dim=(2, 3))
    mean, std = pooled[:, :2 * WIDTH], pooled[:, 2 * WIDTH:]
    assert (std > 0).all() and not torch.allclose(std, torch.ones_like(std))
    content = torch.randn(1, 2 * WIDTH, 6, 7)
    adain = torch.nn.functional.instance_norm(content) * std[..., None, None] + mean[..., None, None]
    torch.testing.assert_close(block.adaconv_high(content, block.kernels(code).high), block.adaconv_high.conv(adain),
                               atol=1e-4, rtol=1e-4)
    assert [b.adaconv_high.normalise for b in net.decoder.blocks] == [True, False, False]
