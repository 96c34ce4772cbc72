"""`--update-outputs`: replace Output blocks' content with what the code prints now, and nothing else.

Every byte outside the rewritten content lines stays as it was; each page is replaced atomically, so a run
killed mid-way leaves every page either old or new.
"""
from __future__ import annotations

import os
import tempfile
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path

from pymdownx.snippets import SnippetPreprocessor

from harness.page import Output, split_lines
from harness.values import ANSI_RE


class RewriteError(Exception):
    """An Output block that cannot be rewritten; str() says where and why."""


@dataclass(frozen=True)
class Rewrite:
    """New content for one Output block: where it is (0-based content line indices) and what goes there."""

    page: str  # absolute path of the page file
    name: str  # the page as shown in messages, e.g. "docs/x.md"
    line: int  # the Output block's opening fence line, for messages
    content_start: int
    content_end: int
    indent: str
    fence: str
    old: str  # the content lines as parsed, to notice a page edited during the run
    new: str  # what the code printed
    session: bool = False  # the output of a `>>>` statement: written the way doctest reads it

    def to_dict(self) -> dict:
        """Plain data, so the request travels in a test report (xdist workers to the controller)."""
        return asdict(self)


def request(path: Path, name: str, lines: list[str], output: Output, new: str, session: bool = False) -> Rewrite:
    """A Rewrite of `output` (parsed from the page whose source lines are `lines`) to `new`; RewriteError if impossible.

    `session`: `output` is what a `>>>` statement showed (page.Example.want), in the session's own block.
    """
    where = f"{name}:{output.line}"
    if not output.rewritable:
        raise RewriteError(f"{where}: the Output block comes from an include; update the included file by hand")
    try:
        render(new, output.indent, "\n", output.fence, session)  # what cannot sit in a fence fails now, not at the end
    except RewriteError as error:
        raise RewriteError(f"{where}: {error}") from None
    old = "\n".join(lines[output.content_start:output.content_end])
    return Rewrite(str(path), name, output.line, output.content_start, output.content_end, output.indent,
                   output.fence, old, new, session)


def render(new: str, indent: str, eol: str, fence: str = "```", session: bool = False) -> list[str]:
    """The content lines for printed text `new`: indent + line, blank lines empty, each ending in `eol`.

    In a `>>>` session (`session`) a blank line is written `<BLANKLINE>`, as doctest reads it.
    Colour codes are dropped (the page shows what a terminal shows) and a line that pymdownx.snippets would
    read as an include is escaped with `;` (the page then shows it as printed). RewriteError for text a page
    cannot hold: a lone surrogate, a control character, a line that would close the fence.
    """
    text = ANSI_RE.sub("", new).replace("\r\n", "\n").rstrip("\n")
    if "\r" in text:
        raise RewriteError("the output contains a carriage return (a progress bar?): a page cannot show it")
    lines = text.split("\n")
    while lines and not lines[-1].strip():  # trailing blank lines: invisible on the page, churn in diffs
        lines.pop()
    for number, line in enumerate(lines, 1):
        _check_line(line, number, fence)
        if session and line.lstrip(" ").startswith(">>>"):  # doctest's rule: such a line starts a statement
            raise RewriteError(f"line {number} of the output starts with >>>, which a session reads as a prompt")
    if session:  # doctest ends an output at a blank line
        return [indent + (_escape_notation(line) if line.strip() else "<BLANKLINE>") + eol for line in lines]
    # A whitespace-only line shows as an empty line; writing its spaces would only invite editor churn.
    return [(indent + _escape_notation(line) if line.strip() else "") + eol for line in lines]


def _check_line(line: str, number: int, fence: str) -> None:
    """RewriteError if output line `number` cannot sit in a page inside `fence`."""
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as error:
        raise RewriteError(f"line {number} of the output is not text a page can store: {line[error.start]!r} is a "
                           "lone surrogate (bytes decoded with errors='surrogateescape'?); decode them as they "
                           "are meant") from None
    control = next((c for c in line if c != "\t" and unicodedata.category(c) == "Cc"), None)
    if control is not None:
        raise RewriteError(f"line {number} of the output has the control character {control!r}, which a page "
                           "cannot show")
    # CommonMark closes a fence with a run of its character at least as long as the opening one.
    if line.strip(" \t").startswith(fence[0] * len(fence)):
        raise RewriteError(f"line {number} of the output starts with {fence[0] * len(fence)}, which would end "
                           "the fence")


def _escape_notation(line: str) -> str:
    """`line`, escaped with one `;` if pymdownx.snippets would read it as an include or section marker."""
    if "8<" not in line:
        return line
    if match := SnippetPreprocessor.RE_ALL_SNIPPETS.match(line):
        return line[:match.end("space")] + ";" + line[match.end("space"):]
    if match := SnippetPreprocessor.RE_SNIPPET_SECTION.match(line):
        return line[:match.end("pre")] + ";" + line[match.end("pre"):]
    return line


def rewrite_text(text: str, rewrites: list[Rewrite]) -> str:
    """`text` with each rewrite's content lines replaced, bottom-up so earlier line numbers stay valid."""
    lines = split_lines(text, keepends=True)
    bare = [line.rstrip("\r\n") for line in lines]
    for rewrite in sorted(rewrites, key=lambda r: r.content_start, reverse=True):
        start, end = rewrite.content_start, rewrite.content_end
        if "\n".join(bare[start:end]) != rewrite.old:
            raise RewriteError(f"{rewrite.name}:{rewrite.line}: the page changed during the run; run again")
        fence_line = lines[start - 1]
        eol = fence_line[len(fence_line.rstrip("\r\n")):] or "\n"  # the file's own line ending (CRLF stays)
        lines[start:end] = render(rewrite.new, rewrite.indent, eol, rewrite.fence, rewrite.session)
    return "".join(lines)


def apply(path: Path, rewrites: list[Rewrite]) -> bool:
    """Rewrite the page at `path` atomically; True when its bytes changed."""
    data = path.read_bytes()
    text = data.decode("utf-8")
    new = rewrite_text(text, rewrites).encode("utf-8")
    if new == data:
        return False
    write_atomic(path, new)
    return True


def write_atomic(path: Path, data: bytes) -> None:
    """Replace (or create) `path` with `data`: temp file in the same directory, fsync, rename; the mode is kept."""
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)


def apply_all(rewrites: list[Rewrite]) -> tuple[list[str], list[str]]:
    """Apply every rewrite, page by page; returns (pages changed, error messages)."""
    by_page: dict[str, list[Rewrite]] = {}
    for rewrite in rewrites:
        by_page.setdefault(rewrite.page, []).append(rewrite)
    changed, errors = [], []
    for page, group in sorted(by_page.items()):
        try:
            if apply(Path(page), group):
                changed.append(group[0].name)
        except (RewriteError, OSError) as error:
            errors.append(str(error))
        except Exception as error:  # noqa: BLE001  (one page that cannot be written never stops the others)
            errors.append(f"{group[0].name}: not rewritten: {type(error).__name__}: {error}")
    return changed, errors
