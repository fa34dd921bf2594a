"""Every float option of every verb refuses NaN and infinity as a one-line usage error."""
from __future__ import annotations

import argparse
import math

import pytest

from helpers import run_cli
from stylize.cli import build_parser
from stylize.sizes import finite_float, non_negative_float, positive_float

FINITE_TYPES = (finite_float, positive_float, non_negative_float)


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(argv prefix, parser) for every leaf command under `parser`."""
    children = list(_subparsers(parser))
    if not children:
        yield path, parser
    for name, child in children:
        yield from commands(child, (*path, name))


def float_options():
    for verb, parser in _subparsers(build_parser()):
        for path, leaf in commands(parser, (verb,)):
            for action in leaf._actions:
                if action.type is float or action.type in FINITE_TYPES:
                    yield path, action


OPTIONS = list(float_options())
IDS = [f"{' '.join(path)} {action.option_strings[-1]}" for path, action in OPTIONS]


def test_the_verbs_have_float_options_and_none_is_a_plain_float():
    assert len(OPTIONS) >= 12, IDS  # --alpha of image, video, live; live --fps/--duration/..., bench, train
    assert [ident for ident, (_, action) in zip(IDS, OPTIONS) if action.type is float] == []


def _placeholder(action: argparse.Action) -> str:
    return action.choices[0] if action.choices else "x.mp4"


def _required_args(path: tuple[str, ...]) -> list[str]:
    """Placeholders for the positionals and required options of the command at `path`, so that only the
    option under test can fail to parse."""
    leaf = dict(commands(build_parser()))[path]
    args = []
    for action in leaf._actions:
        if not action.option_strings and action.nargs not in ("?", "*") and not isinstance(
                action, argparse._SubParsersAction):
            args.append(_placeholder(action))
        elif action.required and action.option_strings:
            args += [action.option_strings[-1], _placeholder(action)]
    for group in leaf._mutually_exclusive_groups:  # one of (--style | --style-dir), say
        if group.required:
            args += [group._group_actions[0].option_strings[-1], _placeholder(group._group_actions[0])]
    return args


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN", "1e999"])
@pytest.mark.parametrize("path,action", OPTIONS, ids=IDS)
def test_nan_and_infinity_are_usage_errors(path, action, value, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*path, *_required_args(path), f"{action.option_strings[-1]}={value}"])
    assert exit_.value.code == 2
    stderr = capsys.readouterr().err.strip()
    assert len(stderr.splitlines()) == 1 and "finite number" in stderr, stderr


AWKWARD = ["0", "-0", "-1", "1e-300", "5e-324", "1e308", "1.7976931348623157e308", "-1e308", "+nan", "-nan",
           "infinity", "1_0", " 3 ", "0x10", ""]


@pytest.mark.parametrize("number", AWKWARD)
@pytest.mark.parametrize("path,action", OPTIONS, ids=IDS)
def test_any_number_parses_to_a_finite_value_or_is_refused_in_one_line(path, action, number, capsys):
    try:
        args = build_parser().parse_args([*path, *_required_args(path), f"{action.option_strings[-1]}={number}"])
    except SystemExit as exit_:
        stderr = capsys.readouterr().err.strip()
        assert exit_.code == 2 and len(stderr.splitlines()) == 1, stderr
        return
    assert math.isfinite(getattr(args, action.dest))


@pytest.mark.parametrize("option", [("--duration", "nan"), ("--fps", "nan"), ("--crossfade-ms", "inf"),
                                    ("--source-timeout", "nan")])
def test_live_refuses_them_from_the_real_command_line(option, tmp_path):
    result = run_cli("live", "--source", "testpattern:64x48", "--no-preview", "--stats", tmp_path / "s.json", *option)
    stderr = result.stderr.decode().strip()
    assert result.returncode == 2 and len(stderr.splitlines()) == 1, stderr
    assert stderr.startswith(f"stylize live: error: argument {option[0]}: must be a finite number")


@pytest.mark.parametrize("weights", ["nan,1", "inf,1", "1,-inf"])
def test_style_weights_must_be_finite(weights, content_path, style_path, tmp_path):
    result = run_cli("image", content_path, "--style", f"{style_path},{style_path}", "--style-weights", weights,
                     "-o", tmp_path / "out.png")
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.decode().strip().splitlines()) == 1 and b"finite" in result.stderr
    assert not (tmp_path / "out.png").exists()
