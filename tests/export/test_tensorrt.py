"""TensorRT export: the profile arithmetic, the cache keys and the refusal run everywhere; builds need TensorRT."""
from __future__ import annotations

import importlib.util

import pytest

from stylize.errors import OptionError, UserError
from stylize.export import tensorrt as trt_export

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None


def test_named_profiles_run_from_the_minimum_up_to_their_size_smallest_first():
    profiles = trt_export.parse_profiles("1080p,480p,720p")
    assert [p.opt for p in profiles] == [(480, 640), (720, 1280), (1080, 1920)]
    assert all(p.min == (16, 16) and p.max == p.opt for p in profiles)
    assert profiles[0].shapes() == ((1, 3, 16, 16), (1, 3, 480, 640), (1, 3, 480, 640))
    assert trt_export.parse_profiles("640x480, 480p") == profiles[:1]  # the same size once


def test_a_frame_runs_on_the_smallest_profile_that_holds_it():
    profiles = trt_export.parse_profiles("480p,720p,1080p")
    assert trt_export.choose_profile(profiles, 480, 640) == 0
    assert trt_export.choose_profile(profiles, 481, 640) == 1
    assert trt_export.choose_profile(profiles, 400, 1000) == 1  # too wide for 480p
    assert trt_export.choose_profile(profiles, 1080, 1920) == 2
    with pytest.raises(UserError, match="larger --profiles"):
        trt_export.choose_profile(profiles, 2160, 3840)


def test_a_fixed_size_graph_has_exactly_its_size():
    (profile,) = trt_export.fixed_profile(480, 640)
    assert profile.min == profile.opt == profile.max == (480, 640)
    assert profile.holds(480, 640) and not profile.holds(479, 640)


@pytest.mark.parametrize("text", ["", "480q", "10x10", "9000x100", "720p,,abc"])
def test_bad_profile_lists_are_option_errors(text):
    with pytest.raises(OptionError):
        trt_export.parse_profiles(text)


def test_the_engine_key_changes_with_each_thing_an_engine_depends_on():
    profiles = trt_export.parse_profiles("720p")
    base = ("NVIDIA H200", "10.13.0", "ab" * 32, True, profiles)
    key = trt_export.engine_key(*base)
    assert key == trt_export.engine_key(*base)  # stable
    variants = [("NVIDIA A100-SXM4-80GB",) + base[1:], base[:1] + ("10.14.1",) + base[2:],
                base[:2] + ("cd" * 32,) + base[3:], base[:3] + (False,) + base[4:],
                base[:4] + (trt_export.parse_profiles("1080p"),)]
    assert len({key, *(trt_export.engine_key(*v) for v in variants)}) == 6
    path = trt_export.engine_cache_path("student", key)
    assert path.name == f"student-{key}.engine" and path.parent.name == "tensorrt"
    timing = trt_export.timing_cache_path("NVIDIA H200", "10.13.0")
    assert timing.name == "timing-NVIDIA-H200-10-13-0.cache"


def test_the_onnx_digest_is_of_the_file_bytes(tmp_path):
    a, b = tmp_path / "a.onnx", tmp_path / "b.onnx"
    a.write_bytes(b"graph one")
    b.write_bytes(b"graph two")
    assert trt_export.file_digest(a) != trt_export.file_digest(b) and len(trt_export.file_digest(a)) == 64


@pytest.mark.skipif(HAS_TENSORRT, reason="TensorRT is installed here")
def test_without_tensorrt_the_refusal_names_the_extra_in_one_line():
    with pytest.raises(OptionError) as caught:
        trt_export.import_tensorrt()
    assert str(caught.value) == 'TensorRT is not installed; pip install "stylize[tensorrt]"'


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_TENSORRT, reason="needs tensorrt (pip install \"stylize[tensorrt]\") and a GPU")
def test_a_built_engine_runs_and_matches_torch(tmp_path):
    import numpy as np
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    from stylize.models import zoo
    from stylize.realtime.engines import Look, TorchEngine
    from stylize.realtime.tensorrt_engine import TensorRTEngine

    net = zoo.load("student")
    look = Look("noise", "student", [np.random.default_rng(1).integers(0, 256, (64, 64, 3), np.uint8)])
    engine = TensorRTEngine(nets={"student": net}, fp16=False, profiles="240p")
    reference = TorchEngine(nets={"student": net})
    for each in (engine, reference):
        each.set_style(look)
    frame = np.random.default_rng(2).integers(0, 256, (120, 160, 3), np.uint8)
    assert np.abs(engine(frame).astype(int) - reference(frame)).max() <= 2
