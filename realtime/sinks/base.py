"""The interface every sink implements (see the package docstring for the list)."""
from __future__ import annotations

from abc import ABC, abstractmethod
from fractions import Fraction

from stylize.realtime.frames import Frame


class Sink(ABC):
    """Somewhere stylized frames go.

    Life cycle: `open(width, height, fps)` once, `write(frame)` per frame,
    `end_of_stream()` when the source ended normally (not when interrupted),
    `run_failed()` when an error ended the run, then `close()`. `close()`
    finalises whatever was written, is idempotent and
    is safe to call after an error or without `open()`.

    `lossless` sinks (file writers in file → file mode) must be given every
    frame, in order; the others may be handed only the newest frame.
    Unless a sink says otherwise, `write` is called from one thread at a time.
    """

    name: str = "sink"
    lossless: bool = False

    @abstractmethod
    def open(self, width: int, height: int, fps: float | Fraction) -> None:
        """Prepare for frames of `width` x `height` arriving at about `fps`."""

    @abstractmethod
    def write(self, frame: Frame) -> None:
        """Take one frame (`frame.image` is the stylized HxWx3 uint8 RGB picture)."""

    def end_of_stream(self) -> None:
        """The source ended normally; nothing more follows. Default: nothing to do."""

    def run_failed(self) -> None:
        """The run ended by an error (in this sink or upstream); close() follows. Default: nothing to do."""

    @abstractmethod
    def close(self) -> None:
        """Finalise and release everything; idempotent."""

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
