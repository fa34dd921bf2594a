import json

import numpy as np
import pytest
import torch

from stylize.models import weights
from stylize.models.vgg import TAP_ORDER, VGGEncoder, deepest_tap_in


@pytest.fixture(scope="module")
def golden_input(shared):
    return torch.from_numpy(np.load(shared / "golden" / "input_256.npy"))


@pytest.fixture(scope="module")
def encoder(weights_dir):
    return VGGEncoder.from_state_dict(weights.load("vgg19_r31")).eval()


def test_reproduces_golden_tap_statistics(shared, encoder, golden_input):
    golden = json.loads((shared / "golden" / "vgg_r31_stats.json").read_text())
    with torch.no_grad():
        taps = encoder.taps(golden_input)
    assert set(golden) <= set(taps)
    for name, stats in golden.items():
        feat = taps[name]
        assert list(feat.shape) == stats["shape"], name
        np.testing.assert_allclose(feat.mean(dim=(0, 2, 3)).numpy(), stats["mean"], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(feat.std(dim=(2, 3)).flatten().numpy(), stats["std"], rtol=1e-4, atol=1e-5)


def test_reproduces_golden_relu3_1_crop(shared, encoder, golden_input):
    crop = np.load(shared / "golden" / "vgg_relu3_1_crop.npy")
    with torch.no_grad():
        relu3_1 = encoder(golden_input)
    np.testing.assert_allclose(relu3_1[0, :, :8, :8].numpy(), crop, rtol=1e-4, atol=1e-5)


def test_loads_any_prefix_and_ignores_deeper_keys():
    full = VGGEncoder("relu5_1").state_dict()
    assert deepest_tap_in(full) == "relu5_1"
    shallow = VGGEncoder.from_state_dict(full, depth="relu2_1")
    assert shallow.depth == "relu2_1" and shallow.tap_names == TAP_ORDER[:3]
    deep = VGGEncoder.from_state_dict(full)
    assert deep.depth == "relu5_1"
    x = torch.rand(1, 3, 40, 40)
    with torch.no_grad():
        assert deep.taps(x, ["relu4_1"])["relu4_1"].shape == (1, 512, 5, 5)


def test_refuses_depth_beyond_the_file(weights_dir):
    with pytest.raises(ValueError, match="relu3_1"):
        VGGEncoder.from_state_dict(weights.load("vgg19_r31"), depth="relu4_1")


def test_odd_sizes_pool_with_ceil_mode(encoder):
    with torch.no_grad():
        out = encoder(torch.rand(1, 3, 333, 517))
    assert out.shape == (1, 256, 84, 130)
