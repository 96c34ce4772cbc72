"""The README's newcomer path, followed in order on a fresh clone of the committed tree.

Installing torch or everything of requirements-test.txt takes minutes and the network: the commands that
install are replaced by what proves they would work (the pip they call exists, `make` would not rebuild
the virtual environment under them). Everything else runs as written.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO

BASH_BLOCK = re.compile(r"^```bash\n(?P<body>.*?)^```", re.S | re.M)


def readme_section(title: str) -> str:
    """The README text under the heading `title`, up to the next heading of any level."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = re.search(rf"^#+ {re.escape(title)}\n", text, re.M)
    assert start, f"README.md has no section {title!r}"
    end = re.search(r"^#+ ", text[start.end():], re.M)
    return text[start.end(): start.end() + end.start() if end else len(text)]


def commands(section: str) -> list[str]:
    """The commands of the section's bash blocks, in order, comments dropped."""
    found = []
    for block in BASH_BLOCK.finditer(readme_section(section)):
        for line in block["body"].splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                found.append(line)
    return found


@pytest.fixture
def fresh_clone(tmp_path):
    """A `git clone` of the current commit: what a newcomer has, with no .venv."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone)], check=True, timeout=120)
    assert not (clone / ".venv").exists()
    return clone


def test_cpu_torch_steps_work_in_order_on_a_fresh_clone(fresh_clone):
    steps = commands("CPU-only PyTorch")
    assert [s.split()[0] for s in steps] == ["python3", ".venv/bin/pip", "make"], steps
    create, install, test = steps
    # 1. As written, with the interpreter running these tests standing in for `python3`.
    subprocess.run([sys.executable, *create.split()[1:]], cwd=fresh_clone, check=True, timeout=300)
    # 2. The pip the README calls is there now (the step failed on a fresh clone when it came first).
    pip = fresh_clone / install.split()[0]
    assert subprocess.run([str(pip), "--version"], cwd=fresh_clone, capture_output=True, timeout=120).returncode == 0
    assert "torch==" in install and "--index-url https://download.pytorch.org/whl/cpu" in install
    # 3. `make test` keeps that virtual environment (and the torch in it): it would not create another.
    dry = subprocess.run(["make", "-n", *test.split()[1:]], cwd=fresh_clone, capture_output=True, text=True,
                         timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert "-m venv" not in dry.stdout, dry.stdout
    assert "pip install --quiet -r requirements-test.txt" in dry.stdout


def test_requirements_files_split_serving_from_testing():
    serving = "\n".join(line.split("#")[0] for line in (REPO / "requirements.txt").read_text().splitlines())
    testing = (REPO / "requirements-test.txt").read_text(encoding="utf-8")
    assert "mkdocs-material==" in serving and "torch" not in serving and "transformers" not in serving
    assert re.search(r"^-r requirements\.txt$", testing, re.M)
    assert not (REPO / "requirements-site.txt").exists()


def test_readme_says_offline_before_the_first_hub_run():
    """HF_HUB_OFFLINE=1 is explained before any command that runs a page's code."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    first_run = text.index(".venv/bin/python snippets/")
    assert "HF_HUB_OFFLINE=1" in text[:first_run] and "50 seconds" in text[:first_run]
