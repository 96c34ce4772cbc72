"""What a run found, told two ways: the `blocks: ...` summary line and the `--verification-report` JSON."""
from __future__ import annotations

import datetime
import json
import platform
import subprocess
import sys
from collections import Counter
from importlib import metadata
from pathlib import Path

# The verdicts, in the order the summary line gives them.
VERDICTS = ("verified", "structural", "unchecked", "skipped", "failed", "not run")
EXPECTED_FAILURES = ("xfailed", "xpassed")  # shown only when a page has such blocks
PACKAGES = ("torch", "transformers", "huggingface_hub", "tokenizers")


class Tally:
    """Collects one record per block (from test reports, so xdist workers' blocks count on the controller)."""

    def __init__(self) -> None:
        self.records: list[dict] = []
        self.errors: list[dict] = []  # pages that could not be read: {"page", "line", "message"}
        self.sections: dict[str, object] = {}  # more top-level keys of the JSON report ("update", ...)

    def add(self, record: dict) -> None:
        """Count one block's record (a dict with at least "page", "line", "status")."""
        self.records.append(record)

    def counts(self, earlier: bool = False) -> Counter:
        """Blocks per verdict reached in this run (earlier=True: verdicts of unchanged pages, not re-run)."""
        return Counter(record["status"] for record in self.records if bool(record.get("earlier")) == earlier)

    def summary_line(self) -> str:
        """`blocks: N verified, N structural, N unchecked, N skipped, N failed, N not run`, then, with
        --changed-only, `; earlier, pages unchanged: N verified, N structural, ...` (the verdicts themselves)."""
        counts = self.counts()
        line = "blocks: " + ", ".join(f"{counts.get(verdict, 0)} {verdict}" for verdict in VERDICTS)
        earlier = self.counts(earlier=True)
        if earlier:  # --changed-only: pages not re-run keep their own verdicts, counted apart, never raised
            line += "; earlier, pages unchanged: " + ", ".join(
                f"{earlier[verdict]} {verdict}" for verdict in (*VERDICTS, *EXPECTED_FAILURES) if earlier.get(verdict))
        for status in EXPECTED_FAILURES:  # pytest.mark.xfail blocks (and pytest-codeblocks' expect-exception)
            if counts.get(status):
                line += f", {counts[status]} {status}"
        return line + (f"; {len(self.errors)} page(s) could not be read" if self.errors else "")

    def write(self, path: Path, repo_root: Path) -> None:
        """Write the JSON report: the environment, then one record per block in page order."""
        env = environment(repo_root)
        # Each block carries the versions and date it was checked with (the site shows them per output).
        stamp = {key: env[key] for key in ("python", "torch", "transformers", "tokenizers")} | {"date": env["date"][:10]}
        records = sorted(({**stamp, **record} for record in self.records), key=lambda r: (r["page"], r["line"]))
        document = {"environment": env, "blocks": records, "page_errors": self.errors, **self.sections}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def update_section(rewritten: list[dict], refused: list[dict]) -> dict:
    """What --update-outputs did, for the report and the terminal.

    `rewritten`: {"page", "output_line", "diff": ["- old", "+ new", ...]}; `refused`: {"page", "output_line", "why"}.
    The summary reads "N blocks rewritten in M pages, K refused" and then, per reason, why and where.
    """
    pages = len({entry["page"] for entry in rewritten})
    summary = (f"--update-outputs: {_count(len(rewritten), 'block')} rewritten in {_count(pages, 'page')}, "
               f"{len(refused)} refused")
    places: dict[str, list[str]] = {}
    for entry in refused:
        places.setdefault(entry["why"], []).append(f"{entry['page']}:{entry['output_line']}")
    if places:
        summary += ": " + "; ".join(f"{why} ({', '.join(where)})" for why, where in places.items())
    return {"rewritten": rewritten, "refused": refused, "summary": summary}


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def environment(repo_root: Path) -> dict:
    """Versions a reader needs to reproduce the run; a package that is absent is None."""
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        **versions,
        "harness": _harness_version(repo_root),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "executable": sys.executable,
    }


def _harness_version(repo_root: Path) -> str | None:
    """The commit the harness and pages are at ("+dirty" with uncommitted changes); None outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo_root, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo_root,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")
