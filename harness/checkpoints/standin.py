"""Stand-in checkpoints: the real configuration and tokenizer, random weights from a fixed seed.

`python -m harness.checkpoints.standin build FACTS OUT` writes one (torch runs there, never in the pytest parent:
OpenMP is not fork-safe). `ensure(facts)` returns a built copy, made once and kept across sessions.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.checkpoints import hubcache

FILES = ("config.json", "model.safetensors", "tokenizer_config.json", "vocab.txt")


class StandInError(RuntimeError):
    """A stand-in could not be built; the message says which facts file and why."""


def load_facts(path: Path) -> dict:
    """The facts file of a stand-in (real config, tokenizer settings, where the vocabulary comes from)."""
    try:
        facts = json.loads(Path(path).read_text(encoding="utf-8"))
        missing = [key for key in ("checkpoint", "config", "tokenizer_config", "vocab") if key not in facts]
    except (OSError, ValueError) as error:
        raise StandInError(f"{path}: cannot read stand-in facts ({error})") from None
    if missing:
        raise StandInError(f"{path}: stand-in facts lack {', '.join(missing)}")
    return facts


def vocab_path(facts: dict) -> Path:
    """The vocabulary file the facts point to, inside an installed package."""
    package = importlib.import_module(facts["vocab"]["package"])
    root = package.get_model_path() if hasattr(package, "get_model_path") else Path(package.__file__).parent
    return Path(root) / facts["vocab"]["file"]


def build(facts_path: Path, out: Path) -> None:
    """Write the stand-in's files into `out` (runs torch: call it in a subprocess of its own)."""
    import torch
    import transformers

    facts = load_facts(facts_path)
    config_dict = dict(facts["config"])
    config = transformers.AutoConfig.for_model(**config_dict)
    torch.manual_seed(facts.get("seed", 0))
    model = getattr(transformers, config_dict["architectures"][0])(config)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    # The real config.json, verbatim: what the page loads must be the checkpoint's facts, not a re-serialisation.
    (out / "config.json").write_text(json.dumps(facts["config"], indent=2) + "\n", encoding="utf-8")
    (out / "tokenizer_config.json").write_text(json.dumps(facts["tokenizer_config"], indent=2) + "\n", encoding="utf-8")
    shutil.copyfile(vocab_path(facts), out / "vocab.txt")
    for extra in set(p.name for p in out.iterdir()) - set(FILES):
        (out / extra).unlink()  # e.g. generation_config.json: the real checkpoint has no such file


def store_root() -> Path:
    """Where built stand-ins are kept between sessions (a temp dir, never the Hugging Face cache)."""
    return Path(os.environ.get("HARNESS_STANDIN_STORE") or Path(tempfile.gettempdir()) / f"harness-standins-{os.getuid()}")


def facts_key(facts_path: Path) -> str:
    """Hash of everything a stand-in depends on: facts, vocabulary, this module, torch and transformers."""
    facts = load_facts(facts_path)
    digest = hashlib.sha256(Path(facts_path).read_bytes())
    digest.update(vocab_path(facts).read_bytes())
    digest.update(Path(__file__).read_bytes())
    for package in ("torch", "transformers", "safetensors"):
        digest.update(importlib.metadata.version(package).encode())
    return digest.hexdigest()[:16]


def ensure(facts_path: Path, root: Path | None = None, timeout: float = 300) -> Path:
    """A complete stand-in folder for these facts: reused when already built, else built in a subprocess."""
    root = Path(root or store_root()) / Path(facts_path).stem
    target = root / facts_key(facts_path)
    if target.is_dir() and not hubcache.snapshot_problems(target, FILES):
        return target
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="building-", dir=root))
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    proc = subprocess.run(
        [sys.executable, "-m", "harness.checkpoints.standin", "build", str(facts_path), str(scratch / "out")],
        cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True, text=True, timeout=timeout,
    )
    problems = hubcache.snapshot_problems(scratch / "out", FILES) if proc.returncode == 0 else []
    if proc.returncode != 0 or problems:
        shutil.rmtree(scratch, ignore_errors=True)
        raise StandInError(f"{facts_path}: building the stand-in failed: {proc.stderr.strip()[-2000:] or problems}")
    try:
        # Atomic publish: a concurrent session that got there first wins, ours is dropped.
        (scratch / "out").rename(target)
    except OSError:
        if hubcache.snapshot_problems(target, FILES):
            shutil.rmtree(target, ignore_errors=True)
            (scratch / "out").rename(target)
    shutil.rmtree(scratch, ignore_errors=True)
    for stale in root.iterdir():
        if stale != target and not stale.name.startswith("building-"):
            shutil.rmtree(stale, ignore_errors=True)  # built for older facts or versions: 270 MB each
    return target


def main(argv: list[str] | None = None) -> int:
    """`python -m harness.checkpoints.standin build FACTS OUT`: write one stand-in checkpoint folder."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 3 or argv[0] != "build":
        print("usage: python -m harness.checkpoints.standin build FACTS.json OUT_DIR", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        build(Path(argv[1]), Path(argv[2]))
    except StandInError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"stand-in written to {argv[2]} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
