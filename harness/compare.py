"""Documented output vs actual output: floats within tolerance, everything else exact, a readable report.

Inside brackets (a tensor, list, dict, tuple or set repr) line wrapping and alignment are free and a set's
items may come in any order; outside them the text is compared line by line, only trailing whitespace free.
"""
from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Any, Iterable, Iterator

from harness.values import Token, iter_tokens, normalize

DEFAULT_REL = 1e-5  # relative slack on top of one unit in the last digit written
MAX_NUMBER_ROWS = 20
MAX_DIFF_INPUT_LINES = 200
MAX_LINE_CHARS = 200
MAX_MESSAGE_LINES = 100
MAX_MESSAGE_CHARS = 10_000
# doctest's rules for a documented exception (doctest.DocTestParser._EXCEPTION_RE): the header line, stack
# lines (indented, free), then the exception from the first line that starts with a word character.
TRACEBACK_HEADER_RE = re.compile(r"^Traceback \((?:most recent call last|innermost last)\):[ \t]*$", re.MULTILINE)
EXCEPTION_START_RE = re.compile(r"^\w", re.MULTILINE)
# Without a header, a last line like `KeyError: 'x'` or `torch.OutOfMemoryError` still documents the exception.
EXCEPTION_LINE_RE = re.compile(r"(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt|Warning|Iteration)"
                               r"(?::.*)?")


@dataclass(frozen=True)
class Tolerance:
    """How far a printed float may move: None/None = the default (one unit in the last digit, or rel 1e-5)."""

    abs: float | None = None
    rel: float | None = None

    @classmethod
    def from_dict(cls, values: dict[str, float] | None) -> Tolerance:
        """From a page's or block's `{abs: ..., rel: ...}` (None: the default)."""
        return cls((values or {}).get("abs"), (values or {}).get("rel"))

    def allowed(self, expected: Token) -> float:
        """Largest difference accepted for this expected number; an explicit tolerance replaces the default."""
        if self.abs is None and self.rel is None:
            return max(expected.unit, DEFAULT_REL * abs(expected.value))
        return max(self.abs or 0.0, (self.rel or 0.0) * abs(expected.value))


@dataclass
class Mismatch:
    """One difference: a number out of tolerance (kind "number") or where the outputs part ways ("structure")."""

    path: str
    expected: str
    actual: str
    difference: float | None = None
    tolerance: float | None = None
    kind: str = "number"


@dataclass
class Comparison:
    """The verdict of one comparison; `message` is the report shown on failure (bounded in size)."""

    ok: bool
    mismatches: list[Mismatch] = field(default_factory=list)
    message: str = ""

    @property
    def within_tolerance(self) -> bool:
        """True when the documented output still holds: --update-outputs leaves it alone (no churn)."""
        return self.ok

    @property
    def diff_text(self) -> str:
        """Alias of `message`, the name used in the design notes."""
        return self.message


@dataclass(frozen=True)
class Documented:
    """An Output block split doctest-style: what was printed, then the traceback documented, if any."""

    printed: str
    traceback: str = ""  # the header and stack lines as written (free: kept by an update), "" when none
    exception: str | None = None  # the `Type: message` line(s); None when no exception is documented

    def rewritten(self, printed: str, exception: str) -> str:
        """The Output block's new text: `printed`, then the documented header and stack, then `exception`."""
        if self.exception is None:
            return printed
        joined = printed if not printed or printed.endswith("\n") else printed + "\n"
        return joined + self.traceback + exception.rstrip("\n") + "\n"


def split_documented(text: str) -> Documented:
    """`text` (an Output block) as printed output and, doctest's way, a documented exception after it."""
    headers = list(TRACEBACK_HEADER_RE.finditer(text))
    if headers:
        # A chained traceback ("The above exception was the direct cause…") documents the exception raised
        # last: everything from the first header to the last one's stack is free, and kept by an update.
        first, last = headers[0], headers[-1]
        rest = text[last.end():]
        start = EXCEPTION_START_RE.search(rest)
        stack_end = start.start() if start else len(rest)
        return Documented(text[:first.start()], text[first.start():last.end()] + rest[:stack_end],
                          rest[stack_end:] if start else "")
    lines = text.rstrip("\n").split("\n")
    if lines and EXCEPTION_LINE_RE.fullmatch(lines[-1].rstrip()):
        return Documented("".join(line + "\n" for line in lines[:-1]), "", lines[-1] + "\n")
    return Documented(text)


def exception_of(traceback_text: str) -> str:
    """The `Type: message` part of a formatted traceback: after the last header, from the first unindented line."""
    headers = list(TRACEBACK_HEADER_RE.finditer(traceback_text))
    rest = traceback_text[headers[-1].end():] if headers else traceback_text
    start = EXCEPTION_START_RE.search(rest)
    return rest[start.start():] if start else rest.strip() + "\n"


def compare_raised(expected: str, printed: str, traceback_text: str, tolerance: Tolerance | None = None,
                   structural_labels: frozenset[str] | None = None) -> Comparison:
    """Compare an Output block with what a block printed before raising, and the exception it raised.

    The documented exception (see split_documented) is compared with the raised one's `Type: message`, the
    stack lines are free; with no exception documented, only the printed output is compared.
    """
    documented = split_documented(expected)
    if documented.exception is None:
        return compare(expected, printed, tolerance, structural_labels)
    before = compare(documented.printed, printed, tolerance, structural_labels)
    if not before.ok:
        return Comparison(False, before.mismatches, "before the exception: " + before.message)
    raised = exception_of(traceback_text)
    result = compare(documented.exception, raised, tolerance, structural_labels)
    if result.ok:
        return result
    named = (f"documented exception `{_short(documented.exception.strip(), 200)}`, "
             f"raised `{_short(raised.strip(), 200)}`")
    mismatches = [Mismatch("exception", documented.exception.strip(), raised.strip(), kind="exception")]
    return Comparison(False, mismatches + result.mismatches, _bounded(named + "\n" + result.message))


def _where(token: Token) -> str:
    return token.path or f"line {token.line}"


def _same_shape(expected: Token, actual: Token, labels: frozenset[str] | None) -> bool:
    """Tokens that agree apart from a float's value (checked separately against the tolerance)."""
    if expected.kind != actual.kind:
        return False
    if expected.kind == "number":
        return expected.is_float == actual.is_float and (expected.is_float or expected.value == actual.value)
    if expected.value == actual.value:
        return True
    # A stand-in checkpoint's labels are interchangeable with each other, and with nothing else.
    return labels is not None and expected.kind in ("string", "name") and {expected.value, actual.value} <= labels


def _number_gap(expected: Token, actual: Token, tolerance: Tolerance) -> tuple[float, float] | None:
    """(difference, allowed) when two floats disagree beyond tolerance, else None."""
    e, a = expected.value, actual.value
    if math.isnan(e) or math.isnan(a) or math.isinf(e) or math.isinf(a):
        return None if (math.isnan(e) and math.isnan(a)) or e == a else (math.inf, 0.0)
    allowed = tolerance.allowed(expected)
    # A hair of slack: 4.0195e-02 vs 4.0196e-02 must pass although the float subtraction overshoots 1e-6.
    return None if abs(a - e) <= allowed * (1 + 1e-9) else (abs(a - e), allowed)


def _line_gap(gap: str) -> str:
    """Whitespace between two tokens as it counts outside brackets: the spaces ending a line are free."""
    if "\n" not in gap:
        return gap
    lines = gap.split("\n")
    return "\n".join([line.rstrip() for line in lines[:-1]] + lines[-1:])


def _token_key(token: Token) -> tuple:
    """Sort key of a token inside a set: by kind, then value (numbers numerically, nan last)."""
    if token.kind == "number":
        return (token.kind, 1, 0.0) if token.value != token.value else (token.kind, 0, token.value)
    return (token.kind, 0, token.value if token.kind == "string" else token.text)


def _set_items_sorted(group: list[Token]) -> list[Token]:
    """`group` (`{` ... `}`): if it is a set repr, its items in a canonical order; a dict or `{}` as it came."""
    inner = group[0].depth + 1
    items: list[list[Token]] = [[]]
    commas: list[Token] = []
    for token in group[1:-1]:
        if token.depth == inner and token.kind == "punct" and token.text == ":":
            return group  # a dict: its order is part of what it says
        if token.depth == inner and token.kind == "punct" and token.text == ",":
            commas.append(token)
            items.append([])
        else:
            items[-1].append(token)
    if len(items) < 2 or any(not item for item in items):
        return group
    items.sort(key=lambda item: tuple(_token_key(token) for token in item))
    ordered = [group[0], *items[0]]
    for comma, item in zip(commas, items[1:]):
        ordered += [comma, *item]
    return ordered + [group[-1]]


def _sets_sorted(tokens: Iterable[Token]) -> Iterator[Token]:
    """`tokens` with each set repr's items sorted, so `{'b', 'a'}` and `{'a', 'b'}` read the same.

    Python prints a set in hash order, which changes from run to run for strings. Tokens outside braces pass
    through at once; a brace group is held until it closes (an unclosed one comes out as it was).
    """
    groups: list[list[Token]] = []
    for token in tokens:
        if token.kind == "punct" and token.text == "{":
            groups.append([token])
            continue
        if not groups:
            yield token
            continue
        groups[-1].append(token)
        if token.kind == "punct" and token.text == "}" and token.depth == groups[-1][0].depth + 1:
            done = _set_items_sorted(groups.pop())
            if groups:
                groups[-1] += done
            else:
                yield from done
    for group in groups:
        yield from group


def compare(expected: str, actual: str, tolerance: Tolerance | None = None,
            structural_labels: frozenset[str] | None = None) -> Comparison:
    """Compare printed outputs token by token; `structural_labels` not None = structural mode (stand-in weights).

    Outside brackets the whitespace between tokens must match too (trailing spaces of a line and trailing
    blank lines aside); inside them it is free, but only for brackets that close: `(` in prose is no repr.
    """
    tolerance = tolerance or Tolerance()
    expected, actual = normalize(expected), normalize(actual)
    if expected == actual:  # the usual case, at string speed even for megabytes
        return Comparison(True)
    numbers: list[Mismatch] = []
    n_numbers = 0
    unclosed: tuple[Token, Token] | None = None  # the first spacing difference inside brackets not yet closed
    e = None
    # Lazy tokens in lockstep: a megabyte of unexpected output costs no more than the expected length.
    for e, a in zip_longest(_sets_sorted(iter_tokens(expected)), _sets_sorted(iter_tokens(actual))):
        if e is None or a is None or not _same_shape(e, a, structural_labels):
            return _diverged(expected, actual, e, a, numbers)
        if e.depth == 0:
            unclosed = None  # every bracket before this token closed: the spacing inside them was free
        if e.gap != a.gap and _line_gap(e.gap) != _line_gap(a.gap):
            if e.depth == 0:
                return _diverged(expected, actual, e, a, numbers, spacing=True)
            unclosed = unclosed or (e, a)
        if e.is_float and structural_labels is None and (gap := _number_gap(e, a, tolerance)):
            n_numbers += 1
            if len(numbers) < MAX_NUMBER_ROWS:
                numbers.append(Mismatch(_where(e), e.text, a.text, gap[0], gap[1]))
    closed = e is not None and e.depth <= 1 and e.kind == "punct" and e.text in ")]}"
    if unclosed and not (closed or e.depth == 0):
        return _diverged(expected, actual, *unclosed, numbers, spacing=True)
    if not n_numbers:
        return Comparison(True)
    rows = [f"{n_numbers} number{'s' if n_numbers > 1 else ''} outside tolerance:"]
    rows += [f"  at {m.path}: expected {m.expected}, actual {m.actual}, "
             f"difference {m.difference:.2e} > tolerance {m.tolerance:.1e}" for m in numbers]
    if n_numbers > len(numbers):
        rows.append(f"  … ({n_numbers - len(numbers)} more)")
    return Comparison(False, numbers, _bounded("\n".join(rows)))


def _diverged(expected: str, actual: str, e: Token | None, a: Token | None, numbers: list[Mismatch],
              spacing: bool = False) -> Comparison:
    if spacing:
        first = (f"first difference at line {e.line}: expected {_line_gap(e.gap)!r} before `{_short(e.text)}`, "
                 f"got {_line_gap(a.gap)!r} (outside brackets, lines and spaces are compared)")
    elif e is None:
        first = f"first difference after the expected output ends: got unexpected `{_short(a.text)}` ({_where(a)})"
    elif a is None:
        first = f"first difference at {_where(e)}: expected `{_short(e.text)}`, the actual output ends"
    else:
        first = f"first difference at {_where(e)}: expected `{_short(e.text)}`, got `{_short(a.text)}`"
    mismatch = Mismatch(_where(e or a), e.text if e else "", a.text if a else "",
                        kind="spacing" if spacing else "structure")
    report = "\n".join([first, *_diff_lines(expected, actual)])
    return Comparison(False, [mismatch, *numbers], _bounded(report))


def _visible(text: str) -> str:
    """`text` safe to show in a terminal or JSON: lone surrogates and control characters as escapes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in "\t\n" else repr(c)[1:-1] for c in text)


def _short(text: str, limit: int = 80) -> str:
    text = _visible(text)
    return text if len(text) <= limit else text[:limit] + "…"


def _head(text: str, limit: int) -> tuple[list[str], int]:
    """The first `limit` lines (each cut at MAX_LINE_CHARS) and how many lines were left out, in linear time."""
    parts = text.split("\n", limit)
    rest = parts[limit].count("\n") + 1 if len(parts) > limit else 0
    return [_short(line, MAX_LINE_CHARS) for line in parts[:limit]], rest


def _diff_lines(expected: str, actual: str) -> list[str]:
    """A unified diff of expected vs actual lines, on bounded inputs (difflib is quadratic at worst)."""
    exp_lines, exp_rest = _head(expected, MAX_DIFF_INPUT_LINES)
    act_lines, act_rest = _head(actual, min(MAX_DIFF_INPUT_LINES, len(exp_lines) + 50))
    diff = list(difflib.unified_diff(exp_lines, act_lines, "expected (page)", "actual (run)", n=2, lineterm=""))
    for side, rest in (("expected", exp_rest), ("actual", act_rest)):
        if rest:
            diff.append(f"… ({rest} more lines of {side} output not shown)")
    return diff


def _bounded(text: str) -> str:
    """Cap a report at MAX_MESSAGE_LINES lines and MAX_MESSAGE_CHARS characters."""
    lines = text.split("\n")
    kept: list[str] = []
    size = 0
    for line in lines:
        if len(kept) >= MAX_MESSAGE_LINES or size + len(line) > MAX_MESSAGE_CHARS:
            kept.append(f"… ({len(lines) - len(kept)} more lines)")
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept)


def tolerance_of(block: Any) -> Tolerance:
    """The tolerance a parsed block asks for (its marker, else its page's front matter, else the default)."""
    return Tolerance.from_dict(getattr(block, "tolerance", None))
