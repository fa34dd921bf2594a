"""The README's two commands stay true: CI runs the test command verbatim."""
import doctest
import os
import re

from helpers import REPO


def _commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)
    return [line for block in blocks for line in block.splitlines() if line.startswith("python3 -m venv")]


def test_readme_has_the_two_fresh_machine_commands():
    commands = _commands()
    assert len(commands) == 2
    setup_and_run, setup_and_test = commands
    assert "torch==2.13.0" in setup_and_run and "stylize image" in setup_and_run
    assert "torch==2.13.0" in setup_and_test and "pytest" in setup_and_test


def test_ci_runs_the_readme_test_command_verbatim():
    test_command = _commands()[1]
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def test_the_python_example_runs(tmp_path, shared, weights_dir):
    """The README's Python section, run as a doctest from a folder beside ../shared."""
    text = (REPO / "README.md").read_text()
    section = text.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    example = "\n".join(re.findall(r"```python\n(.*?)```", section, flags=re.S))
    assert ">>> import stylize" in example
    (tmp_path / "shared").symlink_to(shared)
    work = tmp_path / "work"
    work.mkdir()
    test = doctest.DocTestParser().get_doctest(example, {}, "README.md ## Python", "README.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    previous = os.getcwd()
    os.chdir(work)
    try:
        runner.run(test)
    finally:
        os.chdir(previous)
    assert runner.summarize(verbose=False).failed == 0
    assert (work / "bunny.mp4").is_file()
