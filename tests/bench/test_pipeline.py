"""`stylize bench pipeline` inside the shared parser: its own --help, --debug, -o; a tiny real run."""
from __future__ import annotations

import json

import pytest

from helpers import run_cli
from stylize.cli import main
from stylize.errors import OptionError


def test_help_is_the_shared_parsers():
    result = run_cli("bench", "pipeline", "--help")
    assert result.returncode == 0
    text = result.stdout.decode()
    for option in ("--debug", "-o FOLDER, --output FOLDER", "--resolution WxH", "--seconds", "examples:"):
        assert option in text


def test_a_tiny_run_writes_json_and_plot_into_the_current_directory(in_scratch_dir, capsys):
    assert main(["bench", "pipeline", "--seconds", "0.5", "--repeats", "1", "--method", "candy",
                 "--resolution", "48x32", "--fps", "10", "--name", "tiny"]) == 0
    out = capsys.readouterr().out
    folder = in_scratch_dir / "bench-results"
    assert f"wrote {folder / 'tiny.json'}" in out and f"wrote {folder / 'tiny.png'}" in out
    saved = json.loads((folder / "tiny.json").read_text())
    assert saved["settings"]["size"] == [48, 32] and saved["settings"]["method"] == "candy"
    assert saved["naive"]["frames_out"] > 0 and saved["pipeline"]["frames_out"] > 0
    assert (folder / "tiny.png").stat().st_size > 0


@pytest.mark.parametrize("args, expected", [
    (["--method", "gatys"], "--method must be a fast net"),
    (["--resolution", "48"], "--resolution must look like WIDTHxHEIGHT"),
    (["--name", "sub/run"], "--name is a file stem"),
    (["--repeats", "0"], "--repeats must be at least 1"),
])
def test_bad_options_are_one_line_and_exit_2(args, expected, tmp_path, capsys):
    assert main(["bench", "pipeline", "-o", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err
    assert not list(tmp_path.iterdir())


def test_debug_shows_the_exception(tmp_path):
    with pytest.raises(OptionError, match="fast net"):
        main(["bench", "pipeline", "--debug", "--method", "gatys", "-o", str(tmp_path)])
