"""The site: `mkdocs build` time, and the bytes a browser loads for one page against default Material."""
from __future__ import annotations

import re
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

from benchmarks.measure import run
from benchmarks.workspace import REPO, base_env

DEFAULT_PAGE = "using-transformers/tokenizer.md"
FONT = re.compile(r"\.(woff2?|ttf|otf|eot)$")
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""")


class _Loads(HTMLParser):
    """Collects what the page's HTML makes the browser fetch: stylesheets and scripts."""

    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and "stylesheet" in (attrs.get("rel") or "").split() and attrs.get("href"):
            self.urls.append(("css", attrs["href"]))
        elif tag == "script" and attrs.get("src"):
            self.urls.append(("js", attrs["src"]))


def page_load(html_file: Path, site_dir: Path) -> dict:
    """Bytes of the page's HTML, CSS, JS and fonts (from its CSS), and the external URLs it requests."""
    loaded: dict[str, int] = {"html": html_file.stat().st_size, "css": 0, "js": 0, "fonts": 0}
    external: list[str] = []
    seen: set[Path] = set()
    parser = _Loads()
    parser.feed(html_file.read_text(encoding="utf-8"))
    pending = [(kind, url, html_file) for kind, url in parser.urls]
    while pending:
        kind, url, referrer = pending.pop()
        if url.startswith("data:"):
            continue
        if urlsplit(url).scheme in ("http", "https") or url.startswith("//"):
            external.append(url)
            continue
        path = (referrer.parent / urlsplit(url).path).resolve()
        if path in seen or not path.is_file() or site_dir.resolve() not in path.parents:
            continue
        seen.add(path)
        loaded[kind] += path.stat().st_size
        if kind == "css":
            # A stylesheet pulls fonts and further stylesheets; images are left out (not loaded up front).
            for match in CSS_URL.finditer(path.read_text(encoding="utf-8", errors="replace")):
                target = match.group(1) or match.group(2)
                if match.group(2):
                    pending.append(("css", target, path))
                elif FONT.search(urlsplit(target).path):
                    pending.append(("fonts", target, path))
    loaded["total"] = sum(loaded.values())
    return {"bytes": loaded, "external": sorted(set(external))}


def _built_page(site_dir: Path, page: str) -> Path:
    """The HTML file MkDocs writes for `page` (use_directory_urls: x/y.md → x/y/index.html)."""
    stem = page[:-3]
    candidates = [site_dir / stem / "index.html", site_dir / (stem + ".html")]
    if stem.endswith("index"):
        candidates.insert(0, site_dir / stem[: -len("index")] / "index.html")
    return next(path for path in candidates if path.is_file())


def build(config: Path, site_dir: Path, strict: bool = True):
    """Run `mkdocs build` for real and time it."""
    command = [sys.executable, "-m", "mkdocs", "build", "-q", "--config-file", str(config), "--site-dir", str(site_dir)]
    return run(command + (["--strict"] if strict else []), config.parent, base_env(), sample_memory=False)


def measure_site(repo: Path = REPO, page: str = DEFAULT_PAGE, log=print) -> dict:
    """Build time of the real site; one page's load against the same Markdown on a default Material site."""
    with tempfile.TemporaryDirectory(prefix="harness-bench-site-") as tmp:
        tmp = Path(tmp)
        log("  site: mkdocs build --strict ...")
        ours = build(repo / "mkdocs.yml", tmp / "site")
        if not ours.ok:
            return {"error": f"mkdocs build failed:\n{ours.output[-2000:]}"}
        default = tmp / "default"
        (default / "docs" / Path(page).parent).mkdir(parents=True)
        (default / "docs" / page).write_text((repo / "docs" / page).read_text(encoding="utf-8"), encoding="utf-8")
        (default / "mkdocs.yml").write_text("site_name: Default Material\ntheme:\n  name: material\n")
        # Not strict: the lone page's links to the rest of the course cannot resolve there.
        theirs = build(default / "mkdocs.yml", default / "site", strict=False)
        if not theirs.ok:
            return {"error": f"default Material build failed:\n{theirs.output[-2000:]}"}
        return {
            "page": page,
            "build_seconds": ours.seconds,
            "ours": page_load(_built_page(tmp / "site", page), tmp / "site"),
            "default_material": page_load(_built_page(default / "site", page), default / "site"),
        }
