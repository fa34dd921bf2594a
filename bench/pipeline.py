"""Threaded live pipeline vs a naive single-thread read → stylize → show loop, in one run.

Both get the same kind of source: a 640x480 camera-like test pattern that
produces frames at --fps whether or not anyone reads them (a reader that falls
behind gets frames stamped with when they were due, as a camera's buffered
frames are). Both use the same fast net on the CPU and the same output: an
MPEG-TS stream to udp://127.0.0.1 (the OBS path), encoded with x264.

Reported per loop: throughput (frames out per second), capture → output latency
p50/p95, latency in the first and last quarter of the run, drops, and the net's
own time per frame. Ratios compare the two. Results: pipeline.json and a
latency-over-time plot, pipeline.png (--name changes the stem), in the folder
given with -o (default ./bench-results/). Run it as `stylize bench pipeline`.
"""
from __future__ import annotations

import os

# Under CPU contention OpenMP's spinning workers can make torch many times slower;
# passive waiting is the right policy when other threads (source, sinks) share the cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json  # noqa: E402
import platform  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from stylize.bench import report  # noqa: E402
from stylize.bench.report import cpu_model  # noqa: E402
from stylize.errors import OptionError, WeightsError  # noqa: E402
from stylize.models import registry, weights  # noqa: E402
from stylize.realtime.engines import Look, TorchEngine  # noqa: E402
from stylize.realtime.frames import Frame  # noqa: E402
from stylize.realtime.pipeline import Pipeline  # noqa: E402
from stylize.realtime.sinks import NetworkStream, Sink  # noqa: E402
from stylize.realtime.sources import TestPattern  # noqa: E402


class Timed(Sink):
    """Passes frames to `inner` and notes when each left and how old it was."""

    def __init__(self, inner: Sink):
        self.inner = inner
        self.name = inner.name
        self.lossless = inner.lossless
        self.samples: list[tuple[float, float]] = []  # (time written, latency s)

    def open(self, width, height, fps):
        self.inner.open(width, height, fps)

    def write(self, frame: Frame) -> None:
        self.inner.write(frame)
        now = time.monotonic()
        self.samples.append((now, now - frame.captured_at))

    def close(self):
        self.inner.close()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def check_method(method: str) -> None:
    """The pipeline benchmark runs a fast net whose weights are here."""
    if not registry.is_fast(method):
        raise OptionError(f"--method must be a fast net ({', '.join(registry.fast_methods())}), got {method!r}")
    if not weights.find(method):
        raise WeightsError(f"no weights found for {method}; set STYLIZE_WEIGHTS or run `stylize weights fetch "
                           f"{method}`")


def fastest_net(width: int, height: int) -> tuple[str, dict[str, float]]:
    """Time one net per architecture (the nets of one architecture cost the same) and pick the faster."""
    frame = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    per_architecture: dict[str, str] = {}
    for name in registry.fast_methods():
        if weights.find(name):
            per_architecture.setdefault(weights.spec_for(name).architecture, name)
    if not per_architecture:
        raise WeightsError("no fast-net weights found for the pipeline benchmark; set STYLIZE_WEIGHTS or give --method")
    timings = {}
    for name in per_architecture.values():
        engine = TorchEngine()
        engine.set_style(Look(name, name))
        engine(frame)  # warm-up
        started = time.perf_counter()
        engine(frame)
        timings[name] = time.perf_counter() - started
    return min(timings, key=timings.get), timings


def naive_loop(source: TestPattern, engine: TorchEngine, sink: Timed, seconds: float) -> dict:
    """Read → stylize → show, one frame at a time, in this thread."""
    sink.open(source.width, source.height, source.fps)
    busy = []
    read = 0
    started = time.monotonic()
    try:
        while time.monotonic() - started < seconds:
            frame = source.read()
            read += 1
            began = time.monotonic()
            image = engine(frame.image)
            busy.append(time.monotonic() - began)
            sink.write(Frame(image, frame.index, frame.captured_at, frame.pts, original=frame.image))
    finally:
        sink.close()
    elapsed = time.monotonic() - started
    due = int(elapsed * source.fps)  # frames the camera produced meanwhile
    return {"elapsed_s": elapsed, "net_s": busy, "net_busy_s": sum(busy), "drops": 0,
            "behind_frames": max(0, due - read)}


def threaded(source: TestPattern, engine: TorchEngine, sink: Timed, look: Look, seconds: float) -> dict:
    pipeline = Pipeline(source, engine, [look], [sink], duration=seconds)
    started = time.monotonic()
    result = pipeline.run()
    stages = result.stats["stages"]
    engine = stages["engine"]
    return {"elapsed_s": time.monotonic() - started, "net_ms_per_frame": engine["busy_ms_per_frame"],
            "net_busy_s": engine["busy_ms_per_frame"] * engine["frames"] / 1000, "drops": result.stats["drops"],
            "behind_frames": 0}


def summarise(samples: list[tuple[float, float]], started: float, net_ms: float, extra: dict) -> dict:
    times = np.array([t - started for t, _ in samples])
    latency = np.array([lat * 1000 for _, lat in samples])
    quarter = max(1, len(latency) // 4)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    return {
        "frames_out": len(samples),
        "throughput_fps": round(float((len(samples) - 1) / span), 3) if span > 0 else 0.0,
        "latency_ms_p50": round(float(np.percentile(latency, 50)), 1),
        "latency_ms_p95": round(float(np.percentile(latency, 95)), 1),
        "latency_ms_first_quarter": round(float(latency[:quarter].mean()), 1),
        "latency_ms_last_quarter": round(float(latency[-quarter:].mean()), 1),
        "net_ms_per_frame": round(net_ms, 1),
        # Share of the run the net was working: load on the machine slows the net itself,
        # this says whether the loop around it kept it fed.
        "net_busy_fraction": round(extra["net_busy_s"] / extra["elapsed_s"], 3),
        "latency_p95_in_net_intervals": round(float(np.percentile(latency, 95)) / net_ms, 2),
        "drops": extra["drops"],
        "frames_behind_at_end": extra["behind_frames"],
        "timeline": [[round(float(t), 3), round(float(lat), 1)] for t, lat in zip(times, latency)],
    }


def run_once(name: str, width: int, height: int, fps: float, seconds: float, engine: TorchEngine,
             look: Look) -> dict:
    source = TestPattern(width, height, fps=fps, paced=True)
    sink = Timed(NetworkStream(f"udp://127.0.0.1:{free_udp_port()}"))
    started = time.monotonic()
    if name == "naive":
        extra = naive_loop(source, engine, sink, seconds)
        net_ms = 1000 * float(np.median(extra["net_s"]))
    else:
        extra = threaded(source, engine, sink, look, seconds)
        net_ms = extra["net_ms_per_frame"]
    return summarise(sink.samples, started, net_ms, extra)


def combine(runs: list[dict]) -> dict:
    """One loop's repeats together: totals for throughput, all samples for latency."""
    frames = sum(r["frames_out"] for r in runs)
    seconds = sum(r["frames_out"] / r["throughput_fps"] for r in runs if r["throughput_fps"])
    latency = np.array([lat for r in runs for _, lat in r["timeline"]])
    net_ms = float(np.mean([r["net_ms_per_frame"] for r in runs]))
    p95 = float(np.percentile(latency, 95))
    return {
        "frames_out": frames,
        "throughput_fps": round(frames / seconds, 3) if seconds else 0.0,
        "latency_ms_p50": round(float(np.percentile(latency, 50)), 1),
        "latency_ms_p95": round(p95, 1),
        "net_ms_per_frame": round(net_ms, 1),
        "net_busy_fraction": round(float(np.mean([r["net_busy_fraction"] for r in runs])), 3),
        "latency_p95_in_net_intervals": round(p95 / net_ms, 2),
        "latency_growth_last_over_first_quarter": round(float(np.mean(
            [r["latency_ms_last_quarter"] / r["latency_ms_first_quarter"] for r in runs])), 2),
        "drops": sum(r["drops"] for r in runs),
        "timeline": runs[0]["timeline"],
    }


def plot(results: dict) -> np.ndarray:
    """Latency over time for both loops as a BGR picture, drawn with OpenCV (matplotlib is not a dependency)."""
    width, height, left, right, top, bottom = 960, 560, 80, 30, 60, 60
    canvas = np.full((height, width, 3), 255, np.uint8)
    series = {"naive loop": ((40, 40, 220), results["naive"]["timeline"]),
              "threaded pipeline": ((200, 120, 0), results["pipeline"]["timeline"])}
    x_max = max(t for _, points in series.values() for t, _ in points) or 1.0
    y_max = max(lat for _, points in series.values() for _, lat in points) * 1.1 or 1.0

    def to_px(t: float, lat: float) -> tuple[int, int]:
        return (int(left + t / x_max * (width - left - right)),
                int(height - bottom - lat / y_max * (height - top - bottom)))

    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.line(canvas, to_px(0, 0), to_px(x_max, 0), (0, 0, 0), 1)
    cv2.line(canvas, to_px(0, 0), to_px(0, y_max), (0, 0, 0), 1)
    for i in range(6):
        t, lat = x_max * i / 5, y_max * i / 5
        label = f"{t:.1f}" if x_max < 10 else f"{t:.0f}"
        cv2.putText(canvas, label, (to_px(t, 0)[0] - 8, height - bottom + 20), font, 0.45, (0, 0, 0), 1)
        cv2.putText(canvas, f"{lat:.0f}", (5, to_px(0, lat)[1] + 5), font, 0.45, (0, 0, 0), 1)
        cv2.line(canvas, to_px(0, lat), to_px(x_max, lat), (225, 225, 225), 1)
    cv2.putText(canvas, "time in run (s)", (width // 2 - 60, height - 15), font, 0.5, (0, 0, 0), 1)
    cv2.putText(canvas, "capture -> output latency (ms)", (left, top - 30), font, 0.5, (0, 0, 0), 1)
    cv2.putText(canvas, results["title"], (left, top - 10), font, 0.45, (80, 80, 80), 1)
    for row, (label, (colour, points)) in enumerate(series.items()):
        pts = np.array([to_px(t, lat) for t, lat in points], np.int32)
        if len(pts) > 1:
            cv2.polylines(canvas, [pts], False, colour, 2, cv2.LINE_AA)
        for p in pts:
            cv2.circle(canvas, tuple(int(v) for v in p), 3, colour, -1, cv2.LINE_AA)
        y = top + 20 + 22 * row
        cv2.line(canvas, (width - 260, y - 5), (width - 230, y - 5), colour, 3)
        cv2.putText(canvas, label, (width - 222, y), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


@dataclass
class Settings:
    seconds: float = 40.0
    resolution: tuple[int, int] = (640, 480)
    fps: float = 30.0
    repeats: int = 3
    method: str | None = None  # None: the fastest fast net found here
    name: str = "pipeline"  # file stem: NAME.json, NAME.png


def run(settings: Settings, out: str | os.PathLike | None = None) -> dict:
    """Both loops, alternating, `settings.repeats` times; writes NAME.json and NAME.png into `out`."""
    width, height = settings.resolution
    load = os.getloadavg()
    if settings.method:
        method, timings = settings.method, {}
    else:
        method, timings = fastest_net(width // 2, height // 2)
    look = Look(method, method)
    engine = TorchEngine()
    engine.set_style(look)
    engine(np.zeros((height, width, 3), np.uint8))  # warm-up at full size

    print(f"net {method} at {width}x{height}, camera {settings.fps:g} fps, {settings.repeats} x "
          f"{settings.seconds:g} s per loop", file=sys.stderr)
    runs: dict[str, list[dict]] = {"naive": [], "pipeline": []}
    for repeat in range(settings.repeats):
        # Alternate which loop goes first, so drift in the machine's load hits both alike.
        order = ("naive", "pipeline") if repeat % 2 == 0 else ("pipeline", "naive")
        for name in order:
            runs[name].append(run_once(name, width, height, settings.fps, settings.seconds, engine, look))
            shown = {k: v for k, v in runs[name][-1].items() if k != "timeline"}
            print(f"{name} #{repeat + 1}: {shown}", file=sys.stderr)
    result = build_report(settings, method, timings, load, runs)
    folder = report.results_dir(out)
    result["files"] = [str(folder / f"{settings.name}.json"), str(folder / f"{settings.name}.png")]
    report.write_json(folder / f"{settings.name}.json", result)
    report.write_png(folder / f"{settings.name}.png", plot(result)[..., ::-1])  # drawn in OpenCV's BGR
    return result


def build_report(settings: Settings, method: str, timings: dict[str, float], load: tuple[float, ...],
                 runs: dict[str, list[dict]]) -> dict:
    """The JSON result: machine, settings, the ratios between the loops, each loop and every run."""
    width, height = settings.resolution
    naive, threaded_ = combine(runs["naive"]), combine(runs["pipeline"])
    pair_ratios = [p["throughput_fps"] / n["throughput_fps"] for n, p in zip(runs["naive"], runs["pipeline"])]
    return {
        "benchmark": "pipeline",
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform(),
                    "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                    "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
                    "load_average_at_start": [round(x, 2) for x in load]},
        "settings": {"size": [width, height], "camera_fps": settings.fps, "seconds": settings.seconds,
                     "repeats": settings.repeats, "method": method,
                     "net_probe_s": {k: round(v, 3) for k, v in timings.items()},
                     "output": "MPEG-TS H.264 to udp://127.0.0.1"},
        "ratios": {
            "throughput_pipeline_over_naive": round(threaded_["throughput_fps"] / naive["throughput_fps"], 3),
            "throughput_pipeline_over_naive_per_repeat": [round(r, 3) for r in pair_ratios],
            "net_busy_fraction_pipeline_over_naive": round(
                threaded_["net_busy_fraction"] / naive["net_busy_fraction"], 3),
            "latency_p50_naive_over_pipeline": round(naive["latency_ms_p50"] / threaded_["latency_ms_p50"], 2),
            "latency_p95_naive_over_pipeline": round(naive["latency_ms_p95"] / threaded_["latency_ms_p95"], 2),
            "pipeline_latency_p95_in_net_intervals": threaded_["latency_p95_in_net_intervals"],
            "naive_latency_p95_in_net_intervals": naive["latency_p95_in_net_intervals"],
            "naive_latency_growth_last_over_first_quarter": naive["latency_growth_last_over_first_quarter"],
            "pipeline_latency_growth_last_over_first_quarter": threaded_["latency_growth_last_over_first_quarter"],
        },
        "naive": naive,
        "pipeline": threaded_,
        "runs": runs,
        "title": f"{method} on CPU at {width}x{height}, camera {settings.fps:g} fps (first repeat)",
    }


def format_result(result: dict) -> str:
    lines = [json.dumps(result["ratios"], indent=2)]
    lines += [f"wrote {path}" for path in result.get("files", [])]
    return "\n".join(lines)
