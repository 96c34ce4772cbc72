"""What Material and the abbr extension leave out for keyboards, touch screens and screen readers.

- The search dialog (`div.md-search`, role="dialog") gets a name: axe-core's `aria-dialog-name`.
- Glossary terms (`<abbr title>`, from includes/abbreviations.md) become focusable, so Material's
  `content.tooltips` shows their definition on keyboard focus and on a tap, not only on mouse hover.
- A term the abbr extension found inside a file path or name (`using-transformers/tokenizer.md`) is not a
  glossary term there: its <abbr> is unwrapped, the text stays.
"""
from __future__ import annotations

import re

SEARCH_DIALOG = '<div class="md-search" data-md-component="search" role="dialog">'
ABBR = re.compile(r"<abbr(?P<attrs>\s[^>]*)?>(?P<text>[^<]*)</abbr>")
# A path or file name goes on right before or after the term: a slash, an underscore, or a dot with a name
# character after it (an extension); a dot followed by a space or the end is a sentence's full stop.
PATH_BEFORE = re.compile(r"[/\\_]")
PATH_AFTER = re.compile(r"[/\\_]|\.\w")


def in_path(before: str, after: str) -> bool:
    """True when the characters around a term show it is part of a file path or name."""
    return bool(PATH_BEFORE.fullmatch(before)) or bool(PATH_AFTER.match(after))


def _abbr(match: re.Match[str]) -> str:
    # The neighbours are read, not consumed: two terms side by side ("encoder-decoder") are both seen.
    before = match.string[max(0, match.start() - 1):match.start()]
    after = match.string[match.end():match.end() + 2]
    attrs, text = match["attrs"] or "", match["text"]
    if in_path(before, after):
        return text
    if "tabindex" not in attrs:
        attrs = ' tabindex="0"' + attrs
    return f"<abbr{attrs}>{text}</abbr>"


def on_page_content(html, page, config, files, **kwargs):
    """Glossary terms: focusable, and never inside a file path."""
    return ABBR.sub(_abbr, html)


def on_post_page(output, page, config, **kwargs):
    """Name the search dialog (Material's template gives it none)."""
    return output.replace(SEARCH_DIALOG, SEARCH_DIALOG[:-1] + ' aria-label="Search">', 1)


def on_post_template(output_content, template_name, config, **kwargs):
    """The theme's own pages (404.html) carry the search dialog too."""
    return output_content.replace(SEARCH_DIALOG, SEARCH_DIALOG[:-1] + ' aria-label="Search">', 1)
