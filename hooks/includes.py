"""A missing include (`--8<--` or the glossary's auto_append) is a build error naming the file, not a traceback.

pymdownx.snippets raises its own exception from inside Markdown rendering: MkDocs then prints a traceback. The
includes are checked first here, with the harness's own expansion (harness/snippets.py: the same base paths,
resolved against mkdocs.yml's folder), and a missing one becomes a PluginError naming page, line and file.
"""
from __future__ import annotations

import sys
from pathlib import Path

from mkdocs.exceptions import PluginError

_site = None  # the harness's view of this build's site (snippet settings of mkdocs.yml), set in on_config


def on_config(config, **kwargs):
    """Load the site's snippet settings once per build; refuse a glossary include that is not there."""
    global _site
    root = Path(config.config_file_path).resolve().parent
    if str(root) not in sys.path:  # the `mkdocs` command does not put the repo on sys.path
        sys.path.insert(0, str(root))
    from harness.snippets import Site

    _site = Site.load(root)
    bases = _site.base_paths()
    for name in _site.snippets.get("auto_append") or []:
        if not any((base / name).is_file() for base in bases):
            raise PluginError(f"mkdocs.yml: pymdownx.snippets auto_append: {name} not found in "
                              + ", ".join(str(base) for base in bases))
    return config


def on_page_markdown(markdown, page, config, files, **kwargs):
    """Expand the page's includes as the build will; a missing file or section stops it with page:line."""
    from harness.page import PageError

    if _site is None or not page.file.src_uri.endswith(".md"):
        return markdown
    source = Path(page.file.abs_src_path).read_text(encoding="utf-8-sig").splitlines()
    try:
        _site.expand(source, f"docs/{page.file.src_uri}")
    except PageError as error:
        raise PluginError(str(error)) from None
    return markdown
