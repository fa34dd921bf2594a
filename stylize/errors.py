"""The exceptions meant for users, all subclasses of `StylizeError`.

The CLI prints any `StylizeError` as a single line on stderr with exit code 2;
Python callers can catch the family or one kind. Everything else is a bug (or,
for plain ValueError/TypeError, a programming error) and keeps its traceback.
"""


class StylizeError(Exception):
    """A problem the user can fix: bad input, missing file, unknown name."""


# The general kind; most call sites raise this one.
UserError = StylizeError


class InputError(StylizeError):
    """An input file (image, video, mask, style) is missing, unreadable or unsuitable."""


class OptionError(StylizeError):
    """An option or argument is out of range, unknown, or conflicts with another."""


class WeightsError(StylizeError):
    """Weights are missing, cannot be downloaded, fail their sha256 check or do not fit the net."""


class OutputError(StylizeError):
    """An output cannot be written where it was asked for (folder missing, not writable, unknown format)."""
