"""The built site says how each output was checked, exactly as the committed record says, in learners' words."""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from harness import record
from harness.page import parse_page
from harness.snippets import Site
from tests.conftest import REPO

DOCS = REPO / "docs"
SITE = Site.load(REPO)


@pytest.fixture(scope="module")
def committed() -> dict:
    return record.load(REPO / record.RECORD_FILE)


class Elements(HTMLParser):
    """Every element with its attributes, the text inside it and its parent's tag, in document order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[dict] = []
        self.open: list[dict] = []

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": "", "parent": self.open[-1]["tag"] if self.open else None}
        self.found.append(element)
        if tag not in ("br", "img", "input", "meta", "link", "hr", "source", "wbr", "path", "rect", "circle"):
            self.open.append(element)

    def handle_endtag(self, tag):
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index]["tag"] == tag:
                del self.open[index:]
                break

    def handle_data(self, data):
        for element in self.open:
            element["text"] += data


def elements(html: str) -> list[dict]:
    parser = Elements()
    parser.feed(html)
    return parser.found


def pages_with_outputs():
    return [p for p in sorted(DOCS.rglob("*.md")) if "notebooks" not in p.relative_to(DOCS).parts
            and any(b.output for b in parse_page(p, SITE).blocks)]


@pytest.mark.parametrize("source", pages_with_outputs(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_output_block_carries_the_records_status(source, built_site, committed):
    page = parse_page(source, SITE)
    html = (built_site.site_dir / source.relative_to(DOCS).with_suffix(".html")).read_text(encoding="utf-8")
    found = elements(html)
    lines = [e for e in found if "data-verification" in e["attrs"]]
    by_block = {(b["page"], b["line"]): b for b in committed["blocks"]}
    expected = [by_block[(page.name, block.line)]["status"] for block in page.blocks if block.output]
    assert [e["attrs"]["data-verification"] for e in lines] == expected
    # A paragraph of its own, also under an Output in a tab or a box: never a <p> inside a <p> (invalid HTML,
    # which a browser splits into empty paragraphs around the status line).
    assert [e["parent"] for e in lines if e["parent"] == "p"] == []
    for element, block in zip(lines, [b for b in page.blocks if b.output]):
        text = " ".join(element["text"].split())
        assert "verdict" not in text.lower(), text  # on the pages, a verdict is the model's prediction
        assert {"verified": "Checked", "structural": "Structure checked"}.get(element["attrs"]["data-verification"],
                                                                            "") in text
        entry = by_block[(page.name, block.line)]
        assert entry["date"] in text and entry["torch"] in text, text
    # Each status line links to its row of the status page; the status line is right under its Output block.
    links = [e["attrs"].get("href", "") for e in found if e["tag"] == "a" and "verification.html#block-" in
             e["attrs"].get("href", "")]
    assert len(links) == len(expected)
    assert re.search(r'</code></pre></div>\s*<p class="verification"', html)
    summary = next(e for e in found if "verification-summary" in e["attrs"].get("class", ""))
    assert f"{len(expected)} output" in summary["text"]


def test_the_status_page_lists_every_block_of_the_record(built_site, committed):
    found = elements((built_site.site_dir / "verification.html").read_text(encoding="utf-8"))
    assert any(e["attrs"].get("id") == "verification-status" for e in found)
    rows = [e for e in found if e["tag"] == "tr" and "data-status" in e["attrs"]]
    assert [(e["attrs"]["id"], e["attrs"]["data-status"]) for e in rows] == [
        (f"block-{re.sub(r'[^a-z0-9]+', '-', b['page'].lower()).strip('-')}-{b['line']}", b["status"])
        for b in sorted(committed["blocks"], key=lambda b: (b["page"], b["line"]))]
    for row, block in zip(rows, sorted(committed["blocks"], key=lambda b: (b["page"], b["line"]))):
        text = " ".join(row["text"].split())
        for checkpoint in block["checkpoints"]:
            assert checkpoint["name"] in text and (checkpoint["revision"] or "")[:7] in text, text
        assert block["python"] in text and block["tokenizers"] in text and block["date"] in text, text
    article = next(e for e in found if e["tag"] == "article")
    assert "verdict" not in article["text"].lower()


def test_home_page_and_description_state_the_records_counts(built_site, committed):
    outputs = [b for b in committed["blocks"] if b["output_line"]]
    verified = sum(b["status"] == "verified" for b in outputs)
    structural = sum(b["status"] == "structural" for b in outputs)
    claim = (f"Of the {len(outputs)} documented outputs, {verified} were checked against what the code printed "
             f"and {structural} were checked in structure only")
    html = (built_site.site_dir / "index.html").read_text(encoding="utf-8")
    assert claim in " ".join(html.split())
    description = re.search(r'<meta name="description" content="([^"]*)"', html)[1]
    assert claim in description.replace("&#39;", "'")
    assert 'href="verification.html"' in html  # the status page, linked from the home page


def notebooks_with_outputs():
    return [p for p in sorted((DOCS / "notebooks").rglob("*.ipynb"))
            if any(c["cell_type"] == "code" and c["outputs"] for c in json.loads(p.read_text())["cells"])]


@pytest.mark.parametrize("notebook", notebooks_with_outputs(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_output_of_a_notebook_page_carries_the_records_status(notebook, built_site, committed):
    # The notebook page shows the same outputs as its Markdown page: each output area, in order, is followed
    # (before the next one) by the status line of the block it comes from, read from the record.
    page = parse_page(DOCS / notebook.relative_to(DOCS / "notebooks").with_suffix(".md"), SITE)
    by_block = {(b["page"], b["line"]): b for b in committed["blocks"]}
    blocks = [b for b in page.python_blocks if b.output]
    html = (built_site.site_dir / notebook.relative_to(DOCS).with_suffix(".html")).read_text(encoding="utf-8")
    found = elements(html)
    areas = [i for i, e in enumerate(found) if "jp-OutputArea" in e["attrs"].get("class", "").split()]
    assert len(areas) == len(blocks) > 0
    for area, next_area, block in zip(areas, areas[1:] + [len(found)], blocks):
        lines = [e for e in found[area:next_area] if "data-verification" in e["attrs"]]
        assert len(lines) == 1, f"{notebook.name}: block {block.line} has {len(lines)} status lines"
        entry = by_block[(page.name, block.line)]
        assert lines[0]["attrs"]["data-verification"] == entry["status"]
        assert "".join(found[area]["text"].split()) == "".join(block.output.text.split())  # the block's own output
        text = " ".join(lines[0]["text"].split())
        assert entry["date"] in text and entry["torch"] in text and "verdict" not in text.lower(), text
        assert {"verified": "Checked", "structural": "Structure checked"}.get(entry["status"], "") in text
        # The status line links to the block's row of the status page (the first link inside the line).
        at = found.index(lines[0], area)
        link = next(e for e in found[at:next_area] if e["tag"] == "a")
        assert link["text"] in lines[0]["text"]
        slug = re.sub(r"[^a-z0-9]+", "-", page.name.lower()).strip("-")
        assert link["attrs"]["href"] == (f"{'../' * (len(notebook.relative_to(DOCS).parts) - 1)}verification.html"
                                         f"#block-{slug}-{block.line}")


def test_every_status_word_is_explained_on_the_status_page_and_in_the_glossary(built_site):
    from hooks.verification import WORDS

    # The six verdicts of a plain page (xfailed and xpassed come only with pytest-codeblocks' markers).
    words = [WORDS[status] for status in ("verified", "structural", "unchecked", "skipped", "failed", "not run")]
    found = elements((built_site.site_dir / "verification.html").read_text(encoding="utf-8"))
    explained = {word.strip() for e in found if e["tag"] == "dt" for word in " ".join(e["text"].split()).split(",")}
    assert [word for word in words if word not in explained] == []
    glossary = elements((built_site.site_dir / "glossary.html").read_text(encoding="utf-8"))
    status = next(e for e in glossary if e["tag"] == "dd" and "How one output was checked" in e["text"])
    assert [word for word in words if word not in " ".join(status["text"].split())] == []


def test_a_skip_reason_over_several_lines_gives_a_status_line_of_one_line():
    from hooks.verification import status_text

    # A reason of two lines ended the status paragraph inside its tab: the rest fell outside, splitting the tabs.
    text = status_text({"status": "skipped", "reason": "needs a GPU\n  and 16 GB of memory", "date": "2026-11-30",
                        "python": "3.11", "torch": "2", "transformers": "5"})
    assert text == "Not run here: needs a GPU and 16 GB of memory."


@pytest.mark.parametrize("found, words", [
    ({"xpassed": 1}, "How the 1 output on this page was checked: 1 passed, though expected to fail."),
    ({"verified": 2, "xfailed": 1, "missing": 1},
     "How the 4 outputs on this page were checked: 2 checked, 1 failed as expected, 1 not in the record."),
])
def test_the_page_summary_names_every_status_it_counts(found, words):
    from hooks.verification import page_summary

    assert words in page_summary(found, "verification.html#x")
