"""Ray, imported only here: the session, the actors (one net each) and the dispatch of tasks with retries.

A worker process that dies mid-task (killed, out of memory, its machine
gone) is restarted by Ray and its task runs again (`RETRIES` times); a task
that fails by itself (a bad input) is not retried: its TaskResult says why.
"""
from __future__ import annotations

import logging
import os
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

from stylize.errors import OptionError
from stylize.scale.worker import JobSpec, TaskResult, Worker

RETRIES = 3  # restarts of a dead worker, and re-runs of the task it held
OBJECT_STORE = 256 * 1024 * 1024  # bytes: tasks pass paths, not frames, so little is needed
POLL = 0.25  # seconds between progress updates
EXTRA = "--ray needs Ray: pip install 'stylize[ray]'"


def import_ray():
    """The ray module, or an OptionError that names the extra to install."""
    try:
        import ray
    except ImportError:
        raise OptionError(EXTRA) from None
    return ray


@contextmanager
def ray_session(address: str | None):
    """Connected to Ray for the block: `address` None starts a local one (this machine's cores, no
    dashboard) and stops it after; "auto" or "ray://HOST:PORT" joins a running cluster. A session
    already open in this process is used as it is."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if address is None:
            ray.init(num_cpus=os.cpu_count() or 1, object_store_memory=OBJECT_STORE, include_dashboard=False,
                     **quiet)
        else:
            ray.init(address=address, **quiet)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise OptionError(f"cannot reach Ray at {address or 'a new local instance'}: {exc}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


@dataclass
class Task:
    key: str  # unique in a run; progress is counted per key
    method: str  # a Worker method: "segment" or "image"
    args: tuple
    units: int  # frames it writes (1 for a picture)


class Progress:
    """A Ray actor: frames done per task and which process does it (restarted tasks start again from 0)."""

    def __init__(self):
        self.done: dict[str, tuple[int, int]] = {}

    def set(self, key: str, frames: int, pid: int) -> None:
        self.done[key] = (frames, pid)

    def snapshot(self) -> dict[str, tuple[int, int]]:
        return dict(self.done)


class Reporter:
    """What a worker calls with its frame count; pickled into each task."""

    def __init__(self, progress, key: str):
        self.progress, self.key = progress, key

    def __call__(self, frames: int) -> None:
        self.progress.set.remote(self.key, frames, os.getpid())


class RayExecutor:
    """Runs Tasks on `workers` Ray actors (default: one per GPU, else per CPU of the cluster), kept until
    `close()` (a `with` block closes them too)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


    def __init__(self, ray, spec: JobSpec, workers: int | None = None):
        self.ray = ray
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        self.device = "GPU" if gpus else "CPU"
        self.placement = {"num_gpus": 1} if gpus else {"num_cpus": 1}
        self.workers = workers or gpus or max(1, int(resources.get("CPU", 1)))
        self.spec = spec
        self._actor = ray.remote(max_restarts=RETRIES, max_task_retries=RETRIES, **self.placement)(Worker)
        self._idle: list = []  # actors kept between runs: their nets stay loaded

    def close(self) -> None:
        """Stop the workers."""
        for actor in self._idle:
            self.ray.kill(actor)
        self._idle = []

    def run(self, tasks: list[Task], on_result: Callable[[Task, TaskResult], None],
            on_progress: Callable[[dict[str, tuple[int, int]]], None] | None = None) -> None:
        """Every task once (retried where its worker died); `on_progress` hears the per-task counts."""
        ray = self.ray
        progress = ray.remote(num_cpus=0)(Progress).remote()
        idle = self._idle
        idle += [self._actor.remote(self.spec) for _ in range(min(self.workers, len(tasks)) - len(idle))]
        queue, running = deque(tasks), {}
        while queue or running:
            while queue and idle:
                actor, task = idle.pop(), queue.popleft()
                call = getattr(actor, task.method).remote(*task.args, report=Reporter(progress, task.key))
                running[call] = (task, actor)
            ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL)
            for call in ready:
                task, actor = running.pop(call)
                try:
                    result = ray.get(call)
                except ray.exceptions.RayError as exc:  # its worker died more often than RETRIES
                    result = TaskResult(False, message=f"worker lost: {str(exc).splitlines()[0]}")
                    ray.kill(actor)
                    actor = self._actor.remote(self.spec)
                idle.append(actor)
                on_result(task, result)
            if on_progress is not None:
                on_progress(ray.get(progress.snapshot.remote()))
        ray.kill(progress)
