"""Inside a page's own process: run the blocks in one namespace, send one message per block.

The parent (runner.py) forks this process from its fork server; what crosses over is plain data: PageRun in,
one pickled BlockRun per block out.
"""
from __future__ import annotations

import ast
import builtins
import codecs
import ctypes
import importlib
import io
import linecache
import logging
import os
import pickle
import re
import sys
import tempfile
import time
import traceback
import types
import warnings
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Sequence

from harness import inputs
from harness.checkpoints import weights_use
# Where installed modules live: only those are worth preloading for later pages, never a page's own modules.
from harness.inputs import INSTALLED

STDOUT_LIMIT = 1_000_000  # characters of a block's stdout kept; the rest is only counted
TRACEBACK_LIMIT = 50_000
STOPS = ("raised", "timed out", "died")  # after these the page's state is broken: later blocks do not run


@dataclass(frozen=True)
class BlockCode:
    """A block to run: its index in the page, its code, and the page line of each code line."""

    index: int
    code: str
    lines: Sequence[int]
    expect_exception: bool = False  # pytest.mark.xfail (or an alias): raising is this block's success
    raises: str | None = None  # xfail(raises=...): the source of the expected exception type(s), else any
    shell: str | None = None  # "sh", "bash" or "zsh": a shell block (harness/shell.py), else Python
    # For each code line from an included snippet, (snippet file relative to the repo, its line); else None.
    sources: Sequence[tuple[str, int] | None] = ()
    # A `>>>` session: (source, page lines, raising is its documented output) per statement; () for other blocks.
    session: tuple[tuple[str, tuple[int, ...], bool], ...] = ()


@dataclass
class BlockRun:
    """What running one block gave: "ok", "raised", "no exception" (one was expected), "timed out", "died", "not run"."""

    index: int
    status: str
    stdout: str = ""
    dropped: int = 0  # characters of stdout beyond STDOUT_LIMIT, not kept
    traceback: str = ""
    duration: float = 0.0
    stderr_tail: str = ""
    # What the block warmed that a fresh process lacks: installed modules it imported (often lazily) and regular
    # expressions it compiled ((pattern, flags), as re caches them). Later pages' processes warm them up front.
    imported: tuple[str, ...] = ()
    compiled: tuple[tuple[str | bytes, int], ...] = ()
    # What the page loaded so far and where from (weights_use.py), and whether the block printed after a
    # stand-in's weights were read (None: cannot tell, so its weight-dependent figures are not trusted).
    weights: tuple[dict, ...] = ()
    printed_after_stand_in: bool | None = None
    # Files of the repo the page's process had imported or opened for reading by the end of this block
    # (repo-relative, the harness's own excepted): what --changed-only must hash besides the page.
    repo_files: tuple[str, ...] = ()
    untracked: str = ""  # why the page's inputs are not all known (inputs.py): --changed-only never skips it
    # A `>>>` session: (stdout, traceback or "") per statement run, in order (a raise it did not document ends it).
    session: tuple[tuple[str, str], ...] = ()


@dataclass
class PageRun:
    """Everything the child process needs: plain data, so it crosses the process boundary."""

    filename: str  # how tracebacks name the page, e.g. "docs/x.md"
    text: str  # the page source, so tracebacks show its lines
    blocks: list[BlockCode]
    env: dict[str, str] = field(default_factory=dict)
    cwd: str = "."
    main_file: str = ""  # the page's __main__.__file__ (its snippet file, or the page), relative to cwd


class StdoutCapture:
    """Everything the page's process writes to stdout, block by block, as pytest's capfd captures it.

    fd 1 points at an unlinked temporary file, so print, sys.stdout kept by a logging handler, os.write(1, ...),
    C extensions and child processes that inherit stdout all land there, in the order they wrote. `start`
    empties it before a block; `take` flushes Python's and C's buffers and reads the block's text.

    sys.stdout is one stream for the whole page (a handler an earlier block made writes into the block that
    is running), line-buffered over fd 1 as python's stdout is on a terminal: a print costs what it costs
    there. The runner stops a page whose block writes more than runner.STDOUT_FILE_LIMIT bytes.
    """

    CHUNK = 1 << 20  # bytes read at a time

    def __init__(self, limit: int = STDOUT_LIMIT):
        self.limit = limit
        self.file = tempfile.TemporaryFile()  # freed by the kernel when the process ends, however it ends
        self.fd = self.file.fileno()
        # O_APPEND: after `start` truncates the file, every writer (the page's children too) writes from its start.
        import fcntl  # noqa: PLC0415  (POSIX only, as the runner's fork server is)

        fcntl.fcntl(self.fd, fcntl.F_SETFL, fcntl.fcntl(self.fd, fcntl.F_GETFL) | os.O_APPEND)
        os.dup2(self.fd, 1)
        _libc_line_buffered()
        # The encoding `python` chose for its stdout at start (locale, PYTHONIOENCODING, UTF-8 mode).
        original = sys.__stdout__
        self.encoding = getattr(original, "encoding", None) or "utf-8"
        self.stream = io.TextIOWrapper(open(1, "wb", closefd=False), encoding=self.encoding,
                                       errors=getattr(original, "errors", None) or "surrogateescape",
                                       line_buffering=True)

    def start(self) -> None:
        """Begin a block: what earlier blocks wrote is gone."""
        self.flush()
        os.ftruncate(self.fd, 0)

    def flush(self) -> None:
        """Push what Python and C still buffer to fd 1, so it counts for the block that wrote it."""
        for stream in {id(sys.stdout): sys.stdout, id(self.stream): self.stream}.values():
            try:
                stream.flush()
            except Exception:  # noqa: BLE001  (a page may close or replace sys.stdout: its business)
                pass
        _libc_fflush()

    def take(self) -> tuple[str, int]:
        """The block's stdout: its first `limit` characters, and how many more it wrote (not kept)."""
        self.flush()
        decoder = codecs.getincrementaldecoder(self.encoding)("surrogateescape")
        size, offset, parts, kept, dropped = os.fstat(self.fd).st_size, 0, [], 0, 0
        while True:  # up to the size now: a child process still writing must not keep the read going
            chunk = os.pread(self.fd, min(self.CHUNK, size - offset), offset) if offset < size else b""
            offset += len(chunk)
            text = decoder.decode(chunk, final=not chunk)
            room = max(self.limit - kept, 0)
            parts.append(text[:room])
            kept, dropped = kept + min(len(text), room), dropped + max(len(text) - room, 0)
            if not chunk:
                break
        return "".join(parts), dropped


def _libc_line_buffered() -> None:
    """C's stdout line-buffered, as on a terminal: an extension's printf lands between the Python lines around it."""
    try:
        libc = ctypes.CDLL(None)
        libc.setvbuf(ctypes.c_void_p.in_dll(libc, "stdout"), None, 1, 0)  # 1: _IOLBF
    except (OSError, ValueError, AttributeError):  # no C library to ask: block end still flushes it
        pass


_fflush = None


def _libc_fflush() -> None:
    """fflush(NULL): C's stdio buffers (printf in an extension) reach fd 1 now, not at exit."""
    global _fflush
    try:
        if _fflush is None:
            _fflush = ctypes.CDLL(None).fflush
        _fflush(None)
    except (OSError, AttributeError):  # no C library to ask: nothing of C's to flush either
        pass


_capture: StdoutCapture | None = None  # the page process's stdout, set up by _isolate


def main_namespace(page: PageRun) -> dict:
    """A fresh module `__main__` whose globals are the page's namespace, as `python snippet.py` makes it.

    Classes and functions the page defines then live in `sys.modules["__main__"]`, where pickle, dataclasses,
    torch.save and multiprocessing look them up. The fork server's own main (multiprocessing's `__mp_main__`)
    stays registered under that name: only `__main__` changes.
    """
    module = types.ModuleType("__main__")
    module.__file__ = os.path.abspath(page.main_file or page.filename)  # absolute, as `python x.py` sets it
    module.__builtins__ = builtins
    module.__cached__ = None
    sys.modules["__main__"] = module
    # The process as python's main one, for the page's own multiprocessing: not a daemon (which may not have
    # children), and the platform's default start method (the runner's start forced its own).
    import multiprocessing  # noqa: PLC0415

    multiprocessing.current_process().daemon = False  # this process's copy: the runner still kills it at will
    multiprocessing.set_start_method(None, force=True)
    return module.__dict__


def code_origin(block: BlockCode, filename: str) -> tuple[str, Sequence[int]]:
    """The file and lines to compile a block with: its snippet file's when all its code comes from one, else the page's.

    Tracebacks, warnings and inspect then show the line a reader finds in that file (an included line's page
    line is its include line, the same for all of them).
    """
    code_lines = block.code.split("\n")
    sources = list(block.sources) + [None] * (len(block.lines) - len(block.sources))
    files = {source[0] if source else None for source, text in zip(sources, code_lines) if text.strip()}
    if files == {None} or not files:
        return filename, block.lines
    if len(files) > 1:  # page lines and included ones: no one file has them all
        return _expanded_name(block, filename), range(1, len(block.lines) + 1)
    lines, last = [], 0
    for source in sources:  # blank page lines between included ones take the line above
        last = source[1] if source else last
        lines.append(last or 1)
    return files.pop(), lines


def _expanded_name(block: BlockCode, filename: str) -> str:
    """The name a block mixing page lines and included ones is compiled under, its expanded code in linecache.

    Its frames are told again at the page's lines by _format (an included line also by its file and line).
    """
    name = f"<{filename}:{block.lines[0] if block.lines else 0} expanded>"
    if name not in linecache.cache:
        linecache.cache[name] = (len(block.code), None, block.code.splitlines(keepends=True), name)
        sources = list(block.sources) + [None] * (len(block.lines) - len(block.sources))
        _expanded.update(((name, k), (line, source)) for k, (line, source) in enumerate(zip(block.lines, sources), 1))
    return name


def compile_block(block: BlockCode, filename: str, mode: str = "exec"):
    """Compile a block so its code objects and errors carry page (or snippet file) lines, not block lines.

    `mode` "single" compiles one `>>>` statement as the REPL does: an expression's value goes to sys.displayhook.
    """
    page, (filename, lines) = filename, code_origin(block, filename)

    def page_line(line: int | None) -> int | None:
        return lines[min(line, len(lines)) - 1] if line and lines else line

    try:
        tree = ast.parse(block.code, filename, mode)
    except SyntaxError as err:
        # The compiler fills `text` (and measures `offset` in it) by reading `filename` at the block's own line
        # number: the page's line there is another line. Parsed under a name that is no file, they are the block's.
        try:
            ast.parse(block.code, "<block>", mode)
        except SyntaxError as clean:
            err.text, err.offset, err.end_offset = clean.text, clean.offset, clean.end_offset
        at = err.lineno if err.lineno and err.lineno <= block.code.count("\n") + 1 else None
        source = block.sources[at - 1] if at and at <= len(block.sources) else None
        if source:  # an included line, even in a block that mixes page lines and includes: its file and line
            err.filename, err.lineno, err.end_lineno = source[0], source[1], None
        else:
            err.filename, err.lineno = page, block.lines[min(err.lineno, len(block.lines)) - 1] if err.lineno else None
            err.end_lineno = None
        raise
    for node in ast.walk(tree):
        if "lineno" in node._attributes:
            node.lineno = page_line(node.lineno)
            node.end_lineno = max(page_line(node.end_lineno) or node.lineno, node.lineno)
            # Included lines all map to the include's line: a node spanning several must keep a valid range.
            if node.end_lineno == node.lineno and (node.end_col_offset or 0) < node.col_offset:
                node.end_col_offset = node.col_offset
    # dont_inherit: the harness's own `from __future__` imports must not change the page's code.
    try:
        return compile(tree, filename, mode, dont_inherit=True)
    except ValueError:  # positions Python refuses after mapping: block lines beat no run at all
        return compile(block.code, filename, mode, dont_inherit=True)


def preload(specs) -> None:
    """Import each "module" or "module:name,name" (the names looked up); a failure is the page's to meet.

    A module that writes to stdout when imported (`import this`) is taken out of sys.modules again, so the page
    that imports it runs it and prints what a cold interpreter prints, whichever pages ran before it. Only the
    modules whose top-level code was running when the output was written go (with the attribute that names
    them on their package), and never one of a package that has just loaded a compiled extension (numpy,
    torch): an extension cannot be loaded twice in a process, so such output stays unseen by the page.
    """
    with _stdout_watch() as watch:
        for spec in specs:
            module, _, names = spec.partition(":")
            before, printed = set(sys.modules), watch.size()
            watch.writers.clear()
            try:
                imported = importlib.import_module(module)
                # transformers' lazy modules import a submodule only when a name is looked up.
                for name in filter(None, names.split(",")):
                    getattr(imported, name, None)
            except BaseException:  # a page that fails to import fails in its own process, with its own traceback
                pass
            if watch.size() != printed:
                # Written below Python (os.write, C printf): only the spec's own module can be told.
                _unload(watch.writers or {module}, sys.modules.keys() - before)


def _unload(writers: set[str], new: set[str]) -> None:
    """Remove from sys.modules the modules of `writers` that are in `new`, are Python source, and belong to a
    top-level package that loaded no compiled extension among `new`."""
    def file(name: str) -> str:
        return getattr(sys.modules.get(name), "__file__", None) or ""

    compiled = {name.partition(".")[0] for name in new if file(name) and not file(name).endswith(".py")}
    for name in writers & new:
        if name.partition(".")[0] in compiled or not file(name).endswith(".py"):
            continue
        module = sys.modules.pop(name)
        package, _, attribute = name.rpartition(".")
        if package in sys.modules and getattr(sys.modules[package], attribute, None) is module:
            delattr(sys.modules[package], attribute)  # else `from package import attribute` finds it there


class _StdoutWatch:
    """What preload's imports write to stdout: bytes at fd 1 (a scratch file), and which modules' top-level
    code was running at each Python-level write (sys.stdout is wrapped)."""

    def __init__(self, stream):
        self.stream = stream
        self.writers: set[str] = set()

    def write(self, text):
        if self.stream is None:  # no stdout at all: print() would have written nothing
            return len(text)
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_name == "<module>":
                self.writers.add(frame.f_globals.get("__name__", ""))
            frame = frame.f_back
        return self.stream.write(text)

    def __getattr__(self, name):
        return getattr(self.stream, name)

    def size(self) -> int:
        with suppress(Exception):
            self.stream.flush()
        return os.fstat(1).st_size


@contextmanager
def _stdout_watch():
    """Within the body, fd 1 is a scratch file and sys.stdout a _StdoutWatch over it."""
    with suppress(Exception):
        sys.stdout.flush()
    saved, stdout = os.dup(1), sys.stdout
    with tempfile.TemporaryFile() as scratch:
        os.dup2(scratch.fileno(), 1)
        watch = _StdoutWatch(stdout)
        sys.stdout = watch
        try:
            yield watch
        finally:
            sys.stdout = stdout
            with suppress(Exception):
                stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def fresh_generators() -> None:
    """Seed numpy's global generator and torch's default one at random, as an interpreter does on importing them.

    Page processes are forked from one server, which seeded them once: without this every page of a run would
    draw the same numbers where cold interpreters each draw their own (Python's random reseeds at fork itself).
    """
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        with suppress(Exception):
            numpy_random.seed()
    torch = sys.modules.get("torch")
    if torch is not None:
        with suppress(Exception):
            # The CPU generator only: the server never used another device, so their generators start in the
            # page's process as in a cold one (torch.seed() would also import and seed mps, xpu, mtia: 13 ms).
            torch.default_generator.seed()


def warm(modules: list[str], patterns: list[tuple[str | bytes, int]]) -> None:
    """Import `modules` and compile `patterns`, as earlier pages did; nothing a page could observe but speed."""
    preload(modules)
    for pattern, flags in patterns:
        try:
            re.compile(pattern, flags)  # fills re's own cache: a page compiling it again finds it there
        except Exception:  # noqa: BLE001  (a pattern that compiled once compiles again; never fail a page here)
            pass


def warm_torch() -> None:
    """Prepare a waiting process as running a page would: torch's common kernels paged in, malloc's heap grown.

    A process forked from the server faults in torch's code and grows its heap page by page (about 0.1 s on
    a model-sized page); a process that already ran a page has both. Tiny operations stay one-threaded
    (no OpenMP threads started), use no random generator and no autograd: nothing a page could observe.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        return
    import ctypes

    functional = torch.nn.functional
    try:
        with torch.no_grad():
            x, w = torch.ones(8, 64), torch.ones(64, 64)
            y = functional.layer_norm(functional.gelu(torch.tanh(functional.linear(x, w) + x @ w)), (64,))
            functional.softmax(y, -1).sum(-1).argmax()
            functional.embedding(torch.arange(8), w)
            q = x.view(1, 1, 8, 64)
            functional.scaled_dot_product_attention(q, q, q)
        # Freeing large blocks raises glibc malloc's mmap threshold (to their size, at most 32 MB): the page's
        # tensors then come from the heap, where freed memory is reused without new page faults, as in a
        # process that already ran a page (measured: about half the page faults of a model-sized page).
        first = torch.empty(8 << 20)
        del first
        blocks = [torch.empty(6 << 20) for _ in range(2)]
        for block in blocks:
            ctypes.memset(block.data_ptr(), 0, block.nbytes)
        del blocks, block
    except Exception:  # noqa: BLE001  (a warm-up is an optimisation: never the reason a page fails)
        pass


def run_child(inbox, sender, spare: bool = False) -> None:
    """Child process: wait for its page on `inbox`, run the blocks, send one message per block, exit.

    runner.py forks the process before its page is known, so it first reads ("warm", (modules, patterns))
    messages (what earlier pages loaded: done while the previous page runs), then ("page", (page, log path)).
    """
    try:
        os.setpgid(0, 0)  # its own process group, so a timeout kills what the page started, too
        if spare:  # forked ahead, while another page runs: time spent here is not the run's
            warm_torch()
            inputs.repo_files("")  # the preloaded modules' files, looked at once, not after the page's first block
        try:
            kind, payload = inbox.recv()
            while kind == "warm":
                warm(*payload)
                kind, payload = inbox.recv()
        except (EOFError, OSError):  # the harness ended without giving this process a page
            return
        page, log_path = payload
        fresh_generators()  # after the warm-ups: whatever they drew is gone with the server's seed
        _isolate(page, log_path)
        inputs.watch(page.cwd)  # after _isolate: the harness's own opens are not the page's
        _included.update(((source[0], source[1]), line) for block in page.blocks
                         for line, source in zip(block.lines, block.sources) if source)
        namespace = main_namespace(page)
        for block in page.blocks:
            if block.shell:
                run = _run_shell(block)
            else:
                run = (_run_session if block.session else _run_block)(block, page.filename, namespace)
            sys.stderr.flush()
            sender.send_bytes(pickle.dumps(run))
            if run.status in STOPS:
                break
    except BaseException:  # the harness's own error: told in the log, whose tail the "died" report shows
        traceback.print_exc()
        sys.stderr.flush()
    finally:
        os._exit(0)  # no atexit handlers, no flushing of buffers inherited from the fork server


def _isolate(page: PageRun, log_path: str) -> None:
    """Point stdin, fd 1, fd 2, warnings and logging away from the terminal; set env and cwd."""
    os.environ.update(page.env)
    os.chdir(page.cwd)
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 2)  # stderr is not output: kept for failure reports
    global _capture
    outs = {id(stream) for stream in (sys.stdout, sys.__stdout__) if stream is not None}  # the server's
    _capture = StdoutCapture()  # fd 1
    sys.stdin = open(os.devnull)
    sys.stderr = sys.__stderr__ = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
    sys.stdout = sys.__stdout__ = _capture.stream

    def show(message, category, filename, lineno, file=None, line=None):
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    warnings.showwarning = show  # pytest's recorder would swallow them; a reader sees them on stderr
    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                # A handler a preloaded module made on stdout writes output, as in a cold interpreter.
                on_stdout = id(handler.stream) in outs or isinstance(handler.stream, _StdoutWatch)
                handler.setStream(sys.stdout if on_stdout else sys.stderr)
    lines = page.text.splitlines(keepends=True)
    linecache.cache[page.filename] = (len(page.text), None, lines, page.filename)


def _run_block(block: BlockCode, filename: str, namespace: dict) -> BlockRun:
    """Run one block in `namespace` with stdout captured; any exception, SystemExit included, is its result."""
    modules, patterns = set(sys.modules), _regex_keys()
    _capture.start()
    watch = weights_use.block_start(_written)
    start = time.perf_counter()
    try:
        exec(compile_block(block, filename), namespace)
        status, text = ("no exception" if block.expect_exception else "ok"), ""
    except BaseException as err:  # SystemExit and KeyboardInterrupt end this block, not the harness
        status, text = ("ok" if _expected(block, err, namespace) else "raised"), _format(err, filename, block)
    stdout, dropped = _capture.take()
    duration = time.perf_counter() - start
    weights, printed_after_stand_in = weights_use.block_end(watch, _written())
    imported = tuple(name for name in sys.modules.keys() - modules if _installed(sys.modules.get(name)))
    compiled = _compiled_since(patterns)
    files = inputs.repo_files()  # first: it may find the page untracked
    return BlockRun(block.index, status, stdout, dropped, text[-TRACEBACK_LIMIT:], duration,
                    imported=imported, compiled=compiled, repo_files=files, untracked=inputs.untracked(),
                    weights=weights, printed_after_stand_in=printed_after_stand_in)


def _run_session(block: BlockCode, filename: str, namespace: dict) -> BlockRun:
    """Run a `>>>` session as doctest does: statement by statement, each compiled in "single" mode so its value
    is shown by sys.displayhook (as at the prompt), each with its own stdout.

    A statement whose output documents a traceback may raise: the session goes on, as in doctest. Any other
    exception ends the block with status "raised".
    """
    results: list[tuple[str, str]] = []
    modules, patterns = set(sys.modules), _regex_keys()
    status, text, dropped = "ok", "", 0
    hook, sys.displayhook = sys.displayhook, sys.__displayhook__  # the REPL's: repr() of a value, kept in `_`
    start = time.perf_counter()
    try:
        for source, lines, may_raise in block.session:
            statement = BlockCode(block.index, source, lines)
            _capture.start()
            raised = ""
            try:
                exec(compile_block(statement, filename, "single"), namespace)
            except BaseException as err:  # SystemExit and KeyboardInterrupt end this statement, not the harness
                raised = _format(err, filename, statement)[-TRACEBACK_LIMIT:]
            printed, more = _capture.take()
            results.append((printed, raised))
            dropped += more
            if raised and not may_raise:
                status, text = "raised", raised
                break
    finally:
        sys.displayhook = hook
    duration = time.perf_counter() - start
    imported = tuple(name for name in sys.modules.keys() - modules if _installed(sys.modules.get(name)))
    compiled = _compiled_since(patterns)
    files = inputs.repo_files()  # first: it may find the page untracked
    return BlockRun(block.index, status, "".join(printed for printed, _ in results), dropped, text, duration,
                    imported=imported, compiled=compiled, repo_files=files, untracked=inputs.untracked(),
                    session=tuple(results))


def _written() -> int:
    """Bytes the running block has written to stdout so far (weights_use.py compares it with a stand-in's read)."""
    _capture.flush()
    return os.fstat(_capture.fd).st_size


def _expected(block: BlockCode, err: BaseException, namespace: dict) -> bool:
    """Whether `err` is what the block expects: any exception, or one of xfail(raises=...), as pytest checks it.

    `raises` is evaluated here, in the page's namespace: it may name an exception an earlier block defined.
    """
    if not block.expect_exception:
        return False
    if block.raises is None:
        return True
    try:
        expected = eval(block.raises, {**namespace, "__builtins__": builtins})  # noqa: S307  (the page's own text)
        return isinstance(err, expected)
    except Exception:  # noqa: BLE001  (an unknown name in raises=: the block fails with its own exception)
        return False


def _run_shell(block: BlockCode) -> BlockRun:
    """Run a shell block in the page's directory and environment; a non-zero exit is its "exception"."""
    import subprocess  # noqa: PLC0415  (only pages with shell blocks need it)

    from harness.shell import run_shell  # noqa: PLC0415

    result = run_shell(block.shell, block.code)
    stdout, dropped = result.stdout[:STDOUT_LIMIT], max(len(result.stdout) - STDOUT_LIMIT, 0)
    failed = result.returncode != 0
    if block.expect_exception:
        error = subprocess.CalledProcessError(result.returncode if result.returncode is not None else -1, block.shell)
        status = ("ok" if _expected(block, error, {}) else "raised") if failed else "no exception"
    else:
        status = "raised" if failed else "ok"
    inputs.untrack("it runs a shell block, whose reads are not seen")
    return BlockRun(block.index, status, stdout, dropped, result.message, result.duration,
                    repo_files=inputs.repo_files(), untracked=inputs.untracked())


def _regex_keys() -> set:
    """The keys of re's compile cache now; empty where CPython keeps it elsewhere (a plain copy: taken per block)."""
    cache = getattr(re, "_cache", None)
    return set(cache) if isinstance(cache, dict) else set()


def _compiled_since(before: set) -> tuple[tuple[str | bytes, int], ...]:
    """(pattern, flags) of each regular expression re cached since `before` (_regex_keys), oldest first.

    Its keys are (type, pattern, flags); only new keys are looked at (the cache holds up to 512 of them).
    """
    cache = getattr(re, "_cache", None)
    if not isinstance(cache, dict):
        return ()
    return tuple((key[1], key[2]) for key in list(cache)
                 if key not in before and isinstance(key, tuple) and len(key) == 3)


def _installed(module) -> bool:
    """True for a module loaded from the Python installation or its site-packages (not the repo, not a temp dir)."""
    return (getattr(module, "__file__", None) or "").startswith(INSTALLED)


def _format(err: BaseException, filename: str, block: BlockCode | None = None) -> str:
    """The traceback from the page's first frame on: what the reader would see running the code.

    Code from a snippet file runs as that file (its frames say so, as under `python snippet.py`); here each of
    its frames is told at the page's line that includes it, with the file and line it comes from.
    """
    code_file = code_origin(block, filename)[0] if block is not None else filename
    tb = err.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename not in (filename, code_file):
        tb = tb.tb_next
    if tb is None:  # a SyntaxError: raised while compiling, before any page frame
        text = "".join(traceback.format_exception_only(type(err), err))
    else:
        text = "".join(traceback.format_exception(type(err), err, tb))

    def at_page(frame: re.Match) -> str:
        expanded = _expanded.get((frame["file"], int(frame["line"])))
        if expanded is not None:
            line, source = expanded
            included = f' (included from {source[0]}, line {source[1]})' if source else ""
            return f'  File "{filename}", line {line}{frame["rest"]}{included}'
        page_line = _included.get((frame["file"], int(frame["line"])))
        if page_line is None:
            return frame[0]
        return (f'  File "{filename}", line {page_line}{frame["rest"]} '
                f'(included from {frame["file"]}, line {frame["line"]})')

    return FRAME_LINE.sub(at_page, text) if _included or _expanded else text


FRAME_LINE = re.compile(r'^  File "(?P<file>[^"\n]+)", line (?P<line>\d+)(?P<rest>.*)$', re.MULTILINE)
_included: dict[tuple[str, int], int] = {}  # (snippet file, its line) → the page line that includes it
# (name of a mixed block's expanded code, its line) → (page line, (snippet file, its line) or None): see _expanded_name
_expanded: dict[tuple[str, int], tuple[int, tuple[str, int] | None]] = {}
