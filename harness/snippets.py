"""The site's snippet includes (`--8<--`): expanded by pymdownx.snippets itself, with a map back to page lines."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import markdown
import yaml
from pymdownx.snippets import SnippetMissingError

from harness.page import PageError, display_path

# Settings of a repo without mkdocs.yml (a pytester temp dir): the same as the project's own.
DEFAULT_SNIPPETS: dict[str, Any] = {"base_path": ["."], "check_paths": True}

# (index into the page lines, True when the expanded line is that page line unchanged)
Origin = tuple[int, bool]
# (snippet file relative to the repo root, 1-based line in it) of an included line
Source = tuple[str, int]


class _ConfigLoader(yaml.SafeLoader):
    """Reads mkdocs.yml without importing anything: `!!python/name:` and `!ENV` tags load as plain values."""


def _tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node) or suffix
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


_ConfigLoader.add_multi_constructor("tag:yaml.org,2002:python/", _tagged)
_ConfigLoader.add_multi_constructor("!", _tagged)


def read_config(config_file: Path) -> dict[str, Any]:
    """mkdocs.yml as a dict (Python tags are not resolved)."""
    data = yaml.load(config_file.read_text(encoding="utf-8"), Loader=_ConfigLoader)
    return data if isinstance(data, dict) else {}


def _snippets_config(config: dict[str, Any]) -> dict[str, Any] | None:
    """The `pymdownx.snippets` entry of `markdown_extensions` (list of names or one-key dicts, or a dict)."""
    extensions = config.get("markdown_extensions") or []
    if isinstance(extensions, dict):
        extensions = [{name: value} for name, value in extensions.items()]
    for entry in extensions:
        if entry == "pymdownx.snippets":
            return {}
        if isinstance(entry, dict) and "pymdownx.snippets" in entry:
            return dict(entry["pymdownx.snippets"] or {})
    return None


@dataclass
class Site:
    """The MkDocs site a page belongs to: repo root, docs dir and the snippet settings of mkdocs.yml."""

    repo_root: Path
    docs_dir: Path
    snippets: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_SNIPPETS))
    config_file: Path | None = None
    _md: markdown.Markdown | None = field(default=None, repr=False, compare=False)
    _reads: list[tuple[str, list[str]]] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def load(cls, repo_root: Path) -> Site:
        """Read `repo_root/mkdocs.yml` (or mkdocs.yml itself); without one, the project's defaults."""
        root = Path(repo_root).resolve()
        config_file = root if root.is_file() else root / "mkdocs.yml"
        root = config_file.parent
        if not config_file.is_file():
            return cls(root, root / "docs")
        config = read_config(config_file)
        snippets = _snippets_config(config)
        return cls(root, root / str(config.get("docs_dir") or "docs"),
                   dict(DEFAULT_SNIPPETS) if snippets is None else snippets, config_file)

    @classmethod
    def find(cls, start: Path) -> Site:
        """The site whose mkdocs.yml is in `start` or above it; the defaults rooted at the cwd if there is none."""
        start = Path(start).resolve()
        for folder in [start, *start.parents]:
            if (folder / "mkdocs.yml").is_file():
                return cls.load(folder)
        return cls.load(Path.cwd())

    def base_paths(self) -> list[Path]:
        """The snippets' base folders as absolute paths, resolved the way the site's build resolves them.

        `!relative $config_dir[/sub]` (MkDocs 1.5+) is mkdocs.yml's folder, `!relative $docs_dir[/sub]` the
        docs folder; a plain relative path is taken from the repo root too (never from our cwd), so the
        harness and a build started from another folder read the same files."""
        base = self.snippets.get("base_path", ["."])
        paths = []
        for entry in [base] if isinstance(base, str) else base:
            prefix, _, rest = str(entry).partition("/")
            root = {"$config_dir": self.repo_root, "$docs_dir": self.docs_dir}.get(prefix)
            paths.append((root / rest if rest else root) if root is not None else self.repo_root / str(entry))
        return paths

    def _preprocessor(self):
        # One Markdown instance per site: building it per page would dominate parsing time.
        if self._md is None:
            config = dict(self.snippets)
            config["base_path"] = [str(path) for path in self.base_paths()]
            self._md = markdown.Markdown(extensions=["pymdownx.snippets"],
                                         extension_configs={"pymdownx.snippets": config})
            pre = self._md.preprocessors["snippet"]
            read_lines = pre.read_lines

            def recording(path):  # which file an include read: its lines' own lines are found there
                lines = read_lines(path)
                self._reads.append((path, lines))
                return lines

            pre.read_lines = recording
        pre = self._md.preprocessors["snippet"]
        pre.seen, pre.bases, pre.failed = set(), None, set()  # what SnippetPreprocessor.run resets per page
        return pre

    def expand(self, lines: list[str], page: Path | str, first_line: int = 1,
               sources: list[Source | None] | None = None) -> tuple[list[str], list[Origin]]:
        """Expand includes in `lines` (the page body) as the site does; returns lines and their origins.

        `first_line` is the page line number of `lines[0]`, used in errors naming a missing include. A list
        given as `sources` receives, for each expanded line, the snippet file and line it came from (None for
        page lines, and for lines of nested includes and URLs, whose file is not told).
        """
        sources = [] if sources is None else sources
        pre = self._preprocessor()
        appended = []
        if pre.auto_append:  # the same lines SnippetPreprocessor.run appends
            appended = "\n\n-8<-\n{}\n-8<-\n".format("\n\n".join(pre.auto_append)).split("\n")
        source = list(lines) + appended
        out: list[str] = []
        origins: list[Origin] = []
        i = 0
        while i < len(source):
            # Expanding notation line by line (a `-8<-` block region as a whole) gives the same lines as
            # SnippetPreprocessor.run on the page, and tells exactly which page line each came from.
            match = pre.RE_ALL_SNIPPETS.match(source[i]) if "8<" in source[i] else None
            if match and not match.group("escape") and not match.group("inline_marker"):
                end = next((j for j in range(i + 1, len(source)) if self._block_marker(pre, source[j])), len(source))
                for j in range(i + 1, end):
                    chunk = [source[i], source[j], source[i]]
                    self._emit(pre, chunk, j, len(lines), out, origins, page, first_line, sources)
                i = end + 1
                continue
            if "8<" in source[i]:
                self._emit(pre, [source[i]], i, len(lines), out, origins, page, first_line, sources)
            else:
                out.append(source[i])
                sources.append(None)
                origins.append((i, True) if i < len(lines) else (max(len(lines) - 1, 0), False))
            i += 1
        # Python-Markdown's NormalizeWhitespace would now expand tabs and empty whitespace-only lines; the
        # harness does not: the code that runs is the code on the page byte for byte (a tab/space mix must
        # raise TabError, as running the page's code does).
        return out, origins

    @staticmethod
    def _block_marker(pre, line: str) -> bool:
        match = pre.RE_ALL_SNIPPETS.match(line) if "8<" in line else None
        return bool(match and not match.group("escape") and not match.group("inline_marker"))

    def _emit(self, pre, chunk, index, n_page, out, origins, page, first_line, sources) -> None:
        line = min(index, n_page - 1) if n_page else 0  # auto-appended lines belong to the page's last line
        self._reads.clear()
        try:
            expanded = pre.parse_snippets(chunk)
        except SnippetMissingError as error:
            where = chunk[1] if len(chunk) == 3 else chunk[0]
            detail = "" if index < n_page else " (auto_append in mkdocs.yml)"
            raise PageError(page, first_line + line, f"{error}: {where.strip()}{detail}") from None
        # An escaped `;--8<--` line is the page's own text, shown one `;` shorter: page source all the same.
        escaped = len(chunk) == len(expanded) == 1 and _escaped(pre, chunk[0])
        verbatim = index < n_page and (expanded == chunk or escaped)
        out.extend(expanded)
        origins.extend((line, verbatim) for _ in expanded)
        if len(self._reads) == 1 and not verbatim:
            path, file_lines = self._reads[0]
            sources.extend(_find_lines(expanded, display_path(path, self.repo_root), file_lines))
        else:
            sources.extend(None for _ in expanded)


def _find_lines(expanded: list[str], name: str, file_lines: list[str]) -> list[Source | None]:
    """(name, line) for each of `expanded`, found in order among `file_lines` (which pymdownx read for them).

    pymdownx keeps the order of a file's lines and only drops section markers, takes line ranges and indents or
    dedents: a line is the next file line with the same text once stripped. A line not found gets None.
    """
    found: list[Source | None] = []
    at = 0
    for text in expanded:
        key = text.strip()
        if not key:  # a blank line is the file's next line only if that one is blank too
            hit = at if at < len(file_lines) and not file_lines[at].strip() else None
        else:
            hit = next((k for k in range(at, len(file_lines)) if file_lines[k].strip() == key), None)
        found.append((name, hit + 1) if hit is not None else None)
        at = hit + 1 if hit is not None else at
    return found


def _escaped(pre, line: str) -> bool:
    """True for a line of escaped snippet notation (`;--8<-- "x"`, `# ;--8<-- [start:x]`): text, not an include."""
    match = pre.RE_ALL_SNIPPETS.match(line) or pre.match_section(line)
    return bool(match and match.group("escape"))
