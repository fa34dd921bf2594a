"""The benchmark suite's arithmetic on the CPU: the engine loop with an injected clock, the naive
baseline's per-frame work, ratios, the compute floor and the targets, the chart."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import ManualClock
import torch

from stylize.bench import plots, suite
from stylize.bench.nets import naive_baseline, random_net
from stylize.errors import OptionError



class TimedEngine:
    """An engine whose submit costs 1 ms and whose collect costs 10 ms of the injected clock."""

    def __init__(self, clock: ManualClock, depth: int):
        self.clock, self.depth, self.frames = clock, depth, []

    def submit(self, frame):
        self.clock.now += 0.001
        self.frames.append(frame)

    def collect(self):
        self.clock.now += 0.010
        return self.frames.pop(0)


@pytest.mark.parametrize("depth, latencies_ms", [(1, [11, 11, 11, 11]), (2, [12, 22, 22, 21])])
def test_the_engine_loop_measures_capture_to_host_latency_and_throughput(depth, latencies_ms):
    clock = ManualClock(0.0)
    frames = [np.zeros((2, 2, 3), np.uint8)]
    streamed = suite.stream(TimedEngine(clock, depth), frames, count=4, seconds=0.0, clock=clock)
    assert streamed["frames"] == 4
    assert [round(s * 1000, 6) for s in streamed["latency_s"]] == latencies_ms
    row = suite.summary(streamed)
    assert row["fps"] == round(4 / streamed["elapsed_s"], 2)
    assert row["latency_p50_ms"] == pytest.approx(np.percentile(latencies_ms, 50), abs=0.01)


def test_ratio_uses_the_mean_of_the_baseline_runs_around_the_rows():
    baseline = suite.mean_baseline([{"fps": 9.0}, {"fps": 11.0}])
    assert baseline["fps"] == 10.0 and suite.ratio(90.0, baseline) == 9.0
    assert suite.ratio(90.0, None) is None


def test_the_naive_baseline_encodes_the_style_for_every_frame(one_torch_thread):
    net = naive_baseline().net
    calls = []
    encode = net.style

    def counted(*args, **kwargs):
        calls.append(1)
        return encode(*args, **kwargs)

    net.style = counted
    clock = ManualClock(0.0)
    frames = suite.distinct_frames(24, 16)
    streamed = suite.naive_stream(net, frames, np.zeros((32, 32, 3), np.uint8), "cpu", 3, 0.0, clock)
    assert streamed["frames"] == 3 and len(calls) == 3


def test_flops_match_the_issue_figure_for_adain_at_1080p(one_torch_thread):
    gflop = suite.flops_per_pixel("adain", random_net("adain")) * 1920 * 1080 / 1e9
    assert gflop == pytest.approx(932, rel=0.01)


def cuda_row(fps: float, net_only: float, p95: float = 10.0, ratio: float = 5.0) -> dict:
    return {"backend": "torch", "device": "cuda", "net": "adain", "fps": fps, "net_only_fps": net_only,
            "latency_p95_ms": p95, "ratio_to_naive": ratio}


def test_the_floor_says_how_close_a_row_came_and_what_bounds_it():
    h200 = {"name": "NVIDIA H200", "peak_bf16_tflops": 790.0}
    per_pixel = 932e9 / (1920 * 1080)
    bound_by_copies = suite.floor(cuda_row(200.0, 400.0), per_pixel, 1920, 1080, h200)
    assert bound_by_copies["floor_fps"] == pytest.approx(790e3 / 932, rel=1e-3)
    assert bound_by_copies["share_of_floor"] == pytest.approx(200 / (790e3 / 932), abs=1e-3)
    assert bound_by_copies["bound"].startswith("transfers")
    assert suite.floor(cuda_row(200.0, 210.0), per_pixel, 1920, 1080, h200)["bound"].startswith("the net's")
    assert suite.floor(cuda_row(600.0, 610.0), per_pixel, 1920, 1080, h200)["bound"].startswith("compute")
    cpu = suite.floor({"backend": "torch", "device": "cpu", "fps": 1.0}, per_pixel, 1920, 1080, None)
    assert "floor_fps" not in cpu and cpu["bus_mb_per_frame"] == pytest.approx(12.44, abs=0.01)


def test_targets_check_fps_ratio_and_latency():
    h200 = {"name": "NVIDIA H200"}
    passed = suite.check_target(cuda_row(350.0, 400.0), "1080p", h200)
    assert passed["pass"] and passed["on_h200"] and set(passed["checks"]) == {"fps", "ratio", "p95_ms"}
    assert not suite.check_target(cuda_row(350.0, 400.0, p95=40.0), "1080p", h200)["pass"]
    assert not suite.check_target(cuda_row(350.0, 400.0, ratio=3.0), "1080p", h200)["pass"]
    assert suite.check_target(cuda_row(350.0, 400.0), "720p", h200) is None


def test_settings_refuse_what_cannot_run():
    with pytest.raises(OptionError, match="unknown backend"):
        suite.Settings(backends=("tensorflow",))
    with pytest.raises(OptionError, match="unknown net"):
        suite.Settings(device="cpu", nets=("candy",))
    with pytest.raises(OptionError):
        suite.Settings(device="cpu", resolutions=("huge",))
    if not torch.cuda.is_available():
        with pytest.raises(OptionError, match="CUDA"):
            suite.Settings(device="cuda")
    else:
        with pytest.raises(OptionError, match="torch-staged"):
            suite.Settings(device="cuda", backends=("torch-staged",))
    assert suite.device_of("onnxruntime", suite.Settings(device="cpu")) == "cpu"
    assert suite.size("1080p") == (1920, 1080) and suite.size("40x32") == (40, 32)


def test_the_chart_draws_every_row():
    rows = [{"backend": "torch", "device": device, "net": "adain", "resolution": "480p", "size": "854x480",
             "fps": fps, "ratio_to_naive": fps / 2, "floor": {"floor_fps": 900.0} if device == "cuda" else {}}
            for device, fps in (("cuda", 450.0), ("cpu", 1.5))]
    result = {"rows": rows, "gpu": {"name": "NVIDIA H200"}, "machine": {"cpu": "x"},
              "baselines": [{"resolution": "480p", "size": "854x480", "cpu": {"fps": 0.5}, "cuda": {"fps": 60.0}}]}
    chart = plots.suite_chart(result)
    assert chart.dtype == np.uint8 and chart.shape[2] == 3
    assert (chart[:, 250:] != 255).any(axis=2).sum() > 1000  # bars were drawn right of the labels
