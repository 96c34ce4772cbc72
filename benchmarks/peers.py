"""The same pages checked by notebook tools: nbval (executes and compares) and nbmake (executes only)."""
from __future__ import annotations

import sys
from pathlib import Path

# The kernel's tqdm warns on stderr that ipywidgets is missing; nbval would count that as an unexpected
# output. Silencing it is the sanitization a project using nbval would do.
PEER_ENV = {"PYTHONWARNINGS": "ignore:IProgress not found"}


def _ini(root: Path) -> Path:
    """An empty pytest config so the peer runs load neither the harness nor the project's options."""
    path = root / "peers.ini"
    path.write_text("[pytest]\n")
    return path


def nbval_command(root: Path, notebooks: list[Path]) -> list[str]:
    """`pytest --nbval` over the notebooks, the kernel from this environment."""
    return [sys.executable, "-m", "pytest", "-c", str(_ini(root)), "--rootdir", str(root), "-q",
            "-p", "no:cacheprovider", "--nbval", "--nbval-current-env", *map(str, notebooks)]


def nbmake_command(root: Path, notebooks: list[Path]) -> list[str]:
    """`pytest --nbmake` over the notebooks (runs the cells, compares nothing)."""
    return [sys.executable, "-m", "pytest", "-c", str(_ini(root)), "--rootdir", str(root), "-q",
            "-p", "no:cacheprovider", "--nbmake", *map(str, notebooks)]
