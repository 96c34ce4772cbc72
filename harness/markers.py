"""Markers: the HTML comments above a code block that change how it runs (skip, xfail, cont, tolerance, ...).

The one place the marker vocabulary lives. It is pytest's (`<!-- pytest.mark.NAME(...) -->`, with skip, skipif
and xfail meaning what they mean to pytest) plus every comment of pytest-codeblocks 0.18
(`<!--pytest-codeblocks:KEYWORD-->`), plus the harness's own `pytest.mark.tolerance(abs=..., rel=...)`.
pytest-codeblocks' deprecated spellings are aliases, translated as pytest-codeblocks translates them:
`skip` -> `pytest.mark.skip`, `skipif(c)` -> `pytest.mark.skipif(c, reason='')`, `expect-exception` and
`expect-error` -> `pytest.mark.xfail`. Conditions are evaluated as pytest's skipping plugin evaluates them
(_pytest/skipping.py evaluate_condition): a string is eval()'d with `os`, `sys` and `platform`, anything
else is bool()'d. Errors are `MarkerError(message)`; the page parser adds page and line.
"""
from __future__ import annotations

import ast
import builtins
import os
import platform
import re
import sys
from typing import Any

# pytest-codeblocks 0.18's own marker patterns (pytest_codeblocks/main.py), matched on the stripped line.
CODEBLOCKS_RE = re.compile(r"<!--[-\s]*pytest-codeblocks:(.*)-->")
MARK_RE = re.compile(r"<!--[-\s]*(pytest\.mark\..*)-->")
# A comment that starts like a marker but is not a well-formed one is a typo, not prose.
NEAR_MARKER_RE = re.compile(r"<!--[-\s]*(pytest\.mark\.|pytest-codeblocks)")
CALL_RE = re.compile(r"pytest\.mark\.(\w+)\s*(?:\((.*)\))?\s*", re.DOTALL)
# A skip without a reason is valid (pytest and pytest-codeblocks accept it); its verdict says so, and the
# project's own pages are checked to give one (tests/test_site.py).
NO_REASON = "no reason given"
# What a condition string sees, as in pytest (pytest also offers `config`, which a page cannot need).
CONDITION_GLOBALS = {"os": os, "sys": sys, "platform": platform}
XFAIL_KEYWORDS = {"condition", "reason", "raises", "strict"}


class MarkerError(ValueError):
    """A marker comment that is wrong: unknown, malformed, or with arguments that cannot be evaluated."""


def parse_tolerance(value: Any) -> dict[str, float]:
    """A `{abs: ..., rel: ...}` tolerance (front matter or marker), checked: non-negative numbers, at least one."""
    if not isinstance(value, dict) or not value or set(value) - {"abs", "rel"}:
        raise MarkerError(f"tolerance must give abs and/or rel, got {value!r}")
    for key, number in value.items():
        if isinstance(number, bool) or not isinstance(number, (int, float)) or number < 0:
            raise MarkerError(f"tolerance {key} must be a non-negative number, got {number!r}")
    return {key: float(number) for key, number in value.items()}


def _call(text: str) -> ast.Call:
    try:
        return ast.parse(f"f({text})", mode="eval").body
    except SyntaxError as error:
        raise MarkerError(f"cannot read marker arguments ({text}): {error.msg}") from None


def _call_args(text: str) -> tuple[list[Any], dict[str, Any]]:
    """Literal arguments (tolerance: numbers only)."""
    call = _call(text)
    try:
        return [ast.literal_eval(a) for a in call.args], {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    except ValueError as error:
        raise MarkerError(f"cannot read marker arguments ({text}): {error}") from None


def _evaluated_args(name: str, text: str) -> tuple[list[Any], dict[str, Any]]:
    """Arguments evaluated as pytest-codeblocks evaluates a mark (eval with sys, os, platform at hand)."""
    call = _call(text)
    namespace = {**CONDITION_GLOBALS, "__builtins__": builtins}
    try:
        args = [eval(compile(ast.Expression(a), "<marker>", "eval"), namespace) for a in call.args]  # noqa: S307
        kwargs = {k.arg: eval(compile(ast.Expression(k.value), "<marker>", "eval"), namespace)  # noqa: S307
                  for k in call.keywords if k.arg != "raises"}
    except Exception as error:  # noqa: BLE001  (the page's expression: its error, named)
        raise MarkerError(f"cannot evaluate pytest.mark.{name} arguments ({text}): "
                          f"{type(error).__name__}: {error}") from None
    return args, kwargs


def _condition_holds(name: str, condition: Any) -> bool:
    """pytest's evaluate_condition: a string is eval()'d with os, sys and platform; anything else is bool()'d."""
    if isinstance(condition, str):
        try:
            return bool(eval(compile(condition, f"<{name} condition>", "eval"),  # noqa: S307
                             {**CONDITION_GLOBALS, "__builtins__": builtins}))
        except Exception as error:  # noqa: BLE001
            raise MarkerError(f"error evaluating {name!r} condition {condition!r}: "
                              f"{type(error).__name__}: {error}") from None
    return bool(condition)


def _conditional(name: str, text: str) -> tuple[bool, str | None, dict[str, Any]]:
    """(applies, reason, keywords) of a skipif or xfail mark, as pytest decides it."""
    args, kwargs = _evaluated_args(name, text)
    conditions = args or ([kwargs["condition"]] if "condition" in kwargs else [])
    reason = kwargs.get("reason")
    if not conditions:  # xfail without a condition always applies (skipif without one, too)
        return True, reason, kwargs
    for condition in conditions:
        if _condition_holds(name, condition):
            if reason is None and isinstance(condition, str):
                reason = f"condition: {condition}"
            elif reason is None:
                raise MarkerError(f"pytest.mark.{name}: you need to specify reason=STRING when using "
                                  "booleans as conditions")
            return True, reason, kwargs
    return False, reason, kwargs


def _mark(text: str) -> dict[str, Any]:
    mark = CALL_RE.fullmatch(text)
    if not mark:
        raise MarkerError(f"malformed marker: {text}")
    name, arguments = mark[1], mark[2] or ""
    meaning: dict[str, Any] = {"marks": [text]}
    if name == "skip":
        args, kwargs = _evaluated_args(name, arguments)
        reason = kwargs.get("reason", args[0] if args else None)
        meaning["skip_reason"] = reason.strip() if isinstance(reason, str) and reason.strip() else NO_REASON
    elif name == "skipif":
        applies, reason, _ = _conditional(name, arguments)
        if applies:
            meaning["skip_reason"] = reason.strip() if isinstance(reason, str) and reason.strip() else NO_REASON
    elif name == "xfail":
        call = _call(arguments)
        unknown = {k.arg for k in call.keywords} - XFAIL_KEYWORDS
        if unknown:  # run=False would need the harness to leave a block of a running page out: not supported
            raise MarkerError(f"pytest.mark.xfail: unsupported argument(s) {', '.join(sorted(unknown))} "
                              f"(supported: {', '.join(sorted(XFAIL_KEYWORDS))})")
        applies, reason, kwargs = _conditional(name, arguments)
        raises = next((ast.unparse(k.value) for k in call.keywords if k.arg == "raises"), None)
        if applies:
            strict = kwargs.get("strict")
            meaning["expect_exception"] = True
            meaning["xfail"] = {"reason": reason or "", "raises": raises,
                                "strict": None if strict is None else bool(strict)}
    elif name == "tolerance":
        args, kwargs = _call_args(arguments)
        if args:
            raise MarkerError("pytest.mark.tolerance takes keywords: pytest.mark.tolerance(abs=..., rel=...)")
        meaning["tolerance"] = parse_tolerance(kwargs)
    else:  # any other pytest mark (slow, filterwarnings, ...) is given to the block's test item, as pytest does
        _call(arguments)
    return meaning


def _codeblocks(keyword: str) -> dict[str, Any]:
    if keyword == "skip":
        return _mark("pytest.mark.skip")
    if match := re.fullmatch(r"skipif\((.*)\)", keyword, re.DOTALL):
        return _mark(f"pytest.mark.skipif({match[1]}, reason='')")
    if match := re.fullmatch(r"skipfile(?:\((.*)\))?", keyword, re.DOTALL):
        # A harness extension: skipfile(reason="...") gives the page's reason (pytest-codeblocks has none).
        args, kwargs = _call_args(match[1] or "")
        reason = kwargs.get("reason", args[0] if args else None)
        return {"skipfile": reason.strip() if isinstance(reason, str) and reason.strip() else NO_REASON}
    if keyword in ("expected-output", "expected-output-ignore-whitespace"):
        return {"expected_output": True, "ignore_whitespace": keyword.endswith("whitespace")}
    if keyword == "cont":
        return {"cont": True}
    if keyword in ("expect-exception", "expect-error"):
        return _mark("pytest.mark.xfail")
    if module := re.fullmatch(r"importorskip\(\s*(.+?)\s*\)", keyword):
        return {"importorskip": module[1].strip("'\"")}
    raise MarkerError(f"unknown marker pytest-codeblocks:{keyword}")


def skips_without_reason(marks: list[str]) -> list[str]:
    """The skip and skipif marks of `marks` that give no reason (an empty reason is none): for strict pages."""
    missing = []
    for text in marks:
        mark = CALL_RE.fullmatch(text)
        if mark and mark[1] in ("skip", "skipif"):
            call = _call(mark[2] or "")
            reason = next((k.value for k in call.keywords if k.arg == "reason"),
                          call.args[0] if mark[1] == "skip" and call.args else None)
            if not (isinstance(reason, ast.Constant) and isinstance(reason.value, str) and reason.value.strip()):
                missing.append(text)
    return missing


def parse_marker(line: str) -> dict[str, Any] | None:
    """What a marker line means ({"skip_reason": ...}, {"xfail": ...}, {"cont": True}, ...); None if no marker.

    "marks" lists the pytest mark expressions the line stands for, as pytest-codeblocks records them.
    """
    stripped = line.strip()
    if match := CODEBLOCKS_RE.fullmatch(stripped):
        return _codeblocks(match[1].strip("- "))
    if match := MARK_RE.fullmatch(stripped):
        return _mark(match[1].strip())
    if NEAR_MARKER_RE.match(stripped):
        raise MarkerError(f"malformed marker comment: {stripped}")
    return None
