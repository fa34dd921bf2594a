"""Unit tests of the perceptual losses on hand-made tensors (no weights needed)."""
import pytest
import torch
import torch.nn.functional as F

from stylize.models import losses


def test_gram_of_known_tensor():
    # channel a = 1,2,3,4 and b = 0,1,0,1 over a 2x2 map: a.a=30, a.b=6, b.b=2,
    # normalised by C*H*W = 2*4.
    feat = torch.tensor([[1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 0.0, 1.0]]).view(1, 2, 2, 2)
    expected = torch.tensor([[30.0, 6.0], [6.0, 2.0]]) / 8
    assert torch.allclose(losses.gram(feat)[0], expected)


def test_gram_is_independent_of_map_size():
    feat = torch.randn(1, 4, 5, 7, generator=torch.Generator().manual_seed(0))
    tiled = feat.repeat(1, 1, 2, 3)  # same statistics, six times the positions
    assert torch.allclose(losses.gram(feat), losses.gram(tiled), atol=1e-6)


def test_masked_gram_describes_only_the_masked_region():
    feat = torch.randn(1, 3, 6, 8, generator=torch.Generator().manual_seed(1))
    mask = torch.zeros(1, 1, 6, 8)
    mask[..., :, :3] = 1
    assert torch.allclose(losses.gram(feat, mask), losses.gram(feat[..., :, :3]), atol=1e-6)
    assert torch.allclose(losses.gram(feat, torch.ones(1, 1, 6, 8)), losses.gram(feat), atol=1e-6)


def test_mean_std_matches_torch():
    feat = torch.randn(2, 5, 9, 11, generator=torch.Generator().manual_seed(2)) * 3 + 1
    mean, std = losses.mean_std(feat, eps=1e-5)
    assert mean.shape == std.shape == (2, 5, 1, 1)
    assert torch.allclose(mean, feat.mean(dim=(2, 3), keepdim=True), atol=1e-5)
    expected_std = (feat.var(dim=(2, 3), keepdim=True, unbiased=False) + 1e-5).sqrt()
    assert torch.allclose(std, expected_std, atol=1e-5)


def test_masked_mean_std_matches_the_crop():
    feat = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(3))
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 2:6, 1:4] = 1
    for got, want in zip(losses.mean_std(feat, mask=mask), losses.mean_std(feat[..., 2:6, 1:4])):
        assert torch.allclose(got, want, atol=1e-5)


def test_mask_at_another_resolution_is_resized():
    feat = torch.randn(1, 2, 4, 4, generator=torch.Generator().manual_seed(4))
    coarse = torch.zeros(1, 1, 4, 4)
    coarse[..., :, :2] = 1
    fine = coarse.repeat_interleave(4, dim=2).repeat_interleave(4, dim=3)  # 16x16, same halves
    assert torch.allclose(losses.gram(feat, fine), losses.gram(feat, coarse), atol=1e-5)


def test_empty_mask_gives_finite_gradients():
    feat = torch.randn(1, 2, 4, 4, requires_grad=True)
    target = {"relu1_1": torch.zeros(1, 2, 2)}
    loss = losses.gram_style_loss({"relu1_1": feat}, target, mask=torch.zeros(1, 1, 4, 4))
    loss.backward()
    assert torch.isfinite(feat.grad).all()


def test_content_loss_is_mse():
    a, b = torch.zeros(1, 2, 3, 3), torch.full((1, 2, 3, 3), 2.0)
    assert losses.content_loss(a, b).item() == pytest.approx(4.0)
    assert losses.content_loss(a, a).item() == 0.0


def test_gram_style_loss_weights_layers():
    gen = torch.Generator().manual_seed(5)
    feats = {"relu1_1": torch.randn(1, 3, 5, 5, generator=gen), "relu2_1": torch.randn(1, 4, 3, 3, generator=gen)}
    own = {name: losses.gram(f) for name, f in feats.items()}
    assert losses.gram_style_loss(feats, own).item() == pytest.approx(0.0, abs=1e-12)

    zeros = {name: torch.zeros_like(g) for name, g in own.items()}
    per_layer = {name: F.mse_loss(g, torch.zeros_like(g)).item() for name, g in own.items()}
    weighted = losses.gram_style_loss(feats, zeros, {"relu1_1": 2.0, "relu2_1": 0.5}).item()
    assert weighted == pytest.approx(2.0 * per_layer["relu1_1"] + 0.5 * per_layer["relu2_1"], rel=1e-5)
    # a layer missing from layer_weights does not count
    assert losses.gram_style_loss(feats, zeros, {"relu2_1": 1.0}).item() == pytest.approx(per_layer["relu2_1"],
                                                                                           rel=1e-5)


def test_mean_std_style_loss_of_shifted_features():
    feat = torch.randn(1, 6, 7, 7, generator=torch.Generator().manual_seed(6))
    target = {"relu3_1": losses.mean_std(feat)}
    assert losses.mean_std_style_loss({"relu3_1": feat}, target).item() == pytest.approx(0.0, abs=1e-10)
    # a constant shift moves every mean by 0.5 and leaves the stds: MSE(mean) = 0.25
    shifted = losses.mean_std_style_loss({"relu3_1": feat + 0.5}, target).item()
    assert shifted == pytest.approx(0.25, rel=1e-4)


def test_tv_loss():
    assert losses.tv_loss(torch.full((1, 3, 8, 8), 0.3)).item() == 0.0
    ramp = torch.arange(8.0).mul(0.1).view(1, 1, 1, 8).expand(1, 3, 8, 8)
    assert losses.tv_loss(ramp).item() == pytest.approx(0.01, rel=1e-5)  # dx = 0.1 everywhere, dy = 0
