"""From what a block did to its verdict: verified, structural, unchecked, skipped, failed or not run.

Also writes the failure report a reader sees: the page and line of the block and of its Output block,
the code with page line numbers, and the comparison or the traceback.
"""
from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from harness.compare import compare, tolerance_of
from harness.page import SHELLS, Block, Page
from harness.rewrite import RewriteError, request
from harness.runner import STDERR_TAIL, STDOUT_LIMIT, BlockCode, BlockRun, PageRun, run_page
from harness.values import iter_tokens

MAX_CODE_LINES = 40
STAND_IN_UNREAD = "stand-in checkpoint, but none of its weights was read before the block printed"
WHITESPACE = re.compile(r"\s+")


@dataclass
class Verdict:
    """A block's verdict; `details` is the failure report, `rewrite` a pending --update-outputs request."""

    status: str
    reason: str = ""
    details: str = ""
    duration: float = 0.0
    rewrite: dict | None = None
    earlier: str | None = None  # --changed-only: when this verdict was reached (the page did not run now)
    weights: tuple[dict, ...] = ()  # the models the page had loaded by this block, and from where (weights_use.py)


def verify_page(page: Page, plan, last: int, repo_root: Path, update: bool, timeout: float,
                imports: list[str], namespace: str = "page", blocks: list[Block] | None = None,
                strict_xfail: bool = False) -> dict[int, Verdict]:
    """Run the page's blocks up to index `last` in fresh processes; the verdict of each block by index.

    `namespace` "page": all blocks run in order in one namespace, and a failure stops the page. "block"
    (pytest-codeblocks' semantics): each cont chain runs in a process and namespace of its own, and a failure
    stops only its chain. `blocks`: the blocks that run (default all; --codeblocks leaves some languages out).
    """
    verdicts: dict[int, Verdict] = {}
    runnable: list[Block] = []
    for block in (page.blocks if blocks is None else blocks):
        if block.index > last:
            continue
        if block.skip_reason:
            verdicts[block.index] = Verdict("skipped", block.skip_reason)
        elif block.importorskip and importlib.util.find_spec(block.importorskip) is None:
            verdicts[block.index] = Verdict("skipped", f"importorskip: {block.importorskip} is not installed")
        else:
            runnable.append(block)
    if not runnable:
        return verdicts
    if plan.error:
        verdicts[runnable[0].index] = failed_before_run(runnable[0], plan.error)
        verdicts.update((b.index, not_run(b, runnable[0])) for b in runnable[1:])
        return verdicts
    for group in (chains(page, runnable) if namespace == "block" else [runnable]):
        codes = [BlockCode(b.index, b.code, b.code_lines, b.expect_exception, (b.xfail or {}).get("raises"),
                           b.language if b.language in SHELLS else None) for b in group]
        runs = run_page(PageRun(page.name, page.text, codes, dict(plan.env), str(repo_root)), timeout, imports)
        failed = None
        for block, run in zip(group, runs):
            if run.status == "not run":
                verdicts[block.index] = not_run(block, failed)
                continue
            # A stand-in's weights make an output structural only when they were read before the block printed;
            # None (the child could not tell) keeps it structural: the weaker verdict stands.
            structural = plan.structural(block.index) and run.printed_after_stand_in is not False
            verdicts[block.index] = judge(page, block, run, structural, plan.labels, update, timeout, strict_xfail)
            verdicts[block.index].weights = run.weights
            if plan.structural(block.index) and not structural and verdicts[block.index].status == "verified" \
                    and not verdicts[block.index].reason:
                verdicts[block.index].reason = STAND_IN_UNREAD
            failed = block if verdicts[block.index].status == "failed" else failed
    return verdicts


def chains(page: Page, blocks: list[Block]) -> list[list[Block]]:
    """`blocks` grouped by cont chain (a block and the blocks that continue it), in page order."""
    head: dict[int, int] = {}
    for block in page.blocks:
        head[block.index] = head[block.index - 1] if block.continues and block.index else block.index
    groups: dict[int, list[Block]] = {}
    for block in blocks:
        groups.setdefault(head[block.index], []).append(block)
    return list(groups.values())


def judge(page: Page, block: Block, run: BlockRun, structural: bool, labels: frozenset[str],
          update: bool, timeout: float, strict_xfail: bool = False) -> Verdict:
    """The verdict of `block` given its run; with `update`, an out-of-tolerance output becomes a rewrite."""
    where = block.id
    xfail = block.xfail or {"reason": "", "raises": None, "strict": None}
    if run.status == "timed out":
        return _failed(block, run, f"timed out after {timeout:g}s at {where}")
    if run.status == "died":
        return _failed(block, run, f"{run.traceback} at {where}", _stderr(run))
    if run.status == "raised":
        headline = f"block at {where} raised an exception"
        if block.language in SHELLS:
            headline = f"{block.language} block at {where} failed"
        elif block.expect_exception and xfail["raises"]:
            headline += f" other than the expected {xfail['raises']} (pytest.mark.xfail(raises=...))"
        return _failed(block, run, headline, run.traceback, _stderr(run))
    if run.status == "no exception":
        strict = strict_xfail if xfail["strict"] is None else xfail["strict"]
        if strict:
            return _failed(block, run, f"[XPASS(strict)] block at {where} was expected to fail (pytest.mark.xfail"
                           f"{'' if not xfail['reason'] else ': ' + xfail['reason']}) but passed")
        return Verdict("xpassed", "expected to fail (pytest.mark.xfail) but passed", duration=run.duration)
    if block.expect_exception and block.output is None:
        reason = "failed as expected (pytest.mark.xfail" + (f": {xfail['reason']})" if xfail["reason"] else ")")
        return Verdict("xfailed", reason, duration=run.duration)
    if block.output is None:
        return Verdict("unchecked", "no Output block", duration=run.duration)
    status = "structural" if structural else "verified"
    expected, actual = block.output.text, run.stdout
    if block.output.ignore_whitespace:  # pytest-codeblocks:expected-output-ignore-whitespace
        expected, actual = WHITESPACE.sub("", expected), WHITESPACE.sub("", actual)
    comparison = compare(expected, actual, tolerance_of(block), labels if structural else None)
    if comparison.ok:
        return Verdict(status, "stand-in weights: floats not compared" if structural else "", duration=run.duration)
    headline = f"printed output differs from the Output block at {page.name}:{block.output.line}"
    truncated = (f"(the block printed {STDOUT_LIMIT + run.dropped:,} characters; the first {STDOUT_LIMIT:,} "
                 "were kept)") if run.dropped else ""
    if not update:
        return _failed(block, run, headline, comparison.message, truncated)
    try:
        if run.dropped:
            raise RewriteError(f"{page.name}:{block.output.line}: the output is too long to write into a page")
        if structural and any(token.is_float for token in iter_tokens(run.stdout)):
            raise RewriteError(f"{page.name}:{block.output.line}: not rewritten: the block ran with stand-in "
                               "weights and its output has floats (never write random-weight numbers into a "
                               "page; fetch the real checkpoint: python -m harness fetch)")
        rewrite = request(page.path.resolve(), page.name, page.lines, block.output, run.stdout)
    except RewriteError as error:
        return _failed(block, run, f"{headline}; --update-outputs refused", str(error), comparison.message)
    return Verdict(status, "output updated", duration=run.duration, rewrite=rewrite.to_dict())


def not_run(block: Block, failed: Block) -> Verdict:
    """A block after a failed one: its page's (or cont chain's) state is broken, so it was not run (never a pass)."""
    return Verdict("not run", f"not run: block at {failed.id} failed")


def failed_before_run(block: Block, message: str) -> Verdict:
    """The page could not start (e.g. a checkpoint missing): its first runnable block fails with why."""
    return Verdict("failed", message, f"{block.id}: {message}\n\n{show_code(block)}")


def _failed(block: Block, run: BlockRun, headline: str, *sections: str) -> Verdict:
    parts = [headline, show_code(block), *(section.rstrip("\n") for section in sections if section)]
    return Verdict("failed", headline, "\n\n".join(parts), run.duration)


def _stderr(run: BlockRun) -> str:
    return f"stderr of the page (last {STDERR_TAIL} characters):\n{run.stderr_tail}" if run.stderr_tail.strip() else ""


def show_code(block: Block) -> str:
    """The block's code as the reader sees it, each line with its page line number."""
    lines = block.code.rstrip("\n").split("\n")
    numbered = [f"{number:>5} | {line}" for number, line in zip(block.code_lines, lines[:MAX_CODE_LINES])]
    if len(lines) > MAX_CODE_LINES:
        numbered.append(f"      … ({len(lines) - MAX_CODE_LINES} more lines)")
    return f"code ({block.id}):\n" + "\n".join(numbered)
