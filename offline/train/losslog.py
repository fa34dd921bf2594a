"""`losses.csv`: the loss terms of a run, one row per logged step, appended to across resumes."""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Sequence


def widen_log(path: Path, fields: list[str]) -> None:
    """Rewrite a loss log written under other columns under these, so appended rows line up."""
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames == fields:
            return
        rows = list(reader)
    tmp = path.with_name(f".{path.name}.part")
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


class LossLog:
    """Open with `fresh=True` to start the log over, else rows go after the existing ones."""

    def __init__(self, path: Path, loss_names: Sequence[str], fresh: bool):
        self.fields = ["step", "seconds", *loss_names]
        fresh = fresh or not path.exists()
        if not fresh:
            widen_log(path, self.fields)
        self.handle = open(path, "w" if fresh else "a", newline="")
        self.writer = csv.DictWriter(self.handle, fieldnames=self.fields, extrasaction="ignore")
        if fresh:
            self.writer.writeheader()

    def write(self, step: int, seconds: float, losses: dict[str, float]) -> None:
        self.writer.writerow({"step": step, "seconds": round(seconds, 2), **{k: f"{v:.6g}" for k, v in losses.items()}})
        self.handle.flush()  # a run is often watched (or killed) while it trains

    def __enter__(self) -> "LossLog":
        return self

    def __exit__(self, *exc) -> None:
        self.handle.close()
