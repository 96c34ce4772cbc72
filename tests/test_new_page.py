"""`python -m harness new-page`: one step to a page that builds and verifies at once."""
from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.snippets import read_config
from tests.conftest import run_mkdocs_build
from tests.repo_copy import copy_repo


def run(root: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """`python -m ARGS` in the copy `root`, as a maintainer would run it there."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", NO_MKDOCS_2_WARNING="1")
    env.pop("PYTHONPATH", None)  # the copy's own harness, not this checkout's
    return subprocess.run([sys.executable, "-m", *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def copy(tmp_path) -> Path:
    return copy_repo(tmp_path / "repo")


def nav_paths(config_file: Path) -> list[str]:
    """Every page and notebook of the nav, in nav order."""
    def walk(items):
        for item in items:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            yield from (walk(value) if isinstance(value, list) else [value])
    return list(walk(read_config(config_file)["nav"]))


@pytest.mark.slow
def test_a_new_page_builds_and_verifies_right_after(copy, tmp_path):
    before = (copy / "mkdocs.yml").read_text(encoding="utf-8")
    made = run(copy, "harness", "new-page", "using-transformers/batching", "Handling multiple sequences")
    assert made.returncode == 0, made.stderr
    after = (copy / "mkdocs.yml").read_text(encoding="utf-8")
    # Two lines added to mkdocs.yml, nothing else touched (comments and !!python/name tags included).
    changes = [line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[:1] in "+-"]
    assert changes == ["+       - Handling multiple sequences: using-transformers/batching.md",
                       "+       - Handling multiple sequences: notebooks/using-transformers/batching.ipynb"]
    nav = nav_paths(copy / "mkdocs.yml")
    assert nav.index("using-transformers/batching.md") == nav.index("using-transformers/post-processing.md") + 1
    assert nav.index("notebooks/using-transformers/batching.ipynb") == \
        nav.index("notebooks/using-transformers/post-processing.ipynb") + 1

    # The site shows each output's check read from the record: `make verify` records the new page's, then it builds.
    recorded = run(copy, "pytest", "docs", "-p", "no:cacheprovider", "--verification-report", "verification.json")
    assert recorded.returncode == 0, recorded.stdout
    build = run_mkdocs_build(tmp_path / "site", copy / "mkdocs.yml")
    assert build.returncode == 0, build.log
    html = (tmp_path / "site" / "using-transformers" / "batching.html").read_text(encoding="utf-8")
    assert "Handling multiple sequences" in html and 'href="../notebooks/using-transformers/batching.ipynb"' in html

    verified = run(copy, "pytest", "docs/using-transformers/batching.md", "-p", "no:cacheprovider")
    assert verified.returncode == 0, verified.stdout
    assert "blocks: 1 verified, 0 structural, 0 unchecked, 0 skipped, 0 failed, 0 not run" in verified.stdout
    checked = run(copy, "harness", "notebooks", "--check")
    assert checked.returncode == 0, checked.stderr
    cells = json.loads((copy / "docs/notebooks/using-transformers/batching.ipynb").read_text())["cells"]
    assert [cell["outputs"] for cell in cells if cell["cell_type"] == "code"] == \
        [[{"name": "stdout", "output_type": "stream", "text": ["Handling multiple sequences\n"]}]]


def test_a_title_yaml_would_misread_is_quoted(copy):
    title = "Batching: padding & truncation #1"
    assert run(copy, "harness", "new-page", "batching", title).returncode == 0
    config = read_config(copy / "mkdocs.yml")
    pages = [item for item in config["nav"] if isinstance(item, dict) and title in item]
    assert pages == [{title: "batching.md"}]
    assert (copy / "snippets" / "batching.py").read_text().count(repr(title)) == 1


def files(root: Path) -> list[Path]:
    """The copy's files, except the venv link and Python's bytecode caches."""
    return sorted(p.relative_to(root) for p in root.rglob("*") if not {".venv", "__pycache__"} & set(p.parts))


@pytest.mark.parametrize("name, title, message", [
    ("using-transformers/tokenizer", "Again", "docs/using-transformers/tokenizer.md exists already"),
    ("Using Transformers/batching", "Batching", "is not a page name"),
    ("using-transformers/batching.md", "Batching", "is not a page name"),
    ("fine-tuning/batching", "Batching", "no section for docs/fine-tuning/"),
    ("using-transformers/batching", " ", "the title must be one non-empty line"),
])
def test_a_page_that_cannot_be_added_writes_nothing(copy, name, title, message):
    listing = files(copy)
    config = (copy / "mkdocs.yml").read_bytes()
    result = run(copy, "harness", "new-page", name, title)
    assert result.returncode == 2
    assert message in result.stderr
    assert files(copy) == listing
    assert (copy / "mkdocs.yml").read_bytes() == config
