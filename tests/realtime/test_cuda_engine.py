"""TorchEngine on a real CUDA device: parity with eager fp32 on the CPU, CUDA graph replay, depth-2 ordering.

Marked `gpu`: skipped without CUDA (bench/gpu_check.sh runs them on the GPU machine).
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from stylize.bench.nets import random_net
from stylize.realtime.engines import CudaOptions, Look, TorchEngine

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

METHODS = ("adain", "student", "aesfa")
# bf16 against fp32: mean absolute difference in 0-255 levels, and the share of pixels off by more than 8
MEAN_LEVELS = {"bf16": 2.5, "fp16": 1.5}
FAR_SHARE = 0.02


def style_image() -> np.ndarray:
    y, x = np.mgrid[0:96, 0:96]
    return np.stack([(x * 2) % 256, (y * 3) % 256, ((x + y) * 5) % 256], axis=2).astype(np.uint8)


def frame(seed: int, height: int = 181, width: int = 243) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width, y / height, 0.5 + 0.5 * np.sin((x + y) / 9.0)], axis=2) * 220
    noise = np.random.default_rng(seed).normal(0, 12, (height, width, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def engines(method: str, **options):
    net = random_net(method)
    look = Look(method, method, [style_image()])
    cpu = TorchEngine("cpu", nets={method: net})
    gpu = TorchEngine("cuda", nets={method: copy.deepcopy(net)}, cuda=CudaOptions(**options))
    for engine in (cpu, gpu):
        engine.set_style(look)
    return cpu, gpu


def assert_close(expected: np.ndarray, got: np.ndarray, precision: str) -> None:
    diff = np.abs(expected.astype(np.int16) - got)
    assert diff.mean() <= MEAN_LEVELS[precision], f"mean difference {diff.mean():.2f} levels"
    assert (diff > 8).mean() <= FAR_SHARE, f"{(diff > 8).mean():.2%} of pixels off by more than 8 levels"


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_cuda_matches_cpu_eager_fp32(method, precision):
    cpu, gpu = engines(method, precision=precision)
    for seed in range(4):  # eager warm-up calls, then the captured graph
        picture = frame(seed)
        assert_close(cpu(picture), gpu(picture), precision)
    assert gpu.graph_status == {"243x181": "graph"}


@pytest.mark.parametrize("method", METHODS)
def test_graph_replay_gives_the_eager_pixels(method):
    _, eager = engines(method, graphs=False)
    _, graphed = engines(method)  # random_net is seeded: the same weights
    for seed in range(5):
        picture = frame(seed)
        assert np.abs(eager(picture).astype(np.int16) - graphed(picture)).max() <= 1
    assert graphed.graph_status["243x181"] == "graph"


def test_each_shape_gets_its_own_graph_and_styles_change_under_it():
    _, engine = engines("adain")
    engine.crossfade_ms = 0
    other = Look("other", "adain", [np.ascontiguousarray(style_image()[::-1])])
    sizes = [(181, 243), (120, 160)]
    for _ in range(4):
        for height, width in sizes:
            engine(frame(0, height, width))
    first = engine(frame(1))
    engine.set_style(other)
    assert not np.array_equal(first, engine(frame(1)))  # the new style reached the graph's static inputs
    assert engine.graph_status == {"243x181": "graph", "160x120": "graph"}


def test_depth_two_returns_frames_in_order_and_equal_to_the_sync_path():
    _, engine = engines("student")
    assert engine.depth == 2
    pictures = [frame(seed) for seed in range(10)]
    expected = [engine(picture) for picture in pictures]
    out = []
    engine.submit(pictures[0])
    for picture in pictures[1:]:
        engine.submit(picture)
        out.append(engine.collect())
    out.append(engine.collect())
    engine.close()
    for want, got in zip(expected, out, strict=True):
        assert np.array_equal(want, got)


def test_mask_alpha_and_bgr_on_the_device():
    cpu, gpu = engines("student", precision="fp16")
    picture = frame(3)
    mask = np.linspace(0, 1, picture.shape[1], dtype=np.float32)[None].repeat(picture.shape[0], 0)
    for engine in (cpu, gpu):
        engine.alpha = 0.5
    assert_close(cpu(picture, mask), gpu(picture, mask), "fp16")
    gpu.alpha = 0.0
    assert np.array_equal(gpu(picture), picture)
    _, bgr = engines("student", bgr=True)
    rgb = TorchEngine("cuda", nets={"student": bgr._nets["student"]})
    rgb.set_style(Look("student", "student", [style_image()]))
    assert np.abs(bgr(picture[..., ::-1].copy())[..., ::-1].astype(np.int16) - rgb(picture)).max() <= 1
