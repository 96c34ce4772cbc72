"""Damaged pages fail the strict build with a message naming the file; a failed build leaves no site behind."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, run_mkdocs_build

# The site's sources. harness/ too: the probability chart hook reads Output blocks with the harness parser.
# verification.json: the record each output's status line is read from (hooks/verification.py).
SOURCES = ("mkdocs.yml", "docs", "snippets", "includes", "hooks", "overrides", "harness", "verification.json")


@pytest.fixture
def repo_copy(tmp_path) -> Path:
    """The site's sources in a scratch folder (no .venv), to damage freely."""
    root = tmp_path / "repo"
    root.mkdir()
    for name in SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, root / name)
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path}: {old!r} not found; the test needs updating"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def failed_build(root: Path):
    build = run_mkdocs_build(root / "site", root / "mkdocs.yml")
    assert build.returncode != 0, "the strict build passed on a damaged page"
    return build


def test_the_undamaged_copy_builds(repo_copy):
    # Without this, the failures below could come from the copy, not from the damage.
    assert run_mkdocs_build(repo_copy / "site", repo_copy / "mkdocs.yml").returncode == 0


def test_missing_snippet_file(repo_copy):
    edit(repo_copy / "docs/using-transformers/tokenizer.md",
         "snippets/using-transformers/tokenizer.py:decode", "snippets/using-transformers/no-such-file.py:decode")
    log = failed_build(repo_copy).log
    assert "using-transformers/tokenizer.md" in log
    assert "snippets/using-transformers/no-such-file.py" in log
    # A clear error with the page line of the include (hooks/includes.py), not pymdownx's traceback.
    assert re.search(r"docs/using-transformers/tokenizer\.md:\d+: Snippet at path", log), log
    assert "Traceback" not in log


def test_missing_snippet_section(repo_copy):
    edit(repo_copy / "docs/using-transformers/tokenizer.md",
         "snippets/using-transformers/tokenizer.py:decode", "snippets/using-transformers/tokenizer.py:no-such-section")
    log = failed_build(repo_copy).log
    assert "Error reading page 'using-transformers/tokenizer.md'" in log
    assert "no-such-section" in log


def test_section_removed_from_the_snippet_file(repo_copy):
    edit(repo_copy / "snippets/using-transformers/model.py", "# --8<-- [start:access]\n", "")
    edit(repo_copy / "snippets/using-transformers/model.py", "# --8<-- [end:access]\n", "")
    log = failed_build(repo_copy).log
    assert "using-transformers/model.md" in log and "access" in log


def test_broken_link(repo_copy):
    edit(repo_copy / "docs/using-transformers/model.md", "[model heads](model-heads.md)",
         "[model heads](model-head.md)")
    log = failed_build(repo_copy).log
    assert "Doc file 'using-transformers/model.md' contains a link 'model-head.md'" in log


def test_broken_anchor(repo_copy):
    edit(repo_copy / "docs/glossary.md", "transformer-models/index.md#two-ways-to-learn-from-raw-text",
         "transformer-models/index.md#no-such-heading")
    log = failed_build(repo_copy).log
    assert "Doc file 'glossary.md'" in log and "#no-such-heading" in log


def test_page_missing_from_the_nav(repo_copy):
    (repo_copy / "docs/orphan.md").write_text("# Orphan\n\nIn no navigation.\n", encoding="utf-8")
    log = failed_build(repo_copy).log
    assert "orphan.md" in log and "nav" in log


def test_probability_chart_refuses_an_output_that_is_no_distribution(repo_copy):
    edit(repo_copy / "docs/using-transformers/post-processing.md", "[9.9946e-01, 5.4418e-04]", "[9.9946e-01, 5.4418e-01]")
    log = failed_build(repo_copy).log
    assert "docs/using-transformers/post-processing.md:" in log and "not a probability distribution" in log


def test_probability_chart_needs_an_output_above_it(repo_copy):
    edit(repo_copy / "docs/using-transformers/post-processing.md", "<!-- probability-chart",
         "Prose in between.\n\n<!-- probability-chart")
    log = failed_build(repo_copy).log
    assert "docs/using-transformers/post-processing.md:" in log and "must follow an Output block" in log


def test_an_output_block_away_from_its_code_is_an_error_naming_the_page_line(repo_copy):
    # Prose between the code and a fence titled "Output:": the page is refused with its own words, as by pytest.
    page = repo_copy / "docs/using-transformers/tokenizer.md"
    lines = page.read_text(encoding="utf-8").splitlines()
    page.write_text("\n".join(lines + ["", "```python", "print(1)", "```", "", "Prose in between.", "",
                                        '```text title="Output:"', "1", "```", ""]), encoding="utf-8")
    log = failed_build(repo_copy).log
    assert f"docs/using-transformers/tokenizer.md:{len(lines) + 8}: Output block is not directly under" in log, log
    assert "Traceback" not in log


def test_failed_build_leaves_no_site_that_looks_complete(repo_copy):
    """`make build` builds into SITE_DIR.partial and moves it into place only on success."""
    site = repo_copy / "site"
    venv = REPO / ".venv"
    make = ["make", "--no-print-directory", "-f", str(REPO / "Makefile"), f"VENV={venv}",
            "-o", f"{venv}/.site-installed", f"SITE_DIR={site}", "build"]
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    assert subprocess.run(make, cwd=repo_copy, env=env, capture_output=True, timeout=600).returncode == 0
    assert (site / "index.html").is_file()
    (site / "index.html").unlink()  # mark the good build, to see that a failed one does not replace it
    (repo_copy / "docs/orphan.md").write_text("# Orphan\n", encoding="utf-8")
    result = subprocess.run(make, cwd=repo_copy, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode != 0
    assert "Strict build failed" in result.stderr
    assert not (repo_copy / "site.partial").exists()
    assert not (site / "index.html").exists()  # the previous site, untouched; no half-built one in its place
    # Plain `mkdocs build --strict` is what needs the wrapper: it leaves a complete-looking site.
    direct = run_mkdocs_build(repo_copy / "direct", repo_copy / "mkdocs.yml")
    assert direct.returncode != 0 and (repo_copy / "direct" / "index.html").is_file()


# --- Paths: everything resolves against mkdocs.yml's folder, whatever the shell's folder ----------

def site_files(site: Path) -> dict[str, bytes]:
    """Every file of a built site, by relative path."""
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}


def test_build_from_another_folder_is_the_same_site(repo_copy, tmp_path, monkeypatch):
    # The sitemap carries the build's date (in the XML and the gzip header): two builds either side of midnight
    # differ there, so both take the date a reproducible build is given (MkDocs reads SOURCE_DATE_EPOCH).
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1796083200")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    here = run_mkdocs_build(tmp_path / "here", repo_copy / "mkdocs.yml")
    there = run_mkdocs_build(tmp_path / "there", repo_copy / "mkdocs.yml", cwd=elsewhere)
    assert here.returncode == 0, here.log
    assert there.returncode == 0, there.log
    assert site_files(tmp_path / "there") == site_files(tmp_path / "here")


def test_build_from_a_second_checkout_reads_its_own_includes(repo_copy, tmp_path):
    # Another checkout of the project, whose glossary says something else: the shell stands in it.
    other = tmp_path / "other-checkout"
    shutil.copytree(repo_copy / "includes", other / "includes")
    edit(other / "includes/abbreviations.md", "*[logits]: Raw,", "*[logits]: THE OTHER CHECKOUT'S DEFINITION. Raw,")
    build = run_mkdocs_build(tmp_path / "site", repo_copy / "mkdocs.yml", cwd=other)
    assert build.returncode == 0, build.log
    html = (tmp_path / "site/using-transformers/post-processing.html").read_text(encoding="utf-8")
    assert re.search(r"<abbr [^>]*title=\"Raw, unnormalized scores", html)  # the glossary tooltip, any attribute order
    assert "OTHER CHECKOUT" not in html


def test_missing_glossary_include_names_the_file(repo_copy, tmp_path):
    (repo_copy / "includes/abbreviations.md").unlink()
    # The same file in the shell's folder must not stand in for the missing one.
    decoy = tmp_path / "decoy"
    shutil.copytree(REPO / "includes", decoy / "includes")
    build = run_mkdocs_build(repo_copy / "site", repo_copy / "mkdocs.yml", cwd=decoy)
    assert build.returncode != 0, "the build took the glossary of the shell's folder"
    assert "mkdocs.yml: pymdownx.snippets auto_append: includes/abbreviations.md not found" in build.log
    assert "Traceback" not in build.log


# --- Anchors into notebook pages are checked like anchors into Markdown pages --------------------

def test_broken_anchor_into_a_notebook(repo_copy):
    edit(repo_copy / "docs/using-transformers/model.md", "\n## ",
         "\nRun it in [the notebook](../notebooks/using-transformers/model.ipynb#no-such-section).\n\n## ")
    log = failed_build(repo_copy).log
    assert "Doc file 'using-transformers/model.md'" in log
    assert "notebooks/using-transformers/model.ipynb#no-such-section" in log


def test_existing_anchor_into_a_notebook_builds(repo_copy):
    # The check above must not refuse every anchor into a notebook: a heading of the notebook is one. The link
    # goes at the end, so no Output block moves away from its line in the verification record.
    page = repo_copy / "docs/using-transformers/model.md"
    page.write_text(page.read_text(encoding="utf-8") +
                    "\nRun it in [the notebook](../notebooks/using-transformers/model.ipynb#hidden-states).\n",
                    encoding="utf-8")
    build = run_mkdocs_build(repo_copy / "site", repo_copy / "mkdocs.yml")
    assert build.returncode == 0, build.log


# --- The verification record (hooks/verification.py) ---------------------------------------------


def test_missing_verification_record_fails_the_strict_build(repo_copy):
    (repo_copy / "verification.json").unlink()
    log = failed_build(repo_copy).log
    assert "WARNING" in log and "verification.json: no verification record" in log and "make verify" in log


def test_malformed_verification_record_is_an_error_naming_the_file(repo_copy):
    path = repo_copy / "verification.json"
    path.write_text(path.read_text(encoding="utf-8")[:300], encoding="utf-8")  # cut mid-write
    log = failed_build(repo_copy).log
    assert f"{path}: the verification record is not valid JSON" in log


def test_an_output_block_missing_from_the_record_fails_the_strict_build(repo_copy):
    import json

    path = repo_copy / "verification.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["blocks"] = [b for b in document["blocks"]
                          if (b["page"], b["line"]) != ("docs/using-transformers/tokenizer.md", 24)]
    path.write_text(json.dumps(document), encoding="utf-8")
    log = failed_build(repo_copy).log
    assert "docs/using-transformers/tokenizer.md:28: this Output block is not in verification.json" in log
    # The notebook page shows the same output: its cell gets the same warning, naming the notebook and the block.
    assert re.search(r"notebooks/using-transformers/tokenizer\.ipynb \(cell \w+, from docs/using-transformers/"
                     r"tokenizer\.md:24\): this cell's output is not in verification\.json", log), log
