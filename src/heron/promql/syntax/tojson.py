"""The JSON tree `/api/v1/parse_query` answers with (Prometheus' `web/api/v1/translate_ast.go`).

Heron folds duration arithmetic while parsing, so `rangeExpr`, `offsetExpr` and `stepExpr` are
always null and `range`/`offset`/`step` carry the folded milliseconds, which is what Prometheus
itself sends for plain durations. Matchers are listed in Prometheus' order: the name matcher
of a written metric name comes last (Heron's tree keeps it first).
"""

from __future__ import annotations

from typing import Any

from heron.model import Matcher
from heron.promql.syntax.ast import (
    AggregateExpr,
    AtModifier,
    BinaryExpr,
    Call,
    Expr,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    StringLiteral,
    SubqueryExpr,
    UnaryExpr,
    VectorSelector,
)
from heron.promql.syntax.functions import SIGNATURES
from heron.promql.syntax.quoting import format_float

__all__ = ["to_json"]


def _matchers(vs: VectorSelector) -> list[dict[str, str]]:
    ms: list[Matcher] = list(vs.matchers)
    if vs.name and ms and ms[0].name == "__name__":
        ms = ms[1:] + ms[:1]
    return [{"name": m.name, "value": m.value, "type": m.op.value} for m in ms]


def _at(at: AtModifier | None) -> tuple[int | None, str | None]:
    if at is None:
        return None, None
    return at.timestamp_ms, at.start_end


def _selector_fields(vs: VectorSelector) -> dict[str, Any]:
    ts, start_end = _at(vs.at)
    return {
        "name": vs.name,
        "offset": vs.offset_ms,
        "offsetExpr": None,
        "matchers": _matchers(vs),
        "timestamp": ts,
        "startOrEnd": start_end,
        "anchored": False,
        "smoothed": False,
    }


def to_json(expr: Expr) -> dict[str, Any]:
    """Prometheus' `translateAST(expr)`."""
    if isinstance(expr, AggregateExpr):
        return {
            "type": "aggregation",
            "op": expr.op,
            "expr": to_json(expr.expr),
            "param": to_json(expr.param) if expr.param is not None else None,
            "grouping": list(expr.grouping),
            "without": expr.without,
        }
    if isinstance(expr, BinaryExpr):
        matching = None
        if expr.matching is not None:
            vm = expr.matching
            matching = {
                "card": vm.card.value,
                "labels": list(vm.matching_labels),
                "on": vm.on,
                "include": list(vm.include),
                "fillValues": {"lhs": None, "rhs": None},
            }
        return {
            "type": "binaryExpr",
            "op": expr.op,
            "lhs": to_json(expr.lhs),
            "rhs": to_json(expr.rhs),
            "matching": matching,
            "bool": expr.return_bool,
        }
    if isinstance(expr, Call):
        sig = SIGNATURES[expr.func]
        return {
            "type": "call",
            "func": {
                "name": sig.name,
                "argTypes": [t.value for t in sig.arg_types],
                "variadic": sig.variadic,
                "returnType": sig.return_type.value,
            },
            "args": [to_json(a) for a in expr.args],
        }
    if isinstance(expr, MatrixSelector):
        fields = _selector_fields(expr.vector)
        return {
            "type": "matrixSelector",
            "name": fields["name"],
            "range": expr.range_ms,
            "rangeExpr": None,
            **{k: v for k, v in fields.items() if k != "name"},
        }
    if isinstance(expr, SubqueryExpr):
        ts, start_end = _at(expr.at)
        return {
            "type": "subquery",
            "expr": to_json(expr.expr),
            "range": expr.range_ms,
            "rangeExpr": None,
            "offset": expr.offset_ms,
            "offsetExpr": None,
            "step": expr.step_ms,
            "stepExpr": None,
            "timestamp": ts,
            "startOrEnd": start_end,
        }
    if isinstance(expr, NumberLiteral):
        return {"type": "numberLiteral", "val": format_float(expr.value)}
    if isinstance(expr, ParenExpr):
        return {"type": "parenExpr", "expr": to_json(expr.expr)}
    if isinstance(expr, StringLiteral):
        return {"type": "stringLiteral", "val": expr.value}
    if isinstance(expr, UnaryExpr):
        return {"type": "unaryExpr", "op": expr.op, "expr": to_json(expr.expr)}
    if isinstance(expr, VectorSelector):
        return {"type": "vectorSelector", **_selector_fields(expr)}
    raise TypeError(f"not a PromQL expression: {type(expr).__name__}")
