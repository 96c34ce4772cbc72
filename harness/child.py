"""Inside a page's own process: run the blocks in one namespace, send one message per block.

The parent (runner.py) forks this process from its fork server; what crosses over is plain data: PageRun in,
one pickled BlockRun per block out.
"""
from __future__ import annotations

import ast
import builtins
import importlib
import io
import linecache
import logging
import os
import pickle
import re
import sys
import sysconfig
import time
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Sequence

from harness import weights_use

STDOUT_LIMIT = 1_000_000  # characters of a block's stdout kept; the rest is only counted
TRACEBACK_LIMIT = 50_000
STOPS = ("raised", "timed out", "died")  # after these the page's state is broken: later blocks do not run
# Where installed modules live: only those are worth preloading for later pages, never a page's own modules.
INSTALLED = tuple({sysconfig.get_path(key) + os.sep for key in ("stdlib", "platstdlib", "purelib", "platlib")})


@dataclass(frozen=True)
class BlockCode:
    """A block to run: its index in the page, its code, and the page line of each code line."""

    index: int
    code: str
    lines: Sequence[int]
    expect_exception: bool = False  # pytest.mark.xfail (or an alias): raising is this block's success
    raises: str | None = None  # xfail(raises=...): the source of the expected exception type(s), else any
    shell: str | None = None  # "sh", "bash" or "zsh": a shell block (harness/shell.py), else Python


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


@dataclass
class PageRun:
    """Everything the child process needs: plain data, so it crosses the process boundary."""

    filename: str  # how tracebacks name the page, e.g. "docs/x.md"
    text: str  # the page source, so tracebacks show its lines
    blocks: list[BlockCode]
    env: dict[str, str] = field(default_factory=dict)
    cwd: str = "."


class BoundedText(io.TextIOBase):
    """A stdout that keeps the first `limit` characters and counts the rest."""

    def __init__(self, limit: int = STDOUT_LIMIT):
        self.limit, self.parts, self.kept, self.dropped = limit, [], 0, 0

    def write(self, text: str) -> int:
        room = self.limit - self.kept
        self.parts.append(text[:room]) if room > 0 else None
        self.kept += min(len(text), max(room, 0))
        self.dropped += max(len(text) - max(room, 0), 0)
        return len(text)

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:
        return "utf-8"

    def getvalue(self) -> str:
        return "".join(self.parts)


def compile_block(block: BlockCode, filename: str):
    """Compile a block so its code objects and errors carry page lines, not block lines."""
    def page_line(line: int | None) -> int | None:
        return block.lines[min(line, len(block.lines)) - 1] if line and block.lines else line

    try:
        tree = ast.parse(block.code, filename)
    except SyntaxError as err:
        err.filename, err.lineno = filename, page_line(err.lineno)
        err.end_lineno = page_line(err.end_lineno) if err.end_lineno else None
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
        return compile(tree, filename, "exec", dont_inherit=True)
    except ValueError:  # positions Python refuses after mapping: block lines beat no run at all
        return compile(block.code, filename, "exec", dont_inherit=True)


def preload(specs) -> None:
    """Import each "module" or "module:name,name" (the names looked up); a failure is the page's to meet."""
    for spec in specs:
        module, _, names = spec.partition(":")
        try:
            imported = importlib.import_module(module)
            # transformers' lazy modules import a submodule only when a name is looked up.
            for name in filter(None, names.split(",")):
                getattr(imported, name, None)
        except BaseException:  # a page that fails to import fails in its own process, with its own traceback
            pass


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
        try:
            kind, payload = inbox.recv()
            while kind == "warm":
                warm(*payload)
                kind, payload = inbox.recv()
        except (EOFError, OSError):  # the harness ended without giving this process a page
            return
        page, log_path = payload
        _isolate(page, log_path)
        namespace = {"__name__": "__main__", "__builtins__": builtins}
        for block in page.blocks:
            run = _run_shell(block) if block.shell else _run_block(block, page.filename, namespace)
            sys.stderr.flush()
            sender.send_bytes(pickle.dumps(run))
            if run.status in STOPS:
                break
    finally:
        os._exit(0)  # no atexit handlers, no flushing of buffers inherited from the fork server


def _isolate(page: PageRun, log_path: str) -> None:
    """Point stdin, fd 1, fd 2, warnings and logging away from the terminal; set env and cwd."""
    os.environ.update(page.env)
    os.chdir(page.cwd)
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)  # C-level prints are not the block's output: keep them for failure reports
    os.dup2(log, 2)
    sys.stdin = open(os.devnull)
    sys.stderr = sys.__stderr__ = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
    sys.__stdout__ = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)

    def show(message, category, filename, lineno, file=None, line=None):
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    warnings.showwarning = show  # pytest's recorder would swallow them; a reader sees them on stderr
    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                handler.setStream(sys.stderr)
    lines = page.text.splitlines(keepends=True)
    linecache.cache[page.filename] = (len(page.text), None, lines, page.filename)


def _run_block(block: BlockCode, filename: str, namespace: dict) -> BlockRun:
    """Run one block in `namespace` with stdout captured; any exception, SystemExit included, is its result."""
    out = BoundedText()
    sys.stdout = tap = weights_use.block_start(out)
    modules, patterns = set(sys.modules), set(_regex_cache())
    start = time.perf_counter()
    try:
        exec(compile_block(block, filename), namespace)
        status, text = ("no exception" if block.expect_exception else "ok"), ""
    except BaseException as err:  # SystemExit and KeyboardInterrupt end this block, not the harness
        status, text = ("ok" if _expected(block, err, namespace) else "raised"), _format(err, filename)
    finally:
        sys.stdout = sys.__stdout__
    duration = time.perf_counter() - start
    weights, printed_after_stand_in = weights_use.block_end(tap)
    imported = tuple(name for name in sys.modules.keys() - modules if _installed(sys.modules.get(name)))
    compiled = tuple((key[1], key[2]) for key in _regex_cache() if key not in patterns)
    return BlockRun(block.index, status, out.getvalue(), out.dropped, text[-TRACEBACK_LIMIT:], duration,
                    imported=imported, compiled=compiled, weights=weights,
                    printed_after_stand_in=printed_after_stand_in)


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
    return BlockRun(block.index, status, stdout, dropped, result.message, result.duration)


def _regex_cache() -> list[tuple]:
    """The keys of re's compile cache, (type, pattern, flags), oldest first; [] where CPython keeps it elsewhere."""
    cache = getattr(re, "_cache", None)
    return [key for key in cache if isinstance(key, tuple) and len(key) == 3] if isinstance(cache, dict) else []


def _installed(module) -> bool:
    """True for a module loaded from the Python installation or its site-packages (not the repo, not a temp dir)."""
    return (getattr(module, "__file__", None) or "").startswith(INSTALLED)


def _format(err: BaseException, filename: str) -> str:
    """The traceback from the page's first frame on: what the reader would see running the code."""
    tb = err.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    if tb is None:  # a SyntaxError: raised while compiling, before any page frame
        return "".join(traceback.format_exception_only(type(err), err))
    return "".join(traceback.format_exception(type(err), err, tb))
