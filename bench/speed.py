"""Frames per second of a style net next to the naive baseline, measured in the same run.

Both contenders go through a realtime engine (RGB uint8 frame in, RGB uint8
frame out, so colour conversion and copies count) on one fixed frame, after a
warm-up. The baseline is VGG-r31 AdaIN in eager torch fp32 at the same
resolution and thread count. To share the machine's load fairly on a busy
host, the two take turns in several rounds instead of running one after the
other. Reported: median and p90 ms per frame, fps (from the median) and the
fps ratio new / baseline.

Results: speed_<method>_<backend>_<W>x<H>_t<threads>.json and a .png bar
chart next to it, in the folder given (default ./bench-results/).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

from stylize.bench import report
from stylize.bench.nets import BenchNet, bench_net, naive_baseline
from stylize.errors import UserError
from stylize.models import registry, weights, zoo
from stylize.realtime import work_size
from stylize.realtime.engines import Engine, Look, TorchEngine

BACKENDS = ("torch", "onnxruntime", "onnxruntime-int8")
# int8 graphs calibrate on these photos (from the repository root of a checkout with ../shared beside it).
INT8_CALIBRATION = Path("..") / "shared" / "data" / "train" / "content"
# (method, width, height, backend) -> the fps it must reach: the live-quality issue's, which supersede
# the architecture issue's 20 fps at 640x480.
TARGETS = {("student", 640, 480, "onnxruntime"): 60.0, ("student", 1280, 720, "onnxruntime"): 30.0}
ROUNDS = 3  # turns per contender; more rounds follow a changing load more closely
WARMUP_CALLS = 3
WARMUP_SECONDS = 1.0


def check_method(method: str) -> None:
    known = (*registry.arbitrary_methods(), *registry.fast_methods())
    if method not in known:
        raise UserError(f"unknown method {method!r}; choose from {', '.join(known)}")


def fixed_frame(width: int, height: int) -> np.ndarray:
    """A fixed, picture-like frame: smooth gradients plus seeded noise (speed does not depend on content)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width, y / height, 0.5 + 0.5 * np.sin((x + y) / 23.0)], axis=2) * 200
    noise = np.random.default_rng(0).normal(0, 20, (height, width, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def fixed_style(size: int = 256) -> np.ndarray:
    """A fixed painting stand-in for arbitrary-style nets (computed once, like any look)."""
    return np.random.default_rng(1).integers(0, 256, (size, size, 3), dtype=np.uint8)


def make_engine(contender: BenchNet, backend: str, threads: int) -> Engine:
    """A realtime engine for the contender, its look already set (styles are never timed)."""
    nets = {contender.method: contender.net}
    if backend == "onnxruntime":
        from stylize.realtime.onnx_engine import OnnxEngine
        engine: Engine = OnnxEngine(threads=threads, nets=nets)
    elif backend == "onnxruntime-int8":
        engine = int8_engine(threads, nets)
    else:
        engine = TorchEngine("cpu", nets=nets)
    fast = registry.is_fast(contender.method)
    look = Look(contender.method, contender.method, [] if fast else [fixed_style()])
    engine.set_style(look)
    return engine


def int8_engine(threads: int, nets: dict, calibration: Path = INT8_CALIBRATION) -> Engine:
    """ONNX Runtime on the int8 graph (export/quantize.py), calibrated on the first photos of `calibration`."""
    from stylize.export.quantize import calibration_images
    from stylize.realtime.onnx_engine import OnnxEngine

    return OnnxEngine(threads=threads, nets=nets, precision="int8", calibration=calibration_images(calibration))


def time_in_turns(contenders: dict[str, Callable[[], object]], seconds: float,
                  rounds: int = ROUNDS) -> dict[str, list[float]]:
    """Milliseconds per call of each contender, taking turns for `seconds` each in total."""
    for call in contenders.values():
        # The first calls pay for lazy set-up (an ONNX export, allocator growth);
        # a slow contender stops warming after WARMUP_SECONDS.
        deadline = time.perf_counter() + WARMUP_SECONDS
        for _ in range(WARMUP_CALLS):
            call()
            if time.perf_counter() > deadline:
                break
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, call in contenders.items():
            deadline = time.perf_counter() + seconds / rounds
            while True:
                start = time.perf_counter()
                call()
                end = time.perf_counter()
                samples[name].append((end - start) * 1000)
                if end >= deadline:
                    break
    return samples


def summarise(ms: list[float]) -> dict:
    median = float(np.median(ms))
    return {"median_ms": round(median, 2), "p90_ms": round(float(np.percentile(ms, 90)), 2),
            "fps": round(1000 / median, 2), "frames": len(ms)}


def run(method: str, resolution: tuple[int, int] = (640, 480), backend: str = "torch",
        threads: int | None = None, seconds: float = 10.0, net_file: str | None = None,
        out: str | None = None, write: bool = True, work_pixels: int | None = None) -> dict:
    """Measure `method` and the naive baseline; write JSON + PNG unless `write` is False.

    Sets torch's (process-wide) thread count to `threads` for both contenders. `work_pixels`: the
    net's working size (realtime/work_size.py; None: the frame's); the baseline always paints every pixel.
    """
    check_method(method)
    if backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if seconds <= 0:
        raise UserError(f"--seconds must be positive, got {seconds}")
    threads = threads or report.usable_cores()
    machine = report.machine()  # before any work, so the load average is the host's, not ours
    torch.set_num_threads(threads)
    width, height = resolution
    contender = bench_net(method, net_file, allow_random=True)
    if contender.missing:
        raise UserError(f"{method}: {contender.source}")
    baseline = naive_baseline()
    engine = make_engine(contender, backend, threads)
    engine.work_pixels = work_pixels
    painted = "x".join(map(str, work_size.working_shape(height, width, work_pixels)[::-1]))
    base_engine = make_engine(baseline, "torch", threads)
    frame = fixed_frame(width, height)
    samples = time_in_turns({"new": lambda: engine(frame), "baseline": lambda: base_engine(frame)}, seconds)
    new, base = summarise(samples["new"]), summarise(samples["baseline"])
    result = {
        "benchmark": "speed",
        "method": method, "backend": backend, "resolution": f"{width}x{height}", "threads": threads,
        "work_size": painted,  # what the net painted; the baseline painted the whole frame
        "seconds_per_contender": seconds,
        "machine": machine,
        "new": {"label": f"{method} ({backend})", "weights": contender.source, **new},
        "baseline": {"label": "AdaIN VGG-r31 (eager torch fp32)", "weights": baseline.source, **base},
        "fps_ratio": round(new["fps"] / base["fps"], 2),
    }
    target = TARGETS.get((method, width, height, backend))
    if target:
        result["target"] = {"fps": target, "pass": new["fps"] >= target}
    if write:
        folder = report.results_dir(out)
        at = "" if painted == result["resolution"] else f"_at{painted}"
        stem = f"speed_{method}_{backend}_{width}x{height}_t{threads}{at}"
        result["files"] = [str(folder / f"{stem}.json"), str(folder / f"{stem}.png")]
        report.write_json(folder / f"{stem}.json", result)
        report.write_png(folder / f"{stem}.png", bar_chart(result))
    return result


def format_result(result: dict) -> str:
    painted = "" if result["work_size"] == result["resolution"] else f" (the net paints {result['work_size']})"
    lines = [f"{result['method']} at {result['resolution']}{painted} via {result['backend']}, "
             f"{result['threads']} thread(s), on {result['machine']['cpu']} "
             f"(load {result['machine']['load_average_at_start'][0]} at start)"]
    for key in ("new", "baseline"):
        entry = result[key]
        lines.append(f"  {entry['label']:<36} {entry['median_ms']:8.1f} ms  p90 {entry['p90_ms']:8.1f} ms  "
                     f"{entry['fps']:7.1f} fps   [{entry['weights']}]")
    lines.append(f"  fps ratio new / baseline: {result['fps_ratio']:.1f}x")
    if "target" in result:
        mark = "PASS" if result["target"]["pass"] else "FAIL"
        lines.append(f"  target >= {result['target']['fps']:g} fps: {mark}")
    for path in result.get("files", []):
        lines.append(f"  wrote {path}")
    return "\n".join(lines)


def bar_chart(result: dict) -> np.ndarray:
    """Two horizontal fps bars (new, baseline) and the target line, as RGB uint8."""
    width, height, left, right = 760, 250, 250, 40
    canvas = np.full((height, width, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    painted = "" if result["work_size"] == result["resolution"] else f" (painted at {result['work_size']})"
    title = f"{result['method']} at {result['resolution']}{painted} via {result['backend']}, {result['threads']} thr."
    cv2.putText(canvas, title, (12, 26), font, 0.6, (20, 20, 20), 1, cv2.LINE_AA)
    machine = f"{result['machine']['cpu']}, {result['machine']['cores']} cores, " \
              f"load {result['machine']['load_average_at_start'][0]} at start"
    cv2.putText(canvas, machine, (12, 48), font, 0.42, (90, 90, 90), 1, cv2.LINE_AA)
    target = result.get("target", {}).get("fps", 0)
    scale_max = max(result["new"]["fps"], result["baseline"]["fps"], target) * 1.15
    span = width - left - right
    bars = [("new", f"{result['method']} ({result['backend']})", (40, 110, 200)),
            ("baseline", "AdaIN-r31 baseline (torch)", (160, 160, 160))]
    for row, (key, label, colour) in enumerate(bars):
        top = 80 + row * 70
        entry = result[key]
        length = max(1, int(span * entry["fps"] / scale_max))
        cv2.rectangle(canvas, (left, top), (left + length, top + 40), colour, -1)
        cv2.putText(canvas, label[:30], (12, top + 26), font, 0.45, (20, 20, 20), 1, cv2.LINE_AA)
        cv2.putText(canvas, f"{entry['fps']:.1f} fps ({entry['median_ms']:.0f} ms)",
                    (left + length + 6 if length < span - 150 else left + 6, top + 26), font, 0.45,
                    (20, 20, 20) if length < span - 150 else (255, 255, 255), 1, cv2.LINE_AA)
    if target:
        x = left + int(span * target / scale_max)
        for y in range(70, 230, 10):  # dashed
            cv2.line(canvas, (x, y), (x, y + 5), (200, 40, 40), 2)
        cv2.putText(canvas, f"target {target:g} fps", (x + 4, 240), font, 0.42, (200, 40, 40), 1, cv2.LINE_AA)
    cv2.putText(canvas, f"x{result['fps_ratio']:.1f} vs baseline", (12, 240), font, 0.5, (20, 20, 20), 1,
                cv2.LINE_AA)
    return canvas

