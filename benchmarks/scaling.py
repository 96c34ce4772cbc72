"""N copies of a code-heavy page: the harness against bare runs, one interpreter, nbval and nbmake."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from benchmarks import baselines, peers
from benchmarks.measure import Run, run, run_many
from benchmarks.workspace import base_env, documented_template, make_workspace


def harness_command(paths: list[Path], *options: str) -> list[str]:
    """The harness over the given pages (the repo's pytest config loads the plugin)."""
    return [sys.executable, "-m", "pytest", "-q", *options, *map(str, paths)]


def measure_size(text: str, count: int, work: Path, with_peers: bool = True, log=print) -> dict[str, Run]:
    """Every way of checking `count` copies of the page, in one run, on one machine."""
    workspace = make_workspace(work / f"pages-{count}", text, count)
    root, env = workspace.root, base_env()
    runs: dict[str, Run] = {}

    def measure(name: str, fn) -> None:
        log(f"  N={count}: {name} ...")
        runs[name] = fn()
        log(f"  N={count}: {name}: {runs[name].seconds:.1f} s, peak {runs[name].peak_pss_mb:.0f} MB"
            + ("" if runs[name].ok else f" (exit {runs[name].returncode})"))

    # The full run also writes the record --changed-only reads next.
    measure("harness", lambda: run(harness_command([root / "docs"]), root, env))
    measure("harness --changed-only (unchanged)",
            lambda: run(harness_command([root / "docs"], "--changed-only"), root, env))
    measure("one interpreter", lambda: run(baselines.one_interpreter_command(workspace.scripts), root, env))
    measure("bare python per page", lambda: run_many(baselines.bare_commands(workspace.scripts), root, env))
    if with_peers:
        peer_env = dict(env, **peers.PEER_ENV)
        measure("nbval", lambda: run(peers.nbval_command(root, workspace.notebooks), root, peer_env))
        measure("nbmake", lambda: run(peers.nbmake_command(root, workspace.notebooks), root, peer_env))
    return runs


def measure_scaling(sizes: list[int], with_peers: bool = True, log=print) -> dict:
    """Runs per page count, plus the template page as the harness documented it."""
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        work = Path(tmp)
        log("documenting the template page with --update-outputs ...")
        text = documented_template(work / "template")
        results = {}
        for count in sizes:
            runs = measure_size(text, count, work, with_peers, log)
            results[count] = {name: r.record() for name, r in runs.items()}
        return {"sizes": results}

