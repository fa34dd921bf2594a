"""The shape rules of the code base: short functions, and nothing writing beside its own source."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("models", "realtime", "export", "offline", "bench", "stylize")
MAX_FUNCTION_LINES = 60  # short enough to read at once, signature and docstring included


def sources() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (REPO / package).rglob("*.py"))


def long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]


def test_every_function_outside_tests_fits_on_a_screen():
    offenders = [line for path in sources() for line in long_functions(path)]
    assert not offenders, "\n".join(offenders)


def test_the_rule_catches_a_long_function(tmp_path, monkeypatch):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    sample = REPO / "stylize" / "x.py"  # only the path's name matters for the message
    monkeypatch.setattr(Path, "read_text", lambda self: f"def too_long():\n{body}\n")
    assert long_functions(sample) == [f"stylize/x.py:1 too_long ({MAX_FUNCTION_LINES + 1} lines)"]


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_module_writes_relative_to_its_own_file(path):
    # Reading the package's own data (shipped weights) is fine; results go where the user says.
    text = path.read_text()
    if "__file__" not in text:
        return
    allowed = {"models/weights.py", "realtime/sinks/preview.py"}
    assert str(path.relative_to(REPO)) in allowed, f"{path}: locates files through __file__"
