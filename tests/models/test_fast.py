import numpy as np
import pytest
import torch

from stylize.models import registry, weights, zoo


@pytest.mark.parametrize("name, golden", [("candy", "johnson_candy_256.npy"),
                                          ("scream", "engstrom_scream_256.npy")])
def test_matches_golden_output(shared, weights_dir, name, golden):
    net = zoo.load(name)
    x = torch.from_numpy(np.load(shared / "golden" / "input_256.npy"))
    with torch.no_grad():
        out = net(x * 255).clamp(0, 255).round()[0].permute(1, 2, 0).numpy().astype(np.int16)
    expected = np.load(shared / "golden" / golden).astype(np.int16)
    assert np.abs(out - expected).mean() <= 1.0
    assert np.abs(out - expected).max() <= 2


