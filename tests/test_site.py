"""The built site: strict, offline, readable, complete; and the pages match their snippet files and notebooks."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.markers import NO_REASON, skips_without_reason
from harness.page import parse_page
from harness.snippets import Site, read_config
from harness.values import tokenize
from tests.conftest import REPO

DOCS = REPO / "docs"
SITE = Site.load(REPO)
# What UTF-8 text looks like after a trip through cp1252/latin-1: the notes arrived with these.
MOJIBAKE = re.compile("ð\u0178|â€|Ã[\u0080-\u00bf]|Â[\u0080-\u00bf]|ï»¿|\ufffd")
SECTION_MARKER = re.compile(r"^\s*# --8<-- \[(start|end):([\w-]+)\]\s*$")


def pages_with_code() -> list[Path]:
    """Every page whose blocks run, sorted."""
    return [p for p in sorted(DOCS.rglob("*.md")) if "notebooks" not in p.relative_to(DOCS).parts
            and parse_page(p, SITE).python_blocks]


# --- Strict pages: every skip says why ----------------------------------------------------------

def unexplained_skips(page) -> list[str]:
    """`page:line: mark` for each skip of the page that gives no reason (a pytest-codeblocks page may omit it)."""
    found = [f"{page.name}:{block.line}: {mark}" for block in page.blocks for mark in skips_without_reason(block.marks)]
    return found + ([f"{page.name}: pytest-codeblocks:skipfile without a reason"] if page.skipfile == NO_REASON else [])


def test_unexplained_skip_detector_sees_bare_and_empty_reasons():
    text = ('<!--pytest.mark.skip-->\n```python\nx\n```\n<!-- pytest-codeblocks:skip -->\n```sh\nls\n```\n'
            '<!--pytest.mark.skipif(sys.platform == "nope", reason="")-->\n```bash\nls\n```\n'
            '<!--pytest.mark.skip(reason="needs a GPU")-->\n```python\nx\n```\n<!--pytest-codeblocks:skipfile-->\n')
    page = parse_page(DOCS / "strict.md", SITE, text=text)
    assert [entry.split(": ", 1)[0] for entry in unexplained_skips(page)] == [
        "docs/strict.md:2", "docs/strict.md:6", "docs/strict.md:10", "docs/strict.md"]


def test_every_skip_in_the_project_pages_gives_a_reason():
    pages = [p for p in sorted(DOCS.rglob("*.md")) if "notebooks" not in p.relative_to(DOCS).parts]
    found = [entry for path in [*pages, REPO / "README.md"] for entry in unexplained_skips(parse_page(path, SITE))]
    assert found == []


# --- The build ----------------------------------------------------------------------------------

def test_strict_build_prints_no_warning(built_site):
    assert built_site.returncode == 0
    warnings = [line for line in built_site.log.splitlines() if "WARNING" in line or "ERROR" in line]
    assert warnings == [], "\n".join(warnings)


# --- Offline: nothing loads from another host ---------------------------------------------------

LOADING = {  # element -> attributes whose URL the browser fetches on its own
    "script": ("src",), "link": ("href",), "img": ("src", "srcset"), "iframe": ("src",),
    "source": ("src", "srcset"), "video": ("src", "poster"), "audio": ("src",), "embed": ("src",),
    "object": ("data",), "track": ("src",), "input": ("src",), "image": ("href", "xlink:href"), "use": ("href", "xlink:href"),
}
REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)|@import\s+['"]([^'"]+)""", re.IGNORECASE)
JS_IMPORT = re.compile(r"""\bimport\s*\(\s*['"]((?:https?:)?//[^'"]+)|\bfrom\s+['"]((?:https?:)?//[^'"]+)""")


class LoadingPath(HTMLParser):
    """Collects every URL an HTML page makes the browser fetch: attributes, inline CSS and module imports."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in LOADING.get(tag, ()):
            value = attrs.get(name)
            if value:
                self.urls += [part.strip().split(" ")[0] for part in value.split(",")] if name == "srcset" else [value]
        if attrs.get("style"):
            self.urls += [a or b for a, b in CSS_URL.findall(attrs["style"])]
        self._in = tag if tag in ("style", "script") else None

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "style":
            self.urls += [a or b for a, b in CSS_URL.findall(data)]
        elif self._in == "script":
            self.urls += [a or b for a, b in JS_IMPORT.findall(data)]


def remote_urls_in_html(text: str) -> list[str]:
    """The URLs of another host in an HTML page's loading path."""
    parser = LoadingPath()
    parser.feed(text)
    return [url for url in parser.urls if REMOTE.match(url)]


def test_loading_path_detector_sees_remote_urls():
    # The check below must be able to fail: each of these loads something from another host.
    page = """<link rel="stylesheet" href="https://fonts.googleapis.com/css">
    <script src="//unpkg.com/iframe-worker/shim"></script><img srcset="a.png 1x, https://cdn.x/b.png 2x">
    <div style="background: url('https://x.org/a.png')"></div><style>@import "https://x.org/a.css";</style>
    <script type="module">const m = await import("https://cdnjs.cloudflare.com/mermaid.mjs")</script>
    <a href="https://example.org/">a link is navigation, not loading</a>"""
    assert len(remote_urls_in_html(page)) == 6


def test_no_page_loads_anything_from_another_host(built_site):
    found = {}
    for path in sorted(built_site.site_dir.rglob("*.html")):
        if urls := remote_urls_in_html(path.read_text(encoding="utf-8")):
            found[path.relative_to(built_site.site_dir).as_posix()] = urls
    for path in sorted(built_site.site_dir.rglob("*.css")):
        urls = [a or b for a, b in CSS_URL.findall(path.read_text(encoding="utf-8"))]
        if remote := [url for url in urls if REMOTE.match(url)]:
            found[path.relative_to(built_site.site_dir).as_posix()] = remote
    assert found == {}


def test_offline_search_and_shim_are_served_locally(built_site):
    site = built_site.site_dir
    # The offline plugin inlines the search index so that search works from file:// too.
    assert (site / "search" / "search_index.js").read_text(encoding="utf-8").startswith("var __index = ")
    index = (site / "index.html").read_text(encoding="utf-8")
    assert 'src="assets/javascripts/iframe-worker-shim.js"' in index
    assert "IFrameWorker" in (site / "assets" / "javascripts" / "iframe-worker-shim.js").read_text(encoding="utf-8")


# --- Text ---------------------------------------------------------------------------------------

def test_mojibake_detector_sees_the_notes_damage():
    assert MOJIBAKE.search("encoderâ€™s ðŸ¤—Transformers")
    assert not MOJIBAKE.search("encoder’s 🤗 Transformers — “architecture” é")


def test_no_mojibake_in_the_built_site(built_site):
    site = built_site.site_dir
    files = [*site.rglob("*.html"), site / "search" / "search_index.json", *site.rglob("*.ipynb")]
    damaged = {}
    for path in files:
        text = path.read_text(encoding="utf-8")
        if hits := sorted({m[0] for m in MOJIBAKE.finditer(text)}):
            damaged[path.relative_to(site).as_posix()] = hits
    assert damaged == {}


def test_math_is_rendered_at_build_time(built_site):
    html = (built_site.site_dir / "using-transformers" / "post-processing.html").read_text(encoding="utf-8")
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">' in html
    assert "<mfrac>" in html
    # The TeX is only kept as the formula's annotation, never shown as source text.
    visible = re.sub(r"<annotation[^>]*>.*?</annotation>", "", html, flags=re.DOTALL)
    assert r"\frac" not in visible


def test_diagrams_are_inline_and_follow_the_theme(built_site):
    for page in ("using-transformers/index.html", "using-transformers/model-heads.html",
                 "transformer-models/architecture.html", "transformer-models/attention.html"):
        html = (built_site.site_dir / page).read_text(encoding="utf-8")
        svg = re.search(r'<svg class="diagram-svg[^"]*".*?</svg>', html, re.DOTALL)
        assert svg, page
        # Fixed colours would vanish against one of the two schemes; currentColor follows the text.
        assert "currentColor" in svg[0]
        assert not re.search(r'(fill|stroke)="#', svg[0]), page


def test_probability_chart_shows_the_documented_probabilities(built_site):
    page = parse_page(DOCS / "using-transformers" / "post-processing.md", SITE)
    softmax = next(b for b in page.blocks if "softmax" in b.code)
    documented = [t.value for t in tokenize(softmax.output.text) if t.kind == "number"]
    html = (built_site.site_dir / "using-transformers" / "post-processing.html").read_text(encoding="utf-8")
    chart = re.search(r'<div class="probability-chart".*?</div></div></div></div>', html, re.DOTALL)
    assert chart
    widths = [float(w) / 100 for w in re.findall(r'class="fill" style="width: ([\d.]+)%"', chart[0])]
    assert widths == pytest.approx(documented, abs=1e-4)


def test_probability_chart_has_a_caption_and_a_legend(built_site):
    html = (built_site.site_dir / "using-transformers" / "post-processing.html").read_text(encoding="utf-8")
    figure = re.search(r'<figure class="probability-figure">(.*?)</figure>', html, re.DOTALL)
    assert figure, "the chart is not a figure"
    caption = re.search(r"<figcaption>(.*?)</figcaption>", figure[1], re.DOTALL)
    assert caption, "the chart has no caption"
    text = re.sub(r"<[^>]+>", "", caption[1])
    # The page's own caption (from the placeholder), then how to read the bars: a key for each color.
    assert text.startswith("The probabilities above, one group of bars per sentence. ")
    assert "from 0 (no bar) to 1 (the full width)" in text
    keys = re.findall(r'<span class="key"><span class="(swatch[^"]*)"[^>]*></span>([^<]+)</span>', caption[1])
    assert keys == [("swatch winner", "the label with the highest probability: the verdict"),
                    ("swatch", "the other label")]
    # The highlighted bar of each sentence is its winner: the key's "winner" swatch says what it means.
    assert len(re.findall(r'class="bar winner"', figure[1])) == 2


# --- Navigation ---------------------------------------------------------------------------------

def nav_files(nav) -> list[str]:
    """Every docs-relative file named in an mkdocs.yml nav tree."""
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [f for item in nav for f in nav_files(item)]
    if isinstance(nav, dict):
        return [f for value in nav.values() for f in nav_files(value)]
    return []


def test_every_page_and_notebook_is_in_the_nav():
    nav = nav_files(read_config(REPO / "mkdocs.yml")["nav"])
    on_disk = sorted(p.relative_to(DOCS).as_posix() for p in [*DOCS.rglob("*.md"), *DOCS.rglob("*.ipynb")])
    assert sorted(nav) == on_disk
    assert len(nav) == len(set(nav)), "a page appears twice in the nav"


def test_every_nav_section_has_an_index_page():
    for item in read_config(REPO / "mkdocs.yml")["nav"]:
        (title, value), = item.items()
        if isinstance(value, list):
            assert isinstance(value[0], str) and value[0].endswith("index.md"), title


# --- Pages, snippet files and notebooks ---------------------------------------------------------

def snippet_sections(path: Path) -> dict[str, str]:
    """The named sections of a snippet file, in file order, as pymdownx.snippets includes them."""
    sections, current, lines = {}, None, []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if match := SECTION_MARKER.match(line):
            kind, name = match.groups()
            if kind == "start":
                current, lines = name, []
            else:
                sections[name] = "".join(lines)
                current = None
        elif current is not None:
            lines.append(line)
    return sections


@pytest.mark.parametrize("page", pages_with_code(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_page_shows_all_of_its_snippet_file_in_order(page):
    snippet = REPO / "snippets" / page.relative_to(DOCS).with_suffix(".py")
    if not snippet.exists():
        pytest.skip(f"{page.relative_to(REPO)} has no snippet file of its own (not one of this site's pages)")
    sections = snippet_sections(snippet)
    shown = [block.code for block in parse_page(page, SITE).python_blocks]
    # Running the snippet file then runs exactly what the page shows, in the page's order.
    assert shown == list(sections.values())


@pytest.mark.parametrize("page", pages_with_code(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_page_links_to_its_notebook(page, built_site):
    relative = page.relative_to(DOCS).with_suffix("")
    html = (built_site.site_dir / relative.with_suffix(".html")).read_text(encoding="utf-8")
    up = "../" * (len(relative.parts) - 1)
    assert f'href="{up}notebooks/{relative.as_posix()}.html"' in html
    assert f'href="{up}notebooks/{relative.as_posix()}.ipynb" download' in html
    assert (built_site.site_dir / "notebooks" / relative.with_suffix(".ipynb")).is_file()


def test_notebook_pages_offer_their_ipynb_for_download(built_site):
    notebooks = sorted((DOCS / "notebooks").rglob("*.ipynb"))
    assert notebooks
    for notebook in notebooks:
        relative = notebook.relative_to(DOCS)
        html = (built_site.site_dir / relative.with_suffix(".html")).read_text(encoding="utf-8")
        # Rendered by mkdocs-jupyter (not copied as a static file), with a relative download link.
        assert 'class="jupyter-wrapper"' in html, relative
        assert f'<a href="{notebook.name}" download' in html, relative
        assert (built_site.site_dir / relative).is_file()


def nav_entries(nav, title: str | None = None) -> list[tuple[str | None, str]]:
    """(title given in mkdocs.yml or None, docs-relative file) of every nav page, in reading order."""
    if isinstance(nav, str):
        return [(title, nav)]
    if isinstance(nav, list):
        return [entry for item in nav for entry in nav_entries(item)]
    if isinstance(nav, dict):
        return [entry for key, value in nav.items() for entry in nav_entries(value, key)]
    return []


def sidebar_titles(html: str) -> dict[str, str]:
    """Link target -> shown title of each page link in a built page's navigation sidebar."""
    links = re.finditer(r'<a href="([^"]+)" class="md-nav__link[^"]*">\s*<span class="md-ellipsis">\s*(.*?)\s*</span>',
                        html, re.DOTALL)
    return {href: re.sub(r"\s+", " ", text) for href, text in (m.groups() for m in links)}


def test_notebook_pages_show_their_nav_titles(built_site):
    """Sidebar, footer "Next" and <title> show the title mkdocs.yml gives a notebook, not its first heading."""
    entries = nav_entries(read_config(REPO / "mkdocs.yml")["nav"])
    notebooks = [(i, title, path) for i, (title, path) in enumerate(entries) if path.endswith(".ipynb")]
    assert notebooks and all(title for _, title, _ in notebooks), "every notebook in the nav needs a title"
    sidebar = sidebar_titles((built_site.site_dir / "index.html").read_text(encoding="utf-8"))
    wrong = []
    for index, title, path in notebooks:
        html_path = path.removesuffix(".ipynb") + ".html"
        page = (built_site.site_dir / html_path).read_text(encoding="utf-8")
        if f"<title>{title} - " not in page:
            wrong.append(f"{path}: <title> is {re.search(r'<title>(.*?)</title>', page)[1]!r}")
        if sidebar.get(html_path) != title:
            wrong.append(f"{path}: sidebar shows {sidebar.get(html_path)!r}")
        before = entries[index - 1][1]
        previous = (built_site.site_dir / (before.rsplit(".", 1)[0] + ".html")).read_text(encoding="utf-8")
        label = re.search(r'md-footer__link--next" aria-label="Next: ([^"]*)"', previous)
        if not label or label[1] != title:
            wrong.append(f"{path}: the footer of {before} says 'Next: {label[1] if label else None}'")
    assert wrong == [], f"titles expected from mkdocs.yml's nav:\n" + "\n".join(wrong)


# --- Glossary tooltips --------------------------------------------------------------------------

def test_glossary_term_split_across_source_lines_gets_its_tooltip():
    """A term broken over two source lines is marked like one on a single line (hooks/glossary_terms.py)."""
    import markdown

    from hooks.glossary_terms import GlossaryAcrossLines

    source = ("A causal language\nmodeling task reads the hidden\nstates left to right; hidden states again.\n\n"
              "*[causal language modeling]: Predicting the next word.\n*[hidden states]: Vectors, one per token.\n")
    plain = markdown.markdown(source, extensions=["abbr"])
    assert plain.count("<abbr") == 1  # the abbr extension alone: only the term on one line
    html = markdown.markdown(source, extensions=["abbr", GlossaryAcrossLines()])
    assert '<abbr title="Predicting the next word.">causal language\nmodeling</abbr>' in html
    assert '<abbr title="Vectors, one per token.">hidden\nstates</abbr>' in html
    assert '<abbr title="Vectors, one per token.">hidden states</abbr>' in html


def test_glossary_terms_on_the_pages_have_tooltips_across_line_breaks(built_site):
    """On the built pages, no glossary term split by a line break is left without its <abbr>."""
    from tests.browser_support import glossary

    terms = [term for term in glossary() if " " in term]
    pattern = re.compile(r"(?<![\w-])(" + "|".join(r"\s+".join(map(re.escape, t.split())) for t in terms) + r")(?![\w-])")
    found, unmarked = 0, []
    for page in sorted(built_site.site_dir.rglob("*.html")):
        html = page.read_text(encoding="utf-8")
        article = re.search(r"<article.*?</article>", html, re.DOTALL)
        if not article or "jupyter-wrapper" in article[0]:
            continue  # notebooks are rendered without the glossary include
        text = re.sub(r"<(pre|code|script|style|svg|math)\b.*?</\1>", "", article[0], flags=re.DOTALL)
        for match in pattern.finditer(text):
            if "\n" not in match[0]:
                continue
            found += 1
            if not re.search(r"<abbr [^>]*>$", text[: match.start()]):
                unmarked.append(f"{page.relative_to(built_site.site_dir)}: {match[0]!r}")
    assert found, "no glossary term is split across a line on the pages: this check checks nothing"
    assert unmarked == []


# --- The 404 page works from disk and under a sub-path -------------------------------------------

def test_404_page_links_relatively(built_site):
    html = (built_site.site_dir / "404.html").read_text(encoding="utf-8")
    urls = re.findall(r'(?:href|src)="([^"]*)"', html)
    assert urls
    rooted = [url for url in urls if url.startswith("/") and not url.startswith("//")]
    assert rooted == [], f"links from the server root break from disk and under a sub-path: {rooted[:5]}"
    missing = [url for url in urls if not REMOTE.match(url) and not url.startswith(("#", "data:", "mailto:"))
               and not (built_site.site_dir / url.split("#")[0].split("?")[0]).exists()]
    assert missing == []
