"""harness/notebooks.py: pages become notebooks with the same code and the documented outputs; drift is caught."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.notebooks import build, main, render
from harness.page import parse_page
from harness.snippets import Site
from tests.conftest import REPO
from tests.test_site import DOCS, SITE, pages_with_code


def run_notebooks(*args: str, root: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", "notebooks", "--root", str(root), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=120)


def test_repo_notebooks_match_their_pages():
    result = run_notebooks("--check")
    assert result.returncode == 0, result.stderr


def test_notebook_cells_are_the_page_blocks_and_outputs():
    for page_path in pages_with_code():
        page = parse_page(page_path, SITE)
        notebook = json.loads((DOCS / "notebooks" / page_path.relative_to(DOCS).with_suffix(".ipynb")).read_text())
        code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
        assert ["".join(c["source"]) for c in code] == [b.code.rstrip("\n") for b in page.python_blocks]
        assert [["".join(o["text"]) for o in c["outputs"]] for c in code] == \
            [[b.output.text] if b.output else [] for b in page.python_blocks]


@pytest.fixture
def copy_of_repo(tmp_path) -> Path:
    """The pages, snippets and site configuration in a scratch folder, to damage freely."""
    for name in ("mkdocs.yml", "docs", "snippets", "includes"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, tmp_path / name)
    return tmp_path


def test_tampered_stale_and_missing_notebooks_are_detected(copy_of_repo):
    notebooks = copy_of_repo / "docs" / "notebooks" / "using-transformers"
    assert run_notebooks("--check", root=copy_of_repo).returncode == 0
    tampered = notebooks / "tokenizer.ipynb"
    tampered.write_text(tampered.read_text().replace("attention_mask", "attention_mask_edited_by_hand"))
    (notebooks / "model.ipynb").unlink()
    (notebooks / "stale.ipynb").write_text("{}\n")
    result = run_notebooks("--check", root=copy_of_repo)
    assert result.returncode == 1
    assert "docs/notebooks/using-transformers/tokenizer.ipynb: differs from its page" in result.stderr
    assert "docs/notebooks/using-transformers/model.ipynb: missing" in result.stderr
    assert "docs/notebooks/using-transformers/stale.ipynb: no page with code produces it" in result.stderr
    # Regenerating repairs all three, and a second run is a no-op: the output is deterministic.
    assert run_notebooks(root=copy_of_repo).returncode == 0
    assert run_notebooks("--check", root=copy_of_repo).returncode == 0
    assert not (notebooks / "stale.ipynb").exists()
    assert run_notebooks(root=copy_of_repo).stdout == ""


def test_a_page_error_stops_notebook_generation_with_its_place(copy_of_repo):
    page = copy_of_repo / "docs" / "using-transformers" / "model.md"
    page.write_text(page.read_text().replace("```text title=\"Output\"\n['last_hidden_state']",
                                             "Some prose.\n\n```text title=\"Output\"\n['last_hidden_state']"))
    result = run_notebooks(root=copy_of_repo)
    assert result.returncode == 2
    assert re.search(r"docs/using-transformers/model\.md:\d+: Output block is not directly under", result.stderr)


PAGE = '''# A page

Some prose.

## First step

```python
x = 1
print(x)
```

```text title="Output"
1
```

<!-- pytest.mark.skip(reason="needs a GPU") -->
```python
print("gpu")
```

??? example "Set-up"

    ```python
    y = 2
    ```

!!! question "Try it: add one"

    Add one to `y`.

    ??? success "Solution"

        ```python
        print(y + 1)
        ```

        ```text title="Output"
        3
        ```
'''


@pytest.fixture
def small_site(tmp_path) -> Site:
    """A site of one page, with the project's settings but no includes."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text(PAGE)
    (tmp_path / "mkdocs.yml").write_text("site_name: t\nmarkdown_extensions:\n  - pymdownx.snippets:\n"
                                         "      base_path: ['.']\n      check_paths: true\n")
    return Site.load(tmp_path)


def test_cells_hold_code_outputs_and_notes(small_site):
    page = parse_page(small_site.docs_dir / "page.md", small_site)
    notebook = build(page, small_site)
    kinds = [cell["cell_type"] for cell in notebook["cells"]]
    assert kinds == ["markdown", "markdown", "code", "markdown", "code", "markdown", "code", "markdown", "code"]
    title, heading, first, skip_note, skipped, setup_note, setup, exercise_note, solution = notebook["cells"]
    assert title["source"][0] == "# A page\n"
    assert heading["source"] == ["## First step"]
    assert first["source"] == ["x = 1\n", "print(x)"]
    assert first["outputs"] == [{"name": "stdout", "output_type": "stream", "text": ["1\n"]}]
    assert "needs a GPU" in "".join(skip_note["source"]) and skipped["outputs"] == []
    assert setup_note["source"] == ["*Set-up.*"] and setup["source"] == ["y = 2"]
    # A solution's cell says which exercise it solves: the titles of the admonitions around it.
    assert exercise_note["source"] == ["*Try it: add one › Solution.*"]
    assert solution["outputs"][0]["text"] == ["3\n"]
    assert notebook["nbformat"] == 4 and notebook["nbformat_minor"] == 5


def test_output_is_deterministic_and_valid(small_site):
    nbformat = pytest.importorskip("nbformat")
    page = parse_page(small_site.docs_dir / "page.md", small_site)
    first, second = render(build(page, small_site)), render(build(page, small_site))
    assert first == second and first.endswith("}\n")
    assert list(json.loads(first)) == sorted(json.loads(first))
    ids = [cell["id"] for cell in json.loads(first)["cells"]]
    assert len(ids) == len(set(ids))
    nbformat.validate(nbformat.reads(first, as_version=4))


def test_cell_ids_follow_the_page_line_not_the_content(small_site):
    page = parse_page(small_site.docs_dir / "page.md", small_site)
    before = [c["id"] for c in build(page, small_site)["cells"] if c["cell_type"] == "code"]
    (small_site.docs_dir / "page.md").write_text(PAGE.replace("x = 1", "x = 2"))
    page = parse_page(small_site.docs_dir / "page.md", small_site)
    after = [c["id"] for c in build(page, small_site)["cells"] if c["cell_type"] == "code"]
    assert before == after


def test_page_without_code_has_no_notebook(small_site, capsys):
    (small_site.docs_dir / "prose.md").write_text("# Prose\n\nNo code here.\n")
    assert main(["--root", str(small_site.repo_root)]) == 0
    assert sorted(p.name for p in (small_site.docs_dir / "notebooks").rglob("*.ipynb")) == ["page.ipynb"]
    assert main(["--root", str(small_site.repo_root), "--check"]) == 0
