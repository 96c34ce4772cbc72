"""Which Hub checkpoints a page's code loads, found by reading the code (ast), never by running it."""
from __future__ import annotations

import ast
import functools
import importlib.metadata
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from harness.checkpoints.standin import store_root

# An owner/name or a bare legacy name; anything else (./dir, /abs/path, a/b/c) is a local folder.
HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


@dataclass(frozen=True)
class Load:
    """One checkpoint a block loads: the name as written, the revision asked for (None: main), the line."""

    name: str
    revision: str | None
    line: int
    via: str  # "from_pretrained", "pipeline" or "pipeline default"


class InventoryError(RuntimeError):
    """The pipeline defaults could not be read from transformers."""


def pipeline_default(task: str) -> tuple[str, str] | None:
    """The checkpoint and revision transformers' pipeline registry gives a task with no model."""
    default = _registry_defaults().get(task)
    return tuple(default) if default else None


@functools.cache
def _registry_defaults() -> dict[str, list[str] | None]:
    # Read once per transformers version, in a subprocess: the pytest parent stays free of torch.
    path = store_root() / f"pipeline-defaults-{importlib.metadata.version('transformers')}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    proc = subprocess.run([sys.executable, "-m", "harness.checkpoints.inventory"], capture_output=True, text=True,
                          timeout=300, cwd=Path(__file__).resolve().parents[2],
                          env=dict(os.environ, HF_HUB_OFFLINE="1"))
    if proc.returncode != 0:
        raise InventoryError(f"reading transformers' pipeline defaults failed: {proc.stderr.strip()[-2000:]}")
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(f".{os.getpid()}.tmp")
    scratch.write_text(proc.stdout)
    os.replace(scratch, path)  # atomic: a concurrent session reads the old file or the new one
    return json.loads(proc.stdout)


def registry_defaults() -> dict[str, list[str] | None]:
    """Every pipeline task (aliases included) with its default [checkpoint, revision], from transformers."""
    from transformers.pipelines import PIPELINE_REGISTRY

    defaults = {}
    for task in PIPELINE_REGISTRY.get_supported_tasks():
        _, spec, _ = PIPELINE_REGISTRY.check_task(task)
        model = spec.get("default", {}).get("model")
        defaults[task] = list(model) if isinstance(model, (tuple, list)) and len(model) == 2 else None
    return defaults


def is_hub_name(value: str) -> bool:
    """True for a Hub repo id ("org/name" or a legacy bare name), False for a local path."""
    return bool(HUB_NAME.fullmatch(value)) and not value.endswith((".json", ".txt", ".safetensors"))


def inventory(codes: Sequence[str], default: Callable[[str], tuple[str, str] | None] = pipeline_default) -> list[list[Load]]:
    """Per block (in page order), the checkpoints loaded by that block; constants carry across blocks."""
    constants: dict[str, str] = {}
    found: list[list[Load]] = []
    for code in codes:
        try:
            tree = ast.parse(code)
        except SyntaxError:
            found.append([])  # the runner reports the syntax error; nothing to load here
            continue
        found.append(_scan(tree, constants, default))
    return found


def _scan(tree: ast.AST, constants: dict[str, str], default) -> list[Load]:
    loads: list[Load] = []
    nodes = sorted((n for n in ast.walk(tree) if hasattr(n, "lineno")), key=lambda n: (n.lineno, n.col_offset))
    for node in nodes:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = _string(node.value, constants) if node.value is not None else None
            for target in targets:
                if isinstance(target, ast.Name):
                    # A later non-constant assignment hides the old value: better unknown than wrong.
                    constants.pop(target.id, None) if value is None else constants.__setitem__(target.id, value)
        elif isinstance(node, ast.Call):
            loads += _call_loads(node, constants, default)
    return loads


def _call_loads(call: ast.Call, constants: dict[str, str], default) -> list[Load]:
    func = call.func
    callee = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    kwargs = {kw.arg: kw.value for kw in call.keywords if kw.arg}
    revision = _string(kwargs.get("revision"), constants)
    if callee == "from_pretrained":
        node = call.args[0] if call.args else kwargs.get("pretrained_model_name_or_path")
        name = _string(node, constants)
        return [Load(name, revision, call.lineno, "from_pretrained")] if name and is_hub_name(name) else []
    if callee != "pipeline":
        return []
    loads = []
    model_node = call.args[1] if len(call.args) > 1 else kwargs.get("model")
    for node in (model_node, kwargs.get("tokenizer")):
        name = _string(node, constants)
        if name and is_hub_name(name):
            loads.append(Load(name, revision, call.lineno, "pipeline"))
    if model_node is None:
        task = _string(call.args[0] if call.args else kwargs.get("task"), constants)
        spec = default(task) if task else None
        if spec:
            loads.append(Load(spec[0], spec[1], call.lineno, "pipeline default"))
    return loads


def _string(node: ast.AST | None, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


if __name__ == "__main__":
    print(json.dumps(registry_defaults(), indent=1, sort_keys=True))
