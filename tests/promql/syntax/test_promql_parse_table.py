"""Prometheus' own parser test table (`promql/parser/parse_test.go`, testExpr), transcribed.

`parse_cases.json` holds each input with either the expected tree (in Heron's AST terms: the
`__name__` matcher first, durations in ms, duration arithmetic folded) or the first error
Prometheus reports, with its character range. Cases Heron cannot express are left out of the
file: `step()`/`range()` inside durations (they depend on the query), `anchored`/`smoothed`
and `fill()` modifiers, inputs that are not valid UTF-8.

Each tree is also printed and parsed back (`parse(format(e)) == e`) and printing is stable.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from heron.model import Matcher, MatchOp
from heron.promql.syntax import (
    AggregateExpr,
    AtModifier,
    BinaryExpr,
    Call,
    Cardinality,
    Expr,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    ParseError,
    PosRange,
    StringLiteral,
    SubqueryExpr,
    UnaryExpr,
    VectorMatching,
    VectorSelector,
    format_expr,
    parse_expr,
)
from heron.promql.syntax.functions import SIGNATURES
from heron.promql.syntax.printer import format_matcher

CASES = json.loads((Path(__file__).parent / "parse_cases.json").read_text())["cases"]
OK_CASES = [c for c in CASES if "expected" in c]
ERR_CASES = [c for c in CASES if "error" in c]


def _num(v: float | str) -> float:
    return float(v) if isinstance(v, str) else float(v)  # "inf", "-inf", "nan" strings


def _at(d: dict[str, Any] | None) -> AtModifier | None:
    if d is None:
        return None
    return AtModifier(timestamp_ms=d.get("timestamp_ms"), start_end=d.get("start_end"))


def build(d: dict[str, Any]) -> Expr:
    """The Heron tree a JSON case describes."""
    pos = PosRange(*d["pos"]) if d.get("pos") else PosRange(0, 0)
    k = d["kind"]
    if k == "number":
        return NumberLiteral(_num(d["value"]), pos=pos)
    if k == "string":
        return StringLiteral(d["value"], pos=pos)
    if k == "selector":
        ms = tuple(Matcher(n, MatchOp(op), v) for n, op, v in d["matchers"])
        return VectorSelector(d["name"], ms, d["offset_ms"], _at(d["at"]), pos=pos)
    if k == "matrix":
        vs = build(d["vector"])
        assert isinstance(vs, VectorSelector)
        return MatrixSelector(vs, d["range_ms"], pos=pos)
    if k == "subquery":
        inner = build(d["expr"])
        return SubqueryExpr(inner, d["range_ms"], d["step_ms"], d["offset_ms"], _at(d["at"]), pos=pos)
    if k == "paren":
        return ParenExpr(build(d["expr"]), pos=pos)
    if k == "unary":
        return UnaryExpr(d["op"], build(d["expr"]), pos=pos)
    if k == "binary":
        m = d["matching"]
        vm = None
        if m is not None:
            card = Cardinality(m["card"])
            vm = VectorMatching(card, tuple(m["matching_labels"]), m["on"], tuple(m["include"]))
        return BinaryExpr(d["op"], build(d["lhs"]), build(d["rhs"]), d["return_bool"], vm, pos=pos)
    if k == "aggregate":
        param = build(d["param"]) if d["param"] is not None else None
        return AggregateExpr(d["op"], build(d["expr"]), param, tuple(d["grouping"]), d["without"], pos=pos)
    if k == "call":
        return Call(d["func"], tuple(build(a) for a in d["args"]), SIGNATURES[d["func"]].return_type, pos=pos)
    raise AssertionError(f"unknown kind {k}")


def _same(a: Expr, b: Expr) -> bool:
    """Tree equality that treats NaN literals as equal (NaN != NaN otherwise)."""
    if isinstance(a, NumberLiteral) and isinstance(b, NumberLiteral):
        return (math.isnan(a.value) and math.isnan(b.value)) or a == b
    return a == b or repr(a) == repr(b)  # repr: NaN literals deeper in the tree


def _positions(e: Expr) -> list[tuple[str, PosRange]]:
    """Every node's (kind, pos), depth first, to compare ranges with Prometheus'."""
    out = [(type(e).__name__, e.pos)]
    children: list[Expr] = []
    if isinstance(e, (ParenExpr, UnaryExpr, SubqueryExpr)):
        children = [e.expr]
    elif isinstance(e, MatrixSelector):
        children = [e.vector]
    elif isinstance(e, BinaryExpr):
        children = [e.lhs, e.rhs]
    elif isinstance(e, AggregateExpr):
        children = [c for c in (e.param, e.expr) if c is not None]
    elif isinstance(e, Call):
        children = list(e.args)
    for c in children:
        out.extend(_positions(c))
    return out


def test_table_is_large() -> None:
    assert len(OK_CASES) >= 150 and len(ERR_CASES) >= 100


@pytest.mark.parametrize("case", OK_CASES, ids=[c["input"][:60] for c in OK_CASES])
def test_parses_to_prometheus_tree(case: dict[str, Any]) -> None:
    got = parse_expr(case["input"])
    want = build(case["expected"])
    assert _same(got, want), f"\n got: {got!r}\nwant: {want!r}"
    assert _positions(got) == _positions(want)


@pytest.mark.parametrize("case", ERR_CASES, ids=[c["input"][:60] for c in ERR_CASES])
def test_fails_like_prometheus(case: dict[str, Any]) -> None:
    with pytest.raises(ParseError) as info:
        parse_expr(case["input"])
    err = info.value
    assert err.msg == case["error"]["message"]
    want = case["error"]["pos"]
    if want is not None and want != [0, 0]:
        assert [err.pos.start, err.pos.end] == want


def sorted_matchers(e: Expr) -> Expr:
    """The tree with each selector's matchers in printed order (the written name first), which
    is the order a printed-and-reparsed selector has."""
    if isinstance(e, VectorSelector):
        lead = e.matchers[:1] if e.name else ()
        rest = sorted(e.matchers[len(lead) :], key=format_matcher)
        return replace(e, matchers=(*lead, *rest))
    changes: dict[str, Any] = {}
    for name in ("expr", "vector", "lhs", "rhs", "param"):
        child = getattr(e, name, None)
        if child is not None:
            changes[name] = sorted_matchers(child)
    if isinstance(e, Call):
        changes["args"] = tuple(sorted_matchers(a) for a in e.args)
    return replace(e, **changes) if changes else e


@pytest.mark.parametrize("case", OK_CASES, ids=[c["input"][:60] for c in OK_CASES])
def test_round_trip(case: dict[str, Any]) -> None:
    tree = parse_expr(case["input"])
    text = format_expr(tree)
    again = parse_expr(text)
    assert _same(again, sorted_matchers(tree)), f"{text!r}"
    assert format_expr(again) == text
