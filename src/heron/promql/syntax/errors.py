"""The one error the PromQL syntax package raises, worded as Prometheus words it.

Prometheus prints a parse error as `<line>:<col>: parse error: <message>`, where the position
is the start of the offending token, 1-based, in the query as sent (`ParseErr.Error()` in
prometheus/promql/parser). Grafana and promtool show that text unchanged, so Heron keeps it.
"""

from __future__ import annotations

__all__ = ["ParseError", "PosRange", "position_of"]

from dataclasses import dataclass


@dataclass(frozen=True)
class PosRange:
    """A half-open range [start, end) of character offsets into the query text."""

    start: int
    end: int


def position_of(query: str, offset: int) -> str:
    """`line:col` of a character offset, both 1-based, as Prometheus' `StartPosInput` prints."""
    offset = max(0, min(offset, len(query)))
    line = query.count("\n", 0, offset) + 1
    last_break = query.rfind("\n", 0, offset)
    col = offset - last_break  # last_break is -1 on the first line, so col is offset + 1
    return f"{line}:{col}"


class ParseError(ValueError):
    """A query that is not valid PromQL; `pos` is where, `msg` is Prometheus' message."""

    def __init__(self, msg: str, pos: PosRange, query: str) -> None:
        super().__init__(msg, pos, query)
        self.msg = msg
        self.pos = pos
        self.query = query

    def __str__(self) -> str:
        return f"{position_of(self.query, self.pos.start)}: parse error: {self.msg}"

    def __repr__(self) -> str:
        return f"ParseError({self.msg!r}, {self.pos!r})"
