"""pytest-codeblocks' syntax under the harness: skips, xfail, cont, hidden blocks, expected outputs, shells,
and `--codeblocks` (pytest-codeblocks' semantics: a namespace per cont chain, its fence languages)."""
from __future__ import annotations

from harness_testing import repo, summary  # noqa: F401  (fixture)


def verdicts(report: dict) -> dict[int, tuple[str, str]]:
    """line -> (verdict, reason) of a --verification-report."""
    return {record["line"]: (record["status"], record["reason"]) for record in report["blocks"]}


def test_skips_and_expected_failures_mean_what_they_mean_to_pytest(repo):
    repo.write("docs/marks.md", """
        <!--pytest.mark.skip-->
        ```python
        print("never")
        ```

        <!-- pytest-codeblocks:skip -->
        ```python
        print("never either")
        ```

        <!-- pytest.mark.skipif(sys.version_info > (3,), reason="Python 3 is here") -->
        ```python
        print("skipped on Python 3")
        ```

        <!-- pytest.mark.skipif("os.sep == '?'", reason="no such system") -->
        ```python
        print("runs")
        ```

        <!--pytest-codeblocks:importorskip(no_module_of_this_name)-->
        ```python
        import no_module_of_this_name
        ```

        <!-- pytest.mark.xfail(raises=ZeroDivisionError, reason="a ratio of nothing") -->
        ```python
        share = 1 / 0
        ```

        <!--pytest-codeblocks:expect-error-->
        ```python
        int("seven")
        ```

        <!-- pytest.mark.xfail -->
        ```python
        total = 2 + 2
        ```

        ```python
        print(total)
        ```
    """)
    report = repo.report("docs", "-v")
    found = verdicts(report)
    assert found[2] == ("skipped", "no reason given") and found[7] == ("skipped", "no reason given")
    assert found[12] == ("skipped", "Python 3 is here") and found[17][0] == "unchecked"
    assert found[22] == ("skipped", "importorskip: no_module_of_this_name is not installed")
    assert found[27] == ("xfailed", "failed as expected (pytest.mark.xfail: a ratio of nothing)")
    assert found[32][0] == "xfailed" and found[37][0] == "xpassed"
    assert found[41][0] == "unchecked"  # an expected failure that did not happen does not stop the page
    result = repo.run("docs")
    result.assert_outcomes(passed=2, skipped=4, xfailed=2, xpassed=1)
    assert summary(result).endswith(", 2 xfailed, 1 xpassed")
    assert "in pytest's words: passed = unchecked (2); xfailed = xfailed (2); xpassed = xpassed (1); " \
           "skipped = skipped (4)" in result.stdout.str()


def test_xfail_with_another_exception_or_strict_fails_as_in_pytest(repo):
    repo.write("docs/wrong_error.md", """
        <!-- pytest.mark.xfail(raises=KeyError) -->
        ```python
        {}["key"] if False else 1 / 0
        ```
    """)
    repo.write("docs/strict.md", """
        <!-- pytest.mark.xfail(strict=True, reason="should fail") -->
        ```python
        x = 1
        ```
    """)
    result = repo.run("docs")
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    assert "block at docs/wrong_error.md:2 raised an exception other than the expected KeyError" in out
    assert "ZeroDivisionError" in out
    assert "[XPASS(strict)] block at docs/strict.md:2 was expected to fail (pytest.mark.xfail: should fail)" in out


def test_skipfile_skips_every_block_with_its_reason(repo):
    repo.write("docs/later.md", """
        <!--pytest-codeblocks:skipfile-->
        ```python
        raise SystemExit("not today")
        ```

        ```bash
        exit 1
        ```
    """)
    found = verdicts(repo.report("docs"))
    assert found == {2: ("skipped", "no reason given"), 6: ("skipped", "no reason given")}


def test_cont_hidden_blocks_expected_outputs_and_shells(repo):
    repo.write("docs/flow.md", f"""
        The setup is not shown:
        <!--
        ```python
        rows = 6
        ```
        -->
        but the reader sees it used:
        <!--pytest-codeblocks:cont-->
        ```
        print(rows * 7)
        ```
        The answer, after some prose:

        <!--pytest-codeblocks:expected-output-->
        ```
        42
        ```

        ```bash
        for word in alpha beta; do echo "$word"; done
        ```
        <!--pytest-codeblocks:expected-output-ignore-whitespace-->
        ```
        alpha   beta
        ```

        ```sh
        pwd
        ```

        ```text title="Output"
        {repo.root}
        ```
    """)
    found = verdicts(repo.report("docs"))
    assert found == {3: ("unchecked", "no Output block"), 9: ("verified", ""), 19: ("verified", ""),
                     27: ("verified", "")}


def test_an_expected_output_that_differs_fails_with_the_comparison(repo):
    repo.write("docs/count.md", """
        ```zsh
        echo 3 apples
        ```
        <!--pytest-codeblocks:expected-output-->
        ```
        4 apples
        ```
    """)
    repo.write("docs/shell_error.md", """
        ```sh
        echo "to stderr" >&2; exit 3
        ```

        ```python
        print("after")
        ```
    """)
    result = repo.run("docs")
    out = result.stdout.str()
    assert "sh block at docs/shell_error.md:1 failed" in out and "sh exited with status 3; its stderr:" in out
    assert "to stderr" in out
    if "zsh is not installed" not in out:  # where zsh exists, its output is compared
        assert "printed output differs from the Output block at docs/count.md:5" in out
    assert summary(result).endswith("2 failed, 1 not run")


def test_a_shell_block_gets_the_block_timeout(repo):
    repo.write("docs/slow.md", """
        ```sh
        sleep 60
        ```
    """)
    result = repo.run("docs", "--block-timeout", "2")
    result.assert_outcomes(failed=1)
    assert "timed out after 2s at docs/slow.md:1" in result.stdout.str()


def test_a_tab_and_space_mix_raises_taberror_at_the_page_line(repo):
    repo.write("docs/tabs.md", "Text.\n\n```python\nif True:\n\tx = 1\n        y = 2\n```\n")
    result = repo.run("docs")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert 'File "docs/tabs.md", line 6' in out and "TabError: inconsistent use of tabs and spaces" in out


def test_codeblocks_option_collects_each_block_once_with_includes(repo):
    (repo.root / "snippets").mkdir()
    (repo.root / "snippets" / "part.py").write_text("print('from the snippet')\n")
    repo.write("docs/inc.md", """
        ```python
        --8<-- "snippets/part.py"
        ```

        ```text title="Output"
        from the snippet
        ```
    """)
    # Also with pytest-codeblocks' plugin left on: the harness switches its collector off.
    ini = repo.root / "pytest.ini"
    for text in (ini.read_text(), ini.read_text().replace("-p no:codeblocks", "")):
        ini.write_text(text)
        result = repo.run("--codeblocks", "docs", "--collect-only", "-q")
        assert [line for line in result.outlines if "::" in line] == ["docs/inc.md::line 1"]
        result = repo.run("--codeblocks", "docs")
        result.assert_outcomes(passed=1)


def test_codeblocks_semantics_a_namespace_per_chain_and_its_languages(repo):
    page = """
        ```python
        value = 1
        ```

        ```python
        print(value)
        ```

        ```python
        chained = 2
        ```
        <!--pytest-codeblocks:cont-->
        ```
        raise ValueError(chained)
        ```
        <!--pytest-codeblocks:cont-->
        ```
        print("never")
        ```

        ```py
        >>> print("an illustration")
        ```

        ```python
        print("still runs")
        ```
    """
    repo.write("docs/iso.md", page)
    repo.write("docs/shared.md", "---\nnamespace: page\n---\n" + page.replace("        ", "")[1:])
    found = verdicts(repo.report("--codeblocks", "docs/iso.md"))
    assert found[1][0] == "unchecked" and found[5][0] == "failed"  # NameError: its own namespace
    assert found[9][0] == "unchecked" and found[13][0] == "failed"
    assert found[17] == ("not run", "not run: block at docs/iso.md:13 failed")  # the rest of its chain only
    assert 21 not in found and found[25][0] == "unchecked"  # `py` is not run, the next chain is
    # namespace: page in the front matter: one namespace, and the first failure stops the page.
    shared = verdicts(repo.report("--codeblocks", "docs/shared.md"))
    assert [shared[line][0] for line in (4, 8, 12, 16, 20, 28)] == \
        ["unchecked", "unchecked", "unchecked", "failed", "not run", "not run"]
    result = repo.run("docs/shared.md", "-v")  # without --codeblocks: `py` runs too (and is not run here)
    result.stdout.fnmatch_lines(["docs/shared.md::line 20 SKIPPED (not run: block at docs/shared.md:16*",
                                 "docs/shared.md::line 24 SKIPPED (not run: *"])
    assert "skipped = not run (3)" in result.stdout.str()


def test_the_project_chooses_the_page_namespace_and_updates_work_under_codeblocks(repo):
    repo.write("docs/steps.md", """
        ```python
        hidden = 4
        ```

        ```python
        print(hidden * 8)
        ```
        <!--pytest-codeblocks:expected-output-->
        ```
        23
        ```
    """)
    ini = repo.root / "pytest.ini"
    ini.write_text(ini.read_text() + "harness_namespace = page\n")
    result = repo.run("--codeblocks", "docs", "--update-outputs")
    result.assert_outcomes(passed=2)  # one namespace: the second block sees `hidden`
    assert "--update-outputs: 1 block rewritten in 1 page, 0 refused" in result.outlines
    page = (repo.root / "docs/steps.md").read_text()
    assert page.endswith("<!--pytest-codeblocks:expected-output-->\n```\n32\n```\n")


def test_codeblocks_semantics_leave_tilde_fences_alone(repo):
    # pytest-codeblocks reads backtick fences only; the harness's own semantics run both kinds.
    repo.write("docs/tilde.md", """
        ~~~python
        raise RuntimeError("shown, never run by pytest-codeblocks")
        ~~~

        ```python
        print("runs")
        ```
    """)
    assert verdicts(repo.report("--codeblocks", "docs/tilde.md")) == {5: ("unchecked", "no Output block")}
    assert verdicts(repo.report("docs/tilde.md"))[1][0] == "failed"


def test_a_skip_above_a_chain_skips_the_whole_chain(repo):
    repo.write("docs/chain.md", """
        <!--pytest.mark.skip(reason="needs the big download")-->
        ```python
        corpus = open("/no/such/corpus.txt").read()
        ```
        <!--pytest-codeblocks:cont-->
        ```python
        print(len(corpus))
        ```

        <!--pytest-codeblocks:importorskip(no_such_module_for_this_test)-->
        ```python
        import no_such_module_for_this_test as missing
        ```
        <!--pytest-codeblocks:cont-->
        ```python
        print(missing.VERSION)
        ```

        ```python
        print("an unchained block still runs")
        ```
    """)
    found = verdicts(repo.report("--codeblocks", "docs/chain.md"))
    assert found[2] == found[6] == ("skipped", "needs the big download")
    assert found[11][0] == found[15][0] == "skipped" and "no_such_module_for_this_test" in found[15][1]
    assert found[19][0] == "unchecked"
