"""The site as a person uses it: every page in a real Chromium, served on 127.0.0.1 and opened from disk.

One strict build per session (`built_site`), one browser per session, a fresh context per test. Every
request goes through a router that lets only the loopback server (or file:) through and aborts the rest,
so nothing leaves the machine and each attempt is listed in the failure. Screenshots of every page in both
themes land in test-artifacts/screenshots/<run-id>/ (or $BROWSER_SCREENSHOTS_DIR), printed at the end.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from tests import browser_support as bs

pytestmark = pytest.mark.browser

PAGES = bs.source_pages()
MARKDOWN_PAGES = [p for p in PAGES if not p.is_notebook]
NOTEBOOKS = [p for p in PAGES if p.is_notebook]
MODES = ("served", "file")
SOFTMAX_PAGE = "using-transformers/post-processing.md"
# Pages with Python blocks: each block's copy button must copy the snippet section(s) it includes.
COPY_PAGES = [p for p in MARKDOWN_PAGES if bs.python_blocks(bs.DOCS / p.source)]


# ---------------------------------------------------------------------------------------------------
# Fixtures: the browser and the loopback server are in tests/conftest.py (shared with
# tests/test_browser_devices.py: one Playwright per session); one context per test here.


@pytest.fixture(scope="session")
def screenshots_dir(request) -> Path:
    """Folder of this run's screenshots; its path is printed in the terminal summary."""
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")[:12] or f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    folder = Path(os.environ.get("BROWSER_SCREENSHOTS_DIR") or bs.REPO / "test-artifacts" / "screenshots" / run_id)
    folder.mkdir(parents=True, exist_ok=True)

    class Summary:
        """Names the screenshot folder after the results, for people to look at."""

        def pytest_terminal_summary(self, terminalreporter):
            shots = len(list(folder.rglob("*.png")))
            terminalreporter.write_sep("-", f"browser screenshots ({shots}): {folder}")

    if not request.config.pluginmanager.has_plugin("browser-screenshots"):
        request.config.pluginmanager.register(Summary(), "browser-screenshots")
    return folder


@pytest.fixture(scope="session")
def analysis_page(browser):
    """A blank page of its own, where screenshots are decoded and measured (never the page under test)."""
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def clipboard(browser, server):
    """Reads the browser's real clipboard from a loopback page allowed to (file: origins cannot be granted)."""
    context = browser.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.origin)
    page = context.new_page()
    page.goto(f"{server.origin}/404.html")
    yield page
    context.close()


class Visit:
    """A fresh browser context for one mode: its traffic log and the URL of any built page."""

    def __init__(self, browser, mode: str, server, site_dir: Path):
        self.mode = mode
        self.site_dir = site_dir
        self.base = f"{server.origin}/" if mode == "served" else site_dir.resolve().as_uri() + "/"
        self.traffic = bs.Traffic(server.origin if mode == "served" else None)
        # Light to start with, whatever the machine prefers; no service worker can hide requests.
        self.context = browser.new_context(color_scheme="light", service_workers="block",
                                           viewport={"width": 1280, "height": 900}, accept_downloads=True)
        self.context.set_default_timeout(10_000)
        self.traffic.attach(self.context)

    def url(self, html: str) -> str:
        """URL of a built page (path relative to the site dir) in this mode."""
        return self.base + html

    def open(self, html: str):
        """A new tab on the page, loaded and rendered (diagrams drawn, fonts ready)."""
        page = self.context.new_page()
        page.goto(self.url(html), wait_until="load")
        page.evaluate(bs.WAIT_RENDERED_JS)
        return page


@pytest.fixture
def visit(browser, server, built_site):
    """Factory: `visit(mode)` gives a fresh context for that mode; all are closed after the test."""
    opened: list[Visit] = []

    def make(mode: str, site_dir: Path | None = None) -> Visit:
        opened.append(Visit(browser, mode, server, site_dir or built_site.site_dir))
        return opened[-1]

    yield make
    for v in opened:
        v.context.close()


def _fail_with(problems: list[str], where: str) -> None:
    if problems:
        pytest.fail(f"{where}: {len(problems)} problem(s)\n  " + "\n  ".join(problems), pytrace=False)


# ---------------------------------------------------------------------------------------------------
# Every page, both modes: requests, console, diagrams, math, glossary, screenshots in both themes.


def test_every_built_page_is_checked(built_site):
    """The pages the tests visit are exactly the pages the build wrote (none forgotten, none invented)."""
    expected = {p.html for p in PAGES}
    built = bs.built_pages(built_site.site_dir)
    assert built, f"the build wrote no pages into {built_site.site_dir}"
    assert built - expected == set(), f"built pages no source under docs/ maps to: {sorted(built - expected)}"
    assert expected - built == set(), f"pages under docs/ the build did not write: {sorted(expected - built)}"


@pytest.mark.parametrize("site_page", PAGES, ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_page(visit, mode, site_page, analysis_page, screenshots_dir, clipboard, tmp_path):
    """One page as a reader uses it, light then dark: only local requests, no errors, everything visible,
    copy buttons copy the snippet sections, a notebook shows its outputs, a notebook download is valid."""
    v = visit(mode)
    page = v.open(site_page.html)
    problems = bs.inspect_page(page, analysis_page, site_page, bs.glossary(),
                               screenshots_dir / mode, expect_softmax=site_page.source == SOFTMAX_PAGE)
    if site_page in COPY_PAGES:
        problems += bs.check_copy_buttons(page, clipboard, site_page)
    if site_page.is_notebook:
        problems += bs.check_notebook_outputs(page, site_page)
    if site_page.is_notebook or bs.notebook_of(site_page) is not None:
        problems += bs.check_notebook_download(page, site_page, tmp_path)
    _fail_with(v.traffic.problems() + problems, f"{mode} {site_page.html}")


def test_copy_and_notebook_checks_have_pages():
    """The copy and notebook checks above cover something: pages with snippet blocks and notebooks exist."""
    assert COPY_PAGES, "no page has a Python block: the copy check has nothing to click"
    assert any(b.sections for p in COPY_PAGES for b in bs.python_blocks(bs.DOCS / p.source)), \
        "no Python block includes a snippet section"
    assert NOTEBOOKS, "no notebook under docs/notebooks/: the notebook checks have nothing to open"
    assert any(bs.notebook_of(p) for p in MARKDOWN_PAGES), "no Markdown page has a notebook to download"


# ---------------------------------------------------------------------------------------------------
# Search and palette: what a reader does across pages.


@pytest.mark.parametrize("mode", MODES)
def test_search_lists_post_processing_for_logits(visit, mode):
    """Typing "logits" in the search box lists the post-processing page (offline search from file: too)."""
    v = visit(mode)
    page = v.open("index.html")
    box = page.locator("input[data-md-component=search-query]")
    if not box.is_visible():
        # Narrow layouts hide the box behind the magnifier button; a reader clicks that first.
        page.locator("label[for=__search]").first.click()
    box.click()
    box.press_sequentially("logits", delay=20)
    target = SOFTMAX_PAGE.removesuffix(".md") + ".html"
    results = page.locator(f".md-search-result__list a[href*='{target}']")
    try:
        results.first.wait_for(state="visible", timeout=8000)
    except Exception:
        listed = page.evaluate("() => [...document.querySelectorAll('.md-search-result__list a')].map(a => a.href)")
        meta = page.evaluate("() => document.querySelector('.md-search-result__meta')?.textContent || ''")
        _fail_with([f"no result links to {target}; results: {listed or 'none'} ({meta.strip()!r})"]
                   + v.traffic.problems(), f"{mode} search")
    _fail_with(v.traffic.problems(), f"{mode} search")


@pytest.mark.parametrize("mode", MODES)
def test_dark_mode_persists_across_pages(visit, mode):
    """The palette toggle switches to slate, and the next page (reached by a link) is still slate."""
    v = visit(mode)
    page = v.open("index.html")
    assert bs.current_scheme(page) == "default", "a light-preferring browser should start in the light scheme"
    bs.switch_scheme(page, "slate")
    link = page.locator(f"nav.md-nav a.md-nav__link[href$='{SOFTMAX_PAGE.removesuffix('.md')}.html']").first
    with page.expect_navigation():
        link.click()
    page.wait_for_load_state("load")
    assert SOFTMAX_PAGE.removesuffix(".md") in page.url
    assert bs.current_scheme(page) == "slate", f"scheme on {page.url} after the toggle: {bs.current_scheme(page)!r}"
    bs.switch_scheme(page, "default")
    _fail_with(v.traffic.problems(), f"{mode} palette")


# ---------------------------------------------------------------------------------------------------
# The checker can fail: tampered copies of built pages must be caught.


@pytest.fixture(scope="session")
def tampered_site(built_site, tmp_path_factory) -> Path:
    """A copy of the built site with extra pages that break the rules on purpose (the originals untouched)."""
    root = tmp_path_factory.mktemp("tampered") / "site"
    shutil.copytree(built_site.site_dir, root)
    index = (root / "index.html").read_text(encoding="utf-8")
    for name in bs.TAMPERINGS:
        (root / f"selftest-{name}.html").write_text(bs.tamper(index, name), encoding="utf-8")
    return root


@pytest.fixture
def tampered_visit(browser, tampered_site):
    """Like `visit`, but on the tampered copy (served by a loopback server of its own)."""
    opened: list[Visit] = []

    with bs.LoopbackServer(tampered_site) as own_server:
        def make(mode: str) -> Visit:
            opened.append(Visit(browser, mode, own_server, tampered_site))
            return opened[-1]

        yield make
        for v in opened:
            v.context.close()


@pytest.mark.parametrize("mode", MODES)
def test_checker_blocks_and_reports_external_request(tampered_visit, mode):
    """An external <script src> is aborted before it leaves and listed as a problem."""
    v = tampered_visit(mode)
    v.open("selftest-external.html")
    problems = v.traffic.problems()
    assert "external request (blocked): https://cdn.example.org/x.js" in problems, problems
    assert v.traffic.blocked == ["https://cdn.example.org/x.js"], v.traffic.blocked


def test_checker_reports_console_error_and_missing_file(tampered_visit):
    """A console.error, an uncaught exception and a missing stylesheet each become a problem line."""
    v = tampered_visit("served")
    v.open("selftest-errors.html")
    problems = "\n".join(v.traffic.problems())
    assert "console error: selftest console error" in problems, problems
    assert "page error: selftest uncaught" in problems, problems
    assert "bad status:" in problems and "selftest-missing.css (HTTP 404)" in problems, problems


def test_checker_reports_missing_file_from_disk(tampered_visit):
    """From disk a missing file has no status code: it is a failed load."""
    v = tampered_visit("file")
    v.open("selftest-errors.html")
    problems = "\n".join(v.traffic.problems())
    assert re.search(r"failed load: file://\S+/selftest-missing\.css", problems), problems


def test_checker_sees_invisible_diagram_and_raw_tex(tampered_visit, analysis_page, tmp_path):
    """A black-only diagram vanishes on slate and raw TeX stays visible: both are reported."""
    v = tampered_visit("served")
    page = v.open("selftest-content.html")
    problems = "\n".join(bs.inspect_page(page, analysis_page, bs.SitePage("selftest-content.md"), {}, tmp_path))
    assert re.search(r"diagram #\d+ \(svg\.selftest-black\) not visible in dark", problems), problems
    assert not re.search(r"selftest-black\) not visible in light", problems), problems
    assert "selftest-visible" not in problems, problems
    assert "raw TeX" in problems and "\\frac" in problems, problems


def test_checker_reports_wrong_copy_and_missing_tooltip(visit, clipboard, analysis_page):
    """A block whose rendered code is not its snippet section, and a glossary term without tooltip, are reported."""
    terms = bs.glossary()
    assert terms, "includes/abbreviations.md defines no glossary term"
    term = next(iter(terms))
    site_page = bs.SitePage(SOFTMAX_PAGE)
    v = visit("served")
    page = v.open(site_page.html)
    page.evaluate("""(term) => {
      const code = document.querySelector("article .language-python.highlight code");
      code.prepend("x = 1  # not in the snippet\\n");
      const p = document.createElement("p");
      p.textContent = "A sentence with " + term + " in it.";
      document.querySelector("article.md-content__inner").append(p);
    }""", term)
    copy_problems = bs.check_copy_buttons(page, clipboard, site_page)
    assert any("x = 1  # not in the snippet" in p for p in copy_problems), copy_problems
    assert len(copy_problems) == 1, copy_problems  # the other blocks still copy their sections
    text_problems = bs.inspect_page(page, analysis_page, site_page, terms, None)
    assert f"glossary term {term!r} shown without tooltip: 'A sentence with {term} in it.'" in text_problems, text_problems


def test_notebook_comparison_reports_a_changed_cell():
    """A notebook whose code cell differs from the page's block is reported; the stored one is not."""
    import nbformat

    notebook_page = next(p for p in MARKDOWN_PAGES if bs.notebook_of(p))
    markdown = bs.DOCS / notebook_page.source
    notebook = nbformat.read(bs.DOCS / bs.notebook_of(notebook_page), as_version=4)
    assert bs.compare_notebook_to_page(notebook, markdown) == []
    cell = next(c for c in notebook.cells if c.cell_type == "code" and "install" not in c.metadata.get("tags", []))
    cell.source += "\nprint('changed')"
    problems = bs.compare_notebook_to_page(notebook, markdown)
    assert len(problems) == 1 and "differs from block 1" in problems[0], problems


# ---------------------------------------------------------------------------------------------------
# How each output was checked (hooks/verification.py, from verification.json).

OUTPUT_PAGES = [p for p in MARKDOWN_PAGES if any(b.output for b in bs.parse_source(p))]


def shown_outputs(site_page) -> int:
    """How many outputs the page shows: its Output blocks, or a notebook's code cells with outputs."""
    if site_page.is_notebook:
        cells = json.loads((bs.DOCS / site_page.source).read_text(encoding="utf-8"))["cells"]
        return sum(1 for c in cells if c["cell_type"] == "code" and c["outputs"])
    return sum(1 for b in bs.parse_source(site_page) if b.output)


@pytest.fixture(scope="module")
def verification_record() -> dict:
    from harness import record

    return record.load(bs.REPO / record.RECORD_FILE)


@pytest.mark.parametrize("site_page", OUTPUT_PAGES + [p for p in NOTEBOOKS if shown_outputs(p)], ids=str)
def test_status_lines_are_readable_in_both_themes_at_phone_width(browser, server, site_page):
    """Every Output block (or notebook cell output) has its status line, shown in full and legible at 390 px,
    light and dark."""
    context = browser.new_context(color_scheme="light", viewport={"width": 390, "height": 844}, service_workers="block")
    traffic = bs.Traffic(server.origin)
    traffic.attach(context)
    try:
        page = context.new_page()
        page.goto(f"{server.origin}/{site_page.html}", wait_until="load")
        page.evaluate(bs.WAIT_RENDERED_JS)
        expected = shown_outputs(site_page)
        problems = []
        for theme in bs.SCHEMES:
            bs.switch_scheme(page, bs.PALETTE[theme])
            page.evaluate("() => document.querySelectorAll('details:not([open])').forEach(d => d.open = true)")
            lines = page.evaluate(bs.STATUS_LINES_JS)
            if len(lines) != expected:
                problems.append(f"{len(lines)} status lines in {theme}, {expected} Output blocks in docs/{site_page}")
            problems += bs.status_line_problems(lines, theme)
        _fail_with(traffic.problems() + problems, f"390 px {site_page.html}")
    finally:
        context.close()


def test_checker_sees_a_faint_or_cut_off_status_line(browser, server):
    """The readability check can fail: a status line in the background's colour, and one wider than the page."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(f"{server.origin}/using-transformers/tokenizer.html", wait_until="load")
        page.evaluate("""() => {
          const [a, b] = document.querySelectorAll("article [data-verification]");
          a.style.color = getComputedStyle(document.body).backgroundColor;
          b.style.width = "900px";
        }""")
        problems = "\n".join(bs.status_line_problems(page.evaluate(bs.STATUS_LINES_JS), "light"))
        assert "status line 1 (verified) in light has contrast" in problems, problems
        assert "status line 2 (verified) in light does not fit the 390 px wide page" in problems, problems
    finally:
        context.close()


@pytest.mark.parametrize("mode", MODES)
def test_status_page_lists_every_block_and_filters_and_sorts(visit, mode, verification_record):
    """The status page (file:// too) lists every block of the record; the filter and the sort work."""
    v = visit(mode)
    page = v.open("verification.html")
    assert page.locator("#verification-status").count() == 1
    blocks = verification_record["blocks"]
    rows = page.locator("#verification-status tbody tr")
    assert rows.count() == len(blocks)
    listed = page.evaluate("() => [...document.querySelectorAll('#verification-status tbody tr')]"
                           ".map(r => [r.id, r.dataset.status])")
    assert sorted(listed) == sorted(
        [f"block-{re.sub(r'[^a-z0-9]+', '-', b['page'].lower()).strip('-')}-{b['line']}", b["status"]] for b in blocks)
    page.select_option("#verification-filter", "structural")
    structural = sum(b["status"] == "structural" for b in blocks)
    assert page.locator("#verification-status tbody tr:visible").count() == structural
    assert page.locator("#verification-shown").inner_text() == f"{structural} of {len(blocks)} blocks"
    page.select_option("#verification-filter", "")
    page.fill("#verification-page", "tokenizer")
    tokenizer = sum(b["page"].endswith("tokenizer.md") for b in blocks)
    assert page.locator("#verification-status tbody tr:visible").count() == tokenizer
    page.fill("#verification-page", "")
    page.locator("#verification-status th button", has_text="Seconds").click()
    seconds = page.evaluate("() => [...document.querySelectorAll('#verification-status tbody tr')]"
                            ".map(r => Number(r.cells[10].dataset.sort))")
    assert seconds == sorted(seconds) and len(seconds) == len(blocks)
    _fail_with(v.traffic.problems(), f"{mode} status page")


@pytest.mark.parametrize("mode", MODES)
def test_from_any_output_to_its_row_of_the_status_page(visit, mode):
    """Every status line links to an existing row of the status page; following one lands on that row."""
    v = visit(mode)
    status_page = v.open("verification.html")
    rows = set(status_page.evaluate("() => [...document.querySelectorAll('#verification-status tr[id]')].map(r => r.id)"))
    problems = []
    for site_page in OUTPUT_PAGES + [p for p in NOTEBOOKS if shown_outputs(p)]:
        page = v.open(site_page.html)
        lines = page.evaluate(bs.STATUS_LINES_JS)
        if len(lines) != shown_outputs(site_page):
            problems.append(f"{site_page.html}: {len(lines)} status lines for {shown_outputs(site_page)} outputs")
        for line in lines:
            target = (line["href"] or "#").split("#", 1)[1]
            if target not in rows:
                problems.append(f"{site_page.html}: status line links to #{target}, not a row of the status page")
        page.close()
    page = v.open("using-transformers/tokenizer.html")
    first = page.locator("article [data-verification] a").first
    with page.expect_navigation():
        first.click()
    page.wait_for_load_state("load")
    assert "verification.html#block-docs-using-transformers-tokenizer-md-" in page.url
    target = page.evaluate("() => document.querySelector(':target')?.dataset.status")
    assert target == "verified", target
    _fail_with(v.traffic.problems() + problems, f"{mode} output to status page")
