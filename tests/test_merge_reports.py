"""`python -m harness merge-reports`: split runs' verification reports merge into the whole run's record."""
from __future__ import annotations

import json
import subprocess
import sys

from benchmarks.workspace import REPO
from harness_testing import repo  # noqa: F401  (fixture)


def _pages(repo) -> None:
    """Two directories of pages, as two CI jobs would select them: verified, failed, skipped, unreadable."""
    repo.write("docs/basics/numbers.md", """
        ```python
        print(2 + 3)
        ```

        ```text title="Output"
        5
        ```

        ```python
        print("a different line")
        ```

        ```text title="Output"
        the line the page promised
        ```
    """)
    repo.write("docs/basics/words.md", """
        <!-- pytest.mark.skip(reason="needs a GPU") -->
        ```python
        print("never run here")
        ```

        ```python
        print(" ".join(["split", "runs"]))
        ```

        ```text title="Output"
        split runs
        ```
    """)
    repo.write("docs/models/broken.md", """
        ```python
        print("this fence never closes")
    """)
    repo.write("docs/models/loop.md", """
        ```python
        total = sum(range(4))
        ```

        ```python
        print(total)
        ```

        ```text title="Output"
        6
        ```
    """)


def _comparable(document: dict) -> dict:
    """What a report says about the course: blocks and verdicts, unreadable pages; not dates or durations."""
    blocks = [{key: value for key, value in record.items() if key != "duration"} for record in document["blocks"]]
    errors = sorted(document["page_errors"], key=lambda error: (error["page"], error["line"] or 0))
    return {"blocks": blocks, "page_errors": errors}


def _merge(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", "merge-reports", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


def test_two_split_runs_merge_into_the_record_of_one_whole_run(repo):
    _pages(repo)
    whole = repo.report("docs")
    first = repo.report("docs/basics")
    (repo.root / "report.json").rename(repo.root / "basics.json")
    second = repo.report("docs/models")
    (repo.root / "report.json").rename(repo.root / "models.json")
    assert first["blocks"] and second["blocks"] and second["page_errors"]  # each part holds part of the course

    merged = _merge("basics.json", "models.json", "-o", "out/all.json", cwd=repo.root)

    assert merged.returncode == 0, merged.stderr
    record = json.loads((repo.root / "out" / "all.json").read_text(encoding="utf-8"))
    assert _comparable(record) == _comparable(whole)
    assert {block["status"] for block in record["blocks"]} >= {"verified", "failed", "skipped"}
    assert [part["report"] for part in record["environment"]["parts"]] == ["basics.json", "models.json"]
    # The order of the parts does not matter.
    assert _merge("models.json", "basics.json", "-o", "again.json", cwd=repo.root).returncode == 0
    assert _comparable(json.loads((repo.root / "again.json").read_text())) == _comparable(whole)


def test_parts_that_disagree_are_refused_and_nothing_is_written(repo):
    part = {"environment": {"harness": "abc", "python": "3.11.2"}, "page_errors": [],
            "blocks": [{"page": "docs/a.md", "line": 3, "status": "verified"}]}
    repo.write("one.json", json.dumps(part))
    repo.write("other.json", json.dumps(dict(part, blocks=[dict(part["blocks"][0], status="failed")])))
    repo.write("newer.json", json.dumps(dict(part, environment={"harness": "def", "python": "3.11.2"})))
    repo.write("notes.json", "{not json")

    for files, message in ((["one.json", "other.json"], "docs/a.md:3: one.json says 'verified', other.json says 'failed'"),
                           (["one.json", "newer.json"], "newer.json: harness is 'def', but one.json has 'abc'"),
                           (["one.json", "notes.json"], "notes.json: not a readable JSON report"),
                           (["one.json", "one.json"], "one.json: given twice")):
        result = _merge(*files, "-o", "all.json", cwd=repo.root)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert not (repo.root / "all.json").exists()
