"""One CLI vocabulary: one WxH parser, -o/--output for outputs, --size as the long side, `stylize looks`,
help text that keeps its capitals."""
from __future__ import annotations

import argparse
import json

import pytest

from helpers import run_cli
from stylize.cli import VERBS, build_parser, sentence
from stylize.errors import OptionError
from stylize.models import looks
from stylize.sizes import parse_wxh


@pytest.mark.parametrize("text, size", [("640x480", (640, 480)), (" 1280X720 ", (1280, 720)), ("16×16", (16, 16))])
def test_wxh_is_width_first(text, size):
    assert parse_wxh(text) == size


@pytest.mark.parametrize("text, message", [
    ("640", "--capture must look like WIDTHxHEIGHT, e.g. 640x480, got '640'"),
    ("640x", "must look like WIDTHxHEIGHT"), ("axb", "must look like WIDTHxHEIGHT"), ("", "must look like"),
    ("-640x480", "must look like"), ("8x480", "--capture must be at least 16x16 pixels, got '8x480'"),
])
def test_bad_wxh_names_the_option(text, message):
    with pytest.raises(OptionError, match=message):
        parse_wxh(text, "--capture")


def test_the_minimum_is_the_callers():
    assert parse_wxh("8x8", minimum=1) == (8, 8)


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every (verb path, parser) under the `stylize` parser."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


def _options():
    for path, parser in _parsers(build_parser()):
        for action in parser._actions:
            yield " ".join(path), action


def test_every_output_option_is_dash_o_or_dash_dash_output():
    outputs = [(verb, action.option_strings) for verb, action in _options()
               if {"-o", "--output", "--out"} & set(action.option_strings)]
    assert {verb for verb, _ in outputs} >= {"image", "video", "train adain", "train aesfa", "train student",
                                             "bench speed", "bench quality", "bench pipeline"}
    assert all(strings == ["-o", "--output"] for _, strings in outputs), outputs


def test_size_means_the_long_side():
    sizes = {verb: action.help for verb, action in _options() if "--size" in action.option_strings}
    assert not [verb for verb in sizes if verb.startswith("train")]  # train's square crop is --crop
    assert {"image", "video", "live"} <= set(sizes)
    assert all("long side" in text for text in sizes.values()), sizes


def test_looks_lists_the_built_in_looks_like_the_image_alias():
    listed = run_cli("looks")
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.decode().splitlines()] == looks.names()
    assert listed.stdout == run_cli("image", "--list-looks").stdout
    as_json = json.loads(run_cli("looks", "--json").stdout)
    assert [entry["name"] for entry in as_json] == looks.names()
    assert as_json[0]["painting"] == looks.describe(looks.names()[0])


def test_sentence_keeps_the_capitals_that_capitalize_would_lower():
    assert sentence("show ONNX Runtime providers and the VGG-19 weights") == \
        "Show ONNX Runtime providers and the VGG-19 weights."


# Every verb, with the names its description must spell right.
VERB_NAMES = {"image": [], "video": [], "batch": ["Ray"], "live": ["OBS"], "looks": [], "weights": [], "info": ["ONNX Runtime"],
              "train": ["AdaIN-r31", "AesFA", "VGG-19"], "train adain": ["AdaIN-r31"], "train aesfa": ["AesFA"],
              "train student": ["VGG-19"], "bench": ["PNG"], "bench speed": ["VGG-19", "AdaIN"],
              "bench quality": ["VGG-19", "Gatys"], "bench pipeline": [], "bench soak": ["RSS", "OSC"],
              "bench flicker": [], "bench scale": ["Ray"], "bench suite": ["GPU"],
              "export": ["ONNX", "TensorRT"], "export onnx": ["ONNX"], "export tensorrt": ["TensorRT"],
              "keyframes": ["JSON"], "look": ["Gatys", "DiffStyler"], "distill": [], "train distill": [],
              "bench distill": ["AdaIN-r31"], "sketch": ["PNG", "SVG"], "bench sketch": ["VGG-19", "Gatys"]}


def test_the_capitals_check_covers_every_verb():
    assert {" ".join(path) for path, _ in _parsers(build_parser()) if path} == set(VERB_NAMES)


@pytest.mark.parametrize("verb", sorted(VERB_NAMES))
def test_help_descriptions_keep_proper_capitals(verb):
    description = dict(_parsers(build_parser()))[tuple(verb.split())].description
    assert description[0].isupper() and description.endswith(".")
    assert all(name in description for name in VERB_NAMES[verb]), description
    for lowered in ("onnx runtime", "vgg-19", " obs ", "adain", "aesfa", "pyav", "gatys", " png "):
        assert lowered not in description, description


def test_every_verb_is_listed():
    assert "looks" in VERBS
    help_text = run_cli("--help").stdout.decode()
    assert all(f"\n    {verb} " in help_text for verb in VERBS)
