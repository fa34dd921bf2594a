"""What travels between the live stages: a `Frame`, and the one-slot `LatestSlot`.

A source never waits for a slow net: it `put`s into a `LatestSlot`, which
keeps only the newest frame and counts the one it replaced as a drop.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np


@dataclass
class Frame:
    image: np.ndarray  # HxWx3 uint8 RGB (stylized by the time it reaches a sink)
    index: int  # 0-based frame number from the source
    captured_at: float  # time.monotonic() when the source produced it
    pts: float | None = None  # presentation time in seconds in the source's timeline (files/streams)
    original: np.ndarray | None = None  # the unstylized RGB frame (split-screen / original view)


class LatestSlot:
    """Holds at most one item; a newer `put` replaces an unread one and counts a drop.

    `get` blocks until an item arrives, the timeout passes (returns None) or the
    slot is closed (returns None once it is empty).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item = None
        self._full = False
        self._closed = False
        self.drops = 0

    def put(self, item) -> None:
        with self._cond:
            if self._full:
                self.drops += 1
            self._item = item
            self._full = True
            self._cond.notify_all()

    def get(self, timeout: float | None = None):
        with self._cond:
            self._cond.wait_for(lambda: self._full or self._closed, timeout)
            if not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
