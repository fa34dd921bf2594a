"""Torch engine: timed crossfades, live alpha / colour / mask, styles precomputed once."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import ManualClock, solid_rgb
from stylize.realtime.engines import Look, TorchEngine

CANDY, WAVE = Look("candy", "candy"), Look("wave", "wave")



@pytest.fixture(scope="module")
def frame():
    return solid_rgb(32, 40, seed=3)


@pytest.fixture(scope="module")
def outputs(weights_dir, frame):
    engine = TorchEngine()
    result = {}
    for look in (CANDY, WAVE):
        engine.set_style(look)
        result[look.name] = engine(frame)
    return result


def test_fast_net_crossfade_blends_the_two_pictures_over_time(weights_dir, frame, outputs):
    clock = ManualClock()
    engine = TorchEngine()
    engine.clock = clock
    engine.set_style(CANDY)
    engine.crossfade_ms = 400
    engine.set_style(WAVE)
    assert engine.fading
    start = engine(frame)
    np.testing.assert_allclose(start, outputs["candy"], atol=1)
    clock.now += 0.1  # a quarter of the way
    quarter = engine(frame).astype(float)
    expected = 0.75 * outputs["candy"].astype(float) + 0.25 * outputs["wave"].astype(float)
    assert np.abs(quarter - expected).max() <= 1.5
    clock.now += 0.35  # past the end
    assert not engine.fading
    np.testing.assert_array_equal(engine(frame), outputs["wave"])


def test_without_crossfade_a_new_look_cuts(weights_dir, frame, outputs):
    engine = TorchEngine()
    engine.set_style(CANDY)
    engine.set_style(WAVE)  # crossfade_ms is 0
    assert not engine.fading
    np.testing.assert_array_equal(engine(frame), outputs["wave"])


def test_alpha_colour_and_mask_change_live(weights_dir, frame, outputs):
    engine = TorchEngine()
    engine.set_style(CANDY)
    engine.alpha = 0.0
    np.testing.assert_array_equal(engine(frame), frame)  # exactly the input
    engine.alpha = 0.5
    half_way = 0.5 * frame.astype(float) + 0.5 * outputs["candy"].astype(float)
    assert np.abs(engine(frame) - half_way).max() <= 1  # a pixel blend towards the look
    engine.alpha = 1.0
    np.testing.assert_array_equal(engine(frame), outputs["candy"])
    engine.preserve_color = True
    kept = engine(frame)
    assert not np.array_equal(kept, outputs["candy"])
    engine.preserve_color = False
    mask = np.zeros(frame.shape[:2], np.float32)
    mask[:, 20:] = 1.0  # stylize the right half only
    half = engine(frame, mask)
    np.testing.assert_allclose(half[:, :20], frame[:, :20], atol=1)
    np.testing.assert_array_equal(half[:, 20:], outputs["candy"][:, 20:])


@pytest.fixture(scope="module")
def adain_net(weights_dir):
    adain = pytest.importorskip("stylize.models.adain")
    from stylize.models import zoo

    torch.manual_seed(0)  # the real VGG encoder; an untrained but fixed decoder is enough here
    return adain.AdaINNet(zoo.load_vgg(), adain.Decoder("relu3_1"))


class CountingAdaIN(torch.nn.Module):
    """The real AdaIN net, counting how often a style is computed."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.style_calls = 0

    def style(self, images, weights=None):
        self.style_calls += 1
        return self.net.style(images, weights)

    def forward(self, content, style, alpha=1.0):
        return self.net(content, style, alpha=alpha)


def test_arbitrary_net_crossfade_interpolates_precomputed_styles(adain_net, frame):
    net = CountingAdaIN(adain_net)
    clock = ManualClock()
    engine = TorchEngine(nets={"adain": net})
    engine.clock = clock
    first = Look("noise", "adain", [solid_rgb(48, 48, seed=1)])
    second = Look("flat", "adain", [np.full((48, 48, 3), (200, 80, 30), np.uint8)])
    engine.set_style(first)
    engine.set_style(second)
    engine.set_style(first)
    assert net.style_calls == 2  # once per look, never per frame or per switch
    engine.crossfade_ms = 1000
    engine.set_style(second)
    clock.now += 0.5
    halfway = engine(frame)
    with torch.inference_mode():
        style_a = adain_net.style([torch.from_numpy(first.style_images[0]).permute(2, 0, 1)[None].float() / 255])
        style_b = adain_net.style([torch.from_numpy(second.style_images[0]).permute(2, 0, 1)[None].float() / 255])
        content = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255
        expected = adain_net(content, style_a.lerp(style_b, 0.5))
        pixel_blend = 0.5 * adain_net(content, style_a) + 0.5 * adain_net(content, style_b)
    expected = expected[0].permute(1, 2, 0).mul(255).round().byte().numpy()
    pixel_blend = pixel_blend[0].permute(1, 2, 0).mul(255).round().byte().numpy()
    np.testing.assert_allclose(halfway, expected, atol=1)
    assert np.abs(halfway.astype(int) - pixel_blend).mean() > 0.5  # parameters, not pixels, were mixed
    assert net.style_calls == 2


def test_preserve_color_match_takes_the_frames_palette(weights_dir, frame, outputs):
    from stylize.models.color import match_color
    from stylize.tensors import frame_to_tensor, tensor_to_frame

    engine = TorchEngine()
    engine.set_style(CANDY)
    engine.preserve_color = "match"
    matched = engine(frame)
    expected = tensor_to_frame(match_color(frame_to_tensor(outputs["candy"]), frame_to_tensor(frame)))
    # expected starts from the rounded picture; the colour transform stretches that rounding a little
    np.testing.assert_allclose(matched, expected, atol=4)
    assert np.abs(matched.reshape(-1, 3).mean(0) - frame.reshape(-1, 3).mean(0)).max() < 2
    engine.preserve_color = "luminance"
    by_name = engine(frame)
    engine.preserve_color = True
    np.testing.assert_array_equal(engine(frame), by_name)
    with pytest.raises(ValueError):
        engine.preserve_color = "sepia"
        engine(frame)


@pytest.fixture(scope="module")
def student_engines():
    from stylize.models.student import StudentNet
    from stylize.realtime.onnx_engine import OnnxEngine

    torch.manual_seed(0)
    net = StudentNet().eval()
    with torch.no_grad():  # a random student outputs near-black; make it show its style
        net.decoder.at_half[-1].weight.mul_(20)
        net.decoder.at_half[-1].bias.fill_(0.5)
    look = Look("noise", "student", [solid_rgb(48, 48, seed=1)])
    engines = [TorchEngine(nets={"student": net}), OnnxEngine(threads=1, nets={"student": net})]
    for engine in engines:
        engine.set_style(look)
    return engines


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_alpha_blends_an_arbitrary_net_smoothly_down_to_the_exact_input(student_engines, backend):
    engine = next(e for e in student_engines if e.backend == backend)
    frame = solid_rgb(33, 47, seed=5)
    distances = []
    for alpha in (1.0, 0.75, 0.5, 0.25, 0.0):
        engine.alpha = alpha
        distances.append(np.abs(engine(frame).astype(float) - frame).mean())
    engine.alpha = 1.0
    assert distances[-1] == 0.0  # bit-exact: no reconstruction through the net
    steps = -np.diff(distances)
    assert distances[0] > 10 and np.allclose(steps, distances[0] / 4, rtol=0.05)  # even steps: a pixel blend
