"""The harness finds every Python block of every page, as the site shows it, and reports bad pages clearly."""
from __future__ import annotations

import pytest

from harness_testing import repo, summary  # noqa: F401  (fixture)

GOOD = """
    ```python
    print("fine")
    ```

    ```text title="Output"
    fine
    ```
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_bad_pages_are_collection_errors_naming_page_and_line_and_the_other_pages_still_run(repo, workers):
    repo.write("docs/good.md", GOOD)
    repo.write("docs/unterminated.md", """
        Intro

        ```python
        print(1)
    """)
    repo.write("docs/unknown_marker.md", """
        <!--pytest-codeblocks:frobnicate-->
        ```python
        print(1)
        ```
    """)
    repo.write("docs/skip_without_reason.md", """
        text

        <!-- pytest.mark.skipif("sys.no_such_attribute", reason="x") -->
        ```python
        print(1)
        ```
    """)
    repo.write("docs/missing_snippet.md", """
        ```python
        --8<-- "snippets/nowhere.py:section"
        ```
    """)
    result = repo.run("docs", *workers)
    result.assert_outcomes(passed=1, errors=4)
    assert result.ret == 1
    out = result.stdout.str()
    assert "docs/unterminated.md:3: unterminated ```python fence" in out
    assert "docs/unknown_marker.md:1: unknown marker pytest-codeblocks:frobnicate" in out
    assert "docs/skip_without_reason.md:3: error evaluating 'skipif' condition 'sys.no_such_attribute'" in out
    assert "docs/missing_snippet.md:2:" in out
    assert "blocks: 1 verified" in summary(result)
    assert "4 page(s) could not be read" in summary(result)
    assert "Traceback" not in out  # the page's message, not the harness's internals


def test_only_python_and_shell_blocks_run_and_other_languages_and_outputs_do_not(repo):
    repo.write("docs/langs.md", """
        ```bash
        echo "from $0"
        ```

        ```text
        not python
        ```

        ```json
        {"a": 1}
        ```

        ```py
        print("py")
        ```

        ```text title="Output"
        py
        ```
    """)
    result = repo.run("docs", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["docs/langs.md::line 1 UNCHECKED*", "docs/langs.md::line 13 VERIFIED*"])


def test_pages_outside_docs_run_only_when_named(repo):
    repo.write("docs/page.md", GOOD)
    repo.write("notes/other.md", GOOD.replace("fine", "other"))
    repo.write("README.md", GOOD.replace("fine", "readme"))
    repo.run("docs").assert_outcomes(passed=1)
    result = repo.run("docs", "notes/other.md", "README.md", "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["notes/other.md::line 1 VERIFIED*", "README.md::line 1 VERIFIED*"])


def test_unicode_emoji_titles_admonitions_and_tabs(repo):
    repo.write("docs/fancy.md", """
        # Héllo 🤗 — ünïcode

        ```python title="greet.py"
        word = "héllo 🤗"
        print(word)
        ```

        ```text title="Output"
        héllo 🤗
        ```

        !!! note "Inside an admonition ✨"

            ```python
            print(len(word))
            ```

            ```text title="Output"
            7
            ```

        === "Tab one"

            ```python
            print([word] * 2)
            ```

            ```text title="Output"
            ['héllo 🤗', 'héllo 🤗']
            ```

        === "Tab two"

            Text only. 🎉
    """)
    result = repo.run("docs", "-v")
    result.assert_outcomes(passed=3)
    assert "blocks: 3 verified" in summary(result)


def test_snippet_includes_are_expanded_as_the_site_does(repo):
    repo.write("mkdocs.yml", """
        site_name: test
        markdown_extensions:
          - pymdownx.snippets:
              base_path: ["."]
              check_paths: true
          - pymdownx.superfences
    """)
    repo.write("snippets/page.py", """
        # --8<-- [start:make]
        numbers = [1, 2, 3]
        # --8<-- [end:make]
        # --8<-- [start:show]
        print(sum(numbers))
        # --8<-- [end:show]
    """)
    repo.write("docs/page.md", """
        ```python
        --8<-- "snippets/page.py:make"
        ```

        ```python
        --8<-- "snippets/page.py:show"
        ```

        ```text title="Output"
        6
        ```
    """)
    result = repo.run("docs")
    result.assert_outcomes(passed=2)
    assert "blocks: 1 verified, 0 structural, 1 unchecked" in summary(result)


def test_includes_resolve_against_mkdocs_yml_from_another_folder(repo, monkeypatch, tmp_path_factory):
    # `!relative $config_dir`, as the project's mkdocs.yml says; pytest started from a second checkout whose
    # snippet prints something else: the page's own snippet file must run.
    repo.write("mkdocs.yml", """
        site_name: test
        markdown_extensions:
          - pymdownx.snippets:
              base_path: [!relative $config_dir]
              check_paths: true
          - pymdownx.superfences
    """)
    repo.write("snippets/page.py", """
        # --8<-- [start:show]
        print("this checkout")
        # --8<-- [end:show]
    """)
    page = repo.write("docs/page.md", """
        ```python
        --8<-- "snippets/page.py:show"
        ```

        ```text title="Output"
        this checkout
        ```
    """)
    other = tmp_path_factory.mktemp("other-checkout")
    (other / "snippets").mkdir()
    (other / "snippets" / "page.py").write_text('# --8<-- [start:show]\nprint("the other checkout")\n# --8<-- [end:show]\n')
    monkeypatch.chdir(other)
    result = repo.run(str(page))
    result.assert_outcomes(passed=1)
    assert "blocks: 1 verified" in summary(result)


def test_a_failing_include_traceback_names_the_include_line(repo):
    repo.write("snippets/bad.py", """
        # --8<-- [start:boom]
        values = [
            1,
        ]
        raise ValueError(f"from the snippet {values}")
        # --8<-- [end:boom]
    """)
    repo.write("docs/page.md", """
        Some text.

        ```python
        --8<-- "snippets/bad.py:boom"
        ```
    """)
    result = repo.run("docs")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(['*File "docs/page.md", line 4, in <module>*', "*ValueError: from the snippet [[]1[]]*"])
