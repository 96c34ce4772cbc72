"""`--update-outputs`: replace Output blocks' content with what the code prints now, and nothing else.

Every byte outside the rewritten content lines stays as it was; each page is replaced atomically, so a run
killed mid-way leaves every page either old or new.
"""
from __future__ import annotations

import difflib
import os
import re
import tempfile
import time
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pymdownx.snippets import SnippetPreprocessor

from harness.page import Output, split_lines
from harness.values import ANSI_RE

try:
    import fcntl
except ImportError:  # not on Windows: leftovers are then told apart by age alone
    fcntl = None

# write_atomic's temp file: `.NAME.XXXXXXXX.tmp` beside the file it replaces (mkstemp's 8 random characters).
TEMP_SUFFIX = ".tmp"
TEMP_RE = re.compile(r"\.(?P<target>.+\.(?:md|ipynb))\.[a-z0-9_]{8}\.tmp")
LEFTOVER_AGE = 60.0  # seconds; without file locks, a younger temp file may still be being written
DIFF_LINES = 12  # changed lines shown per rewritten block; the page holds the rest
CLIP = 100  # characters shown of a changed line, around what changed


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
        if session and number == 1 and line.lstrip(" ").startswith("..."):  # right under the statement: its PS2 line
            raise RewriteError("the output starts with ..., which a session reads as the statement going on")
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
    """Replace (or create) `path` with `data`: temp file in the same directory, fsync, rename; the mode is kept.

    The temp file is locked from creation to rename, so `remove_leftover` in another run never takes it.
    """
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    while True:
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
        locked = _lock(handle, wait=True)  # held until the file is closed, after the rename
        if locked is None or os.fstat(handle).st_nlink:
            break
        os.close(handle)  # a cleaner took it between creation and lock (it found no lock): make another
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
            os.chmod(temp, mode)
            os.replace(temp, path)
    except BaseException:
        if os.path.lexists(temp):
            os.unlink(temp)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)


def _lock(handle: int, wait: bool) -> bool | None:
    """Lock the open file exclusively: True; False when another process holds it (with `wait`, never);
    None where files cannot be locked (no fcntl, or a file system without flock)."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    except OSError:
        return None
    return True


def leftovers(folder: Path, recursive: bool = True) -> list[Path]:
    """write_atomic's temp files in `folder` (and below it): `.NAME.md.XXXXXXXX.tmp`, `.NAME.ipynb.XXXXXXXX.tmp`."""
    if not folder.is_dir():
        return []
    found = folder.rglob(f".*{TEMP_SUFFIX}") if recursive else folder.glob(f".*{TEMP_SUFFIX}")
    return sorted(p for p in found if TEMP_RE.fullmatch(p.name) and p.is_file() and not p.is_symlink())


def remove_leftover(path: Path) -> bool:
    """Remove a temp file a killed write left behind; False (kept) while a live write_atomic still holds it."""
    if not TEMP_RE.fullmatch(path.name):  # never anything but our own temp files
        raise ValueError(f"{path} is not a temp file of write_atomic")
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False  # gone already (its write finished), or not a plain file
    try:
        locked = _lock(handle, wait=False)
        if locked is False or (locked is None and time.time() - os.fstat(handle).st_mtime < LEFTOVER_AGE):
            return False
        os.unlink(path)  # under the lock: a writer that locks it next sees it unlinked and starts over
        return True
    except FileNotFoundError:
        return False  # renamed into place meanwhile
    finally:
        os.close(handle)


def diff(rewrite: Rewrite) -> list[str]:
    """The block's change as `- old` / `+ new` lines (dedented, long lines clipped around the change); [] if none."""
    old = [line.removeprefix(rewrite.indent) for line in rewrite.old.split("\n")] if rewrite.old else []
    rendered = render(rewrite.new, rewrite.indent, "\n", rewrite.fence, rewrite.session)
    new = [line.removeprefix(rewrite.indent).rstrip("\n") for line in rendered]
    lines: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        pairs = list(zip(old[i1:i2], new[j1:j2]))
        clipped = [_clip(a, b) for a, b in pairs]
        lines += [f"- {a}" for a, _ in clipped] + [f"- {_clip(a, a)[0]}" for a in old[i1 + len(pairs):i2]]
        lines += [f"+ {b}" for _, b in clipped] + [f"+ {_clip(b, b)[0]}" for b in new[j1 + len(pairs):j2]]
    if len(lines) > DIFF_LINES:
        lines = lines[:DIFF_LINES] + [f"… {len(lines) - DIFF_LINES} more changed lines (see the page)"]
    return lines


def _clip(old: str, new: str) -> tuple[str, str]:
    """Both lines cut to about CLIP characters around where they differ, with … where text was cut."""
    if max(len(old), len(new)) <= CLIP:
        return old, new
    prefix = len(os.path.commonprefix([old, new]))
    start = max(0, prefix - CLIP // 4) if old != new else 0

    def cut(line: str) -> str:
        part = line[start:start + CLIP]
        return ("…" if start else "") + part + ("…" if start + CLIP < len(line) else "")

    return cut(old), cut(new)


@dataclass
class Applied:
    """What apply_all did: the rewrites now in their pages, the pages changed, the rewrites refused and why."""

    rewritten: list[Rewrite] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    refused: list[tuple[Rewrite, str]] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        """One message per page that could not be rewritten (its blocks are all in `refused`)."""
        return list(dict.fromkeys(why for _, why in self.refused))


def apply_all(rewrites: list[Rewrite]) -> Applied:
    """Apply every rewrite, page by page; a page that cannot be rewritten stays as it was, the others go on."""
    by_page: dict[str, list[Rewrite]] = {}
    for rewrite in rewrites:
        by_page.setdefault(rewrite.page, []).append(rewrite)
    applied = Applied()
    for page, group in sorted(by_page.items()):
        try:
            changed = apply(Path(page), group)
        except (RewriteError, OSError) as error:
            applied.refused += [(rewrite, str(error)) for rewrite in group]
            continue
        except Exception as error:  # noqa: BLE001  (one page that cannot be written never stops the others)
            why = f"{group[0].name}: not rewritten: {type(error).__name__}: {error}"
            applied.refused += [(rewrite, why) for rewrite in group]
            continue
        if changed:
            applied.pages.append(group[0].name)
            applied.rewritten += sorted((r for r in group if diff(r)), key=lambda r: r.line)
    return applied
