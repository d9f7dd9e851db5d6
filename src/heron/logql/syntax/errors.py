"""The one error the syntax package raises.

Loki reports every parse problem as a `ParseError` whose text names a line and column, so
clients (Grafana, logcli) can point at the offending token; Heron keeps the same text.
"""

from __future__ import annotations

__all__ = ["ParseError"]


class ParseError(ValueError):
    """A query that is not valid LogQL.

    `line` and `col` are 1-based and point at the start of the offending token. Both are 0 for
    errors Loki finds after parsing (semantic checks), which print as `parse error : msg`.
    Loki also reports line 0 (with a real column) for tokens its lexer reads with look-ahead
    (ranges, durations, two-character operators); Heron copies that so messages match.
    """

    def __init__(self, msg: str, line: int = 0, col: int = 0) -> None:
        super().__init__(msg, line, col)
        self.msg = msg
        self.line = line
        self.col = col

    def __str__(self) -> str:
        if self.line == 0 and self.col == 0:
            return f"parse error : {self.msg}"
        return f"parse error at line {self.line}, col {self.col}: {self.msg}"

    def __repr__(self) -> str:
        return f"ParseError({self.msg!r}, {self.line}, {self.col})"
