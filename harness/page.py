"""The project's one Markdown parser: a page's Python blocks, their Output blocks and markers, in page lines.

Also used by the notebook generator and a MkDocs hook, so it imports no torch, transformers or pytest.
"""
from __future__ import annotations

import doctest
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from harness.markers import MarkerError, parse_marker, parse_tolerance

if TYPE_CHECKING:
    from harness.snippets import Site

PYTHON = frozenset({"python", "py", "python3", "py3"})
SHELLS = frozenset({"sh", "bash", "zsh"})  # run by that shell (harness/shell.py)
# Interactive sessions (`>>>` prompts), run doctest-style; a Python block whose first line is a prompt is one too.
SESSIONS = frozenset({"pycon", "python-repl", "doctest"})
RUNNABLE = PYTHON | SHELLS | SESSIONS
NAMESPACES = ("page", "block")  # front matter `namespace:`; see plugin.namespace_of
PROMPT_RE = re.compile(r">>>(?: |$)")
DOCTEST_LINE_RE = re.compile(r"line (\d+) of the docstring")
# A fence titled Output is the output of the code block above it, whatever its language (`json`, `yaml`,
# `console`, `python` or none): the title is what the reader reads, so it is always compared, never skipped.
# Read as a reader reads it: case, spaces and a closing colon aside ("Output:", "Expected output").
OUTPUT_TITLES = frozenset({"output", "expected output"})
FENCE_RE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
OPTION_RE = re.compile(r"""(?P<key>[.#]?[A-Za-z][\w-]*)(?:=(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s}]+)))?""")
FRONT_MATTER_END = re.compile(r"(?:-{3}|\.{3})[ \t]*")
# An admonition's first line (`!!! note "Title"`, collapsible `??? tip`, `???+ tip`), as Python-Markdown and
# pymdownx.details read it once tabs are spaces: an optional space, one or more class words (`note inline end`),
# then the title; without a quoted title Material shows the first class word, capitalized. A collapsible box may
# have a title and no class (`??? "Title"`); an admonition may not.
ADMONITION_RE = re.compile(r'^(?P<indent> *)(?P<mark>!!!|\?\?\?\+?) ?'
                           r'(?:(?P<type>[\w-]+(?: +[\w-]+)*)(?: +"(?P<title>.*?)")?|"(?P<bare_title>.*?)") *$')
# A content tab's first line (`=== "Output"`, pymdownx.tabbed): a fence inside a tab titled Output is shown as
# output, so it is compared like a fence titled Output.
TAB_RE = re.compile(r'^(?P<indent>[ \t]*)===!?\+?[ \t]+"(?P<title>[^"]*)"[ \t]*$')


def admonition_title(line: str) -> str | None:
    """The title Material shows for an admonition or collapsible box opened by `line` (ADMONITION_RE): its quoted
    title, else its first class word capitalized (as Python-Markdown makes it); None if the line opens none."""
    match = ADMONITION_RE.match(line.expandtabs(4))
    if match is None or (match["type"] is None and match["mark"] == "!!!"):
        return None
    if match["type"] is None:
        return match["bare_title"]
    return match["title"] if match["title"] is not None else match["type"].split(" ", 1)[0].capitalize()


def _width(line: str) -> int:
    """Columns of a line's indentation, a tab counting to the next multiple of 4 (as Python-Markdown reads it)."""
    spaces = line.expandtabs(4)
    return len(spaces) - len(spaces.lstrip(" "))


def is_output_title(title: str | None) -> bool:
    """True for a fence, content-tab or admonition title a reader reads as the output of the code above it:
    "Output", "Output:", "expected output" (see OUTPUT_TITLES)."""
    return title is not None and " ".join(title.split()).rstrip(":").strip().lower() in OUTPUT_TITLES


class PageError(Exception):
    """A page the harness cannot read as intended; str() reads "docs/x.md:12: message"."""

    def __init__(self, path: Path | str, line: int, message: str):
        super().__init__(path, line, message)
        self.path, self.line, self.message = path, line, message

    def __str__(self) -> str:
        return f"{display_path(self.path)}:{self.line}: {self.message}"


def display_path(path: Path | str, root: Path | None = None) -> str:
    """`path` relative to `root` (or the cwd) when it lies under it, else as given; always with `/`."""
    path = Path(path)
    if path.is_absolute():
        for base in ([root] if root else []) + [Path.cwd()]:
            try:
                return path.relative_to(base).as_posix()
            except ValueError:
                try:
                    return path.resolve().relative_to(base.resolve()).as_posix()
                except (ValueError, OSError):
                    continue
    return path.as_posix()


@dataclass
class Output:
    """The documented output under a Python block; `content_start:content_end` = its content's page line indices."""

    line: int  # 1-based page line of the opening fence
    end_line: int  # 1-based page line of the closing fence
    indent: str
    text: str  # dedented content, each line ending with "\n"
    content_start: int  # 0-based index of the first content line in Page.lines
    content_end: int  # 0-based index after the last content line (= the closing fence's index)
    rewritable: bool = True  # False when any of it comes from an include: only page source can be rewritten
    fence: str = "```"
    language: str = "text"
    ignore_whitespace: bool = False  # pytest-codeblocks:expected-output-ignore-whitespace: compare without any


@dataclass
class Example:
    """One statement of a `>>>` session (doctest.Example): its source, its page lines, the output shown under it."""

    source: str  # without prompts, ends with "\n"
    lines: list[int]  # page line of each source line
    want: Output  # the lines under the prompts (`<BLANKLINE>` read as an empty line); line = the `>>>` line
    expects_exception: bool = False  # the output documents a traceback (doctest's rule): raising is its output
    skip: bool = False  # `# doctest: +SKIP`: not run, not compared


@dataclass
class Block:
    """One code block that can run (Python or shell), as the reader copies it, with the page lines it came from."""

    page: Path
    line: int  # 1-based page line of the opening fence (or of the include that brought it)
    end_line: int
    language: str
    info: str
    title: str | None
    indent: str
    code: str  # dedented, includes expanded, ends with "\n" (empty block: "")
    code_lines: list[int]  # page line of each code line; lines from an include map to the include line
    skip_reason: str | None = None
    tolerance: dict[str, float] | None = None  # the block's marker, else the page's front matter default
    output: Output | None = None
    importorskip: str | None = None
    expect_exception: bool = False  # expected to raise (pytest.mark.xfail, expect-exception, expect-error)
    page_name: str = ""  # page path as shown in ids and errors
    index: int = 0  # position among the page's runnable blocks
    admonitions: tuple[str, ...] = ()  # titles of the admonitions the block sits in, outermost first
    xfail: dict[str, Any] | None = None  # {"reason", "raises" (source text or None), "strict" (None: pytest's ini)}
    marks: list[str] = field(default_factory=list)  # pytest mark expressions above it, as pytest-codeblocks has them
    continues: bool = False  # pytest-codeblocks:cont: continues the previous block (one chain, one namespace)
    # For each code line from an included snippet: (snippet file relative to the repo, its line); else None.
    code_sources: list[tuple[str, int] | None] = field(default_factory=list)
    session: list[Example] | None = None  # a `>>>` session: its statements (`code` is their sources, joined)
    fence: str = "```"  # the opening fence: pytest-codeblocks collects backtick fences only

    @property
    def id(self) -> str:
        """"docs/x.md:12": page and opening line, as in test ids and failure messages."""
        return f"{self.page_name}:{self.line}"


@dataclass
class Fence:
    """Any fenced block of the page (Python, Output, other languages)."""

    line: int
    end_line: int
    indent: str
    language: str
    info: str
    title: str | None


@dataclass
class Page:
    """A parsed page: exact source text, its Python blocks in order, front matter."""

    path: Path
    name: str
    text: str
    lines: list[str]  # source lines without line endings
    blocks: list[Block] = field(default_factory=list)
    fences: list[Fence] = field(default_factory=list)
    front_matter: dict[str, Any] = field(default_factory=dict)
    tolerance: dict[str, float] | None = None  # front matter `tolerance: {abs, rel}`
    skipfile: str | None = None  # pytest-codeblocks:skipfile: every block is skipped, with this reason
    namespace: str | None = None  # front matter `namespace: page|block`; None: the run's default

    @property
    def python_blocks(self) -> list[Block]:
        """The Python blocks (no shell blocks): what a page's snippet file and notebook hold."""
        return [block for block in self.blocks if block.language in PYTHON]

    def lines_with_ends(self) -> list[str]:
        """Source lines with their own line endings: "".join(...) == text, for byte-exact rewrites."""
        return split_lines(self.text, keepends=True)


def split_lines(text: str, keepends: bool = False) -> list[str]:
    """Lines as MkDocs reads them (\\n, \\r\\n or \\r end a line; unlike str.splitlines, nothing else)."""
    lines = re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", text)
    return lines if keepends else [line.rstrip("\r\n") for line in lines]


def parse_info(info: str) -> tuple[str, str | None]:
    """Language and title of a fence info string: `python title="x"`, `{ .python title="x" }`, `py {title="x"}`."""
    language, title = "", None
    for match in OPTION_RE.finditer(info.replace("{", " ").replace("}", " ")):
        key = match["key"]
        value = match["dq"] if match["dq"] is not None else match["sq"] if match["sq"] is not None else match["bare"]
        if value is None and not language and not key.startswith("#"):
            language = key.lstrip(".")
        elif key == "title":
            title = value
    return language.lower(), title


def _front_matter(lines: list[str], path: Path | str) -> tuple[dict[str, Any], int]:
    """Front matter dict and the index of the first body line (MkDocs' rule: `---` ... `---` or `...`)."""
    if not lines or lines[0].rstrip(" \t") != "---":
        return {}, 0
    end = next((i for i in range(1, len(lines)) if FRONT_MATTER_END.fullmatch(lines[i])), None)
    if end is None:
        return {}, 0
    try:
        data = yaml.safe_load("\n".join(lines[1:end]) + "\n")
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise PageError(path, 2 + (mark.line if mark else 0), f"front matter is not valid YAML: {error}") from None
    return (data, end + 1) if isinstance(data, dict) else ({}, 0)


def parse_page(path: Path, site: Site | None = None, text: str | None = None) -> Page:
    """Parse the page at `path` (or `text` given for it) with the site's include settings."""
    from harness.snippets import Site  # snippets.py imports PageError from here

    path = Path(path)
    site = Site.find(path.resolve().parent) if site is None else site
    name = display_path(path if path.is_absolute() else path.resolve(), site.repo_root)
    if text is None:
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as error:
            line = path.read_bytes()[: error.start].count(b"\n") + 1
            raise PageError(name, line, f"not UTF-8: {error.reason}") from None
    lines = split_lines(text)
    parse_lines = list(lines)
    if parse_lines and parse_lines[0].startswith("\ufeff"):  # MkDocs reads pages as utf-8-sig
        parse_lines[0] = parse_lines[0][1:]
    front_matter, body = _front_matter(parse_lines, name)
    page = Page(path, name, text, lines, front_matter=front_matter)
    if "tolerance" in front_matter:
        try:
            page.tolerance = parse_tolerance(front_matter["tolerance"])
        except MarkerError as error:
            raise PageError(name, 1, f"front matter: {error}") from None
    if "namespace" in front_matter:
        if front_matter["namespace"] not in NAMESPACES:
            raise PageError(name, 1, f"front matter: namespace must be page or block, got "
                            f"{front_matter['namespace']!r}")
        page.namespace = front_matter["namespace"]
    sources: list[tuple[str, int] | None] = []
    expanded, origins = site.expand(parse_lines[body:], name, first_line=body + 1, sources=sources)
    origins = [(body + index, verbatim) for index, verbatim in origins]
    _Scanner(page, expanded, origins, sources).run()
    return page


class _Scanner:
    """One pass over the expanded lines: fences, the markers above them, Output pairing and cont chains."""

    def __init__(self, page: Page, lines: list[str], origins: list[tuple[int, bool]],
                 sources: list[tuple[str, int] | None] | None = None):
        self.page, self.lines, self.origins = page, lines, origins
        self.sources = sources or [None] * len(lines)
        self.markers: list[tuple[int, dict[str, Any]]] = []  # (page line, meaning) waiting for their fence
        self.last: Block | None = None  # the block an Output block (title="Output") may still attach to
        # The block of the latest fence, for an explicit expected-output (prose may come between, as in
        # pytest-codeblocks); None when the latest fence was one that does not run.
        self.previous: Block | None = None
        self.fences_seen = False
        self.admonitions: list[tuple[int, str]] = []  # (indent width, title) of the open admonitions
        self.tabs: list[tuple[int, str]] = []  # (indent width, title) of the open content tabs

    def enter(self, line: str) -> None:
        """Close the admonitions a non-blank line at this indentation ends; open the one it starts."""
        width = _width(line)
        while self.admonitions and width <= self.admonitions[-1][0]:
            self.admonitions.pop()
        while self.tabs and width <= self.tabs[-1][0]:
            self.tabs.pop()
        if match := TAB_RE.match(line):
            self.tabs.append((width, match["title"]))
        if (title := admonition_title(line)) is not None:
            self.admonitions.append((width, title))

    def lineno(self, index: int) -> int:
        return self.origins[index][0] + 1

    def error(self, line: int, message: str) -> PageError:
        return PageError(self.page.name, line, message)

    def run(self) -> None:
        i = 0
        while i < len(self.lines):
            line = self.lines[i]
            if line.strip():
                self.enter(line)
            match = FENCE_RE.match(line)
            # A backtick in a backtick fence's info string makes it inline code, not a fence (CommonMark).
            if match and not (match["fence"][0] == "`" and "`" in match["info"]):
                i = self.fence(i, match) + 1
                continue
            if line.strip():
                try:
                    marker = parse_marker(line)
                except MarkerError as error:
                    raise self.error(self.lineno(i), str(error)) from None
                if marker is not None and "skipfile" in marker:  # about the page, not the next block
                    self.page.skipfile = marker["skipfile"]
                elif marker is not None:
                    self.markers.append((self.lineno(i), marker))
                elif not self.output_container(line):
                    self.require_no_markers()
                    self.last = None
            i += 1
        self.require_no_markers()
        if self.page.skipfile:
            for block in self.page.blocks:
                block.skip_reason = block.skip_reason or self.page.skipfile

    @staticmethod
    def output_container(line: str) -> bool:
        """True for the first line of a content tab or an admonition titled Output: the block before it is what
        it shows."""
        if match := TAB_RE.match(line):
            return is_output_title(match["title"])
        return is_output_title(admonition_title(line))

    def in_output_container(self, indent: str) -> bool:
        """True when a fence at `indent` sits directly in a content tab or an admonition titled Output (the
        innermost one open)."""
        containers = self.tabs + self.admonitions
        if not containers:
            return False
        width, title = max(containers, key=lambda container: container[0])
        return is_output_title(title) and _width(indent) > width

    def require_no_markers(self) -> None:
        if self.markers:
            raise self.error(self.markers[0][0], "marker is not directly above a code block (only blank lines "
                             "and other markers may separate them)")

    def fence(self, start: int, match: re.Match[str]) -> int:
        """Read the fence opened at `start`; returns the index of its closing line."""
        indent, fence, info = match["indent"], match["fence"], match["info"].strip()
        language, title = parse_info(info)
        content: list[str] = []
        for end in range(start + 1, len(self.lines)):
            line = self.lines[end]
            if line.strip() and not line.startswith(indent):
                raise self.error(self.lineno(end), f"line is indented less than the {fence}{language} fence "
                                 f"opened at line {self.lineno(start)}")
            rest = line[len(indent):]
            # Like pymdownx.superfences: the closing fence is the opening one, at the same indentation.
            if rest.rstrip(" \t") == fence:
                break
            content.append(rest)
        else:
            raise self.error(self.lineno(start), f"unterminated {fence}{language} fence opened here")
        line, end_line = self.lineno(start), self.lineno(end)
        self.page.fences.append(Fence(line, end_line, indent, language, info, title))
        markers, self.markers = self.markers, []
        meaning: dict[str, Any] = {"marks": []}
        for _, marker in markers:
            for key, value in marker.items():
                meaning[key] = meaning[key] + value if key == "marks" else value
        text = "".join(f"{c}\n" for c in content)
        seen, self.fences_seen = self.fences_seen, True
        # Its title, or the box it sits in, tells the reader it is an output: it is compared or refused.
        shown_as_output = is_output_title(title) or (title is None and self.in_output_container(indent))
        if meaning.get("expected_output"):
            if not seen:
                raise self.error(markers[0][0], "pytest-codeblocks:expected-output but no code block before it")
            if self.previous is not None:  # after a fence that does not run, it is that fence's: never compared
                self.output(start, end, indent, fence, language, text, markers, self.previous, meaning)
            elif shown_as_output:
                raise self.error(line, "Output block is not directly under a Python block (the fence above it "
                                 "does not run)")
            self.previous = self.last = None
        elif shown_as_output:
            if self.last is None or (self.last.indent != indent and not self.in_output_container(indent)):
                raise self.error(line, "Output block is not directly under a Python block (only blank lines "
                                 "may separate them, at the same indentation)")
            self.output(start, end, indent, fence, language, text, markers, self.last, meaning)
            self.previous = self.last = None
        elif meaning.get("cont") or language in RUNNABLE:
            continues = bool(meaning.get("cont"))
            if continues:
                before = self.page.blocks[-1] if self.page.blocks else None
                if before is None:
                    raise self.error(markers[0][0], "pytest-codeblocks:cont but no code block before it to continue")
                language = language if language in RUNNABLE else before.language  # a bare fence: the same language
                # A chain is one test to pytest-codeblocks: a skip above its first block skips all of it (the rest
                # could only fail on names the skipped block never defined).
                for key in ("skip_reason", "importorskip"):
                    if not meaning.get(key) and getattr(before, key):
                        meaning[key] = getattr(before, key)
            self.last = self.previous = Block(
                self.page.path, line, end_line, language, info, title, indent, text,
                [self.lineno(k) for k in range(start + 1, end)], meaning.get("skip_reason"),
                meaning.get("tolerance", self.page.tolerance), None, meaning.get("importorskip"),
                meaning.get("expect_exception", False), self.page.name, len(self.page.blocks),
                tuple(title for _, title in self.admonitions if title), meaning.get("xfail"), meaning["marks"],
                continues)
            self.last.code_sources = self.sources[start + 1:end]
            self.last.fence = fence
            if language in SESSIONS or (language in PYTHON and content and PROMPT_RE.match(content[0])):
                self.session(self.last, start, end, fence)
            self.page.blocks.append(self.last)
        else:  # a fence that does not run; markers above it are consumed, as pytest-codeblocks does
            self.previous = self.last = None
        return end

    def session(self, block: Block, start: int, end: int, fence: str) -> None:
        """Read `block` (fence lines `start`..`end`) as a `>>>` session with doctest's own parser."""
        try:
            examples = doctest.DocTestParser().get_examples(block.code, block.id)
        except ValueError as error:  # doctest names the line within the block
            found = DOCTEST_LINE_RE.search(str(error))
            line = self.lineno(min(start + int(found[1]), end)) if found else block.line
            raise self.error(line, f"cannot read the >>> session: {error}") from None
        block.session, sources = [], []
        for example in examples:
            first = start + 1 + example.lineno  # index of the `>>>` line
            # The statement's lines are its `>>>` line and the `...` lines under it (doctest's PS2 rule); counting the
            # newlines of example.source misses a bare `...` line, which adds none.
            want_start = first + 1
            while want_start < end and self.lines[want_start][len(block.indent):].lstrip(" ").startswith("..."):
                want_start += 1
            want_end = want_start + example.want.count("\n")
            # Only a want whose lines (and the lines around it) are page source, in order, can be rewritten.
            base = self.origins[want_start - 1][0]
            rewritable = all(self.origins[k] == (base + k - want_start + 1, True)
                             for k in range(want_start - 1, want_end + 1))
            text = "".join("\n" if line == "<BLANKLINE>" else line + "\n" for line in example.want.splitlines())
            indent = block.indent + " " * example.indent
            want = Output(self.lineno(first), self.lineno(max(want_end - 1, first)), indent, text, base + 1,
                          base + 1 + want_end - want_start, rewritable, fence, block.language)
            skip = bool(example.options.get(doctest.OPTIONFLAGS_BY_NAME["SKIP"]))
            # doctest's rule (the output starts with a traceback header), or as in a block: printed lines first.
            raises = example.exc_msg is not None or "\nTraceback (most recent call last):" in "\n" + example.want
            block.session.append(Example(example.source, [self.lineno(k) for k in range(first, want_start)], want,
                                         raises, skip))
            sources += [] if skip else self.sources[first:want_start]
        run = [example for example in block.session if not example.skip]
        block.code = "".join(example.source for example in run)
        block.code_lines = [line for example in run for line in example.lines]
        block.code_sources = sources

    def output(self, start, end, indent, fence, language, text, markers, block, meaning) -> None:
        line = self.lineno(start)
        if any(set(marker) - {"expected_output", "ignore_whitespace", "marks"} for _, marker in markers) \
                or meaning["marks"]:
            raise self.error(markers[0][0], "only pytest-codeblocks:expected-output may be above an Output block")
        if block.output is not None:
            raise self.error(line, "Output block is not directly under a Python block (only blank lines "
                             "may separate them, at the same indentation): the block already has one")
        if block.session is not None:
            raise self.error(line, "Output block under a >>> session: a session shows each output under its prompt")
        first = self.origins[start][0]
        # Only an Output whose every line is page source, in order, can be rewritten in place.
        rewritable = all(self.origins[k] == (first + k - start, True) for k in range(start, end + 1))
        block.output = Output(line, self.lineno(end), indent, text, first + 1, self.origins[end][0],
                              rewritable, fence, language, bool(meaning.get("ignore_whitespace")))
