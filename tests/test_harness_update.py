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


def test_update_rewrites_the_exception_line_and_keeps_the_traceback(repo):
    page = repo.write("docs/page.md", """
        <!-- pytest-codeblocks:expect-exception -->
        ```python
        print("loading")
        raise FileNotFoundError("config.json is missing")
        ```

        ```text title="Output"
        loading
        Traceback (most recent call last):
          File "train.py", line 3, in <module>
            load()
        FileNotFoundError: model.bin is missing
        ```

        <!-- pytest-codeblocks:expect-exception -->
        ```python
        1 / 0
        ```

        ```text title="Output"
        ZeroDivisionError: division by one
        ```
    """)
    expected = page.read_text().replace("model.bin is missing", "config.json is missing").replace(
        "division by one", "division by zero")
    update = repo.run("docs", "--update-outputs")
    update.assert_outcomes(xfailed=2)  # pytest's word for a block that raised as expected (its Output holds)
    assert page.read_text() == expected
    assert summary(repo.run("docs")) == "blocks: 2 verified, 0 structural, 0 unchecked, 0 skipped, 0 failed, 0 not run"


def test_update_refuses_blocks_one_by_one_and_rewrites_the_rest(repo):
    refused = repo.write("docs/a_refused.md", """
        ```python
        print(b"na\\xefve".decode("utf-8", errors="surrogateescape"))
        ```

        ```text title="Output"
        naïve
        ```

        ```python
        lengths = {"short": 3, "long": 12}
        lengths["long"]
        ```

        ```text title="Output"
        12
        ```

        ```python
        print("ding\\a")
        ```

        ```text title="Output"
        ding
        ```

        ```python
        print("drifted")
        ```

        ```text title="Output"
        stale
        ```
    """)
    other = repo.write("docs/b_other.md", """
        ```python
        print("fresh")
        ```

        ```text title="Output"
        stale
        ```
    """)
    before = refused.read_text()
    report_path = repo.root / "report.json"
    result = repo.run("docs", "--update-outputs", f"--verification-report={report_path}")
    result.assert_outcomes(passed=2, failed=3)
    output = result.stdout.str()
    assert "docs/a_refused.md:5: line 1 of the output is not text a page can store: '\\udcef' is a lone surrogate" \
        in output
    assert "docs/a_refused.md:14: the block printed nothing, and an empty Output block would check nothing" in output
    assert "docs/a_refused.md:22: line 1 of the output has the control character '\\x07'" in output
    assert "UnicodeEncodeError" not in output
    assert "expected `naïve`, got `na\\udcefve`" in output  # shown as an escape, never as a raw byte
    assert summary(result) == "blocks: 2 verified, 0 structural, 0 unchecked, 0 skipped, 3 failed, 0 not run"
    assert "docs/b_other.md:5: Output rewritten" in result.outlines
    assert [line for line in result.outlines if line.startswith("docs/a_refused.md:")
            and line.endswith(": Output rewritten")] != []
    assert "--update-outputs: 2 blocks rewritten in 2 pages, 3 refused: " in output
    assert refused.read_text() == before.replace("stale", "drifted")  # the refused blocks stay as they were
    assert other.read_text().count("fresh") == 2
    assert report_path.exists() and len(json.loads(report_path.read_text())["blocks"]) == 5
    assert result.ret == 1


def test_refusal_reasons_are_true_long_fences_and_escaped_includes(repo):
    page = repo.write("docs/page.md", """
        ```python
        print("A fenced example:")
        print("```python")
        print("```")
        ```

        ````text title="Output"
        A fenced example:
        ````

        ```python
        print('--8<-- "snippets/example.py"')
        print("shown as printed")
        ```

        ```text title="Output"
        ;--8<-- "snippets/other.py"
        shown as printed
        ```

        ```python
        print("\\x1b[1;32mgreen\\x1b[0m and plain")
        ```

        ```text title="Output"
        blue and plain
        ```
    """)
    result = repo.run("docs", "--update-outputs")
    result.assert_outcomes(passed=3)
    text = page.read_text()
    assert '````text title="Output"\nA fenced example:\n```python\n```\n````' in text
    assert ';--8<-- "snippets/example.py"\nshown as printed' in text  # still text, not an include
    assert "green and plain" in text and "\x1b" not in text  # what a terminal shows
    assert summary(repo.run("docs")) == "blocks: 3 verified, 0 structural, 0 unchecked, 0 skipped, 0 failed, 0 not run"


def test_update_rewrites_each_statement_of_a_session_under_its_prompt(repo):
    page = repo.write("docs/page.md", """
        !!! example "A session in an admonition"

            ```pycon
            >>> sizes = {"base": 768}
            >>> sizes["base"]
            512
            >>> sizes["large"] = 1024
            >>> print(sizes["large"])
            >>> print("a\\n\\nb")
            a
            b
            >>> sizes["huge"]
            Traceback (most recent call last):
              File "<stdin>", line 1, in <module>
            KeyError: 'giant'
            >>> sizes  # the prompt's value
            {'base': 768}
            ```

        ```python
        >>> print(">>> not a prompt")
        ```
    """)
    expected = page.read_text().replace("    512\n", "    768\n").replace(
        '>>> print(sizes["large"])\n', '>>> print(sizes["large"])\n    1024\n').replace(
        "    a\n    b\n", "    a\n    <BLANKLINE>\n    b\n").replace("KeyError: 'giant'", "KeyError: 'huge'").replace(
        "{'base': 768}", "{'base': 768, 'large': 1024}")
    result = repo.run("docs", "--update-outputs")
    result.assert_outcomes(passed=1, failed=1)
    assert "docs/page.md:21: line 1 of the output starts with >>>, which a session reads as a prompt" \
        in result.stdout.str()
    assert page.read_text() == expected
    again = repo.run("docs")
    assert summary(again) == "blocks: 1 verified, 0 structural, 0 unchecked, 0 skipped, 1 failed, 0 not run"


# One page of each kind an update could damage: (page, documented lines an update must replace).
EVERY_KIND = {
    "docs/a_exception.md": ("""
        <!-- pytest-codeblocks:expect-exception -->
        ```python
        print("reading the vocabulary")
        open("no-such-vocab.txt")
        ```

        ```text title="Output"
        reading the vocabulary
        Traceback (most recent call last):
          File "tokenize.py", line 2, in <module>
        FileNotFoundError: vocab.txt
        ```
    """, ["FileNotFoundError: vocab.txt"]),
    "docs/b_numbers.md": ("""
        ```python
        import torch
        print(torch.tensor([0., 1.]))
        print({"third": 1 / 3})
        ```

        ```text title="Output"
        tensor([1., 0.])
        {'third': 0.33}
        ```

        ```python
        print({"[PAD]", "[CLS]", "[SEP]"})
        ```

        ```text title="Output"
        {'[SEP]', '[PAD]', '[CLS]'}
        ```
    """, ["tensor([1., 0.])", "{'third': 0.33}"]),
    "docs/c_json.md": ("""
        ```python
        import json
        print(json.dumps({"heads": 12, "layers": 6}, indent=2))
        ```

        ```json title="Output"
        {
          "heads": 12,
          "layers": 12
        }
        ```
    """, ['  "layers": 12']),
    "docs/d_session.md": ("""
        ```pycon
        >>> total = 0
        >>> for n in [1, 2, 3]:
        ...     total += n
        >>> total
        7
        >>> print("done")
        done
        ```
    """, ["7"]),
    "docs/e_refused.md": ("""
        ```python
        print("caf" + b"\\xe9".decode("utf-8", errors="surrogateescape"))
        ```

        ```text title="Output"
        café
        ```

        ```python
        counts = {"a": 1}
        counts["a"]
        ```

        ```text title="Output"
        1
        ```
    """, []),
    "docs/f_fences.md": ("""
        ```python
        print("```")
        print('--8<-- "snippets/none.py"')
        print("\\x1b[33mwarm\\x1b[0m")
        ```

        ````text title="Output"
        ```
        ;--8<-- "snippets/none.py"
        cold
        ````
    """, ["cold"]),
}


def test_one_update_over_every_kind_loses_no_documented_line_that_should_stay(repo):
    pages = {name: repo.write(name, text) for name, (text, _) in EVERY_KIND.items()}
    before = {name: path.read_text().splitlines() for name, path in pages.items()}
    result = repo.run("docs", "--update-outputs")
    assert summary(result) == "blocks: 6 verified, 0 structural, 0 unchecked, 0 skipped, 2 failed, 0 not run"
    for name, path in pages.items():
        after = path.read_text().splitlines()
        lost = [line for line in before[name] if line not in after]
        assert lost == EVERY_KIND[name][1], name
    assert summary(repo.run("docs")) == "blocks: 6 verified, 0 structural, 0 unchecked, 0 skipped, 2 failed, 0 not run"


def test_update_of_a_session_keeps_bare_continuation_lines_and_refuses_output_read_as_one(repo):
    page = repo.write("docs/loop.md", """
        ```pycon
        >>> for n in range(3):
        ...     print(n * n)
        ...
        0
        1
        5
        >>> "total"
        'sum'
        ```

        ```pycon
        >>> print("... and so on")
        ```
    """)
    expected = page.read_text().replace("5\n", "4\n").replace("'sum'", "'total'")
    result = repo.run("docs", "--update-outputs")
    result.assert_outcomes(passed=1, failed=1)
    assert "docs/loop.md:13: the output starts with ..., which a session reads as the statement going on" \
        in result.stdout.str()
    assert page.read_text() == expected  # the bare `...` line stays; only the outputs changed
    again = repo.run("docs/loop.md")
    assert summary(again).startswith("blocks: 1 verified, 0 structural, 0 unchecked, 0 skipped, 1 failed")


def test_a_chained_traceback_compares_the_last_exception_and_an_update_keeps_the_chain(repo):
    documented = """
        <!-- pytest-codeblocks:expect-exception -->
        ```python
        try:
            {}["missing"]
        except KeyError as error:
            raise ValueError("no such setting") from error
        ```

        ```text title="Output"
        Traceback (most recent call last):
          File "<stdin>", line 2, in <module>
        KeyError: 'missing'

        The above exception was the direct cause of the following exception:

        Traceback (most recent call last):
          File "<stdin>", line 4, in <module>
        ValueError: MESSAGE
        ```
    """
    right = repo.write("docs/right.md", documented.replace("MESSAGE", "no such setting"))
    assert summary(repo.run("docs/right.md")).startswith("blocks: 1 verified")
    wrong = repo.write("docs/wrong.md", documented.replace("MESSAGE", "no such option"))
    assert "1 failed" in summary(repo.run("docs/wrong.md"))
    repo.run("docs/wrong.md", "--update-outputs")
    assert wrong.read_text() == right.read_text()  # the chain stays; only the last exception line changed


def test_update_says_a_block_printed_only_blank_space_not_nothing(repo):
    repo.write("docs/blank.md", """
        ```python
        print("   ")
        print()
        ```

        ```text title="Output"
        stale
        ```
    """)
    output = repo.run("docs/blank.md", "--update-outputs").stdout.str()
    assert ("docs/blank.md:6: the block printed only blank space or terminal codes (5 characters), which an Output "
            "block cannot show: it would check nothing") in output
    assert "printed nothing" not in output

