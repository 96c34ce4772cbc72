"""The code without the harness: one `python page.py` per page, or all pages in one interpreter."""
from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path


def bare_commands(scripts: list[Path]) -> list[list[str]]:
    """One `python page.py` per page, run one after another: what checking pages naively costs."""
    return [[sys.executable, str(script)] for script in scripts]


def one_interpreter_command(scripts: list[Path]) -> list[str]:
    """One interpreter that runs every page's script in turn: one start + imports + Σ pages' own compute."""
    return [sys.executable, "-m", "benchmarks.baselines", *map(str, scripts)]


def run_scripts(paths: list[str]) -> int:
    """Exec each script in a fresh namespace, its stdout captured like the harness does; 1 if one raised."""
    failed = 0
    for path in paths:
        source = Path(path).read_text()
        namespace = {"__name__": "__main__", "__file__": path}
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                exec(compile(source, path, "exec"), namespace)
            except Exception as error:  # report and go on, as the harness does with a failed page
                print(f"{path}: {type(error).__name__}: {error}", file=sys.stderr)
                failed = 1
        # Drop the page's objects before the next page, as a finished page's memory is freed by the harness.
        namespace.clear()
    return failed


if __name__ == "__main__":
    sys.exit(run_scripts(sys.argv[1:]))
