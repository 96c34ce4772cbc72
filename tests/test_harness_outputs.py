"""What a run compares: every Output block in any language, whole numbers, sets, lines, documented exceptions."""
from __future__ import annotations

from harness_testing import repo, summary  # noqa: F401  (fixture)


def statuses(report: dict) -> dict[int, str]:
    """Block line → verdict, from a verification report."""
    return {record["line"]: record["status"] for record in report["blocks"]}


def test_no_wrong_output_passes_silently(repo):
    repo.write("docs/outputs.md", """
        # Outputs that must not pass by accident

        ```python
        import torch
        mask = torch.tensor([0., 1., 1.])
        print(mask)
        print([float(mask.sum())])
        ```

        ```text title="Output"
        tensor([1., 0., 1.])
        [3.]
        ```

        ```python
        print([round(2 / 3, 3), 1 / 7])
        ```

        ```text title="Output"
        [0.667, 0.14]
        ```

        ```python
        vocabulary = {"the", "a", "an", "of", "to", "in"}
        print(vocabulary)
        ```

        ```text title="Output"
        {'of', 'the', 'in', 'a', 'to', 'an'}
        ```

        ```python
        import json
        print(json.dumps({"vocab_size": 30522, "layers": 6}, indent=4))
        ```

        ```json title="Output"
        {"vocab_size": 30522, "layers": 12}
        ```

        ```python
        print(json.dumps({"vocab_size": 30522, "layers": 6}))
        ```

        ```json title="Output"
        {
          "vocab_size": 30522,
          "layers": 6
        }
        ```

        ```python
        print("epoch 1 done")
        print("epoch 2 done")
        ```

        ```console title="Output"
        epoch 1 done epoch 2 done
        ```

        ```python
        print("padded   ", end="")
        print()
        print("next")
        ```

        ``` { title="Output" }
        padded
        next
        ```
    """)
    report = repo.report("docs")
    assert statuses(report) == {3: "failed", 15: "verified", 23: "verified", 32: "failed", 41: "verified",
                                52: "failed", 61: "verified"}
    assert summary_counts(report) == {"failed": 3, "verified": 4}
    failures = {record["line"]: record["reason"] for record in report["blocks"] if record["status"] == "failed"}
    assert failures[32] == "printed output differs from the Output block at docs/outputs.md:37"


def summary_counts(report: dict) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in report["blocks"]:
        counts[record["status"]] = counts.get(record["status"], 0) + 1
    return counts


def test_the_failure_report_says_what_differs(repo):
    repo.write("docs/outputs.md", """
        ```python
        import torch
        print(torch.tensor([0., 1.]))
        ```

        ```text title="Output"
        tensor([1., 0.])
        ```

        ```python
        print("one", "two")
        ```

        ```text title="Output"
        one
        two
        ```
    """)
    result = repo.run("docs")
    result.assert_outcomes(failed=2)
    output = result.stdout.str()
    assert "at [0]: expected 1., actual 0., difference 1.00e+00 > tolerance 1.0e-05" in output
    assert "first difference at line 2: expected '\\n' before `two`, got ' '" in output
    assert summary(result) == "blocks: 0 verified, 0 structural, 0 unchecked, 0 skipped, 2 failed, 0 not run"


def test_a_documented_exception_is_compared_the_way_doctest_does(repo):
    repo.write("docs/errors.md", """
        <!-- pytest-codeblocks:expect-exception -->
        ```python
        print("looking up the token")
        {"hello": 7592}["bye"]
        ```

        ```text title="Output"
        looking up the token
        Traceback (most recent call last):
          File "lookup.py", line 99, in <module>
            any stack lines at all
        KeyError: 'bye'
        ```

        <!-- pytest-codeblocks:expect-exception -->
        ```python
        import math
        math.sqrt(-1)
        ```

        ```text title="Output"
        ValueError: math domain error
        ```

        <!-- pytest-codeblocks:expect-exception -->
        ```python
        [1, 2, 3][10]
        ```

        ```text title="Output"
        Traceback (most recent call last):
          ...
        KeyError: 10
        ```

        <!-- pytest-codeblocks:expect-exception -->
        ```python
        print("step 1")
        raise RuntimeError("out of memory")
        ```

        ```text title="Output"
        step 2
        Traceback (most recent call last):
        RuntimeError: out of memory
        ```
    """)
    report = repo.report("docs")
    assert statuses(report) == {2: "verified", 16: "verified", 26: "failed", 37: "failed"}
    reasons = {record["line"]: record["reason"] for record in report["blocks"]}
    assert reasons[26] == ("the block raised an exception other than the one the Output block at "
                           "docs/errors.md:30 documents")
    assert reasons[37] == "printed output differs from the Output block at docs/errors.md:42"
    result = repo.run("docs")
    output = result.stdout.str()
    assert "documented exception `KeyError: 10`, raised `IndexError: list index out of range`" in output
    assert "before the exception: first difference at line 1: expected `2`, got `1`" in output


def test_interactive_sessions_run_like_doctests(repo):
    repo.write("docs/session.md", """
        ```pycon
        >>> words = ["attention", "is", "all"]
        >>> len(words)
        3
        >>> for word in words[:2]:
        ...     print(word.upper())
        ATTENTION
        IS
        >>> print("first\\n\\nthird")
        first
        <BLANKLINE>
        third
        >>> None
        >>> {"b", "a"}
        {'a', 'b'}
        >>> 2 / 3
        0.6667
        >>> words[5]
        Traceback (most recent call last):
          ...
        IndexError: list index out of range
        >>> _
        0.6666666666666666
        >>> print("checking"); words.index("none")
        checking
        Traceback (most recent call last):
        ValueError: 'none' is not in list
        ```

        Words the prompt shows in a Python block too:

        ```python
        >>> " ".join(words)
        'attention is everything'
        ```

        ```pycon
        >>> len(words) * 2
        >>> print("no output shown")
        ```
    """)
    report = repo.report("docs")
    assert statuses(report) == {1: "verified", 32: "failed", 37: "failed"}
    result = repo.run("docs")
    output = result.stdout.str()
    assert "the >>> session printed other output than it shows, first at docs/session.md:33" in output
    assert "expected `'attention is everything'`, got `'attention is all'`" in output
    assert "statement at docs/session.md:38:\nfirst difference after the expected output ends: got unexpected `6`" \
        in output
    assert "statement at docs/session.md:39:" in output


def test_a_session_stops_at_an_exception_it_does_not_show(repo):
    repo.write("docs/session.md", """
        ```pycon
        >>> int("x")
        0
        >>> print("after")
        after
        ```

        ```python
        print("later block")
        ```
    """)
    result = repo.run("docs")
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*block at docs/session.md:1 raised an exception*", "*ValueError: invalid literal*"])


def test_a_title_read_as_output_is_compared_whatever_its_case_spaces_or_colon(repo):
    # A reader reads "Output:" or "Expected output" as the output of the code above it: such a fence is
    # compared (here each documents a wrong value, so each block fails), never shown unchecked beside it.
    repo.write("docs/titles.md", """
        ```python
        print(6 * 7)
        ```

        ```text title="Output:"
        24
        ```

        ```python
        print("tabs")
        ```

        ```text title="  expected   Output "
        bats
        ```

        === "Code"

            ```python
            print(2 + 2)
            ```

        === "Output:"

            ```text
            5
            ```

        ```python
        print("kept")
        ```

        ```text title="Output of another tool"
        not this block's output
        ```
    """)
    report = repo.report("docs/titles.md")
    found = {record["line"]: record["status"] for record in report["blocks"]}
    assert found == {1: "failed", 9: "failed", 19: "failed", 29: "unchecked"}


def test_a_fence_in_an_admonition_titled_output_is_compared(repo):
    # An admonition's title shows above its fence as a tab's does: "Output:" or "Expected output" is the output,
    # however Python-Markdown lets the box be written (class words, no space or a tab after `!!!`, `??? "Title"`).
    repo.write("docs/boxes.md", """
        ```python
        print(1)
        ```

        !!! note "Output:"

            ```text
            2
            ```

        ```python
        print(3)
        ```

        ??? example "Expected output"
            ```text
            3
            ```

        ```python
        print(5)
        ```

        !!!note inline end "Output"

            ```
            6
            ```

        ```python
        print(7)
        ```

        ???\tnote "Output"

            ```
            8
            ```

        ```python
        print(9)
        ```

        ??? "Expected output"
            ```
            9
            ```
    """)
    # Indented with tabs, which Python-Markdown reads as 4 columns each: the fence is inside the Output box.
    repo.write("docs/tabbed.md", "!!! note\n    ```python\n    print(4)\n    ```\n\n    !!! output\n"
                                 "\t\t```\n\t\t5\n\t\t```\n")
    report = repo.report("docs/boxes.md", "docs/tabbed.md")
    found = {(record["page"], record["line"]): record["status"] for record in report["blocks"]}
    assert found == {("docs/boxes.md", 1): "failed", ("docs/boxes.md", 11): "verified",
                     ("docs/boxes.md", 20): "failed", ("docs/boxes.md", 30): "failed",
                     ("docs/boxes.md", 40): "verified", ("docs/tabbed.md", 2): "failed"}


def test_a_fence_in_a_content_tab_titled_output_is_compared(repo):
    repo.write("docs/tabs.md", """
        === "Code"

            ```python
            print(6 * 7)
            ```

        === "Output"

            ```text
            24
            ```

        === "Code, again"

            ```python
            print("tabs")
            ```

        === "Notes"

            ```text
            not an output: this tab is not titled Output
            ```
    """)
    report = repo.report("docs/tabs.md")
    found = {record["line"]: record["status"] for record in report["blocks"]}
    assert found == {3: "failed", 15: "unchecked"}
