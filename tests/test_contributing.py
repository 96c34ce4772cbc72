"""CONTRIBUTING.md works as written: a newcomer following it alone adds a page that builds and verifies.

Its shell blocks run in order, in a scratch copy of the repository, except the ones a skip marker says must
not run here. A block titled with a file path (```python title="snippets/..."```) is what the guide tells the
reader to add to that file: it is appended there at that point, as the reader would.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from harness.page import PYTHON, SHELLS, parse_page
from harness.snippets import Site
from tests.conftest import REPO
from tests.repo_copy import copy_repo

GUIDE = REPO / "CONTRIBUTING.md"


def read_guide(guide: Path = GUIDE):
    """The guide, parsed. Its includes name files the guide itself creates, so a missing one is no error here."""
    return parse_page(guide, Site(REPO, REPO / "docs", {"base_path": ["."], "check_paths": False}))


def steps(guide: Path) -> list[tuple[str, int, str, str | None]]:
    """The guide's steps in order: ("run", line, commands, skip reason) or ("add", line, text, file path)."""
    page = read_guide(guide)
    shell = {block.line: block for block in page.blocks if block.language in SHELLS}
    found = []
    for fence in page.fences:
        if fence.line in shell:
            found.append(("run", fence.line, shell[fence.line].code, shell[fence.line].skip_reason))
        elif fence.title and "/" in fence.title:
            text = "".join(line + "\n" for line in page.lines[fence.line:fence.end_line - 1])
            found.append(("add", fence.line, text, fence.title))
    return found


@pytest.mark.slow
def test_the_guide_adds_a_page_that_builds_and_verifies(tmp_path):
    root = copy_repo(tmp_path / "repo")
    env = dict(os.environ, HF_HUB_OFFLINE="1", NO_MKDOCS_2_WARNING="1")
    env.pop("PYTHONPATH", None)  # the copy's own harness
    ran, skipped = [], []
    for kind, line, text, extra in steps(GUIDE):
        where = f"CONTRIBUTING.md:{line}"
        if kind == "add":
            target = root / extra
            assert target.is_file(), f"{where}: the guide adds to {extra}, which does not exist at this point"
            with target.open("a", encoding="utf-8") as file:
                file.write("\n" + text)
            continue
        if extra:  # a skip reason
            skipped.append(text.strip())
            continue
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", text], cwd=root, env=env, capture_output=True,
                                text=True, timeout=600)
        assert result.returncode == 0, f"{where}: {text.strip()}\n{result.stdout}\n{result.stderr}"
        ran.append((text.strip(), result.stdout))
    commands = [command for command, _ in ran]
    # The guide's own path, followed: a new page, its Output filled in by the harness, then verified and built.
    assert commands[0].startswith(".venv/bin/python -m harness new-page using-transformers/batching ")
    update = next(out for command, out in ran if "--update-outputs" in command)
    assert "docs/using-transformers/batching.md:19: Output rewritten\n    + 2 sequences of 3 tokens\n" in update
    assert "--update-outputs: 1 block rewritten in 1 page, 0 refused" in update
    verify = next(out for command, out in ran if command == ".venv/bin/pytest docs/using-transformers/batching.md")
    assert "blocks: 2 verified, 0 structural, 0 unchecked, 0 skipped, 0 failed, 0 not run" in verify
    assert any("mkdocs build --strict" in command for command in commands)
    assert "make serve" in skipped and ".venv/bin/pytest docs" in skipped
    # The Output the guide shows under its code is what the harness wrote into the page.
    shown = next(block for block in read_guide().blocks if block.language in PYTHON).output.text
    page = (root / "docs/using-transformers/batching.md").read_text(encoding="utf-8")
    assert shown == "2 sequences of 3 tokens\n" and page.endswith(f'```text title="Output"\n{shown}```\n')
