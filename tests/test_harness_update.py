"""`--update-outputs` rewrites only out-of-tolerance Output blocks, byte-exact elsewhere, atomically."""
from __future__ import annotations

import os
import stat

import pytest

from harness.page import parse_page
from harness.rewrite import Rewrite, RewriteError, apply
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
    assert "outputs updated: docs/page.md" in update.stdout.str()
    assert page.read_bytes() == expected  # the 0.3 within tolerance stays 0.3: no churn
    assert stat.S_IMODE(page.stat().st_mode) == 0o640
    assert page.stat().st_ino != inode  # replaced by rename, never written in place
    assert [p.name for p in page.parent.iterdir() if p.name.endswith(".tmp")] == []

    again = repo.run("docs", "--update-outputs")
    again.assert_outcomes(passed=4)
    assert "outputs updated" not in again.stdout.str()
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
