"""`python -m harness COMMAND` and `python -m harness.MODULE`: each command answers either way, with the same help."""
from __future__ import annotations

import subprocess
import sys

import pytest

from harness.__main__ import COMMANDS
from tests.conftest import REPO


def _help(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args, "--help"], cwd=REPO, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_command_run_as_its_module_prints_the_same_help(command):
    # A reader who finds harness/notebooks.py may run it as a module: it used to exit 0 having done nothing.
    through_harness, as_module = _help("-m", "harness", command), _help("-m", COMMANDS[command][0])
    assert through_harness.returncode == as_module.returncode == 0, (through_harness.stderr, as_module.stderr)
    assert through_harness.stdout.startswith(f"usage: python -m harness {command}")
    assert as_module.stdout == through_harness.stdout


def test_an_unknown_command_lists_the_commands_and_fails():
    proc = subprocess.run([sys.executable, "-m", "harness", "publish"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert all(command in proc.stderr for command in COMMANDS)


@pytest.mark.parametrize("check", [[], ["--check"]])
def test_notebooks_from_a_folder_without_pages_fails_naming_it(tmp_path, check):
    # It said "0 written, 0 removed" and exited 0: a drift check run from the wrong folder passed.
    proc = subprocess.run([sys.executable, "-m", "harness", "notebooks", "--root", str(tmp_path), *check], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert str(tmp_path / "docs") in proc.stderr and "--root" in proc.stderr
    assert list(tmp_path.iterdir()) == []
