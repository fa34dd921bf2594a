import numpy as np
import pytest
import torch

from stylize.models import weights, zoo


@pytest.mark.parametrize("name, golden", [("candy", "johnson_candy_256.npy"),
                                          ("scream", "engstrom_scream_256.npy")])
def test_matches_golden_output(shared, weights_dir, name, golden):
    net = zoo.load_fast_net(name)
    x = torch.from_numpy(np.load(shared / "golden" / "input_256.npy"))
    with torch.no_grad():
        out = net(x * 255).clamp(0, 255).round()[0].permute(1, 2, 0).numpy().astype(np.int16)
    expected = np.load(shared / "golden" / golden).astype(np.int16)
    assert np.abs(out - expected).mean() <= 1.0
    assert np.abs(out - expected).max() <= 2


@pytest.mark.parametrize("name", weights.FAST_NETS)
def test_every_fast_net_keeps_odd_sizes(weights_dir, name):
    net = zoo.load_fast_net(name)
    with torch.no_grad():
        out = net(torch.rand(1, 3, 37, 53) * 255)
    assert out.shape == (1, 3, 37, 53)
    assert torch.isfinite(out).all()
