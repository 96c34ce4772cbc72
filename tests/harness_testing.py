"""Helpers for the harness's own tests: a temporary repo with pages, and real pytest runs over it."""
from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from benchmarks.workspace import REPO, project_addopts

PROJECT_ADDOPTS = project_addopts()


class PageRepo:
    """A throwaway repo in pytester's directory: write pages, run the real harness over them."""

    def __init__(self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
        self.pytester = pytester
        self.root = pytester.path
        # The harness is this repo's plugin: the subprocess imports it from here, as `pytest` in the repo does.
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        # The project's own options (the harness plugin, the plugins it switches off), without pytest's cache.
        (self.root / "pytest.ini").write_text(f"[pytest]\naddopts = {PROJECT_ADDOPTS} -p no:cacheprovider\n")

    def write(self, relative: str, text: str, newline: str = "\n") -> Path:
        """Write a file (dedented; `newline` "\\r\\n" for a CRLF file) and return its path."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(textwrap.dedent(text).lstrip("\n").replace("\n", newline).encode("utf-8"))
        return path

    def run(self, *args: str, timeout: float = 240) -> pytest.RunResult:
        """Run pytest with the harness in a subprocess (the plugin forks; in-process runs would share state)."""
        return self.pytester.runpytest_subprocess("-rA", *args, timeout=timeout)

    def report(self, *args: str) -> dict:
        """Run with --verification-report and return the parsed JSON."""
        path = self.root / "report.json"
        self.run(f"--verification-report={path}", *args)
        return json.loads(path.read_text(encoding="utf-8"))


def summary(result: pytest.RunResult) -> str:
    """The `blocks: ...` line of a run."""
    return next(line for line in result.outlines if line.startswith("blocks: "))


@pytest.fixture
def repo(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> PageRepo:
    """A temporary repo for pages, with the harness active."""
    return PageRepo(pytester, monkeypatch)
