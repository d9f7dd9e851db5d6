"""Loki's `pattern` mini-language (`<ip> - <_> [<ts>] "<method> <path>"`), parsed and checked.

Used by the `| pattern "..."` parser and the `|> "..."` / `!> "..."` line filters. A capture
is `<name>` with name `[A-Za-z_][A-Za-z0-9_]*` (`<_>` captures nothing); everything else,
including a malformed `<...>`, is literal text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["PatternNode", "parse_pattern", "pattern_parser_error", "pattern_filter_error"]

_CAPTURE = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)>")


@dataclass(frozen=True)
class PatternNode:
    """A literal run (`capture` False, `text` the literal) or a capture (`text` its name)."""

    text: str
    capture: bool

    @property
    def unnamed(self) -> bool:
        return self.capture and self.text == "_"

    def __str__(self) -> str:
        return f"<{self.text}>" if self.capture else self.text


def parse_pattern(pattern: str) -> list[PatternNode]:
    """Split a pattern into alternating literal runs and captures."""
    nodes: list[PatternNode] = []
    pos = 0
    for m in _CAPTURE.finditer(pattern):
        if m.start() > pos:
            nodes.append(PatternNode(pattern[pos : m.start()], False))
        nodes.append(PatternNode(m.group(1), True))
        pos = m.end()
    if pos < len(pattern):
        nodes.append(PatternNode(pattern[pos:], False))
    return nodes


def _consecutive(nodes: list[PatternNode]) -> str | None:
    for a, b in zip(nodes, nodes[1:]):
        if a.capture and b.capture:
            return f"found consecutive capture '{a}{b}': invalid expression"
    return None


def pattern_parser_error(pattern: str) -> str | None:
    """Loki's `pattern.New` error for a `| pattern` stage, or None when valid."""
    if pattern == "":
        return "parse error at line 1, col 1: syntax error: unexpected $end, expecting IDENTIFIER or LITERAL"
    nodes = parse_pattern(pattern)
    names = [node.text for node in nodes if node.capture and not node.unnamed]
    if not names:
        return "at least one capture is required"
    consecutive = _consecutive(nodes)
    if consecutive:
        return consecutive
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return f"duplicate capture name ({name}): invalid expression"
        seen.add(name)
    return None


def pattern_filter_error(pattern: str) -> str | None:
    """Loki's `pattern.ParseLineFilter` error for a `|>` / `!>` filter, or None when valid.

    Line filters may only use `<_>`; an empty pattern is allowed (it matches empty lines).
    """
    if pattern == "":
        return None
    nodes = parse_pattern(pattern)
    consecutive = _consecutive(nodes)
    if consecutive:
        return consecutive
    for node in nodes:
        if node.capture and not node.unnamed:
            return f"named captures are not allowed: found '{node}'"
    return None
