"""Recorded normalisation statistics: replayed in call order, checked against the net, never leaking."""
import threading

import pytest
import torch
import torch.nn as nn

from stylize.models import looks, normstats, registry, zoo
from stylize.models.normstats import SharedStats, StatsMismatch
from stylize.models.student import StudentNet


def _student(widths=(16, 32, 64)):
    torch.manual_seed(0)
    net = StudentNet(widths).eval()
    return net, net.style(torch.rand(1, 3, 64, 64))


def test_every_net_class_records_its_normalisations_in_call_order():
    counts = {}
    for method in ("student", "aesfa", "candy", "scream"):
        spec = registry.get(method)
        net, x = spec.random(), torch.rand(1, 3, 64, 64)
        stats = SharedStats()
        with torch.no_grad(), stats.recording():
            net(x * 255) if spec.style_kind == "none" else net(x, net.style(torch.rand(1, 3, 64, 64)))
        counts[method] = (len(stats), set(stats.sites))
    assert counts == {"student": (1, {"adain"}), "aesfa": (2, {"instance_norm"}),
                      "candy": (15, {"instance_norm"}), "scream": (16, {"instance_norm"})}


def test_a_replayed_pass_is_normalised_as_the_recorded_one():
    net = zoo.load("student")
    style = looks.style_for("starry-night", "student", net)
    torch.manual_seed(0)
    whole = torch.rand(1, 3, 96, 128) * 0.3
    whole[..., 48:, :] += 0.6  # the crop below sees only the dark part
    stats = SharedStats()
    with torch.no_grad():
        with stats.recording():
            recorded = net(whole, style)
        with stats.replaying():
            replayed = net(whole, style)
        plain = net(whole, style)
        with stats.replaying():  # a crop normalised with the whole picture's statistics
            crop = net(whole[..., :48, :64], style)
        own = net(whole[..., :48, :64], style)
    torch.testing.assert_close(replayed, recorded)
    torch.testing.assert_close(plain, recorded)
    # Away from its bottom and right edges (its top and left are the picture's) the crop paints what the
    # whole picture paints there, unlike the crop normalised on its own.
    replayed_error = (crop - recorded[..., :48, :64])[..., :24, :40].abs().mean()
    own_error = (own - recorded[..., :48, :64])[..., :24, :40].abs().mean()
    assert replayed_error < 1e-5 < 0.05 < own_error


def test_aesfas_own_style_code_is_shared_at_alpha_below_one():
    net = registry.get("aesfa").random()
    style = net.style(torch.rand(1, 3, 64, 64))
    stats = SharedStats()
    with torch.no_grad(), stats.recording():
        net(torch.rand(1, 3, 64, 64), style, alpha=0.5)
    assert stats.sites == ["aesfa_code", "aesfa_code", "instance_norm", "instance_norm"]


def test_the_fast_nets_instance_norm_keeps_torchs_parameters_and_output():
    torch.manual_seed(0)
    ours, torchs = normstats.InstanceNorm2d(8, affine=True), nn.InstanceNorm2d(8, affine=True)
    nn.init.normal_(ours.weight)
    torchs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 8, 16, 16)
    assert list(ours.state_dict()) == list(torchs.state_dict()) == ["weight", "bias"]
    stats = SharedStats()
    with torch.no_grad(), stats.recording():
        recorded = ours(x)
    torch.testing.assert_close(recorded, torchs(x), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours(x), torchs(x))


def test_a_different_net_is_refused():
    candy, scream = registry.get("candy").random(), registry.get("scream").random()
    x = torch.rand(1, 3, 32, 32) * 255
    stats = SharedStats()
    with torch.no_grad():
        with stats.recording():
            candy(x)
        with pytest.raises(StatsMismatch, match=r"#16 \(instance_norm, 3 channels\), but only 15 were recorded"):
            with stats.replaying():
                scream(x)
        with stats.recording():
            _student()[0](x / 255, _student()[1])
        with pytest.raises(StatsMismatch, match="the recording has adain over 64 channels"):
            with stats.replaying():
                candy(x)


def test_a_net_of_another_width_is_refused():
    (wide, wide_style), (slim, slim_style) = _student(), _student((8, 16, 32))
    x = torch.rand(1, 3, 32, 32)
    stats = SharedStats()
    with torch.no_grad():
        with stats.recording():
            wide(x, wide_style)
        with pytest.raises(StatsMismatch, match="adain, 32 channels"):
            with stats.replaying():
                slim(x, slim_style)


def test_a_pass_with_fewer_normalisations_is_refused():
    net, _ = _student()
    two_looks = net.style(torch.rand(2, 3, 64, 64))
    x, mask = torch.rand(1, 3, 32, 32), torch.ones(1, 1, 32, 32)
    stats = SharedStats()
    with torch.no_grad():
        with stats.recording():
            net(x, two_looks, mask=mask)  # one AdaIN per look
        with pytest.raises(StatsMismatch, match="used 1 of the 2 recorded"):
            with stats.replaying():
                net(x, two_looks)


def test_the_session_ends_with_its_block_and_stays_in_its_thread():
    net, style = _student()
    stats = SharedStats()
    seen = []
    with torch.no_grad(), stats.recording():
        thread = threading.Thread(target=lambda: seen.append(normstats.active()))
        thread.start()
        thread.join()
        inside = normstats.active()
        net(torch.rand(1, 3, 32, 32), style)
    assert inside and seen == [False] and not normstats.active()
    with pytest.raises(RuntimeError, match="boom"):
        with stats.replaying():
            raise RuntimeError("boom")  # the pass's own error, not a mismatch
    assert not normstats.active() and len(stats) == 1


def test_a_measuring_pass_replaces_the_statistics_with_full_size_ones():
    net = zoo.load("student")
    style = looks.style_for("starry-night", "student", net)
    torch.manual_seed(0)
    picture = torch.rand(1, 3, 96, 128)
    stats, full = SharedStats(), SharedStats()
    with torch.no_grad():
        with full.recording():
            expected = net(picture, style)
        with stats.recording():
            net(picture[..., ::2, ::2], style)  # a shrunk picture's statistics
        with stats.replaying():
            shrunk = net(picture, style)
        with stats.measuring(torch.ones(96, 128)):  # one "tile", the whole picture
            net(picture, style)
        assert stats.remeasure() == stats.remeasurable == 1
        with stats.replaying():
            remeasured = net(picture, style)
        for rows in (slice(0, 48), slice(48, 96)):  # two tiles that cover the picture once
            with stats.measuring(torch.ones(48, 128)):
                net(picture[..., rows, :], style)
        stats.remeasure()
        with stats.replaying():
            from_halves = net(picture, style)
    assert (shrunk - expected).abs().mean() > 1e-2
    torch.testing.assert_close(remeasured, expected, atol=1e-4, rtol=0)
    # The halves' cut edges see padding, not each other, and the student extends each half by a 16-px margin
    # of its cut edge, which the moments count as well: measured 0.018 against the shrunk picture's 0.048.
    assert (from_halves - expected).abs().mean() < (shrunk - expected).abs().mean() / 2.5


def test_aesfas_code_is_kept_as_recorded():
    net = registry.get("aesfa").random()
    style = net.style(torch.rand(1, 3, 64, 64))
    stats = SharedStats()
    with torch.no_grad():
        with stats.recording():
            net(torch.rand(1, 3, 64, 64), style, alpha=0.5)
        with stats.measuring(torch.ones(64, 64)):
            net(torch.rand(1, 3, 64, 64), style, alpha=0.5)
    assert stats.remeasurable == stats.remeasure() == 2 < len(stats) == 4
