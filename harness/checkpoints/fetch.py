"""`python -m harness fetch [NAME ...]`: download the locked checkpoints once, then everything runs offline.

Files go into the standard Hugging Face cache (huggingface_hub's own layout, one hf_hub_download per file),
pinned to the revisions in checkpoints.lock; safetensors only. No network: a clear message within seconds.
"""
from __future__ import annotations

import argparse
import http.client
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from harness.checkpoints import hubcache
from harness.checkpoints.lock import FORBIDDEN_SUFFIXES, LOCK_FILE, Lock, LockEntry, LockError

REPO_ROOT = Path(__file__).resolve().parents[2]
PROBE_SECONDS = 3.0  # a reachable Hub answers in well under a second


class FetchError(RuntimeError):
    """One checkpoint could not be fetched; the message names it and says what to do."""


def probe(endpoint: str, timeout: float = PROBE_SECONDS) -> str | None:
    """Why `endpoint` gives no HTTP answer (None: it answered), decided within about `timeout` seconds."""
    parts = urlsplit(endpoint)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname, parts.port, timeout=timeout)
    try:
        # Any HTTP status will do: some networks accept every TCP connection and then say nothing.
        connection.request("HEAD", "/")
        connection.getresponse()
    except (OSError, http.client.HTTPException) as error:
        return f"no HTTP answer from {parts.hostname} ({error.__class__.__name__}: {error or 'timed out'})"
    finally:
        connection.close()
    return None


def fetch_checkpoint(entry: LockEntry, aliases: list[str], cache: Path, endpoint: str, timeout: float) -> str:
    """Download every locked file of one checkpoint at its locked revision; return a one-line summary."""
    import httpx2
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError

    where = f"{entry.name}@{entry.revision[:7]}"
    snapshot = hubcache.repo_dir(cache, entry.name) / "snapshots" / entry.revision
    downloaded = 0
    for filename in entry.files:
        if filename.endswith(FORBIDDEN_SUFFIXES):
            raise FetchError(f"{where}: refusing {filename}: pickle-based weights are never fetched (use safetensors)")
        if not hubcache.file_problem(snapshot / filename):
            continue  # already complete: no request at all
        url = hf_hub_url(entry.name, filename, revision=entry.revision, endpoint=endpoint)
        try:
            # Our own HEAD first, without retries: a 404, a 5xx or a moved revision is reported at once.
            meta = get_hf_file_metadata(url, timeout=timeout)
        except HfHubHTTPError as error:
            status = error.response.status_code if error.response is not None else "?"
            what = "not found (wrong name, revision or file in the lock?)" if status == 404 else f"HTTP {status}"
            raise FetchError(f"{where}: {filename}: {what} at {url}") from None
        except (OSError, httpx2.HTTPError) as error:
            raise FetchError(f"{where}: {filename}: no answer from {endpoint} ({error.__class__.__name__})") from None
        if meta.commit_hash != entry.revision:
            raise FetchError(f"{where}: {endpoint} serves {filename} at revision {meta.commit_hash}, but {LOCK_FILE} "
                             f"pins {entry.revision}: check the lock (or the mirror in HF_ENDPOINT)")
        try:
            hf_hub_download(entry.name, filename, revision=entry.revision, cache_dir=cache, endpoint=endpoint,
                            etag_timeout=timeout)
        except (OSError, ValueError, httpx2.HTTPError) as error:
            # huggingface_hub deletes its unique temporary file on failure: nothing partial stays in the cache.
            raise FetchError(f"{where}: {filename}: download interrupted ({error.__class__.__name__}: "
                             f"{str(error).splitlines()[0] if str(error) else ''}); nothing partial was kept: "
                             "run the command again") from None
        downloaded += (snapshot / filename).stat().st_size
    problems = hubcache.snapshot_problems(snapshot, entry.files)
    if problems:
        raise FetchError(f"{where}: incomplete after download: {'; '.join(problems)}")
    _write_refs(cache, entry, aliases)
    return f"{where}: {len(entry.files)} files complete ({downloaded / 1e6:.1f} MB downloaded) in {cache}"


def _write_refs(cache: Path, entry: LockEntry, aliases: list[str]) -> None:
    """Name the locked revision by the refs pages use offline (main, the pipeline's short revision)."""
    folder = hubcache.repo_dir(cache, entry.name)
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    for ref in entry.refs:
        (folder / "refs" / ref).write_text(entry.revision)
    for alias in aliases:
        # Offline, a legacy name looks in its own folder: point it at the canonical one.
        link = hubcache.repo_dir(cache, alias)
        if not link.exists() and not link.is_symlink():
            os.symlink(folder.name, link, target_is_directory=True)


def main(argv: list[str] | None = None) -> int:
    """Fetch the named (default: all) locked checkpoints; 0 when all are complete in the cache."""
    parser = argparse.ArgumentParser(prog="python -m harness fetch", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="checkpoints to fetch (default: every one in checkpoints.lock)")
    parser.add_argument("--repo", type=Path, default=REPO_ROOT, help="repo root holding checkpoints.lock")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the Hub per request")
    args = parser.parse_args(argv)
    from huggingface_hub import constants

    try:
        lock = Lock.load(args.repo)
    except LockError as error:
        print(f"fetch: {error}", file=sys.stderr)
        return 1
    unknown = [n for n in args.names if lock.canonical(n) not in lock.checkpoints]
    if unknown:
        print(f"fetch: not in {args.repo / LOCK_FILE}: {', '.join(unknown)}: add them (revision and files) first",
              file=sys.stderr)
        return 1
    names = [lock.canonical(n) for n in args.names] or list(lock.checkpoints)
    if constants.HF_HUB_OFFLINE:
        print("fetch: HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set, so nothing can be downloaded: "
              "run `HF_HUB_OFFLINE=0 python -m harness fetch`", file=sys.stderr)
        return 1
    endpoint, cache = constants.ENDPOINT, Path(constants.HF_HUB_CACHE)
    pending = [n for n in names if hubcache.inspect(cache, [n], lock.checkpoints[n].revision,
                                                    lock.checkpoints[n].files).status != "complete"]
    if pending and (problem := probe(endpoint)):
        print(f"fetch: {endpoint} is not reachable: {problem}.\n  Not fetched: {', '.join(pending)}.\n"
              "  Run `python -m harness fetch` again on a machine with access to the Hub (or set HF_ENDPOINT to a "
              "mirror).\n  Without the weights the harness still checks the pages structurally, with stand-ins.",
              file=sys.stderr)
        return 1
    failed = 0
    for name in names:
        start = time.perf_counter()
        try:
            aliases = lock.names_of(name)[1:]
            print(f"fetch: {fetch_checkpoint(lock.checkpoints[name], aliases, cache, endpoint, args.timeout)} "
                  f"({time.perf_counter() - start:.1f} s)")
        except FetchError as error:
            failed += 1
            print(f"fetch: {error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
