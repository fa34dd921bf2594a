"""Files into tasks, and finished tasks into outputs: one video split into segments, or a whole folder.

`run_files` takes (source, target) pairs. With a Ray executor every video is
split (plan.py) and its segments, with every picture, go to the workers; a
video is joined on the driver once its last segment is done. Without one,
each file runs whole in this process, one after the other
(stylize.jobs.stylize_video_file for videos). Each file ends as an Outcome:
done, skipped (its output exists: nothing is overwritten) or failed (alone).
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from stylize.errors import StylizeError
from stylize.jobs import VIDEO_SUFFIXES
from stylize.scale.cluster import Task
from stylize.scale.join import join_segments
from stylize.scale.plan import VideoPlan, plan_video
from stylize.scale.store import SegmentStore
from stylize.scale.worker import JobSpec, TaskResult, Worker


@dataclass
class Split:
    """How videos are cut and joined on a cluster."""

    segments: int | None = None  # per video; None: one per plan.SEGMENT_FRAMES frames, at least one per worker
    overlap: int = 0  # frames of history before each segment (temporal smoothing)
    join: str = "encode"  # join.JOINS


@dataclass
class Outcome:
    source: str
    target: str
    status: str  # "done", "skipped" or "failed"
    frames: int = 0
    message: str = ""
    seconds: float = 0.0
    reused: int = 0  # segments a resumed run found finished
    segments: int = 0
    extra: dict = field(default_factory=dict)

    def row(self) -> dict:
        """The manifest line."""
        row = {"input": self.source, "output": self.target, "status": self.status, "frames": self.frames,
               "seconds": round(self.seconds, 3)}
        if self.segments:
            row.update(segments=self.segments, reused_segments=self.reused)
        if self.message:
            row["message"] = self.message
        return {**row, **self.extra}


def is_video(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


class VideoJob:
    """One video on a cluster: its plan, the segments still to do, and the join at the end."""

    def __init__(self, source: str, target: str, spec: JobSpec, split: Split, workers: int):
        self.source, self.target, self.split = source, target, split
        self.started = time.perf_counter()
        self.work_seconds = 0.0  # the workers' time on this video's segments, all of them together
        count = split.segments
        self.plan: VideoPlan = plan_video(source, count, split.overlap) if count else _default_plan(source, split,
                                                                                                     workers)
        self.store = SegmentStore(target, self.plan, {**spec.describe(), "join": split.join})
        self.store.open()
        self.pending = [s for s in self.plan.segments if not self.store.finished(s)]
        self.plan_seconds = self.elapsed()  # the scan, the cuts and the check of kept segments
        self.reused = len(self.plan.segments) - len(self.pending)
        self.left = len(self.pending)  # segments not yet back from the workers
        self.failures: list[str] = []

    def tasks(self, key: str) -> list[Task]:
        lossless = self.split.join == "encode"
        return [Task(f"{key}/{s.index}", "segment",
                     (self.source, s, str(self.store.path(s)), self.plan.time_base, lossless), s.frames)
                for s in self.pending]

    def done(self, result: TaskResult) -> bool:
        """Count one finished segment; True when it was the last."""
        if not result.ok:
            self.failures.append(result.message)
        self.work_seconds += result.seconds
        self.left -= 1
        return self.left == 0

    def finish(self) -> Outcome:
        segments, reused = len(self.plan.segments), self.reused
        if self.failures:
            kept = sum(self.store.path(s).is_file() for s in self.plan.segments)
            return Outcome(self.source, self.target, "failed", 0, f"{self.failures[0]} ({kept} of {segments} "
                           f"segments kept in {self.store.folder} for a re-run)", self.elapsed(), reused, segments)
        joining = time.perf_counter()
        how = join_segments(self.plan, [self.store.path(s) for s in self.plan.segments], self.target,
                            self.split.join)
        self.store.remove()
        timings = {"plan_s": self.plan_seconds, "work_s": self.work_seconds,
                   "join_s": time.perf_counter() - joining}
        return Outcome(self.source, self.target, "done", self.plan.frame_count, "", self.elapsed(), reused,
                       segments, {"join": how, **{k: round(v, 3) for k, v in timings.items()}})

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def _default_plan(source: str, split: Split, workers: int) -> VideoPlan:
    """One segment per SEGMENT_FRAMES frames, and at least one per worker for a short video."""
    plan = plan_video(source, None, split.overlap)
    if len(plan.segments) < workers:
        plan = plan_video(source, min(workers, plan.frame_count), split.overlap)
    return plan


def run_files(pairs: list[tuple[str, str]], spec: JobSpec, executor=None, split: Split | None = None,
              on_outcome: Callable[[Outcome], None] = lambda outcome: None, progress: bool = True,
              on_progress: Callable[[dict], None] | None = None) -> list[Outcome]:
    """Stylize every (source, target) pair; `executor` a cluster.RayExecutor, or None for this process."""
    if executor is None:
        return _run_here(pairs, spec, on_outcome, progress)
    return _run_on(executor, pairs, spec, split or Split(), on_outcome, progress, on_progress)


def _existing(source: str, target: str) -> Outcome | None:
    """The outcome of a file that needs no work: its output is there (a re-run skips it)."""
    if os.path.lexists(target):
        return Outcome(source, target, "skipped", message="output exists; nothing was overwritten")
    return None


def _from_result(source: str, target: str, result: TaskResult) -> Outcome:
    return Outcome(source, target, "done" if result.ok else "failed", result.frames, result.message,
                   result.seconds)


def _run_here(pairs, spec: JobSpec, on_outcome, progress: bool) -> list[Outcome]:
    worker, outcomes = Worker(spec), []
    for source, target in pairs:
        outcome = _existing(source, target)
        if outcome is None:
            result = worker.video(source, target, progress) if is_video(source) else worker.image(source, target)
            outcome = _from_result(source, target, result)
        outcomes.append(outcome)
        on_outcome(outcome)
    return outcomes


def _finish(job: VideoJob) -> Outcome:
    try:
        return job.finish()
    except (StylizeError, OSError) as exc:
        return Outcome(job.source, job.target, "failed", message=f"joining failed: {exc}", seconds=job.elapsed())


def _prepare(pairs, spec: JobSpec, split: Split, workers: int, record):
    """Tasks for the workers, and the video jobs by key; files that need no work are recorded here."""
    tasks, videos = [], {}
    for number, (source, target) in enumerate(pairs):
        key = str(number)
        outcome = _existing(source, target)
        if outcome is None and is_video(source):
            try:
                videos[key] = job = VideoJob(source, target, spec, split, workers)
            except (StylizeError, OSError) as exc:
                outcome = Outcome(source, target, "failed", message=str(exc))
            else:
                outcome = None if job.pending else _finish(job)
                tasks += job.tasks(key)
        elif outcome is None:
            tasks.append(Task(key, "image", (source, target), 1))
        if outcome is not None:
            record(key, outcome)
    return tasks, videos


def _run_on(executor, pairs, spec: JobSpec, split: Split, on_outcome, progress: bool, on_progress) -> list[Outcome]:
    outcomes: dict[str, Outcome] = {}

    def record(key: str, outcome: Outcome) -> None:
        outcomes[key] = outcome
        on_outcome(outcome)

    tasks, videos = _prepare(pairs, spec, split, executor.workers, record)
    bar = tqdm(total=sum(task.units for task in tasks), unit="frame", desc="stylize", file=sys.stderr,
               disable=not progress, dynamic_ncols=True)

    def finished(task: Task, result: TaskResult) -> None:
        key = task.key.split("/")[0]
        if key not in videos:
            record(key, _from_result(*pairs[int(key)], result))
        elif videos[key].done(result):
            record(key, _finish(videos[key]))

    def moved(snapshot: dict) -> None:
        bar.n = sum(frames for frames, _ in snapshot.values())  # a restarted task counts from 0 again
        bar.refresh()
        if on_progress is not None:
            on_progress(snapshot)

    try:
        executor.run(tasks, finished, moved)
    finally:
        bar.close()
    return [outcomes[str(number)] for number in range(len(pairs))]
