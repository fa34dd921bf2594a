"""The int8 student against fp32: speed in one interleaved run, and what quantisation costs in quality.

Speed: the student through torch fp32, ONNX Runtime fp32 and ONNX Runtime
int8 (export/quantize.py, calibrated on INT8_CALIBRATION) take turns on one
fixed frame per resolution, like `bench speed`; reported are each one's
median ms and fps and the ratios int8 / ORT fp32 and ORT fp32 / torch (the
latter is what `--backend auto` on the CPU was chosen by).

Quality: on eval content x style pairs (bench quality's spread pairs, at
its scorer), the int8 graph's output against the fp32 graph's: PSNR and
the VGG style and content losses of both.

    python -m stylize.bench.int8 -o bench/results
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from stylize.bench import quality, report, speed
from stylize.export.quantize import calibration_images
from stylize.models import zoo
from stylize.realtime.engines import Look
from stylize.realtime.onnx_engine import OnnxEngine
from stylize.sizes import positive_float, positive_int

METHOD = "student"
RESOLUTIONS = ((640, 480), (1280, 720))


def engines(threads: int, calibration: Path) -> dict:
    """torch fp32, ORT fp32 and ORT int8 engines over one student, with one look set."""
    net = zoo.load(METHOD)
    photos = calibration_images(calibration)
    built = {"torch fp32": speed.TorchEngine("cpu", nets={METHOD: net}),
             "onnxruntime fp32": OnnxEngine(threads=threads, nets={METHOD: net}),
             "onnxruntime int8": OnnxEngine(threads=threads, nets={METHOD: net}, precision="int8",
                                            calibration=photos)}
    look = Look("bench", METHOD, [speed.fixed_style()])
    for engine in built.values():
        engine.set_style(look)
    return built


def measure_speed(built: dict, seconds: float) -> list[dict]:
    rows = []
    for width, height in RESOLUTIONS:
        frame = speed.fixed_frame(width, height)
        samples = speed.time_in_turns({name: (lambda e=e: e(frame)) for name, e in built.items()}, seconds)
        row = {"resolution": f"{width}x{height}", **{name: speed.summarise(ms) for name, ms in samples.items()}}
        row["int8_over_fp32_fps"] = round(row["onnxruntime int8"]["fps"] / row["onnxruntime fp32"]["fps"], 3)
        row["onnxruntime_over_torch_fps"] = round(row["onnxruntime fp32"]["fps"] / row["torch fp32"]["fps"], 3)
        rows.append(row)
    return rows


def measure_quality(built: dict, eval_dir: Path, pairs: int, size: int) -> dict:
    """PSNR of int8 against fp32 (same graph, same look) and both outputs' VGG losses, per pair and mean."""
    scorer = quality.Scorer(zoo.load_vgg().eval())
    contents = quality.load_images(eval_dir / "content", size, scorer.content_target)
    styles = quality.load_images(eval_dir / "style", size, scorer.style_target)
    records = []
    for ci, si in tqdm(quality.spread_pairs(len(contents), len(styles), pairs), desc="int8 quality", unit="pair"):
        content, style = contents[ci], styles[si]
        look = Look(style.name, METHOD, [style.rgb])
        outputs = {}
        for name in ("onnxruntime fp32", "onnxruntime int8"):
            built[name].set_style(look)
            outputs[name] = built[name](content.rgb)
        error = np.mean((outputs["onnxruntime fp32"].astype(np.float64) - outputs["onnxruntime int8"]) ** 2)
        record = {"content": content.name, "style": style.name,
                  "psnr_db": round(float(10 * np.log10(255 ** 2 / max(error, 1e-12))), 2)}
        for name, output in outputs.items():
            record[name] = scorer.score(output, content.target, style.target)
        records.append(record)
    psnr = float(np.mean([r["psnr_db"] for r in records]))
    summary = {"pairs": len(records), "size": size, "psnr_db_mean": round(psnr, 2)}
    for name in ("onnxruntime fp32", "onnxruntime int8"):
        for metric in ("style_loss", "content_loss"):
            summary[f"{name} {metric}"] = round(float(np.mean([r[name][metric] for r in records])), 4)
    for metric in ("style_loss", "content_loss"):
        summary[f"int8_over_fp32 {metric}"] = round(summary[f"onnxruntime int8 {metric}"]
                                                    / summary[f"onnxruntime fp32 {metric}"], 4)
    return {**summary, "per_pair": records}


def run(out: str | None, threads: int = 2, seconds: float = 6.0, pairs: int = 24, size: int = 512,
        calibration: Path = speed.INT8_CALIBRATION, eval_dir: Path = quality.DEFAULT_EVAL) -> dict:
    machine = report.machine()  # before any work, so the load average is the host's
    torch.set_num_threads(threads)
    started = time.perf_counter()
    built = engines(threads, calibration)
    result = {"benchmark": "int8", "method": METHOD, "threads": threads, "machine": machine,
              "calibration": {"folder": str(calibration), "photos": len(calibration_images(calibration))},
              "seconds_per_contender": seconds, "speed": measure_speed(built, seconds)}
    result["quality"] = measure_quality(built, eval_dir, pairs, size)
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    path = report.results_dir(out) / f"int8_{METHOD}_t{threads}.json"
    result["files"] = [str(path)]
    report.write_json(path, result)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", metavar="FOLDER", help="results folder (default ./bench-results/)")
    parser.add_argument("--threads", type=positive_int, default=2, help="ONNX Runtime and torch threads (default 2)")
    parser.add_argument("--seconds", type=positive_float, default=6.0,
                        help="timed seconds per contender and resolution (default 6)")
    parser.add_argument("--pairs", type=positive_int, default=24, help="eval pairs scored for quality (default 24)")
    args = parser.parse_args(argv)
    result = run(args.output, args.threads, args.seconds, args.pairs)
    for row in result["speed"]:
        print(row["resolution"], {k: v["fps"] for k, v in row.items() if isinstance(v, dict)},
              "int8/fp32", row["int8_over_fp32_fps"], "ort/torch", row["onnxruntime_over_torch_fps"])
    print({k: v for k, v in result["quality"].items() if k != "per_pair"})


if __name__ == "__main__":
    main()
