"""harness.snippets: includes expand exactly as pymdownx.snippets does for the site, mapped to page lines."""
from __future__ import annotations

import functools
import os
from pathlib import Path

import markdown
import pytest

from harness.page import PageError
from harness.snippets import Site, read_config

REPO = Path(__file__).resolve().parent.parent

MKDOCS_YML = """\
site_name: test
docs_dir: pages
theme:
  name: material
markdown_extensions:
  - toc:
      permalink: true
  - pymdownx.emoji:
      emoji_index: !!python/name:material.extensions.emoji.twemoji
      emoji_generator: !!python/name:material.extensions.emoji.to_svg
  - pymdownx.arithmatex:
      generic: !ENV [ARITHMATEX_GENERIC, true]
  - pymdownx.snippets:
      base_path: ["."]
      check_paths: true
      auto_append: ["includes/abbreviations.md"]
"""

PAGE = """\
# Title

```python
--8<-- "snippets/a.py:one"
```

    --8<-- "snippets/a.py:two"

;--8<-- "escaped.md"

--8<--
snippets/a.py:1:2

includes/nested.md
--8<--

--8<-- "snippets/a.py"
last line
"""


@pytest.fixture
def site(tmp_path: Path) -> Site:
    (tmp_path / "mkdocs.yml").write_text(MKDOCS_YML)
    (tmp_path / "snippets").mkdir()
    (tmp_path / "snippets" / "a.py").write_text(
        "import os\n# --8<-- [start:one]\nx = 1\n# --8<-- [end:one]\n# --8<-- [start:two]\ny = 2\nz = 3\n"
        "# --8<-- [end:two]\n")
    (tmp_path / "includes").mkdir()
    (tmp_path / "includes" / "abbreviations.md").write_text("*[GPU]: Graphics Processing Unit\n")
    (tmp_path / "includes" / "nested.md").write_text('nested\n--8<-- "snippets/a.py:one"\n')
    (tmp_path / "pages").mkdir()  # MkDocs loads a config only with its docs_dir there
    return Site.load(tmp_path)


@functools.lru_cache
def mkdocs_snippets_config(config_file: Path, changed: float) -> dict:
    """pymdownx.snippets' settings as MkDocs itself loads them (`!relative` tags resolved by MkDocs)."""
    from mkdocs.config import load_config

    return dict(load_config(str(config_file)).mdx_configs["pymdownx.snippets"])


def pymdownx_lines(site: Site, lines: list[str]) -> list[str]:
    """What the site's own Markdown preprocessor makes of `lines` (the reference), run from mkdocs.yml's folder
    as `mkdocs build` is when started there."""
    config = mkdocs_snippets_config(site.config_file, site.config_file.stat().st_mtime)
    cwd = os.getcwd()
    os.chdir(site.repo_root)  # pymdownx makes a relative base path absolute from the cwd, when it is created
    try:
        md = markdown.Markdown(extensions=["pymdownx.snippets"], extension_configs={"pymdownx.snippets": config})
        return md.preprocessors["snippet"].run(list(lines))
    finally:
        os.chdir(cwd)


def test_load_reads_mkdocs_yml_with_python_tags(site, tmp_path):
    assert site.repo_root == tmp_path.resolve() and site.docs_dir == tmp_path.resolve() / "pages"
    assert site.snippets == {"base_path": ["."], "check_paths": True, "auto_append": ["includes/abbreviations.md"]}
    config = read_config(tmp_path / "mkdocs.yml")
    assert "twemoji" in config["markdown_extensions"][1]["pymdownx.emoji"]["emoji_index"]


def test_expansion_is_the_sites(site):
    lines = PAGE.split("\n")
    expanded, _ = site.expand(lines, "docs/p.md")
    assert expanded == pymdownx_lines(site, lines)
    assert "x = 1" in expanded and ';--8<-- "escaped.md"' not in expanded and '--8<-- "escaped.md"' in expanded


def test_origins_point_at_the_include_line(site):
    lines = PAGE.split("\n")
    expanded, origins = site.expand(lines, "docs/p.md")
    by_line = {}
    for text, (index, verbatim) in zip(expanded, origins):
        by_line.setdefault(index, []).append((text, verbatim))
    assert by_line[2] == [("```python", True)]
    assert by_line[3] == [("x = 1", False)]
    assert by_line[6] == [("    y = 2", False), ("    z = 3", False)]
    assert by_line[11] == [("import os", False)]  # lines 1-2 of a block include; section markers go
    assert by_line[13] == [("nested", False), ("x = 1", False), ("", False)]  # a nested include
    assert by_line[len(lines) - 2] == [("last line", True)]
    assert expanded[-3:] == ["*[GPU]: Graphics Processing Unit", "", ""] and origins[-1] == (len(lines) - 1, False)


def test_relative_base_path_is_the_repo_root_not_the_cwd(site, monkeypatch, tmp_path_factory):
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    expanded, _ = Site.load(site.repo_root).expand(['--8<-- "snippets/a.py:one"'], "docs/p.md")
    assert expanded[0] == "x = 1"


def test_relative_tag_base_path_is_the_folder_of_mkdocs_yml(site, monkeypatch, tmp_path_factory):
    # mkdocs.yml says `!relative $config_dir` (MkDocs 1.5+): the harness must read the same files as the build.
    config = site.repo_root / "mkdocs.yml"
    config.write_text(config.read_text().replace('base_path: ["."]', "base_path: [!relative $config_dir, !relative $docs_dir/parts]"))
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    loaded = Site.load(site.repo_root)
    assert loaded.base_paths() == [site.repo_root, site.repo_root / "pages" / "parts"]
    expanded, _ = loaded.expand(['--8<-- "snippets/a.py:one"'], "docs/p.md")
    assert expanded[0] == "x = 1" and "*[GPU]: Graphics Processing Unit" in expanded


@pytest.mark.parametrize("line, message", [
    ('--8<-- "snippets/missing.py"', "Snippet at path 'snippets/missing.py' could not be found"),
    ('--8<-- "snippets/a.py:three"', "Snippet section 'three' could not be located"),
])
def test_missing_include_names_page_and_line(site, line, message):
    with pytest.raises(PageError) as info:
        site.expand(["a", "", line], "docs/p.md", first_line=5)
    assert str(info.value).startswith(f"docs/p.md:7: {message}")


def test_missing_auto_append_is_reported(site):
    (site.repo_root / "includes" / "abbreviations.md").unlink()
    with pytest.raises(PageError, match=r"docs/p.md:2: .*auto_append"):
        Site.load(site.repo_root).expand(["a", "b"], "docs/p.md")


def test_without_mkdocs_yml_the_defaults_apply(tmp_path):
    site = Site.load(tmp_path)
    assert site.snippets == {"base_path": ["."], "check_paths": True} and site.config_file is None
    with pytest.raises(PageError):
        site.expand(['--8<-- "nothing.py"'], "x.md")


def test_find_walks_up_to_mkdocs_yml(site):
    (site.repo_root / "pages" / "deep").mkdir(parents=True)
    assert Site.find(site.repo_root / "pages" / "deep").repo_root == site.repo_root


def test_tabs_and_whitespace_lines_stay_as_written(site):
    # Python-Markdown would expand the tab and empty the second line; the code that runs is the page's own.
    expanded, _ = site.expand(["\tx = 1", "   ", "a"], "docs/p.md")
    assert expanded[:3] == ["\tx = 1", "   ", "a"]


def project_pages() -> list[Path]:
    docs = REPO / "docs"
    return [p for p in sorted(docs.rglob("*.md")) + [REPO / "README.md"] if p.is_file()]


@pytest.mark.skipif(not (REPO / "mkdocs.yml").is_file(), reason="the project has no mkdocs.yml yet")
@pytest.mark.parametrize("path", project_pages(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_project_pages_expand_as_the_site_does(path):
    site = Site.load(REPO)
    lines = path.read_text(encoding="utf-8-sig").split("\n")
    assert site.expand(lines, path)[0] == pymdownx_lines(site, lines)
