"""The committed verification record (verification.json): complete, current, and what the claims say.

The site shows each output's check from this file alone; a fresh `pytest docs` must reach the same verdicts
for the same blocks, as the notebooks must match their pages.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from harness import record
from harness.page import parse_page
from harness.report import EXPECTED_FAILURES, VERDICTS
from harness.snippets import Site
from tests.conftest import REPO

RECORD = REPO / record.RECORD_FILE
SOURCES = ("hub-cache", "package", "stand-in")


@pytest.fixture(scope="module")
def committed() -> dict:
    return record.load(RECORD)


def pages_with_code():
    site = Site.load(REPO)
    return {p.relative_to(REPO).as_posix(): parse_page(p, site) for p in sorted((REPO / "docs").rglob("*.md"))
            if "notebooks" not in p.parts and parse_page(p, site).blocks}


def test_the_record_holds_every_block_of_every_page_and_nothing_else(committed):
    expected = {(name, block.line, block.output.line if block.output else None)
                for name, page in pages_with_code().items() for block in page.blocks}
    recorded = {(b["page"], b["line"], b["output_line"]) for b in committed["blocks"]}
    assert recorded == expected, "the pages changed since `make verify`: run it again"


def test_each_block_says_what_it_ran_on_with_which_versions(committed):
    for block in committed["blocks"]:
        where = f"{block['page']}:{block['line']}"
        assert block["status"] in (*VERDICTS, *EXPECTED_FAILURES), where
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", block["date"]), where
        assert all(block[key] for key in record.VERSIONS), where
        assert isinstance(block["duration"], (int, float)), where
        for checkpoint in block["checkpoints"]:
            assert checkpoint["source"]["from"] in SOURCES, (where, checkpoint)
            assert checkpoint["weights"] == ("stand-in" if checkpoint["source"]["from"] == "stand-in" else "real")
    # The offline lab runs on real weights shipped by a package: the record says which.
    lab = [b for b in committed["blocks"] if b["page"] == "docs/offline-lab.md"]
    assert lab and all(b["checkpoints"] and b["checkpoints"][0]["source"]["from"] == "package" for b in lab)


def test_the_tokenizer_pages_token_ids_are_verified_on_a_stand_in(committed):
    blocks = [b for b in committed["blocks"] if b["page"] == "docs/using-transformers/tokenizer.md" and b["output_line"]]
    assert blocks and {b["status"] for b in blocks} == {"verified"}


def test_the_readme_states_the_records_counts(committed):
    counts = record.counts(committed)
    stated = re.search(r"In the record: (.*?) \(", (REPO / "README.md").read_text(encoding="utf-8"), re.DOTALL)
    assert stated, "README.md no longer states the record's counts"
    said = {verdict: int(n) for n, verdict in re.findall(r"(\d+) (?:blocks )?(verified|structural|unchecked|skipped|"
                                                           r"failed|not run)", " ".join(stated[1].split()))}
    assert said == counts, f"README.md says {said}, the record holds {counts}"


def test_the_claims_never_say_every_output_is_verified():
    for path in ("README.md", "mkdocs.yml", "pyproject.toml", "docs/index.md"):
        text = " ".join((REPO / path).read_text(encoding="utf-8").split())
        assert not re.search(r"every (documented )?output (printed .{0,30})?(is |was )?(verified|checked)", text), path


def test_a_malformed_record_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "verification.json"
    path.write_text('{"blocks": [', encoding="utf-8")
    with pytest.raises(record.RecordError, match=re.escape(str(path))):
        record.load(path)
    path.write_text(json.dumps({"blocks": [{"page": "docs/a.md", "line": 3}]}), encoding="utf-8")
    with pytest.raises(record.RecordError, match=r"docs/a\.md:3 .* lacks output_line"):
        record.load(path)


@pytest.mark.slow
def test_a_fresh_run_reaches_the_records_verdicts(committed, tmp_path):
    """Runs every page (`pytest docs`, about 40 s): the committed record must not be stale."""
    fresh_path = tmp_path / "fresh.json"
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", "docs", "-q", "-p", "no:cacheprovider",
                           f"--verification-report={fresh_path}"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=1800)
    assert fresh_path.is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    fresh = json.loads(fresh_path.read_text(encoding="utf-8"))

    def verdicts(document):
        return {(b["page"], b["line"]): b["status"] for b in document["blocks"]}

    stale = {key: (status, verdicts(fresh).get(key)) for key, status in verdicts(committed).items()
             if verdicts(fresh).get(key) != status}
    stale |= {key: (None, status) for key, status in verdicts(fresh).items() if key not in verdicts(committed)}
    assert stale == {}, f"verification.json is stale (committed, fresh): {stale}; run `make verify`"
