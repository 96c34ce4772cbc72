"""From what a block did to its verdict: verified, structural, unchecked, skipped, failed or not run.

Also writes the failure report a reader sees: the page and line of the block and of its Output block,
the code with page line numbers, and the comparison or the traceback.
"""
from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path

from harness.compare import compare, compare_raised, exception_of, split_documented, tolerance_of
from harness.page import SHELLS, Block, Page
from harness.rewrite import RewriteError, request
from harness.runner import STDERR_TAIL, STDOUT_LIMIT, BlockCode, BlockRun, PageRun, run_page
from harness.values import iter_tokens, normalize

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
    repo_files: tuple[str, ...] = ()  # the repo files the page's process had imported or read by this block's end
    untracked: str = ""  # why the page's inputs are not all known by this block's end (--changed-only runs it)
    changes: bool | None = None  # --repeat: True when a later run printed other text (or ended otherwise)
    rewrites: list[dict] = field(default_factory=list)  # a `>>>` session's: one per statement whose output changed


def verify_page(page: Page, plan, last: int, repo_root: Path, update: bool, timeout: float,
                imports: list[str], namespace: str = "page", blocks: list[Block] | None = None,
                strict_xfail: bool = False, repeat: int = 1) -> dict[int, Verdict]:
    """Run the page's blocks up to index `last` in fresh processes; the verdict of each block by index.

    `namespace` "page": all blocks run in order in one namespace, and a failure stops the page. "block"
    (pytest-codeblocks' semantics): each cont chain runs in a process and namespace of its own, and a failure
    stops only its chain. `blocks`: the blocks that run (default all; --codeblocks leaves some languages out).

    With `repeat` > 1 each process's blocks run that many times, the later runs each in a new interpreter
    (another hash seed, as a second `python` has): every run's output is compared, and a block whose printed
    text changes between runs says so (Verdict.changes) and is never rewritten.
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
                           b.language if b.language in SHELLS else None, b.code_sources, _session_code(b))
                 for b in group]
        page_run = PageRun(page.name, page.text, codes, dict(plan.env), str(repo_root), main_file(page))
        runs = run_page(page_run, timeout, imports)
        later = [run_page(page_run, timeout, imports, fresh=True) for _ in range(repeat - 1)]
        failed = None
        for position, (block, run) in enumerate(zip(group, runs)):
            if run.status == "not run":
                verdicts[block.index] = not_run(block, failed)
                continue
            again = [runs_k[position] for runs_k in later]
            # A stand-in's weights make an output structural only when they were read before the block printed;
            # None (the child could not tell) keeps it structural: the weaker verdict stands.
            structural = plan.structural(block.index) and any(r.printed_after_stand_in is not False
                                                              for r in [run, *again])
            verdicts[block.index] = judge_runs(page, block, [run, *again], structural, plan.labels, update, timeout,
                                               strict_xfail)
            verdicts[block.index].repo_files = tuple(sorted({f for r in [run, *again] for f in r.repo_files}))
            verdicts[block.index].untracked = next((r.untracked for r in [run, *again] if r.untracked), "")
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


def judge_runs(page: Page, block: Block, runs: list[BlockRun], structural: bool, labels: frozenset[str],
               update: bool, timeout: float, strict_xfail: bool = False) -> Verdict:
    """The verdict of `block` over one or more runs of its page: the first failing run's, else the first run's.

    A block whose later run printed other output than the first (or ended otherwise) has `changes` True; its
    output is never written into the page, since no one text is right. "Other" is the harness's comparison's:
    a set printed in another order, or a float within tolerance, is the same output.
    """
    first, n = runs[0], len(runs)
    changes = any(run.status != "not run" and (run.status != first.status
                                               or not compare(first.stdout, run.stdout, tolerance_of(block)).ok)
                  for run in runs[1:])
    verdict = judge(page, block, first, structural, labels, update and not changes, timeout, strict_xfail)
    for k, run in enumerate(runs[1:], 2):
        # An update stands for every run: `changes` is False, so each later run printed what the first did.
        if verdict.status == "failed" or verdict.rewrite or verdict.rewrites:
            break
        if run.status == "not run":
            continue
        again = judge(page, block, run, structural, labels, False, timeout, strict_xfail)
        if again.status == "failed":
            prefix = f"run {k} of {n}: "
            verdict = Verdict("failed", prefix + again.reason, prefix + again.details, again.duration)
    if n > 1:
        verdict.changes = changes
        if changes:
            note = "the output changes between runs (sort, seed or round what it prints)"
            if verdict.status == "failed" and update and block.output is not None:
                note += "; --update-outputs refused to write it"
            verdict.reason = f"{verdict.reason}; {note}" if verdict.reason else note
            if verdict.details:
                verdict.details = verdict.details.replace("\n\n", f"\n{note}\n\n", 1)
    return verdict


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
    if block.session is not None:
        return judge_session(page, block, run, structural, labels, update)
    if block.expect_exception and block.output is None:
        reason = "failed as expected (pytest.mark.xfail" + (f": {xfail['reason']})" if xfail["reason"] else ")")
        return Verdict("xfailed", reason, duration=run.duration)
    if block.output is None:
        return Verdict("unchecked", "no Output block", duration=run.duration)
    status = "structural" if structural else "verified"
    expected, actual = block.output.text, run.stdout
    # It raised, as expected: the exception it documents is part of its output (a shell's exit status is not).
    raised = block.expect_exception and run.traceback and block.language not in SHELLS
    if block.output.ignore_whitespace:  # pytest-codeblocks:expected-output-ignore-whitespace
        expected, actual = WHITESPACE.sub("", expected), WHITESPACE.sub("", actual)
        comparison = compare(expected, actual, tolerance_of(block), labels if structural else None)
    elif raised:
        comparison = compare_raised(expected, actual, run.traceback, tolerance_of(block),
                                    labels if structural else None)
    else:
        comparison = compare(expected, actual, tolerance_of(block), labels if structural else None)
    if comparison.ok:
        return Verdict(status, "stand-in weights: floats not compared" if structural else "", duration=run.duration)
    output_at = f"{page.name}:{block.output.line}"
    headline = f"printed output differs from the Output block at {output_at}"
    if comparison.mismatches and comparison.mismatches[0].kind == "exception":
        headline = f"the block raised an exception other than the one the Output block at {output_at} documents"
    truncated = (f"(the block printed {STDOUT_LIMIT + run.dropped:,} characters; the first {STDOUT_LIMIT:,} "
                 "were kept)") if run.dropped else ""
    if not update:
        return _failed(block, run, headline, comparison.message, truncated)
    new = run.stdout
    if raised:  # the documented traceback's header and stack stay, its exception line is rewritten
        new = split_documented(block.output.text).rewritten(run.stdout, exception_of(run.traceback))
    try:
        if run.dropped:
            raise RewriteError(f"{output_at}: the output is too long to write into a page")
        if not normalize(new).strip():
            if not new:
                raise RewriteError(f"{output_at}: the block printed nothing, and an empty Output block would check "
                                   "nothing (a bare expression shows its value only in a notebook or the REPL: "
                                   "print it)")
            characters = f"{len(new)} character{'s' * (len(new) != 1)}"
            raise RewriteError(f"{output_at}: the block printed only blank space or terminal codes ({characters}), "
                               "which an Output block cannot show: it would check nothing")
        if structural and any(token.is_float for token in iter_tokens(new)):
            raise RewriteError(f"{output_at}: not rewritten: the block ran with stand-in "
                               "weights and its output has floats (never write random-weight numbers into a "
                               "page; fetch the real checkpoint: python -m harness fetch)")
        rewrite = request(page.path.resolve(), page.name, page.lines, block.output, new)
    except RewriteError as error:
        return _failed(block, run, f"{headline}; --update-outputs refused", str(error), comparison.message)
    return Verdict(status, "output updated", duration=run.duration, rewrite=rewrite.to_dict())


def main_file(page: Page) -> str:
    """The page's `__main__.__file__`: the first snippet file its blocks include (the project keeps a page's code
    in snippets/ under the same path), else the page itself; relative to the repo root."""
    return next((source[0] for block in page.blocks for source in block.code_sources if source), page.name)


def _session_code(block: Block) -> tuple:
    """What the page's process needs of a `>>>` session: (source, page lines, may raise) per statement run."""
    return tuple((example.source, tuple(example.lines), example.expects_exception)
                 for example in block.session or () if not example.skip)


def judge_session(page: Page, block: Block, run: BlockRun, structural: bool, labels: frozenset[str],
                  update: bool) -> Verdict:
    """The verdict of a `>>>` session: each statement's output compared with what it showed, as doctest does.

    With `update`, each statement whose output changed becomes a rewrite of the lines under its prompt.
    """
    status = "structural" if structural else "verified"
    examples = [example for example in block.session if not example.skip]
    if not examples:
        return Verdict("unchecked", "every statement of the session is marked +SKIP", duration=run.duration)
    differences, rewrites, refusals, first = [], [], [], None
    for example, (printed, raised) in zip(examples, run.session):
        want = example.want
        if raised:
            comparison = compare_raised(want.text, printed, raised, tolerance_of(block), labels if structural else None)
        else:
            comparison = compare(want.text, printed, tolerance_of(block), labels if structural else None)
        if comparison.ok:
            continue
        where = f"{page.name}:{want.line}"
        first = first or where
        differences.append(f"statement at {where}:\n{comparison.message}")
        if not update:
            continue
        new = split_documented(want.text).rewritten(printed, exception_of(raised)) if raised else printed
        try:
            if run.dropped:
                raise RewriteError(f"{where}: the output is too long to write into a page")
            if structural and any(token.is_float for token in iter_tokens(new)):
                raise RewriteError(f"{where}: not rewritten: the block ran with stand-in weights and its output "
                                   "has floats (fetch the real checkpoint: python -m harness fetch)")
            rewrites.append(request(page.path.resolve(), page.name, page.lines, want, new, session=True).to_dict())
        except RewriteError as error:
            refusals.append(str(error))
    if not differences:
        return Verdict(status, "stand-in weights: floats not compared" if structural else "", duration=run.duration)
    if update and not refusals:
        return Verdict(status, "output updated", duration=run.duration, rewrites=rewrites)
    headline = f"the >>> session printed other output than it shows, first at {first}"
    return _failed(block, run, headline + ("; --update-outputs refused" if update else ""), *refusals, *differences)


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
    """The block's code as the reader sees it, each line with its own line: the page's, or for a line an include
    brought, its snippet file's ("snippets/x.py:12"); the header names the page lines of the includes."""
    lines = block.code.rstrip("\n").split("\n")
    sources = list(block.code_sources) + [None] * (len(block.code_lines) - len(block.code_sources))
    labels = [f"{source[0]}:{source[1]}" if source else str(number)
              for number, source in zip(block.code_lines, sources)]
    width = max([5, *map(len, labels)])
    numbered = [f"{label:>{width}} | {line}" for label, line in zip(labels, lines[:MAX_CODE_LINES])]
    if len(lines) > MAX_CODE_LINES:
        numbered.append(f"{'':>{width}} … ({len(lines) - MAX_CODE_LINES} more lines)")
    includes = sorted({number for number, source in zip(block.code_lines, sources) if source})
    where = f"; included at page line {', '.join(map(str, includes))}" if includes else ""
    return f"code ({block.id}{where}):\n" + "\n".join(numbered)
