"""Property tests: any number, however hostile, into any numeric option of any verb parses to a finite
value or is refused in one line with exit code 2; real runs with random values end cleanly."""
from __future__ import annotations

import argparse
import contextlib
import io
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from helpers import run_cli
from stylize.cli import build_parser
from stylize.sizes import positive_int
from test_cli_numbers import FINITE_TYPES, _required_args, _subparsers, commands

NUMERIC_TYPES = (*FINITE_TYPES, int, positive_int)


def numeric_options():
    for verb, parser in _subparsers(build_parser()):
        for path, leaf in commands(parser, (verb,)):
            for action in leaf._actions:
                if action.option_strings and action.type in NUMERIC_TYPES:
                    yield path, action


OPTIONS = list(numeric_options())
IDS = [f"{' '.join(path)} {action.option_strings[-1]}" for path, action in OPTIONS]

# Every float there is (NaN, ±inf, ±0, subnormals, ±1.8e308), written the ways a user or a script writes them.
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
NUMBER_TEXT = st.one_of(
    FLOATS.map(repr),
    FLOATS.map(lambda x: f"{x:e}"),
    FLOATS.map(lambda x: f"{x:.0f}"),
    st.integers(min_value=-(10 ** 30), max_value=10 ** 30).map(str),
    st.sampled_from(["nan", "-nan", "inf", "-inf", "Infinity", "0", "-0", "1e999", "-1e999", "0x10", "1_000",
                     " 2 ", "", "1e", "٣"]),
)


def parse(argv: list[str]) -> tuple[argparse.Namespace | None, int | None, str]:
    """(namespace, None, "") when the parser accepts argv, else (None, exit code, its stderr)."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            return build_parser().parse_args(argv), None, ""
        except SystemExit as exit_:
            return None, exit_.code, stderr.getvalue()


def test_the_walk_finds_the_numeric_options_of_every_verb():
    verbs = {path[0] for path, _ in OPTIONS}
    assert {"image", "video", "live", "train", "bench"} <= verbs and len(OPTIONS) >= 60, IDS


@pytest.mark.parametrize("path,action", OPTIONS, ids=IDS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=NUMBER_TEXT)
def test_any_number_into_any_numeric_option_is_a_finite_value_or_one_line_exit_2(path, action, text):
    args, code, stderr = parse([*path, *_required_args(path), f"{action.option_strings[-1]}={text}"])
    if args is None:
        assert code == 2 and len(stderr.strip().splitlines()) == 1, stderr
        assert "Traceback" not in stderr and action.option_strings[-1] in stderr, stderr
        return
    value = getattr(args, action.dest)
    assert isinstance(value, (int, float)) and math.isfinite(value)


@settings(max_examples=200, deadline=None)
@given(text=NUMBER_TEXT)
def test_positive_int_gives_a_whole_number_of_one_or_more_or_refuses(text):
    try:
        value = positive_int(text)
    except argparse.ArgumentTypeError as error:
        assert "\n" not in str(error)
        return
    assert type(value) is int and value >= 1 and value == int(text)


@pytest.mark.parametrize("text", ["0", "-3", "nan", "2.5", ""])
def test_image_steps_zero_and_other_non_counts_are_refused(text):
    with pytest.raises(argparse.ArgumentTypeError):
        positive_int(text)


def assert_clean_end(result) -> None:
    """Exit 0 or 2, exactly one line on stderr (the summary or the error), never a traceback."""
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode in (0, 2), stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr


@pytest.mark.slow
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(alpha=FLOATS)
@example(alpha=0.5)
@example(alpha=math.nan)
def test_image_with_a_random_alpha_ends_cleanly(content_path, alpha):
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out.png"
        result = run_cli("image", content_path, "--look", "tahiti", "--size", "48", f"--alpha={alpha!r}",
                         "-o", out, timeout=120)
        assert_clean_end(result)
        assert out.is_file() == (result.returncode == 0) == (0 <= alpha <= 1)


CAP_SECONDS = 1.0  # any longer finite duration is cut to this: the test is about values, not long runs


@pytest.mark.slow
@settings(max_examples=4, deadline=None)
@given(duration=FLOATS.map(lambda x: min(x, CAP_SECONDS) if math.isfinite(x) and x > 0 else x))
@example(duration=math.inf)
@example(duration=0.3)
def test_live_with_a_random_duration_ends_cleanly(duration):
    with tempfile.TemporaryDirectory() as folder:
        stats = Path(folder) / "stats.json"
        result = run_cli("live", "--source", "testpattern:64x48", "--no-preview", f"--duration={duration!r}",
                         "--stats", stats, timeout=60)
        assert_clean_end(result)
        assert (result.returncode == 0) == (math.isfinite(duration) and duration > 0) == stats.is_file()
