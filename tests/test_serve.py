"""`make serve` rebuilds when anything the pages read changes: every folder the site reads is watched."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import markdown
import pytest
from mkdocs.config import load_config

from tests.conftest import REPO
from tests.repo_copy import copy_repo


def files_the_site_reads(config_file: Path) -> dict[Path, str]:
    """Every file or folder a build of `config_file` reads, by absolute path, with the setting that reads it.

    Derived from the configuration as MkDocs loads it: the hooks, the theme's custom_dir, and each file that
    pymdownx.snippets opens for the pages (includes, auto_append), found by expanding every page for real.
    """
    config = load_config(config_file=str(config_file))
    root = config_file.parent
    read: dict[Path, str] = {Path(module.__file__).resolve(): f"hooks: {name}"
                             for name, module in (config.hooks or {}).items()}
    if config.theme.custom_dir:
        read[Path(config.theme.custom_dir).resolve()] = "theme.custom_dir"
    if "pymdownx.snippets" in config.markdown_extensions:
        options = dict(config.mdx_configs.get("pymdownx.snippets") or {})
        base = options.get("base_path", ["."])
        # `mkdocs serve` runs from the folder of mkdocs.yml: relative base paths start there.
        options["base_path"] = [str(root / b) for b in ([base] if isinstance(base, str) else base)]
        md = markdown.Markdown(extensions=["pymdownx.snippets"], extension_configs={"pymdownx.snippets": options})
        snippets = md.preprocessors["snippet"]
        opened = snippets.get_snippet_path

        def recording(path):
            found = opened(path)
            if found:
                read[Path(found).resolve()] = f"pymdownx.snippets: {path}"
            return found

        snippets.get_snippet_path = recording
        for page in sorted(Path(config.docs_dir).rglob("*.md")):
            md.reset().convert(page.read_text(encoding="utf-8"))
    return read


def unwatched(config_file: Path) -> list[str]:
    """What the site reads that `mkdocs serve` does not watch: "path (setting)", sorted; [] when all is watched.

    Watched: docs_dir and the config file (always), and every path of the `watch:` setting.
    """
    config = load_config(config_file=str(config_file))
    watched = [Path(config.docs_dir).resolve(), config_file.resolve(),
               *(Path(path).resolve() for path in config.watch)]
    root = config_file.parent.resolve()
    return sorted(f"{path.relative_to(root).as_posix() if path.is_relative_to(root) else path} ({why})"
                  for path, why in files_the_site_reads(config_file).items()
                  if not any(path == folder or path.is_relative_to(folder) for folder in watched))


def test_every_folder_the_site_reads_is_watched():
    read = files_the_site_reads(REPO / "mkdocs.yml")
    # The derivation finds the project's real sources, or this test would pass on nothing.
    folders = {path.relative_to(REPO).parts[0] for path in read}
    assert {"snippets", "includes", "hooks", "overrides"} <= folders, sorted(folders)
    assert unwatched(REPO / "mkdocs.yml") == [], "add these folders to `watch:` in mkdocs.yml"


def test_a_folder_missing_from_watch_is_reported(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text('# Home\n\n```python\n--8<-- "code/home.py"\n```\n')
    for name, text in {"code/home.py": "print(1)\n", "glossary/terms.md": "*[API]: Application programming interface\n",
                       "site_hooks/touch.py": "def on_page_markdown(markdown, **kwargs):\n    return markdown\n",
                       "theme/main.html": '{% extends "base.html" %}\n'}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    config = tmp_path / "mkdocs.yml"
    config.write_text(textwrap.dedent("""
        site_name: Watch test
        theme:
          name: mkdocs
          custom_dir: theme
        hooks:
          - site_hooks/touch.py
        markdown_extensions:
          - pymdownx.snippets:
              base_path: ["."]
              auto_append: ["glossary/terms.md"]
        watch:
          - code
    """))
    assert unwatched(config) == [
        "glossary/terms.md (pymdownx.snippets: glossary/terms.md)",
        "site_hooks/touch.py (hooks: site_hooks/touch.py)",
        "theme (theme.custom_dir)",
    ]
    config.write_text(config.read_text() + "  - glossary\n  - site_hooks\n  - theme\n")
    assert unwatched(config) == []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _page(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode("utf-8")


def _wait_for(url: str, text: str, server: subprocess.Popen, timeout: float = 90) -> str:
    """The page at `url` once it contains `text`; fails after `timeout` seconds or when the server stops."""
    deadline = time.monotonic() + timeout
    html = ""
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"mkdocs serve stopped:\n{server.stdout.read()}")
        try:
            html = _page(url)
        except OSError:  # not serving yet
            html = ""
        if text in html:
            return html
        time.sleep(0.5)
    pytest.fail(f"{url} never showed {text!r} within {timeout:g}s")


@pytest.mark.slow
def test_serve_rebuilds_when_a_snippet_an_include_or_a_hook_changes(tmp_path):
    root = copy_repo(tmp_path / "repo")
    port = _free_port()
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", HF_HUB_OFFLINE="1")
    server = subprocess.Popen([sys.executable, "-m", "mkdocs", "serve", "--dev-addr", f"127.0.0.1:{port}"],
                              cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}/"
        _wait_for(base + "using-transformers/tokenizer.html", "I hate this so much!", server)
        edits = [  # (page, file, old text, new text): the page's code, a diagram (an include), a hook
            ("using-transformers/tokenizer.html", "snippets/using-transformers/tokenizer.py", "I hate this so much!",
             "Edited while serving: snippet"),
            ("using-transformers/model-heads.html", "includes/diagrams/model-head.svg", "Transformer network",
             "Edited while serving: include"),
            ("using-transformers/tokenizer.html", "hooks/notebook_links.py", "This page as a notebook",
             "Edited while serving: hook"),
        ]
        for page, name, old, new in edits:
            path = root / name
            text = path.read_text(encoding="utf-8")
            assert old in text, f"{name} no longer holds {old!r}: update this test"
            path.write_text(text.replace(old, new, 1), encoding="utf-8")
            _wait_for(base + page, new, server)
    finally:
        server.terminate()
        server.wait(timeout=30)
