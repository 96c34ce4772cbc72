"""harness/notebooks.py: pages become notebooks with the same code and the documented outputs; drift is caught."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.notebooks import INSTALL_TAG, build, main, render
from harness.page import PageError, parse_page
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
        assert code[0]["metadata"]["tags"] == [INSTALL_TAG]  # the install cell, then one cell per block
        code = code[1:]
        assert ["".join(c["source"]) for c in code] == [b.code.rstrip("\n") for b in page.python_blocks]
        assert [["".join(o["text"]) for o in c["outputs"]] for c in code] == \
            [[b.output.text] if b.output else [] for b in page.python_blocks]
        # A cell with an output names its block by the verification record's keys; one without names none.
        assert [c["metadata"].get("verification") for c in code] == \
            [{"page": page.name, "line": b.line} if b.output else None for b in page.python_blocks]


@pytest.fixture
def copy_of_repo(tmp_path) -> Path:
    """The pages, snippets, site configuration and pins in a scratch folder, to damage freely."""
    for name in ("mkdocs.yml", "docs", "snippets", "includes", "requirements.txt", "requirements-test.txt"):
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
    count = len(list((copy_of_repo / "docs" / "notebooks").rglob("*.ipynb")))
    assert run_notebooks(root=copy_of_repo).stdout == \
        f"0 written, 0 removed, {count} already up to date, in docs/notebooks/\n"


def test_a_page_error_stops_notebook_generation_with_its_place(copy_of_repo):
    page = copy_of_repo / "docs" / "using-transformers" / "model.md"
    page.write_text(page.read_text().replace("```text title=\"Output\"\n['last_hidden_state']",
                                             "Some prose.\n\n```text title=\"Output\"\n['last_hidden_state']"))
    result = run_notebooks(root=copy_of_repo)
    assert result.returncode == 2
    assert re.search(r"docs/using-transformers/model\.md:\d+: Output block is not directly under", result.stderr)


PAGE = '''# A page

Some prose about :simple-huggingface: Transformers, with a [link to another page](other.md#part)
and a [link out](https://example.org/).

## First step

```python
import json
import numpy as np

x = 1
print(x)
```

```text title="Output"
1
```

!!! note "Why it prints 1"

    Because `#!math x = 1`.

<!-- pytest.mark.skip(reason="needs a GPU") -->
```python
print("gpu")
```

Tensor
:   An array of numbers
    with a shape.

<div class="diagram-frame">
--8<-- "includes/nothing.svg"
</div>
/// caption
    attrs: {class: diagram}
A drawing of the steps.
///

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

The end.
'''


@pytest.fixture
def small_site(tmp_path) -> Site:
    """A site of one page, with the project's settings but no includes, and numpy pinned."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text(PAGE)
    (tmp_path / "includes").mkdir()
    (tmp_path / "includes" / "nothing.svg").write_text("<svg></svg>\n")
    (tmp_path / "mkdocs.yml").write_text("site_name: t\nmarkdown_extensions:\n  - pymdownx.snippets:\n"
                                         "      base_path: ['.']\n      check_paths: true\n")
    (tmp_path / "requirements.txt").write_text("# pins\nnumpy==2.0.1  # arrays\nrequests>=2\n")
    return Site.load(tmp_path)


def test_cells_hold_explanations_code_and_outputs(small_site):
    page = parse_page(small_site.docs_dir / "page.md", small_site)
    notebook = build(page, small_site)
    kinds = [cell["cell_type"] for cell in notebook["cells"]]
    assert kinds == ["markdown", "code", "markdown", "code", "markdown", "code", "markdown", "code", "markdown",
                     "code", "markdown"]
    title, install, intro, first, note, skipped, prose, setup, exercise, solution, tail = \
        ["".join(cell["source"]) for cell in notebook["cells"]]
    assert title.startswith("# A page\n") and "docs/page.md" in title
    # The page's own words, in Markdown that Jupyter renders: no icon shortcode, no link to a page that is
    # not next to the notebook (its text stays), links out kept.
    assert intro == ("Some prose about \N{HUGGING FACE} Transformers, with a link to another page\n"
                     "and a [link out](https://example.org/).\n\n## First step")
    assert first == "import json\nimport numpy as np\n\nx = 1\nprint(x)"
    assert notebook["cells"][3]["outputs"] == [{"name": "stdout", "output_type": "stream", "text": ["1\n"]}]
    assert notebook["cells"][3]["metadata"] == {"verification": {"page": "docs/page.md", "line": page.python_blocks[0].line}}
    # An admonition becomes a quote with its title, inline math becomes $...$, the skip reason is told.
    assert note == ("> **Why it prints 1**\n>\n> Because $x = 1$.\n\n"
                    "*The course notes do not run this cell: needs a GPU*")
    assert skipped == 'print("gpu")' and notebook["cells"][5]["outputs"] == []
    assert notebook["cells"][5]["metadata"] == {}  # no output, so nothing to show a status for
    # A definition list becomes a list; the diagram's include goes, its caption stays; the set-up's title.
    assert prose == ("- **Tensor**: An array of numbers\n  with a shape.\n\n"
                     "*Diagram (on the site's page): A drawing of the steps.*\n\n> **Set-up**")
    assert setup == "y = 2" and tail == "The end."
    # A solution's cell comes under its exercise and the title of the collapsed block it sits in.
    assert exercise == "> **Try it: add one**\n>\n> Add one to `y`.\n>\n> > **Solution**"
    assert solution == "print(y + 1)" and notebook["cells"][9]["outputs"][0]["text"] == ["3\n"]
    assert notebook["nbformat"] == 4 and notebook["nbformat_minor"] == 5


def test_first_code_cell_installs_the_pinned_imports(small_site):
    page = parse_page(small_site.docs_dir / "page.md", small_site)
    install = "".join(build(page, small_site)["cells"][1]["source"])
    # numpy is imported and pinned; json is the standard library; nothing says `make` or names the repo.
    assert install.splitlines()[-1] == "%pip install --quiet numpy==2.0.1"
    assert "make" not in install and "torch" not in install


def test_repo_notebooks_install_torch_with_transformers_and_need_no_repo():
    for path in sorted((DOCS / "notebooks").rglob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        install = "".join(cells[1]["source"])
        assert cells[1]["cell_type"] == "code" and "%pip install --quiet" in install, path
        assert re.search(r"\btorch==2\.13\.0\b.*\btransformers==5\.24\.0\b", install), path
        assert "--index-url https://download.pytorch.org/whl/cpu" in install, path
        # The notebook's own instructions need no repository (the page's prose may still mention `make`).
        own = "".join(cells[0]["source"]) + install
        assert "make" not in own and "snippets/" not in own, path
        text = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        assert "--8<--" not in text and "!!!" not in text and "](" not in text.replace("](http", ""), path
        # Each page's explanations are there: more prose than the headings alone.
        assert len(text) > 600, path


def test_an_unpinned_import_is_an_error_naming_the_block(small_site):
    (small_site.docs_dir / "page.md").write_text(PAGE.replace("import numpy as np", "import requests"))
    page = parse_page(small_site.docs_dir / "page.md", small_site)
    with pytest.raises(PageError, match=r"docs/page\.md:8: imports 'requests', but no pinned `requests==\.\.\.`"):
        build(page, small_site)


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


# --- A downloaded notebook runs on its own, in a real Jupyter kernel -----------------------------------------


def _checkpoints_cached() -> bool:
    """True when every checkpoint of checkpoints.lock is complete in the user's Hugging Face cache."""
    from harness.checkpoints import hubcache
    from harness.checkpoints.lock import Lock

    lock = Lock.load(REPO)
    return all(hubcache.inspect(hubcache.user_cache(), lock.names_of(entry.name), entry.revision, entry.files).status
               == "complete" for entry in lock.checkpoints.values())


@pytest.mark.parametrize("page_path", pages_with_code(), ids=lambda p: p.relative_to(DOCS).as_posix())
def test_notebook_runs_top_to_bottom_in_a_fresh_kernel(page_path, tmp_path, monkeypatch):
    """The notebook alone, copied to an empty folder, in a new kernel: no repo, no Hub, no package index.

    PIP_NO_INDEX makes the install cell fail unless its pins are what is installed, so it also proves the pins
    match the environment the outputs were verified in. Each printed output is compared with the stored one
    by the harness's own comparison (numbers within the page's tolerance).
    """
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    from harness.compare import compare, tolerance_of
    from harness.notebooks import _uses_hub

    page = parse_page(page_path, SITE)
    if _uses_hub(page) and not _checkpoints_cached():
        pytest.skip("its checkpoint is not in the Hugging Face cache here (`make fetch-checkpoints` on a machine "
                    "that reaches the Hub); the kernel would have no weights to load")
    source = DOCS / "notebooks" / page_path.relative_to(DOCS).with_suffix(".ipynb")
    notebook_file = tmp_path / source.name
    shutil.copy2(source, notebook_file)
    notebook = nbformat.read(notebook_file, as_version=4)
    stored = [[o.get("text", "") for o in cell.outputs] for cell in notebook.cells if cell.cell_type == "code"]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.chdir(tmp_path)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and its traceback, when any cell fails
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    # %pip reports a failed install in the cell's output without raising: read it.
    install_output = "".join(o.get("text", "") for o in code_cells[0].outputs)
    assert "error" not in {o.output_type for o in code_cells[0].outputs} and "ERROR" not in install_output, \
        install_output
    for block, cell, expected in zip(page.blocks, code_cells[1:], stored[1:]):
        printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")
        if expected:
            comparison = compare("".join(expected), printed, tolerance_of(block))
            assert comparison.ok, f"{block.id}:\n{comparison.message}"
