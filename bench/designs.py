"""Frame rates of the student's decoder designs, taking turns in one run.

    python -m stylize.bench.designs [--seconds 6] [--threads 2] [-o bench/results]

Speed does not depend on the weights' values, so each design runs with seeded
random weights: the pixel-shuffle student with reflect padding and widths
16,32,64 (the design shipped before), and the resize student with zero
padding and widths 16,32,48 (shipped now), in ONNX Runtime fp32 and int8, at
640x480 and 1280x720, through the same engine path as `stylize bench speed`
(uint8 RGB frame in and out). Writes student_designs.json.
"""
from __future__ import annotations

import argparse

import torch

from stylize.bench import report
from stylize.bench.nets import BenchNet
from stylize.bench.speed import BACKENDS, fixed_frame, make_engine, summarise, time_in_turns
from stylize.models.student import StudentNet

DESIGNS = {"shuffle 16,32,64": ((16, 32, 64), "shuffle"), "resize 16,32,48": ((16, 32, 48), "resize")}
RESOLUTIONS = ((640, 480), (1280, 720))
ONNX_BACKENDS = [backend for backend in BACKENDS if backend.startswith("onnxruntime")]


def contenders(threads: int) -> dict:
    """(design, backend) -> engine, each with a seeded random student and a fixed look."""
    engines = {}
    for label, (widths, design) in DESIGNS.items():
        torch.manual_seed(0)
        net = StudentNet(widths, design).eval()
        for backend in ONNX_BACKENDS:
            engines[label, backend] = make_engine(BenchNet("student", net, f"random {label}"), backend, threads)
    return engines


def run(seconds: float, threads: int, out: str | None) -> dict:
    machine = report.machine()
    torch.set_num_threads(threads)
    engines = contenders(threads)
    rows = []
    for width, height in RESOLUTIONS:
        frame = fixed_frame(width, height)
        calls = {key: (lambda engine=engine: engine(frame)) for key, engine in engines.items()}
        samples = time_in_turns({f"{d} / {b}": call for (d, b), call in calls.items()}, seconds)
        rows += [{"resolution": f"{width}x{height}", "contender": name, **summarise(ms)} for name, ms in samples.items()]
    base = {row["resolution"]: row["fps"] for row in rows if row["contender"] == "shuffle 16,32,64 / onnxruntime"}
    for row in rows:
        row["fps_vs_shuffle_fp32"] = round(row["fps"] / base[row["resolution"]], 2)
    result = {"benchmark": "student designs", "threads": threads, "seconds_per_contender": seconds,
              "machine": machine, "rows": rows}
    report.write_json(report.results_dir(out) / "student_designs.json", result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds per contender and resolution")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads (default 2)")
    parser.add_argument("-o", "--out", help="results folder (default ./bench-results)")
    args = parser.parse_args()
    for row in run(args.seconds, args.threads, args.out)["rows"]:
        print(f"{row['resolution']:>9}  {row['contender']:<38} {row['fps']:7.1f} fps  "
              f"x{row['fps_vs_shuffle_fp32']:.2f}")


if __name__ == "__main__":
    main()
