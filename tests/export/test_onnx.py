"""ONNX export: parity with torch, dynamic sizes, the cache, and the ONNX Runtime engine."""
from __future__ import annotations

import logging
import os

import numpy as np
import pytest
import torch

from helpers import solid_rgb
from stylize.errors import UserError
from stylize.export import onnx as ox
from stylize.models import zoo
from stylize.models.student import StudentNet
from stylize.realtime.engines import Look, TorchEngine
from stylize.realtime.onnx_engine import OnnxEngine

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def seeded(factory, seed=0):
    torch.manual_seed(seed)
    return factory().eval()


@pytest.fixture(scope="module")
def student():
    """A random student made to show its style: freshly initialised, it outputs near-black
    whatever the style, which would let engine comparisons pass vacuously."""
    net = seeded(StudentNet)
    with torch.no_grad():
        net.decoder.at_half[-1].weight.mul_(20)
        net.decoder.at_half[-1].bias.fill_(0.5)
    return net


def painting(colour, spread, seed, size=(48, 48)):
    """A flat colour plus noise: two of these have clearly different channel statistics."""
    noise = np.random.default_rng(seed).normal(0, spread, (*size, 3))
    return np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def student_onnx(student, tmp_path_factory):
    return ox.export_onnx("student", tmp_path_factory.mktemp("onnx") / "student.onnx", net=student)


def test_student_graph_matches_torch_at_an_odd_size(student, student_onnx):
    # check_parity's default size (67x91) differs from the traced one (96x128).
    assert ox.check_parity("student", student_onnx, net=student) < 1e-4


@pytest.mark.parametrize("height, width", [(67, 91), (33, 200)])
def test_one_student_graph_serves_any_size_and_any_style(student, student_onnx, height, width):
    session = ox.open_session(student_onnx, threads=1)
    frame = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(5))
    for seed in (1, 2):
        style = ox.example_style("student", student, seed=seed)
        got = ox.run_session(session, frame.numpy(), ox.style_feeds(style, alpha=0.6))
        with torch.no_grad():
            expected = student(frame, style, alpha=0.6)
        assert got.shape == (1, 3, height, width)
        assert np.abs(got - expected.numpy()).max() < 1e-4


def test_parity_check_refuses_a_graph_of_other_weights(student, student_onnx):
    other = seeded(StudentNet, seed=1)
    with pytest.raises(UserError, match="differ"):
        ox.check_parity("student", student_onnx, net=other)


def test_cache_exports_once_per_weights(student):
    first = ox.cached_onnx("student", net=student)
    inode = first.stat().st_ino
    assert ox.cached_onnx("student", net=student) == first
    assert first.stat().st_ino == inode  # reused, not re-exported (a new export is a new file)
    other = seeded(StudentNet, seed=3)
    assert ox.cached_onnx("student", net=other) != first
    assert first.parent.name == "onnx"


def test_cache_key_ignores_the_students_training_only_head(student):
    # The distillation head is random on every load; it must not make a new export each run.
    twin = StudentNet.from_inference_state_dict(student.inference_state_dict()).eval()
    assert not torch.equal(twin.distill_head.weight, student.distill_head.weight)
    assert ox.cache_path("student", twin) == ox.cache_path("student", student)


def test_registered_student_reuses_its_export_across_loads():
    first = ox.cached_onnx("student", net=zoo.load("student"))
    inode, files = first.stat().st_ino, sorted(first.parent.iterdir())
    assert ox.cached_onnx("student", net=zoo.load("student")) == first
    assert first.stat().st_ino == inode and sorted(first.parent.iterdir()) == files


def test_a_corrupt_cached_export_is_exported_again_and_says_so(student, caplog):
    path = ox.cached_onnx("student", net=student)
    path.write_bytes(path.read_bytes()[:1000])  # truncated, as by a full disk
    with caplog.at_level(logging.WARNING, logger=ox.__name__):
        session = ox.cached_session("student", net=student, threads=1)
    assert {i.name for i in session.get_inputs()} >= {"content", "style_mean"}
    assert ox.check_parity("student", path, net=student) < 1e-4
    [record] = [r for r in caplog.records if r.name == ox.__name__]
    assert record.levelno == logging.WARNING
    assert str(path) in record.getMessage() and "corrupt" in record.getMessage()


def test_a_sound_cached_export_is_reused_without_a_warning(student, caplog):
    path = ox.cached_onnx("student", net=student)
    before = path.stat().st_ino, path.read_bytes()
    with caplog.at_level(logging.WARNING, logger=ox.__name__):
        ox.cached_session("student", net=student, threads=1)
    assert (path.stat().st_ino, path.read_bytes()) == before  # not exported again
    assert not [r for r in caplog.records if r.name == ox.__name__]


def test_cache_evicts_the_least_recently_used_beyond_its_limit(tmp_path):
    for age, name in enumerate(["old", "middle", "new"]):
        path = tmp_path / f"{name}.onnx"
        path.write_bytes(b"x" * 100)
        os.utime(path, (1000 + age, 1000 + age))
    removed = ox.evict(tmp_path, keep=tmp_path / "old.onnx", limit_bytes=250)
    assert [p.name for p in removed] == ["middle.onnx"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.onnx", "old.onnx"]


# ------------------------------------------------------------------ engine --
@pytest.fixture(scope="module")
def looks():
    return [Look("red", "student", [painting((200, 40, 40), 10, seed=1)]),
            Look("blue", "student", [painting((30, 60, 220), 70, seed=2, size=(40, 56))])]


def engines(student):
    return OnnxEngine(threads=1, nets={"student": student}), TorchEngine(nets={"student": student})


@pytest.mark.parametrize("alpha, preserve_color", [(1.0, False), (0.4, True)])
def test_onnx_engine_matches_torch_engine(student, looks, alpha, preserve_color):
    frame = solid_rgb(67, 91, seed=4)
    outputs = []
    for engine in engines(student):
        engine.alpha, engine.preserve_color = alpha, preserve_color
        engine.set_style(looks[0])
        outputs.append(engine(frame))
    assert outputs[0].shape == frame.shape and outputs[0].dtype == np.uint8
    assert np.abs(outputs[0].astype(int) - outputs[1]).max() <= 1
    assert np.abs(outputs[0].astype(int) - frame).mean() > 10  # it did stylize


def test_onnx_engine_mask_keeps_the_frame_where_zero(student, looks):
    engine = OnnxEngine(threads=1, nets={"student": student})
    engine.set_style(looks[0])
    frame = solid_rgb(32, 40, seed=6)
    mask = np.zeros((32, 40), np.float32)
    mask[:, 20:] = 1
    out = engine(frame, mask)
    np.testing.assert_array_equal(out[:, :20], frame[:, :20])
    np.testing.assert_array_equal(out[:, 20:], engine(frame)[:, 20:])


def test_onnx_engine_crossfades_through_the_style_inputs(student, looks):
    now = [10.0]
    engine = OnnxEngine(threads=1, nets={"student": student})
    engine.clock = lambda: now[0]
    frame = solid_rgb(32, 40, seed=7)
    ends = []
    for look in looks:
        engine.set_style(look)
        ends.append(engine(frame).astype(int))
    engine.set_style(looks[0])
    engine.crossfade_ms = 1000
    engine.set_style(looks[1])
    assert engine.fading
    np.testing.assert_allclose(engine(frame), ends[0], atol=1)
    now[0] += 0.5
    middle = engine(frame).astype(int)
    apart = np.abs(ends[0] - ends[1]).mean()
    assert apart > 1
    assert 0 < np.abs(middle - ends[0]).mean() < apart and 0 < np.abs(middle - ends[1]).mean() < apart
    now[0] += 0.6
    assert not engine.fading
    np.testing.assert_array_equal(engine(frame), ends[1])


def test_a_session_that_shares_the_cores_does_not_spin(student_onnx):
    key = "session.intra_op.allow_spinning"
    sharing = ox.open_session(student_onnx, threads=2, spinning=False)
    assert sharing.get_session_options().get_session_config_entry(key) == "0"
    alone = ox.open_session(student_onnx, threads=2)
    with pytest.raises(RuntimeError, match="does not have configuration"):  # ORT's default: spinning
        alone.get_session_options().get_session_config_entry(key)
