"""pytest hooks of the harness: every page's code blocks become items, one per block.

A page runs once, on its first item, in a process of its own (runner.py); each item reports its block's
verdict. Outputs are rewritten (--update-outputs) at the end of the session, in one place.

`--codeblocks` means pytest-codeblocks' semantics (README.md, "pytest-codeblocks pages"): only its fence
languages run, and each cont chain in a namespace of its own unless the project (ini `harness_namespace`) or
the page (front matter `namespace:`) says otherwise. pytest-codeblocks' own collector is switched off, so
no block is collected twice.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from harness import incremental, record, report, rewrite
from harness.checkpoints.resolver import PagePlan
from harness.markers import CONDITION_GLOBALS
from harness.page import PYTHON, SESSIONS, SHELLS, Block, PageError, display_path, parse_page
from harness.runner import import_specs
from harness.snippets import Site
from harness.verdict import Verdict, verify_page

STATE = pytest.StashKey["Harness"]()
REFUSED = "--update-outputs refused"  # in the headline of a failed verdict whose rewrite was refused
# The fence languages each semantics runs: pytest-codeblocks runs `python` fences only (not `py`), and shells.
LANGUAGES = {"harness": PYTHON | SHELLS | SESSIONS, "codeblocks": frozenset({"python"}) | SHELLS}
HARNESS_MARKS = {"skip", "skipif", "xfail", "tolerance"}  # marks the harness itself acts on (harness/markers.py)
# How pytest's outcome words count the harness's verdicts (printed under the summary line).
PYTEST_WORDS = {"passed": ("verified", "structural", "unchecked"), "xfailed": ("xfailed",),
                "xpassed": ("xpassed",), "skipped": ("skipped", "not run", "earlier"),
                "failed": ("failed",)}


class Harness:
    """Session-wide state: the site, the checkpoint resolver, the tally and the pending rewrites."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.site = Site.load(config.rootpath)
        self.tally = report.Tally()
        self.incremental = incremental.Incremental(config, self.site.repo_root)
        self.rewrites: list[rewrite.Rewrite] = []
        self.imports: list[str] = []
        self.messages: list[str] = []
        self.unreadable: set[str] = set()
        self.refused: list[dict] = []  # rewrites refused by the verdict: {"page", "output_line", "why"}
        self.update_summary: str | None = None
        self._resolver = None
        self._work_dir: str | None = None

    @property
    def resolver(self):
        """The checkpoint resolver, made on first use (a worker that runs no page never builds stand-ins)."""
        if self._resolver is None:
            from harness.checkpoints.resolver import Resolver  # noqa: PLC0415  (imports the hub cache helpers)

            self._work_dir = tempfile.mkdtemp(prefix="harness-")
            self._resolver = Resolver(self.site.repo_root, require_models=self.config.option.require_models,
                                      work_dir=Path(self._work_dir))
        return self._resolver

    def close(self) -> None:
        """Remove the session's work directory."""
        if self._work_dir:
            shutil.rmtree(self._work_dir, ignore_errors=True)

    def pytest_collection_modifyitems(self, items: list) -> None:
        # The fork server pre-imports what any page imports: torch and transformers load once per process.
        pages = {item.parent for item in items if isinstance(item, BlockItem)}
        self.imports = import_specs((b.code for page in pages for b in page.page.blocks), self.site.repo_root)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        # A page that cannot be read is a collection error; on xdist the controller sees the workers' reports.
        if report.failed and report.nodeid.endswith(".md") and report.nodeid not in self.unreadable:
            self.unreadable.add(report.nodeid)
            message = report.longreprtext.removeprefix("cannot read the page: ")
            where, _, _ = message.partition(": ")
            line = where.rpartition(":")[2]
            self.tally.errors.append({"page": report.nodeid, "line": int(line) if line.isdigit() else None,
                                      "message": message})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Runs on the xdist controller too, with the workers' reports: the tally is complete there.
        record = _harness_record(report)
        if record is None or report.when != "call":
            return
        self.tally.add(record)
        if record["status"] == "failed" and REFUSED in record["reason"]:
            self.refused.append(_refusal(record, report.longreprtext))
        if record.get("changes_between_runs"):
            self.messages.append(f"output changes between runs: {record['page']}:{record['line']}")
        self.incremental.observe(report.user_properties)
        self.rewrites += [rewrite.Rewrite(**value) for key, value in report.user_properties
                          if key == "harness-rewrite"]

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput"):  # the controller cleans up, once
            return
        # A run killed during its rewrites (SIGKILL) leaves write_atomic's temp files beside the pages.
        folders = {self.site.docs_dir.resolve(): True}
        for arg in self.config.args:
            path = Path(self.config.invocation_params.dir, arg.split("::")[0]).resolve()
            if path.is_file():
                folders.setdefault(path.parent, False)  # a page outside docs/ (README.md): its own folder only
        removed = [path for folder, recursive in folders.items() for path in rewrite.leftovers(folder, recursive)
                   if rewrite.remove_leftover(path)]
        if removed:
            names = sorted(display_path(path, self.site.repo_root) for path in removed)
            self.tally.sections["removed_temp_files"] = names
            self.messages.append(f"removed {len(names)} temp file(s) left by an interrupted update: "
                                 + ", ".join(names))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput"):  # an xdist worker: the controller writes
            return
        if self.config.option.update_outputs:
            try:
                self._rewrite(session)
            except Exception as error:  # noqa: BLE001  (the summary and the report must still come)
                self.messages.append(f"--update-outputs stopped: {type(error).__name__}: {error}")
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
        self.incremental.finish()
        if self.config.option.verification_report:
            path = self.config.invocation_params.dir / self.config.option.verification_report
            self.tally.write(path, self.site.repo_root)
            self.messages.append(f"verification report: {path}")

    def _rewrite(self, session: pytest.Session) -> None:
        """Apply the pending --update-outputs rewrites: each block's change and one summary line (terminal and
        report), then regenerate the notebooks if a page changed."""
        applied = rewrite.apply_all(self.rewrites)
        rewritten = [{"page": r.name, "output_line": r.line, "diff": rewrite.diff(r)} for r in applied.rewritten]
        refused = self.refused + [{"page": r.name, "output_line": r.line,
                                   "why": why.removeprefix(f"{r.name}:{r.line}: ")} for r, why in applied.refused]
        section = report.update_section(rewritten, refused)
        self.tally.sections["update"] = section
        self.update_summary = section["summary"]
        for entry in rewritten:
            self.messages += [f"{entry['page']}:{entry['output_line']}: Output rewritten"]
            self.messages += [f"    {line}" for line in entry["diff"]]
        self.messages += applied.errors
        if applied.refused:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if applied.pages and importlib.util.find_spec("harness.notebooks"):
            from harness import notebooks  # the notebooks are generated from the pages: they follow

            with contextlib.redirect_stdout(io.StringIO()) as said:  # one summary line, not one per notebook
                status = notebooks.main(["--root", str(self.site.repo_root)])
            written = said.getvalue().count("wrote ")
            self.messages.append(f"notebooks regenerated from the pages: {written} written (exit status {status})")

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.tally.records or self.tally.errors:
            terminalreporter.write_line(self.tally.summary_line())
        counts = self.tally.counts()
        counts["earlier"] = sum(self.tally.counts(earlier=True).values())  # --changed-only: pages not re-run
        words = [f"{word} = {' + '.join(v for v in verdicts if counts.get(v))} "
                 f"({sum(counts.get(v, 0) for v in verdicts)})"
                 for word, verdicts in PYTEST_WORDS.items() if any(counts.get(v) for v in verdicts)]
        if words:  # pytest says "16 skipped" where the harness says "16 not run": say how the words map
            terminalreporter.write_line("in pytest's words: " + "; ".join(words))
        for message in self.messages:
            terminalreporter.write_line(message)
        if self.update_summary:  # the last line of an update, whatever else was said
            terminalreporter.write_line(self.update_summary)


def _codeblocks_plugin_active(pluginmanager) -> bool:
    """True when pytest-codeblocks' plugin will register (installed, autoloaded, not blocked by -p no:codeblocks)."""
    return (importlib.util.find_spec("pytest_codeblocks") is not None and not pluginmanager.is_blocked("codeblocks")
            and not os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"))


def pytest_addoption(parser: pytest.Parser, pluginmanager) -> None:
    group = parser.getgroup("harness", "verification of the pages' code blocks")
    group.addoption("--update-outputs", action="store_true",
                    help="rewrite Output blocks that are out of tolerance with what the code prints now")
    group.addoption("--verification-report", metavar="PATH", help="write a JSON record of every block's verdict")
    group.addoption("--block-timeout", type=float, default=600.0, metavar="SECONDS",
                    help="fail a block that runs longer than this (default 600); its page stops there")
    group.addoption("--require-models", action="store_true",
                    help="fail pages whose checkpoints are not cached, instead of running them with stand-ins")
    group.addoption("--changed-only", action="store_true",
                    help="re-verify only pages changed since they last passed; the others keep their earlier "
                          "verdicts ('structural, earlier on DATE (unchanged)')")
    group.addoption("--repeat", type=int, default=1, metavar="N",
                    help="run each page N times (the later runs each in a new interpreter) and name the blocks "
                         "whose output changes between runs; every run's output is compared")
    # pytest-codeblocks' option, served by the harness: with pytest-codeblocks installed and not switched off
    # (-p no:codeblocks), its plugin adds the option itself and the harness unregisters its collector.
    if not _codeblocks_plugin_active(pluginmanager):
        parser.getgroup("general").addoption("--codeblocks", action="store_true",
                                             help="run Markdown code blocks with pytest-codeblocks' semantics "
                                                  "(python/sh/bash/zsh fences, one namespace per cont chain)")
    parser.addini("harness_namespace", "namespace of a page's blocks: page (one namespace, the harness's "
                  "default) or block (one per cont chain, the default under --codeblocks)", default="")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # A page's blocks share one namespace: xdist must keep all items of a file on one worker.
    if getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadfile"
    # A page that cannot be read is a collection error, and the other pages still run.
    config.option.continue_on_collection_errors = True
    if getattr(config.option, "repeat", 1) < 1:
        raise pytest.UsageError(f"--repeat must be 1 or more, not {config.option.repeat}")
    # The harness is the one collector of Markdown: pytest-codeblocks' would collect every page a second time.
    codeblocks = config.pluginmanager.get_plugin("codeblocks")
    if codeblocks is not None:
        config.pluginmanager.unregister(codeblocks)
    config.stash[STATE] = Harness(config)
    config.pluginmanager.register(config.stash[STATE], "harness-session")


def pytest_unconfigure(config: pytest.Config) -> None:
    if STATE in config.stash:
        config.stash[STATE].close()


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.suffix != ".md":
        return None
    docs_dir = Path(parent.config.stash[STATE].site.docs_dir).resolve()
    if file_path.resolve().is_relative_to(docs_dir) or parent.session.isinitpath(file_path):
        return MarkdownPage.from_parent(parent, path=file_path)
    return None


class MarkdownPage(pytest.File):
    """A page: collects one item per Python block and runs the page once, on demand."""

    page = None
    lock = None
    verdicts: dict[int, Verdict] | None = None
    repo_files: list[str] = []  # the repo files the page's process imported or read (for --changed-only)
    untracked = ""  # why its inputs are not all known: --changed-only runs it every time

    def collect(self):
        harness = self.config.stash[STATE]
        try:
            self.page = parse_page(self.path, harness.site)
        except PageError as error:
            raise PageUnreadable(error) from None
        names: set[str] = set()
        languages = LANGUAGES["codeblocks" if self.config.option.codeblocks else "harness"]
        # pytest-codeblocks reads ``` fences only: under its semantics a ~~~ fence is an illustration.
        self.blocks = [block for block in self.page.blocks if block.language in languages
                       and (block.fence.startswith("`") or not self.config.option.codeblocks)]
        for block in self.blocks:
            name = f"line {block.line}"
            name = name if name not in names else f"{name} (block {block.index + 1})"
            names.add(name)
            item = BlockItem.from_parent(self, name=name, block=block)
            for mark in _item_marks(block, self.page.name):
                item.add_marker(mark)
            yield item

    @property
    def namespace(self) -> str:
        """"page" or "block": the page's front matter, else the project's ini, else the option's default."""
        return (self.page.namespace or self.config.getini("harness_namespace")
                or ("block" if self.config.option.codeblocks else "page"))

    def repr_failure(self, excinfo, style=None):
        # The page's own message (page and line), not the harness's traceback.
        if isinstance(excinfo.value, PageUnreadable):
            return f"cannot read the page: {excinfo.value.error}"
        return super().repr_failure(excinfo, style)

    def verdict(self, index: int) -> Verdict:
        """The verdict of block `index`; the first call runs the page up to its last selected block."""
        if self.verdicts is None:
            harness = self.config.stash[STATE]
            selected = [item.block.index for item in self.session.items
                        if isinstance(item, BlockItem) and item.parent is self]
            try:
                plan = harness.resolver.plan([block.code for block in self.page.blocks])
            except Exception as error:  # a malformed lock file fails the page, with the resolver's words
                plan = PagePlan(uses=[[] for _ in self.page.blocks], error=f"{type(error).__name__}: {error}")
            self.plan = plan
            try:
                self.lock = harness.resolver.lock  # names the facts file of each stand-in, for the record
            except Exception:  # noqa: BLE001  (a malformed lock already failed the page, through the plan)
                self.lock = None
            self.fingerprint, earlier = harness.incremental.check(self.page, plan)
            if earlier:  # --changed-only, page unchanged: each block keeps its earlier verdict, never a raised one
                when, verdicts = earlier
                self.verdicts = {i: Verdict(v, incremental.skip_reason(v, when), earlier=when) for i, v in verdicts.items()}
                return self.verdicts[index]
            self.verdicts = verify_page(self.page, plan, max(selected, default=index), harness.site.repo_root,
                                        self.config.option.update_outputs, self.config.option.block_timeout,
                                        harness.imports, self.namespace, self.blocks, _strict_xfail(self.config),
                                        self.config.option.repeat)
            # What the page imported or read from the repo is known now: its fingerprint hashes those files too.
            self.repo_files = sorted({name for verdict in self.verdicts.values() for name in verdict.repo_files})
            self.untracked = next((v.untracked for v in self.verdicts.values() if v.untracked), "")
            self.fingerprint = harness.incremental.fingerprint(self.page, plan, self.repo_files)
        return self.verdicts.get(index) or Verdict("not run", "not run: the page stopped before this block")


def _item_marks(block: Block, page_name: str) -> list:
    """The pytest marks of a block's item: its own pytest marks (for -m), and xfail for pytest's outcome words.

    The harness decides skips and the xfail condition itself (harness/markers.py), before the page runs; the
    item's xfail carries `raises=ExpectedFailure`, so pytest reports xfailed, xpassed or failed from the verdict.
    """
    marks = []
    for text in block.marks:
        name = text.removeprefix("pytest.mark.").split("(")[0].strip()
        if name in HARNESS_MARKS:
            continue
        try:
            marks.append(eval(text, {"pytest": pytest, **CONDITION_GLOBALS}))  # noqa: S307  (as pytest-codeblocks)
        except Exception as error:  # noqa: BLE001
            raise PageUnreadable(PageError(page_name, block.line, f"{text}: {type(error).__name__}: {error}"))
    if block.expect_exception and not block.skip_reason:
        xfail = block.xfail or {}
        strict = xfail.get("strict")
        marks.append(pytest.mark.xfail(reason=xfail.get("reason") or "", raises=ExpectedFailure,
                                       **({} if strict is None else {"strict": strict})))
    return marks


def _strict_xfail(config: pytest.Config) -> bool:
    """pytest's default for xfail's strict= (ini strict_xfail, alias xfail_strict, else strict)."""
    for name in ("strict_xfail", "strict"):
        try:
            value = config.getini(name)
        except ValueError:  # an older pytest without this ini option
            continue
        if value is not None:
            return bool(value)
    return False


class ExpectedFailure(Exception):
    """A block that raised what its xfail expects: pytest's xfail(raises=ExpectedFailure) reports it xfailed."""


class PageUnreadable(Exception):
    """A page that page.py rejects: a collection error naming the page and line."""

    def __init__(self, error: PageError):
        super().__init__(str(error))
        self.error = error


class BlockFailed(Exception):
    """A block's failed verdict, shown by BlockItem.repr_failure without harness internals."""


class BlockItem(pytest.Item):
    """One Python block of a page; its outcome is the block's verdict."""

    def __init__(self, *, block: Block, **kwargs):
        super().__init__(**kwargs)
        self.block = block

    def runtest(self) -> None:
        verdict = self.parent.verdict(self.block.index)
        uses = self.parent.plan.uses[self.block.index] if self.block.index < len(self.parent.plan.uses) else []
        output = self.block.output
        self.user_properties.append(("harness", {
            "page": self.block.page_name, "line": self.block.line, "output_line": output.line if output else None,
            "status": verdict.status, "reason": verdict.reason, "duration": round(verdict.duration, 4),
            "checkpoints": record.checkpoints(uses, verdict.weights, self.parent.lock, self.config.rootpath),
            **({"earlier": verdict.earlier} if verdict.earlier else {}),
            **({"changes_between_runs": verdict.changes} if verdict.changes is not None else {}),
        }))
        self.user_properties.append(self.config.stash[STATE].incremental.page_property(
            self.parent.page, self.parent.fingerprint, self.parent.repo_files, self.block.index,
            self.parent.untracked))
        for value in filter(None, [verdict.rewrite, *verdict.rewrites]):
            self.user_properties.append(("harness-rewrite", value))
        if verdict.status == "failed":
            raise BlockFailed(verdict.details)
        if verdict.status in ("skipped", "not run") or verdict.earlier:
            # Reported at the block's page and line, not at this line of the harness.
            raise pytest.skip.Exception(verdict.reason, _use_item_location=True)
        if self.block.expect_exception and verdict.status in ("xfailed", "verified", "structural", "unchecked"):
            raise ExpectedFailure(verdict.reason)  # it raised as its xfail expects (and its Output holds)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, BlockFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, self.block.line - 1, f"block at {self.block.id}"


def _refusal(record: dict, details: str) -> dict:
    """A rewrite the verdict refused: its Output block and why, in the RewriteError's words from the failure
    report (the line "page:line: why" under the headline); the headline itself when no such line is there."""
    line = record["output_line"] or record["line"]
    where = f"{record['page']}:{line}: "
    why = next((text[len(where):] for text in details.splitlines()[1:] if text.startswith(where)), None)
    return {"page": record["page"], "output_line": line, "why": why or record["reason"]}


def _harness_record(report: pytest.TestReport) -> dict | None:
    return next((value for key, value in getattr(report, "user_properties", ()) if key == "harness"), None)


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config):
    record = _harness_record(report)
    if report.when == "call" and report.passed and record and not hasattr(report, "wasxfail"):
        return "passed", ".", (record["status"].upper(), {"green": True})
    return None
