"""Runs one page's blocks in order, in one namespace, in a process of their own.

Each page runs in a process forked from a fork server that pre-imported what the pages import: torch and
transformers load once per pytest process, yet nothing a page does (variables, working directory,
environment, torch's seed, dtype or threads, sys.exit) reaches another page, and its memory is freed when
it ends. Pages run with the repo root as working directory, as `python snippets/<page>.py` does.
"""
from __future__ import annotations

import ast
import json
import multiprocessing
import os
import pickle
import signal
import tempfile
from contextlib import contextmanager
from typing import Iterable

# The data that crosses into the page's process and back, re-exported: callers need not know the split.
from harness.child import STDOUT_LIMIT, STOPS, BlockCode, BlockRun, PageRun, run_child  # noqa: F401

STDERR_TAIL = 4_000
MESSAGE_LIMIT = 16_000_000  # bytes: a message above this is a broken child, not a result


def import_specs(codes: Iterable[str]) -> list[str]:
    """The top-level imports of `codes` as "module" or "module:name,name", for the fork server to preload."""
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
    # harness.child: each child unpickles its target from it; pytest: a child re-runs pytest's script as
    # multiprocessing's __mp_main__, which imports pytest.
    preload = ["harness.child", "pytest", *imports]
    with _environ(dict(env, HARNESS_PRELOAD=json.dumps(preload))):
        forkserver.ensure_running()
    _started = True


def run_page(page: PageRun, timeout: float, imports: list[str] = ()) -> list[BlockRun]:
    """Run `page.blocks` in order in a fresh process; one BlockRun per block, in order."""
    start_server(list(imports), page.env)
    ctx = multiprocessing.get_context("forkserver")
    receiver, sender = ctx.Pipe(duplex=False)
    log = tempfile.NamedTemporaryFile(prefix="harness-page-", suffix=".log", delete=False)
    log.close()
    process = ctx.Process(target=run_child, args=(page, sender, log.name), daemon=True)
    runs: list[BlockRun] = []
    try:
        process.start()
        sender.close()
        for block in page.blocks:
            run = _receive(receiver, block, timeout, process)
            runs.append(run)
            if run.status in STOPS:
                if run.status in ("timed out", "died"):
                    run.stderr_tail = _tail(log.name)
                break
    finally:
        _kill(process)
        receiver.close()
        if runs and runs[-1].status == "raised":
            runs[-1].stderr_tail = _tail(log.name)
        os.unlink(log.name)
    runs += [BlockRun(block.index, "not run") for block in page.blocks[len(runs):]]
    return runs


def _receive(receiver, block: BlockCode, timeout: float, process) -> BlockRun:
    """Wait for the child's message about `block`, at most `timeout` seconds."""
    if not receiver.poll(timeout):
        _kill(process)
        return BlockRun(block.index, "timed out", duration=timeout)
    try:
        return pickle.loads(receiver.recv_bytes(MESSAGE_LIMIT))
    except (EOFError, OSError):
        _kill(process)
        process.join(5)
        code = process.exitcode
        how = f"killed by {signal.Signals(-code).name}" if code and code < 0 else f"exit code {code}"
        return BlockRun(block.index, "died", traceback=f"the process running the page ended ({how})")


def _kill(process) -> None:
    """SIGKILL the page's process group: the child and anything it started."""
    if process.pid is None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.join(5)


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
