"""Incremental verification: page fingerprints, the record of passed pages, and `--changed-only` runs."""
from __future__ import annotations

import sqlite3
from pathlib import Path

# Imported here, before any in-process pytest run: pytester restores sys.modules after each, and numpy's core
# cannot be imported twice in one process.
import numpy
import pytest
from safetensors.numpy import save_file

from harness.checkpoints.resolver import CheckpointUse, PagePlan
from harness.incremental import (CACHE_KEY, VerifiedRecord, harness_digest, page_fingerprint, page_passed,
                                 skip_reason, stack_versions)
from harness.page import parse_page

VERSIONS = {"python": "3.11.7", "torch": "2.13.0", "transformers": "5.24.0", "tokenizers": "0.23.3",
            "huggingface_hub": "2.4.0", "harness": "abc"}

PAGE = """\
# A page

Some prose.

```python
x = 2 + 3
print(x)
```

```text title="Output"
5
```
"""


def fingerprint(tmp_path: Path, text: str, plan: PagePlan | None = None, versions=VERSIONS) -> str:
    """The fingerprint of `text` written as a page (parsed by the harness's own parser)."""
    page_file = tmp_path / "docs" / "page.md"
    page_file.parent.mkdir(exist_ok=True)
    (tmp_path / "mkdocs.yml").write_text("site_name: t\n")
    page_file.write_text(text)
    page = parse_page(page_file)
    return page_fingerprint(page, plan or PagePlan(uses=[[] for _ in page.blocks]), versions)


def test_fingerprint_is_stable(tmp_path):
    assert fingerprint(tmp_path, PAGE) == fingerprint(tmp_path, PAGE)
    assert len(fingerprint(tmp_path, PAGE)) == 64


def test_prose_does_not_change_the_fingerprint(tmp_path):
    # Only what decides a verdict counts: rewording the text around blocks re-verifies nothing.
    assert fingerprint(tmp_path, PAGE.replace("Some prose.", "Other words.")) == fingerprint(tmp_path, PAGE)


@pytest.mark.parametrize("edit", [
    ("2 + 3", "2 + 4"),                       # the code
    ("\n5\n", "\n6\n"),                       # the documented output
    ("```python", '<!-- pytest.mark.tolerance(abs=0.1) -->\n```python'),
    ("```python", '<!-- pytest.mark.skip(reason="slow") -->\n```python'),
    ("# A page", "---\ntolerance: {abs: 0.5}\n---\n# A page"),
])
def test_what_decides_the_verdict_changes_the_fingerprint(tmp_path, edit):
    assert fingerprint(tmp_path, PAGE.replace(*edit, 1)) != fingerprint(tmp_path, PAGE)


def test_the_output_a_session_shows_changes_the_fingerprint(tmp_path):
    session = "# A session\n\n```pycon\n>>> 2 + 3\n5\n```\n"
    assert fingerprint(tmp_path, session.replace("\n5\n", "\n6\n")) != fingerprint(tmp_path, session)


@pytest.mark.parametrize("package", sorted(VERSIONS))
def test_versions_change_the_fingerprint(tmp_path, package):
    assert fingerprint(tmp_path, PAGE, versions={**VERSIONS, package: "9.9"}) != fingerprint(tmp_path, PAGE)


def test_checkpoint_revision_and_weights_change_the_fingerprint(tmp_path):
    def plan(revision, weights):
        return PagePlan(uses=[[CheckpointUse("org/model", revision, weights)]])

    base = fingerprint(tmp_path, PAGE, plan("a" * 40, "stand-in"))
    assert fingerprint(tmp_path, PAGE, plan("a" * 40, "stand-in")) == base
    assert fingerprint(tmp_path, PAGE, plan("b" * 40, "stand-in")) != base
    assert fingerprint(tmp_path, PAGE, plan("a" * 40, "real")) != base
    assert fingerprint(tmp_path, PAGE) != base


def test_stack_versions_name_the_stack_and_the_harness():
    versions = stack_versions()
    assert set(versions) == {"python", "torch", "transformers", "tokenizers", "huggingface_hub", "harness"}
    assert versions["harness"] == harness_digest()


def test_harness_digest_follows_its_sources(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    before = harness_digest(tmp_path)
    (tmp_path / "a.py").write_text("x = 2\n")
    assert harness_digest(tmp_path) != before


@pytest.mark.parametrize("statuses, passed", [
    (["verified", "structural", "unchecked", "skipped"], True),
    (["verified", "failed"], False),
    (["verified", "not run"], False),
    ([], False),
])
def test_only_pages_whose_blocks_all_passed_count(statuses, passed):
    assert page_passed(statuses) is passed


def test_skip_reason_names_the_earlier_verdict_and_the_date():
    assert skip_reason("structural", "2026-11-25T17:03Z") == "structural, earlier on 2026-11-25T17:03Z (unchanged)"


@pytest.fixture
def cache(pytester):
    """pytest's real cache, in a temporary directory."""
    # Without a session, hypothesis's plugin (switched off in pyproject.toml) would be loaded here and leave
    # hypothesis believing it is still initializing: its later tests would warn of slow plugin code.
    return pytester.parseconfigure("-p", "no:hypothesispytest").cache


def test_record_round_trips_through_pytest_cache(cache):
    record = VerifiedRecord.load(cache)
    assert record.verified_at("docs/a.md", "f1") is None
    record.record("docs/a.md", "f1", "2026-11-25T17:03Z", verdicts={0: "structural", 1: "verified"})
    record.save()
    again = VerifiedRecord.load(cache)
    assert again.verified_at("docs/a.md", "f1") == "2026-11-25T17:03Z"
    assert again.verdicts("docs/a.md", "f1") == {0: "structural", 1: "verified"}
    assert again.verified_at("docs/a.md", "f2") is None  # changed since: not verified
    again.forget("docs/a.md")
    again.save()
    assert VerifiedRecord.load(cache).verified_at("docs/a.md", "f1") is None


@pytest.mark.parametrize("garbage", [
    b"\x00\xff not json at all",
    b'{"format": 1, "pages": ',               # cut mid-write
    b"[1, 2, 3]",                             # JSON of the wrong shape
    b'{"format": 1, "pages": {"docs/a.md": {"fingerprint": "f1", "verified_at": "x"}}}',  # older format
    # a verdict that is no pass cannot have been recorded: the record was edited, trust none of it
    b'{"format": 2, "pages": {"docs/a.md": {"fingerprint": "f1", "verified_at": "x", "verdicts": {"0": "failed"}}}}',
    b'{"format": 1, "pages": {"docs/a.md": {"fingerprint": 7}}}',
])
def test_a_damaged_record_means_a_full_run(cache, garbage):
    record = VerifiedRecord.load(cache)
    record.record("docs/a.md", "f1", "2026-11-25T17:03Z")
    record.save()
    path = cache._getvaluepath(CACHE_KEY)
    assert path.is_file()
    path.write_bytes(garbage)
    assert VerifiedRecord.load(cache).verified_at("docs/a.md", "f1") is None


def test_no_cache_means_nothing_verified_earlier():
    # `-p no:cacheprovider` leaves no cache: the record is empty and saving does nothing.
    record = VerifiedRecord.load(None)
    record.record("docs/a.md", "f1", "when")
    record.save()
    assert VerifiedRecord.load(None).pages == {}


# --- `--changed-only` in real pytest runs over a temporary repo ------------------------------------------

from harness_testing import PROJECT_ADDOPTS, repo, summary  # noqa: E402,F401  (fixture)

SUM = PAGE  # the page the fingerprint tests use, now run for real

GREETING = """\
```python
print("hello")
```

```text title="Output"
hello
```
"""

EARLIER = "*verified, earlier on 20??-??-??T??:??Z (unchanged)*"


@pytest.fixture
def pages(repo):
    """Two passing pages in a repo whose pytest keeps its cache (the record lives there)."""
    (repo.root / "pytest.ini").write_text(f"[pytest]\naddopts = {PROJECT_ADDOPTS}\n")
    repo.write("docs/sum.md", SUM)
    repo.write("docs/greeting.md", GREETING)
    return repo


def test_unchanged_pages_keep_their_earlier_verdicts_never_fresh_ones(pages):
    pages.run("docs").assert_outcomes(passed=2)
    again = pages.run("docs", "--changed-only")
    again.assert_outcomes(skipped=2)
    again.stdout.fnmatch_lines([EARLIER])
    assert summary(again) == ("blocks: 0 verified, 0 structural, 0 unchecked, 0 skipped, 0 failed, 0 not run; "
                              "earlier, pages unchanged: 2 verified")


def test_without_the_option_every_page_runs(pages):
    pages.run("docs").assert_outcomes(passed=2)
    pages.run("docs").assert_outcomes(passed=2)


def test_editing_code_or_output_reruns_only_that_page(pages):
    pages.run("docs").assert_outcomes(passed=2)
    # Same output, different code: the page must be run again to know.
    pages.write("docs/sum.md", SUM.replace("2 + 3", "1 + 4"))
    pages.run("docs", "--changed-only").assert_outcomes(passed=1, skipped=1)
    pages.write("docs/greeting.md", GREETING.replace("hello\n```", "hullo\n```"))
    changed = pages.run("docs", "--changed-only")
    changed.assert_outcomes(failed=1, skipped=1)
    changed.stdout.fnmatch_lines([EARLIER])


def test_a_failed_page_is_always_rerun(pages):
    pages.write("docs/greeting.md", GREETING.replace("hello\n```", "hullo\n```"))
    pages.run("docs").assert_outcomes(passed=1, failed=1)
    for _ in range(2):
        pages.run("docs", "--changed-only").assert_outcomes(failed=1, skipped=1)
    pages.write("docs/greeting.md", GREETING)  # fixed: verified once, then trusted
    pages.run("docs", "--changed-only").assert_outcomes(passed=1, skipped=1)
    pages.run("docs", "--changed-only").assert_outcomes(skipped=2)


def test_a_page_that_passed_then_failed_is_forgotten(pages):
    pages.run("docs").assert_outcomes(passed=2)
    pages.write("docs/greeting.md", GREETING.replace("hello\n```", "hullo\n```"))
    pages.run("docs").assert_outcomes(passed=1, failed=1)
    # Back to the text that once passed: its old record must not be trusted after the failure in between.
    pages.write("docs/greeting.md", GREETING)
    pages.run("docs", "--changed-only").assert_outcomes(passed=1, skipped=1)


@pytest.mark.parametrize("garbage", [b"\x00\xffgarbage", b'{"format": 1, "pages": {"docs/sum.md": 3}}'])
def test_a_corrupt_record_means_a_full_run(pages, garbage):
    pages.run("docs").assert_outcomes(passed=2)
    record = pages.root / ".pytest_cache" / "v" / CACHE_KEY
    assert record.is_file()
    record.write_bytes(garbage)
    pages.run("docs", "--changed-only").assert_outcomes(passed=2)
    pages.run("docs", "--changed-only").assert_outcomes(skipped=2)  # and the record is whole again


def test_the_report_gives_the_earlier_verdict_with_the_date(pages):
    pages.run("docs").assert_outcomes(passed=2)
    report = pages.report("docs", "--changed-only")
    assert [block["status"] for block in report["blocks"]] == ["verified", "verified"]
    assert all(block["reason"].startswith("verified, earlier on ") and block["reason"].endswith("(unchanged)")
               and block["earlier"] for block in report["blocks"])


def assert_rerun_when(pages, edit, undo, output_at: str = "") -> None:
    """After `edit()`, --changed-only runs the page again and it fails (on its Output block at `output_at`, if
    given); after `undo()`, it runs again and passes. The repo's two other pages stay skipped throughout."""
    edit()
    changed = pages.run("docs", "--changed-only")
    changed.assert_outcomes(failed=1, skipped=2)
    if output_at:
        changed.stdout.fnmatch_lines([f"*printed output differs from the Output block at {output_at}*"])
    undo()
    pages.run("docs", "--changed-only").assert_outcomes(passed=1, skipped=2)


def test_a_page_is_rerun_when_a_repo_module_it_imports_changes(pages):
    # The page's code does not change; what it imports from the repo does (two levels down).
    pages.write("course_tools/labels.py", 'from course_tools.names import NAMES\nLABELS = sorted(NAMES)\n')
    pages.write("course_tools/names.py", 'NAMES = {"negative", "positive"}\n')
    pages.write("course_tools/unused.py", 'NOTHING = None\n')
    pages.write("docs/labels.md", """
        ```python
        from course_tools.labels import LABELS
        print(LABELS)
        ```

        ```text title="Output"
        ['negative', 'positive']
        ```
    """)
    pages.run("docs").assert_outcomes(passed=3)
    pages.run("docs", "--changed-only").assert_outcomes(skipped=3)
    pages.write("course_tools/unused.py", 'NOTHING = 0\n')  # no page imports it: nothing to re-verify
    pages.run("docs", "--changed-only").assert_outcomes(skipped=3)
    assert_rerun_when(pages,
                      lambda: pages.write("course_tools/names.py", 'NAMES = {"negative", "neutral", "positive"}\n'),
                      lambda: pages.write("course_tools/names.py", 'NAMES = {"negative", "positive"}\n'),
                      "docs/labels.md:6")


def test_a_page_is_rerun_when_a_repo_file_it_reads_changes(pages):
    # Not imported, so not a module: a data file opened, and a script run with runpy (it used to stay "unchanged").
    pages.write("course_data/labels.json", '["negative", "positive"]\n')
    pages.write("course_tools/report.py", 'print("report, first edition")\n')
    pages.write("docs/reads.md", """
        ```python
        import json
        import runpy

        with open("course_data/labels.json") as labels:
            print(json.load(labels))
        with open("course_data/scratch.txt", "w") as scratch:  # written, not read: no reason to re-verify
            scratch.write("anything")
        runpy.run_path("course_tools/report.py")
        ```

        ```text title="Output"
        ['negative', 'positive']
        report, first edition
        ```
    """)
    pages.run("docs").assert_outcomes(passed=3)
    pages.run("docs", "--changed-only").assert_outcomes(skipped=3)
    assert_rerun_when(pages, lambda: pages.write("course_data/labels.json", '["negative", "neutral", "positive"]\n'),
                      lambda: pages.write("course_data/labels.json", '["negative", "positive"]\n'), "docs/reads.md:")
    pages.write("course_data/scratch.txt", "changed by hand")
    pages.run("docs", "--changed-only").assert_outcomes(skipped=3)
    pages.write("course_tools/report.py", 'print("report, second edition")\n')
    pages.run("docs", "--changed-only").assert_outcomes(failed=1, skipped=2)


def test_a_page_is_rerun_when_what_it_reads_changes_however_it_reads_it(pages):
    # After a chdir, by listing a folder, and natively (numpy's C reader, as safetensors and tokenizers read a
    # checkpoint's weights): each used to leave the page "unchanged".
    pages.write("course_data/labels.json", '["negative", "positive"]\n')
    pages.write("course_data/corpus/one.txt", "one\n")
    pages.write("course_data/tiny/config.json", '{"size": 2}\n')
    (pages.root / "course_data/tiny/weights.bin").write_bytes(bytes([1, 2]))
    pages.write("docs/readers.md", """
        ```python
        import json
        import os

        import numpy

        with open("course_data/tiny/config.json") as config:
            print(json.load(config), numpy.fromfile("course_data/tiny/weights.bin", dtype=numpy.uint8).tolist())
        print(sorted(os.listdir("course_data/corpus")))
        os.chdir("course_data")
        with open("labels.json") as labels:
            print(json.load(labels))
        ```

        ```text title="Output"
        {'size': 2} [1, 2]
        ['one.txt']
        ['negative', 'positive']
        ```
    """)
    pages.run("docs").assert_outcomes(passed=3)
    pages.run("docs", "--changed-only").assert_outcomes(skipped=3)
    for edit, undo in [
        (lambda: (pages.root / "course_data/tiny/weights.bin").write_bytes(bytes([1, 3])),
         lambda: (pages.root / "course_data/tiny/weights.bin").write_bytes(bytes([1, 2]))),
        (lambda: pages.write("course_data/corpus/two.txt", "two\n"),
         lambda: (pages.root / "course_data/corpus/two.txt").unlink()),
        (lambda: pages.write("course_data/labels.json", '["neutral"]\n'),
         lambda: pages.write("course_data/labels.json", '["negative", "positive"]\n')),
    ]:
        assert_rerun_when(pages, edit, undo)


@pytest.mark.parametrize("code", [
    # Another process's reads are not seen.
    'import subprocess, sys\nsubprocess.run([sys.executable, "-c", "print(1)"], check=True)',
    # What the page read is not there any more: it rewrote it.
    'with open("count.txt", "a+") as count:\n    count.write("1")\nprint(1)',
    # A name that is not UTF-8 cannot be kept in the record (it used to crash the run and empty the record).
    'open(b"caf\\xe9.txt", "wb").close()\nprint(len(open(b"caf\\xe9.txt", "rb").read()) + 1)',
], ids=["another process", "rewrites what it read", "name not UTF-8"])
def test_a_page_whose_inputs_cannot_be_followed_runs_every_time_and_the_others_keep_their_record(pages, code):
    pages.write("docs/untracked.md", "```python\n" + code + "\n```\n\n```text title=\"Output\"\n1\n```\n")
    pages.run("docs").assert_outcomes(passed=3)
    for _ in range(2):
        again = pages.run("docs", "--changed-only")
        again.assert_outcomes(passed=1, skipped=2)
        again.stdout.fnmatch_lines([EARLIER])


def _write_tensor(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"w": numpy.array([value], dtype=numpy.int64)}, str(path))


def _write_database(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS t (v INTEGER)")
        db.execute("DELETE FROM t")
        db.execute("INSERT INTO t VALUES (?)", (value,))
    db.close()


@pytest.mark.parametrize("write, code", [
    # safetensors and SQLite read their files in C code: no "open" event names them.
    (lambda root, v: _write_tensor(root / "course_data/w.safetensors", v),
     'from safetensors.numpy import load_file\nprint(load_file("course_data/w.safetensors")["w"].tolist()[0])'),
    (lambda root, v: _write_database(root / "course_data/t.db", v),
     'import sqlite3\nprint(sqlite3.connect("course_data/t.db").execute("SELECT v FROM t").fetchone()[0])'),
], ids=["safetensors", "sqlite"])
def test_a_page_reading_through_c_code_is_rerun_when_the_file_changes(pages, write, code):
    write(pages.root, 1)
    pages.write("docs/native.md", "```python\n" + code + "\n```\n\n```text title=\"Output\"\n1\n```\n")
    pages.run("docs").assert_outcomes(passed=3)
    pages.run("docs", "--changed-only").assert_outcomes(skipped=3)
    write(pages.root, 2)
    pages.run("docs", "--changed-only").assert_outcomes(failed=1, skipped=2)


@pytest.mark.parametrize("code", [
    # A folder read by descriptor: which folder is not seen.
    'import os\nprint(len(os.listdir(os.open("docs", os.O_RDONLY))) - 2)',
    # A checkpoint folder read, then removed: there is nothing left to hash (this crashed the page's process).
    'import os, shutil\nos.makedirs("ckpt", exist_ok=True)\nopen("ckpt/config.json", "w").write("{}")\n'
    'open("ckpt/config.json").read()\nshutil.rmtree("ckpt")\nprint(1)',
], ids=["descriptor", "checkpoint removed"])
def test_a_page_whose_reads_are_not_seen_runs_every_time(pages, code):
    pages.write("docs/unseen.md", "```python\n" + code + "\n```\n\n```text title=\"Output\"\n1\n```\n")
    pages.run("docs").assert_outcomes(passed=3)
    pages.run("docs", "--changed-only").assert_outcomes(passed=1, skipped=2)
