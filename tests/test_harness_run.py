"""Each page runs like a notebook in a process of its own; failures name the page and line, the run goes on."""
from __future__ import annotations

import os
import subprocess
import sys

from harness.page import parse_page
from harness_testing import repo, summary  # noqa: F401  (fixture)


def test_state_is_shared_within_a_page_and_never_across_pages(repo):
    repo.write("docs/a_first.md", """
        ```python
        import os
        secret = 42
        os.environ["HARNESS_TEST_LEAK"] = "leaked"
        os.chdir("/")
        ```

        Later on the same page, like the next cell of a notebook:

        ```python
        print(secret, os.environ["HARNESS_TEST_LEAK"], os.getcwd())
        ```

        ```text title="Output"
        42 leaked /
        ```
    """)
    repo.write("docs/b_exits.md", """
        ```python
        import sys
        sys.exit(3)
        ```

        ```python
        print("never")
        ```
    """)
    repo.write("docs/c_second.md", """
        ```python
        import os
        print("secret" in globals(), os.environ.get("HARNESS_TEST_LEAK"), os.path.exists("pytest.ini"))
        ```

        ```text title="Output"
        False None True
        ```
    """)
    result = repo.run("docs")
    result.assert_outcomes(passed=3, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*block at docs/b_exits.md:1 raised an exception*", "*SystemExit: 3*",
                                 "*docs/b_exits.md:6: not run: block at docs/b_exits.md:1 failed*"])
    assert summary(result) == "blocks: 2 verified, 0 structural, 1 unchecked, 0 skipped, 1 failed, 1 not run"


def test_raising_hanging_and_flooding_blocks_fail_with_page_lines_and_the_run_goes_on(repo):
    repo.write("docs/raises.md", """
        # Raises

        ```python
        def divide(a, b):
            return a / b
        ```

        Some prose between blocks.

        ```python
        total = divide(1, 0)
        ```

        ```python
        print("after the failure")
        ```
    """)
    repo.write("docs/hangs.md", """
        ```python
        import time
        print("started")
        time.sleep(600)
        ```

        ```text title="Output"
        started
        ```

        ```python
        print("not reached")
        ```
    """)
    repo.write("docs/floods.md", """
        ```python
        print("x" * 3_000_000)
        ```

        ```text title="Output"
        xxx
        ```

        ```python
        print("y" * 3_000_000)
        ```
    """)
    repo.write("docs/z_fine.md", """
        ```python
        print("still running")
        ```

        ```text title="Output"
        still running
        ```
    """)
    result = repo.run("docs", "--block-timeout", "2", timeout=120)
    result.assert_outcomes(passed=3, failed=3, skipped=2)
    out = result.stdout.str()
    result.stdout.fnmatch_lines([
        "*block at docs/raises.md:10 raised an exception*",
        '*File "docs/raises.md", line 11, in <module>*',
        "*total = divide(1, 0)*",
        '*File "docs/raises.md", line 5, in divide*',
        "*ZeroDivisionError: division by zero*",
    ])
    assert "timed out after 2s at docs/hangs.md:1" in out
    assert "not run: block at docs/hangs.md:1 failed" in out
    assert "printed output differs from the Output block at docs/floods.md:5" in out
    assert "the first 1,000,000 were kept" in out
    assert len(out) < 60_000  # megabytes printed, a bounded report
    assert "harness/runner.py" not in out and "harness/plugin.py" not in out  # no harness internals


def test_floats_within_tolerance_pass_and_beyond_fail_with_each_number(repo):
    repo.write("docs/floats.md", """
        ---
        tolerance: {abs: 0.01}
        ---

        ```python
        print([0.1 + 0.2, 1 / 3])
        ```

        ```text title="Output"
        [0.3, 0.333]
        ```

        ```python
        print({"score": 0.9871, "label": "POSITIVE"})
        ```

        ```text title="Output"
        {'score': 0.95, 'label': 'POSITIVE'}
        ```

        <!-- pytest.mark.tolerance(abs=0.1) -->
        ```python
        print(0.9871)
        ```

        ```text title="Output"
        0.95
        ```

        ```python
        print("no output block")
        ```
    """)
    result = repo.run("docs")
    result.assert_outcomes(passed=3, failed=1)
    out = result.stdout.str()
    assert "printed output differs from the Output block at docs/floats.md:17" in out
    assert "expected 0.95, actual 0.9871, difference 3.71e-02 > tolerance 1.0e-02" in out
    result.stdout.fnmatch_lines(["*   14 | print({\"score\": 0.9871, \"label\": \"POSITIVE\"})*"])
    assert summary(result) == "blocks: 2 verified, 0 structural, 1 unchecked, 0 skipped, 1 failed, 0 not run"


def test_verification_report_has_environment_and_one_record_per_block(repo):
    repo.write("docs/page.md", """
        ```python
        print(1)
        ```

        ```text title="Output"
        1
        ```

        <!-- pytest.mark.skip(reason="shows an error on purpose") -->
        ```python
        raise RuntimeError
        ```

        ```python
        print(2)
        ```

        ```text title="Output"
        3
        ```
    """)
    report = repo.report("docs")
    environment = report["environment"]
    assert environment["python"].count(".") == 2
    assert set(environment) >= {"platform", "torch", "transformers", "huggingface_hub", "tokenizers", "harness", "date"}
    assert [(b["page"], b["line"], b["output_line"], b["status"]) for b in report["blocks"]] == [
        ("docs/page.md", 1, 5, "verified"), ("docs/page.md", 10, None, "skipped"), ("docs/page.md", 14, 18, "failed")]
    assert report["blocks"][1]["reason"] == "shows an error on purpose"
    assert all(b["checkpoints"] == [] and b["duration"] >= 0 for b in report["blocks"])


def test_a_page_whose_checkpoint_cannot_be_had_fails_at_its_first_block(repo):
    repo.write("docs/model.md", """
        ```python
        from transformers import AutoModel
        model = AutoModel.from_pretrained("harness-tests/no-such-checkpoint")
        ```

        ```python
        print(model.config.hidden_size)
        ```
    """)
    result = repo.run("docs", "--require-models")
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*docs/model.md:1: *harness-tests/no-such-checkpoint*",
                                 "*docs/model.md:6: not run: block at docs/model.md:1 failed*"])


TORCH_STATE = ("import torch; print(torch.get_default_dtype(), torch.get_num_threads(), torch.is_grad_enabled(), "
               "torch.are_deterministic_algorithms_enabled(), torch.is_inference_mode_enabled())")


def test_pages_see_the_torch_state_a_fresh_interpreter_has(repo):
    # Warm-ups in the fork server and in the waiting processes must leave torch's settings as python starts them.
    fresh = subprocess.run([sys.executable, "-c", TORCH_STATE], capture_output=True, text=True, check=True).stdout
    for name in ("a", "b", "c"):  # later pages run in processes that were warmed by earlier ones
        repo.write(f"docs/{name}.md", f'```python\n{TORCH_STATE}\n```\n\n```text title="Output"\n{fresh}```\n')
    result = repo.run("docs")
    assert summary(result) == "blocks: 3 verified, 0 structural, 0 unchecked, 0 skipped, 0 failed, 0 not run"


def test_later_pages_start_with_what_earlier_pages_loaded_lazily(repo):
    # A module imported inside a function and a compiled regular expression are not in any page's top-level
    # imports: the harness learns them from the page that loaded them and warms later pages' processes.
    repo.write("docs/a_loads.md", """
        ```python
        import re
        def lazily():
            import colorsys
            return colorsys.rgb_to_hsv(1, 0, 0)
        print(lazily(), re.compile("harness-[0-9]+-warm").pattern)
        ```

        ```text title="Output"
        (0.0, 1.0, 1) harness-[0-9]+-warm
        ```
    """)
    for name in ("b_finds", "c_finds"):
        repo.write(f"docs/{name}.md", """
            ```python
            import re, sys
            print("colorsys" in sys.modules, any(key[1] == "harness-[0-9]+-warm" for key in re._cache))
            ```

            ```text title="Output"
            True True
            ```
        """)
    result = repo.run("docs")
    assert summary(result) == "blocks: 3 verified, 0 structural, 0 unchecked, 0 skipped, 0 failed, 0 not run"


# Modules outside the repo (preloaded by the fork server for every page) that write to stdout when imported.
NOISY_MODULES = {
    "hloud_numpy.py": "import numpy\n\nprint('hloud_numpy imported')\n",  # loads a compiled extension first
    "hpkg/__init__.py": "VALUE = 1\n",
    "hpkg/loud.py": "print('hpkg.loud imported')\n",
    "hlogs.py": "import logging\nimport sys\n\nlog = logging.getLogger('hlogs')\n"
                "log.addHandler(logging.StreamHandler(sys.stdout))\nlog.setLevel(logging.INFO)\n",
}
NOISY_PAGES = {
    # `import this` prints the Zen of Python: imported lazily (warm-ups) and at top level (server preload).
    "a_lazily": "def zen():\n    import this\n    return this.s[:10]\n\nprint(zen())\n",
    "b_lazily": "def zen():\n    import this\n    return this.s[:10]\n\nprint(zen())\n",
    "c_top_level": "import this\n\nprint(this.s[:10])\n",
    "d_top_level": "import this\n\nprint(this.s[:10])\n",
    "e_extension": "import hloud_numpy\nimport numpy\n\nprint(numpy.arange(3))\n",
    "f_package": "import hpkg\nimport hpkg.loud\n\nprint(hpkg.VALUE)\n",
    "g_from_package": "from hpkg import loud\n\nprint(loud.__name__)\n",
    "h_handler": "import hlogs\n\nhlogs.log.info('logged at import time handler')\nprint('end')\n",
}


def test_modules_that_print_when_imported_print_on_every_page_as_in_a_cold_interpreter(repo, monkeypatch, tmp_path):
    # The fork server preloads the pages' top-level imports and the process forked for the next page imports
    # what earlier pages imported: neither may swallow what an import prints (nor break the page), or a page
    # would print one thing alone and another after other pages (and split runs would disagree).
    modules = tmp_path / "modules"
    for name, code in NOISY_MODULES.items():
        (modules / name).parent.mkdir(parents=True, exist_ok=True)
        (modules / name).write_text(code)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([os.environ["PYTHONPATH"], str(modules)]))
    for name, code in NOISY_PAGES.items():
        repo.write(f"docs/{name}.md", f'```python\n{code}```\n\n```text title="Output"\nto be written\n```\n')
    repo.run("docs", "--update-outputs").assert_outcomes(passed=len(NOISY_PAGES))
    for name, code in NOISY_PAGES.items():
        cold = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              cwd=repo.root).stdout
        assert parse_page(repo.root / f"docs/{name}.md").python_blocks[0].output.text == cold, name
    assert "Beautiful is better than ugly." in (repo.root / "docs/a_lazily.md").read_text()
