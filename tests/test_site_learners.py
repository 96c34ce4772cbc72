"""The built site for learners: search holds the pages and not their notebook copies, glossary terms are
focusable and never inside a file path, the search dialog has a name. Read from the real strict build."""
from __future__ import annotations

import json
import re

import pytest

from hooks import accessibility
from tests.conftest import REPO

ABBR = re.compile(r"<abbr(?P<attrs>[^>]*)>(?P<text>[^<]*)</abbr>")


def built_pages(site_dir):
    return sorted(p for p in site_dir.rglob("*.html")
                  if not p.relative_to(site_dir).as_posix().startswith(("assets/", "search/")))


def test_search_index_holds_pages_not_notebook_copies(built_site):
    index = json.loads((built_site.site_dir / "search" / "search_index.json").read_text(encoding="utf-8"))
    locations = [doc["location"] for doc in index["docs"]]
    copies = [loc for loc in locations if loc.startswith("notebooks/") and not loc.startswith("notebooks/index.html")]
    assert copies == []
    # The pages the notebooks were made from are still found, with titles free of "¶".
    assert "using-transformers/tokenizer.html" in locations and "offline-lab.html" in locations
    assert [doc["title"] for doc in index["docs"] if "¶" in doc["title"]] == []


def test_every_page_names_its_search_dialog(built_site):
    for path in built_pages(built_site.site_dir):
        html = path.read_text(encoding="utf-8")
        if 'data-md-component="search"' in html:
            assert re.search(r'<div class="md-search"[^>]*role="dialog"[^>]*aria-label="Search"', html), path


def test_glossary_terms_are_focusable_and_never_in_a_path(built_site):
    seen = 0
    for path in built_pages(built_site.site_dir):
        html = path.read_text(encoding="utf-8")
        for match in ABBR.finditer(html):
            seen += 1
            before, after = html[match.start() - 1:match.start()], html[match.end():match.end() + 2]
            where = f"{path.relative_to(built_site.site_dir)}: {before}{match[0]}{after}"
            assert 'tabindex="0"' in match["attrs"], where
            assert not accessibility.in_path(before, after), where
    assert seen > 20, "the glossary include should mark terms on the pages"
    # The notebooks list names files: "tokenizer" in using-transformers/tokenizer.md is plain text there.
    listing = (built_site.site_dir / "notebooks" / "index.html").read_text(encoding="utf-8")
    assert "using-transformers/tokenizer.md" in listing


@pytest.mark.parametrize("html, expected", [
    # In prose: the term is marked, and becomes focusable.
    ('<p>A <abbr title="d">tokenizer</abbr>.</p>', '<p>A <abbr tabindex="0" title="d">tokenizer</abbr>.</p>'),
    ('<p><abbr title="d">encoder</abbr>-only</p>', '<p><abbr tabindex="0" title="d">encoder</abbr>-only</p>'),
    # In a path or a file name: unwrapped, the text kept.
    ('<td>docs/<abbr title="d">tokenizer</abbr>.md</td>', "<td>docs/tokenizer.md</td>"),
    ('<td><abbr title="d">tokenizer</abbr>/x</td>', "<td>tokenizer/x</td>"),
    ('<td>my_<abbr title="d">head</abbr></td>', "<td>my_head</td>"),
    # Side by side, both are seen.
    ('<p><abbr title="e">encoder</abbr>-<abbr title="d">decoder</abbr></p>',
     '<p><abbr tabindex="0" title="e">encoder</abbr>-<abbr tabindex="0" title="d">decoder</abbr></p>'),
])
def test_accessibility_hook_marks_terms(html, expected):
    assert accessibility.on_page_content(html, page=None, config=None, files=None) == expected


def test_material_tooltips_are_on():
    """Material's content.tooltips draws the abbr tooltips that the focus and a tap open (no native title)."""
    assert re.search(r"^\s*-\s*content\.tooltips\s*$", (REPO / "mkdocs.yml").read_text(), re.M)
