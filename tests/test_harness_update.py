"""`--update-outputs` rewrites only out-of-tolerance Output blocks, byte-exact elsewhere, atomically."""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from harness.page import parse_page
from harness.rewrite import Rewrite, RewriteError, apply, diff, fcntl, leftovers, remove_leftover, write_atomic
from harness_testing import REPO
from harness_testing import repo, summary  # noqa: F401  (fixture)

PAGE = """
    # Updating ✨

    !!! example "In an admonition"

        ```python
        print("new line one")
        print()
        print("new line three")
        ```

        ```text title="Output"
        old output
        ```

    === "A tab"

        ```python
        print(0.30001)
        ```

        ```text title="Output"
        0.3
        ```

    ```python
    print("no output block: none is created")
    ```

    ```python
    print(round(2 / 3, 4))
    ```

    ```text title="Output"
    0.5
    ```

    Trailing text 🤗
"""

UPDATED = PAGE.replace("""
        ```text title="Output"
        old output
        ```""", """
        ```text title="Output"
        new line one

        new line three
        ```""").replace("""
    ```text title="Output"
    0.5
    ```""", """
    ```text title="Output"
    0.6667
    ```""")


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_update_rewrites_only_what_is_out_of_tolerance_keeps_indentation_and_line_endings(repo, newline):
    page = repo.write("docs/page.md", PAGE, newline)
    os.chmod(page, 0o640)
    inode = page.stat().st_ino
    expected = repo.write("expected.md", UPDATED, newline).read_bytes()

    first = repo.run("docs")
    first.assert_outcomes(passed=2, failed=2)

    update = repo.run("docs", "--update-outputs")
    update.assert_outcomes(passed=4)
    assert "docs/page.md:11: Output rewritten" in update.outlines
    assert page.read_bytes() == expected  # the 0.3 within tolerance stays 0.3: no churn
    assert stat.S_IMODE(page.stat().st_mode) == 0o640
    assert page.stat().st_ino != inode  # replaced by rename, never written in place
    assert [p.name for p in page.parent.iterdir() if p.name.endswith(".tmp")] == []

    again = repo.run("docs", "--update-outputs")
    again.assert_outcomes(passed=4)
    assert "Output rewritten" not in again.stdout.str()
    assert "--update-outputs: 0 blocks rewritten in 0 pages, 0 refused" in again.outlines
    assert page.read_bytes() == expected
    assert summary(again) == "blocks: 3 verified, 0 structural, 1 unchecked, 0 skipped, 0 failed, 0 not run"


def test_update_refuses_included_outputs_and_failing_blocks(repo):
    repo.write("snippets/out.txt", "old\n")
    repo.write("docs/page.md", """
        ```python
        print("new")
        ```

        ```text title="Output"
        --8<-- "snippets/out.txt"
        ```

        ```python
        print("partial")
        raise KeyError("boom")
        ```

        ```text title="Output"
        old
        ```
    """)
    before = (repo.root / "docs/page.md").read_bytes()
    result = repo.run("docs", "--update-outputs")
    result.assert_outcomes(failed=2)
    assert "docs/page.md:5: the Output block comes from an include" in result.stdout.str()
    assert (repo.root / "docs/page.md").read_bytes() == before


def _rewrite(path, page, index, new):
    output = page.blocks[index].output
    old = "\n".join(page.lines[output.content_start:output.content_end])
    return Rewrite(str(path), page.name, output.line, output.content_start, output.content_end, output.indent,
                   output.fence, old, new)


def test_a_page_edited_during_the_run_is_left_alone(tmp_path):
    path = tmp_path / "page.md"
    path.write_text('```python\nprint(1)\n```\n\n```text title="Output"\n0\n```\n')
    rewrite = _rewrite(path, parse_page(path), 0, "1\n")
    path.write_text('```python\nprint(1)\n```\n\n```text title="Output"\nedited by hand\n```\n')
    with pytest.raises(RewriteError, match="changed during the run"):
        apply(path, [rewrite])
    assert "edited by hand" in path.read_text()


def test_output_that_would_close_the_fence_is_refused(tmp_path):
    path = tmp_path / "page.md"
    path.write_text('```python\nprint(1)\n```\n\n```text title="Output"\n0\n```\n')
    with pytest.raises(RewriteError, match="would end the fence"):
        apply(path, [_rewrite(path, parse_page(path), 0, "a\n```\nb\n")])


def test_update_prints_each_block_diff_and_one_summary_with_refusals(repo):
    repo.write("snippets/kept.txt", "as included\n")
    repo.write("docs/drift.md", """
        # Drifted outputs

        ```python
        scores = {"positive": 0.9, "negative": 0.1}
        print("scores:", scores)
        print("label: POSITIVE")
        ```

        ```text title="Output"
        scores: {'positive': 0.5, 'negative': 0.5}
        label: POSITIVE
        ```

        ```python
        print("unchanged")
        ```

        ```text title="Output"
        unchanged
        ```
    """)
    repo.write("docs/refused.md", """
        ```python
        print("from the code")
        ```

        ```text title="Output"
        --8<-- "snippets/kept.txt"
        ```

        ```python
        print("10%\\r100%")
        ```

        ```text title="Output"
        100%
        ```
    """)
    result = repo.run("docs", "--update-outputs", f"--verification-report={repo.root / 'report.json'}")
    result.assert_outcomes(passed=2, failed=2)
    lines = result.outlines
    at = lines.index("docs/drift.md:9: Output rewritten")
    assert lines[at + 1:at + 3] == ["    - scores: {'positive': 0.5, 'negative': 0.5}",
                                    "    + scores: {'positive': 0.9, 'negative': 0.1}"]
    summary_line = ("--update-outputs: 1 block rewritten in 1 page, 2 refused: "
                    "the Output block comes from an include; update the included file by hand (docs/refused.md:5); "
                    "the output contains a carriage return (a progress bar?): a page cannot show it "
                    "(docs/refused.md:13)")
    harness_lines = lines[at:lines.index(summary_line) + 1]
    assert harness_lines[-1] == summary_line and summary_line not in harness_lines[:-1]
    update = json.loads((repo.root / "report.json").read_text(encoding="utf-8"))["update"]
    assert update == {
        "rewritten": [{"page": "docs/drift.md", "output_line": 9,
                       "diff": ["- scores: {'positive': 0.5, 'negative': 0.5}",
                                "+ scores: {'positive': 0.9, 'negative': 0.1}"]}],
        "refused": [{"page": "docs/refused.md", "output_line": 5,
                     "why": "the Output block comes from an include; update the included file by hand"},
                    {"page": "docs/refused.md", "output_line": 13,
                     "why": "the output contains a carriage return (a progress bar?): a page cannot show it"}],
        "summary": summary_line,
    }


def test_diff_of_a_long_line_shows_where_it_changed(tmp_path):
    ids = " ".join(str(n) for n in range(200))
    path = tmp_path / "page.md"
    path.write_text(f'```python\nprint(1)\n```\n\n```text title="Output"\n{ids}\n```\n')
    lines = diff(_rewrite(path, parse_page(path), 0, ids.replace("150", "999") + "\nmore\n"))
    assert len(lines) == 3 and lines[2] == "+ more"
    assert lines[0].startswith("- …") and "150" in lines[0] and len(lines[0]) < 110
    assert lines[1].startswith("+ …") and "999" in lines[1] and "150" not in lines[1]


SMALL_PAGE = """
    ```python
    print("ok")
    ```

    ```text title="Output"
    ok
    ```
"""


def test_the_next_run_removes_only_the_harness_temp_files_and_says_so(repo):
    repo.write("docs/guide/page.md", SMALL_PAGE)
    repo.write("README.md", SMALL_PAGE)
    leftovers = [repo.write("docs/guide/.page.md.k2x_9q0a.tmp", "half a page"),
                 repo.write(".README.md.abcd1234.tmp", "half a readme"),
                 repo.write("docs/notebooks/guide/.page.ipynb.zz00yy11.tmp", "{")]
    kept = [repo.write(name, "not ours") for name in (
        "docs/guide/.page.md.tmp", "docs/guide/page.md.abcd1234.tmp", "docs/guide/.page.md.ABCD1234.tmp",
        "docs/guide/.page.md.abcd12345.tmp", "docs/guide/.page.txt.abcd1234.tmp", "docs/guide/.page.md.abcd1234.swp",
        ".elsewhere/.page.md.abcd1234.tmp")]
    result = repo.run("docs", "README.md")
    result.assert_outcomes(passed=2)
    assert [path for path in leftovers if path.exists()] == []
    assert [path for path in kept if not path.exists()] == []
    assert ("removed 3 temp file(s) left by an interrupted update: .README.md.abcd1234.tmp, "
            "docs/guide/.page.md.k2x_9q0a.tmp, docs/notebooks/guide/.page.ipynb.zz00yy11.tmp") in result.outlines
    again = repo.run("docs", "README.md")
    assert "temp file" not in again.stdout.str()


@pytest.mark.skipif(fcntl is None, reason="file locks (fcntl) are POSIX-only")
def test_a_temp_file_still_being_written_is_left_alone(repo):
    repo.write("docs/page.md", SMALL_PAGE)
    busy = repo.write("docs/.page.md.w0rk1ng_.tmp", "being written")
    with open(busy, "rb") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # what write_atomic holds from creation to rename
        result = repo.run("docs")
        assert busy.exists() and "temp file" not in result.stdout.str()
    assert "removed 1 temp file(s)" in " ".join(repo.run("docs").outlines)
    assert not busy.exists()


@pytest.mark.slow
def test_a_sigkill_during_an_update_leaves_a_whole_page_and_the_next_run_cleans_up(repo):
    # A page big enough that writing it takes a while: the kill lands while its temp file exists.
    prose = "".join(f"Line {n} of prose that makes this page large enough to take a while to write.\n"
                    for n in range(60_000))
    page = repo.write("docs/big.md", '```python\nprint("new")\n```\n\n```text title="Output"\nold\n```\n\n' + prose)
    old = page.read_bytes()
    new = old.replace(b"\nold\n", b"\nnew\n", 1)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    update = subprocess.Popen([sys.executable, "-m", "pytest", "docs", "--update-outputs"], cwd=repo.root, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while not leftovers(repo.root / "docs") and update.poll() is None and time.monotonic() < deadline:
            time.sleep(0.0005)
        os.killpg(update.pid, signal.SIGKILL)  # the update run and the page processes it started
    finally:
        update.wait(timeout=30)
    assert update.returncode == -signal.SIGKILL
    left = leftovers(repo.root / "docs")
    assert [path.name for path in left] != [], "the kill missed the page write (no temp file was seen)"
    assert page.read_bytes() in (old, new)  # never half a page
    result = repo.run("docs")
    assert f"removed 1 temp file(s) left by an interrupted update: docs/{left[0].name}" in result.outlines
    assert leftovers(repo.root / "docs") == []


@pytest.mark.skipif(fcntl is None, reason="file locks (fcntl) are POSIX-only")
def test_a_write_whose_temp_file_a_cleaner_took_starts_over(tmp_path, monkeypatch):
    # The one moment a cleaner can take a live temp file: after mkstemp made it, before the writer locked it.
    page = tmp_path / "page.md"
    page.write_text("old\n")
    make, taken = tempfile.mkstemp, []

    def cleaner_comes_first(*args, **kwargs):
        handle, name = make(*args, **kwargs)
        if not taken:
            taken.append(name)
            assert remove_leftover(Path(name))  # another run's cleaner: nobody holds the lock yet
        return handle, name

    monkeypatch.setattr(tempfile, "mkstemp", cleaner_comes_first)
    write_atomic(page, b"new\n")
    assert page.read_bytes() == b"new\n" and taken and leftovers(tmp_path) == []
