"""Flicker: the temporal warping error of a stylized video, against its source's own.

The measure of video style transfer papers (Lai et al. 2018, Ruder et al. 2016):
optical flow (DIS, realtime/flow.py) is computed on the *source* frames; the
stylized frame t-1 is warped onto frame t along it, and the score is the mean
squared difference, in [0,1] RGB, over the pixels the forward-backward
consistency check finds visible in both frames, averaged over the frames.
The source's own warping error, scored the same way, is the floor that
compression, lighting and flow errors set: a perfectly stable stylization
would sit near it.

`stylize bench flicker OUT.mp4 --source IN.mp4` scores a video;
`--smoothing S` also scores OUT smoothed in memory by the post-stage
`--temporal-smoothing S` applies (realtime/temporal.py), `--style PAINTING`
adds the VGG-r31 style loss of both, and `--fps-cost METHOD` times METHOD at
640x480 on the source's frames in the live/video pipeline, with and without
the smoothing, in turns.
Results: NAME.json and NAME.png (per-frame error), in the folder given
(default ./bench-results/).
"""
from __future__ import annotations

import itertools
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from stylize.realtime.flow import FlowEstimator, consistency_mask, warp
from stylize.realtime.sources import EndOfStream, Source
from stylize.realtime.temporal import DEFAULT_STRENGTH, TemporalSmoother

METRIC_PRESET = "medium"  # the metric's flow: full resolution, DIS's most careful preset
STYLE_EVERY = 10  # frames between two style-loss scores (VGG is ~100x the cost of the metric)
TARGET_RATIO = 0.6  # smoothed warping error / per-frame, at most (issue 14)
TARGET_COST = 0.25  # fps lost to smoothing at 640x480, at most (issue 14)
COST_FRAMES = 60  # source frames the fps cost cycles through
COST_ROUNDS = 4  # turns per contender (with and without smoothing) for the fps cost


@dataclass
class FlickerReport:
    """Warping error per frame pair (frame t-1 carried onto t, t >= 1) and the share of pixels scored."""

    per_frame: list[float] = field(default_factory=list)
    valid_share: list[float] = field(default_factory=list)
    frames: int = 0  # frames read from both sequences
    unpaired: int = 0  # frames one sequence had beyond the other's end (not scored)

    @property
    def mean(self) -> float:
        """The warping error averaged over the frame pairs (NaN without any)."""
        return float(np.mean(self.per_frame)) if self.per_frame else float("nan")

    def summary(self) -> dict:
        return {"warping_error": round(self.mean, 7), "frames": self.frames, "unpaired_frames": self.unpaired,
                "valid_pixel_share": round(float(np.mean(self.valid_share)), 4) if self.valid_share else 0.0}


def metric_flow() -> FlowEstimator:
    """The flow the metric uses: DIS at full resolution."""
    return FlowEstimator(max_side=None, preset=METRIC_PRESET)


def pair_error(previous: np.ndarray, current: np.ndarray, back: np.ndarray, valid: np.ndarray) -> float:
    """Mean squared error in [0,1] RGB between `current` and `previous` warped along `back`, over `valid` pixels."""
    carried = warp(previous, back).astype(np.float32)
    squared = np.mean((carried - current.astype(np.float32)) ** 2, axis=2)
    return float(squared[valid].mean() / 255.0 ** 2)


def warping_errors(source_frames: Iterable[np.ndarray], candidates: dict[str, Iterable[np.ndarray]],
                   floor: bool = True, estimator: FlowEstimator | None = None) -> dict[str, FlickerReport]:
    """The warping error of each candidate sequence, with the flow computed once per frame on the source.

    Every sequence holds HxWx3 uint8 RGB frames; the source frames are
    resized to each candidate's size where they differ. `floor` adds the
    source's own error as "source". Sequences are read together and stop at
    the shortest; the frames left over are counted as `unpaired`.
    """
    estimator = estimator or metric_flow()
    names = (["source"] if floor else []) + list(candidates)
    reports = {name: FlickerReport() for name in names}
    previous: dict[str, np.ndarray] = {}
    flows = _FlowCache(estimator)
    sentinel = object()
    streams = [iter(source_frames)] + [iter(frames) for frames in candidates.values()]
    for row in itertools.zip_longest(*streams, fillvalue=sentinel):
        if any(item is sentinel for item in row):
            for report in reports.values():
                report.unpaired = 1 + sum(1 for _ in itertools.zip_longest(*streams))
            break
        flows.advance(row[0])
        frames = dict(zip(names, row if floor else row[1:]))
        for name, frame in frames.items():
            back, valid = flows.at(frame.shape[1], frame.shape[0])
            reports[name].frames += 1
            if back is not None and name in previous and valid.any():
                reports[name].per_frame.append(pair_error(previous[name], frame, back, valid))
                reports[name].valid_share.append(float(valid.mean()))
            previous[name] = frame
    return reports


def warping_error(stylized_frames: Iterable[np.ndarray], source_frames: Iterable[np.ndarray],
                  estimator: FlowEstimator | None = None) -> FlickerReport:
    """The warping error of `stylized_frames` along the flow of `source_frames` (both RGB uint8, in order)."""
    return warping_errors(source_frames, {"stylized": stylized_frames}, floor=False, estimator=estimator)["stylized"]


class _FlowCache:
    """The backward flow and consistency of the latest source frame pair, per frame size."""

    def __init__(self, estimator: FlowEstimator):
        self.estimator = estimator
        self._previous: np.ndarray | None = None
        self._current: np.ndarray | None = None
        self._sized: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def advance(self, source: np.ndarray) -> None:
        self._previous, self._current, self._sized = self._current, source, {}

    def at(self, width: int, height: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(flow from the current frame to the previous, consistency) at width x height; (None, None) at first."""
        if self._previous is None:
            return None, None
        if (width, height) not in self._sized:
            previous, current = (_fit(frame, width, height) for frame in (self._previous, self._current))
            back = self.estimator(current, previous)
            forward = self.estimator(previous, current)
            self._sized[width, height] = back, consistency_mask(back, forward)
        return self._sized[width, height]


def _fit(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    if frame.shape[:2] == (height, width):
        return frame
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)


def video_frames(path: str, size: int | None = None) -> Iterator[np.ndarray]:
    """The RGB frames of a video file, decoded in order (long side `size`, None: as stored)."""
    from stylize.jobs import open_video

    with open_video(path, size) as video:
        for frame in video:
            yield frame.image


def progress(frames: Iterable[np.ndarray], total: int | None, label: str) -> Iterator[np.ndarray]:
    from tqdm import tqdm

    yield from tqdm(frames, total=total, desc=label, unit="frame", file=sys.stderr, leave=False)


# ------------------------------------------------------------- the benchmark --
@dataclass
class Settings:
    stylized: str  # the stylized video
    source: str  # the video it was made from
    smoothing: float | None = None  # also score the stylized video smoothed at this strength
    style: str | None = None  # a painting: VGG-r31 style loss of the frames against it
    style_every: int = STYLE_EVERY  # score the style loss on every Nth frame
    fps_cost: str | None = None  # a method to time with and without smoothing
    resolution: tuple[int, int] = (640, 480)
    seconds: float = 10.0  # timed seconds per contender for the fps cost
    backend: str = "torch"
    threads: int | None = None
    name: str | None = None  # file stem (default flicker_<stylized video's stem>)


def run(settings: Settings, out: str | None = None, write: bool = True) -> dict:
    """Score `settings.stylized` (and its smoothed version), time the smoothing; write JSON + PNG unless not `write`."""
    from stylize.bench import report
    from stylize.jobs import open_video

    machine = report.machine()  # before any work: the load average is the host's, not ours
    with open_video(settings.stylized) as video:
        size, total = max(video.width, video.height), video.frame_count
    smoother = TemporalSmoother(settings.smoothing) if settings.smoothing else None
    source = progress(video_frames(settings.source, size), total, "flicker")
    stylized = video_frames(settings.stylized)
    candidates, kept = _candidates(source, stylized, smoother, settings.style_every if settings.style else 0)
    reports = warping_errors(candidates.pop("source"), candidates)
    result = {"benchmark": "flicker", "stylized": settings.stylized, "source": settings.source,
              "machine": machine, "flow": f"DIS {METRIC_PRESET}, full resolution, forward-backward consistency",
              **{name: report_.summary() for name, report_ in reports.items()}}
    if smoother is not None:
        result["smoothing"] = smoother.summary()
        result["smoothed_over_per_frame"] = round(reports["smoothed"].mean / reports["per-frame"].mean, 3)
        result["target_ratio"] = TARGET_RATIO
    if settings.style:
        result["style_loss"] = style_losses(kept, settings.style)
    if settings.fps_cost:
        result["fps_cost"] = smoothing_cost(settings)
    result["per_frame_error"] = {name: [round(e, 7) for e in r.per_frame] for name, r in reports.items()}
    if write:
        _write(result, settings, out)
    return result


def _candidates(source: Iterable[np.ndarray], stylized: Iterable[np.ndarray], smoother: TemporalSmoother | None,
                every: int) -> tuple[dict[str, Iterable[np.ndarray]], dict[str, list[np.ndarray]]]:
    """The sequences to score (lazy, read in lockstep) and the frames kept for the style loss (filled as read)."""
    source_a, source_b = itertools.tee(source)
    named: dict[str, Iterable[np.ndarray]] = {"source": source_a}
    if smoother is None:
        named["per-frame"] = stylized
    else:
        per_frame, fresh = itertools.tee(stylized)
        named["per-frame"] = per_frame
        named["smoothed"] = (smoother(_fit(src, *frame.shape[1::-1]), frame) for src, frame in zip(source_b, fresh))
    kept: dict[str, list[np.ndarray]] = {name: [] for name in named if name != "source"}
    if every:
        named.update({name: _keep_every(frames, every, kept[name]) for name, frames in named.items()
                      if name != "source"})
    return named, kept


def _keep_every(frames: Iterable[np.ndarray], every: int, into: list[np.ndarray]) -> Iterator[np.ndarray]:
    for index, frame in enumerate(frames):
        if index % every == 0:
            into.append(frame)
        yield frame


def style_losses(kept: dict[str, list[np.ndarray]], style_path: str) -> dict:
    """VGG-r31 style loss (mean/std at relu1_1..relu3_1, as `bench quality`) of each kept sequence's frames."""
    import torch

    from stylize.bench.quality import STYLE_LAYERS, Scorer, as_input
    from stylize.imageio import read_image, resize_short_side
    from stylize.models import losses, zoo

    scorer = Scorer(zoo.load_vgg())
    frames = next(iter(kept.values()))
    if not frames:
        return {"painting": style_path, "frames_scored": 0}
    style = resize_short_side(read_image(style_path), min(frames[0].shape[:2]))
    with torch.no_grad():
        target = scorer.style_target(as_input(style))

        def loss(frame: np.ndarray) -> float:
            feats = scorer.vgg.taps(as_input(frame), list(STYLE_LAYERS))
            return losses.mean_std_style_loss(feats, target).item()

        scores = {name: [loss(frame) for frame in sequence] for name, sequence in kept.items()}
    result = {"painting": style_path, "frames_scored": len(frames),
              **{name: round(float(np.mean(values)), 4) for name, values in scores.items() if values}}
    if "smoothed" in result and result.get("per-frame"):
        result["smoothed_over_per_frame"] = round(result["smoothed"] / result["per-frame"], 4)
    return result


def smoothing_cost(settings: Settings) -> dict:
    """fps of `settings.fps_cost` at `settings.resolution` in the real pipeline, without and with smoothing.

    Each run is the pipeline `stylize video` and `stylize live` use
    (realtime/pipeline.py): the source's first frames, resized and looped, go
    through the engine (and the smoothing thread) into a sink that keeps
    nothing, in file mode, so every frame is stylized and the rate is what
    the stages sustain together on these cores. Runs without and with
    smoothing take turns (COST_ROUNDS each), so a changing load hits both
    alike; the ratio of their fps is what to compare across machines.
    """
    import torch

    from stylize.bench import report
    from stylize.bench.nets import bench_net
    from stylize.bench.speed import make_engine
    from stylize.errors import UserError

    width, height = settings.resolution
    frames = [_fit(frame, width, height) for frame in itertools.islice(video_frames(settings.source), COST_FRAMES)]
    threads = settings.threads or report.usable_cores()
    torch.set_num_threads(threads)
    contender = bench_net(settings.fps_cost, allow_random=True)
    if contender.missing:
        raise UserError(f"{settings.fps_cost}: {contender.source}")
    # One engine each, as in two runs of `stylize video`: the pipeline tunes an engine for the stages beside it.
    engines = {name: make_engine(contender, settings.backend, threads) for name in ("per-frame", "smoothed")}
    strength = settings.smoothing or DEFAULT_STRENGTH
    for name, engine in engines.items():  # warm-up: lazy set-up (an ONNX export, allocators) is not timed
        pipeline_run(engine, frames, strength if name == "smoothed" else None, min(1.0, settings.seconds / COST_ROUNDS))
    runs: dict[str, list[dict]] = {"per-frame": [], "smoothed": []}
    for round_ in range(COST_ROUNDS):
        order = ("per-frame", "smoothed") if round_ % 2 == 0 else ("smoothed", "per-frame")
        for name in order:
            runs[name].append(pipeline_run(engines[name], frames, strength if name == "smoothed" else None,
                                           settings.seconds / COST_ROUNDS))
    plain, smooth = (_pooled(runs[name]) for name in ("per-frame", "smoothed"))
    ratio = smooth["fps"] / plain["fps"] if plain["fps"] else float("nan")
    return {"method": settings.fps_cost, "backend": settings.backend, "threads": threads,
            "resolution": f"{width}x{height}", "weights": contender.source, "strength": strength,
            "measured": "the live/video pipeline (file mode, every frame), runs taking turns",
            "per-frame": plain, "smoothed": smooth, "fps_ratio": round(ratio, 3),
            "fps_cost": round(1 - ratio, 3), "target_cost": TARGET_COST}


class FrameLoop(Source):
    """`frames` (RGB uint8, one size) over and over, `count` in all, as fast as they are read."""

    name = "frames"

    def __init__(self, frames: list[np.ndarray], count: int | None = None, fps: float = 30.0):
        super().__init__(paced=False)
        self._frames = frames
        self.height, self.width = frames[0].shape[:2]
        self.fps, self.frame_count = fps, count

    def _next(self) -> tuple[np.ndarray, float | None]:
        if self.frame_count is not None and self._index >= self.frame_count:
            raise EndOfStream
        return self._frames[self._index % len(self._frames)], self._index / self.fps


def pipeline_run(engine, frames: list[np.ndarray], strength: float | None, seconds: float) -> dict:
    """One run of the pipeline for `seconds`: the rate frames reached the sink, and what each stage spent."""
    from stylize.bench.masks import Discard
    from stylize.realtime.pipeline import Pipeline

    smoother = TemporalSmoother(strength) if strength else None
    result = Pipeline(FrameLoop(frames), engine, [engine.look], [Discard()], lossless=True, smoothing=smoother,
                      duration=seconds).run()
    stages = result.stats["stages"]
    run = {"fps": stages["sink:discard"]["fps"], "frames": stages["sink:discard"]["frames"],
           "engine_ms_per_frame": stages["engine"]["busy_ms_per_frame"]}
    if smoother is not None:
        run["smoothing_ms_per_frame"] = stages["smoothing"]["busy_ms_per_frame"]
    return run


def _pooled(runs: list[dict]) -> dict:
    """The runs of one contender together: frame intervals over their summed time, and the per-run fps."""
    timed = [run for run in runs if run["fps"]]  # a run's fps is (frames - 1) over its first-to-last span
    seconds = sum((run["frames"] - 1) / run["fps"] for run in timed)
    intervals = sum(run["frames"] - 1 for run in timed)
    pooled = {"fps": round(intervals / seconds, 2) if seconds else 0.0, "frames": sum(run["frames"] for run in runs),
              "fps_per_run": [run["fps"] for run in runs],
              "engine_ms_per_frame": round(float(np.mean([run["engine_ms_per_frame"] for run in runs])), 2)}
    if "smoothing_ms_per_frame" in runs[0]:
        pooled["smoothing_ms_per_frame"] = round(float(np.mean([run["smoothing_ms_per_frame"] for run in runs])), 2)
    return pooled


def _write(result: dict, settings: Settings, out: str | None) -> None:
    from stylize.bench import report

    folder = report.results_dir(out)
    stem = settings.name or f"flicker_{Path(settings.stylized).stem}"
    result["files"] = [str(folder / f"{stem}.json"), str(folder / f"{stem}.png")]
    report.write_json(folder / f"{stem}.json", result)
    report.write_png(folder / f"{stem}.png", plot(result))


COLOURS = {"source": (150, 150, 150), "per-frame": (40, 40, 220), "smoothed": (200, 120, 0)}  # BGR


def plot(result: dict) -> np.ndarray:
    """Warping error per frame of each scored sequence, as an RGB picture drawn with OpenCV."""
    width, height, left, right, top, bottom = 960, 420, 90, 30, 60, 50
    canvas = np.full((height, width, 3), 255, np.uint8)
    series = result["per_frame_error"]
    x_max = max(1, max(len(values) for values in series.values()))
    everything = [v for values in series.values() for v in values]
    # A scene cut scores one huge pair: clip the scale at the 99th percentile so the rest stays readable.
    y_max = float(np.percentile(everything, 99)) * 1.2 if everything else 0.0
    y_max = y_max or 1e-6

    def to_px(x: float, y: float) -> tuple[int, int]:
        return (int(left + x / x_max * (width - left - right)),
                int(height - bottom - min(y, y_max) / y_max * (height - top - bottom)))

    font = cv2.FONT_HERSHEY_SIMPLEX
    for i in range(6):
        x, y = x_max * i / 5, y_max * i / 5
        cv2.line(canvas, to_px(0, y), to_px(x_max, y), (225, 225, 225), 1)
        cv2.putText(canvas, f"{y:.4f}", (8, to_px(0, y)[1] + 5), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(canvas, f"{x:.0f}", (to_px(x, 0)[0] - 10, height - bottom + 20), font, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
    cv2.rectangle(canvas, to_px(0, y_max), to_px(x_max, 0), (0, 0, 0), 1)
    cv2.putText(canvas, "frame", (width // 2 - 20, height - 10), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    title = f"warping error per frame (MSE, [0,1] RGB): {Path(result['stylized']).name}"
    cv2.putText(canvas, title, (left, 25), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    for row, (name, values) in enumerate(series.items()):
        colour = COLOURS.get(name, (0, 160, 0))
        points = np.array([to_px(i + 1, v) for i, v in enumerate(values)], np.int32)
        if len(points) > 1:
            cv2.polylines(canvas, [points], False, colour, 1, cv2.LINE_AA)
        label = f"{name}: mean {result[name]['warping_error']:.5f}"
        x = left + 10 + 280 * row
        cv2.line(canvas, (x, 45), (x + 25, 45), colour, 3)
        cv2.putText(canvas, label, (x + 32, 50), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas[..., ::-1]  # drawn in OpenCV's BGR


def format_result(result: dict) -> str:
    lines = [f"warping error (MSE in [0,1] RGB over consistent pixels, mean over {result['per-frame']['frames']} "
             f"frames) of {result['stylized']}:",
             f"  source (floor) {result['source']['warping_error']:.6f}",
             f"  per-frame      {result['per-frame']['warping_error']:.6f}"]
    if "smoothed" in result:
        lines.append(f"  smoothed       {result['smoothed']['warping_error']:.6f}  "
                     f"({result['smoothed_over_per_frame']:.2f}x per-frame; target <= {TARGET_RATIO}x)")
    if "style_loss" in result and "smoothed_over_per_frame" in result["style_loss"]:
        loss = result["style_loss"]
        lines.append(f"  style loss     per-frame {loss['per-frame']:.4f}, smoothed {loss['smoothed']:.4f} "
                     f"({loss['smoothed_over_per_frame']:.3f}x)")
    if "fps_cost" in result:
        cost = result["fps_cost"]
        lines.append(f"  fps at {cost['resolution']} ({cost['method']}, {cost['backend']}): "
                     f"{cost['per-frame']['fps']:.1f} -> {cost['smoothed']['fps']:.1f} with smoothing, "
                     f"cost {100 * cost['fps_cost']:.0f} % (target <= {100 * TARGET_COST:.0f} %)")
    lines.append(f"wrote {', '.join(result.get('files', []))}")
    return "\n".join(lines)
