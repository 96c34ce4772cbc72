"""`python -m harness new-page FOLDER/NAME "Title"`: a new page in one step.

Writes the page (docs/FOLDER/NAME.md), its snippet file with a first named section (snippets/FOLDER/NAME.py),
its notebook (docs/notebooks/FOLDER/NAME.ipynb), and both nav entries in mkdocs.yml: the page after the last
page with code of its folder's section (a quiz stays last), the notebook after the last notebook of that folder. mkdocs.yml is edited as text,
one line per entry, so its comments and `!!python/name` tags stay as they are.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from harness.notebooks import NOTEBOOKS, build, notebook_path
from harness.notebooks import render as render_notebook
from harness.page import parse_page
from harness.rewrite import write_atomic
from harness.snippets import Site

SNIPPETS = "snippets"  # each page's code: snippets/<page path>.py
SECTION = "first-step"  # the snippet file's first named section
NAME_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*(?:/[a-z0-9]+(?:-[a-z0-9]+)*)*")
NAV_ENTRY_RE = re.compile(r"(?P<indent>[ ]*)- (?:(?P<title>.+?):[ ]+)?(?P<path>[^\s:#]+\.(?:md|ipynb))[ ]*(?:#.*)?")
TOP_LEVEL_KEY_RE = re.compile(r"[^\s#-]")


class NewPageError(Exception):
    """The page cannot be added as asked; nothing was written."""


@dataclass(frozen=True)
class NavEntry:
    """A `- Title: path` line of the nav: its index among mkdocs.yml's lines, its indentation and path."""

    index: int
    indent: str
    path: str


def page_text(name: str, title: str) -> str:
    """The new page: its title, a note to its writer (an HTML comment), the first block and its Output."""
    return (f"# {title}\n\n"
            f"<!-- A new page: write what the reader learns here. Its code is {SNIPPETS}/{name}.py, one named section "
            "per block, in page order; CONTRIBUTING.md says how to write a block and its Output. -->\n\n"
            f'```python\n--8<-- "{SNIPPETS}/{name}.py:{SECTION}"\n```\n\n'
            f'```text title="Output"\n{title}\n```\n')


def snippet_text(name: str, title: str) -> str:
    """The new snippet file: a docstring naming its page, and a first section that prints the page title."""
    return (f'"""Code of docs/{name}.md: {title}."""\n\n'
            f"# --8<-- [start:{SECTION}]\n"
            f"print({title!r})\n"
            f"# --8<-- [end:{SECTION}]\n")


def _yaml_title(title: str) -> str:
    """`title` as it can stand before `: path` in the nav: bare when YAML reads it back unchanged, else quoted."""
    try:
        if yaml.safe_load(f"- {title}: x") == [{title: "x"}]:
            return title
    except yaml.YAMLError:
        pass
    return json.dumps(title, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def nav_entries(lines: list[str]) -> list[NavEntry]:
    """The `- [Title: ]path` lines of mkdocs.yml's top-level `nav:` mapping."""
    start = next((i for i, line in enumerate(lines) if re.match(r"nav:\s*(#.*)?$", line)), None)
    if start is None:
        raise NewPageError("mkdocs.yml has no nav: add the page to a nav by hand")
    entries = []
    for index in range(start + 1, len(lines)):
        if TOP_LEVEL_KEY_RE.match(lines[index]):  # the next top-level key: the nav ended
            break
        if match := NAV_ENTRY_RE.fullmatch(lines[index]):
            entries.append(NavEntry(index, match["indent"], match["path"]))
    return entries


def insert_nav(text: str, name: str, title: str) -> str:
    """mkdocs.yml's text with the page's and the notebook's nav lines added; NewPageError when there is no place."""
    lines = text.splitlines(keepends=True)
    entries = nav_entries([line.rstrip("\r\n") for line in lines])
    folder = name.rpartition("/")[0]
    pages = [e for e in entries if not e.path.startswith(f"{NOTEBOOKS}/") and e.path.endswith(".md")]
    if folder:
        pages = [e for e in pages if e.path.startswith(f"{folder}/")]
        if not pages:
            raise NewPageError(f"the nav in mkdocs.yml has no section for docs/{folder}/: add the section with its "
                               "index.md by hand, then run this again")
    else:
        pages = [e for e in pages if len(e.indent) == min(len(p.indent) for p in pages)]
    notebooks = [e for e in entries if e.path.startswith(f"{NOTEBOOKS}/") and e.path.endswith(".ipynb")]
    if not notebooks:
        raise NewPageError(f"the nav in mkdocs.yml has no notebooks ({NOTEBOOKS}/...ipynb): add the section by hand")
    # After the last page with code (one with a notebook): a closing page without code (a quiz) stays last.
    with_code = {e.path.removeprefix(f"{NOTEBOOKS}/").removesuffix(".ipynb") + ".md" for e in notebooks}
    pages = [e for e in pages if e.path in with_code] or pages
    notebooks = [e for e in notebooks if folder and e.path.startswith(f"{NOTEBOOKS}/{folder}/")] or notebooks
    eol = lines[pages[-1].index][len(lines[pages[-1].index].rstrip("\r\n")):] or "\n"
    shown = _yaml_title(title)
    additions = {pages[-1].index: f"{pages[-1].indent}- {shown}: {name}.md{eol}",
                 notebooks[-1].index: f"{notebooks[-1].indent}- {shown}: {NOTEBOOKS}/{name}.ipynb{eol}"}
    for index in sorted(additions, reverse=True):  # bottom-up: the other index stays valid
        if not lines[index].endswith(("\n", "\r")):
            lines[index] += eol
        lines.insert(index + 1, additions[index])
    return "".join(lines)


def add_page(root: Path, name: str, title: str) -> list[Path]:
    """Create the page `name` ("folder/page", docs-relative, no suffix) titled `title`; the files written."""
    if not NAME_RE.fullmatch(name):
        raise NewPageError(f"{name!r} is not a page name: lowercase words joined by '-', folders by '/', "
                           "no suffix (e.g. using-transformers/batching)")
    if not title.strip() or "\n" in title or "\r" in title:
        raise NewPageError("the title must be one non-empty line")
    site = Site.load(root)
    if site.config_file is None:
        raise NewPageError(f"no mkdocs.yml in {site.repo_root}")
    page = site.docs_dir / f"{name}.md"
    snippet = site.repo_root / SNIPPETS / f"{name}.py"
    notebook = notebook_path(site, page)
    for path in (page, snippet, notebook):
        if path.exists():
            raise NewPageError(f"{path.relative_to(site.repo_root).as_posix()} exists already: nothing was written")
    config = site.config_file.read_text(encoding="utf-8")
    new_config = insert_nav(config, name, title)  # every check before the first write
    written = []
    for path, text in ((snippet, snippet_text(name, title)), (page, page_text(name, title))):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text.encode("utf-8"))
        written.append(path)
    notebook.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(notebook, render_notebook(build(parse_page(page, site), site)).encode("utf-8"))
    written.append(notebook)
    write_atomic(site.config_file, new_config.encode("utf-8"))  # last: the nav never names a missing file
    written.append(site.config_file)
    return written


def main(argv: list[str] | None = None) -> int:
    """Add a page, print what was written and what to do next; exit 2 (nothing written) when it cannot."""
    parser = argparse.ArgumentParser(prog="python -m harness new-page", description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the page's path under docs/, without .md (e.g. using-transformers/batching)")
    parser.add_argument("title", help='the page title, also its nav title (e.g. "Handling multiple sequences")')
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root (default: the cwd)")
    args = parser.parse_args(argv)
    try:
        written = add_page(args.root, args.name, args.title)
    except NewPageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    root = written[-1].parent
    for path in written:
        print(f"{'updated' if path.name == 'mkdocs.yml' else 'wrote'} {path.relative_to(root).as_posix()}")
    print(f"next: write the page and its code, then `pytest docs/{args.name}.md --update-outputs` "
          "and `python -m harness notebooks`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
