"""A TOML document as a list of statements, each a span of its lines, for edits that keep
every other byte of the file as it was (``tomllib`` reads TOML but cannot write it back).

A statement is a table header (``[a.b]``, ``[[a]]``), a key/value pair (which may run over
several lines: a multi-line string or array), or a blank or comment line. Only a document
that ``tomllib`` has already read is split: the scanner follows strings, comments and
brackets just far enough to find where each statement ends.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["header", "key", "blank"]

_LINE = re.compile(r"[^\n]*\n|[^\n]+\Z")


@dataclass(frozen=True)
class Statement:
    """Lines ``start`` to ``end`` (exclusive) of a document.

    Attributes:
        kind: ``header`` (a table header), ``key`` (a key/value pair), ``blank`` (blank or comment).
        path: a header's table path (``("model_providers", "gatedeck")``); a pair's first key.
        array: whether a header opens an array of tables (``[[a]]``).
    """

    kind: Kind
    start: int
    end: int
    path: tuple[str, ...] = ()
    array: bool = False


def split_lines(text: str) -> list[str]:
    """``text`` as lines that keep their endings (only ``\\n`` ends a line, as in TOML)."""
    return _LINE.findall(text)


def statements(lines: list[str]) -> list[Statement]:
    """The statements of a document that ``tomllib`` reads, in order, covering every line."""
    found: list[Statement] = []
    index = 0
    while index < len(lines):
        stripped = lines[index].strip()
        if not stripped or stripped.startswith("#"):
            found.append(Statement("blank", index, index + 1))
            index += 1
        elif stripped.startswith("["):
            path, array = _header_path(lines[index])
            found.append(Statement("header", index, index + 1, path, array))
            index += 1
        else:
            end = _pair_end(lines, index)
            first = next(iter(tomllib.loads("".join(lines[index:end]))))
            found.append(Statement("key", index, end, (first,)))
            index = end
    return found


def _header_path(line: str) -> tuple[tuple[str, ...], bool]:
    table: Any = tomllib.loads(line)
    path: list[str] = []
    array = False
    while isinstance(table, dict) and table:
        name, table = next(iter(table.items()))
        path.append(name)
        if isinstance(table, list):
            array, table = True, table[0]
    return tuple(path), array


def _pair_end(lines: list[str], start: int) -> int:
    """The line after the last one of the key/value pair that starts at ``start``."""
    quote: str | None = None  # the closing quotes of an open multi-line string
    depth = 0  # open brackets and braces (an array may run over lines)
    for index in range(start, len(lines)):
        quote, depth = _scan(lines[index], quote, depth)
        if quote is None and depth == 0:
            return index + 1
    return len(lines)


def _scan(line: str, quote: str | None, depth: int) -> tuple[str | None, int]:
    at = 0
    while at < len(line):
        if quote is not None:
            close = _find_close(line, at, quote)
            if close < 0:
                return quote, depth
            closing, at, quote = quote[0], close + 3, None
            while at < len(line) and line[at] == closing:
                at += 1  # up to two more quotes may end the string's content
            continue
        char = line[at]
        if char == "#":
            break
        if line.startswith('"""', at) or line.startswith("'''", at):
            quote, at = line[at : at + 3], at + 3
        elif char == '"':
            at = _skip_basic(line, at + 1)
        elif char == "'":
            end = line.find("'", at + 1)
            at = len(line) if end < 0 else end + 1
        else:
            depth += (char in "[{") - (char in "]}")
            at += 1
    return quote, depth


def _find_close(line: str, at: int, quote: str) -> int:
    """Where ``quote`` closes a multi-line string on this line (-1: it does not)."""
    while True:
        found = line.find(quote, at)
        if found < 0 or quote == "'''" or not _escaped(line, found):
            return found
        at = found + 1


def _skip_basic(line: str, at: int) -> int:
    while at < len(line):
        if line[at] == "\\":
            at += 2
        elif line[at] == '"':
            return at + 1
        else:
            at += 1
    return at


def _escaped(line: str, at: int) -> bool:
    backslashes = len(line[:at]) - len(line[:at].rstrip("\\"))
    return backslashes % 2 == 1
