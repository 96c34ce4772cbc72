"""`python -m benchmarks [--quick] [--sizes 1,10,50] [--only scaling,checkpoints,real,site] [--out DIR]`."""
from __future__ import annotations

import argparse
import os
import platform
import sys
import traceback
from pathlib import Path

from benchmarks import results

HERE = Path(__file__).resolve().parent
PARTS = ("scaling", "checkpoints", "real", "site")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--sizes", default="1,10,50", help="page counts to measure (default 1,10,50)")
    parser.add_argument("--quick", action="store_true", help="sizes 1,2 and no peers: checks the code, not the speed")
    parser.add_argument("--no-peers", action="store_true", help="skip nbval and nbmake")
    parser.add_argument("--repeat", type=int, default=3,
                        help="alternating harness / one-interpreter pairs per measurement (default 3; --quick: 1)")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts of {PARTS}")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="where latest.md/latest.json go")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the measurements, write benchmarks/results/latest.{md,json}, print the table."""
    args = parse_args(argv)
    sizes = [1, 2] if args.quick else [int(n) for n in args.sizes.split(",")]
    repeat = 1 if args.quick else max(1, args.repeat)
    parts = set(args.only.split(","))
    from harness.incremental import now, stack_versions

    data = {"when": now(), "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
            "versions": stack_versions(), "quick": args.quick, "repeat": repeat}

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    # Each part is independent: one that breaks is reported, the others still run.
    if "scaling" in parts:
        from benchmarks.scaling import measure_scaling
        log("scaling over N copies of a code-heavy page")
        data["scaling"] = _guard(lambda: measure_scaling(sizes, not (args.quick or args.no_peers), repeat, log=log))
    if "checkpoints" in parts:
        from benchmarks.checkpoint_pages import measure_checkpoint_pages
        log("N copies of a page that loads a checkpoint (the offline lab)")
        lab_sizes = sizes[:2] if args.quick else [10, 50]
        data["checkpoint_pages"] = _guard(lambda: measure_checkpoint_pages(lab_sizes, repeat, log=log,
                                                                           with_xdist=not args.quick))
    if "real" in parts:
        from benchmarks.real_pages import measure_real_pages
        log("the project's pages")
        data["real_pages"] = _guard(lambda: measure_real_pages(repeat=repeat, log=log))
    if "site" in parts:
        from benchmarks.site import measure_site
        log("the site")
        data["site"] = _guard(lambda: measure_site(log=log))
    data["targets"] = results.targets(data)
    path = results.write(data, args.out)
    print(path.read_text())
    print(f"written: {path} and {path.with_suffix('.json')}", file=sys.stderr)
    return 0 if all(part.get("error") is None for part in (data.get(k, {}) for k in ("scaling", "real_pages", "site"))) else 1


def _guard(measure) -> dict:
    """The part's results, or its error as a result (the benchmark still writes what it measured)."""
    try:
        return measure()
    except Exception:
        return {"error": traceback.format_exc(limit=5)}


if __name__ == "__main__":
    sys.exit(main())
