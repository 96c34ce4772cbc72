"""Links into notebook pages are validated like links into Markdown pages: a missing anchor fails the strict build.

MkDocs checks `page.md#anchor` against the ids its Markdown renderer collected (`page.present_anchor_ids`).
mkdocs-jupyter renders notebooks with nbconvert instead, so those ids were never collected and MkDocs skipped
every anchor into a notebook ("page was somehow not rendered"). Here they are read from the rendered HTML.
"""
from __future__ import annotations

from html.parser import HTMLParser


class _Anchors(HTMLParser):
    """Every `id` in an HTML fragment, and every `<a name>`: what MkDocs counts as an anchor."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value and (name == "id" or (tag == "a" and name == "name")):
                self.ids.add(value)


def anchor_ids(html: str) -> set[str]:
    """The anchors a link can point at in rendered page content."""
    parser = _Anchors()
    parser.feed(html)
    parser.close()
    return parser.ids


def on_page_content(html, page, config, files, **kwargs):
    """Give a notebook page the anchors of its rendered HTML; Markdown pages already have theirs."""
    if page.file.src_uri.endswith(".ipynb"):
        page.present_anchor_ids = anchor_ids(html)
    return html
