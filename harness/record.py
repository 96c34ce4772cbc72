"""The verification record: what each block ran on, and the committed record the site is built from.

`make verify` runs `pytest docs --verification-report verification.json`; the site (hooks/verification.py)
reads that file and nothing else, so serving and building need no torch. This module imports no torch,
transformers or pytest: the MkDocs hook uses it.
"""
from __future__ import annotations

import json
from pathlib import Path

RECORD_FILE = "verification.json"
# Fields each block of the record must have for the site to show it (see load()).
BLOCK_FIELDS = ("page", "line", "output_line", "status", "reason", "duration", "checkpoints", "python", "torch",
                "transformers", "tokenizers", "date")
VERSIONS = ("python", "torch", "transformers", "tokenizers")


class RecordError(ValueError):
    """The record cannot be read; str() names the file (and the block, when one block is at fault)."""


def checkpoints(uses, loads, lock, repo_root: Path) -> list[dict]:
    """What a block ran on: the checkpoints the plan resolved (`uses`, harness.checkpoints.resolver.CheckpointUse)
    and the models the page's process saw loaded (`loads`, from harness.checkpoints.weights_use), each with where
    its weights came from: {"from": "hub-cache", "revision"}, {"from": "stand-in", "facts"} or {"from": "package",
    "package", "version"}. `lock` (harness.checkpoints.lock.Lock or None) names the facts file of a stand-in, shown
    relative to `repo_root`."""
    entries: dict[str, dict] = {}
    for use in uses:
        if use.weights == "stand-in":
            entry = lock.checkpoints.get(use.name) if lock is not None else None
            facts = entry.standin.as_posix() if entry is not None and entry.standin is not None else None
            source = {"from": "stand-in", "facts": _relative(facts, repo_root)}
        else:
            source = {"from": "hub-cache", "revision": use.revision}
        entries[use.name] = {"name": use.name, "revision": use.revision, "weights": use.weights, "source": source}
    for load in loads:
        name = lock.canonical(load["name"]) if lock is not None else load["name"]
        if name in entries:
            continue  # a Hub checkpoint the plan resolved: its entry says more (real or stand-in, facts file)
        source = dict(load["source"])
        weights = "stand-in" if source.get("from") == "stand-in" else "real"
        entries[name] = {"name": name, "revision": load.get("revision"), "weights": weights, "source": source}
    return list(entries.values())


def _relative(path: str | None, root: Path) -> str | None:
    """A facts path relative to the repo root, as the record shows it."""
    if path:
        try:
            return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            pass
    return path


def load(path: Path) -> dict:
    """Read and check the record at `path`: {"environment", "blocks": [...]}.

    Raises FileNotFoundError when it is missing, RecordError (naming the file) when it is malformed.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        document = json.loads(text)
    except ValueError as error:
        raise RecordError(f"{path}: the verification record is not valid JSON ({error})") from None
    if not isinstance(document, dict) or not isinstance(document.get("blocks"), list):
        raise RecordError(f"{path}: the verification record has no list of blocks")
    for number, block in enumerate(document["blocks"], start=1):
        missing = [key for key in BLOCK_FIELDS if not isinstance(block, dict) or key not in block]
        if missing:
            where = f"{block.get('page')}:{block.get('line')}" if isinstance(block, dict) else f"entry {number}"
            raise RecordError(f"{path}: block {where} of the verification record lacks {', '.join(missing)}")
    return document


def counts(document: dict) -> dict[str, int]:
    """Blocks per verdict in a record, in the order of harness.report.VERDICTS (absent verdicts omitted)."""
    from harness.report import VERDICTS  # noqa: PLC0415  (report.py imports no torch either)

    found: dict[str, int] = {}
    for block in document["blocks"]:
        found[block["status"]] = found.get(block["status"], 0) + 1
    return {verdict: found[verdict] for verdict in [*VERDICTS, *sorted(found)] if verdict in found}
