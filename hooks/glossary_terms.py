"""Glossary terms get their tooltip wherever the source breaks the line inside them.

The terms stay where they are (includes/abbreviations.md, auto-appended to every page) and stay `<abbr>`
elements of Markdown's abbr extension. Only the matching changes: the extension looks for each term with the
exact spaces of its definition, so "causal language" at the end of one source line and "modeling" at the start
of the next was never marked. Here the words of a term may be separated by any whitespace, line breaks included.
"""
from __future__ import annotations

import re

from markdown import Extension
from markdown.extensions.abbr import AbbrTreeprocessor


def term_pattern(terms) -> re.Pattern[str]:
    """Whole-word matches of any term (longest first), its words separated by any run of whitespace."""
    ordered = sorted(terms, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(r"\s+".join(map(re.escape, term.split())) for term in ordered) + r")\b")


class _AnySpacing(dict):
    """The glossary, looked up by a matched text whose words may be split by a line break."""

    def __getitem__(self, text: str) -> str:
        return super().__getitem__(" ".join(text.split()))


class GlossaryTreeprocessor(AbbrTreeprocessor):
    """The abbr extension's treeprocessor with a whitespace-tolerant pattern; elements are built the same way."""

    def run(self, root):
        if not self.abbrs:
            return
        shared = self.abbrs  # filled by the abbr extension's block processor for each page: keep it for the next
        self.RE = term_pattern(shared)
        self.abbrs = _AnySpacing({" ".join(term.split()): title for term, title in shared.items()})
        try:
            self.iter_element(root)
        finally:
            self.abbrs = shared


class GlossaryAcrossLines(Extension):
    """Replaces the abbr extension's treeprocessor (same name and priority); load it after `abbr`."""

    def extendMarkdown(self, md):
        if "abbr" not in md.treeprocessors:
            raise ValueError("glossary_terms needs the `abbr` Markdown extension listed before it in mkdocs.yml")
        md.treeprocessors.register(GlossaryTreeprocessor(md, md.treeprocessors["abbr"].abbrs), "abbr", 7)


def on_config(config, **kwargs):
    """Add the extension after every listed one, so that `abbr` is already there to be replaced."""
    if not any(isinstance(ext, GlossaryAcrossLines) for ext in config.markdown_extensions):
        config.markdown_extensions.append(GlossaryAcrossLines())
    return config
