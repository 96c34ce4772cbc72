"""harness.page: every way a page shows Python code, its outputs and markers, and every way a page can be wrong."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.page import PageError, parse_info, parse_page, split_lines
from harness.snippets import Site

MKDOCS_YML = """\
site_name: test
markdown_extensions:
  - admonition
  - pymdownx.details
  - pymdownx.emoji:
      emoji_index: !!python/name:material.extensions.emoji.twemoji
  - pymdownx.snippets:
      base_path: ["."]
      check_paths: true
      auto_append: ["includes/abbreviations.md"]
  - pymdownx.superfences
  - pymdownx.tabbed:
      alternate_style: true
"""

SNIPPET = """\
import math

# --8<-- [start:setup]
x = 41
# --8<-- [end:setup]

# --8<-- [start:show]
print(x + 1)
print(math.pi)
# --8<-- [end:show]
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A small site: mkdocs.yml, one snippet file, the glossary include."""
    (tmp_path / "mkdocs.yml").write_text(MKDOCS_YML)
    (tmp_path / "snippets").mkdir()
    (tmp_path / "snippets" / "page.py").write_text(SNIPPET)
    (tmp_path / "includes").mkdir()
    (tmp_path / "includes" / "abbreviations.md").write_text("*[GPU]: Graphics Processing Unit\n")
    (tmp_path / "docs").mkdir()
    return tmp_path


def parse(repo: Path, text: str, name: str = "docs/page.md"):
    """Write `text` as a page of `repo` and parse it."""
    path = repo / name
    path.write_bytes(textwrap.dedent(text).encode())
    return parse_page(path, Site.load(repo))


def error_of(repo: Path, text: str) -> str:
    with pytest.raises(PageError) as info:
        parse(repo, text)
    return str(info.value)


def test_include_block_with_output(repo):
    page = parse(repo, '''\
        # Title

        ```python
        --8<-- "snippets/page.py:setup"
        --8<-- "snippets/page.py:show"
        ```

        ```text title="Output"
        42
        3.141592653589793
        ```
        ''')
    [block] = page.blocks
    assert (block.line, block.end_line, block.language, block.indent) == (3, 6, "python", "")
    assert block.code == "x = 41\nprint(x + 1)\nprint(math.pi)\n"
    assert block.code_lines == [4, 5, 5]
    assert block.id == "docs/page.md:3"
    out = block.output
    assert (out.line, out.end_line, out.text, out.rewritable) == (8, 11, "42\n3.141592653589793\n", True)
    assert page.lines[out.content_start:out.content_end] == ["42", "3.141592653589793"]
    assert block.skip_reason is None and block.tolerance is None


def test_crlf_page_keeps_exact_text_and_lines(repo):
    text = '```python\r\nprint(1)\r\n```\r\n\r\n```text title="Output"\r\n1\r\n```\r\n'
    path = repo / "docs" / "crlf.md"
    path.write_bytes(text.encode())
    page = parse_page(path, Site.load(repo))
    assert page.text == text and "".join(page.lines_with_ends()) == text
    assert page.blocks[0].code == "print(1)\n" and page.blocks[0].output.text == "1\n"
    assert page.lines[page.blocks[0].output.content_start] == "1"


def test_split_lines_only_on_line_endings():
    assert split_lines("a\x0cb\r\nc\rd\ne") == ["a\x0cb", "c", "d", "e"]
    assert "".join(split_lines("a\r\n\nb", keepends=True)) == "a\r\n\nb"


@pytest.mark.parametrize("opening, closing", [
    ("```python", "```"), ("```py", "```"), ("```python3", "```"), ("~~~python", "~~~"), ("````python", "````"),
    ('```python title="x.py" linenums="1"', "```"), ('``` { .python title="x.py" }', "```"),
    ('```py {title="x.py"}', "```"), ("```Python", "```"),
])
def test_python_fence_variants(repo, opening, closing):
    page = parse(repo, f"{opening}\nprint(1)\n{closing}\n")
    assert [b.code for b in page.blocks] == ["print(1)\n"]


def test_title_and_info():
    assert parse_info('python title="x.py" linenums="1"') == ("python", "x.py")
    assert parse_info('{ .python3 title="Set-up" }') == ("python3", "Set-up")
    assert parse_info('text title="Output"') == ("text", "Output")
    assert parse_info("") == ("", None)


def test_other_languages_and_nested_fences_do_not_run_but_shells_do(repo):
    page = parse(repo, '''\
        ```bash
        pip install torch
        ```

        ````markdown
        ```python
        print("an example of markdown, not code")
        ```
        ````

        ```python
        print(2)
        ```
        ''')
    assert [(b.language, b.code) for b in page.blocks] == [("bash", "pip install torch\n"), ("python", "print(2)\n")]
    assert [f.language for f in page.fences] == ["bash", "markdown", "python"]


def test_blocks_in_admonitions_and_tabs(repo):
    page = parse(repo, '''\
        ??? example "Set-up: the steps before this page"

            ```python
            --8<-- "snippets/page.py:setup"
            ```

        === "PyTorch"

            !!! note

                ```python
                print(x)
                ```

                ```text title="Output"
                41
                ```

        ???+ tip "Open"
            ```py
            y = 1
            ```
        ''')
    setup, tab, tip = page.blocks
    assert (setup.indent, setup.code, setup.code_lines) == ("    ", "x = 41\n", [4])
    assert (tab.indent, tab.code, tab.line) == ("        ", "print(x)\n", 11)
    assert tab.output.text == "41\n" and tab.output.indent == "        "
    assert page.lines[tab.output.content_start] == "        41"
    assert tip.code == "y = 1\n" and [b.index for b in page.blocks] == [0, 1, 2]


def test_markers(repo):
    page = parse(repo, '''\
        <!-- pytest.mark.skip(reason="needs a GPU") -->
        ```python
        import cuda_thing
        ```

        <!-- pytest.mark.tolerance(abs=1e-3, rel=1e-4) -->

        <!--pytest-codeblocks:cont-->
        ```python
        print(0.5)
        ```

        <!--pytest-codeblocks:importorskip(scipy)-->
        <!--pytest-codeblocks:expect-exception-->
        ```python
        raise ValueError
        ```
        ''')
    skipped, tolerant, failing = page.blocks
    assert skipped.skip_reason == "needs a GPU"
    # cont continues the skipped block: the chain is skipped whole, as pytest-codeblocks skips its merged test.
    assert tolerant.tolerance == {"abs": 1e-3, "rel": 1e-4} and tolerant.skip_reason == "needs a GPU"
    assert failing.importorskip == "scipy" and failing.expect_exception and failing.skip_reason is None


def test_expected_output_marker_takes_any_fence(repo):
    page = parse(repo, '''\
        ```python
        print("hi")
        ```
        <!--pytest-codeblocks:expected-output-->
        ```
        hi
        ```
        ''')
    assert page.blocks[0].output.text == "hi\n" and page.blocks[0].output.line == 5


def test_front_matter_tolerance_is_the_default(repo):
    page = parse(repo, '''\
        ---
        title: T
        tolerance: {abs: 0.01}
        ---
        ```python
        print(1)
        ```

        <!-- pytest.mark.tolerance(rel=0.5) -->
        ```python
        print(2)
        ```
        ''')
    assert page.front_matter["title"] == "T" and page.tolerance == {"abs": 0.01}
    assert [b.tolerance for b in page.blocks] == [{"abs": 0.01}, {"rel": 0.5}]
    assert page.blocks[0].line == 5


def test_output_from_an_include_is_not_rewritable(repo):
    (repo / "snippets" / "out.txt").write_text("42\n")
    page = parse(repo, '''\
        ```python
        print(42)
        ```

        ```text title="Output"
        --8<-- "snippets/out.txt"
        ```
        ''')
    assert page.blocks[0].output.text == "42\n\n" and not page.blocks[0].output.rewritable


def test_an_escaped_include_line_is_the_pages_own_text(repo):
    page = parse(repo, '''\
        ```python
        print('--8<-- "snippets/out.txt"')
        ```

        ```text title="Output"
        ;--8<-- "snippets/out.txt"
        ```
        ''')
    assert page.blocks[0].output.text == '--8<-- "snippets/out.txt"\n' and page.blocks[0].output.rewritable


def test_empty_output_block(repo):
    page = parse(repo, '```python\nx = 1\n```\n\n```text title="Output"\n```\n')
    out = page.blocks[0].output
    assert out.text == "" and out.content_start == out.content_end == 5


def test_bom_page(repo):
    path = repo / "docs" / "bom.md"
    path.write_bytes("\ufeff```python\nprint(1)\n```\n".encode())
    page = parse_page(path, Site.load(repo))
    assert page.text.startswith("\ufeff") and page.blocks[0].line == 1


@pytest.mark.parametrize("text, expected", [
    ("x\n```python\nprint(1)\n", "docs/page.md:2: unterminated ```python fence opened here"),
    ("```python\nprint(1)\n````\n", "docs/page.md:1: unterminated ```python fence opened here"),
    ('<!-- pytest.mark.skipif(1 < 3) -->\n```python\nx\n```\n', "docs/page.md:1: pytest.mark.skipif: you need to "
     "specify reason=STRING when using booleans as conditions"),
    ('<!-- pytest.mark.skipif("sys.nope") -->\n```python\nx\n```\n', "docs/page.md:1: error evaluating 'skipif' "
     "condition 'sys.nope': AttributeError"),
    ('<!-- pytest.mark.xfail(run=False) -->\n```python\nx\n```\n', "docs/page.md:1: pytest.mark.xfail: unsupported"),
    ('\n<!--pytest-codeblocks:cont-->\n```python\nx\n```\n', "docs/page.md:2: pytest-codeblocks:cont but no code"),
    ('<!--pytest-codeblocks:expected-output-->\n```\nx\n```\n', "docs/page.md:1: pytest-codeblocks:expected-output "
     "but no code block"),
    ('<!--pytest-codeblocks:frobnicate-->\n```python\nx\n```\n',
     "docs/page.md:1: unknown marker pytest-codeblocks:frobnicate"),
    ('<!-- pytest.mark.skip(reason="x")\n```python\nx\n```\n', "docs/page.md:1: malformed marker comment"),
    ('<!-- pytest.mark.skip(reason="x") --> and more\n```python\nx\n```\n', "docs/page.md:1: malformed marker"),
    ('<!-- pytest.mark.tolerance(abs="big") -->\n```python\nx\n```\n', "docs/page.md:1: tolerance abs must be"),
    ('<!-- pytest.mark.tolerance(0.1) -->\n```python\nx\n```\n', "docs/page.md:1: pytest.mark.tolerance takes"),
    ('<!-- pytest.mark.skip(reason="x") -->\nText.\n```python\nx\n```\n',
     "docs/page.md:1: marker is not directly above a code block"),
    ('a\n\n<!-- pytest.mark.skip(reason="x") -->\n', "docs/page.md:3: marker is not directly above a code block"),
    ('```text title="Output"\n1\n```\n', "docs/page.md:1: Output block is not directly under a Python block"),
    ('```python\nx\n```\nSome text.\n```text title="Output"\n1\n```\n',
     "docs/page.md:5: Output block is not directly under a Python block"),
    ('```python\nx\n```\n\n```text title="Output"\n1\n```\n\n```text title="Output"\n1\n```\n',
     "docs/page.md:9: Output block is not directly under a Python block"),
    ('!!! note\n\n    ```python\n    x = 1\n  y = 2\n    ```\n', "docs/page.md:5: line is indented less than"),
    ('```python\n--8<-- "snippets/nope.py"\n```\n', "docs/page.md:2: Snippet at path 'snippets/nope.py' could"),
    ('text\n\n```python\n--8<-- "snippets/page.py:nope"\n```\n', "docs/page.md:4: Snippet section 'nope'"),
    ("---\ntolerance: [1\n---\nx\n", "docs/page.md:3: front matter is not valid YAML"),
    ("---\ntolerance: {absolute: 1}\n---\nx\n", "docs/page.md:1: front matter: tolerance must give abs and/or rel"),
])
def test_page_errors_name_page_and_line(repo, text, expected):
    assert error_of(repo, text).startswith(expected)


def test_comments_that_are_not_markers_are_prose(repo):
    page = parse(repo, '<!-- TODO: explain pytest.mark.skip here -->\n```python\nx = 1\n```\n')
    assert page.blocks[0].skip_reason is None


@pytest.mark.parametrize("text", ["", "---\ntitle: only front matter\n---\n", "\n\n"])
def test_pages_without_blocks(repo, text):
    assert parse(repo, text).blocks == []


def test_not_utf8(repo):
    path = repo / "docs" / "latin1.md"
    path.write_bytes(b"ok\ncaf\xe9\n")
    with pytest.raises(PageError, match=r"latin1.md:2: not UTF-8"):
        parse_page(path, Site.load(repo))


def test_readme_at_repo_root(repo):
    page = parse(repo, '# Project\n\n```python\n--8<-- "snippets/page.py:setup"\n```\n', name="README.md")
    assert page.name == "README.md" and page.blocks[0].code == "x = 41\n"


def test_default_site_is_found_from_the_page(repo, monkeypatch, tmp_path_factory):
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    path = repo / "docs" / "page.md"
    path.write_text('```python\n--8<-- "snippets/page.py:setup"\n```\n')
    assert parse_page(path).blocks[0].code == "x = 41\n"


def test_text_argument_overrides_file(repo):
    page = parse_page(repo / "docs" / "virtual.md", Site.load(repo), text="```py\n1\n```\n")
    assert page.blocks[0].code == "1\n"


def test_page_module_imports_no_heavy_dependencies():
    code = "import sys, harness.page; print(sorted({'torch', 'transformers', 'pytest'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("language", ["json", "yaml", "python", "console", "", "pycon"])
def test_a_fence_titled_output_is_an_output_in_any_language(repo, language):
    page = parse(repo, f'```python\nprint(1)\n```\n\n```{language} title="Output"\n1\n```\n')
    [block] = page.blocks
    assert block.output is not None and block.output.text == "1\n" and block.output.language == language


def test_a_fence_titled_output_under_a_block_that_does_not_run_is_refused(repo):
    message = error_of(repo, '```yaml\nlayers: 6\n```\n\n```json title="Output"\n{"a": 1}\n```\n')
    assert message.startswith("docs/page.md:5: Output block is not directly under a Python block")


def test_a_session_is_read_with_doctests_parser(repo):
    page = parse(repo, """
        !!! note

            ```pycon
            >>> for n in range(2):
            ...     print(n)
            0
            <BLANKLINE>
            >>> n  # doctest: +SKIP
            >>> print("end")
            end
            ```
    """)
    [block] = page.blocks
    loop, skipped, end = block.session
    assert (loop.source, loop.lines, loop.want.text, loop.want.line) == ("for n in range(2):\n    print(n)\n", [5, 6],
                                                                        "0\n\n", 5)
    assert (loop.want.content_start, loop.want.content_end, loop.want.indent) == (6, 8, "    ")  # 0-based lines
    assert skipped.skip and not skipped.want.text and (skipped.want.content_start, skipped.want.content_end) == (9, 9)
    assert block.code == 'for n in range(2):\n    print(n)\nprint("end")\n' and block.code_lines == [5, 6, 10]
    assert end.want.rewritable and end.want.text == "end\n"
    assert parse(repo, '```python\n>>> 1\n1\n```\n').blocks[0].session[0].want.text == "1\n"
    assert parse(repo, '```python\nx = 1  # >>> is no prompt here\n```\n').blocks[0].session is None


@pytest.mark.parametrize("text, expected", [
    ('```pycon\n>>> a = 1\n>>>b\n```\n', "docs/page.md:3: cannot read the >>> session"),
    ('```pycon\n>>> a = 1\n```\n\n```text title="Output"\n1\n```\n', "docs/page.md:5: Output block under a >>> session"),
])
def test_session_errors_name_page_and_line(repo, text, expected):
    assert error_of(repo, text).startswith(expected)


def test_blocks_know_the_admonitions_they_sit_in(repo):
    page = parse(repo, '''\
        # Exercises

        ```python
        print("top level")
        ```

        !!! question "Try it: count to three"

            Some prose.

            ??? success "Solution"

                ```python
                print(1, 2, 3)
                ```

                ```text title="Output"
                1 2 3
                ```

        ???+ tip

            ```python
            print("untitled tip")
            ```

        !!! note ""

            ```python
            print("no title shown")
            ```

        ```python
        print("after the admonitions")
        ```
        ''')
    assert [block.admonitions for block in page.blocks] == [
        (), ("Try it: count to three", "Solution"), ("Tip",), (), ()]
    # The nested solution keeps its Output block.
    assert page.blocks[1].output.text == "1 2 3\n"


def test_a_fence_titled_output_under_a_fence_that_does_not_run_is_refused_even_with_a_marker(repo):
    # pytest-codeblocks' expected-output marker gives the fence to the console block above, which never runs:
    # a fence the reader reads as an output must be compared or refused, never shown unchecked.
    message = error_of(repo, """```console
$ python train.py
```
<!-- pytest-codeblocks:expected-output -->
```text title="Output:"
epoch 1
```
""")
    assert message.startswith("docs/page.md:5: Output block is not directly under a Python block"), message
    # The same for an untitled fence in a box titled Output.
    message = error_of(repo, """```console
$ python train.py
```

!!! output

    <!-- pytest-codeblocks:expected-output -->
    ```
    epoch 1
    ```
""")
    assert message.startswith("docs/page.md:8: Output block is not directly under a Python block"), message

