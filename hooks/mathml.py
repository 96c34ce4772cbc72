"""Math rendered at build time: TeX in a `math` fence or `#!math` inline code becomes MathML (no JS, no CDN)."""
from __future__ import annotations

import html
import re

from latex2mathml.converter import convert


def to_mathml(tex: str, display: str = "inline") -> str:
    """TeX source to a MathML element, with the TeX kept as its annotation for copy and screen readers."""
    mathml = convert(tex.strip(), display=display)
    # The TeX stays readable for search and for anyone copying the formula.
    annotation = f'<annotation encoding="application/x-tex">{html.escape(tex.strip())}</annotation>'
    opening, _, rest = mathml.partition(">")
    body, _, _ = rest.rpartition("</math>")
    return f"{opening}><semantics><mrow>{body}</mrow>{annotation}</semantics></math>"


def fence_format(source, language, class_name, options, md, **kwargs) -> str:
    """pymdownx.superfences formatter for ```` ```math ```` fences: display math."""
    return f'<div class="{class_name}">{to_mathml(source, display="block")}</div>'


def inline_format(source, language, class_name, md) -> str:
    """pymdownx.inlinehilite formatter for `` `#!math ...` ``: inline math."""
    return f'<span class="{class_name}">{to_mathml(source)}</span>'


def on_config(config, **kwargs):
    """Register the math formatters here, not in mkdocs.yml: `!!python/name:` needs the repo on sys.path."""
    fences = config.mdx_configs.setdefault("pymdownx.superfences", {}).setdefault("custom_fences", [])
    inline = config.mdx_configs.setdefault("pymdownx.inlinehilite", {}).setdefault("custom_inline", [])
    for entries, formatter in ((fences, fence_format), (inline, inline_format)):
        if not any(entry.get("name") == "math" for entry in entries):  # once, even if the config is reused
            entries.append({"name": "math", "class": "math", "format": formatter})
    return config


# Notebook pages: the generated notebooks write math as Jupyter does ($$...$$, $...$); nbconvert leaves it as
# text for MathJax, which hooks/offline_notebooks.py drops (a CDN). Rendered to MathML here instead, outside code.
CODE = re.compile(r"(<pre\b.*?</pre>|<code\b.*?</code>)", re.S)
DISPLAY = re.compile(r"(?:<p>\s*)?\$\$(?P<tex>.+?)\$\$(?:\s*</p>)?", re.S)
INLINE = re.compile(r"(?<![\\$\w])\$(?P<tex>[^$\n<>]+?)\$(?![\w$])")


def notebook_math(text: str) -> str:
    """HTML of a rendered notebook with its $$...$$ and $...$ TeX (outside <pre> and <code>) as MathML."""
    parts = CODE.split(text)
    for index in range(0, len(parts), 2):  # the odd parts are code: left alone
        part = DISPLAY.sub(lambda m: f'<div class="math">{to_mathml(html.unescape(m["tex"]), "block")}</div>',
                           parts[index])
        parts[index] = INLINE.sub(lambda m: f'<span class="math">{to_mathml(html.unescape(m["tex"]))}</span>', part)
    return "".join(parts)


def on_page_content(html_text, page, config, files, **kwargs):
    """Math of notebook pages (.ipynb, rendered by mkdocs-jupyter) to MathML; Markdown pages are done already."""
    return notebook_math(html_text) if page.file.src_uri.endswith(".ipynb") else html_text
