"""Running one shell block (sh, bash, zsh): that shell, the block's code as its script, its stdout kept.

The page's process (child.py) calls it in the block's turn, so the block runs in the repo root with the page's
environment, and the harness's block timeout kills it with the page's process group. The shells are those
pytest-codeblocks runs (pytest_codeblocks/plugin.py: `sh` is the system shell, `bash` and `zsh` by name).
"""
from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass

STDERR_KEPT = 4_000  # characters of the shell's stderr shown when it fails


@dataclass
class ShellResult:
    """What the shell did: its exit status (None: it could not start), stdout, and a message when it failed."""

    returncode: int | None
    stdout: str
    message: str
    duration: float


def executable(language: str) -> str | None:
    """The shell that runs a `language` block ("sh" -> /bin/sh as subprocess's shell=True uses); None if absent."""
    return "/bin/sh" if language == "sh" else shutil.which(language)


def run_shell(language: str, code: str) -> ShellResult:
    """Run `code` with the `language` shell in the current directory; stdin is empty, stdout and stderr captured."""
    shell = executable(language)
    start = time.perf_counter()
    if shell is None:
        return ShellResult(None, "", f"{language} is not installed (no `{language}` on PATH)", 0.0)
    done = subprocess.run([shell, "-c", code], stdin=subprocess.DEVNULL, capture_output=True, check=False)
    duration = time.perf_counter() - start
    stdout = done.stdout.decode("utf-8", "replace")
    if done.returncode == 0:
        return ShellResult(0, stdout, "", duration)
    how = f"was killed by signal {-done.returncode}" if done.returncode < 0 else f"exited with status {done.returncode}"
    stderr = done.stderr.decode("utf-8", "replace")[-STDERR_KEPT:]
    message = f"{language} {how}" + (f"; its stderr:\n{stderr}" if stderr.strip() else " (nothing on stderr)")
    return ShellResult(done.returncode, stdout, message, duration)
