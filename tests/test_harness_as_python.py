"""A page runs as `python snippet.py` would run its code: what reaches stdout is its output, block by block,
the page is `__main__`, errors show the page's own lines, and `--repeat` finds output that changes between runs."""
from __future__ import annotations

from harness_testing import repo, summary  # noqa: F401  (fixture)


def test_everything_written_to_stdout_is_the_output_of_the_block_that_wrote_it(repo):
    repo.write("docs/progress.md", """
        # Reporting progress

        A handler made in the first block writes to `sys.stdout`; later blocks log through it.

        ```python
        import logging
        import sys

        progress = logging.getLogger("progress")
        progress.setLevel(logging.INFO)
        progress.addHandler(logging.StreamHandler(sys.stdout))
        progress.info("tokenizer ready")
        ```

        ```text title="Output"
        tokenizer ready
        ```

        Whoever writes to stdout counts: Python, the descriptor, a child process, C's stdio. stderr does not.

        ```python
        import ctypes
        import os
        import subprocess

        progress.info("encoding the batch")
        os.write(1, b"16 sequences\\n")
        ctypes.CDLL(None).printf(b"%d tokens\\n", 512)
        subprocess.run([sys.executable, "-c", "print('worker done')"], check=True)
        print("a warning for the reader of stderr", file=sys.stderr)
        os.write(2, b"more stderr\\n")
        print("batch encoded")
        ```

        ```text title="Output"
        encoding the batch
        16 sequences
        512 tokens
        worker done
        batch encoded
        ```

        ```python
        print("no more")
        ```

        ```text title="Output"
        no more
        ```
    """)
    repo.write("docs/flood.md", """
        ```python
        import os
        os.write(1, b"z" * 2_500_000)
        ```

        ```text title="Output"
        zzz
        ```
    """)
    repo.write("docs/runaway.md", """
        ```python
        import os
        while True:
            os.write(1, b"y" * 8_000_000)
        ```

        ```python
        print("not reached")
        ```
    """)
    result = repo.run("docs")
    out = result.stdout.str()
    result.stdout.fnmatch_lines(["*printed output differs from the Output block at docs/flood.md:6*",
                                 "*the block printed 2,500,000 characters; the first 1,000,000 were kept*"])
    result.stdout.fnmatch_lines(["*the block wrote more than 100,000,000 bytes to stdout; the page was stopped*"])
    assert len(out) < 60_000  # megabytes written to the descriptor, a bounded report
    assert "a warning for the reader" not in out and "more stderr" not in out
    assert summary(result) == "blocks: 3 verified, 0 structural, 0 unchecked, 0 skipped, 2 failed, 1 not run"


def test_the_page_is_the_main_module(repo):
    repo.write("snippets/records.py", """
        # --8<-- [start:record]
        import pickle
        import sys
        from dataclasses import dataclass


        @dataclass
        class Review:
            text: str
            stars: int


        again = pickle.loads(pickle.dumps(Review("clear and short", 5)))
        print(again, sys.modules["__main__"].__dict__ is globals(), __file__.endswith("/snippets/records.py"))
        # --8<-- [end:record]
        """)
    repo.write("docs/records.md", """
        # Saving what the page defines

        ```python
        --8<-- "snippets/records.py:record"
        ```

        ```text title="Output"
        Review(text='clear and short', stars=5) True True
        ```

        Later blocks, and the processes a page starts, find the page's classes and functions in `__main__`:

        ```python
        import io
        import multiprocessing

        import torch


        class Scale(torch.nn.Module):
            def forward(self, x):
                return 2 * x


        def square(n):
            return n * n


        buffer = io.BytesIO()
        torch.save(Scale(), buffer)
        buffer.seek(0)
        restored = torch.load(buffer, weights_only=False)
        with multiprocessing.get_context("fork").Pool(2) as pool:
            print(type(restored).__name__, restored(torch.ones(2)).tolist(), pool.map(square, [1, 2, 3]))
        ```

        ```text title="Output"
        Scale [2.0, 2.0] [1, 4, 9]
        ```
    """)
    repo.write("docs/fields.md", """
        ```python
        from __future__ import annotations

        import dataclasses
        from typing import ClassVar


        @dataclasses.dataclass
        class Batch:
            size: int
            limit: ClassVar[int] = 512


        print(__name__, [field.name for field in dataclasses.fields(Batch)], __file__.endswith("/docs/fields.md"))
        ```

        ```text title="Output"
        __main__ ['size'] True
        ```
    """)
    result = repo.run("docs")
    assert summary(result) == "blocks: 3 verified, 0 structural, 0 unchecked, 0 skipped, 0 failed, 0 not run"


def test_errors_show_the_page_line_and_its_own_text(repo):
    repo.write("snippets/typo.py", """
        # --8<-- [start:sum]
        scores = [0.2, 0.5, 0.3]

        print(round(sum(scores), 2)
        # --8<-- [end:sum]
        # --8<-- [start:ratio]
        counts = {"positive": 3, "negative": 0}
        ratio = counts["positive"] / counts["negative"]
        # --8<-- [end:ratio]
        """)
    repo.write("docs/typos.md", """
        # Typos

        First some prose, so that the block's own line 2 is not the page's.

        ```python
        lengths = [3, 5, 8]
        print(max(lengths)
        ```
    """)
    repo.write("docs/included.md", """
        # Included code

        ```python
        --8<-- "snippets/typo.py:sum"
        ```
    """)
    repo.write("docs/division.md", """
        Some text.

        ```python
        --8<-- "snippets/typo.py:ratio"
        ```
    """)
    result = repo.run("docs")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines([
        '  File "docs/typos.md", line 7',
        "    print(max(lengths)",
        "         ^",  # under the bracket never closed, as `python` shows it
        "SyntaxError: '(' was never closed",
    ], consecutive=True)
    result.stdout.fnmatch_lines([
        # The listing numbers each included line with its own file and line, not all with the include's.
        "code (docs/included.md:3; included at page line 4):",
        "snippets/typo.py:2 | scores = [[]0.2, 0.5, 0.3[]]",
        "snippets/typo.py:3 | ",
        "snippets/typo.py:4 | print(round(sum(scores), 2)",
        '  File "docs/included.md", line 4 (included from snippets/typo.py, line 4)',
        "    print(round(sum(scores), 2)",
        "SyntaxError: '(' was never closed",
    ])
    result.stdout.fnmatch_lines([
        '  File "docs/division.md", line 4, in <module> (included from snippets/typo.py, line 8)',
        '    ratio = counts[[]"positive"[]] / counts[[]"negative"[]]',
        "ZeroDivisionError: division by zero",
    ])


def test_output_that_changes_between_runs_is_named_and_never_written(repo):
    # Sets of strings iterate in an order fixed by the interpreter's hash seed, different in every `python`.
    page = """
        # Vocabulary

        ```python
        vocabulary = {"attention", "head", "layer", "token", "embedding", "decoder", "encoder", "softmax",
                      "logits", "residual", "position", "mask"}
        print(vocabulary)
        ```

        ```text title="Output"
        {'attention', 'head', 'layer', 'token', 'embedding', 'decoder', 'encoder', 'softmax', 'logits', 'residual', 'position', 'mask'}
        ```

        ```python
        print(sorted(vocabulary)[:3])
        ```

        ```text title="Output"
        ['attention', 'decoder', 'embedding']
        ```

        ```python
        print(" ".join(vocabulary))
        ```
    """
    path = repo.write("docs/vocabulary.md", page)
    before = path.read_bytes()
    report = repo.report("docs", "--repeat", "4", "--update-outputs")
    records = {record["line"]: record for record in report["blocks"]}
    # A set's repr compares unordered: the same output in every run. The joined words are text: not the same.
    assert [records[line]["status"] for line in (3, 13, 21)] == ["verified", "verified", "unchecked"]
    assert [records[line]["changes_between_runs"] for line in (3, 13, 21)] == [False, False, True]
    assert path.read_bytes() == before  # nothing drifted that one run could settle
    # Drifted: a set whose items changed is rewritten (any order will do); the joined words never are.
    repo.write("docs/vocabulary.md", page.replace("'mask'}", "'masks'}").rstrip() +
               '\n\n        ```text title="Output"\n        x\n        ```\n')
    report = repo.report("docs", "--repeat", "4", "--update-outputs")
    records = {record["line"]: record for record in report["blocks"]}
    assert records[3]["reason"] == "output updated" and "'masks'" not in path.read_text()
    assert records[21]["status"] == "failed" and "--update-outputs refused" in records[21]["reason"]
    assert "\nx\n" in path.read_text()  # no one order is right: the joined words are never written
    result = repo.run("docs", "--repeat", "2")
    result.stdout.fnmatch_lines(["output changes between runs: docs/vocabulary.md:21"])
    assert "vocabulary.md:3\n" not in result.stdout.str()
    # Without the option a page runs once and no record claims anything about runs.
    assert "changes_between_runs" not in repo.report("docs")["blocks"][0]


def test_a_runtime_error_in_a_block_mixing_page_lines_and_an_include_names_both(repo):
    repo.write("snippets/mean.py", """
        # --8<-- [start:mean]
        def mean(values):
            return sum(values) / len(values)


        print(mean([]))
        # --8<-- [end:mean]
        """)
    repo.write("docs/mixed.md", """
        # Mixed

        ```python
        values = [2, 4]
        print(values)
        --8<-- "snippets/mean.py:mean"
        ```
    """)
    result = repo.run("docs")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        '  File "docs/mixed.md", line 6, in <module> (included from snippets/mean.py, line 6)',
        "    print(mean([[]]))",
        '  File "docs/mixed.md", line 6, in mean (included from snippets/mean.py, line 3)',
        "    return sum(values) / len(values)",
        "*ZeroDivisionError: division by zero",
    ])
