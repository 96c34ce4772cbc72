"""Each page with code links to its notebook (view it in the site, or download the .ipynb); the notebooks
section's `<!-- notebook-list -->` placeholder becomes the list of every notebook beside its page."""
from __future__ import annotations

import posixpath
import re

H1 = re.compile(r"^# .*$", re.MULTILINE)
LIST = "<!-- notebook-list -->"


def notebook_path(src_uri: str) -> str:
    """The notebook generated from page `src_uri` (docs-relative, `/`-separated)."""
    return "notebooks/" + posixpath.splitext(src_uri)[0] + ".ipynb"


def on_page_markdown(markdown, page, config, files, **kwargs):
    """Insert the notebook links under the page's title, when the page has a notebook."""
    src = page.file.src_uri
    if LIST in markdown:
        return markdown.replace(LIST, notebook_list(src, files))
    if not src.endswith(".md") or src.startswith("notebooks/"):
        return markdown
    target = notebook_path(src)
    notebook = files.get_file_from_path(target)
    if notebook is None:
        return markdown
    # The Markdown link is resolved and validated by MkDocs; the download link must point at the
    # .ipynb file itself, which mkdocs-jupyter copies next to the notebook's page.
    view = posixpath.relpath(target, posixpath.dirname(src) or ".")
    download = posixpath.relpath(
        posixpath.join(posixpath.dirname(notebook.dest_uri), posixpath.basename(target)),
        posixpath.dirname(page.file.dest_uri) or ".",
    )
    links = (
        '\n<div class="notebook-links" markdown>\n'
        f":material-notebook-outline: This page as a notebook: [open it in the site]({view}) · "
        f'<a href="{download}" download>download the .ipynb</a>\n'
        "</div>\n"
    )
    match = H1.search(markdown)
    at = match.end() if match else 0
    return markdown[:at] + "\n" + links + markdown[at:]


def notebook_list(src: str, files) -> str:
    """A table of every notebook in the site, each beside the page it was generated from."""
    here = posixpath.dirname(src) or "."
    rows = ["| Notebook | Generated from |", "| --- | --- |"]
    for file in sorted(files.documentation_pages(), key=lambda f: f.src_uri):
        if not (file.src_uri.startswith("notebooks/") and file.src_uri.endswith(".ipynb")):
            continue
        page = file.src_uri[len("notebooks/"):-len(".ipynb")] + ".md"
        rows.append(f"| [{file.src_uri}]({posixpath.relpath(file.src_uri, here)}) "
                    f"| [{page}]({posixpath.relpath(page, here)}) |")
    return "\n".join(rows) + "\n"
