"""Prometheus' multi-line query formatting (`Pretty(0)` in `parser/prettier.go`).

`/api/v1/format_query` answers with this text. A node is split over several lines only when its
single-line form (`format_expr`) is longer than 100 bytes; each nesting level indents two
spaces. Prometheus' quirks are kept, since clients compare the text: an unsplit subquery is
not indented, and a unary operator's operand keeps its own indentation trimmed.
"""

from __future__ import annotations

from heron.promql.syntax.ast import (
    AggregateExpr,
    BinaryExpr,
    Call,
    Expr,
    ParenExpr,
    SubqueryExpr,
    UnaryExpr,
)
from heron.promql.syntax.printer import aggregate_prefix, format_expr, matching_suffix, subquery_suffix

__all__ = ["prettify", "MAX_CHARACTERS_PER_LINE"]

MAX_CHARACTERS_PER_LINE = 100


def _indent(level: int) -> str:
    return "  " * level


def _pretty(node: Expr, level: int, width: int) -> str:
    def _needs_split(n: Expr) -> bool:
        return len(format_expr(n).encode()) > width

    def _sub(n: Expr, lvl: int) -> str:
        return _pretty(n, lvl, width)

    pad = _indent(level)
    if isinstance(node, AggregateExpr):
        if not _needs_split(node):
            return pad + format_expr(node)
        out = pad + aggregate_prefix(node) + "(\n"
        if node.param is not None:
            out += _sub(node.param, level + 1) + ",\n"
        return out + _sub(node.expr, level + 1) + "\n" + pad + ")"
    if isinstance(node, BinaryExpr):
        if not _needs_split(node):
            return pad + format_expr(node)
        lhs, rhs = _sub(node.lhs, level + 1), _sub(node.rhs, level + 1)
        return f"{lhs}\n{pad}{node.op}{matching_suffix(node)}\n{rhs}"
    if isinstance(node, Call):
        if not _needs_split(node):
            return pad + format_expr(node)
        args = ",\n".join(_sub(a, level + 1) for a in node.args)
        return f"{pad}{node.func}(\n{args}\n{pad})"
    if isinstance(node, ParenExpr):
        if not _needs_split(node):
            return pad + format_expr(node)
        return f"{pad}(\n{_sub(node.expr, level + 1)}\n{pad})"
    if isinstance(node, SubqueryExpr):
        if not _needs_split(node):
            return format_expr(node)  # Prometheus does not indent an unsplit subquery
        return _sub(node.expr, level) + subquery_suffix(node)
    if isinstance(node, UnaryExpr):
        return pad + node.op + _sub(node.expr, level).strip()
    return pad + format_expr(node)


def prettify(node: Expr, *, max_width: int = MAX_CHARACTERS_PER_LINE) -> str:
    """Prometheus' `parser.Prettify(node)`; `max_width` is its `maxCharactersPerLine`."""
    return _pretty(node, 0, max_width)
