"""Read the Hugging Face cache layout (models--org--name/snapshots/<revision>/...) without the network.

Also assembles a "view" cache: refs of our choosing, pointing at snapshots that live elsewhere.
"""
from __future__ import annotations

import json
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

FULL_REVISION = re.compile(r"[0-9a-f]{40}")


def user_cache() -> Path:
    """The Hub cache huggingface_hub uses in this process (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/...)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def repo_dir(cache: Path, name: str) -> Path:
    """The folder of checkpoint `name` in `cache`, as huggingface_hub names it."""
    return Path(cache) / ("models--" + name.replace("/", "--"))


@dataclass(frozen=True)
class CacheState:
    """What the cache holds for one checkpoint: complete, absent (nothing usable) or broken (say why)."""

    status: Literal["complete", "absent", "broken"]
    revision: str | None = None
    source: Path | None = None  # the repo folder the snapshot lives in
    detail: str = ""


def file_problem(path: Path) -> str | None:
    """Why the cached file at `path` cannot be used as is, or None when it looks complete."""
    if not path.exists():
        return f"{path.name} is missing" if not path.is_symlink() else f"{path.name} points to a missing blob"
    if path.suffix == ".safetensors":
        return safetensors_problem(path)
    if path.suffix == ".json":
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            return f"{path.name} is not valid JSON ({error})"
    elif path.stat().st_size == 0:
        return f"{path.name} is empty"
    return None


def safetensors_problem(path: Path) -> str | None:
    """A safetensors file is complete when its header parses and its size is the header's last data offset."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            return f"{path.name} is truncated ({size} bytes, no header)"
        (header_len,) = struct.unpack("<Q", prefix)
        if 8 + header_len > size:
            return f"{path.name} is truncated ({size} bytes, header says {header_len} header bytes)"
        try:
            header = json.loads(handle.read(header_len))
        except ValueError:
            return f"{path.name} has an unreadable header"
    end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    if size != 8 + header_len + end:
        return f"{path.name} is truncated or padded ({size} bytes, header says {8 + header_len + end})"
    return None


def snapshot_problems(snapshot: Path, files: Iterable[str]) -> list[str]:
    """Problems of the named files in one snapshot folder (empty: all complete)."""
    return [problem for name in files if (problem := file_problem(snapshot / name))]


def inspect(cache: Path, names: Iterable[str], revision: str | None, files: Iterable[str]) -> CacheState:
    """Look for `revision` (a commit, or a ref such as main; None: main) of a checkpoint known under `names`."""
    files = list(files)
    seen: list[str] = []
    for name in names:
        folder = repo_dir(cache, name)
        wanted = revision if FULL_REVISION.fullmatch(revision or "") else _read_ref(folder, revision or "main")
        if wanted and (folder / "snapshots" / wanted).is_dir():
            snapshot = folder / "snapshots" / wanted
            present = files or [p.name for p in snapshot.iterdir()]
            problems = snapshot_problems(snapshot, present)
            if problems:
                return CacheState("broken", wanted, folder, "; ".join(problems))
            return CacheState("complete", wanted, folder)
        seen += sorted(p.name for p in (folder / "snapshots").glob("*") if p.is_dir())
    if seen:
        want = revision or "the revision refs/main names"
        return CacheState("broken", None, None, f"the cache has revision(s) {', '.join(seen)}, not {want}")
    return CacheState("absent")


def _read_ref(folder: Path, ref: str) -> str | None:
    path = folder / "refs" / ref
    return path.read_text().strip() if path.is_file() else None


def link_view(view: Path, name: str, source: Path, revision: str, refs: Iterable[str]) -> Path:
    """Make `view`/models--name serve `source`'s snapshots, with each ref in `refs` naming `revision`.

    The view has its own refs so a page gets the locked revision even when the user's refs/main moved on.
    """
    folder = repo_dir(view, name)
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    for sub in ("snapshots", "blobs"):
        link, target = folder / sub, Path(source).resolve() / sub
        if target.is_dir() and not link.is_symlink():
            # Snapshot files are relative links to ../../blobs: the kernel resolves them from the real folder.
            os.symlink(target, link, target_is_directory=True)
    for ref in refs:
        if ref != revision:
            (folder / "refs" / ref).write_text(revision)
    return folder
