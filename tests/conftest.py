"""Fixtures shared by the site, browser and harness tests."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import browser_support

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


# ---------------------------------------------------------------------------------------------------
# Browser tests (tests/test_browser*.py): one Chromium and one loopback server per session. Here, not in a
# test module, because Playwright's sync API runs once per process: two session browsers cannot coexist.


def _missing_browser(reason: str) -> None:
    """Skip with the way to install, except on CI where a missing browser is a broken setup."""
    message = f"{reason}: {browser_support.INSTALL_HINT}"
    if browser_support.in_ci():
        pytest.fail(f"CI=true and the browser tests cannot run. {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium, or a skip that says how to install it (a failure when CI=true)."""
    try:
        import playwright.sync_api  # noqa: F401 (only checking that Playwright is installed)
    except ImportError:
        _missing_browser("Playwright for Python is not installed (pip install -r requirements-test.txt)")
    path = browser_support.find_chromium()
    if path is None:
        _missing_browser("Chromium not found")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    """One headless Chromium for the whole session, with a fresh profile."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path, headless=True,
                                              args=browser_support.CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def server(built_site):
    """The built site over HTTP on 127.0.0.1 (a free port), for the whole session."""
    with browser_support.LoopbackServer(built_site.site_dir) as running:
        yield running


