"""Incremental verification (`--changed-only`): which pages are unchanged since they last passed.

A page's fingerprint covers everything its verdict depends on: its blocks' expanded code, documented
outputs, skip reasons and tolerances, the versions of the stack, the checkpoints it resolves to, the
harness's own source, and the repo files the page's process imported, opened for reading or listed (which only a
run can tell, harness/inputs.py: the record keeps their list from the run that passed, and a check hashes those
files as they are now). A page whose inputs cannot be followed (it starts another process, say) is never recorded.
The record of passed pages lives in pytest's cache directory.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Mapping

# pytest's cache key; the value is {"format": FORMAT, "pages": {page_key: {"fingerprint", "verified_at", "repo_files",
# "verdicts"}}}, "verdicts" holding each block's verdict by block index ("0", "1", ...).
CACHE_KEY = "harness/verified-pages"
# 1 kept no verdicts, 2 listed only the repo modules a page imported (not the files it read): such a record is
# read as empty (a full run), never as "verified".
FORMAT = 3
# A page is recorded only when every block ended in one of these; anything else re-runs next time.
PASSING = frozenset({"verified", "structural", "unchecked", "skipped", "xfailed", "xpassed"})
PACKAGES = ("torch", "transformers", "tokenizers", "huggingface_hub")
HARNESS_DIR = Path(__file__).resolve().parent


def stack_versions() -> dict[str, str]:
    """Versions a documented output depends on: Python and the packages the pages import."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    # A change in how the harness parses or compares must re-verify every page, not trust old verdicts.
    versions["harness"] = harness_digest()
    return versions


def harness_digest(directory: Path = HARNESS_DIR) -> str:
    """sha256 over the harness's own files: its sources and the stand-in recipes (sorted by path)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.suffix in (".py", ".json") and p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def repo_files_digest(root: Path, files: Iterable[str]) -> dict[str, str]:
    """sha256 (16 hex digits) of each repo-relative file, "missing" for one that is gone; of a name ending in "/"
    (a folder the page listed, harness/inputs.py), of its sorted entry names."""
    digests = {}
    for name in sorted(set(files)):
        path = Path(root) / name
        try:
            content = ("\0".join(sorted(os.listdir(path))).encode("utf-8", "surrogateescape") if name.endswith("/")
                       else path.read_bytes())
            digests[name] = hashlib.sha256(content).hexdigest()[:16]
        except OSError:
            digests[name] = "missing"
    return digests


def page_fingerprint(page: Any, plan: Any, versions: Mapping[str, str],
                     repo_files: Mapping[str, str] | None = None) -> str:
    """sha256 over what decides the page's verdict: blocks, outputs, markers, versions, checkpoint uses, and the
    digests of the repo files it imported or read (`repo_files_digest`)."""
    blocks = []
    for index, block in enumerate(page.blocks):
        output = block.output.text if block.output is not None else None
        uses = plan.uses[index] if plan is not None and index < len(plan.uses) else []
        blocks.append({
            "code": block.code,
            "output": output,
            "skip": block.skip_reason,
            "importorskip": getattr(block, "importorskip", None),
            "expect_exception": getattr(block, "expect_exception", False),
            "marks": getattr(block, "marks", []), "continues": getattr(block, "continues", False),
            "tolerance": _plain(block.tolerance),
            # A `>>>` session documents its outputs under its prompts, not in an Output block.
            "session": [[e.source, e.want.text, e.skip] for e in getattr(block, "session", None) or []],
            "uses": sorted([use.name, use.revision, use.weights] for use in uses),
        })
    state = {
        "blocks": blocks,
        "tolerance": _plain((page.front_matter or {}).get("tolerance")),
        "versions": dict(sorted(versions.items())),
        "plan_error": getattr(plan, "error", None),
        "repo_files": dict(sorted((repo_files or {}).items())),
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True, default=repr).encode()).hexdigest()


def page_passed(statuses: Iterable[str]) -> bool:
    """True when every block of the page ended in a passing verdict (and the page has blocks)."""
    statuses = list(statuses)
    return bool(statuses) and all(status in PASSING for status in statuses)


def now() -> str:
    """The current UTC time to the minute, as recorded and shown: 2026-11-25T17:03Z."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


def skip_reason(verdict: str, when: str) -> str:
    """The reason shown for a block of a page not re-run: its earlier verdict itself, never a raised one."""
    return f"{verdict}, earlier on {when} (unchanged)"


class VerifiedRecord:
    """Pages that passed, by page key: their fingerprint then, when, and each block's verdict; a damaged record is empty."""

    def __init__(self, cache: Any, pages: dict[str, dict[str, Any]] | None = None):
        self.cache = cache
        self.pages = pages if pages is not None else {}

    @classmethod
    def load(cls, cache: Any) -> "VerifiedRecord":
        """Read the record from pytest's cache; anything missing, stale or malformed yields an empty one."""
        raw = cache.get(CACHE_KEY, None) if cache is not None else None
        pages: dict[str, dict[str, Any]] = {}
        if isinstance(raw, dict) and raw.get("format") == FORMAT and isinstance(raw.get("pages"), dict):
            for key, entry in raw["pages"].items():
                if (isinstance(entry, dict) and isinstance(entry.get("fingerprint"), str)
                        and isinstance(entry.get("verified_at"), str) and isinstance(entry.get("verdicts"), dict)
                        and all(isinstance(v, str) and v in PASSING for v in entry["verdicts"].values())):
                    files = entry.get("repo_files", [])
                    files = [name for name in files if isinstance(name, str)] if isinstance(files, list) else []
                    pages[key] = {"fingerprint": entry["fingerprint"], "verified_at": entry["verified_at"],
                                  "repo_files": files, "verdicts": dict(entry["verdicts"])}
        return cls(cache, pages)

    def repo_files(self, page_key: str) -> list[str]:
        """The repo files the page imported or read when it last passed ([] if it never did)."""
        return list(self.pages.get(page_key, {}).get("repo_files", []))

    def verified_at(self, page_key: str, fingerprint: str) -> str | None:
        """When the page last passed with exactly this fingerprint, else None."""
        entry = self.pages.get(page_key)
        return entry["verified_at"] if entry and entry["fingerprint"] == fingerprint else None

    def verdicts(self, page_key: str, fingerprint: str) -> dict[int, str] | None:
        """Each block's verdict (by block index) when the page last passed with this fingerprint, else None."""
        entry = self.pages.get(page_key)
        if not entry or entry["fingerprint"] != fingerprint:
            return None
        return {int(index): verdict for index, verdict in entry["verdicts"].items() if index.isdigit()}

    def record(self, page_key: str, fingerprint: str, when: str, repo_files: Iterable[str] = (),
               verdicts: Mapping[int, str] | None = None) -> None:
        """Remember that the page passed with this fingerprint at `when`, having imported or read these repo
        files, with each block's verdict by index."""
        self.pages[page_key] = {"fingerprint": fingerprint, "verified_at": when, "repo_files": sorted(repo_files),
                                "verdicts": {str(index): verdict for index, verdict in sorted((verdicts or {}).items())}}

    def forget(self, page_key: str) -> None:
        """Drop the page (it failed or changed): the next --changed-only run re-verifies it."""
        self.pages.pop(page_key, None)

    def save(self) -> None:
        """Write the record back to pytest's cache."""
        if self.cache is None:
            return
        value = {"format": FORMAT, "pages": dict(sorted(self.pages.items()))}
        try:  # as pytest's cache will write it: a value it cannot write must not cost the record on disk
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError):
            return
        self.cache.set(CACHE_KEY, value)


def _plain(value: Any) -> Any:
    """A JSON-stable form of a tolerance (dataclass, dict, tuple or None)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {name: _plain(getattr(value, name)) for name in sorted(value.__dataclass_fields__)}
    return repr(value)


class Incremental:
    """The session's side of `--changed-only`: which pages to trust, and recording the pages that passed."""

    PROPERTY = "harness-page"  # user property carrying a page's fingerprint from worker to controller

    def __init__(self, config: Any, repo_root: Path | None = None):
        self.config = config
        self.repo_root = Path(repo_root if repo_root is not None else config.rootpath)
        self.enabled = bool(getattr(config.option, "changed_only", False))
        self.versions = stack_versions()
        self._record: VerifiedRecord | None = None
        # page key → {"fingerprint", "blocks": count, "statuses": [...]}, from the test reports.
        self.seen: dict[str, dict] = {}

    @property
    def record(self) -> VerifiedRecord:
        """The record, read on first use: config.cache exists only once pytest's cacheprovider is configured."""
        if self._record is None:
            self._record = VerifiedRecord.load(getattr(self.config, "cache", None))
        return self._record

    def check(self, page: Any, plan: Any) -> tuple[str, tuple[str, dict[int, str]] | None]:
        """The page's fingerprint (with the repo files it imported or read when it last passed, as they are now), and
        (when, verdict by block index) of its earlier run if --changed-only may skip it: only when the record
        holds a verdict for every block of the page."""
        fingerprint = self.fingerprint(page, plan, self.record.repo_files(page.name) if self.enabled else [])
        if not self.enabled:
            return fingerprint, None
        when, verdicts = self.record.verified_at(page.name, fingerprint), self.record.verdicts(page.name, fingerprint)
        if when is None or verdicts is None or set(verdicts) != {block.index for block in page.blocks}:
            return fingerprint, None
        return fingerprint, (when, verdicts)

    def fingerprint(self, page: Any, plan: Any, repo_files: Iterable[str]) -> str:
        """The page's fingerprint with these repo files (repo-relative) as the ones it imports or reads."""
        return page_fingerprint(page, plan, self.versions, repo_files_digest(self.repo_root, repo_files))

    def page_property(self, page: Any, fingerprint: str, repo_files: Iterable[str] = (),
                      index: int = 0, untracked: str = "") -> tuple[str, dict]:
        """What block `index`'s report carries so the controller can record the page."""
        return self.PROPERTY, {"page": page.name, "fingerprint": fingerprint, "blocks": len(page.blocks),
                               "repo_files": sorted(repo_files), "index": index, "untracked": untracked}

    def observe(self, user_properties: Iterable[tuple[str, Any]]) -> None:
        """Note one block's verdict (from its test report's user properties)."""
        properties = dict(user_properties)
        page, record = properties.get(self.PROPERTY), properties.get("harness")
        if not page or not record:
            return
        seen = self.seen.setdefault(page["page"], {**page, "statuses": [], "verdicts": {}, "earlier": False})
        if seen["fingerprint"] != page["fingerprint"]:
            seen["statuses"].append("failed")  # two versions of a page in one session: trust neither
        seen["statuses"].append(record["status"])
        seen["verdicts"][page.get("index", len(seen["verdicts"]))] = record["status"]
        seen["earlier"] = seen["earlier"] or bool(record.get("earlier"))

    def finish(self, when: str | None = None) -> None:
        """Record the pages whose every block passed; forget the ones that failed; save."""
        when = when or now()
        for key, seen in self.seen.items():
            statuses = seen["statuses"]
            if seen["earlier"]:
                continue  # not run this time: its earlier record stands as it was
            if seen.get("untracked"):  # its inputs are not all known: a later run cannot tell it is unchanged
                self.record.forget(key)
                continue
            if len(statuses) == seen["blocks"] and page_passed(statuses):
                self.record.record(key, seen["fingerprint"], when, seen.get("repo_files", []), seen["verdicts"])
            elif not page_passed(statuses):
                self.record.forget(key)
            # A page only partly selected (-k, node ids) proves nothing about its other blocks: left as it was.
        self.record.save()
