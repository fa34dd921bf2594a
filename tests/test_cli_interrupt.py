"""Ctrl-C at any moment of a verb's start (while torch is still importing) is one line and exit code 130."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from helpers import REPO

DELAYS = (0.05, 0.15, 0.3, 0.5, 0.8, 1.2, 1.8)  # spread over the interpreter's start and the imports
COMMANDS = {
    "live": ["live", "--source", "testpattern:64x48", "--no-preview", "--stats", "STATS", "--method", "candy"],
    "info": ["info"],
    "bench": ["bench", "speed", "--method", "candy", "--seconds", "30"],
}


LIVE_ARGV = ["live", "--source", "testpattern:64x48", "--no-preview", "--method", "candy", "--stats"]


def interrupted(argv: list[str], delay: float) -> subprocess.CompletedProcess:
    process = subprocess.Popen([sys.executable, "-m", "stylize", *argv], cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(argv, process.returncode, "", stderr)


@pytest.mark.parametrize("verb", COMMANDS)
def test_ctrl_c_while_starting_is_one_line_and_exit_130(verb, tmp_path):
    argv = [str(tmp_path / "live.json") if word == "STATS" else word for word in COMMANDS[verb]]
    caught = 0
    for delay in DELAYS:
        result = interrupted(argv, delay)
        if result.stderr.startswith("Fatal Python error: init_import_site"):
            continue  # the interpreter itself was still starting (importing `site`): no program ran yet
        assert "Traceback" not in result.stderr and "KeyboardInterrupt" not in result.stderr, (delay, result.stderr)
        if result.returncode == 0:  # `info` may finish before the signal comes
            continue
        lines = result.stderr.strip().splitlines()
        if result.returncode == -signal.SIGINT and not lines:  # before Python set up its handler: silent
            continue
        # Killed by the signal after saying so (a native library deferred it), the shell shows 130 too.
        assert result.returncode in (130, -signal.SIGINT), (delay, result.stderr)
        # One line about the interrupt, last; a verb that got going may have said what it started before it.
        assert lines[-1].endswith(("interrupted", "(interrupted)")), (delay, result.stderr)
        assert sum("interrupted" in line for line in lines) == 1, (delay, result.stderr)
        caught += 1
    assert caught >= 2  # the signal did land during the start more than once


def test_ctrl_c_inside_a_lazy_native_import_is_the_interrupt_line(monkeypatch, capsys, tmp_path):
    # A Ctrl-C during onnxruntime's first import (backends.create) raises an ImportError from the KeyboardInterrupt.
    from stylize.realtime import backends
    from stylize import cli

    def interrupted_import():
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as interrupt:
            raise ImportError("initialization failed") from interrupt

    monkeypatch.setattr(backends, "create", lambda name: interrupted_import())
    code = cli.main([*LIVE_ARGV, str(tmp_path / "live.json")])
    assert code == 130
    assert capsys.readouterr().err.strip().splitlines() == ["stylize live: interrupted"]


def test_an_import_error_of_its_own_is_not_taken_for_an_interrupt(monkeypatch, tmp_path):
    from stylize.realtime import backends
    from stylize import cli

    def broken_import(name):
        raise ImportError("libonnxruntime.so: cannot open shared object file")

    monkeypatch.setattr(backends, "create", broken_import)
    with pytest.raises(ImportError, match="cannot open"):
        cli.main([*LIVE_ARGV, str(tmp_path / "live.json")])
