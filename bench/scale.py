"""`stylize bench scale`: a long video over 1 and 2 Ray workers, the split and join overhead, a model for N machines.

One local Ray session is started for the whole benchmark (its start is
reported apart). The video is stylized once in this process with one torch
thread (one worker's worth, the baseline) and then, for each worker count and
each join, through `stylize.scale` in `segments` segments. From the one-worker
runs come the costs the model uses: the workers' seconds per frame, the join's
seconds per frame and the fixed cost of a job (actors starting, nets loading,
the plan). Results: NAME.json in the folder given with -o (default ./bench-results/).
"""
from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from stylize.bench import report
from stylize.errors import InputError

MODEL_MACHINES = (1, 2, 4, 8, 16, 64)


@dataclass
class Settings:
    video: str = "../shared/media/adain_cutBunny.mp4"
    method: str = "wave"
    size: int = 160
    workers: tuple[int, ...] = (1, 2)
    segments: int = 4
    joins: tuple[str, ...] = ("encode", "remux")
    name: str = "scale"


def _baseline(settings: Settings, spec, folder: Path) -> dict:
    """`stylize video` in this process, one torch thread: what one worker does without splitting."""
    import torch

    from stylize import api
    from stylize.jobs import stylize_video_file

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = stylize_video_file(settings.video, folder / "single.mp4", spec.look, api.new_engine(),
                                    size=settings.size, progress=False)
    finally:
        torch.set_num_threads(threads)
    return {"frames": result.frames, "seconds": round(result.seconds, 3), "fps": round(result.frames / result.seconds, 2)}


def _one_run(ray, spec, settings: Settings, workers: int, join: str, folder: Path) -> dict:
    from stylize.scale.cluster import RayExecutor
    from stylize.scale.jobs import Split, run_files

    target = folder / f"ray-{workers}-{join}.mp4"
    started = time.perf_counter()
    with RayExecutor(ray, spec, workers) as executor:  # fresh workers: the fixed cost includes their start
        outcome = run_files([(settings.video, str(target))], spec, executor, Split(settings.segments, 0, join),
                            progress=False)[0]
    total = time.perf_counter() - started
    if outcome.status != "done":
        raise InputError(f"the run with {workers} worker(s) failed: {outcome.message}")
    extra = outcome.extra
    return {"workers": workers, "join": join, "frames": outcome.frames, "seconds": round(total, 3),
            "fps": round(outcome.frames / total, 2), "plan_s": extra["plan_s"], "work_s": extra["work_s"],
            "join_s": extra["join_s"], "split_join_share": round((extra["plan_s"] + extra["join_s"]) / total, 4),
            "fixed_s": round(total - extra["plan_s"] - extra["join_s"] - extra["work_s"] / workers, 3)}


def model(runs: list[dict]) -> dict:
    """Throughput at N machines (one worker each) from the one-worker costs: T(N) = fixed + F*c/N + F*j.

    c: worker seconds per frame; j: join seconds per frame (serial, on the driver); fixed: plan, actor start
    and net load. With N >= segments the work term stops shrinking; segments are cut per 1500 frames by default.
    """
    out = {}
    for run in (r for r in runs if r["workers"] == 1):
        frames = run["frames"]
        c, j, fixed = run["work_s"] / frames, run["join_s"] / frames, run["fixed_s"] + run["plan_s"]
        film = 24 * 60 * 120  # a two-hour film at 24 fps
        out[run["join"]] = {"worker_s_per_frame": round(c, 5), "join_s_per_frame": round(j, 6),
                            "fixed_s": round(fixed, 3), "ceiling_fps": round(1 / j, 1) if j else None,
                            "two_hour_film_fps": {str(n): round(film / (fixed + film * c / n + film * j), 2)
                                                  for n in MODEL_MACHINES}}
    return out


def run(settings: Settings, out=None) -> dict:
    import ray

    from stylize import api
    from stylize.scale.worker import JobSpec

    if not Path(settings.video).is_file():
        raise InputError(f"{settings.video}: no such video (run from the repository root, or give --video)")
    spec = JobSpec(api.make_look(settings.method), size=settings.size)
    started = time.perf_counter()
    ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
             object_store_memory=256 * 1024 * 1024)
    ray_start = time.perf_counter() - started
    try:
        with tempfile.TemporaryDirectory(prefix="stylize-scale-") as folder:
            baseline = _baseline(settings, spec, Path(folder))
            runs = [_one_run(ray, spec, settings, workers, join, Path(folder))
                    for join in settings.joins for workers in settings.workers]
    finally:
        ray.shutdown()
    result = {"benchmark": "scale", "machine": report.machine(), "video": settings.video,
              "method": settings.method, "size": settings.size, "segments": settings.segments,
              "ray_start_s": round(ray_start, 3), "baseline_one_thread": baseline, "runs": runs,
              "speedup_2_over_1": {join: _speedup(runs, join) for join in settings.joins},
              "model": model(runs), "cluster": "none: one machine, local Ray; the N-machine figures are a model"}
    result["files"] = [str(report.write_json(report.results_dir(out) / f"{settings.name}.json", result))]
    return result


def _speedup(runs: list[dict], join: str) -> float | None:
    fps = {r["workers"]: r["fps"] for r in runs if r["join"] == join}
    return round(fps[2] / fps[1], 3) if 1 in fps and 2 in fps else None


def format_result(result: dict) -> str:
    lines = [f"Ray start {result['ray_start_s']:.1f} s; one process, one thread: "
             f"{result['baseline_one_thread']['fps']:.1f} fps"]
    for r in result["runs"]:
        lines.append(f"{r['workers']} worker(s), join {r['join']}: {r['fps']:.1f} fps, {r['seconds']:.1f} s "
                     f"(split+join {100 * r['split_join_share']:.1f} %, fixed {r['fixed_s']:.1f} s)")
    for join, m in result["model"].items():
        lines.append(f"model, join {join}: two-hour film fps at N machines " +
                     ", ".join(f"{n}: {fps}" for n, fps in m["two_hour_film_fps"].items()))
    return "\n".join(lines)
