"""Where a key is in a TOML file: ``Locator`` turns a key path into ``file:line: path: message``.

``tomllib`` gives values, not positions, so this indexes every table header and key
assignment with the full dotted path it defines, and finds the line of a path (or of one
value in a list) for error messages a person can act on in an editor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engines.errors import ConfigError

_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED_KEY = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_TABLE_HEADER = re.compile(rf"^\s*\[\[?\s*({_DOTTED_KEY})\s*\]\]?")
_KEY_ASSIGNMENT = re.compile(rf"^\s*({_DOTTED_KEY})\s*=")


def _split_dotted_key(dotted: str) -> tuple[str, ...]:
    parts = re.findall(_KEY_PART, dotted)
    return tuple(part[1:-1] if part[:1] in "\"'" else part for part in parts)


@dataclass(frozen=True)
class _KeyLine:
    number: int
    path: tuple[str, ...]


def _index_key_lines(text: str) -> list[_KeyLine]:
    """Every table header and key assignment with the full key path it defines."""
    lines: list[_KeyLine] = []
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        if header := _TABLE_HEADER.match(line):
            table = _split_dotted_key(header.group(1))
            lines.append(_KeyLine(number, table))
        elif assignment := _KEY_ASSIGNMENT.match(line):
            lines.append(_KeyLine(number, table + _split_dotted_key(assignment.group(1))))
    return lines


class Locator:
    """Turns a key path into ``file:line: path: message``."""

    def __init__(self, text: str, filename: str) -> None:
        self.filename = filename
        self.lines = text.splitlines()
        self.index = _index_key_lines(text)

    def error(
        self,
        path: tuple[str, ...],
        message: str,
        *,
        label: tuple[str, ...] | None = None,
        value: str | None = None,
    ) -> ConfigError:
        """A ``ConfigError`` at the line defining ``path``, prefixed by ``label`` (or path)."""
        number = self._line_of(path, value)
        where = f"{self.filename}:{number}" if number else self.filename
        dotted = ".".join(path if label is None else label)
        return ConfigError(f"{where}: {dotted}: {message}" if dotted else f"{where}: {message}")

    def _line_of(self, path: tuple[str, ...], value: str | None) -> int:
        """The line defining ``path``, else its closest enclosing (or first inner) key; 0."""
        best: _KeyLine | None = None
        best_depth = 0
        for key_line in self.index:
            depth = min(len(path), len(key_line.path))
            related = path[:depth] == key_line.path[:depth]
            if related and depth > best_depth:
                best, best_depth = key_line, depth
        if best is None:
            return 0
        return best.number if value is None else self._line_showing(best, value)

    def _line_showing(self, start: _KeyLine, value: str) -> int:
        """The first line from ``start`` up to the next key that shows ``value`` quoted."""
        stop = next((k.number for k in self.index if k.number > start.number), None)
        last = stop - 1 if stop else len(self.lines)
        for number in range(start.number, last + 1):
            line = self.lines[number - 1]
            if f'"{value}"' in line or f"'{value}'" in line:
                return number
        return start.number
