"""The backend table: names, what is missing here, what `auto` picks, and the labels reports print."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from stylize import api
from stylize.errors import OptionError
from stylize.realtime import backends
from stylize.realtime.engines import TorchEngine
from stylize.realtime.onnx_engine import OnnxEngine


def test_every_backend_is_a_name_users_can_give_and_auto_comes_first():
    assert backends.names()[0] == "auto"
    assert set(backends.names()[1:]) == set(backends.BACKENDS) >= {"torch", "onnxruntime", "tensorrt"}
    assert api.BACKENDS == backends.names()
    assert {"torch", "onnxruntime"} <= set(backends.available())


def test_an_unknown_backend_is_an_option_error_naming_the_choices():
    with pytest.raises(OptionError, match="choose from auto, torch, onnxruntime"):
        backends.create("tpu")
    with pytest.raises(OptionError, match="unknown backend"):
        api.check_options(backend="tpu")


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here")
def test_tensorrt_without_tensorrt_names_the_extra_in_one_line():
    reason = backends.missing("tensorrt")
    assert reason is not None and 'pip install "stylize[tensorrt]"' in reason and "\n" not in reason
    with pytest.raises(OptionError, match=r"stylize\[tensorrt\]"):
        api.new_engine("tensorrt")


@pytest.mark.skipif(backends.cuda_available(), reason="a CUDA machine picks a GPU backend")
def test_auto_on_the_cpu_is_the_measured_faster_backend():
    assert backends.auto_choice() == backends.CPU_AUTO
    engine = api.new_engine("auto")
    assert engine.backend == backends.CPU_AUTO and backends.label(engine) == f"{backends.CPU_AUTO} cpu"


def test_labels_name_the_device_or_the_provider_actually_used():
    assert backends.label(TorchEngine("cpu")) == "torch cpu"
    engine = OnnxEngine(threads=1)
    assert backends.label(engine) == "onnxruntime CPUExecutionProvider"
    engine.set_style(api.look("great-wave"))  # a session now exists: its own provider is reported
    engine(np.zeros((24, 32, 3), np.uint8))
    assert engine.provider == "CPUExecutionProvider"


def test_ort_providers_always_end_with_the_cpu():
    providers = backends.ort_providers()
    assert providers[-1] == "CPUExecutionProvider"
    assert all(p in backends.GPU_PROVIDERS for p in providers[:-1])


def test_the_cli_says_what_an_explicit_auto_chose(capsys, tmp_path, content_path):
    from stylize.cli import main

    out = tmp_path / "auto.png"
    code = main(["image", str(content_path), "--look", "great-wave", "--size", "64", "--backend", "auto",
                 "-o", str(out)])
    stderr = capsys.readouterr().err
    assert code == 0 and out.is_file(), stderr
    assert f"--backend auto chose {backends.auto_choice()}" in stderr
