"""Runs one page's blocks in order, in one namespace, in a process of their own.

Each page runs in a process forked from a fork server that pre-imported what the pages import: torch and
transformers load once per pytest process, yet nothing a page does (variables, working directory,
environment, torch's seed, dtype or threads, sys.exit) reaches another page, and its memory is freed when
it ends. Pages run with the repo root as working directory, as `python snippets/<page>.py` does.

What running all pages in one interpreter would share, the harness shares without sharing state: the next
page's process is forked while the current page runs (on another core), and it loads up front, while it
waits, the installed modules and regular expressions earlier pages loaded. A page may therefore find in
sys.modules an installed module it never imported, as it finds the server's preloaded ones.
"""
from __future__ import annotations

import ast
import json
import multiprocessing
import os
import pickle
import signal
import sys
import tempfile
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Iterable

# The data that crosses into the page's process and back, re-exported: callers need not know the split.
from harness.child import STDOUT_LIMIT, STOPS, BlockCode, BlockRun, PageRun, run_child  # noqa: F401

STDERR_TAIL = 4_000
MESSAGE_LIMIT = 16_000_000  # bytes: a message above this is a broken child, not a result
# bytes a block may write to stdout (the child keeps STDOUT_LIMIT characters of it): beyond, its page is
# stopped, since such an output is never verified and its capture file must not fill the disk.
STDOUT_FILE_LIMIT = 100_000_000
WATCH_INTERVAL = 1.0  # seconds between looks at the size of a running block's stdout


def import_specs(codes: Iterable[str], repo_root: Path | None = None) -> list[str]:
    """The top-level imports of `codes` as "module" or "module:name,name", for the fork server to preload.

    Modules of the repo (a top-level name that is a file or folder in `repo_root`) are left out: each page's
    process imports them itself, so what it holds of the repo is what its own code imported (--changed-only
    hashes exactly those), and an edit made during the session is seen.
    """
    specs: dict[str, set[str]] = {}
    for code in codes:
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    specs.setdefault(alias.name, set())
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                specs.setdefault(node.module, set()).update(a.name for a in node.names if a.name != "*")
    if repo_root is not None:
        root = Path(repo_root)
        specs = {module: names for module, names in specs.items()
                 if not any((root / (module.partition(".")[0] + suffix)).exists() for suffix in ("", ".py"))}
    return [f"{module}:{','.join(sorted(names))}" if names else module for module, names in sorted(specs.items())]


_started = False


def start_server(imports: list[str], env: dict[str, str]) -> None:
    """Start the fork server once per process, pre-importing `imports` under `env` (read by imports)."""
    global _started
    if _started:
        return
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(["harness.preload"])
    # The server inherits the environment at its start: hub settings are read when modules import.
    preload = [*_main_imports(), *imports]
    with _environ(dict(env, HARNESS_PRELOAD=json.dumps(preload))):
        forkserver.ensure_running()
    _started = True


def _main_imports() -> list[str]:
    """What each child would import on its own to re-run this process's main as multiprocessing's __mp_main__.

    Run as the `pytest` script, a child re-runs that script, which imports pytest: preloaded, it costs
    nothing per page. Run as `python -m pytest`, children skip `pytest.__main__`: the server need not pay.
    """
    main = sys.modules.get("__main__")
    if getattr(getattr(main, "__spec__", None), "name", None) is None and getattr(main, "__file__", None):
        return ["pytest"]
    return []


@dataclass
class _Child:
    """A process forked from the fork server, waiting for its page on `inbox`; results come on `results`."""

    process: multiprocessing.process.BaseProcess
    inbox: Connection
    results: Connection


_spare: _Child | None = None  # forked while the previous page ran: the next page does not wait for a fork
# What pages loaded beyond the server's preload, which the one-interpreter run of all pages would keep warm:
# installed modules (transformers imports most of what a model needs lazily, on first use) and compiled
# regular expressions (its weight loading compiles hundreds). Each spare loads them while it waits.
_modules: dict[str, None] = {}
_patterns: dict[tuple, None] = {}
PATTERN_LIMIT = 512  # re's own cache keeps this many


def _fork_child(spare: bool = False) -> _Child:
    """Fork a process that waits for a page, and have it warm what earlier pages loaded (a spare warms torch too)."""
    child = _start_child("forkserver", spare)
    _warm(child, list(_modules), list(_patterns)[-PATTERN_LIMIT:])
    return child


def _start_child(method: str, spare: bool = False) -> _Child:
    """Start a process (multiprocessing start `method`) that waits for its page."""
    ctx = multiprocessing.get_context(method)
    page_receiver, inbox = ctx.Pipe(duplex=False)
    results, result_sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=run_child, args=(page_receiver, result_sender, spare), daemon=True)
    process.start()
    page_receiver.close()
    result_sender.close()
    return _Child(process, inbox, results)


def _learn(runs: list[BlockRun]) -> None:
    """Note what the page's blocks loaded, and have the waiting spare load what is new."""
    modules = [name for run in runs for name in run.imported if name not in _modules]
    patterns = [key for run in runs for key in run.compiled if key not in _patterns]
    _modules.update(dict.fromkeys(modules))
    _patterns.update(dict.fromkeys(patterns))
    _warm(_spare, modules, patterns[-PATTERN_LIMIT:])


def _warm(child: _Child | None, modules: list[str], patterns: list[tuple]) -> None:
    """Ask a waiting child to load `modules` and `patterns` before its page comes (a dead child is replaced later)."""
    if child is not None and (modules or patterns):
        with suppress(OSError):
            child.inbox.send(("warm", (modules, patterns)))


def run_page(page: PageRun, timeout: float, imports: list[str] = (), fresh: bool = False) -> list[BlockRun]:
    """Run `page.blocks` in order in a fresh process; one BlockRun per block, in order.

    `fresh`: in a new interpreter (spawn) instead of a fork of the server: slower, but with its own hash
    seed (set and dict-of-str orders), as a second `python` run has (`--repeat`).
    """
    global _spare
    if fresh:
        return _run(_start_child("spawn"), page, timeout, lambda: _start_child("spawn"))
    start_server(list(imports), page.env)
    child, _spare = _spare or _fork_child(), None
    runs = _run(child, page, timeout, _fork_child, ahead=True)
    _learn(runs)
    return runs


def _run(child: _Child, page: PageRun, timeout: float, replace, ahead: bool = False) -> list[BlockRun]:
    """Give `page` to `child` (or, if it died waiting, to one `replace()` starts) and collect its BlockRuns.

    `ahead`: fork the next page's process while this page runs.
    """
    global _spare
    log = tempfile.NamedTemporaryFile(prefix="harness-page-", suffix=".log", delete=False)
    log.close()
    runs: list[BlockRun] = []
    try:
        try:
            child.inbox.send(("page", (page, log.name)))
        except OSError:  # the waiting process died (killed from outside): fork another
            _kill(child.process)
            child = replace()
            child.inbox.send(("page", (page, log.name)))
        child.inbox.close()
        if ahead:  # the next page's process forks now, on another core while this page runs
            _spare = _fork_child(spare=True)
        for block in page.blocks:
            run = _receive(child.results, block, timeout, child.process)
            runs.append(run)
            if run.status in STOPS:
                if run.status in ("timed out", "died"):
                    run.stderr_tail = _tail(log.name)
                break
    finally:
        _kill(child.process)
        child.results.close()
        if runs and runs[-1].status == "raised":
            runs[-1].stderr_tail = _tail(log.name)
        os.unlink(log.name)
    runs += [BlockRun(block.index, "not run") for block in page.blocks[len(runs):]]
    return runs


def _receive(receiver, block: BlockCode, timeout: float, process) -> BlockRun:
    """Wait for the child's message about `block`, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not receiver.poll(max(0.0, min(WATCH_INTERVAL, deadline - time.monotonic()))):
        if time.monotonic() >= deadline:
            _kill(process)
            return BlockRun(block.index, "timed out", duration=timeout)
        if _stdout_size(process.pid) > STDOUT_FILE_LIMIT:
            _kill(process)
            return BlockRun(block.index, "died", traceback=f"the block wrote more than {STDOUT_FILE_LIMIT:,} "
                            "bytes to stdout; the page was stopped")
    try:
        return pickle.loads(receiver.recv_bytes(MESSAGE_LIMIT))
    except (EOFError, OSError):
        _kill(process)
        process.join(5)  # its exit code says how it died
        code = process.exitcode
        how = f"killed by {signal.Signals(-code).name}" if code and code < 0 else f"exit code {code}"
        return BlockRun(block.index, "died", traceback=f"the process running the page ended ({how})")


def _stdout_size(pid: int | None) -> int:
    """Bytes in the page process's stdout (its capture file, child.StdoutCapture); 0 where /proc cannot tell."""
    try:
        return os.stat(f"/proc/{pid}/fd/1").st_size
    except (OSError, TypeError):
        return 0


def _kill(process) -> None:
    """SIGKILL the page's process group: the child and anything it started.

    Not waited for: the kernel frees a dead page's memory while the next page runs.
    """
    if process.pid is None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        if process.is_alive():  # not yet its own group leader
            process.kill()


def _tail(path: str) -> str:
    """The last STDERR_TAIL characters the child wrote to its stderr."""
    with open(path, "rb") as log:
        log.seek(max(0, os.path.getsize(path) - STDERR_TAIL))
        return log.read().decode("utf-8", "replace")


@contextmanager
def _environ(env: dict[str, str]):
    """Set `env` in os.environ for the duration, then put back what was there."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
