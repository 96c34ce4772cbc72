"""The code without the harness: one `python page.py` per page, all pages in one interpreter, or one interpreter
that forks a process per page (`--fork`)."""
from __future__ import annotations

import contextlib
import ctypes
import io
import os
import sys
import types
from pathlib import Path


def bare_commands(scripts: list[Path]) -> list[list[str]]:
    """One `python page.py` per page, run one after another: what checking pages naively costs."""
    return [[sys.executable, str(script)] for script in scripts]


def one_interpreter_command(scripts: list[Path]) -> list[str]:
    """One interpreter that runs every page's script in turn: one start + imports + Σ pages' own compute."""
    return [sys.executable, "-m", "benchmarks.baselines", *map(str, scripts)]


def forked_pages_command(scripts: list[Path]) -> list[str]:
    """One interpreter that runs the first page itself, then each other page in a process forked from it.

    The simplest fresh process per page, with no harness and no pytest: the parent is as warm as one interpreter
    after a page (imports, a first checkpoint load), and each page's process is forked while the page before
    runs. The harness's page processes are forked ahead too, from a server that ran no page (runner.py).
    """
    return [sys.executable, "-m", "benchmarks.baselines", "--fork", *map(str, scripts)]


def run_scripts(paths: list[str]) -> int:
    """Exec each script as `python script.py` would (module `__main__`, absolute `__file__`, `sys.argv`, its
    source's encoding), Python's sys.stdout captured; 1 if one raised or exited with a failure code (each
    reported on stderr with its path). `sys.exit(0)` ends only its own script."""
    failed = 0
    for path in paths:
        with _as_main(path) as namespace:
            try:
                exec(compile(Path(path).read_bytes(), path, "exec"), namespace)
            except SystemExit as exit:  # as `python page.py` would end: the next page still runs
                if exit.code not in (None, 0):
                    print(f"{path}: SystemExit: {exit.code}", file=sys.stderr)
                    failed = 1
            except Exception as error:  # report and go on, as the harness does with a failed page
                print(f"{path}: {type(error).__name__}: {error}", file=sys.stderr)
                failed = 1
    return failed


@contextlib.contextmanager
def _as_main(path: str):
    """A fresh `__main__` module for the script at `path` (its classes pickle, as under `python path`); after it,
    this process's main module, argv, working directory and standard streams as they were."""
    module = types.ModuleType("__main__")
    module.__file__ = os.path.abspath(path)
    saved = sys.modules["__main__"], sys.argv, os.getcwd(), sys.stdout, sys.stderr
    sys.modules["__main__"], sys.argv = module, [path]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield module.__dict__
    finally:
        sys.modules["__main__"], sys.argv, cwd, sys.stdout, sys.stderr = saved
        os.chdir(cwd)
        # Drop the page's objects before the next page, as a finished page's memory is freed by the harness.
        module.__dict__.clear()


def run_forked(paths: list[str]) -> int:
    """Run the first script here and each other one in a process forked from this one, in order; 1 if one
    raised (its process reports it on stderr, as run_scripts does)."""
    failed = run_scripts(paths[:1])
    spare = _fork_page() if len(paths) > 1 else None
    for index, path in enumerate(paths[1:], start=2):
        pid, inbox = spare
        os.write(inbox, os.fsencode(path))
        os.close(inbox)
        spare = _fork_page() if index < len(paths) else None  # the next page's process forks while this page runs
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        if code not in (0, 1):  # 1: the page's process told why; any other ending it could not tell
            print(f"{path}: its process ended ({f'signal {-code}' if code < 0 else f'exit code {code}'})",
                  file=sys.stderr)
        failed |= code != 0
    return int(failed)


def _fork_page() -> tuple[int, int]:
    """A process forked now that waits for a script's path, runs it and exits: (its pid, the pipe to send on)."""
    _flush()  # else what this process buffered is written again by the child
    receive, send = os.pipe()
    pid = os.fork()
    if pid:
        os.close(receive)
        return pid, send
    code, path = 1, b""
    try:
        os.close(send)
        while chunk := os.read(receive, 4096):
            path += chunk
        # No path: the parent ended without a page for this process (killed, or stopped early).
        code = run_scripts([os.fsdecode(path)]) if path else 0
    except BaseException as error:  # noqa: BLE001  (KeyboardInterrupt too: told with its page, then the exit)
        print(f"{os.fsdecode(path) or 'a forked page'}: {type(error).__name__}: {error}", file=sys.stderr)
    finally:
        _flush()
        os._exit(code)  # never back into the parent's loop


def _flush() -> None:
    """Python's and C's buffers of this process's stdout and stderr to their files (a page's printf too)."""
    for stream in {id(s): s for s in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__) if s}.values():
        try:
            stream.flush()
        except (OSError, ValueError):  # closed by a page: nothing of it to keep
            pass
    try:
        ctypes.CDLL(None).fflush(None)  # fflush(NULL): every C stdio stream
    except (OSError, AttributeError):  # no C library to ask
        pass


if __name__ == "__main__":
    # No stdin for the pages, as the harness gives them: a process forked after a read would read it again.
    _devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(_devnull, 0)
    sys.stdin = open(0, closefd=False)
    if sys.argv[1:2] == ["--fork"]:
        sys.exit(run_forked(sys.argv[2:]))
    sys.exit(run_scripts(sys.argv[1:]))
