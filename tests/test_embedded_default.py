"""The shipped nets and looks: everything works from a fresh clone with no weights around."""
import os

import cv2
import numpy as np
import pytest
import torch

from helpers import solid_rgb
from stylize.models import looks, weights, zoo


@pytest.fixture
def bare_env(tmp_path):
    """No $STYLIZE_WEIGHTS and an empty cache: only what ships in the package."""
    env = {k: v for k, v in os.environ.items() if k != "STYLIZE_WEIGHTS"}
    env["STYLIZE_CACHE"] = str(tmp_path / "empty-cache")
    return env


def _photo(path):
    ramp = np.linspace(0, 255, 96, dtype=np.uint8)
    image = np.dstack([np.tile(ramp, (64, 1)), np.tile(ramp[::-1], (64, 1)), solid_rgb(64, 96)[:, :, 2]])
    cv2.imwrite(str(path), image)
    return path


def test_shipped_nets_are_small_fp16_and_hash_checked():
    shipped = {name: spec for name, spec in weights.REGISTRY.items() if spec.shipped}
    assert {"student", "aesfa", "adain_r31_decoder", "looks"} <= set(shipped)
    assert sum(spec.size for spec in shipped.values()) <= 10_000_000
    for name in ("student", "aesfa", "adain_r31_decoder"):
        state = weights.load(name)  # sha256-checked, weights_only
        assert all(v.dtype == torch.float16 for v in state.values() if v.is_floating_point()), name


def test_style_image_through_the_default_net_with_nothing_else(cli, tmp_path, bare_env, style_path):
    out = tmp_path / "out.png"
    result = cli("image", _photo(tmp_path / "in.png"), "--style", style_path, "-o", out, env=bare_env)
    assert result.returncode == 0, result.stderr.decode()
    styled = cv2.imread(str(out))
    assert styled.shape == (64, 96, 3)
    assert np.abs(styled.astype(int) - cv2.imread(str(tmp_path / "in.png")).astype(int)).mean() > 5


def test_builtin_look_needs_no_style_image(cli, tmp_path, bare_env):
    outputs = {}
    for look in ("starry-night", "the-scream"):
        out = tmp_path / f"{look}.png"
        result = cli("image", _photo(tmp_path / "in.png"), "--look", look, "-o", out, env=bare_env)
        assert result.returncode == 0, result.stderr.decode()
        outputs[look] = cv2.imread(str(out)).astype(int)
    # Different paintings give visibly different pictures.
    assert np.abs(outputs["starry-night"] - outputs["the-scream"]).mean() > 5


def test_list_looks_and_unknown_look(cli, bare_env, tmp_path):
    listing = cli("image", "--list-looks", env=bare_env)
    assert listing.returncode == 0 and "starry-night" in listing.stdout.decode()
    result = cli("image", _photo(tmp_path / "in.png"), "--look", "mona", "-o", tmp_path / "o.png", env=bare_env)
    assert result.returncode == 2 and "unknown look 'mona'" in result.stderr.decode()


def test_adain_without_vgg_names_where_it_looked(cli, tmp_path, bare_env, style_path):
    result = cli("image", _photo(tmp_path / "in.png"), "--style", style_path, "--method", "adain",
                 "-o", tmp_path / "o.png", env={**bare_env, "STYLIZE_WEIGHTS": str(tmp_path / "none")})
    assert result.returncode == 2
    message = result.stderr.decode()
    assert "vgg19" in message and "STYLIZE_WEIGHTS" in message and not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("method", ["student", "aesfa", "adain"])
def test_every_look_has_parameters_for_every_shipped_net(method, weights_dir):
    net = zoo.load(method)
    content = torch.rand(1, 3, 37, 53)
    for name in looks.names():
        with torch.no_grad():
            out = net(content, looks.style_for(name, method, net))
        assert out.shape == content.shape and torch.isfinite(out).all()
