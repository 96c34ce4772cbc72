"""Which checkpoints a page loads, and whether the run gets real weights or a stand-in.

INTERFACE STUB: the runner relies on `CheckpointUse`, `PagePlan` and `Resolver.plan`;
the inventory, the lock file and stand-ins fill it in.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Sequence


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

    def structural(self, index: int) -> bool:
        """True when block `index` relies on a stand-in: its weight-dependent floats are not compared."""
        return any(use.weights == "stand-in" for use in self.uses[index]) if index < len(self.uses) else False


class Resolver:
    """Session-wide: resolves checkpoint names to cached real weights or builds stand-ins once."""

    def __init__(self, repo_root: Path, require_models: bool = False, work_dir: Path | None = None):
        self.repo_root = repo_root
        self.require_models = require_models
        self.work_dir = work_dir

    def plan(self, codes: Sequence[str]) -> PagePlan:
        """Plan a page given its blocks' code, in page order."""
        return PagePlan(uses=[[] for _ in codes])
