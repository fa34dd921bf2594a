"""A distilled look measured: fidelity to the offline look, flicker and speed, each against AdaIN-r31.

* fidelity: on the keyframes the distillation held out (`--hold-out`), the
  VGG-r31 distance (relu3_1 MSE, and the mean/std style loss) between the
  distilled net's frame and the offline painting of that keyframe, against
  AdaIN-r31 given that painting itself as its style image. Target: lower.
* flicker: the warping error (bench/flicker.py) of the distilled net on the
  first frames of each clip, against AdaIN-r31 stylizing frame by frame with
  the look's style image(s). Target: <= 0.7x AdaIN-r31's.
* speed: the distilled net at 640x480 in ONNX Runtime, timed in turns with
  the shipped student in ONNX Runtime (bench/speed.py), so a changing load
  hits both alike and their ratio carries to a quiet machine. Target: >= 30 fps.

Results: distill_<NET>.json and .png (each held-out keyframe: keyframe |
painting | distilled | AdaIN-r31) in the folder given (default ./bench-results/).
"""
from __future__ import annotations

import glob
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from stylize.bench import report, speed
from stylize.bench.flicker import warping_errors
from stylize.bench.quality import Scorer, as_input
from stylize.errors import InputError
from stylize.imageio import read_image, resize_to
from stylize.jobs import fit_long_side, open_video
from stylize.models import registry, zoo
from stylize.models.distilled import read_sidecar
from stylize.offline.look_pass import read_look
from stylize.realtime.engines import Look, TorchEngine

FLICKER_TARGET = 0.7  # distilled warping error / AdaIN-r31's
SPEED_TARGET = 30.0  # fps at 640x480, ONNX Runtime


def _engines(method: str) -> tuple[TorchEngine, TorchEngine]:
    distilled = TorchEngine("cpu")
    distilled.set_style(Look(method, method))
    return distilled, TorchEngine("cpu")


def fidelity(method: str, look_dir: Path, held_out: list[str], progress: bool) -> tuple[dict, list[np.ndarray]]:
    """VGG-r31 distances to the paintings of the held-out keyframes, distilled vs AdaIN-r31."""
    if not held_out:
        raise InputError("this net held no keyframe out of training; distil it with --hold-out N to measure "
                         "its fidelity on unseen keyframes")
    _, pairs = read_look(look_dir)
    chosen = [p for p in pairs if p.look.name in held_out]
    scorer = Scorer(zoo.load_vgg())
    distilled, adain = _engines(method)
    rows, records = [], []
    for pair in tqdm(chosen, desc="bench distill: fidelity", disable=not progress, leave=False):
        keyframe, painting = read_image(pair.keyframe), read_image(pair.look)
        painting = resize_to(painting, *keyframe.shape[:2])
        target, style = scorer.content_target(as_input(painting)), scorer.style_target(as_input(painting))
        adain.set_style(Look(pair.look.name, "adain", [painting]))
        outputs = {"distilled": distilled(keyframe), "adain": adain(keyframe)}
        scores = {name: scorer.score(out, target, style) for name, out in outputs.items()}
        records.append({"keyframe": pair.look.name, **scores})
        rows.append(np.concatenate([keyframe, painting, outputs["distilled"], outputs["adain"]], axis=1))
    summary = {name: {key: round(float(np.mean([r[name][key] for r in records])), 4)
                      for key in ("content_loss", "style_loss")} for name in ("distilled", "adain")}
    ratio = summary["distilled"]["content_loss"] / summary["adain"]["content_loss"]
    return {"keyframes": records, "mean": summary, "distance_ratio": round(ratio, 3),
            "target": {"distance_ratio_below": 1.0, "pass": ratio < 1.0}}, rows


def _clip_frames(path: str, count: int, size: int) -> list[np.ndarray]:
    frames = []
    with open_video(path, size) as video:
        for frame in video:
            frames.append(frame.image)
            if len(frames) == count:
                break
    return frames


def flicker(method: str, styles: list[str], clips: list[str], frames: int, size: int, progress: bool) -> dict:
    """Warping errors of the distilled net and of per-frame AdaIN-r31 with the look's style, per clip."""
    distilled, adain = _engines(method)
    adain.set_style(Look("look", "adain", [read_image(s) for s in styles]))
    per_clip = {}
    for clip in tqdm(clips, desc="bench distill: flicker", disable=not progress, leave=False):
        source = _clip_frames(clip, frames, size)
        reports = warping_errors(source, {"distilled": [distilled(f) for f in source],
                                          "adain": [adain(f) for f in source]})
        per_clip[Path(clip).name] = {name: round(r.mean, 6) for name, r in reports.items()}
        per_clip[Path(clip).name]["ratio"] = round(reports["distilled"].mean / reports["adain"].mean, 3)
    mean_ratio = float(np.mean([c["ratio"] for c in per_clip.values()]))
    return {"frames_per_clip": frames, "long_side": size, "clips": per_clip, "mean_ratio": round(mean_ratio, 3),
            "target": {"ratio_at_most": FLICKER_TARGET, "pass": mean_ratio <= FLICKER_TARGET}}


def speed_against_student(method: str, threads: int, seconds: float) -> dict:
    """fps of the distilled net and of the student at 640x480 in ONNX Runtime, timed in turns."""
    from stylize.bench.nets import bench_net

    engines = {name: speed.make_engine(bench_net(net), "onnxruntime", threads)
               for name, net in (("distilled", method), ("student", "student"))}
    frame = speed.fixed_frame(640, 480)
    samples = speed.time_in_turns({name: (lambda e=e: e(frame)) for name, e in engines.items()}, seconds)
    timing = {name: speed.summarise(ms) for name, ms in samples.items()}
    fps = timing["distilled"]["fps"]
    return {"resolution": "640x480", "backend": "onnxruntime", "threads": threads, "seconds_each": seconds, **timing,
            "fps_ratio_to_student": round(fps / timing["student"]["fps"], 3),
            "target": {"fps": SPEED_TARGET, "pass": fps >= SPEED_TARGET}}


def run(net: str, *, looks: str | None = None, clips: list[str] | None = None, frames: int = 48,
        size: int = 320, threads: int = 2, seconds: float = 10.0, out: str | None = None,
        write: bool = True, progress: bool = True) -> dict:
    """Fidelity, flicker and speed of the distilled net file `net`; writes JSON and PNG unless `write` is False."""
    machine = report.machine()
    started = time.perf_counter()
    record = read_sidecar(net)
    method = registry.register_file(net)
    look_dir = Path(looks or record.get("look_dir", ""))
    look, _ = read_look(look_dir)
    clips = clips or sorted(glob.glob("../shared/media/*.mp4"))
    if not clips:
        raise InputError("no clips to measure flicker on: give --clips (default ../shared/media/*.mp4)")
    torch.set_num_threads(threads)
    fid, rows = fidelity(method, look_dir, record.get("held_out", []), progress)
    flick = flicker(method, look["styles"], clips, frames, size, progress)
    result = {"benchmark": "distill", "net": str(net), "sha256": record["sha256"], "look": record.get("look"),
              "machine": machine, "fidelity": fid, "flicker": flick,
              "speed": speed_against_student(method, threads, seconds),
              "seconds": round(time.perf_counter() - started, 1)}
    if write:
        folder = report.results_dir(out)
        stem = f"distill_{Path(net).stem}"
        result["files"] = [str(folder / f"{stem}.json"), str(folder / f"{stem}.png")]
        report.write_json(folder / f"{stem}.json", result)
        report.write_png(folder / f"{stem}.png", np.concatenate([fit_long_side(r, 640) for r in rows], axis=0))
    return result


def format_result(result: dict) -> str:
    fid, flick, fast = result["fidelity"], result["flicker"], result["speed"]
    lines = [f"{result['look']} ({result['net']}) on {result['machine']['cpu']}",
             f"fidelity, VGG relu3_1 distance to the painting on {len(fid['keyframes'])} held-out keyframes: "
             f"distilled {fid['mean']['distilled']['content_loss']}, AdaIN-r31 {fid['mean']['adain']['content_loss']}"
             f" (ratio {fid['distance_ratio']}, target < 1: {'pass' if fid['target']['pass'] else 'FAIL'})",
             f"flicker, warping error distilled / AdaIN-r31: {flick['mean_ratio']} (target <= {FLICKER_TARGET}: "
             f"{'pass' if flick['target']['pass'] else 'FAIL'})"]
    lines += [f"  {name}: distilled {c['distilled']}, AdaIN-r31 {c['adain']}, source {c['source']}"
              for name, c in flick["clips"].items()]
    lines.append(f"speed at 640x480, ONNX Runtime {fast['threads']} threads: {fast['distilled']['fps']} fps, "
                 f"the student {fast['student']['fps']} fps in turns ({fast['fps_ratio_to_student']}x; "
                 f"target >= {SPEED_TARGET}: {'pass' if fast['target']['pass'] else 'FAIL'})")
    return "\n".join(lines)
