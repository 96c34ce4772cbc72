"""Fixtures shared by the site, browser and harness tests."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent



@dataclass
class Build:
    """One real `mkdocs build --strict` of the repo: where it went and what it printed."""

    site_dir: Path
    returncode: int
    log: str


def run_mkdocs_build(site_dir: Path, config: Path = REPO / "mkdocs.yml", cwd: Path | None = None) -> Build:
    """Build the site for real with the project's mkdocs.yml into `site_dir`, from `cwd` (default: its folder)."""
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config), "--site-dir", str(site_dir)],
        cwd=cwd or config.parent, env=env, capture_output=True, text=True, timeout=600,
    )
    return Build(site_dir, proc.returncode, proc.stdout + proc.stderr)


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Build:
    """The site built once per test session (strict); tests that need HTML share it."""
    build = run_mkdocs_build(tmp_path_factory.mktemp("site") / "site")
    if build.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{build.log}", pytrace=False)
    return build
