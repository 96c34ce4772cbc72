"""N copies of a code-heavy page: the harness against bare runs, one interpreter, nbval and nbmake."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from benchmarks import baselines, peers
from benchmarks.measure import Run, alternate, median_run, pair_records, run, run_many
from benchmarks.workspace import base_env, documented_template, make_workspace


def harness_command(paths: list[Path], *options: str) -> list[str]:
    """The harness over the given pages (the repo's pytest config loads the plugin)."""
    return [sys.executable, "-m", "pytest", "-q", *options, *map(str, paths)]


def measure_size(text: str, count: int, work: Path, with_peers: bool = True, repeat: int = 3,
                 log=print) -> tuple[dict[str, Run], list[dict]]:
    """Every way of checking `count` copies of the page, in one run, on one machine.

    The harness and the one-interpreter baseline alternate `repeat` times (their median runs are kept, and
    each pair's ratio); the slower baselines run once.
    """
    workspace = make_workspace(work / f"pages-{count}", text, count)
    root, env = workspace.root, base_env()
    runs: dict[str, Run] = {}

    def logged(name: str, fn):
        def measure() -> Run:
            log(f"  N={count}: {name} ...")
            result = fn()
            log(f"  N={count}: {name}: {result.seconds:.1f} s, peak {result.peak_pss_mb:.0f} MB"
                + ("" if result.ok else f" (exit {result.returncode})"))
            return result
        return measure

    def measure(name: str, fn) -> None:
        runs[name] = logged(name, fn)()

    # Each full run also writes the record that --changed-only reads next.
    harness_runs, one_runs = alternate(
        logged("harness", lambda: run(harness_command([root / "docs"]), root, env)),
        logged("one interpreter", lambda: run(baselines.one_interpreter_command(workspace.scripts), root, env)),
        repeat)
    runs["harness"] = median_run(harness_runs)
    measure("harness --changed-only (unchanged)",
            lambda: run(harness_command([root / "docs"], "--changed-only"), root, env))
    runs["one interpreter"] = median_run(one_runs)
    measure("bare python per page", lambda: run_many(baselines.bare_commands(workspace.scripts), root, env))
    if with_peers:
        peer_env = dict(env, **peers.PEER_ENV)
        measure("nbval", lambda: run(peers.nbval_command(root, workspace.notebooks), root, peer_env))
        measure("nbmake", lambda: run(peers.nbmake_command(root, workspace.notebooks), root, peer_env))
    return runs, pair_records(harness_runs, one_runs)


def measure_scaling(sizes: list[int], with_peers: bool = True, repeat: int = 3, log=print) -> dict:
    """Runs per page count, and per count the harness / one-interpreter pairs."""
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        work = Path(tmp)
        log("documenting the template page with --update-outputs ...")
        text = documented_template(work / "template")
        results, pairs = {}, {}
        for count in sizes:
            runs, pairs[count] = measure_size(text, count, work, with_peers, repeat, log)
            results[count] = {name: r.record() for name, r in runs.items()}
        return {"sizes": results, "pairs": pairs}

