"""What a person mask costs: per frame, and in the live pipeline's frame rate.

Per frame: the segmentation model alone and the whole PersonMask (model,
EMA, hysteresis, feathering), on real frames of the seated family clip
resized to 640x480 and 1280x720, beside the motion mask (MOG2) for scale.

In the pipeline: the student net (torch, CPU) on a 640x480 test pattern in
file mode (every frame, so the rate is what the stages sustain), with and
without a person mask, the two runs interleaved so drift in the machine's
load hits both alike. The mask runs on its own stage beside the net; the
"serial estimate" is the rate the same net and mask would give one after
the other. Writes masks.json into the folder given with -o.

    python -m stylize.bench.masks -o bench/results
    python -m stylize.bench.masks --figure docs/masks.jpg    # the README's picture
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as bench/pipeline.py: torch shares the cores

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from stylize import api  # noqa: E402
from stylize.bench import report  # noqa: E402
from stylize.imageio import write_atomic  # noqa: E402
from stylize.realtime.masks import MotionMask, PersonMask  # noqa: E402
from stylize.realtime.pipeline import Pipeline  # noqa: E402
from stylize.realtime.segmentation import PersonSegmenter  # noqa: E402
from stylize.realtime.sinks import Sink  # noqa: E402
from stylize.realtime.sources import TestPattern  # noqa: E402

# Run from the repository, beside ../shared (or say where it is with $STYLIZE_SHARED or --clip).
CLIP = Path(os.environ.get("STYLIZE_SHARED", "../shared")) / "media" / "terryky_pexels_family.mp4"
SIZES = ((640, 480), (1280, 720))


class Discard(Sink):
    """Takes every frame and keeps none: the pipeline's rate without an encoder's cost."""

    name, lossless = "discard", True

    def open(self, width, height, fps):
        pass

    def write(self, frame):
        pass

    def close(self):
        pass


def clip_frames(path: Path, count: int) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for _, frame in zip(range(count), container.decode(video=0))]


def _ms(call, frames: list[np.ndarray]) -> dict:
    """Wall-clock median and p95 of `call(frame)` over `frames` (after one warm-up call), in milliseconds,
    and the CPU time it used per frame in all threads: on a busy machine the wall clock also counts the
    time other processes held the cores, the CPU time does not."""
    call(frames[0])
    times = []
    cpu_started = time.process_time()
    for frame in frames:
        started = time.perf_counter()
        call(frame)
        times.append(1000 * (time.perf_counter() - started))
    cpu_ms = 1000 * (time.process_time() - cpu_started) / len(frames)
    p50, p95 = np.percentile(times, [50, 95])
    return {"ms_p50": round(float(p50), 2), "ms_p95": round(float(p95), 2), "cpu_ms_per_frame": round(cpu_ms, 2)}


def mask_costs(frames: list[np.ndarray], segmenter: PersonSegmenter) -> dict:
    """Per size: the model alone, the whole person mask, the motion mask."""
    costs = {}
    for width, height in SIZES:
        sized = [cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA) for frame in frames]
        costs[f"{width}x{height}"] = {
            "segmentation_model": _ms(segmenter, sized),
            "person_mask": _ms(PersonMask(segmenter=segmenter), sized),
            "motion_mask": _ms(MotionMask(), sized),
        }
    return costs


def pipeline_run(engine, look, segmenter: PersonSegmenter | None, seconds: float) -> dict:
    """The engine's fps and the process's CPU time per frame (all threads) over one run."""
    source = TestPattern(640, 480, fps=30, paced=False)
    mask = PersonMask(segmenter=segmenter) if segmenter is not None else None
    cpu_started = time.process_time()
    result = Pipeline(source, engine, [look], [Discard()], lossless=True, mask=mask, duration=seconds).run()
    engine_stats = result.stats["stages"]["engine"]
    cpu_ms = 1000 * (time.process_time() - cpu_started) / max(1, engine_stats["frames"])
    return {"fps": round(float(engine_stats["fps"]), 3), "cpu_ms_per_frame": round(cpu_ms, 1)}


def run(seconds: float, repeats: int, out: str | os.PathLike, clip: str | os.PathLike = CLIP) -> dict:
    load = os.getloadavg()
    segmenter = PersonSegmenter()
    costs = mask_costs(clip_frames(Path(clip), 40), segmenter)
    print(json.dumps(costs), file=sys.stderr)
    style = api.engine("student")
    style.set_style("starry-night")
    engine, look = style.engine, style.engine.look
    runs: dict[str, list[dict]] = {"plain": [], "person_mask": []}
    for repeat in range(repeats):
        order = ("plain", "person_mask") if repeat % 2 == 0 else ("person_mask", "plain")
        for name in order:
            runs[name].append(pipeline_run(engine, look, segmenter if name == "person_mask" else None, seconds))
            print(f"{name} #{repeat + 1}: {runs[name][-1]}", file=sys.stderr)
    result = build_report(costs, runs, seconds, load, segmenter)
    folder = report.results_dir(out)
    report.write_json(folder / "masks.json", result)
    return result


def build_report(costs: dict, runs: dict[str, list[dict]], seconds: float, load: tuple[float, ...],
                 segmenter: PersonSegmenter) -> dict:
    fps = {name: [run["fps"] for run in each] for name, each in runs.items()}
    cpu = {name: float(np.mean([run["cpu_ms_per_frame"] for run in each])) for name, each in runs.items()}
    plain, masked = float(np.mean(fps["plain"])), float(np.mean(fps["person_mask"]))
    mask_ms = costs["640x480"]["person_mask"]["ms_p50"]
    serial = 1000 / (1000 / plain + mask_ms) if plain else 0.0
    return {
        "benchmark": "masks",
        "machine": {"cpu": report.cpu_model(), "cores": os.cpu_count(), "platform": platform.platform(),
                    "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                    "segmentation": segmenter.describe(), "load_average_at_start": [round(x, 2) for x in load]},
        "mask_cost_per_frame": costs,
        "pipeline": {"net": "student, starry-night, torch CPU", "size": [640, 480], "mode": "file (every frame)",
                     "seconds_per_run": seconds, "runs": runs, "fps_plain": round(plain, 3),
                     "fps_person_mask": round(masked, 3), "fps_serial_estimate": round(serial, 3),
                     "cpu_ms_per_frame_plain": round(cpu["plain"], 1),
                     "cpu_ms_per_frame_person_mask": round(cpu["person_mask"], 1)},
        "ratios": {
            "fps_person_mask_over_plain": round(masked / plain, 3) if plain else None,
            "fps_person_mask_over_plain_per_repeat": [round(m / p, 3) for p, m in zip(fps["plain"],
                                                                                     fps["person_mask"])],
            "fps_serial_estimate_over_plain": round(serial / plain, 3) if plain else None,
            "cpu_per_frame_person_mask_over_plain": round(cpu["person_mask"] / cpu["plain"], 3),
        },
    }


def figure(clip: str | os.PathLike, path: str | os.PathLike) -> None:
    """The README's picture: a frame of the clip with only the people in candy, and only the room in a look."""
    frame = cv2.resize(clip_frames(Path(clip), 11)[10], (440, 396), interpolation=cv2.INTER_AREA)
    people = api.stylize_image(frame, method="candy", mask_mode="person")
    room = api.stylize_image(frame, look="composition-vii", mask_mode="background")
    sheet = np.hstack([people, np.full((396, 6, 3), 255, np.uint8), room])
    _, encoded = cv2.imencode(".jpg", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    write_atomic(path, encoded.tobytes())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="what a person mask costs, per frame and in the pipeline")
    parser.add_argument("-o", "--output", default="bench-results", help="folder for masks.json")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each pipeline run")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved pairs of pipeline runs")
    parser.add_argument("--clip", default=str(CLIP), help="a video with people, for the per-frame costs")
    parser.add_argument("--figure", metavar="FILE.jpg", help="write the README's picture here instead")
    args = parser.parse_args(argv)
    if args.figure:
        figure(args.clip, args.figure)
        return 0
    result = run(args.seconds, args.repeats, args.output, args.clip)
    print(json.dumps(result["ratios"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
