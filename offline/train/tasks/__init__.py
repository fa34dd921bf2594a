"""The training tasks by name. A new task is one module with a `Task` subclass and one entry below."""
from __future__ import annotations

from stylize.errors import OptionError
from stylize.offline.train.tasks.adain import AdaINTask
from stylize.offline.train.tasks.aesfa import AesFATask
from stylize.offline.train.tasks.base import Task
from stylize.offline.train.tasks.distill import DistillTask
from stylize.offline.train.tasks.student import StudentTask

TASKS: dict[str, type[Task]] = {task.name: task for task in (AdaINTask, AesFATask, StudentTask, DistillTask)}


def task_class(kind: str) -> type[Task]:
    if kind not in TASKS:
        raise OptionError(f"unknown net {kind!r}; choose from {', '.join(TASKS)}")
    return TASKS[kind]
