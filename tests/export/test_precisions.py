"""Every registered net exports and agrees with torch in ONNX Runtime (CPU), in fp32 and in int8.

What an export does depends on the net's class (its graph wrapper, its
layers), not on its weights: one registered net per class covers them all
(the five Johnson nets share one class, the three Engstrom nets another),
and a class registered later is picked up here by itself.
"""
from __future__ import annotations

import pytest

from stylize.errors import UserError, WeightsError
from stylize.export import onnx as ox
from stylize.export import quantize
from stylize.imageio import read_image
from stylize.models import registry, zoo

SIZE = (40, 56)  # height, width: tiny, and not the traced size
FIXED = (48, 64)  # the frame size fixed-size graphs (Engstrom) are exported at


@pytest.fixture(autouse=True)
def small_calibration(monkeypatch):
    """Calibrate on small photos: the ranges of a tiny frame, in a fraction of the time."""
    monkeypatch.setattr(quantize, "CALIBRATION_SIZE", (64, 80))


@pytest.fixture(scope="module")
def photos(shared):
    return quantize.calibration_images(shared / "data" / "train" / "content", limit=2)


def loaded(method: str):
    try:
        return zoo.load(method)
    except WeightsError as exc:
        pytest.skip(f"{method}: {str(exc).splitlines()[0]}")


@pytest.mark.parametrize("method", sorted(registry.NETS))
def test_fp32_and_int8_graphs_agree_with_torch(method, photos, tmp_path, weights_dir):
    net = loaded(method)
    size = SIZE if ox.is_dynamic(method) else FIXED
    trace = None if ox.is_dynamic(method) else FIXED
    photo = read_image(photos[0])
    fp32 = ox.export_onnx(method, tmp_path / "fp32.onnx", net=net, size=trace)
    assert ox.check_parity(method, fp32, net=net, size=size) <= ox.PARITY["fp32"][1]
    int8 = ox.export_onnx(method, tmp_path / "int8.onnx", net=net, size=trace, precision="int8", calibration=photos)
    assert int8.stat().st_size < fp32.stat().st_size  # the weights really are 8-bit
    assert ox.check_parity(method, int8, net=net, size=size, precision="int8", content=photo) <= ox.PARITY["int8"][1]


def test_fp16_keeps_float32_inputs_and_outputs_and_its_tolerance(tmp_path):
    import onnx

    net = zoo.load("student")
    path = ox.export_onnx("student", tmp_path / "fp16.onnx", net=net, precision="fp16")
    model = onnx.load(path)
    float32, float16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
    assert {v.type.tensor_type.elem_type for v in (*model.graph.input, *model.graph.output)} == {float32}
    assert any(init.data_type == float16 for init in model.graph.initializer)
    for size in ((67, 91), (144, 176)):
        assert ox.check_parity("student", path, net=net, size=size, precision="fp16") <= ox.PARITY["fp16"][1]
    assert next(net.parameters()).dtype.is_floating_point and next(net.parameters()).dtype.itemsize == 4


def test_a_graph_beyond_its_tolerance_fails_the_check(tmp_path, photos):
    net = zoo.load("student")
    path = ox.export_onnx("student", tmp_path / "int8.onnx", net=net, precision="int8", calibration=photos)
    with pytest.raises(ox.ParityError, match="int8"):
        ox.check_parity("student", path, net=net, size=SIZE, precision="int8", tolerance=1e-4)


def test_int8_without_photos_and_an_unknown_precision_are_refused(tmp_path):
    with pytest.raises(UserError, match="calibration"):
        ox.export_onnx("student", tmp_path / "x.onnx", precision="int8")
    with pytest.raises(UserError, match="precision"):
        ox.export_onnx("student", tmp_path / "x.onnx", precision="int4")
    with pytest.raises(UserError, match="no photos"):
        quantize.calibration_images(tmp_path)
    assert not list(tmp_path.iterdir())  # nothing half-written left behind


def test_int8_cache_entries_are_keyed_by_their_calibration(photos):
    net = zoo.load("student")
    fp32 = ox.cache_path("student", net)
    one = ox.cache_path("student", net, precision="int8", calibration=photos[:1])
    two = ox.cache_path("student", net, precision="int8", calibration=photos)
    assert len({fp32, one, two}) == 3 and "int8" in one.name
