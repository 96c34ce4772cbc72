"""A scratch copy of the whole project (the files git tracks or would track), to change and build freely."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import REPO


def copy_repo(dest: Path) -> Path:
    """Copy the project's files (tracked, and untracked but not ignored) into `dest`; `.venv` is linked.

    Working-tree versions are copied, so a test sees uncommitted edits as `make` in the checkout would.
    """
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode("utf-8").split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if not source.is_file():  # deleted in the working tree but still in the index
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    venv = REPO / ".venv"
    if venv.exists():
        (dest / ".venv").symlink_to(venv.resolve(), target_is_directory=True)
    return dest
