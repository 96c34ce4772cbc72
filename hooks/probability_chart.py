"""A bar chart of probabilities, computed from the documented Output block right above its placeholder.

On a page: `<!-- probability-chart labels="NEGATIVE POSITIVE" rows="Sentence 1|Sentence 2" caption="..." -->`
under an Output block. The numbers come from that Output block (read with the harness' own parser), so the
chart always shows what the page documents. The figure's caption is the optional `caption` followed by a
legend that says how to read the bars.
"""
from __future__ import annotations

import html
import math
import re
import shlex
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError

PLACEHOLDER = re.compile(r"<!--\s*probability-chart\b(?P<args>[^>]*?)-->")


def _repo_root(config) -> Path:
    """The repository (mkdocs.yml's folder), importable: the `mkdocs` command does not put it on sys.path."""
    root = Path(config.config_file_path).resolve().parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return root


def _numbers(text: str) -> list[float]:
    """The numbers of a printed output, in order, read by the harness' value tokenizer."""
    from harness.values import tokenize

    return [float(token.value) for token in tokenize(text) if token.kind == "number"]


def _arguments(args: str, where: str) -> tuple[list[str], list[str], str]:
    options = dict(part.split("=", 1) for part in shlex.split(args) if "=" in part)
    labels = options.get("labels", "").split()
    rows = [row.strip() for row in options.get("rows", "").split("|") if row.strip()]
    if not labels or not rows:
        raise PluginError(f'{where}: probability-chart needs labels="A B" and rows="first|second"')
    return labels, rows, options.get("caption", "").strip()


def legend_html(caption: str) -> str:
    """The figure's caption: the page's own words, then how to read the bars (the key of the two colors)."""
    lead = f"{html.escape(caption.rstrip('.'))}. " if caption else ""
    return (
        f'<figcaption>{lead}Each bar is the probability of one label, from 0 (no bar) to 1 (the full '
        'width); the number at its end is the probability as printed. '
        '<span class="key"><span class="swatch winner" aria-hidden="true"></span>the label with the highest '
        'probability: the verdict</span> '
        '<span class="key"><span class="swatch" aria-hidden="true"></span>the other label</span></figcaption>'
    )


def chart_html(probabilities: list[float], labels: list[str], rows: list[str], where: str, caption: str = "") -> str:
    """The chart's HTML: a figure with one group of bars per row, one bar per label, the winning bar
    highlighted, and a caption with the legend."""
    if len(probabilities) != len(labels) * len(rows):
        raise PluginError(f"{where}: the Output block above holds {len(probabilities)} numbers, "
                          f"expected {len(rows)} rows x {len(labels)} labels")
    parts = ['<figure class="probability-figure">',
             '<div class="probability-chart" role="img" aria-label="Probabilities of each label, per sentence">']
    for r, row in enumerate(rows):
        values = probabilities[r * len(labels):(r + 1) * len(labels)]
        # Bars of probabilities that do not add up to 1 would draw a picture the output does not say.
        if any(not 0.0 <= v <= 1.0 for v in values) or not math.isclose(sum(values), 1.0, abs_tol=1e-3):
            raise PluginError(f"{where}: row {r + 1} of the Output block above is not a probability "
                              f"distribution: {values}")
        best = max(range(len(values)), key=values.__getitem__)
        parts.append(f'<div class="row"><strong class="name">{html.escape(row)}</strong><div class="bars">')
        for i, (label, value) in enumerate(zip(labels, values)):
            winner = " winner" if i == best else ""
            parts.append(
                f'<div class="bar{winner}"><span class="label">{html.escape(label)}</span>'
                f'<span class="track"><span class="fill" style="width: {100 * value:.2f}%"></span></span>'
                f'<span class="value">{value:.4f}</span></div>'
            )
        parts.append("</div></div>")
    parts.append("</div>")
    parts += [legend_html(caption), "</figure>"]
    return "".join(parts)


def on_page_markdown(markdown, page, config, files, **kwargs):
    """Replace each placeholder with the chart of the Output block directly above it in the page source."""
    if not PLACEHOLDER.search(markdown):
        return markdown
    root = _repo_root(config)
    from harness.page import PageError, parse_page
    from harness.snippets import Site

    source = Path(page.file.abs_src_path)
    try:
        parsed = parse_page(source, Site.load(root))
    except PageError as error:  # the page's own words (page:line), not a traceback of the hook
        raise PluginError(str(error)) from None
    outputs = [block.output for block in parsed.blocks if block.output is not None]
    charts = []
    for index, line in enumerate(parsed.lines):
        match = PLACEHOLDER.search(line)
        if not match:
            continue
        where = f"docs/{page.file.src_uri}:{index + 1}"
        above = [output for output in outputs if output.end_line <= index + 1]
        if not above or any(text.strip() for text in parsed.lines[above[-1].end_line:index]):
            raise PluginError(f"{where}: probability-chart must follow an Output block (only blank lines between)")
        labels, rows, caption = _arguments(match["args"], where)
        charts.append(chart_html(_numbers(above[-1].text), labels, rows, where, caption))
    replacements = iter(charts)
    return PLACEHOLDER.sub(lambda _: next(replacements), markdown)
