"""Printed output as tokens: numbers, strings, names, punctuation, each with where it sits (`logits[0][1]`).

Whitespace is not a token but each token keeps the whitespace before it (`gap`) and how many brackets are open
around it (`depth`): torch wraps and aligns tensors differently for the same values, so inside brackets
whitespace is free, while outside them the comparison holds lines and spaces to what was printed.
"""
from __future__ import annotations

import math
import os
import re
import tempfile
from dataclasses import dataclass
from typing import Any, Iterator

TOKEN_RE = re.compile(
    r"""
    \s*(?:  # leading whitespace belongs to the match: one regex step per token, not two
    # A number ends where a word would go on (`12abc`, `4.57.1` are names); `nan`, `inf` are numbers too.
    (?P<number>-?(?:(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|nan|inf)(?!\w|\.\d))
    |(?P<string>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
    # A lone surrogate (undecodable bytes) stays inside its word: `caf\udce9` is one name, shown as such.
    |(?P<name>[\w\ud800-\udfff]+(?:\.[\w\ud800-\udfff]+)*)
    |(?P<punct>\.\.\.|->|==|!=|<=|>=|\*\*|//|\S)
    )""",
    re.VERBOSE,
)
OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = {")", "]", "}"}
CLOSER_OF = {"(": ")", "call": ")", "[": "]", "{": "}", "top": ""}
IDENTIFIER_RE = re.compile(r"[A-Za-z_]\w*")
ADDRESS_RE = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")
# What a terminal shows of colour and cursor codes: nothing (ECMA-48 CSI sequences, OSC titles and links).
ANSI_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def _temp_dirs() -> list[str]:
    dirs = {"/tmp", "/var/folders", "/private/var/folders", "/private/tmp", tempfile.gettempdir()}
    return sorted((d.rstrip("/") for d in dirs if d and d != "/"), key=len, reverse=True)


# Absolute paths under a temporary directory differ on every run: their folders become `<tmp>`. The file name
# stays (a page printing /tmp/x/model.bin must not pass for one printing /tmp/y/config.json), unless it is a
# name tempfile or pytest made up (tmpab12cd_x, pytest-3, test_a0).
TEMP_PATH_RE = re.compile(r"(?<![\w./-])(?:%s)(?![\w.-])(?:/(?P<rest>[^\s'\"(){}\[\],;<>]*))?"
                          % "|".join(map(re.escape, _temp_dirs())))
MADE_UP_NAME_RE = re.compile(r"tmp[a-z0-9_]{8}|tmp\w*\d\w*|pytest-(?:of-)?\w+|test_\w+\d")


def _temp_path(match: re.Match) -> str:
    name = (match["rest"] or "").rstrip("/").rpartition("/")[2]
    return "<tmp>" if not name or MADE_UP_NAME_RE.fullmatch(name) else f"<tmp>/{name}"


def normalize(text: str) -> str:
    """`text` as a reader would see it, with run-dependent parts replaced.

    Colour codes are dropped (a terminal shows none of them), line endings become \\n; memory addresses,
    temporary paths and the home directory become placeholders.
    """
    if "\x1b" in text:
        text = ANSI_RE.sub("", text)
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    text = ADDRESS_RE.sub("0xADDRESS", text)
    text = TEMP_PATH_RE.sub(_temp_path, text)
    home = os.path.expanduser("~")
    return text.replace(home + "/", "~/") if home not in ("", "/", "~") else text


@dataclass(slots=True)
class Token:
    """One token of printed output; `where` is its position in nested brackets (see `path`)."""

    kind: str  # "number" | "string" | "name" | "punct"
    text: str  # as printed
    value: Any  # int or float for numbers, the unquoted content for strings, else the text
    where: tuple = ()
    line: int = 1  # 1-based line of the printed text
    gap: str = ""  # the whitespace printed before it
    depth: int = 0  # brackets open around it (its own opening bracket not counted, its closing one counted)

    @property
    def is_float(self) -> bool:
        """A number written with a point, an exponent, or nan/inf (integers are compared exactly)."""
        return self.kind == "number" and isinstance(self.value, float)

    @property
    def unit(self) -> float:
        """One unit in the last digit written: 1.6123 → 1e-4, 4.0195e-02 → 1e-6; 0 when no digit follows the point.

        A float written without decimals (`1.`, `0.`, `1e-05`) is an exact value, not a rounded one: torch prints
        a tensor of whole numbers as `tensor([1., 0.])`, Python's repr the shortest exact form. Granting it a unit
        would accept `1.` for `0.`; it gets only the relative tolerance any float gets.
        """
        if self.kind != "number" or not math.isfinite(self.value):
            return 0.0
        mantissa, _, exponent = self.text.lower().partition("e")
        decimals = len(mantissa.partition(".")[2])
        return 10.0 ** (int(exponent or 0) - decimals) if decimals or not self.is_float else 0.0

    @property
    def path(self) -> str:
        """Readable position: `input_ids[1][8]`, `[0]['score']`, `logits[0][1]`; "" at top level."""
        return format_path(self.where)


def format_path(where: tuple) -> str:
    """Render a token's `where` tuple of ("index"|"key"|"arg"|"argn", value) steps."""
    parts = []
    for kind, value in where:
        if kind == "index":
            parts.append(f"[{value}]")
        elif kind == "argn":
            parts.append(f"(arg {value})")
        elif not parts and IDENTIFIER_RE.fullmatch(str(value)):
            parts.append(str(value))
        elif kind == "arg":
            parts.append(f".{value}")
        else:
            parts.append(f"[{value!r}]")
    return "".join(parts)


class _Frame:
    """An open bracket: its kind, the item index inside it and the current key (dict key or keyword)."""

    __slots__ = ("kind", "index", "key")

    def __init__(self, kind: str):
        self.kind, self.index, self.key = kind, 0, None

    def step(self) -> tuple | None:
        if self.kind in ("[", "("):
            return ("index", self.index)
        if self.kind == "{":
            return ("key", self.key) if self.key is not None else ("index", self.index)
        if self.kind == "call":
            return ("arg", self.key) if self.key is not None else (("argn", self.index) if self.index else None)
        return ("key", self.key) if self.key is not None else None  # top level: `name = value` / `name: value`


def _value(kind: str, text: str) -> Any:
    if kind == "number":
        plain = text.lstrip("-")
        return int(text) if plain.isdigit() else float(text)
    if kind == "string":
        return text[1:-1]
    return text


def iter_tokens(text: str) -> Iterator[Token]:
    """Tokens of `text` one at a time (lazy, linear), so a comparison can stop at the first difference."""
    frames = [_Frame("top")]
    prefixes: list[tuple] = [()]  # prefixes[k]: the steps of frames[:k], kept so a comma costs O(1)
    where: tuple = ()
    line = 1
    previous: Token | None = None
    for match in TOKEN_RE.finditer(text):
        kind = match.lastgroup
        token_text = match.group(kind)
        start = match.start(kind)
        if start > match.start() and (newlines := text.count("\n", match.start(), start)):
            line += newlines
            if len(frames) == 1 and frames[0].key is not None:  # a top-level `name = ` lasts one line
                frames[0].key, where = None, ()
        token = Token(kind, token_text, _value(kind, token_text), where, line,
                      text[match.start():start] if start > match.start() else "", len(frames) - 1)
        yield token
        if kind == "punct":
            top = frames[-1]
            if token_text in OPENERS:
                frames.append(_Frame("call" if token_text == "(" and previous and previous.kind == "name"
                                     else token_text))
                prefixes.append(where)
            elif token_text in CLOSERS and len(frames) > 1 and CLOSER_OF[top.kind] == token_text:
                frames.pop()
                prefixes.pop()
            elif token_text == ",":
                top.index, top.key = top.index + 1, None
            elif token_text == ":" and top.kind in ("{", "top") and previous and previous.kind != "punct":
                top.key = previous.value if previous.kind != "number" else previous.text
            elif token_text == "=" and top.kind in ("call", "top") and previous and previous.kind == "name":
                top.key = previous.text
            else:
                previous = token
                continue
            step = frames[-1].step()
            where = prefixes[-1] + (step,) if step is not None else prefixes[-1]
        previous = token


def tokenize(text: str) -> list[Token]:
    """All tokens of `text` (not normalized: call `normalize` first for run-dependent parts)."""
    return list(iter_tokens(text))
