"""pytest-codeblocks, for the tests that hold the harness to it: its suite (from its sdist) and outcome counting.

The sdist is downloaded at test time with pip, pinned by hash, and kept in pytest's cache directory: none of
pytest-codeblocks' files are copied into this project.
"""
from __future__ import annotations

import ast
import hashlib
import subprocess
import sys
import tarfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

SDIST = "pytest_codeblocks-0.17.0.tar.gz"  # 0.17.0's tests are those of 0.18 (whose sdist ships none)
SDIST_SHA256 = "446e1babd182f54b4f113d567737a22f5405cade144c08a0085b2985247943d5"
OUTCOMES = ("passed", "failed", "skipped", "xfailed", "xpassed", "errors")

# A conftest for a pytest run: counts each Markdown file's outcomes as pytester's assert_outcomes counts them,
# and notes each harness verdict, into outcomes.json.
RECORDER = '''
import collections, json

COUNTS = collections.defaultdict(collections.Counter)
VERDICTS = collections.defaultdict(list)


def pytest_collectreport(report):
    if report.failed:
        COUNTS[report.nodeid.split("::")[0]]["errors"] += 1


def pytest_runtest_logreport(report):
    page = report.nodeid.split("::")[0]
    if report.when == "call" or not (report.passed or (report.when == "setup" and report.skipped)):
        if report.failed and report.when != "call":
            kind = "errors"
        elif hasattr(report, "wasxfail"):
            kind = "xfailed" if report.skipped else "xpassed"
        else:
            kind = report.outcome
        COUNTS[page][kind] += 1
    elif report.when == "setup" and report.skipped:
        COUNTS[page]["skipped"] += 1
    for key, value in report.user_properties:
        if key == "harness" and report.when == "call":
            VERDICTS[page].append(value["status"])


def pytest_sessionfinish(session):
    with open("outcomes.json", "w") as out:
        json.dump({"counts": COUNTS, "verdicts": VERDICTS}, out)
'''


@dataclass
class Case:
    """One test of pytest-codeblocks' suite: the Markdown it writes and the outcomes it asserts."""

    module: str
    name: str
    markdown: str  # as pytester's makefile writes it: dedented and stripped
    outcomes: dict[str, int]

    @property
    def file(self) -> str:
        return f"{self.module}__{self.name}.md"

    @property
    def shell(self) -> bool:
        return "```sh" in self.markdown or "```bash" in self.markdown


def sdist(cache_dir: Path) -> Path:
    """The pinned sdist in `cache_dir`, downloaded with pip when it is not there yet; its hash checked."""
    path = cache_dir / SDIST
    if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != SDIST_SHA256:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                               "pytest-codeblocks==0.17.0", "-d", str(cache_dir)],
                              capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != 0 or not path.is_file():
            raise RuntimeError(f"pip download of pytest-codeblocks 0.17.0 failed:\n{done.stdout}\n{done.stderr}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise RuntimeError(f"{path}: sha256 {digest}, expected {SDIST_SHA256}")
    return path


def suite_cases(sdist_path: Path) -> list[Case]:
    """Every test of the sdist's tests/ that writes a Markdown file and asserts the outcomes of a pytest run."""
    cases = []
    with tarfile.open(sdist_path) as archive:
        for member in sorted(archive.getmembers(), key=lambda m: m.name):
            parts = Path(member.name).parts
            if len(parts) == 3 and parts[1] == "tests" and parts[2].endswith(".py"):
                source = archive.extractfile(member).read().decode("utf-8")
                cases += _cases(Path(parts[2]).stem, source)
    return cases


def _cases(module: str, source: str) -> list[Case]:
    cases = []
    for function in ast.parse(source).body:
        if not isinstance(function, ast.FunctionDef):
            continue
        strings: dict[str, str] = {}
        written = outcomes = None
        for node in ast.walk(function):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) \
                    and isinstance(node.value.value, str):
                strings.update((target.id, node.value.value) for target in node.targets)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr == "makefile" and isinstance(node.args[1], ast.Name):
                    written = strings[node.args[1].id]
                elif node.func.attr == "assert_outcomes":
                    outcomes = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
        if written is not None and outcomes is not None:
            # pytester.makefile: Source() dedents, then the text is stripped.
            cases.append(Case(module, function.name, textwrap.dedent(written).strip(), outcomes))
    return cases


def counts(outcomes: dict[str, int]) -> dict[str, int]:
    """Outcome counts with every kind present (0 when absent)."""
    return {kind: outcomes.get(kind, 0) for kind in OUTCOMES}


def kinds(outcomes: dict[str, int]) -> set[str]:
    """The kinds of outcome that occur."""
    return {kind for kind, number in outcomes.items() if number}
