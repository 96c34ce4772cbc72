"""The project's own pages: the harness against the same code run bare and in one interpreter."""
from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks import baselines
from benchmarks.measure import alternate, median_run, pair_records, run, run_many
from benchmarks.scaling import harness_command
from benchmarks.workspace import REPO, base_env


def page_scripts(repo: Path, out: Path, work_dir: Path) -> tuple[list[Path], dict[str, str]]:
    """Each page with code as a script (its runnable blocks concatenated) and the env its checkpoints need."""
    from harness.checkpoints.resolver import Resolver
    from harness.page import parse_page
    from harness.snippets import Site

    site = Site.load(repo)
    resolver = Resolver(repo, work_dir=work_dir)
    scripts, env = [], {}
    for path in sorted((repo / "docs").rglob("*.md")):
        codes = [block.code for block in parse_page(path, site).python_blocks if not block.skip_reason]
        if not codes:
            continue
        plan = resolver.plan(codes)
        if plan.error:
            continue
        # Stand-in checkpoints live in one session cache: every page's plan points at the same place.
        env.update(plan.env)
        script = out / (path.relative_to(repo / "docs").as_posix().replace("/", "__")[:-3] + ".py")
        script.write_text("\n\n".join(code.rstrip("\n") for code in codes) + "\n")
        scripts.append(script)
    return scripts, env


def measure_real_pages(repo: Path = REPO, repeat: int = 3, log=print) -> dict:
    """Harness over docs/ against bare `python page.py` runs and the one-interpreter baseline (`repeat` pairs)."""
    with tempfile.TemporaryDirectory(prefix="harness-bench-real-") as tmp:
        tmp = Path(tmp)
        scripts, plan_env = page_scripts(repo, tmp, tmp / "checkpoints")
        env = dict(base_env(), **plan_env)
        runs = {}
        log(f"  real pages: {len(scripts)} pages with code")
        # -p no:cacheprovider: a benchmark must not leave a record that a later --changed-only would trust.
        harness_runs, one_runs = alternate(
            lambda: run(harness_command([repo / "docs"], "-p", "no:cacheprovider"), repo, base_env()),
            lambda: run(baselines.one_interpreter_command(scripts), repo, env), repeat)
        runs["harness"], runs["one interpreter"] = median_run(harness_runs), median_run(one_runs)
        runs["bare python per page"] = run_many(baselines.bare_commands(scripts), repo, env)
        for name, r in runs.items():
            log(f"  real pages: {name}: {r.seconds:.1f} s" + ("" if r.ok else f" (exit {r.returncode})"))
        return {"pages": len(scripts), "runs": {name: r.record() for name, r in runs.items()},
                "pairs": pair_records(harness_runs, one_runs)}
