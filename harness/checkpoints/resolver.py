"""Which checkpoints a page loads, and whether the run gets real weights or a stand-in.

The Resolver looks only at the local cache (never the network): real weights when the locked revision is
cached and complete, else a stand-in built from the checkpoint's facts (structural checks only), else an error.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Mapping, Sequence

from harness.checkpoints import hubcache, standin
from harness.checkpoints.inventory import InventoryError, Load, inventory, pipeline_default
from harness.checkpoints.lock import FETCH_HINT, LOCK_FILE, Lock, LockError


@dataclass(frozen=True)
class CheckpointUse:
    """One checkpoint a block relies on: its name, the revision it resolved to, real or stand-in weights."""

    name: str
    revision: str | None
    weights: Literal["real", "stand-in"]


@dataclass
class PagePlan:
    """What the runner needs to run one page: environment for the child, per-block checkpoint uses."""

    env: dict[str, str] = field(default_factory=dict)
    # uses[i]: the checkpoints block i relies on (loaded by it or by an earlier block of the page).
    uses: list[list[CheckpointUse]] = field(default_factory=list)
    # Label strings of stand-in checkpoints (id2label values): interchangeable in structural comparison.
    labels: frozenset[str] = frozenset()
    # A page that cannot run as asked (missing checkpoint under --require-models, corrupt cache, ...).
    error: str | None = None
    # Why blocks are structural (one line per stand-in), for the report.
    reason: str | None = None

    def structural(self, index: int) -> bool:
        """True when block `index` relies on a stand-in: its weight-dependent floats are not compared."""
        return any(use.weights == "stand-in" for use in self.uses[index]) if index < len(self.uses) else False


def apply_env(env: Mapping[str, str]) -> None:
    """Set `env` in this process, including the settings huggingface_hub read at import (a forked child has them)."""
    os.environ.update(env)
    import sys

    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        if "HF_HUB_CACHE" in env:
            constants.HF_HUB_CACHE = constants.HUGGINGFACE_HUB_CACHE = env["HF_HUB_CACHE"]
        if env.get("HF_HUB_OFFLINE") == "1":
            constants.HF_HUB_OFFLINE = True


class Resolver:
    """Session-wide: resolves checkpoint names to cached real weights or builds stand-ins once."""

    def __init__(self, repo_root: Path, require_models: bool = False, work_dir: Path | None = None,
                 hub_cache: Path | None = None, default=pipeline_default):
        self.repo_root = Path(repo_root)
        self.require_models = require_models
        self.work_dir = work_dir
        self.hub_cache = Path(hub_cache) if hub_cache else None  # None: the user's cache, as huggingface_hub sees it
        self.default = default
        self._lock: Lock | None = None
        self._resolved: dict[str, tuple[CheckpointUse | None, str | None]] = {}

    @property
    def lock(self) -> Lock:
        """The repo's checkpoints.lock, read once."""
        if self._lock is None:
            self._lock = Lock.load(self.repo_root)
        return self._lock

    @property
    def view(self) -> Path:
        """The session's own Hub cache for page children: links to real snapshots and stand-ins."""
        if self.work_dir is None:
            self.work_dir = Path(tempfile.mkdtemp(prefix="harness-checkpoints-"))
            atexit.register(shutil.rmtree, self.work_dir, True)
        path = Path(self.work_dir) / "hub"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def plan(self, codes: Sequence[str]) -> PagePlan:
        """Plan a page given its blocks' code, in page order."""
        try:
            lock = self.lock
            loads = inventory(codes, self.default)
        except (LockError, InventoryError, standin.StandInError) as error:
            return PagePlan(uses=[[] for _ in codes], error=str(error))
        # Offline always, and only the view cache: a page cannot load a checkpoint the inventory missed.
        env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_CACHE": str(self.view)}
        uses: list[list[CheckpointUse]] = []
        errors: list[str] = []
        current: list[CheckpointUse] = []
        for block_loads in loads:
            for load in block_loads:
                use, error = self._resolve(lock, load)
                if error and error not in errors:
                    errors.append(error)
                if use and use not in current:
                    current.append(use)
            uses.append(list(current))
        stand_ins = sorted({u.name for block in uses for u in block if u.weights == "stand-in"})
        labels = frozenset(v for name in stand_ins for v in self._facts(name)["config"].get("id2label", {}).values())
        reason = "; ".join(f"{n}: weights not cached, random-weight stand-in ({FETCH_HINT} for real ones)"
                           for n in stand_ins) or None
        return PagePlan(env, uses, labels, "\n".join(errors) or None, reason)

    def summary(self) -> list[str]:
        """One line per checkpoint resolved this session: real, stand-in, or what is wrong (for the terminal)."""
        lines = []
        for use, error in self._resolved.values():
            line = error or f"{use.name}@{use.revision[:7]}: " + (
                "real weights" if use.weights == "real" else f"stand-in (random weights): {FETCH_HINT} for real ones")
            if line not in lines:
                lines.append(line)
        return lines

    def _facts(self, name: str) -> dict:
        return standin.load_facts(self.lock.checkpoints[name].standin)

    def _resolve(self, lock: Lock, load: Load) -> tuple[CheckpointUse | None, str | None]:
        name = lock.canonical(load.name)
        key = f"{name}@{load.revision or ''}"
        if key not in self._resolved:
            self._resolved[key] = self._resolve_uncached(lock, name, load)
        return self._resolved[key]

    def _resolve_uncached(self, lock: Lock, name: str, load: Load) -> tuple[CheckpointUse | None, str | None]:
        entry = lock.checkpoints.get(name)
        cache = self.hub_cache or hubcache.user_cache()
        asked = load.revision
        if entry and asked and asked != "main" and not entry.revision.startswith(asked):
            return None, (f"checkpoint {name}: the page asks for revision {asked} but {LOCK_FILE} pins "
                          f"{entry.revision}: update {LOCK_FILE}, then {FETCH_HINT}")
        state = hubcache.inspect(cache, lock.names_of(name), entry.revision if entry else asked, entry.files if entry else [])
        refs = set(entry.refs if entry else ()) | {"main"} | ({asked} if asked else set())
        if state.status == "broken":
            return None, f"checkpoint {name}: {state.detail} (cache {cache}): {FETCH_HINT}"
        if state.status == "complete":
            for alias in lock.names_of(name):
                hubcache.link_view(self.view, alias, state.source, state.revision, refs)
            return CheckpointUse(name, state.revision, "real"), None
        if entry is None:
            return None, (f"checkpoint {name} (line {load.line} of its block) is neither in {LOCK_FILE} nor in the "
                          f"cache {cache}: add it to {LOCK_FILE} (revision and files), then {FETCH_HINT}")
        if self.require_models:
            return None, (f"checkpoint {name} (revision {entry.revision}) is not in the cache {cache} and "
                          f"--require-models asks for real weights: {FETCH_HINT}")
        if entry.standin is None:
            return None, (f"checkpoint {name} is not cached and has no stand-in recipe in {LOCK_FILE}: {FETCH_HINT}")
        try:
            built = standin.ensure(entry.standin)
        except (standin.StandInError, OSError) as error:
            return None, f"checkpoint {name}: {error}"
        source = self.view.parent / "standins" / ("models--" + name.replace("/", "--"))
        snapshot = source / "snapshots" / entry.revision
        if not snapshot.exists():
            snapshot.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(built, snapshot, target_is_directory=True)
        for alias in lock.names_of(name):
            hubcache.link_view(self.view, alias, source, entry.revision, refs)
        return CheckpointUse(name, entry.revision, "stand-in"), None
