"""Notebook pages stay out of the search index: each repeats a page of the site, which must be the hit.

Left in, the notebook copies outrank their pages (same words, plus the code) and their titles carry the "¶"
of nbconvert's heading anchors. Material's search plugin skips a page whose meta says `search: {exclude: true}`
(the front matter a Markdown page would use); a notebook has no front matter, so this hook sets it.
"""
from __future__ import annotations


def on_page_content(html, page, config, files, **kwargs):
    """Mark notebook pages (rendered from .ipynb by mkdocs-jupyter) as excluded from search."""
    # on_page_content runs before the search plugin reads page.meta in on_page_context.
    if page.file.src_uri.endswith(".ipynb"):
        page.meta.setdefault("search", {})["exclude"] = True
    return html
