"""Math rendered at build time: TeX in a `math` fence or `#!math` inline code becomes MathML (no JS, no CDN)."""
from __future__ import annotations

import html

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
