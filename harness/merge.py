"""`python -m harness merge-reports a.json b.json -o all.json`: split runs' verification reports as one record.

A course verified in parts (separate CI jobs, each selecting pages by path; pytest-xdist already writes one
report) gives one --verification-report per part. Their merge lists every block and every unreadable page once,
in the order a whole run writes them, so it equals the report of one run over all the parts' pages (dates and
durations aside). Parts must describe one state of the course: the same harness commit and package versions;
a block reported by two parts must have the same verdict. Otherwise nothing is written and the error names the
files.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.report import PACKAGES
from harness.rewrite import write_atomic

# Environment fields that must agree: they say which code and which libraries produced the verdicts.
SAME = ("python", "harness", *PACKAGES)


class MergeError(ValueError):
    """The parts cannot form one record; str() names the files and what differs."""


def merge(parts: dict[str, dict]) -> dict:
    """One report from `parts` (file name -> parsed report); raises MergeError on disagreement.

    The environment is the first part's, dated by the latest part, with each part's file, date and platform
    listed under "parts".
    """
    if not parts:
        raise MergeError("no reports to merge")
    names = list(parts)
    first = parts[names[0]].get("environment", {})
    for name in names[1:]:
        environment = parts[name].get("environment", {})
        for key in SAME:
            if environment.get(key) != first.get(key):
                raise MergeError(f"{name}: {key} is {environment.get(key)!r}, but {names[0]} has {first.get(key)!r}: "
                                 "the parts must verify the same state of the course")
    blocks: dict[tuple, tuple[str, dict]] = {}
    errors: dict[tuple, dict] = {}
    for name, document in parts.items():
        for record in document.get("blocks", []):
            key = (record["page"], record["line"])
            if key in blocks and blocks[key][1]["status"] != record["status"]:
                raise MergeError(f"{record['page']}:{record['line']}: {blocks[key][0]} says "
                                 f"{blocks[key][1]['status']!r}, {name} says {record['status']!r}")
            blocks.setdefault(key, (name, record))
        for error in document.get("page_errors", []):
            errors.setdefault((error.get("page"), error.get("line"), error.get("message")), error)
    environment = dict(first, date=max(str(parts[n].get("environment", {}).get("date", "")) for n in names))
    environment["parts"] = [{"report": name, **{k: parts[name].get("environment", {}).get(k)
                                                for k in ("date", "platform")}} for name in names]
    # Keys a whole run writes beside blocks and page_errors come from the first part that has them.
    merged = {key: value for document in reversed(list(parts.values())) for key, value in document.items()}
    merged.update(environment=environment,
                  blocks=[record for _, (_, record) in sorted(blocks.items(), key=lambda item: item[0])],
                  page_errors=sorted(errors.values(), key=lambda e: (str(e.get("page")), e.get("line") or 0)))
    return merged


def main(argv: list[str] | None = None) -> int:
    """Read the reports, write the merge atomically; 2 with a message naming the file on any error."""
    parser = argparse.ArgumentParser(prog="python -m harness merge-reports", description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", type=Path, help="--verification-report files of the parts")
    parser.add_argument("-o", "--output", type=Path, required=True, help="where the merged report goes")
    args = parser.parse_args(argv)
    parts = {}
    try:
        seen = set()
        for path in args.reports:
            real = path.resolve()
            if real in seen:  # the same part twice (by any name): almost surely a typo for another part
                raise MergeError(f"{path}: given twice")
            seen.add(real)
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise MergeError(f"{path}: not a readable JSON report ({error})") from None
            if not isinstance(document, dict) or not isinstance(document.get("blocks"), list):
                raise MergeError(f"{path}: not a --verification-report (no \"blocks\" list)")
            parts[str(path)] = document
        merged = merge(parts)
    except MergeError as error:
        print(f"merge-reports: {error}", file=sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(args.output, (json.dumps(merged, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    print(f"merged {len(parts)} reports: {len(merged['blocks'])} blocks, "
          f"{len(merged['page_errors'])} unreadable page(s) -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
