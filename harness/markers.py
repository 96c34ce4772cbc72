"""Markers: the HTML comments above a code block that change how it runs (skip, tolerance, ...).

The vocabulary is pytest's (`pytest.mark.skip(reason=...)`) plus pytest-codeblocks 0.18's own comments,
which keep their meaning. Errors are `MarkerError(message)`; the page parser adds page and line.
"""
from __future__ import annotations

import ast
import re
from typing import Any

# pytest-codeblocks 0.18's own marker patterns (pytest_codeblocks/main.py), matched on the stripped line.
CODEBLOCKS_RE = re.compile(r"<!--[-\s]*pytest-codeblocks:(.*)-->")
MARK_RE = re.compile(r"<!--[-\s]*(pytest\.mark\..*)-->")
# A comment that starts like a marker but is not a well-formed one is a typo, not prose.
NEAR_MARKER_RE = re.compile(r"<!--[-\s]*(pytest\.mark\.|pytest-codeblocks)")
CALL_RE = re.compile(r"pytest\.mark\.(\w+)\s*(?:\((.*)\))?\s*")


class MarkerError(ValueError):
    """A marker comment that is wrong: unknown, malformed, or a skip without a reason."""


def parse_tolerance(value: Any) -> dict[str, float]:
    """A `{abs: ..., rel: ...}` tolerance (front matter or marker), checked: non-negative numbers, at least one."""
    if not isinstance(value, dict) or not value or set(value) - {"abs", "rel"}:
        raise MarkerError(f"tolerance must give abs and/or rel, got {value!r}")
    for key, number in value.items():
        if isinstance(number, bool) or not isinstance(number, (int, float)) or number < 0:
            raise MarkerError(f"tolerance {key} must be a non-negative number, got {number!r}")
    return {key: float(number) for key, number in value.items()}


def _call_args(text: str) -> tuple[list[Any], dict[str, Any]]:
    try:
        call = ast.parse(f"f({text})", mode="eval").body
        return [ast.literal_eval(a) for a in call.args], {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    except (SyntaxError, ValueError) as error:
        raise MarkerError(f"cannot read marker arguments ({text}): {error}") from None


def _codeblocks(keyword: str) -> dict[str, Any]:
    if keyword in ("skip", "skipfile"):
        raise MarkerError(f"pytest-codeblocks:{keyword} gives no reason; "
                          'write <!-- pytest.mark.skip(reason="...") --> above the block')
    if keyword in ("expected-output", "expected-output-ignore-whitespace"):
        return {"expected_output": True}  # comparison ignores whitespace anyway
    if keyword == "cont":  # the blocks of a page share one namespace anyway
        return {}
    if keyword in ("expect-exception", "expect-error"):
        return {"expect_exception": True}
    if module := re.fullmatch(r"importorskip\(\s*(.+?)\s*\)", keyword):
        return {"importorskip": module[1].strip("'\"")}
    raise MarkerError(f"unknown marker pytest-codeblocks:{keyword}")


def _mark(text: str) -> dict[str, Any]:
    mark = CALL_RE.fullmatch(text)
    if mark and mark[1] == "skip":
        args, kwargs = _call_args(mark[2] or "")
        reason = kwargs.get("reason", args[0] if args else None)
        if not isinstance(reason, str) or not reason.strip():
            raise MarkerError('pytest.mark.skip needs a reason: pytest.mark.skip(reason="...")')
        return {"skip_reason": reason.strip()}
    if mark and mark[1] == "tolerance":
        args, kwargs = _call_args(mark[2] or "")
        if args:
            raise MarkerError("pytest.mark.tolerance takes keywords: pytest.mark.tolerance(abs=..., rel=...)")
        return {"tolerance": parse_tolerance(kwargs)}
    raise MarkerError(f"unknown marker {text} (known: pytest.mark.skip, pytest.mark.tolerance)")


def parse_marker(line: str) -> dict[str, Any] | None:
    """What a marker line means ({"skip_reason": ...}, {"tolerance": ...}, ...); None if it is no marker."""
    stripped = line.strip()
    if match := CODEBLOCKS_RE.fullmatch(stripped):
        return _codeblocks(match[1].strip("- "))
    if match := MARK_RE.fullmatch(stripped):
        return _mark(match[1].strip())
    if NEAR_MARKER_RE.match(stripped):
        raise MarkerError(f"malformed marker comment: {stripped}")
    return None
