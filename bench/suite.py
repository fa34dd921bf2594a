"""The benchmark suite: backends x resolutions x nets, each row next to a naive baseline timed in the same run.

A row streams pre-decoded frames from memory through an engine the way the
live pipeline's engine loop does (up to `engine.depth` frames in flight,
submit, collect the oldest) and reports:
  - throughput (frames out per second),
  - latency p50/p95 from a frame's capture (the moment it is taken from
    memory and handed to the engine) to the stylized frame on the host,
  - peak GPU memory (torch.cuda.max_memory_allocated) on CUDA rows,
  - the ratio to the naive baseline at the same resolution on the same device.

The naive baseline is AdaIN VGG-r31 the way pytorch-AdaIN's video script runs
it: eager fp32 torch, each frame moved to the device with .cuda() (`.to`),
the style image encoded again for every frame, the result brought back with
.cpu(). It is timed before and after each resolution's rows; the ratio uses
the mean of the two.

CUDA rows also report the net alone (the captured graph replayed on a
device-resident frame, timed with CUDA events) and the compute floor: the
net's FLOPs per frame (counted with torch's FlopCounterMode) over the GPU's
dense bf16 rate, so a row says how close it came and what bounds it.

Backends (the names `bench speed --backend` and `--backend` use; `device` says where torch runs):
  torch         TorchEngine: on CUDA, uint8 through two pinned buffers, bf16, channels_last, CUDA graphs;
                on the CPU, eager fp32
  torch-staged  (CPU only) TorchEngine's CUDA path with CPU threads standing in for the CUDA streams:
                a dry run of torch on CUDA
  onnxruntime   the ONNX export in ONNX Runtime (its CPU provider)

Results: suite.json and suite.png (--name changes the stem) in the folder given.
"""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from stylize.bench import plots, report
from stylize.bench.nets import bench_net, naive_baseline
from stylize.bench.speed import fixed_frame, fixed_style
from stylize.errors import OptionError
from stylize.models import registry
from stylize.realtime.engines import CudaOptions, Engine, Look, TorchEngine
from stylize.sizes import parse_wxh

RESOLUTIONS = {"480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080), "2160p": (3840, 2160)}
BACKENDS = ("torch", "torch-staged", "onnxruntime")
NETS = ("adain", "student", "aesfa")
DISTINCT_FRAMES = 4  # frames cycled through, so nothing can cache one frame's result
FLOP_PROBE = 128  # side of the square the FLOPs are counted at; convolution FLOPs scale with the pixels
# Dense bf16 tensor-core rate by GPU name (the figure for the H200; measured at 788 TFLOP/s there).
PEAK_BF16_FLOPS = {"H200": 790e12, "H100": 790e12}
# (method, resolution) -> what the issue asks of a torch row on CUDA (an H200).
TARGETS = {("adain", "1080p"): {"fps": 300.0, "ratio": 4.0, "p95_ms": 2000 / 60},
           ("adain", "2160p"): {"fps": 60.0},
           ("student", "1080p"): {"fps": 1000.0},
           ("aesfa", "1080p"): {}}


@dataclass
class Settings:
    backends: tuple[str, ...] = ("torch",)
    device: str = field(default_factory=lambda: "cuda" if torch.cuda.is_available() else "cpu")  # torch's
    resolutions: tuple[str, ...] = tuple(RESOLUTIONS)
    nets: tuple[str, ...] = NETS
    seconds: float = 3.0  # timed seconds per row (at least `min_frames` frames)
    warmup: int = 6  # frames through each engine before timing (CUDA graphs are captured in these)
    min_frames: int = 5
    naive: bool = True
    precision: str = "bf16"
    graphs: bool = True
    compile: bool = False
    threads: int | None = None
    style_size: int = 512  # pytorch-AdaIN's default style size, encoded per frame by the baseline
    name: str = "suite"
    clock: Callable[[], float] = field(default=time.perf_counter, repr=False)

    def __post_init__(self) -> None:
        for backend in self.backends:
            if backend not in BACKENDS:
                raise OptionError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
        for net in self.nets:
            if net not in NETS:
                raise OptionError(f"unknown net {net!r}; the suite runs {', '.join(NETS)}")
        for resolution in self.resolutions:
            size(resolution)
        if not self.seconds > 0 or self.warmup < 0 or self.min_frames < 1 or not 16 <= self.style_size <= 4096:
            raise OptionError("--seconds must be positive, --warmup at least 0, --min-frames at least 1 and "
                              "--style-size between 16 and 4096")
        if self.device not in ("cuda", "cpu"):
            raise OptionError(f"--device must be cuda or cpu, got {self.device!r}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise OptionError("--device cuda: torch sees no CUDA device here (try --device cpu)")
        if self.device == "cuda" and "torch-staged" in self.backends:
            raise OptionError("torch-staged is the CPU stand-in for torch on CUDA; on CUDA run torch")


def size(resolution: str) -> tuple[int, int]:
    """A resolution name (480p, 720p, 1080p, 2160p) or WxH -> (width, height)."""
    if resolution in RESOLUTIONS:
        return RESOLUTIONS[resolution]
    return parse_wxh(resolution, "--resolutions")


def device_of(backend: str, settings: Settings) -> str:
    """Where a backend's rows run: torch on the device asked for, the others on the CPU."""
    return settings.device if backend == "torch" else "cpu"


def make_engine(backend: str, method: str, net: torch.nn.Module, settings: Settings) -> Engine:
    """The backend's engine for `net`, its look set (styles are never timed)."""
    nets = {method: net}
    options = CudaOptions(settings.precision, settings.graphs, settings.compile)
    if backend == "torch" and settings.device == "cuda":
        engine: Engine = TorchEngine("cuda", nets=nets, cuda=options)
    elif backend == "torch-staged":
        from stylize.realtime.cuda_frames import HostStreams

        engine = TorchEngine("cpu", nets=nets, streams=HostStreams(),
                             cuda=CudaOptions("fp32", graphs=False, compile=False))
    elif backend == "onnxruntime":
        from stylize.realtime.onnx_engine import OnnxEngine

        engine = OnnxEngine(threads=settings.threads, nets=nets)
    else:
        engine = TorchEngine("cpu", nets=nets)
    engine.set_style(Look(method, method, [] if registry.is_fast(method) else [fixed_style()]))
    return engine


def distinct_frames(width: int, height: int) -> list[np.ndarray]:
    base = fixed_frame(width, height)
    return [np.roll(base, shift * 7, axis=1) for shift in range(DISTINCT_FRAMES)]


def stream(engine: Engine, frames: list[np.ndarray], count: int, seconds: float,
           clock: Callable[[], float]) -> dict:
    """The pipeline's engine loop over `frames` (cycled) for `seconds` and at least `count` frames.

    Returns the frames out, the elapsed time and each frame's capture-to-host latency in seconds.
    """
    in_flight: deque[float] = deque()
    latencies: list[float] = []
    started = clock()
    submitted = 0
    while submitted < count or clock() - started < seconds:
        in_flight.append(clock())  # captured: taken from memory and handed to the engine
        engine.submit(frames[submitted % len(frames)])
        submitted += 1
        if len(in_flight) >= engine.depth:
            engine.collect()
            latencies.append(clock() - in_flight.popleft())
    while in_flight:
        engine.collect()
        latencies.append(clock() - in_flight.popleft())
    return {"frames": submitted, "elapsed_s": clock() - started, "latency_s": latencies}


def summary(streamed: dict) -> dict:
    """Throughput and latency percentiles of one `stream` (or naive) run."""
    latency_ms = np.asarray(streamed["latency_s"]) * 1000
    return {"fps": significant(streamed["frames"] / streamed["elapsed_s"]), "frames": streamed["frames"],
            "latency_p50_ms": significant(float(np.percentile(latency_ms, 50))),
            "latency_p95_ms": significant(float(np.percentile(latency_ms, 95)))}


def significant(value: float, digits: int = 4) -> float:
    """`value` to `digits` significant digits: a CPU row at 0.04 fps keeps its precision as a GPU one at 900."""
    return float(f"{value:.{digits}g}")


def naive_stream(net, frames: list[np.ndarray], style: np.ndarray, device: str, count: int, seconds: float,
                 clock: Callable[[], float]) -> dict:
    """pytorch-AdaIN's video loop: per frame, .to(device), the style encoded again, the net in fp32, .cpu()."""
    net = net.to(device).eval()
    latencies: list[float] = []
    started = clock()
    done = 0
    with torch.no_grad():
        while done < count or clock() - started < seconds:
            captured = clock()
            frame = frames[done % len(frames)]
            content = torch.from_numpy(frame).permute(2, 0, 1)[None].float().div(255).to(device)
            style_tensor = torch.from_numpy(style).permute(2, 0, 1)[None].float().div(255).to(device)
            out = net(content, net.style([style_tensor]))
            (out.clamp(0, 1)[0] * 255).byte().permute(1, 2, 0).cpu().numpy()
            latencies.append(clock() - captured)
            done += 1
    return {"frames": done, "elapsed_s": clock() - started, "latency_s": latencies}


def flops_per_pixel(method: str, net: torch.nn.Module) -> float:
    """The net's FLOPs for one pixel of a frame, counted on the CPU at FLOP_PROBE x FLOP_PROBE."""
    from torch.utils.flop_counter import FlopCounterMode

    probe = copy_to_cpu(net)
    content = torch.rand(1, 3, FLOP_PROBE, FLOP_PROBE)
    with torch.inference_mode():
        style = None if registry.is_fast(method) else probe.style([torch.rand(1, 3, 64, 64)])
        with FlopCounterMode(display=False) as counter:
            probe(content * 255) if style is None else probe(content, style)
    return counter.get_total_flops() / FLOP_PROBE ** 2


def copy_to_cpu(net: torch.nn.Module) -> torch.nn.Module:
    import copy

    return copy.deepcopy(net).float().cpu().eval()


def ratio(fps: float, baseline: dict | None) -> float | None:
    """Row fps over the naive baseline's (the mean of its runs around the row)."""
    if not baseline:
        return None
    return significant(fps / baseline["fps"])


def mean_baseline(runs: list[dict]) -> dict:
    return {"fps": significant(float(np.mean([run["fps"] for run in runs]))), "runs": runs}


def gpu_info() -> dict | None:
    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    peak = next((rate for name, rate in PEAK_BF16_FLOPS.items() if name in props.name), None)
    return {"name": props.name, "memory_gib": round(props.total_memory / 2 ** 30, 1),
            "capability": f"{props.major}.{props.minor}", "multiprocessors": props.multi_processor_count,
            "torch_cuda": torch.version.cuda, "peak_bf16_tflops": peak and peak / 1e12}


def net_only_fps(engine: TorchEngine, frame: np.ndarray, repeats: int = 30) -> float:
    """The look's net pass alone on a frame already on the device (graph replay once captured), CUDA-event timed."""
    content = torch.from_numpy(frame).to("cuda").permute(2, 0, 1)[None].float().div(255)
    torch.cuda.synchronize()  # made on this thread's stream, read on the compute stream
    for _ in range(3):
        engine.device_pass(content)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    with engine.computing():
        start.record()
        for _ in range(repeats):
            engine.device_pass(content)
        end.record()
    end.synchronize()
    return round(1000 * repeats / start.elapsed_time(end), 2)


def measure_row(backend: str, method: str, net, frames: list[np.ndarray], settings: Settings) -> dict:
    """One row: warm up, then stream for `settings.seconds`; GPU memory and the net alone on CUDA."""
    cuda = device_of(backend, settings) == "cuda"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    engine = make_engine(backend, method, net, settings)
    try:
        stream(engine, frames, settings.warmup, 0.0, settings.clock)
        row = {"backend": backend, "device": device_of(backend, settings), "net": method, "depth": engine.depth,
               **summary(stream(engine, frames, settings.min_frames, settings.seconds, settings.clock))}
        if cuda:
            row["gpu_memory_mib"] = round(torch.cuda.max_memory_allocated() / 2 ** 20, 1)
            row["net_only_fps"] = net_only_fps(engine, frames[0])
            row["graphs"] = engine.graph_status
            row["precision"] = settings.precision
    finally:
        engine.close()
    return row


def floor(row: dict, flops_per_px: float, width: int, height: int, gpu: dict | None) -> dict:
    """How a CUDA row compares with the compute floor, and what bounds it."""
    gflop = flops_per_px * width * height / 1e9
    entry = {"gflop_per_frame": round(gflop, 1), "bus_mb_per_frame": round(2 * width * height * 3 / 1e6, 2)}
    if gpu and gpu.get("peak_bf16_tflops") and row.get("device") == "cuda":
        floor_fps = gpu["peak_bf16_tflops"] * 1e3 / gflop
        net_share = row["net_only_fps"] / floor_fps
        entry.update(floor_fps=round(floor_fps, 1), share_of_floor=round(row["fps"] / floor_fps, 3),
                     net_only_share_of_floor=round(net_share, 3))
        if row["net_only_fps"] > 1.3 * row["fps"]:
            entry["bound"] = "transfers and host copies (the net alone runs {:.1f}x faster)".format(
                row["net_only_fps"] / row["fps"])
        elif net_share < 0.5:
            entry["bound"] = "the net's kernels: memory traffic, launches and unfused elementwise work"
        else:
            entry["bound"] = "compute (tensor-core throughput)"
    return entry


def check_target(row: dict, resolution: str, gpu: dict | None) -> dict | None:
    target = TARGETS.get((row["net"], resolution))
    if target is None or row.get("device") != "cuda":
        return None
    checks = {"fps": row["fps"] >= target["fps"]} if "fps" in target else {}
    if "ratio" in target and row.get("ratio_to_naive") is not None:
        checks["ratio"] = row["ratio_to_naive"] >= target["ratio"]
    if "p95_ms" in target:
        checks["p95_ms"] = row["latency_p95_ms"] <= target["p95_ms"]
    on_h200 = bool(gpu and "H200" in gpu["name"])
    return {**target, "pass": all(checks.values()) if checks else None, "checks": checks, "on_h200": on_h200}


def naive_runs(devices: list[str], frames, settings: Settings) -> dict[str, dict]:
    baseline = naive_baseline()
    style = fixed_style(settings.style_size)
    return {device: summary(naive_stream(baseline.net, frames, style, device, settings.min_frames,
                                         settings.seconds, settings.clock)) for device in devices}


def resolution_rows(resolution: str, nets: dict, flops: dict, settings: Settings, gpu) -> tuple[list, dict]:
    """The rows of one resolution between two naive runs per device."""
    width, height = size(resolution)
    frames = distinct_frames(width, height)
    devices = sorted({device_of(backend, settings) for backend in settings.backends})
    before = naive_runs(devices, frames, settings) if settings.naive else {}
    rows = [measure_row(backend, method, nets[method], frames, settings)
            for backend in settings.backends for method in settings.nets]
    after = naive_runs(devices, frames, settings) if settings.naive else {}
    baselines = {device: mean_baseline([before[device], after[device]]) for device in before}
    for row in rows:
        row["resolution"], row["size"] = resolution, f"{width}x{height}"
        row["ratio_to_naive"] = ratio(row["fps"], baselines.get(row["device"]))
        row["floor"] = floor(row, flops[row["net"]], width, height, gpu)
        target = check_target(row, resolution, gpu)
        if target is not None:
            row["target"] = target
    return rows, {"resolution": resolution, "size": f"{width}x{height}", **baselines}


def run(settings: Settings, out: str | None = None, write: bool = True) -> dict:
    """Every row of the suite; suite.json and suite.png in `out` unless `write` is False."""
    machine = report.machine()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    gpu = gpu_info() if settings.device == "cuda" else None
    nets = {}
    for method in settings.nets:
        contender = bench_net(method, allow_random=True)
        if contender.missing:
            raise OptionError(f"{method}: {contender.source}")
        nets[method] = contender
    flops = {method: flops_per_pixel(method, contender.net) for method, contender in nets.items()}
    rows, baselines = [], []
    for resolution in settings.resolutions:
        found, baseline = resolution_rows(resolution, {m: c.net for m, c in nets.items()}, flops, settings, gpu)
        rows += found
        baselines.append(baseline)
    result = {"benchmark": "suite", "machine": machine, "gpu": gpu,
              "settings": {k: v for k, v in vars(settings).items() if k != "clock"},
              "weights": {method: contender.source for method, contender in nets.items()},
              "naive_baseline": "AdaIN VGG-r31, eager fp32, per-frame .to(device)/.cpu(), style encoded every "
                                f"frame at {settings.style_size} px (pytorch-AdaIN's video loop)",
              "rows": rows, "baselines": baselines}
    if write:
        folder = report.results_dir(out)
        result["files"] = [str(folder / f"{settings.name}.json"), str(folder / f"{settings.name}.png")]
        report.write_json(folder / f"{settings.name}.json", result)
        report.write_png(folder / f"{settings.name}.png", plots.suite_chart(result))
    return result


def format_result(result: dict) -> str:
    device = result["gpu"]["name"] if result["gpu"] else result["machine"]["cpu"]
    lines = [f"suite on {device} ({result['machine']['cores']} cores, load "
             f"{result['machine']['load_average_at_start'][0]} at start)",
             f"  {'net':<8} {'backend':<17} {'size':>10} {'fps':>9} {'p50 ms':>8} {'p95 ms':>8} "
             f"{'x naive':>8} {'GPU MiB':>8} {'floor':>7}"]
    for row in result["rows"]:
        share = row["floor"].get("share_of_floor")
        lines.append(f"  {row['net']:<8} {row['backend'] + ' ' + row['device']:<17} {row['size']:>10} {row['fps']:9.4g} "
                     f"{row['latency_p50_ms']:8.4g} {row['latency_p95_ms']:8.4g} "
                     f"{row['ratio_to_naive'] or 0:8.3g} {row.get('gpu_memory_mib', 0):8.0f} "
                     f"{'' if share is None else f'{share:.0%}':>7}")
        if "target" in row and row["target"]["pass"] is not None:
            lines.append(f"    target {row['target']['checks']}: {'PASS' if row['target']['pass'] else 'FAIL'}")
    for entry in result["baselines"]:
        naive = ", ".join(f"{device} {entry[device]['fps']:.4g} fps" for device in ("cpu", "cuda") if device in entry)
        lines.append(f"  naive baseline at {entry['size']}: {naive}")
    lines += [f"  wrote {path}" for path in result.get("files", [])]
    return "\n".join(lines)
