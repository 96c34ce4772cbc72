"""Pages written for pytest-codeblocks run unchanged: the harness reads and runs them as pytest-codeblocks does.

Held to pytest-codeblocks itself: its own parser (installed) on every page both can read, its own test suite
(from its sdist, fetched at test time) run through the harness.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import pytest_codeblocks

from codeblocks_support import RECORDER, counts, kinds, sdist, suite_cases
from harness.page import parse_page
from harness.plugin import LANGUAGES
from harness.snippets import Site
from harness_testing import repo, summary  # noqa: F401  (fixture)
from tests.conftest import REPO

PAGES_DIR = Path(__file__).parent / "codeblocks_pages"


@pytest.fixture(scope="module")
def suite_sdist(request, tmp_path_factory) -> Path:
    """pytest-codeblocks 0.17.0's sdist, kept in pytest's cache (a temp dir when the cache is off)."""
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    where = cache.mkdir("pytest-codeblocks-sdist") if cache is not None else tmp_path_factory.mktemp("sdist")
    return sdist(Path(where))


# --- The suite of pytest-codeblocks, run through the harness ----------------------------------------

def test_pytest_codeblocks_suite_gives_the_outcomes_it_asserts(repo, suite_sdist):
    cases = suite_cases(suite_sdist)
    # The suite's 31 tests that run pytest over a Markdown string (7 of them shell pages); its 2 others call
    # its parser directly.
    assert (len(cases), sum(case.shell for case in cases)) == (31, 7)
    for case in cases:
        repo.write(case.file, case.markdown)
    repo.write("conftest.py", RECORDER)
    repo.run("--codeblocks", *[case.file for case in cases])
    found = json.loads((repo.root / "outcomes.json").read_text())["counts"]
    wrong = []
    for case in cases:
        expected, actual = counts(case.outcomes), counts(found.get(case.file, {}))
        # pytest-codeblocks merges a cont chain into one test; the harness has one item per block: the same
        # kinds of outcome, not the same numbers. Elsewhere the numbers agree too.
        same = kinds(expected) == kinds(actual) if "codeblocks:cont" in case.markdown else expected == actual
        if not same:
            wrong.append(f"{case.module}::{case.name}: asserts {kinds(expected) or 'nothing'} {expected}, "
                         f"harness gave {actual}")
    assert wrong == [], "\n".join(wrong)


# --- pytest-codeblocks' own parser agrees with the harness's on every page both can read ------------

def codeblocks_view(text: str) -> list[tuple] | None:
    """What pytest-codeblocks finds in `text` and would run; None when its parser cannot read the page."""
    try:
        with warnings.catch_warnings():  # its deprecated spellings warn: they are what some pages are written in
            warnings.simplefilter("ignore", DeprecationWarning)
            blocks = pytest_codeblocks.extract_from_buffer(io.StringIO(text))
    except RuntimeError:
        return None
    return [(b.lineno, b.syntax, None if "--8<--" in b.code else b.code, [m.strip() for m in b.marks],
             b.expected_output, b.expected_output_ignore_whitespace, _module(b.importorskip))
            for b in blocks if b.syntax in LANGUAGES["codeblocks"]]


def harness_view(path: Path, text: str) -> list[tuple]:
    """The same facts from the harness's parser: a cont chain as one block, as pytest-codeblocks merges it."""
    page = parse_page(path, Site.load(REPO), text=text)
    view = []
    for block in page.blocks:
        if block.continues and view:
            line, language, code, marks, output, ignore, module = view[-1]
            ignore = ignore or bool(block.output and block.output.ignore_whitespace)
            view[-1] = (line, language, None if code is None else code + block.code, marks,
                        _explicit(page, block) or output, ignore, module)
            continue
        if block.info != block.language or block.language not in LANGUAGES["codeblocks"]:
            view.append(None)  # pytest-codeblocks leaves it alone (`py`, or `python title=...`)
            continue
        raw = "\n".join(page.lines[block.line:block.end_line - 1])
        view.append((block.line, block.language, None if "--8<--" in raw else block.code, block.marks,
                     _explicit(page, block), bool(block.output and block.output.ignore_whitespace), block.importorskip))
    return [entry for entry in view if entry is not None]


def _explicit(page, block) -> str | None:
    """The block's expected output when a pytest-codeblocks marker made it (not the harness's Output title)."""
    if block.output is None:
        return None
    above = next((line for line in reversed(page.lines[:block.output.line - 1]) if line.strip()), "")
    return block.output.text if "pytest-codeblocks:expected-output" in above else None


def _module(name: str | None) -> str | None:
    return name.strip("'\"") if name else name


def project_and_test_pages() -> list[Path]:
    docs = sorted(p for p in (REPO / "docs").rglob("*.md") if "notebooks" not in p.parts)
    return [*docs, REPO / "README.md", *sorted(PAGES_DIR.glob("*.md"))]


@pytest.mark.parametrize("path", project_and_test_pages(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_harness_finds_what_pytest_codeblocks_finds(path):
    text = path.read_text(encoding="utf-8")
    theirs = codeblocks_view(text)
    if theirs is None:
        pytest.skip("pytest-codeblocks' parser cannot read this page")
    assert harness_view(path, text) == theirs


def test_harness_finds_what_pytest_codeblocks_finds_in_its_own_suite(suite_sdist, tmp_path):
    checked = 0
    for case in suite_cases(suite_sdist):
        theirs = codeblocks_view(case.markdown)
        if theirs is None:  # the unclosed fence, the cont with nothing to continue: errors on both sides
            continue
        page = tmp_path / case.file
        page.write_text(case.markdown, encoding="utf-8")
        assert harness_view(page, case.markdown) == theirs, case.name
        checked += 1
    assert checked == 29


# --- Real pages under `--codeblocks`: the same kinds of outcome as pytest-codeblocks itself ------------

# Where the harness differs on purpose (README.md, "Where the harness differs on purpose"): page -> (the kinds
# pytest-codeblocks gives, the kinds the harness gives).
DIFFERENCES = {
    # pytest-codeblocks wraps the exception in RuntimeError, so raises=ZeroDivisionError does not match it.
    "xfail_raises.md": ({"failed"}, {"xfailed"}),
}
# Plugins installed in this environment that neither run needs (as the project's addopts switch them off).
QUIET = ["-p", "no:cacheprovider", "-p", "no:nbval", "-p", "no:nbmake", "-p", "no:hypothesispytest",
         "-p", "no:anyio", "-p", "no:platformdirs"]


def test_codeblocks_option_gives_the_kinds_of_outcome_pytest_codeblocks_gives(repo, tmp_path):
    pages = sorted(PAGES_DIR.glob("*.md"))
    # pytest-codeblocks with its own plugin, in a directory of its own and a process of its own.
    theirs_dir = tmp_path / "pytest-codeblocks"
    theirs_dir.mkdir()
    (theirs_dir / "pytest.ini").write_text("[pytest]\n")
    (theirs_dir / "conftest.py").write_text(RECORDER)
    for page in pages:
        (theirs_dir / page.name).write_bytes(page.read_bytes())
        repo.write(f"pages/{page.name}", "")
        (repo.root / "pages" / page.name).write_bytes(page.read_bytes())
    done = subprocess.run([sys.executable, "-m", "pytest", "--codeblocks", *QUIET, *[p.name for p in pages]],
                          cwd=theirs_dir, capture_output=True, text=True, timeout=600,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert "codeblocks" in done.stdout or "passed" in done.stdout, done.stdout + done.stderr
    theirs = json.loads((theirs_dir / "outcomes.json").read_text())["counts"]
    repo.write("conftest.py", RECORDER)
    repo.run("--codeblocks", *[f"pages/{p.name}" for p in pages])
    ours = json.loads((repo.root / "outcomes.json").read_text())
    table, wrong = [], []
    for page in pages:
        their_kinds = kinds(theirs.get(page.name, {}))
        mine = dict(ours["counts"].get(f"pages/{page.name}", {}))
        # A cont chain is one test there: the rest of a broken chain, "not run" here, has no test there.
        mine["skipped"] = mine.get("skipped", 0) - ours["verdicts"].get(f"pages/{page.name}", []).count("not run")
        my_kinds = kinds(mine)
        table.append(f"{page.name}: pytest-codeblocks {sorted(their_kinds)}, harness {sorted(my_kinds)}")
        if (their_kinds, my_kinds) != DIFFERENCES.get(page.name, (their_kinds, their_kinds)):
            wrong.append(table[-1])
    print("\n".join(table))
    assert wrong == [], "\n".join(wrong)
    # The pages cover what they are for: every kind of outcome occurs.
    assert set().union(*(kinds(counts) for counts in theirs.values())) == {"passed", "failed", "skipped",
                                                                          "xfailed", "xpassed"}
