"""A generated repo of N copies of a code-heavy page, with the same code as scripts and notebooks."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).resolve().parent / "template.md"

MKDOCS_YML = """\
site_name: Benchmark pages
markdown_extensions:
  - admonition
  - pymdownx.details
  - pymdownx.superfences
  - pymdownx.snippets:
      base_path: ["."]
      check_paths: true
"""



def project_addopts(repo: Path = REPO) -> str:
    """The project's own pytest options (the harness plugin and whatever else it turns on or off)."""
    import tomllib

    return tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["addopts"]


def pytest_config(repo: Path = REPO) -> str:
    """The project's pytest options as a pyproject.toml section, for a generated repo."""
    return f"[tool.pytest.ini_options]\naddopts = {json.dumps(project_addopts(repo))}\n"  # JSON strings are TOML


def base_env() -> dict[str, str]:
    """Environment for every measured command: the harness importable, no Hub, no Material notice."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(HF_HUB_OFFLINE="1", NO_MKDOCS_2_WARNING="1")
    # One compute thread for every tool measured: on a shared machine OpenMP threads spinning against other
    # processes make a page's compute swing tenfold, which would drown every ratio. Same setting for all.
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


@dataclass
class Workspace:
    """A generated repo: its root, its pages and, per page, the bare script and the notebook."""

    root: Path
    pages: list[Path]

    @property
    def scripts(self) -> list[Path]:
        """Each page's blocks concatenated: what `python page.py` runs."""
        return [self.root / "scripts" / (page.stem + ".py") for page in self.pages]

    @property
    def notebooks(self) -> list[Path]:
        """Each page as a notebook: its code cells with the documented outputs stored."""
        return [self.root / "notebooks" / (page.stem + ".ipynb") for page in self.pages]


def init_repo(root: Path) -> None:
    """Write the repo's configuration (mkdocs.yml for snippet settings, pytest config)."""
    (root / "docs").mkdir(parents=True, exist_ok=True)
    (root / "mkdocs.yml").write_text(MKDOCS_YML)
    (root / "pyproject.toml").write_text(pytest_config())


def documented_template(root: Path, template: Path = TEMPLATE) -> str:
    """The template page with its Output blocks written by the harness's own --update-outputs."""
    init_repo(root)
    page = root / "docs" / "template.md"
    shutil.copyfile(template, page)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--update-outputs", "-p", "no:cacheprovider", str(page)],
        cwd=root, env=base_env(), capture_output=True, text=True, timeout=900,
    )
    text = page.read_text()
    if "pending" in text:
        raise RuntimeError(f"--update-outputs left the template undocumented:\n{proc.stdout}\n{proc.stderr}")
    page.unlink()
    return text


def make_workspace(root: Path, text: str, count: int) -> Workspace:
    """A repo with `count` copies of the page `text`, plus each page's script and notebook."""
    init_repo(root)
    pages = []
    for index in range(1, count + 1):
        page = root / "docs" / f"page-{index:03d}.md"
        page.write_text(text)
        pages.append(page)
    workspace = Workspace(root, pages)
    write_scripts_and_notebooks(workspace)
    return workspace


def page_blocks(page: Path, root: Path) -> list[tuple[str, str | None]]:
    """(code, documented output) of each runnable block, as the harness reads the page."""
    from harness.page import parse_page
    from harness.snippets import Site

    parsed = parse_page(page, Site.load(root))
    return [(block.code, block.output.text if block.output else None)
            for block in parsed.python_blocks if not block.skip_reason]


def write_scripts_and_notebooks(workspace: Workspace, blocks_of=page_blocks) -> None:
    """Write, per page, the bare script and the notebook (same code, documented outputs stored)."""
    (workspace.root / "scripts").mkdir(exist_ok=True)
    (workspace.root / "notebooks").mkdir(exist_ok=True)
    cache: dict[str, list[tuple[str, str | None]]] = {}
    for page, script, notebook in zip(workspace.pages, workspace.scripts, workspace.notebooks):
        text = page.read_text()
        # Copies of one page parse alike: parse each distinct text once.
        if text not in cache:
            cache[text] = blocks_of(page, workspace.root)
        blocks = cache[text]
        script.write_text("\n\n".join(code.rstrip("\n") for code, _ in blocks) + "\n")
        notebook.write_text(json.dumps(to_notebook(blocks), indent=1))


def to_notebook(blocks: list[tuple[str, str | None]]) -> dict:
    """An nbformat-4 notebook: one code cell per block, its documented output as a stdout stream."""
    import nbformat

    cells = []
    for count, (code, output) in enumerate(blocks, start=1):
        outputs = [nbformat.v4.new_output("stream", name="stdout", text=output)] if output else []
        cells.append(nbformat.v4.new_code_cell(code.rstrip("\n"), execution_count=count, outputs=outputs))
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.validate(notebook)
    return notebook
