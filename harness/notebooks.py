"""`python -m harness notebooks [--check]`: every page with code becomes docs/notebooks/<page path>.ipynb.

A notebook stands alone once downloaded: its first code cell installs the packages its code imports, pinned
as in the project's requirements files; the page's explanations become Markdown cells (MkDocs-only syntax
turned into what Jupyter renders); the page's Python blocks become the code cells, with the page's
documented outputs as the cells' stored outputs, each cell naming its block (page and line) in its
metadata so the site can show the output's status from the verification record. The output is deterministic (cell ids from page and line,
sorted keys), so `--check` can detect drift.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

from harness.checkpoints.inventory import inventory
from harness.page import Page, PageError, parse_page
from harness.rewrite import write_atomic
from harness.snippets import Site

NOTEBOOKS = "notebooks"  # under docs/: the generated notebooks, never pages to convert themselves
# The pins a notebook's install cell copies: the same versions the harness verified the outputs with.
REQUIREMENTS = ("requirements.txt", "requirements-test.txt")
# transformers' models here are PyTorch models: a page that imports transformers needs torch too.
COMPANIONS = {"transformers": ("torch",)}
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
# Jupyter's cell tag of the install cell: the one code cell that is not a block of the page.
INSTALL_TAG = "install"
# Code cell metadata key: {"page": "docs/x.md", "line": N}, the block its stored output was documented by.
VERIFICATION = "verification"


def pages(site: Site) -> list[Path]:
    """The site's Markdown pages, sorted, except the notebooks section."""
    skip = site.docs_dir / NOTEBOOKS
    return sorted(p for p in site.docs_dir.rglob("*.md") if skip not in p.parents)


def notebook_path(site: Site, page: Path) -> Path:
    """Where the notebook of `page` goes: docs/notebooks/<same relative path>.ipynb."""
    return (site.docs_dir / NOTEBOOKS / page.relative_to(site.docs_dir)).with_suffix(".ipynb")


def _source(text: str) -> list[str]:
    """Text as nbformat stores it on disk: a list of lines, each but the last ending in a newline."""
    return text.splitlines(keepends=True)


def _cell_id(page: Page, line: int, kind: str) -> str:
    # Stable across runs and unique per page: derived from the page and the line the cell comes from.
    return hashlib.sha1(f"{page.name}:{line}:{kind}".encode()).hexdigest()[:16]


def _markdown(page: Page, line: int, text: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "id": _cell_id(page, line, "markdown"), "metadata": {}, "source": _source(text)}


def pins(site: Site) -> dict[str, str]:
    """Normalized distribution name → `name==version`, from the `==` lines of the project's requirements files."""
    found = {}
    for name in REQUIREMENTS:
        path = site.repo_root / name
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if match := re.fullmatch(r"\s*([A-Za-z0-9][\w.-]*)\s*==\s*([\w.+!-]+)\s*(?:#.*)?", line):
                found[_normalize(match[1])] = f"{match[1]}=={match[2]}"
    return found


def _normalize(distribution: str) -> str:
    # PEP 503: runs of -, _ and . are one separator; case does not matter.
    return re.sub(r"[-_.]+", "-", distribution).lower()


def requirements(page: Page, site: Site) -> list[str]:
    """The pinned requirements of the page's code: its top-level imports that are not in the standard library.

    An import module `a_b` is taken as distribution `a-b` (true of every package these pages use). A module
    that no requirements file pins is a PageError at the importing block: a notebook must not install an
    unpinned version.
    """
    pinned = pins(site)
    wanted: list[str] = []
    for block in page.python_blocks:
        try:
            tree = ast.parse(block.code)
        except SyntaxError:
            continue  # the harness reports it when the page runs
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            for module in (n.split(".")[0] for n in names):
                if module in sys.stdlib_module_names:
                    continue
                for distribution in (module, *COMPANIONS.get(module, ())):
                    key = _normalize(distribution)
                    if key not in pinned:
                        raise PageError(page.name, block.line, f"imports {module!r}, but no pinned "
                                        f"`{distribution}==...` line in {' or '.join(REQUIREMENTS)}")
                    if pinned[key] not in wanted:
                        wanted.append(pinned[key])
    return sorted(wanted, key=str.lower)


def _uses_hub(page: Page) -> bool:
    """True when the page's code loads a checkpoint from the Hugging Face Hub (read from the code, not run)."""
    default = lambda task: (f"the default of the {task} pipeline", None)  # noqa: E731 (no transformers import)
    return any(inventory([b.code for b in page.python_blocks], default=default))


def _install_cell(page: Page, wanted: list[str]) -> dict[str, Any]:
    lines = ["# The packages this notebook needs, at the versions its outputs were verified with."]
    if any(w.startswith("torch==") for w in wanted):
        torch = next(w for w in wanted if w.startswith("torch=="))
        lines += ["# Where pip would take PyTorch's multi-GB CUDA build, install the CPU-only one first:",
                  f"# %pip install {torch} --index-url {CPU_TORCH_INDEX}"]
    lines.append(f"%pip install --quiet {' '.join(wanted)}")
    return {"cell_type": "code", "execution_count": None, "id": _cell_id(page, 0, "install"),
            "metadata": {"tags": [INSTALL_TAG]},
            "outputs": [], "source": _source("\n".join(lines))}


def build(page: Page, site: Site) -> dict[str, Any] | None:
    """The notebook of a parsed page, or None when the page has no Python block. Raises PageError (see requirements)."""
    if not page.python_blocks:
        return None
    lines = page.lines
    # Page lines (1-based) the code cells and their stored outputs come from: not prose.
    code_lines = {n for b in page.python_blocks for n in range(b.line, b.end_line + 1)}
    code_lines |= {n for b in page.python_blocks if b.output for n in range(b.output.line, b.output.end_line + 1)}
    # Skip the front matter: everything before the first line that is neither front matter nor blank.
    body = 1
    if lines and lines[0].strip() == "---":
        body = next((n + 1 for n in range(2, len(lines) + 1) if lines[n - 1].strip() in ("---", "...")), 1)
    title_line = next((n for n in range(body, len(lines) + 1) if lines[n - 1].startswith("# ")), None)
    title = page.front_matter.get("title") or (lines[title_line - 1][2:].strip() if title_line else page.name)
    wanted = requirements(page, site)
    intro = (f"# {title}\n\nThe page *{title}* of the Transformer course notes as a notebook: its explanations, "
             f"its code, and, stored in each code cell, the output the page documents (generated from "
             f"`{page.name}` by `python -m harness notebooks`). Run the cells from the top; the first code "
             "cell installs what the code needs.")
    if _uses_hub(page):
        intro += ("\n\nThe code downloads its checkpoint from the Hugging Face Hub on first use. Without the Hub, "
                  "start Jupyter with `HF_HUB_OFFLINE=1` and a cache filled beforehand: otherwise each load "
                  "retries for about a minute before it fails.")
    cells = [_markdown(page, 0, intro)]
    if wanted:
        cells.append(_install_cell(page, wanted))
    previous = (title_line + 1) if title_line else body
    for block in page.python_blocks:
        prose = to_jupyter_markdown([lines[n - 1] for n in range(previous, block.line) if n not in code_lines])
        if block.skip_reason:
            prose = (prose + "\n\n" if prose else "") + f"*The course notes do not run this cell: {block.skip_reason}*"
        if prose:
            cells.append(_markdown(page, block.line, prose))
        outputs, metadata = [], {}
        if block.output is not None:
            outputs.append({"name": "stdout", "output_type": "stream", "text": _source(block.output.text)})
            # Where the stored output comes from, by the verification record's own keys (page, line of the
            # block's opening fence): the site reads the output's status line from the record by them.
            metadata[VERIFICATION] = {"page": page.name, "line": block.line}
        cells.append({"cell_type": "code", "execution_count": None, "id": _cell_id(page, block.line, "code"),
                      "metadata": metadata, "outputs": outputs, "source": _source(block.code.rstrip("\n"))})
        previous = (block.output.end_line if block.output else block.end_line) + 1
    if tail := to_jupyter_markdown([lines[n - 1] for n in range(previous, len(lines) + 1) if n not in code_lines]):
        cells.append(_markdown(page, len(lines) + 1, tail))
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


# --- The page's prose as Jupyter Markdown -----------------------------------------------------------------
# Jupyter renders CommonMark with tables and $math$, nothing of MkDocs' extensions: admonitions become block
# quotes, definition lists become lists, captions stand in for the diagrams (inline SVG from an include that
# only the site expands), the `math` fence and `#!math` code become $$...$$ and $...$, icon shortcodes go, and
# links to other pages keep their text only (their targets exist on the site, not next to a download).

ADMONITION = re.compile(r"^(?P<indent>[ \t]*)(?:!!!|\?\?\?\+?)\s*(?P<kind>[\w-]+)(?:\s+\"(?P<title>[^\"]*)\")?\s*$")
DEFINITION = re.compile(r"^:[ \t]+(?P<text>.*)$")
LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]+)\]\((?P<target>[^)\s]+)\)")
ICON = re.compile(r":(?P<name>(?:material|octicons|fontawesome|simple)-[\w-]+):[ \t]?")
INLINE_MATH = re.compile(r"`#!math[ \t]+(?P<tex>[^`]+)`")
DROPPED = re.compile(r"^\s*(?:-{1,}8<-{1,}\s.*|</?div\b[^>]*>)\s*$")
ICONS = {"simple-huggingface": "\N{HUGGING FACE} "}


def _inline(line: str) -> str:
    line = ICON.sub(lambda m: ICONS.get(m["name"], ""), line)
    line = INLINE_MATH.sub(lambda m: f"${m['tex'].strip()}$", line)
    return LINK.sub(lambda m: m[0] if re.match(r"[a-z]+:", m["target"]) else m["text"], line)


def to_jupyter_markdown(lines: list[str]) -> str:
    """Page prose lines (code and Output blocks already removed) as Markdown that Jupyter renders; "" if none."""
    text = re.sub(r"<!--.*?-->", "", "\n".join(lines), flags=re.S)
    out: list[str] = []
    source = text.split("\n")
    i = 0
    while i < len(source):
        line = source[i]
        i += 1
        if DROPPED.match(line):
            continue
        if line.strip() == "/// caption":
            caption = []
            while i < len(source) and source[i].strip() != "///":
                if not re.match(r"^\s+attrs:", source[i]):
                    caption.append(source[i].strip())
                i += 1
            i += 1
            out.append(f"*Diagram (on the site's page): {_inline(' '.join(caption))}*")
            continue
        if match := ADMONITION.match(line):
            title = match["title"] or match["kind"].capitalize()
            body, depth = [], len(match["indent"]) + 4
            while i < len(source) and (not source[i].strip() or len(source[i]) - len(source[i].lstrip()) >= depth):
                body.append(source[i][depth:])
                i += 1
            inner = to_jupyter_markdown(body)
            out.append(f"> **{_inline(title)}**")
            if inner:
                out += [">"] + [f"> {l}" if l else ">" for l in inner.split("\n")]
            out.append("")
            continue
        if (match := DEFINITION.match(line)) and out and out[-1].strip():
            out[-1] = f"- **{out[-1].strip()}**: {_inline(match['text'])}"
            while i < len(source) and source[i].startswith("    "):
                out.append("  " + _inline(source[i][4:]))
                i += 1
            continue
        if line.strip() == "```math":
            out.append("$$")
            while i < len(source) and source[i].strip() != "```":
                out.append(source[i])
                i += 1
            i += 1
            out.append("$$")
            continue
        out.append(_inline(line))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def render(notebook: dict[str, Any]) -> str:
    """The notebook's file content: Jupyter's own layout (indent 1), sorted keys, trailing newline."""
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def expected(site: Site) -> dict[Path, str]:
    """Every notebook the pages call for, by path, with its content."""
    result = {}
    for path in pages(site):
        notebook = build(parse_page(path, site), site)
        if notebook is not None:
            result[notebook_path(site, path)] = render(notebook)
    return result


def _write(path: Path, text: str) -> None:
    # Atomic, like every write to the docs tree: a reader (or an interrupted run) never sees half a notebook.
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text.encode("utf-8"))


def drift(site: Site, wanted: dict[Path, str]) -> list[tuple[Path, str]]:
    """Notebooks that differ from their pages: (path, why), sorted."""
    existing = set((site.docs_dir / NOTEBOOKS).rglob("*.ipynb"))
    problems = []
    for path in sorted(existing | set(wanted)):
        if path not in wanted:
            problems.append((path, "no page with code produces it"))
        elif path not in existing:
            problems.append((path, "missing"))
        elif path.read_text(encoding="utf-8") != wanted[path]:
            problems.append((path, "differs from its page"))
    return problems


def main(argv: list[str] | None = None) -> int:
    """Generate the notebooks, or with --check list the ones that differ from their pages (exit 1)."""
    parser = argparse.ArgumentParser(prog="python -m harness notebooks", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if any notebook differs")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root (default: the cwd)")
    args = parser.parse_args(argv)
    site = Site.load(args.root)
    if not site.docs_dir.is_dir():  # the wrong folder: "0 written" (or a passing --check) would say nothing of it
        print(f"error: no pages folder {site.docs_dir}: run from the repository root, or give it with --root",
              file=sys.stderr)
        return 2
    try:
        wanted = expected(site)
    except PageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    problems = drift(site, wanted)
    shown = lambda p: p.relative_to(site.repo_root).as_posix()  # noqa: E731
    if args.check:
        for path, why in problems:
            print(f"{shown(path)}: {why}; run `python -m harness notebooks`", file=sys.stderr)
        return 1 if problems else 0
    removed = 0
    for path, why in problems:
        if why == "no page with code produces it":
            path.unlink()
            removed += 1
        else:
            _write(path, wanted[path])
        print(f"{'removed' if why.startswith('no page') else 'wrote'} {shown(path)} ({why})")
    # One closing line even when nothing changed, so `make notebooks` always says what it did.
    print(f"{len(problems) - removed} written, {removed} removed, {len(wanted) - len(problems) + removed} "
          f"already up to date, in {shown(site.docs_dir / NOTEBOOKS)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
