"""Verdicts of blocks run with stand-in weights: floats are not compared and never written into a page."""
from __future__ import annotations

from pathlib import Path

from harness.child import BlockRun
from harness.page import parse_page
from harness.snippets import Site
from harness.verdict import judge

PAGE = """```python
print(model_output)
```

```text title="Output"
{OUTPUT}
```
"""


def _judge(documented: str, printed: str, update: bool, labels=frozenset()):
    page = parse_page(Path("docs/page.md"), Site.load(Path("/nonexistent")), text=PAGE.replace("{OUTPUT}", documented))
    return judge(page, page.blocks[0], BlockRun(0, "ok", printed), True, labels, update, 600)


def test_structural_blocks_ignore_weight_dependent_floats_and_treat_stand_in_labels_alike():
    verdict = _judge("[{'label': 'POSITIVE', 'score': 0.9598}]", "[{'label': 'LABEL_1', 'score': 0.5012}]\n",
                     update=False, labels=frozenset({"POSITIVE", "LABEL_1"}))
    assert verdict.status == "structural"
    assert _judge("torch.Size([2, 16])", "torch.Size([2, 17])\n", update=False).status == "failed"


def test_update_never_writes_stand_in_floats_but_rewrites_exact_tokens():
    refused = _judge("tensor([[0.1000, 0.2000]])", "tensor([[0.1000, 0.2000, 0.3000]])\n", update=True)
    assert refused.status == "failed" and refused.rewrite is None
    assert "never write random-weight numbers into a page" in refused.details
    updated = _judge("[101, 2023, 102]", "[101, 2023, 2003, 102]\n", update=True)
    assert updated.status == "structural" and updated.rewrite["new"] == "[101, 2023, 2003, 102]\n"
