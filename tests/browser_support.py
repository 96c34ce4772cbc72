"""What the browser tests need around Playwright: Chromium, a loopback server, a request log, page checks.

The checks run inside the page (JavaScript) and return plain data, so a failure message can list
every problem of a page at once: each request that tried to leave the machine, each console error,
each diagram that cannot be seen, each formula left as raw TeX.
"""
from __future__ import annotations

import base64
import functools
import http.server
import os
import re
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"

# Debian's package is the browser CI installs (`make chromium`); Playwright's own download needs the network.
CHROMIUM_CANDIDATES = ("chromium", "/usr/bin/chromium", "chromium-browser")
INSTALL_HINT = "install it with `apt-get install chromium` (or `make chromium`), or set CHROMIUM=/path/to/chromium"
# Flags that keep Chromium from phoning home on its own (updates, sync, field trials): only pages make requests.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-domain-reliability",
]
# Schemes that never leave the machine; everything else must go to the loopback server.
LOCAL_SCHEMES = ("data", "blob", "about", "chrome-error")
SCHEMES = ("light", "dark")
PALETTE = {"light": "default", "dark": "slate"}


def find_chromium() -> str | None:
    """Path of a Chromium executable: $CHROMIUM, else Debian's `chromium` on PATH, else None."""
    if os.environ.get("CHROMIUM"):
        return shutil.which(os.environ["CHROMIUM"]) or None
    for name in CHROMIUM_CANDIDATES:
        if found := shutil.which(name):
            return found
    return None


def in_ci() -> bool:
    """True on CI, where a missing browser is a failure, not a skip."""
    return os.environ.get("CI", "").lower() == "true"


# ---------------------------------------------------------------------------------------------------
# Pages: the site's pages are the docs' sources; each maps to one built HTML file.


@dataclass(frozen=True)
class SitePage:
    """One page of the site: its source under docs/ (Markdown or notebook) and its built HTML path."""

    source: str  # relative to docs/, e.g. "using-transformers/tokenizer.md"

    @property
    def is_notebook(self) -> bool:
        """True for a notebook (rendered by mkdocs-jupyter), False for a Markdown page."""
        return self.source.endswith(".ipynb")

    @property
    def html(self) -> str:
        """The built file, relative to the site dir (the offline plugin turns off directory URLs)."""
        return self.source.rsplit(".", 1)[0] + ".html"

    def __str__(self) -> str:
        return self.source


def source_pages(docs: Path = DOCS) -> list[SitePage]:
    """Every page source under docs/ (Markdown files and notebooks), sorted, known before the build."""
    sources = [p for p in docs.rglob("*") if p.suffix in (".md", ".ipynb") and p.is_file()]
    return [SitePage(p.relative_to(docs).as_posix()) for p in sorted(sources)]


def built_pages(site_dir: Path) -> set[str]:
    """HTML pages of a built site (relative paths), without the 404 page and Material's own files."""
    pages = set()
    for path in site_dir.rglob("*.html"):
        rel = path.relative_to(site_dir).as_posix()
        if rel != "404.html" and not rel.startswith(("assets/", "search/")):
            pages.add(rel)
    return pages


# ---------------------------------------------------------------------------------------------------
# Snippets: the code a page includes, cut from the snippet file the way pymdownx.snippets cuts it.

INCLUDE = re.compile(r'^\s*-{1,}8<-{1,}\s+"(?P<file>[^":]+\.py):(?P<section>[\w.-]+)"\s*$')


@dataclass
class SourceBlock:
    """A Python block as the page's source writes it: literal lines and `--8<--` section includes, in order."""

    line: int  # 1-based page line of the opening fence
    parts: list[str | tuple[str, str]] = field(default_factory=list)  # a literal line, or (snippet file, section)

    @property
    def sections(self) -> list[tuple[str, str]]:
        """The snippet sections the block includes."""
        return [part for part in self.parts if isinstance(part, tuple)]

    def code(self) -> str:
        """The code the reader should see and copy, read from the snippet files themselves."""
        # pymdownx.snippets keeps a section's own indentation (dedent_subsections is off): so do we.
        return "\n".join(snippet_section(REPO / part[0], part[1]) if isinstance(part, tuple) else part
                         for part in self.parts)


def snippet_section(path: Path, name: str) -> str:
    """Lines between `# --8<-- [start:name]` and `# --8<-- [end:name]` of a snippet file, markers dropped."""
    start = re.compile(rf"^\s*#\s*-{{1,}}8<-{{1,}}\s*\[start:{re.escape(name)}\]\s*$")
    end = re.compile(rf"^\s*#\s*-{{1,}}8<-{{1,}}\s*\[end:{re.escape(name)}\]\s*$")
    marker = re.compile(r"^\s*#\s*-{1,}8<-{1,}\s*\[(start|end):[\w.-]+\]\s*$")
    lines = path.read_text(encoding="utf-8").splitlines()
    starts = [i for i, l in enumerate(lines) if start.match(l)]
    ends = [i for i, l in enumerate(lines) if end.match(l)]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise ValueError(f"{path.relative_to(REPO)}: section {name!r} needs one start and one end marker")
    # Markers of other sections inside this one are not code (pymdownx.snippets skips them too).
    return "\n".join(l for l in lines[starts[0] + 1 : ends[0]] if not marker.match(l))


def python_blocks(page_md: Path) -> list[SourceBlock]:
    """The page's Python blocks in page order (set-up blocks included), located by the harness's parser."""
    from harness.page import parse_page

    page = parse_page(page_md)
    blocks = []
    for block in page.python_blocks:
        source = SourceBlock(block.line)
        # The lines between the fences as written; superfences removes the fence's own indentation.
        for line in page.lines[block.line : block.end_line - 1]:
            include = INCLUDE.match(line)
            source.parts.append((include["file"], include["section"]) if include else line[len(block.indent):])
        blocks.append(source)
    return blocks


# ---------------------------------------------------------------------------------------------------
# Glossary: the terms includes/abbreviations.md defines (Markdown's abbr syntax: `*[term]: definition`).

ABBREVIATION = re.compile(r"^\*\[(?P<term>[^\]]+)\]:\s*(?P<definition>.*?)\s*$")


def glossary(path: Path = REPO / "includes" / "abbreviations.md") -> dict[str, str]:
    """Term → definition, as the abbr extension reads the auto-appended include."""
    if not path.is_file():
        return {}
    terms = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := ABBREVIATION.match(line):
            terms[match["term"]] = match["definition"]
    return terms


# ---------------------------------------------------------------------------------------------------
# Loopback server: the built site over real HTTP on 127.0.0.1, like `mkdocs serve` minus the reload.


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Static files from the site dir, without a log line per request in the test output."""

    def log_message(self, format, *args):  # noqa: A002 (the base class names it so)
        pass


class LoopbackServer:
    """An HTTP server for one folder on 127.0.0.1, on a free port, in a daemon thread."""

    def __init__(self, root: Path):
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "LoopbackServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------------------------------------------
# Traffic: every request a page makes; anything not local is aborted before it leaves.


def is_local(url: str, origin: str | None) -> bool:
    """True when `url` stays on the machine: the loopback origin (served mode) or file: (disk mode)."""
    scheme = urlsplit(url).scheme
    if scheme in LOCAL_SCHEMES:
        return True
    if origin is None:
        return scheme == "file"
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" == origin


@dataclass
class Traffic:
    """What pages of one browser context did on the network and in the console."""

    origin: str | None  # loopback origin, or None when pages come from file:
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    bad_status: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def attach(self, context) -> None:
        """Route every request of `context` through the check and listen to its pages."""
        context.route("**/*", self._route)
        context.on("request", lambda request: self.requests.append(request.url))
        context.on("requestfailed", self._request_failed)
        context.on("response", self._response)
        context.on("console", self._console)
        context.on("weberror", lambda error: self.page_errors.append(str(error.error)))
        # Web sockets are not requests: record and refuse any that is not local.
        context.route_web_socket("**/*", self._web_socket)

    def _route(self, route) -> None:
        url = route.request.url
        if is_local(url, self.origin):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")

    def _web_socket(self, ws) -> None:
        if is_local(ws.url, self.origin):
            ws.connect_to_server()
        else:
            self.blocked.append(ws.url)
            ws.close()

    def _request_failed(self, request) -> None:
        if request.url not in self.blocked:
            self.failed.append(f"{request.url} ({request.failure})")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.bad_status.append(f"{response.url} (HTTP {response.status})")

    def _console(self, message) -> None:
        if message.type == "error":
            where = message.location or {}
            # Chromium logs each aborted request as a console error: it is already listed as blocked.
            if "ERR_BLOCKED_BY_CLIENT" in message.text and any(u == where.get("url") for u in self.blocked):
                return
            self.console_errors.append(f"{message.text} (at {where.get('url', '?')}:{where.get('lineNumber', '?')})")

    def problems(self) -> list[str]:
        """One line per request that left (or tried to), failed load, bad status, console or page error."""
        lines = [f"external request (blocked): {u}" for u in self.blocked]
        lines += [f"request not on loopback/file (seen): {u}" for u in self.requests
                  if not is_local(u, self.origin) and u not in self.blocked]
        lines += [f"failed load: {f}" for f in self.failed]
        lines += [f"bad status: {s}" for s in self.bad_status]
        lines += [f"console error: {c}" for c in self.console_errors]
        lines += [f"page error: {e}" for e in self.page_errors]
        return lines


# ---------------------------------------------------------------------------------------------------
# In-page checks. Each returns plain data; the Python side turns it into problem lines.

WAIT_RENDERED_JS = """async () => {
  // Material swaps each <pre class="mermaid"> for a rendered diagram; fonts decide the text layout.
  const deadline = Date.now() + 8000;
  while (document.querySelector("pre.mermaid") && Date.now() < deadline) {
    await new Promise(r => setTimeout(r, 50));
  }
  await document.fonts.ready;
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  return !document.querySelector("pre.mermaid");
}"""

# Diagrams: Mermaid containers (Material renders them into a closed shadow root), images, inline SVGs big
# enough not to be icons, and whatever the page declares a figure or an image (role="figure"/"img"), such as
# the probability chart. Outermost only: a figure's own SVG is measured with it. Buttons and icons are not.
DIAGRAMS_JS = """() => {
  const article = document.querySelector("article.md-content__inner") || document.body;
  const icon = "button, .twemoji, .md-clipboard, .headerlink, .md-source-file, .md-content__button, .md-annotation, label, .md-nav";
  const selector = "div.mermaid, pre.mermaid, img, svg, [role=figure], [role=img]";
  const found = [];
  for (const el of article.querySelectorAll(selector)) {
    if (el.closest(icon) || (el.parentElement && el.parentElement.closest(selector))) continue;
    const tag = el.tagName.toLowerCase();
    const box = el.getBoundingClientRect();
    if (tag !== "img" && box.width < 48 && box.height < 48) continue;  // an icon
    found.push({
      index: found.length, tag, cls: el.getAttribute("class") || "",
      src: el.getAttribute("src") || "", alt: el.getAttribute("alt") || el.getAttribute("aria-label") || "",
      width: box.width, height: box.height,
      complete: tag === "img" ? (el.complete && el.naturalWidth > 0) : true,
    });
    el.setAttribute("data-browser-test-diagram", String(found.length - 1));
  }
  return found;
}"""

# Math: every <math> element, its box, and whether its fractions really stack (numerator above
# denominator): MathML laid out as a formula, not a run of letters.
MATH_JS = """() => {
  const article = document.querySelector("article.md-content__inner") || document.body;
  return [...article.querySelectorAll("math")].map((m, index) => {
    m.setAttribute("data-browser-test-math", String(index));
    const box = m.getBoundingClientRect();
    const fractions = [...m.querySelectorAll("mfrac")].map(f => {
      const [num, den] = [...f.children].map(c => c.getBoundingClientRect());
      return num && den ? num.bottom <= den.top + 1 : false;
    });
    return {index, width: box.width, height: box.height, text: m.textContent.replace(/\\s+/g, " ").trim(),
            display: m.getAttribute("display") || "inline", hasFraction: fractions.length > 0,
            fractionsStack: fractions.every(Boolean),
            hasSum: /[\u2211]/.test(m.textContent), hasExp: !!m.querySelector("msup") || /exp/.test(m.textContent),
            inClosedDetails: !!m.closest("details:not([open])")};
  });
}"""

# Visible prose: text a reader sees, minus code and rendered math (where TeX-looking text is legitimate).
PROSE_JS = """() => {
  const article = document.querySelector("article.md-content__inner") || document.body;
  const skip = "pre, code, math, script, style, svg, .mermaid, .arithmatex mjx-container, textarea";
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  const parts = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement && !n.parentElement.closest(skip)) parts.push(n.nodeValue);
  }
  return parts.join("");
}"""

# Glossary: terms already wrapped in <abbr title>, and occurrences of terms that were not.
GLOSSARY_JS = """(terms) => {
  const article = document.querySelector("article.md-content__inner") || document.body;
  const abbrs = [...article.querySelectorAll("abbr")].map(a => ({
    term: a.textContent, title: a.getAttribute("title"),
    tooltip: a.getAttribute("aria-describedby") || "",
  }));
  const escape = s => s.replace(/[.*+?^${}()|[\\]\\\\]/g, "\\\\$&");
  const sorted = Object.keys(terms).sort((a, b) => b.length - a.length);
  const unmarked = [];
  if (sorted.length) {
    // Whole words, case-sensitively, outside code; the words of a term may be split by any whitespace,
    // a source line break included (hooks/glossary_terms.py marks those too). hooks/accessibility.py takes
    // back the terms inside a file path or name (a slash or underscore beside them, or a dot and an extension).
    const spaced = term => term.split(/\\s+/).map(escape).join("\\\\s+");
    const pattern = new RegExp("(?<![\\\\p{L}\\\\p{N}_/\\\\\\\\])(" + sorted.map(spaced).join("|") +
                               ")(?![\\\\p{L}\\\\p{N}_/\\\\\\\\]|\\\\.[\\\\p{L}\\\\p{N}_])", "gu");
    const skip = "pre, code, abbr, math, script, style, svg, .mermaid, .headerlink, a[href^='#']:empty, textarea";
    const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (!n.parentElement || n.parentElement.closest(skip)) continue;
      for (const m of n.nodeValue.matchAll(pattern)) {
        unmarked.push({term: m[1].split(/\\s+/).join(" "),
                       context: n.nodeValue.slice(Math.max(0, m.index - 30), m.index + m[1].length + 30).trim()});
      }
    }
  }
  return {abbrs, unmarked};
}"""

# Pixels of a PNG (an element screenshot), measured in the browser's own decoder: the dominant colour is
# the background; "ink" pixels are those with a WCAG contrast ratio of at least 3 against it.
INK_JS = """async (b64) => {
  const img = new Image();
  img.src = "data:image/png;base64," + b64;
  await img.decode();
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const ctx = canvas.getContext("2d", {willReadFrequently: true});
  ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  const counts = new Map();
  for (let i = 0; i < data.length; i += 4) {
    const key = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    counts.set(key, (counts.get(key) || 0) + 1);
  }
  let bg = 0, best = -1;
  for (const [key, n] of counts) if (n > best) { best = n; bg = key; }
  const lin = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  const lum = (r, g, b) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  const bgL = lum(bg >> 16, (bg >> 8) & 255, bg & 255);
  let ink = 0, maxRatio = 1;
  for (const [key, n] of counts) {
    const L = lum(key >> 16, (key >> 8) & 255, key & 255);
    const ratio = (Math.max(L, bgL) + 0.05) / (Math.min(L, bgL) + 0.05);
    if (ratio >= 3) ink += n;
    if (ratio > maxRatio) maxRatio = ratio;
  }
  const total = data.length / 4;
  return {total, ink, inkFraction: ink / total, maxRatio,
          background: "#" + bg.toString(16).padStart(6, "0")};
}"""


def ink(analysis_page, png: bytes) -> dict:
    """Measure a PNG's visible ink against its dominant (background) colour, in a blank page of its own."""
    return analysis_page.evaluate(INK_JS, base64.b64encode(png).decode())


def visible_enough(measure: dict) -> bool:
    """A diagram or formula counts as visible when some of its pixels stand out clearly from the background.

    20 pixels, or a tenth of a small element's: a one-letter inline formula (`z`, about 8 x 12 px) inks fewer.
    """
    return measure["ink"] >= min(20, 0.1 * measure["total"]) and measure["inkFraction"] >= 0.002


# Raw TeX a reader should never see: display delimiters and backslash commands.
RAW_TEX = re.compile(r"\$\$|\\\(|\\\)|\\\[|\\\]|\\(?:frac|sum|exp|log|mathrm|text|cdot|left|right|begin|end|"
                     r"operatorname|sqrt|alpha|beta|sigma|theta|top|times|in|mathbf|hat)\b|\$[^$\s][^$\n]*\\[A-Za-z]+[^$\n]*\$")


def source_has_math(page_md: Path) -> bool:
    """True when a Markdown page writes math (a `math` fence, `#!math` inline code or raw <math>)."""
    from harness.page import parse_page

    page = parse_page(page_md)
    return any(fence.language == "math" for fence in page.fences) or "`#!math" in page.text or "<math" in page.text


# ---------------------------------------------------------------------------------------------------
# Palette: Material's light/dark toggle, clicked like a reader clicks it.


def current_scheme(page) -> str:
    """`data-md-color-scheme` of <body>: "default" (light) or "slate" (dark)."""
    return page.evaluate("() => document.body.getAttribute('data-md-color-scheme') || ''")


def switch_scheme(page, scheme: str) -> None:
    """Click the visible palette toggle until <body> shows `scheme` ("default" or "slate")."""
    toggles = page.locator("form[data-md-component=palette] label:not([hidden])")
    for _ in range(4):
        if current_scheme(page) == scheme:
            return
        before = current_scheme(page)
        toggles.first.click()
        page.wait_for_function("(s) => document.body.getAttribute('data-md-color-scheme') !== s", arg=before,
                               timeout=3000)
    if current_scheme(page) != scheme:
        raise AssertionError(f"palette toggle never reached scheme {scheme!r} (now {current_scheme(page)!r})")


# ---------------------------------------------------------------------------------------------------
# One page, both themes: the checks of `test_page`, shared with the self-tests that prove they can fail.


def _describe(item: dict) -> str:
    """Short name of a diagram for a problem line: tag, class, source or label."""
    name = item["tag"] + (f".{item['cls'].split()[0]}" if item["cls"].strip() else "")
    detail = item["src"] or item["alt"]
    return f"{name} {detail!r}" if detail else name


def _open_all_details(page) -> None:
    """Open every collapsed block, as a reader would to look inside (closed ones have no size)."""
    page.evaluate("() => document.querySelectorAll('details:not([open])').forEach(d => d.open = true)")


def _check_visuals(page, analysis_page, theme: str) -> list[str]:
    """Diagrams and formulas on the page have a size and stand out from the background in `theme`."""
    problems = []
    for item in page.evaluate(DIAGRAMS_JS):
        label = f"diagram #{item['index']} ({_describe(item)})"
        if not item["complete"]:
            problems.append(f"{label} did not load")
            continue
        problems += _invisibility(page, analysis_page, item, f"[data-browser-test-diagram='{item['index']}']",
                                  label, theme)
    formulas = page.evaluate(MATH_JS)
    # Every display formula, and a few inline ones: they share one renderer and one colour, pages stay fast.
    sample = [f for f in formulas if f["display"] == "block"] + [f for f in formulas if f["display"] != "block"][:3]
    for item in sample:
        label = f"formula #{item['index']} {item['text'][:40]!r}"
        problems += _invisibility(page, analysis_page, item, f"[data-browser-test-math='{item['index']}']",
                                  label, theme)
    return problems


def _invisibility(page, analysis_page, item: dict, selector: str, label: str, theme: str) -> list[str]:
    """Why the element at `selector` cannot be seen in `theme` (no size, or too little contrast), if it cannot."""
    if item["width"] < 1 or item["height"] < 1:
        return [f"{label} has no size in {theme} ({item['width']}x{item['height']})"]
    measure = ink(analysis_page, page.locator(selector).screenshot(animations="disabled"))
    if visible_enough(measure):
        return []
    return [f"{label} not visible in {theme}: {measure['ink']} of {measure['total']} pixels reach contrast 3:1 "
            f"against {measure['background']} (best {measure['maxRatio']:.2f}:1)"]


def _check_text(page, site_page: SitePage, terms: dict[str, str], expect_softmax: bool) -> list[str]:
    """Light-theme checks of the words: no raw TeX, formulas laid out, glossary terms with their tooltips."""
    problems = []
    prose = page.evaluate(PROSE_JS)
    for match in RAW_TEX.finditer(prose):
        context = prose[max(0, match.start() - 30): match.end() + 30].replace("\n", " ")
        problems.append(f"raw TeX in visible text: {match.group(0)!r} in {context!r}")
    # Math the build left as code: an unrendered `math` fence or `#!math` inline code.
    leftovers = page.evaluate("""() => [...document.querySelectorAll("article .language-math, article code")]
        .filter(el => el.classList.contains("language-math") || el.textContent.startsWith("#!math"))
        .map(el => el.textContent.slice(0, 60))""")
    problems += [f"math left as code, not rendered: {text!r}" for text in leftovers]
    formulas = page.evaluate(MATH_JS)
    for item in formulas:
        if item["hasFraction"] and not item["fractionsStack"]:
            problems.append(f"formula #{item['index']} {item['text'][:40]!r}: fraction not laid out (numerator "
                            f"not above denominator): MathML not rendered")
    source = DOCS / site_page.source
    if not site_page.is_notebook and source.is_file() and source_has_math(source) and not formulas:
        problems.append(f"docs/{site_page.source} writes math but the page shows no <math> element")
    if expect_softmax and not any(f["hasFraction"] and f["fractionsStack"] and f["hasSum"] and f["hasExp"]
                                  for f in formulas):
        problems.append("no rendered softmax formula (a <math> with a stacked fraction, a sum and an exponential)")
    # Notebooks are rendered by nbconvert, not Python-Markdown: the glossary include never reaches them.
    if not site_page.is_notebook and terms:
        found = page.evaluate(GLOSSARY_JS, terms)
        for abbr in found["abbrs"]:
            definition = terms.get(normalize_space(abbr["term"]))  # a term may wrap inside its <abbr>
            if not abbr["title"]:
                problems.append(f"glossary term {abbr['term']!r} has no tooltip (abbr without title)")
            elif definition is not None and normalize_space(abbr["title"]) != normalize_space(definition):
                problems.append(f"glossary term {abbr['term']!r}: tooltip {abbr['title']!r} is not the "
                                f"definition in includes/abbreviations.md")
        for miss in found["unmarked"]:
            problems.append(f"glossary term {miss['term']!r} shown without tooltip: {miss['context']!r}")
    return problems


def inspect_page(page, analysis_page, site_page: SitePage, terms: dict[str, str], shots_dir: Path | None,
                 expect_softmax: bool = False) -> list[str]:
    """Every in-page check of one page, light then dark, with a full-page screenshot in each theme."""
    problems = []
    if not page.evaluate(WAIT_RENDERED_JS):
        problems.append("a Mermaid diagram never rendered (pre.mermaid still on the page)")
    for theme in SCHEMES:
        switch_scheme(page, PALETTE[theme])
        page.evaluate(WAIT_RENDERED_JS)
        if shots_dir is not None:
            # Element screenshots scroll; a full-page shot from the middle leaves the sticky header there.
            page.evaluate("() => window.scrollTo(0, 0)")
            shot = shots_dir / f"{site_page.html.removesuffix('.html')}.{theme}.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=True, animations="disabled")
        if theme == "light":
            _open_all_details(page)
            problems += _check_text(page, site_page, terms, expect_softmax)
        problems += _check_visuals(page, analysis_page, theme)
    return problems


# Pages that break the rules on purpose, for the self-tests: (where to insert, what).
TAMPERINGS = {
    "external": ("</head>", '<script src="https://cdn.example.org/x.js"></script>'),
    "errors": ("</head>", '<link rel="stylesheet" href="selftest-missing.css">'
                          '<script>console.error("selftest console error");'
                          'setTimeout(() => { throw new Error("selftest uncaught"); });</script>'),
    "content": ("</article>",
                '<svg class="selftest-black" width="320" height="120" viewBox="0 0 320 120">'
                '<rect x="10" y="10" width="300" height="100" fill="none" stroke="#000" stroke-width="3"/>'
                '<text x="40" y="70" fill="#000" font-size="28">Encoder</text></svg>'
                '<svg class="selftest-visible" width="320" height="120" viewBox="0 0 320 120">'
                '<rect x="10" y="10" width="300" height="100" fill="none" stroke="currentColor" stroke-width="3"/>'
                '<text x="40" y="70" fill="currentColor" font-size="28">Decoder</text></svg>'
                r'<p>$$\frac{e^{z_i}}{\sum_j e^{z_j}}$$</p>'),
}


def tamper(html: str, name: str) -> str:
    """`html` with the named rule-breaking insertion (before the first marker)."""
    marker, injection = TAMPERINGS[name]
    if marker not in html:
        raise ValueError(f"cannot tamper {name!r}: no {marker} in the page")
    return html.replace(marker, injection + marker, 1)


# ---------------------------------------------------------------------------------------------------
# Notebooks: what the rendered page must show, what the download must contain.


def normalize_space(text: str) -> str:
    """Runs of whitespace as one space, trimmed: rendered text wraps and indents freely."""
    return " ".join(text.split())


def notebook_output_texts(notebook) -> list[str]:
    """The text of each stored output (streams, text/plain results, error tracebacks' last line)."""
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                texts.append(output.get("text", ""))
            elif "data" in output and "text/plain" in output["data"]:
                texts.append(output["data"]["text/plain"])
    return [t for t in texts if t.strip()]


def notebook_of(site_page: SitePage) -> str | None:
    """Docs-relative path of the notebook generated from a Markdown page, if there is one."""
    candidate = "notebooks/" + site_page.source.removesuffix(".md") + ".ipynb"
    return candidate if not site_page.is_notebook and (DOCS / candidate).is_file() else None


def check_notebook_outputs(page, site_page: SitePage) -> list[str]:
    """The rendered notebook page shows the text of every output stored in the .ipynb."""
    import nbformat

    stored = nbformat.read(DOCS / site_page.source, as_version=4)
    visible = normalize_space(page.locator("article").inner_text())
    return [f"stored output not shown on the notebook page: {text[:80]!r}" for text in notebook_output_texts(stored)
            if normalize_space(text) not in visible]


def check_notebook_download(page, site_page: SitePage, folder: Path) -> list[str]:
    """The page's download link gives a valid .ipynb whose code cells are the Markdown page's Python blocks.

    A Markdown page links to its notebook; a notebook page has its own download button."""
    import nbformat

    if site_page.is_notebook:
        target = site_page.source
        markdown_page = DOCS / (target.removeprefix("notebooks/").removesuffix(".ipynb") + ".md")
        link = page.locator("a.notebook-download[download]")
    else:
        target, markdown_page = notebook_of(site_page), DOCS / site_page.source
        link = page.locator(f"article a[href$='{target}']")
    if link.count() == 0:
        return [f"no download link to {target} on the page"]
    downloads = []
    page.on("download", lambda download: downloads.append(download))
    link.first.click()
    # Served, the `download` attribute saves the file; from disk Chromium ignores it (file: URLs are
    # cross-origin to each other) and shows the notebook's JSON instead: either way the reader gets the file.
    for _ in range(80):
        if downloads or page.url.endswith(".ipynb"):
            break
        page.wait_for_timeout(100)
    if downloads:
        saved = folder / (downloads[0].suggested_filename or "download")
        downloads[0].save_as(saved)
        name, text = saved.name, saved.read_text(encoding="utf-8")
    elif page.url.endswith(".ipynb"):
        name = page.url.rsplit("/", 1)[-1]
        text = page.evaluate("() => (document.querySelector('pre') || document.body).textContent")
    else:
        return [f"clicking the link to {target} neither downloaded nor opened it (still on {page.url})"]
    if not name.endswith(".ipynb"):
        return [f"download of {target} is named {name!r}, not .ipynb"]
    try:
        downloaded = nbformat.reads(text, as_version=4)
        nbformat.validate(downloaded)
    except Exception as error:  # any parse or schema error is the finding itself
        return [f"download of {target} is not a valid notebook: {error}"]
    return compare_notebook_to_page(downloaded, markdown_page)


def check_copy_buttons(page, clipboard_page, site_page: SitePage) -> list[str]:
    """Each Python block's copy button puts exactly its snippet section(s) on the real clipboard: valid Python."""
    expected_blocks = python_blocks(DOCS / site_page.source)
    rendered = page.locator("article .language-python.highlight, article .language-py.highlight")
    problems = []
    if rendered.count() != len(expected_blocks):
        problems.append(f"copy: {rendered.count()} Python blocks on the page, {len(expected_blocks)} in "
                        f"docs/{site_page.source}")
    for block, expected in zip(rendered.all(), expected_blocks):
        where = f"docs/{site_page.source}:{expected.line}"
        # A set-up block is collapsed: the reader opens it before copying.
        block.evaluate("el => { for (let d = el.closest('details'); d; d = d.parentElement.closest('details')) d.open = true; }")
        clipboard_page.evaluate("() => navigator.clipboard.writeText('(nothing copied)')")
        block.hover()
        block.locator("button.md-code__button[data-md-type=copy], button.md-clipboard").first.click()
        copied = clipboard_page.evaluate("() => navigator.clipboard.readText()")
        code = expected.code()
        # Material copies the block's text with trailing whitespace trimmed.
        if copied != code.rstrip():
            problems.append(f"copy: {where}: the clipboard differs from {expected.sections or 'the fence'}:\n"
                            f"    copied:   {copied!r}\n    expected: {code.rstrip()!r}")
            continue
        try:
            compile(copied, where, "exec")
        except SyntaxError as error:
            problems.append(f"copy: {where}: copied code is not valid Python: {error}")
    return problems


def page_code(markdown_page: Path) -> list[str]:
    """The code of each Python block of a Markdown page, as the harness's parser reads it."""
    from harness.page import parse_page
    from harness.snippets import Site

    return [block.code for block in parse_page(markdown_page, Site.load(REPO)).python_blocks]


def compare_notebook_to_page(notebook, markdown_page: Path) -> list[str]:
    """Problems when the notebook's code cells are not the Markdown page's code blocks, in order."""
    relative = markdown_page.relative_to(DOCS).as_posix()
    from harness.notebooks import INSTALL_TAG

    # The install cell the generator puts first is the notebook's own, not a block of the page.
    cells = [cell.source for cell in notebook.cells
             if cell.cell_type == "code" and INSTALL_TAG not in cell.get("metadata", {}).get("tags", [])]
    blocks = page_code(markdown_page)
    problems = []
    if len(cells) != len(blocks):
        problems.append(f"{len(cells)} code cells in the download, {len(blocks)} Python blocks in docs/{relative}")
    for number, (cell, code) in enumerate(zip(cells, blocks), start=1):
        if cell.rstrip("\n") != code.rstrip("\n"):
            problems.append(f"code cell {number} differs from block {number} of docs/{relative}:\n"
                            f"    cell:  {cell[:200]!r}\n    block: {code[:200]!r}")
    return problems


def parse_source(site_page: SitePage) -> list:
    """The harness's blocks of a Markdown page (with their Output blocks), read by its one parser."""
    from harness.page import parse_page

    return parse_page(DOCS / site_page.source).blocks


# ---------------------------------------------------------------------------------------------------
# Status lines (hooks/verification.py): under every Output block, readable, inside a phone's width.

STATUS_LINES_JS = """() => {
  const parse = c => { const m = c.match(/[\\d.]+/g).map(Number); return {r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1}; };
  const lin = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  const lum = c => 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b);
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.a > 0.5) return c;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  const width = document.documentElement.clientWidth;
  return [...document.querySelectorAll("article [data-verification]")].map(el => {
    const box = el.getBoundingClientRect(), fg = parse(getComputedStyle(el).color), bg = background(el);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const link = el.querySelector("a[href*='verification.html#']");
    return {status: el.dataset.verification, text: el.innerText.trim(), width: box.width, height: box.height,
            left: box.left, right: box.right, viewport: width, overflows: el.scrollWidth > el.clientWidth + 1,
            contrast: (hi + 0.05) / (lo + 0.05), href: link ? link.getAttribute("href") : null,
            display: getComputedStyle(el).display, visibility: getComputedStyle(el).visibility};
  });
}"""


def status_line_problems(lines: list[dict], theme: str) -> list[str]:
    """Why a status line cannot be read in `theme`: hidden, empty, cut off at the viewport, too faint, unlinked."""
    problems = []
    for number, line in enumerate(lines, start=1):
        label = f"status line {number} ({line['status']}) in {theme}"
        if line["display"] == "none" or line["visibility"] != "visible" or line["height"] < 1 or not line["text"]:
            problems.append(f"{label} is not shown")
        if line["left"] < -1 or line["right"] > line["viewport"] + 1 or line["overflows"]:
            problems.append(f"{label} does not fit the {line['viewport']} px wide page "
                            f"({line['left']:.0f} to {line['right']:.0f} px)")
        if line["contrast"] < 4.5:
            problems.append(f"{label} has contrast {line['contrast']:.2f}:1 (below 4.5:1): {line['text'][:60]!r}")
        if not line["href"]:
            problems.append(f"{label} has no link to the status page")
    return problems
