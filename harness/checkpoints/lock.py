"""checkpoints.lock: the checkpoints the pages may load, each pinned to a full commit, with its files, ref names,
legacy names (aliases) and the facts of its stand-in. Read by the resolver and by fetch.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from harness.checkpoints import hubcache

LOCK_FILE = "checkpoints.lock"
# Pickle-based formats run code when loaded: the harness never fetches nor accepts them.
FORBIDDEN_SUFFIXES = (".bin", ".h5", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".msgpack", ".ot", ".joblib")
FETCH_HINT = "run `python -m harness fetch` (or `make fetch-checkpoints`) on a machine that reaches the Hub"


class LockError(ValueError):
    """checkpoints.lock is malformed; str() names the file and the entry."""


@dataclass(frozen=True)
class LockEntry:
    """A pinned checkpoint: full commit revision, the files to fetch, ref names, stand-in facts (if any)."""

    name: str
    revision: str
    files: tuple[str, ...]
    refs: tuple[str, ...] = ("main",)
    standin: Path | None = None


@dataclass
class Lock:
    """checkpoints.lock: pinned checkpoints and legacy names (aliases) mapped to canonical ones."""

    checkpoints: dict[str, LockEntry]
    aliases: dict[str, str]

    @classmethod
    def load(cls, repo_root: Path) -> "Lock":
        """Read and validate `repo_root`/checkpoints.lock (missing file: an empty lock)."""
        path = Path(repo_root) / LOCK_FILE
        if not path.exists():
            return cls({}, {})
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as error:
            raise LockError(f"{path}: not valid JSON ({error})") from None
        entries = {}
        for name, raw in data.get("checkpoints", {}).items():
            where = f"{path}: checkpoint {name!r}"
            revision, files = raw.get("revision", ""), raw.get("files", [])
            if not hubcache.FULL_REVISION.fullmatch(revision):
                raise LockError(f"{where}: revision must be a full 40-hex commit, got {revision!r}")
            if not files or any(f.endswith(FORBIDDEN_SUFFIXES) for f in files):
                raise LockError(f"{where}: files must be listed and be safetensors/JSON/text, never pickle ({files})")
            facts = Path(repo_root) / raw["standin"] if raw.get("standin") else None
            entries[name] = LockEntry(name, revision, tuple(files), tuple(raw.get("refs", ["main"])), facts)
        aliases = dict(data.get("aliases", {}))
        for alias, target in aliases.items():
            if target not in entries:
                raise LockError(f"{path}: alias {alias!r} names {target!r}, which is not a locked checkpoint")
        return cls(entries, aliases)

    def canonical(self, name: str) -> str:
        """The canonical name of `name` (legacy names map through the alias table)."""
        return self.aliases.get(name, name)

    def names_of(self, canonical: str) -> list[str]:
        """The canonical name first, then its legacy aliases."""
        return [canonical] + sorted(a for a, t in self.aliases.items() if t == canonical)
