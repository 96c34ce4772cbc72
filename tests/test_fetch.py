"""`python -m harness fetch` for real, against a Hub stand-in served on loopback (two origins: Hub and CDN).

The stand-in speaks what huggingface_hub 2.4 reads (file_download.py): HEAD/GET /{repo}/resolve/{rev}/{file},
X-Repo-Commit, ETag / X-Linked-Etag, X-Linked-Size, a redirect to another origin for LFS files, Range.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save

from harness.checkpoints import hubcache
from harness.checkpoints.fetch import probe

REPO = Path(__file__).resolve().parent.parent
NAME, ALIAS = "testorg/tiny-model", "tiny-model"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
RESOLVE = re.compile(r"^/(?P<repo>.+?)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")


class FakeHub:
    """Shared state of the Hub and CDN servers: files, the commit they claim, faults to inject, requests seen."""

    def __init__(self, weight_rows: int = 256):
        # huggingface_hub reads 10 MB chunks and resumes from the last whole chunk: big files test resuming.
        weights = save({"embeddings.weight": np.arange(weight_rows * 256, dtype=np.float32).reshape(-1, 256)})
        self.files = {
            "config.json": json.dumps({"model_type": "bert", "hidden_size": 256}).encode(),
            "tokenizer_config.json": json.dumps({"do_lower_case": True}).encode(),
            "vocab.txt": b"[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n",
            "model.safetensors": weights,
        }
        self.commit = COMMIT
        self.head_status: dict[str, int] = {}  # file -> status the Hub answers
        self.cut: dict[str, str] = {}  # file -> cut the first GET, then "then-500" (stay broken) or "then-resume"
        self.requests: list[tuple[str, str, str | None]] = []
        self.hub = self._serve(self._hub_handler)
        self.cdn = self._serve(self._cdn_handler)
        self.url = f"http://127.0.0.1:{self.hub.server_port}"

    def _serve(self, handle):
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_HEAD(self):
                owner.requests.append(("HEAD", self.path, self.headers.get("Range")))
                handle(self, head=True)

            def do_GET(self):
                owner.requests.append(("GET", self.path, self.headers.get("Range")))
                handle(self, head=False)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def _hub_handler(self, req, head):
        match = RESOLVE.match(req.path)
        filename = match and match["file"]
        if not match or match["repo"] not in (NAME, ALIAS) or filename not in self.files:
            return self._reply(req, 404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": self.commit}, b"")
        if filename in self.head_status:
            return self._reply(req, self.head_status[filename], {}, b"boom")
        body = self.files[filename]
        sha = hashlib.sha256(body).hexdigest()
        headers = {"X-Repo-Commit": self.commit, "ETag": f'"{hashlib.sha1(body).hexdigest()}"'}
        if filename.endswith(".safetensors"):  # LFS: redirect to another origin, metadata on the redirect itself
            headers.update({"Location": f"http://127.0.0.1:{self.cdn.server_port}/cdn/{sha}",
                            "X-Linked-Etag": f'"{sha}"', "X-Linked-Size": str(len(body))})
            return self._reply(req, 302, headers, b"")
        return self._reply(req, 200, headers, b"" if head else body, length=len(body))

    def _cdn_handler(self, req, head):
        body = next((b for b in self.files.values() if req.path == f"/cdn/{hashlib.sha256(b).hexdigest()}"), None)
        if body is None:
            return self._reply(req, 404, {}, b"")
        filename = next(f for f, b in self.files.items() if b is body)
        start = int(re.match(r"bytes=(\d+)-", req.headers.get("Range", "bytes=0-"))[1])
        mode = self.cut.get(filename)
        if mode == "then-500" and f"cut {filename}" in self.cut:
            return self._reply(req, 500, {}, b"gone")
        if start:
            headers = {"Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"}
            return self._reply(req, 206, headers, body[start:])
        if mode and not head and f"cut {filename}" not in self.cut:
            self.cut[f"cut {filename}"] = "done"
            # Promise the whole file, send half, hang up: what a dropped connection looks like to the client.
            req.send_response(200)
            req.send_header("Content-Length", str(len(body)))
            req.end_headers()
            req.wfile.write(body[: len(body) // 2])
            req.wfile.flush()
            req.close_connection = True
            return
        return self._reply(req, 200, {}, b"" if head else body, length=len(body))

    @staticmethod
    def _reply(req, status, headers, body, length=None):
        req.send_response(status)
        for key, value in headers.items():
            req.send_header(key, value)
        req.send_header("Content-Length", str(len(body) if length is None else length))
        req.end_headers()
        req.wfile.write(body)

    def close(self):
        for server in (self.hub, self.cdn):
            server.shutdown()
            server.server_close()


@pytest.fixture
def hub():
    fake = FakeHub()
    yield fake
    fake.close()


@pytest.fixture
def repo(tmp_path):
    """A repo root whose checkpoints.lock pins the fake Hub's checkpoint."""
    root = tmp_path / "repo"
    root.mkdir()
    write_lock(root, ["config.json", "model.safetensors", "tokenizer_config.json", "vocab.txt"])
    return root


def write_lock(root: Path, files: list[str]) -> None:
    lock = {"checkpoints": {NAME: {"revision": COMMIT, "files": files, "refs": ["main", COMMIT[:7]]}},
            "aliases": {ALIAS: NAME}}
    (root / "checkpoints.lock").write_text(json.dumps(lock))


def run_fetch(repo: Path, endpoint: str, cache: Path, *args: str, offline: bool = False):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_", "HUGGINGFACE_"))}
    env.update(HF_ENDPOINT=endpoint, HF_HUB_CACHE=str(cache), HF_HOME=str(cache.parent / "home"),
               HF_HUB_DISABLE_TELEMETRY="1", PYTHONPATH=str(REPO))
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "harness", "fetch", "--repo", str(repo), "--timeout", "5", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    proc.seconds = time.perf_counter() - start
    return proc


def snapshot(cache: Path) -> Path:
    return hubcache.repo_dir(cache, NAME) / "snapshots" / COMMIT


def assert_nothing_passes_as_complete(cache: Path) -> None:
    assert hubcache.inspect(cache, [NAME, ALIAS], COMMIT, ["model.safetensors"]).status != "complete"
    assert not (snapshot(cache) / "model.safetensors").exists()
    assert not list(cache.rglob("*.incomplete"))


def test_fetch_downloads_every_locked_file_into_the_hub_cache(hub, repo, tmp_path):
    cache = tmp_path / "cache"
    proc = run_fetch(repo, hub.url, cache)
    assert proc.returncode == 0, proc.stderr
    for name, body in hub.files.items():
        assert (snapshot(cache) / name).read_bytes() == body
    assert (hubcache.repo_dir(cache, NAME) / "refs" / "main").read_text() == COMMIT
    assert (hubcache.repo_dir(cache, NAME) / "refs" / COMMIT[:7]).read_text() == COMMIT
    assert hubcache.inspect(cache, [ALIAS], COMMIT, list(hub.files)).status == "complete"  # legacy name linked
    assert any(path.startswith("/cdn/") for _, path, _ in hub.requests)  # the LFS redirect was followed

    hub.requests.clear()
    again = run_fetch(repo, hub.url, cache)
    assert again.returncode == 0 and hub.requests == []  # complete files: no request at all


def test_fetched_checkpoint_loads_offline_by_legacy_name(hub, repo, tmp_path):
    cache = tmp_path / "cache"
    assert run_fetch(repo, hub.url, cache).returncode == 0
    hub.close()  # nothing to talk to any more
    code = ("from huggingface_hub import hf_hub_download; import sys; "
            "print(hf_hub_download(sys.argv[1], 'model.safetensors'))")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(cache), HF_ENDPOINT=hub.url)
    for name in (NAME, ALIAS):
        proc = subprocess.run([sys.executable, "-c", code, name], env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert Path(proc.stdout.strip()).read_bytes() == hub.files["model.safetensors"]
    hub.__init__()  # the fixture closes a running pair


def test_missing_file_is_named_with_its_checkpoint(hub, repo, tmp_path):
    write_lock(repo, ["config.json", "not-there.json"])
    proc = run_fetch(repo, hub.url, tmp_path / "cache")
    assert proc.returncode == 1
    assert NAME in proc.stderr and "not-there.json: not found" in proc.stderr


def test_server_error_fails_fast_without_retry_loops(hub, repo, tmp_path):
    hub.head_status["config.json"] = 500
    proc = run_fetch(repo, hub.url, tmp_path / "cache")
    assert proc.returncode == 1
    assert "config.json: HTTP 500" in proc.stderr
    assert proc.seconds < 15
    assert sum(1 for m, p, _ in hub.requests if p.endswith("config.json")) == 1


def test_cut_connection_fails_clearly_and_leaves_nothing_that_passes_as_complete(hub, repo, tmp_path):
    cache = tmp_path / "cache"
    hub.cut["model.safetensors"] = "then-500"
    proc = run_fetch(repo, hub.url, cache)
    assert proc.returncode == 1
    assert "model.safetensors: download interrupted" in proc.stderr and "run the command again" in proc.stderr
    assert_nothing_passes_as_complete(cache)

    hub.cut.clear()  # the network is back: the next run completes
    again = run_fetch(repo, hub.url, cache)
    assert again.returncode == 0, again.stderr
    assert (snapshot(cache) / "model.safetensors").read_bytes() == hub.files["model.safetensors"]


def test_cut_connection_resumes_with_a_range_request(repo, tmp_path):
    cache = tmp_path / "cache"
    hub = FakeHub(weight_rows=24 * 1024)  # 24 MB: more than one 10 MB chunk arrives before the cut
    hub.cut["model.safetensors"] = "then-resume"
    proc = run_fetch(repo, hub.url, cache)
    assert proc.returncode == 0, proc.stderr
    half = len(hub.files["model.safetensors"]) // 2
    resumed = [int(r[6:-1]) for m, p, r in hub.requests if m == "GET" and p.startswith("/cdn/") and r]
    assert resumed and 0 < resumed[0] <= half  # picked up where the cut left it, not from zero
    assert (snapshot(cache) / "model.safetensors").read_bytes() == hub.files["model.safetensors"]
    hub.close()


def test_revision_other_than_the_lock_is_refused(hub, repo, tmp_path):
    hub.commit = "f" * 40
    cache = tmp_path / "cache"
    proc = run_fetch(repo, hub.url, cache)
    assert proc.returncode == 1
    assert "f" * 40 in proc.stderr and COMMIT in proc.stderr and "checkpoints.lock" in proc.stderr
    assert not snapshot(cache).exists() and not (hubcache.repo_dir(cache, NAME) / "snapshots" / ("f" * 40)).exists()


def test_no_network_says_what_to_do_within_seconds(repo, tmp_path):
    proc = run_fetch(repo, "http://127.0.0.1:9", tmp_path / "cache")  # port 9 (discard): nothing listens
    assert proc.returncode == 1
    assert "not reachable" in proc.stderr and "python -m harness fetch" in proc.stderr and NAME in proc.stderr
    assert proc.seconds < 10


def test_probe_gives_up_on_a_silent_server_within_its_timeout():
    silent = socket.create_server(("127.0.0.1", 0))  # completes TCP handshakes, never says a word
    try:
        start = time.perf_counter()
        problem = probe(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.5)
        assert problem is not None and "no HTTP answer" in problem
        assert time.perf_counter() - start < 2
    finally:
        silent.close()


def test_offline_mode_is_reported_not_ignored(repo, tmp_path):
    proc = run_fetch(repo, "http://127.0.0.1:9", tmp_path / "cache", offline=True)
    assert proc.returncode == 1 and "HF_HUB_OFFLINE" in proc.stderr


def test_unknown_checkpoint_name_is_refused(repo, tmp_path):
    proc = run_fetch(repo, "http://127.0.0.1:9", tmp_path / "cache", "someone/unknown-model")
    assert proc.returncode == 1 and "someone/unknown-model" in proc.stderr and "checkpoints.lock" in proc.stderr
