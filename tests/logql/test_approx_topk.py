"""`approx_topk(k, ...)`: Loki's parse rules (pkg/logql/syntax/ast.go, v3.8), its refusal in
range queries, and an exact answer equal to topk's (Loki's functions.logqltest scenario)."""

from __future__ import annotations

import time

import pytest

from heron.api.render import render_query_result
from heron.logql.engine import Engine
from heron.logql.result import QueryError
from heron.logql.syntax import ParseError, VectorAggregation, VectorOp, parse_expr
from heron.model import labels_from
from heron.storage import Database, LogBatch, StorageOptions

S = 1_000_000_000
T = (time.time_ns() // S - 120) * S
INNER = 'sum by (app, pod) (count_over_time({app=~"foo|bar"} |~ ".+bar" [1m]))'
# Loki's scenario: (app, pod) -> matching lines in the minute before T
COUNTS = {("bar", "b"): 30, ("bar", "a"): 15, ("foo", "b"): 12, ("foo", "a"): 6}


def test_parses_and_prints_like_topk():
    expr = parse_expr(f"approx_topk(2, {INNER})")
    assert isinstance(expr, VectorAggregation) and expr.op is VectorOp.APPROX_TOPK and expr.param == 2
    printed = str(expr)
    assert printed == 'approx_topk(2,sum by (app,pod)(count_over_time({app=~"foo|bar"} |~ ".+bar"[1m])))'
    assert parse_expr(printed) == expr  # the printed form parses back to the same tree


@pytest.mark.parametrize(
    "q,msg",
    [
        (f"approx_topk(2, {INNER}) by (app)", "grouping not allowed for approx_topk aggregation"),
        (f"approx_topk by () (2, {INNER})", "grouping not allowed for approx_topk aggregation"),
        (f"approx_topk without (app) (2, {INNER})", "grouping not allowed for approx_topk aggregation"),
        (f"approx_topk(1.5, {INNER})", "invalid parameter approx_topk(1.5,"),
        (f"approx_topk(0, {INNER})", "invalid parameter (must be greater than 0) approx_topk(0"),
        (f"approx_topk({INNER})", "parameter required for operation approx_topk"),
    ],
)
def test_parse_errors(q, msg):
    with pytest.raises(ParseError) as exc:
        parse_expr(q)
    assert msg in str(exc.value)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    db = Database.open(str(tmp_path_factory.mktemp("atk") / "d"), StorageOptions(), background=False)
    batches = []
    for (app, pod), n in COUNTS.items():
        ts = [T - 59 * S + i * (59 * S // n) for i in range(n)]
        batches.append(LogBatch(labels_from({"app": app, "pod": pod}), ts, [b"xbar"] * n))
        batches.append(LogBatch(labels_from({"app": app, "pod": pod}), [t + 1 for t in ts], [b"noise"] * n))
    batches.append(LogBatch(labels_from({"app": "noise"}), [T - S], [b"xbar"]))
    db.append(logs=batches)
    yield Engine(db)
    db.close()


def _vector(engine: Engine, q: str) -> list[tuple[dict[str, str], str]]:
    res = render_query_result(engine.query_instant(q, T))["data"]["result"]
    return [(s["metric"], s["value"][1]) for s in res]


@pytest.mark.parametrize("k", [1, 2, 10])
def test_instant_answer_is_topk(engine, k):
    got = _vector(engine, f"approx_topk({k}, {INNER})")
    want = sorted(COUNTS.items(), key=lambda kv: -kv[1])[:k]
    assert sorted(got, key=lambda x: -float(x[1])) == [({"app": a, "pod": p}, str(n)) for (a, p), n in want]
    assert sorted(got, key=str) == sorted(_vector(engine, f"topk({k}, {INNER})"), key=str)


def test_nested_approx_topk_evaluates(engine):
    assert _vector(engine, f"sum(approx_topk(2, {INNER}))") == [({}, "45")]


@pytest.mark.parametrize("q", [f"approx_topk(2, {INNER})", f"sum(approx_topk(2, {INNER})) * 2"])
def test_range_queries_are_refused(engine, q):
    with pytest.raises(QueryError) as exc:
        engine.query_range(q, T - 40 * S, T, 20 * S)
    assert str(exc.value) == "count min sketches are only supported on instant queries"
    # topk itself is fine in a range query
    engine.query_range(f"topk(2, {INNER})", T - 40 * S, T, 20 * S)
