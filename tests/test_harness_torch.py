"""Pages that use torch: state isolation, wrapped tensors, grad_fn drift, and xdist keeping pages whole."""
from __future__ import annotations

import json

from harness_testing import repo, summary  # noqa: F401  (fixture)

SETS_STATE = """
    ```python
    import torch
    torch.manual_seed(123)
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    print(torch.get_default_dtype(), torch.get_num_threads(), torch.initial_seed())
    ```

    ```text title="Output"
    torch.float64 1 123
    ```
"""

FRESH = """
    ```python
    import torch
    print(torch.get_default_dtype(), torch.get_num_threads() > 1, torch.initial_seed() != 123)
    ```

    ```text title="Output"
    torch.float32 True True
    ```
"""

WRAPPED = """
    torch prints this tensor over several lines; the page shows it on one:

    ```python
    import torch
    print(torch.arange(16.0).reshape(1, 16) / 8)
    ```

    ```text title="Output"
    tensor([[0.0000, 0.1250, 0.2500, 0.3750, 0.5000, 0.6250, 0.7500, 0.8750, 1.0000, 1.1250, 1.2500, 1.3750, 1.5000, 1.6250, 1.7500, 1.8750]])
    ```
"""

GRAD_FN = """
    !!! note "Autograd"

        ```python
        import torch
        x = torch.ones(1, 2, requires_grad=True)
        print(torch.addmm(torch.zeros(1), x, torch.ones(2, 1)))
        ```

        ```text title="Output"
        tensor([[2.]], grad_fn=<AddmmBackward>)
        ```
"""


def test_torch_state_wrapped_tensors_and_grad_fn_drift_fixed_by_update(repo):
    repo.write("docs/a_sets_state.md", SETS_STATE)
    repo.write("docs/b_fresh.md", FRESH)
    repo.write("docs/c_wrapped.md", WRAPPED)
    page = repo.write("docs/d_grad_fn.md", GRAD_FN)

    result = repo.run("docs")
    result.assert_outcomes(passed=3, failed=1)
    assert "printed output differs from the Output block at docs/d_grad_fn.md:9" in result.stdout.str()
    result.stdout.fnmatch_lines(["*AddmmBackward*"])

    repo.run("docs", "--update-outputs").assert_outcomes(passed=4)
    updated = page.read_text()
    assert "\n    tensor([[2.]], grad_fn=<AddmmBackward0>)\n    ```\n" in updated  # admonition indentation kept

    again = repo.run("docs", "--update-outputs")
    again.assert_outcomes(passed=4)
    assert page.read_text() == updated
    assert summary(again) == "blocks: 4 verified, 0 structural, 0 unchecked, 0 skipped, 0 failed, 0 not run"


def test_xdist_keeps_each_page_on_one_worker_and_counts_every_block(repo):
    for name in "abcd":
        repo.write(f"docs/{name}.md", f"""
            ```python
            import os, torch
            page, worker = "{name}", os.environ.get("PYTEST_XDIST_WORKER")
            print(page)
            ```

            ```text title="Output"
            {name}
            ```

            ```python
            assert page == "{name}"  # the previous block of this page ran here, in this namespace
            print(worker == os.environ.get("PYTEST_XDIST_WORKER"), torch.tensor([1, 2]).sum().item())
            ```

            ```text title="Output"
            True 3
            ```
        """)
    repo.write("docs/e_broken.md", """
        ```python
        raise SystemExit("stop")
        ```

        ```python
        print("not run")
        ```
    """)
    stale = repo.write("docs/f_stale.md", """
        ```python
        print("printed now")
        ```

        ```text title="Output"
        printed once
        ```
    """)
    report_path = repo.root / "report.json"
    result = repo.run("docs", "-n", "2", f"--verification-report={report_path}", "-v", "--update-outputs")
    result.assert_outcomes(passed=9, failed=1, skipped=1)
    assert summary(result) == "blocks: 9 verified, 0 structural, 0 unchecked, 0 skipped, 1 failed, 1 not run"
    assert "printed now\n```" in stale.read_text()  # a worker's rewrite, written once by the controller
    workers = {}
    for line in result.outlines:  # "[gw0] [ 10%] VERIFIED docs/a.md::line 1"
        if line.startswith("[gw") and "docs/" in line:
            workers.setdefault(line.split("docs/")[1].split("::")[0], set()).add(line.split("]")[0])
    assert len(workers) == 6 and all(len(w) == 1 for w in workers.values()), workers
    assert len(json.loads(report_path.read_text())["blocks"]) == 11
