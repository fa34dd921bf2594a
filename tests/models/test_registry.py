"""The contract every registered net keeps, checked for each entry of the net registry.

Odd sizes come back at their size, weights survive the round trip through
the registry's builders, alpha 0 is exactly the input, and the ONNX graph
agrees with torch. A net added to the registry is covered by adding it.
"""
from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
import pytest
import torch

from helpers import solid_rgb
from stylize.errors import OptionError, WeightsError
from stylize.export import onnx as ox
from stylize.models import registry, zoo
from stylize.realtime.engines import Look, TorchEngine

pytestmark = pytest.mark.usefixtures("one_torch_thread", "weights_dir")

METHODS = registry.methods()
ODD_SIZES = [(37, 53), (33, 50)]


@lru_cache(maxsize=None)
def registered(method: str) -> torch.nn.Module:
    return zoo.load(method)


def painting(seed: int = 1) -> np.ndarray:
    return solid_rgb(48, 40, seed=seed)


def stylized(method: str, net: torch.nn.Module, content: torch.Tensor) -> torch.Tensor:
    """The net's own forward on RGB [0,1], whatever its convention."""
    with torch.no_grad():
        if not registry.get(method).arbitrary:
            return net(content * 255).div(255).clamp(0, 1)
        style = net.style([torch.from_numpy(painting()).permute(2, 0, 1)[None].float() / 255])
        return net(content, style)


def test_the_table_knows_every_method_the_product_offers():
    assert {"student", "aesfa", "adain"} <= set(registry.arbitrary_methods())
    assert {"candy", "mosaic", "scream", "wave"} <= set(registry.fast_methods())
    assert registry.DEFAULT_METHOD == "student"
    assert [m for m in METHODS if registry.get(m).needs_vgg] == ["adain"]
    with pytest.raises(OptionError, match="unknown method 'nope'.*student"):
        registry.get("nope")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("size", ODD_SIZES)
def test_output_has_the_input_size(method, size):
    out = stylized(method, registered(method), torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(2)))
    assert out.shape == (1, 3, *size)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("method", METHODS)
def test_inference_weights_round_trip_through_the_registry(method):
    spec, net = registry.get(method), registered(method)
    buffer = io.BytesIO()
    torch.save(spec.inference_state(net), buffer)
    buffer.seek(0)
    rebuilt = spec.from_state(torch.load(buffer, weights_only=True), zoo.load_vgg)
    assert isinstance(rebuilt, spec.cls)
    content = torch.rand(1, 3, 40, 56, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(stylized(method, rebuilt, content), stylized(method, net, content), rtol=0, atol=0)


@pytest.mark.parametrize("method", METHODS)
def test_random_build_has_the_registered_shape(method):
    spec = registry.get(method)
    random = spec.random(zoo.load_vgg)
    registered_state = spec.inference_state(registered(method))
    assert {k: v.shape for k, v in spec.inference_state(random).items()} == \
        {k: v.shape for k, v in registered_state.items()}


@pytest.mark.parametrize("method", METHODS)
def test_weights_that_do_not_fit_are_refused(method):
    with pytest.raises(WeightsError, match=f"do not fit a {method} net"):
        registry.get(method).from_state({"nonsense.weight": torch.zeros(3, 3, 3, 3)}, zoo.load_vgg)


@pytest.mark.parametrize("method", METHODS)
def test_alpha_zero_is_exactly_the_input(method):
    engine = TorchEngine(nets={method: registered(method)})
    fast = registry.get(method).arbitrary is False
    engine.set_style(Look(method, method, [] if fast else [painting()]))
    frame = solid_rgb(37, 53, seed=5)
    engine.alpha = 0.0
    np.testing.assert_array_equal(engine(frame), frame)
    engine.alpha = 1.0
    assert np.abs(engine(frame).astype(int) - frame).mean() > 2  # and at 1 it does paint


@pytest.mark.parametrize("method", METHODS)
def test_onnx_graph_matches_torch(method, tmp_path):
    spec, net = registry.get(method), registered(method)
    size = None if spec.dynamic_size else (40, 52)  # fixed-size graphs are exact at their own size
    path = ox.export_onnx(method, tmp_path / f"{method}.onnx", net=net, size=size)
    assert ox.check_parity(method, path, net=net, size=size) < ox.PARITY_TOLERANCE
