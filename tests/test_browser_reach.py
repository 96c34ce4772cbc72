"""The site where real users take it, in a real Chromium: searched for code, printed, its 404 page opened from
disk and under a sub-path, glossary terms found wherever the source breaks a line.

Same browser, loopback server and strict build as tests/test_browser.py (its fixtures are reused).
"""
from __future__ import annotations

import functools
import http.server
import json
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests import browser_support as bs
from tests.test_browser import _fail_with, visit  # noqa: F401 (visit is a fixture; browser, server: conftest.py)

pytestmark = pytest.mark.browser

MODES = ("served", "file")

# --- Search: the names in the code are what learners search for -------------------------------------

# Each name, and the page that teaches it.
CODE_NAMES = {
    "convert_ids_to_tokens": "using-transformers/tokenizer.html",
    "last_hidden_state": "using-transformers/model.html",
    "id2label": "using-transformers/post-processing.html",
    "attention_mask": "using-transformers/tokenizer.html",
    "AutoModelForSequenceClassification": "using-transformers/model-heads.html",
}


def pages_containing(site_dir: Path, name: str) -> set[str]:
    """Pages whose indexed text or title contains `name` (any case): the most a search for it should list."""
    index = json.loads((site_dir / "search" / "search_index.json").read_text(encoding="utf-8"))
    return {doc["location"].split("#")[0] for doc in index["docs"]
            if name.lower() in (doc["title"] + " " + doc["text"]).lower()}


def search(page, query: str) -> tuple[int, list[str]]:
    """Type `query` in the search box; (matching documents, result pages in order, as site-relative paths)."""
    box = page.locator("input[data-md-component=search-query]")
    if not box.is_visible():
        page.locator("label[for=__search]").first.click()
    box.click()
    box.press_sequentially(query, delay=20)  # Material reacts to typing, not to a value set at once
    meta = page.locator(".md-search-result__meta")
    page.wait_for_function("""(q) => document.querySelector("input[data-md-component=search-query]").value === q
        && /matching document/i.test(document.querySelector(".md-search-result__meta").textContent)""", arg=query)
    # Material answers each keystroke after a short delay: read until two reads in a row agree.
    previous = None
    for _ in range(40):
        page.wait_for_timeout(250)
        text = meta.text_content().strip()
        hrefs = page.evaluate("""() => [...document.querySelectorAll(".md-search-result__item > a:first-child")]
            .map(a => a.href)""")
        if (text, hrefs) == previous:
            break
        previous = (text, hrefs)
    count = 0 if text.lower().startswith("no ") else int(re.match(r"\d+", text)[0])
    return count, hrefs


def site_path(url: str, base: str) -> str:
    """A result link as a path relative to the site root, without query and fragment."""
    parts = urlsplit(url)
    return unquote(parts.path).removeprefix(unquote(urlsplit(base).path))


@pytest.mark.parametrize("name", CODE_NAMES)
@pytest.mark.parametrize("mode", MODES)
def test_search_finds_code_names(visit, built_site, mode, name):
    """A name found only in code lists the page that teaches it among the first three pages.

    Notebook copies repeat each page's code: where they rank is issue 13's (pages above their copies, or
    copies out of the index), so they are set aside here. A name never lists more pages than contain it:
    the separator must not cut it into common word parts (camelCase splitting did: 19 pages for 4)."""
    v = visit(mode)
    page = v.open("index.html")
    count, hrefs = search(page, name)
    results = [site_path(h, v.base) for h in hrefs]
    teaching = CODE_NAMES[name]
    pages = [r for r in dict.fromkeys(results) if not r.startswith("notebooks/")]
    containing = pages_containing(built_site.site_dir, name)
    problems = []
    if teaching not in pages[:3]:
        problems.append(f"{teaching} not among the first three pages (notebook copies aside): {pages[:5]}")
    if count > len(containing):
        problems.append(f"{count} matching documents, but only {len(containing)} pages contain {name!r}: "
                        f"{sorted(containing)}")
    _fail_with(problems + v.traffic.problems(), f"{mode} search {name!r}")


# --- Print: paper does not scroll ---------------------------------------------------------------------

PRINTED = ("notebooks/using-transformers/tokenizer.html", "using-transformers/tokenizer.html")


def squeeze(text: str) -> str:
    """Text without any whitespace: wrapping in print moves line breaks and spaces, never other characters."""
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("html", PRINTED)
def test_printed_page_shows_every_code_and_output_line(visit, tmp_path, html):
    """Chromium prints the page to PDF (A4, print media); every line of every code and output block is in it."""
    import pypdf

    v = visit("file")
    page = v.open(html)
    lines = page.evaluate("""() => [...document.querySelectorAll("article pre")]
        .flatMap(pre => pre.textContent.split("\\n")).map(l => l.trim()).filter(l => l)""")
    longest = max(map(len, lines), default=0)
    assert longest > 100, f"{html}: no line long enough to be cut in print (longest {longest} characters)"
    pdf = tmp_path / "page.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True)
    # Layout mode reads the text in the order it is printed (plain mode may put a wrapped line's end elsewhere).
    printed = squeeze("".join(p.extract_text(extraction_mode="layout") for p in pypdf.PdfReader(pdf).pages))
    cut = [line for line in lines if squeeze(line) not in printed]
    _fail_with([f"cut in print: {line[:60]!r}... ({len(line)} characters)" for line in cut] + v.traffic.problems(),
               f"print {html}")


# --- The 404 page: from disk, and under a sub-path of a server that answers missing pages with it ------


class ErrorPageServer(bs.LoopbackServer):
    """Serves `root`, and answers every missing file with the site's 404.html (status 404), as static hosts do."""

    def __init__(self, root: Path, error_page: Path):
        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, format, *args):  # noqa: A002
                pass

            def send_error(self, code, message=None, explain=None):
                if code != 404:
                    return super().send_error(code, message, explain)
                body = error_page.read_bytes()
                self.send_response(404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

        super().__init__(root)
        self.httpd.RequestHandlerClass = functools.partial(Handler, directory=str(root))


CHECK_404_JS = """() => ({
  // Material's stylesheet makes the header sticky; without it the header is a plain static block.
  header: getComputedStyle(document.querySelector(".md-header")).position,
  links: [...document.querySelectorAll("a[href]")].map(a => a.href).filter(h => !h.startsWith("javascript:")),
})"""


def _check_404(page, traffic, site_dir: Path, course_root: str) -> list[str]:
    """The 404 page is styled, and each of its links leads to a file of the site under `course_root`."""
    found = page.evaluate(CHECK_404_JS)
    problems = [] if found["header"] == "sticky" else [f"not styled: the header is {found['header']!r}"]
    for link in found["links"]:
        path = unquote(urlsplit(link).path)
        if not path.startswith(course_root):
            problems.append(f"link leaves the course: {link}")
        elif not (site_dir / path.removeprefix(course_root)).exists():
            problems.append(f"link to a missing file: {link}")
    return problems + traffic.problems()


def test_404_page_from_disk(visit, built_site):
    v = visit("file")
    page = v.open("404.html")
    root = unquote(urlsplit(v.base).path)
    _fail_with(_check_404(page, v.traffic, built_site.site_dir, root), "file 404.html")


def test_404_page_under_a_sub_path(browser, built_site, tmp_path):
    """The site at http://127.0.0.1:port/course/: a missing page there gets the styled 404 page, whose links
    stay in /course/; following one reaches a page of the course."""
    (tmp_path / "course").symlink_to(built_site.site_dir, target_is_directory=True)
    with ErrorPageServer(tmp_path, built_site.site_dir / "404.html") as running:
        traffic = bs.Traffic(running.origin)
        context = browser.new_context(service_workers="block", viewport={"width": 1280, "height": 900})
        try:
            traffic.attach(context)
            page = context.new_page()
            missing = f"{running.origin}/course/no-such-page.html"
            response = page.goto(missing, wait_until="load")
            assert response.status == 404
            # The page itself answers 404 by design; anything else that fails is a problem.
            traffic.bad_status.remove(f"{missing} (HTTP 404)")
            traffic.console_errors = [e for e in traffic.console_errors if not e.endswith(f"(at {missing}:0)")]
            problems = _check_404(page, traffic, built_site.site_dir, "/course/")
            with page.expect_navigation():
                page.locator("nav.md-nav a.md-nav__link[href='./using-transformers/model.html']").first.click()
            if page.url != f"{running.origin}/course/using-transformers/model.html":
                problems.append(f"the nav link led to {page.url}")
            _fail_with(problems, "served /course/no-such-page.html")
        finally:
            context.close()


# --- Glossary: the browser check sees a term split by a line break ------------------------------------


def test_glossary_check_sees_a_term_split_by_a_line_break(visit):
    """A multi-word glossary term broken by a newline, without <abbr>, is reported (the page check can fail)."""
    terms = bs.glossary()
    term = next(t for t in terms if " " in t)
    v = visit("served")
    page = v.open("index.html")
    split = term.replace(" ", "\n", 1)
    page.evaluate("""(text) => {
      const p = document.createElement("p");
      p.textContent = "Here the source wrapped: " + text + " in the middle.";
      document.querySelector("article.md-content__inner").append(p);
    }""", split)
    found = page.evaluate(bs.GLOSSARY_JS, terms)
    assert term in [miss["term"] for miss in found["unmarked"]], found["unmarked"]
