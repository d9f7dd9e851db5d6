"""Prometheus' canonical single-line spelling of a PromQL tree (`String()` in `parser/printer.go`).

`format_expr` is what `str(node)` returns; the query API and the rule evaluator show it, so it
matches Prometheus character for character, and `parse_expr(format_expr(e)) == e` holds.
"""

from __future__ import annotations

import re

from heron.model import Matcher, MatchOp
from heron.promql.syntax.ast import (
    AggregateExpr,
    AtModifier,
    BinaryExpr,
    Call,
    Cardinality,
    Expr,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    StringLiteral,
    SubqueryExpr,
    UnaryExpr,
    VectorSelector,
)
from heron.promql.syntax.quoting import format_duration_ms, format_float, go_quote

__all__ = [
    "format_expr",
    "format_matcher",
    "format_labels_list",
    "offset_suffix",
    "at_suffix",
    "subquery_suffix",
    "aggregate_prefix",
    "matching_suffix",
]

_LEGACY_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_OPS = {MatchOp.EQ: "=", MatchOp.NEQ: "!=", MatchOp.RE: "=~", MatchOp.NRE: "!~"}


def _label(name: str) -> str:
    return name if _LEGACY_NAME.match(name) else go_quote(name)


def format_matcher(m: Matcher) -> str:
    """`labels.Matcher.String()`: the name quoted only when it is not a legacy label name."""
    return f"{_label(m.name)}{_OPS[m.op]}{go_quote(m.value)}"


def format_labels_list(names: tuple[str, ...]) -> str:
    """`writeLabels`: `a, b, "c.d"`."""
    return ", ".join(_label(n) for n in names)


def format_duration_signed(ms: int) -> str:
    return "-" + format_duration_ms(-ms) if ms < 0 else format_duration_ms(ms)


def offset_suffix(offset_ms: int) -> str:
    if offset_ms > 0:
        return " offset " + format_duration_ms(offset_ms)
    if offset_ms < 0:
        return " offset -" + format_duration_ms(-offset_ms)
    return ""


def at_suffix(at: AtModifier | None) -> str:
    if at is None:
        return ""
    if at.start_end is not None:
        return f" @ {at.start_end}()"
    assert at.timestamp_ms is not None
    return f" @ {at.timestamp_ms / 1000.0:.3f}"


def selector_body(vs: VectorSelector) -> str:
    """The selector without its modifiers: `name{sorted matchers}`."""
    parts = [
        format_matcher(m)
        for m in vs.matchers
        if not (m.name == "__name__" and m.op is MatchOp.EQ and m.value == vs.name and m.value != "")
    ]
    if not parts:
        return vs.name
    return vs.name + "{" + ",".join(sorted(parts)) + "}"


def matching_suffix(node: BinaryExpr) -> str:
    """`getMatchingStr` plus the `bool` flag: what follows the operator."""
    out = " bool" if node.return_bool else ""
    vm = node.matching
    if vm is None:
        return out
    grouped = vm.card in (Cardinality.MANY_TO_ONE, Cardinality.ONE_TO_MANY)
    if vm.matching_labels or vm.on or grouped:
        out += f" {'on' if vm.on else 'ignoring'} ({format_labels_list(vm.matching_labels)})"
    if grouped:
        side = "left" if vm.card is Cardinality.MANY_TO_ONE else "right"
        out += f" group_{side} ({format_labels_list(vm.include)})"
    return out


def subquery_suffix(node: SubqueryExpr) -> str:
    """`[range:step] @ t offset d` (Prometheus' `getSubqueryTimeSuffix`)."""
    step = format_duration_ms(node.step_ms) if node.step_ms else ""
    rng = format_duration_ms(node.range_ms)
    return f"[{rng}:{step}]{at_suffix(node.at)}{offset_suffix(node.offset_ms)}"


def aggregate_prefix(node: AggregateExpr) -> str:
    if node.without:
        return f"{node.op} without ({format_labels_list(node.grouping)}) "
    if node.grouping:
        return f"{node.op} by ({format_labels_list(node.grouping)}) "
    return node.op


def format_expr(node: Expr) -> str:
    """Prometheus' `node.String()`."""
    if isinstance(node, NumberLiteral):
        return format_float(node.value)
    if isinstance(node, StringLiteral):
        return go_quote(node.value)
    if isinstance(node, VectorSelector):
        return selector_body(node) + at_suffix(node.at) + offset_suffix(node.offset_ms)
    if isinstance(node, MatrixSelector):
        vs = node.vector
        rng = format_duration_ms(node.range_ms)
        return f"{selector_body(vs)}[{rng}]{at_suffix(vs.at)}{offset_suffix(vs.offset_ms)}"
    if isinstance(node, SubqueryExpr):
        return format_expr(node.expr) + subquery_suffix(node)
    if isinstance(node, ParenExpr):
        return f"({format_expr(node.expr)})"
    if isinstance(node, UnaryExpr):
        return node.op + format_expr(node.expr)
    if isinstance(node, BinaryExpr):
        return f"{format_expr(node.lhs)} {node.op}{matching_suffix(node)} {format_expr(node.rhs)}"
    if isinstance(node, AggregateExpr):
        inner = format_expr(node.expr)
        if node.param is not None:
            inner = f"{format_expr(node.param)}, {inner}"
        return f"{aggregate_prefix(node)}({inner})"
    if isinstance(node, Call):
        return f"{node.func}({', '.join(format_expr(a) for a in node.args)})"
    raise TypeError(f"not a PromQL expression: {type(node).__name__}")
