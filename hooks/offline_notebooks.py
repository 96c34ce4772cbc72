"""Notebook pages stay offline: nbconvert's template loads MathJax and Mermaid from CDNs; drop those scripts."""
from __future__ import annotations

import re

SCRIPT = re.compile(r"<script\b(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.IGNORECASE | re.DOTALL)
SRC = re.compile(r"""\bsrc\s*=\s*["']?(?P<src>[^"'\s>]*)""", re.IGNORECASE)
REMOTE_IMPORT = re.compile(r"""\bimport\s*\(\s*["']https?://|["']https?://[^"']*\.m?js["']""", re.IGNORECASE)


def _loads_remotely_or_nothing(match: re.Match[str]) -> bool:
    """True for a script that fetches from another host, has an empty src, or only configures MathJax."""
    src = SRC.search(match["attrs"])
    if src is not None:
        return src["src"] == "" or "//" in src["src"]
    return bool(REMOTE_IMPORT.search(match["body"])) or "x-mathjax-config" in match["attrs"]


def on_post_page(output, page, config, **kwargs):
    """Drop remote scripts from notebook pages (the notebooks hold no math and no diagrams to render)."""
    if not page.file.src_uri.endswith(".ipynb"):
        return output
    return SCRIPT.sub(lambda m: "" if _loads_remotely_or_nothing(m) else m[0], output)
