"""The engine's tree walk over hand-built trees: selectors (lookback, staleness, offset, @),
subqueries, binary operators and their errors, name dropping, limits and cancellation."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from heron.model import STALE_NAN, Labels, Matcher, MatchOp, labels_from
from heron.promql.engine import Engine, InvalidQueryError
from heron.promql.evaluator import subquery_times
from heron.promql.syntax.ast import (
    AtModifier,
    BinaryExpr,
    Cardinality,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    SubqueryExpr,
    UnaryExpr,
    VectorMatching,
    VectorSelector,
)
from heron.promql.value import ExecutionError, QueryCanceledError, QueryTimeoutError, TooManySamplesError

M = 60_000  # one minute in ms


class MemSnapshot:
    def __init__(self, db: "MemDB") -> None:
        self.db = db

    def samples(self, matchers, start, end):
        self.db.calls.append((tuple(matchers), start, end))
        out = []
        for labels, (ts, vals) in sorted(self.db.series.items()):
            names = dict(labels)
            if all(m.matches(names.get(m.name, "")) for m in matchers):
                keep = (ts >= start) & (ts <= end)
                if keep.any():
                    out.append((labels, ts[keep], vals[keep]))
        return out


class MemDB:
    """The smallest `db`: a dict of series and a log of every `samples` call."""

    def __init__(self) -> None:
        self.series: dict[Labels, tuple[np.ndarray, np.ndarray]] = {}
        self.calls: list[tuple] = []

    def add(self, ts, vals, **labels: str) -> None:
        self.series[labels_from(labels)] = (
            np.asarray(ts, dtype=np.int64),
            np.asarray(vals, dtype=np.float64),
        )

    def snapshot(self) -> MemSnapshot:
        return MemSnapshot(self)


def sel(name: str, offset_ms: int = 0, at: AtModifier | None = None, **eq: str) -> VectorSelector:
    ms = [Matcher("__name__", MatchOp.EQ, name)] + [Matcher(k, MatchOp.EQ, v) for k, v in eq.items()]
    return VectorSelector(name, tuple(ms), offset_ms, at)


def vv(op: str, lhs, rhs, **kw) -> BinaryExpr:
    card = Cardinality.MANY_TO_MANY if op in ("and", "or", "unless") else Cardinality.ONE_TO_ONE
    matching = VectorMatching(
        kw.pop("card", card), tuple(kw.pop("labels", ())), kw.pop("on", False), tuple(kw.pop("include", ()))
    )
    return BinaryExpr(op, lhs, rhs, kw.pop("return_bool", False), matching)


def points(res) -> dict:
    return {s.labels: list(zip(s.timestamps.tolist(), s.values.tolist())) for s in res.series}


def L(**kw: str) -> Labels:
    return labels_from(kw)


@pytest.fixture
def db() -> MemDB:
    d = MemDB()
    minutes = np.arange(0, 11) * M
    d.add(minutes, np.arange(11.0), __name__="foo", a="1")
    d.add(minutes, np.arange(11.0) * 2, __name__="foo", a="2")
    d.add([0, 5 * M], [5.0, STALE_NAN], __name__="bar", a="1")
    return d


def test_instant_selector_takes_last_sample_in_left_open_lookback(db):
    eng = Engine(db, lookback_delta_ms=5 * M)
    assert points(eng.instant(sel("foo"), 3 * M + 30_000)) == {
        L(__name__="foo", a="1"): [(3 * M + 30_000, 3.0)],
        L(__name__="foo", a="2"): [(3 * M + 30_000, 6.0)],
    }
    # The sample exactly one lookback before is out: (t - 5m, t].
    db.add([0], [1.0], __name__="lone")
    assert eng.instant(sel("lone"), 5 * M).series == []
    assert points(eng.instant(sel("lone"), 5 * M - 1)) == {L(__name__="lone"): [(5 * M - 1, 1.0)]}


def test_stale_marker_ends_the_series(db):
    res = Engine(db).range(sel("bar"), 0, 10 * M, M)
    assert points(res) == {L(__name__="bar", a="1"): [(t * M, 5.0) for t in range(5)]}


def test_offset_negative_offset_and_at(db):
    eng = Engine(db)
    assert points(eng.instant(sel("foo", 2 * M, a="1"), 5 * M)) == {L(__name__="foo", a="1"): [(5 * M, 3.0)]}
    assert points(eng.instant(sel("foo", -2 * M, a="1"), 5 * M)) == {L(__name__="foo", a="1"): [(5 * M, 7.0)]}
    at = sel("foo", 0, AtModifier(timestamp_ms=2 * M), a="1")
    assert points(eng.range(at, 0, 2 * M, M)) == {
        L(__name__="foo", a="1"): [(0, 2.0), (M, 2.0), (2 * M, 2.0)]
    }
    start = sel("foo", 0, AtModifier(start_end="start"), a="1")
    end = sel("foo", M, AtModifier(start_end="end"), a="1")
    assert [v for _, v in points(eng.range(start, 3 * M, 5 * M, M))[L(__name__="foo", a="1")]] == [3.0] * 3
    assert [v for _, v in points(eng.range(end, 3 * M, 5 * M, M))[L(__name__="foo", a="1")]] == [4.0] * 3


def test_same_selector_twice_is_read_once_over_the_widest_window(db):
    foo = sel("foo")
    expr = vv("+", foo, sel("foo", 3 * M))
    Engine(db).range(expr, 5 * M, 6 * M, M)
    assert len(db.calls) == 1
    _, start, end = db.calls[0]
    assert (start, end) == (5 * M - 3 * M - 5 * M + 1, 6 * M)


def test_matrix_selector_instant_answers_raw_samples_without_stale_markers(db):
    res = Engine(db).instant(MatrixSelector(sel("foo", a="1"), 3 * M), 5 * M)
    assert res.type.value == "matrix"
    assert points(res) == {L(__name__="foo", a="1"): [(3 * M, 3.0), (4 * M, 4.0), (5 * M, 5.0)]}
    assert points(Engine(db).instant(MatrixSelector(sel("bar"), 10 * M), 6 * M)) == {
        L(__name__="bar", a="1"): [(0, 5.0)]
    }


def test_range_query_of_range_vector_is_refused(db):
    with pytest.raises(InvalidQueryError, match='invalid expression type "range vector" for range query'):
        Engine(db).range(MatrixSelector(sel("foo"), M), 0, M, M)
    with pytest.raises(InvalidQueryError):
        Engine(db).range(sel("foo"), 0, M, 0)


def test_subquery_steps_are_multiples_of_the_step():
    outer = np.array([95_000, 155_000], dtype=np.int64)
    sq = SubqueryExpr(sel("foo"), 60_000, 20_000)
    assert subquery_times(outer, sq, None, M).tolist() == list(range(40_000, 155_001, 20_000))
    # Go's division truncates toward zero: before the epoch the first step still lies after start.
    neg = subquery_times(np.array([10_000]), SubqueryExpr(sel("foo"), 60_000, 20_000), None, M)
    assert neg.tolist() == [-40_000, -20_000, 0]
    assert subquery_times(outer, SubqueryExpr(sel("foo"), 2 * M), 30 * M, M).tolist() == [29 * M, 30 * M]


def test_subquery_instant_answers_inner_steps(db):
    res = Engine(db).instant(SubqueryExpr(sel("foo", a="2"), 3 * M, M), 5 * M + 1)
    assert points(res) == {L(__name__="foo", a="2"): [(3 * M, 6.0), (4 * M, 8.0), (5 * M, 10.0)]}
    neg = UnaryExpr("-", sel("foo", a="2"))
    res = Engine(db).instant(SubqueryExpr(neg, 2 * M, M), 5 * M)
    assert points(res) == {L(a="2"): [(4 * M, -8.0), (5 * M, -10.0)]}


def test_scalar_results(db):
    eng = Engine(db)
    res = eng.instant(BinaryExpr("^", NumberLiteral(2), NumberLiteral(10)), 0)
    assert res.scalar == (0, 1024.0)
    res = eng.range(BinaryExpr("%", NumberLiteral(-7), NumberLiteral(3)), 0, 2 * M, M)
    assert points(res) == {(): [(0, -1.0), (M, -1.0), (2 * M, -1.0)]}


def test_vector_scalar_arithmetic_drops_name_comparison_keeps_it(db):
    eng = Engine(db)
    assert points(eng.instant(BinaryExpr("*", sel("foo", a="1"), NumberLiteral(2)), 3 * M)) == {
        L(a="1"): [(3 * M, 6.0)]
    }
    # A filtering comparison keeps the vector's value even with the scalar on the left.
    res = eng.instant(BinaryExpr("<", NumberLiteral(4), sel("foo")), 3 * M)
    assert points(res) == {L(__name__="foo", a="2"): [(3 * M, 6.0)]}
    res = eng.instant(BinaryExpr(">", sel("foo"), NumberLiteral(4), return_bool=True), 3 * M)
    assert points(res) == {L(a="1"): [(3 * M, 0.0)], L(a="2"): [(3 * M, 1.0)]}


def test_vector_vector_matching(db):
    eng = Engine(db)
    db.add([0], [10.0], __name__="info", a="1", team="x")
    db.add([0], [20.0], __name__="info", a="2", team="y")
    res = eng.instant(vv("+", sel("foo"), sel("info"), on=True, labels=["a"]), 2 * M)
    assert points(res) == {L(a="1"): [(2 * M, 12.0)], L(a="2"): [(2 * M, 24.0)]}
    res = eng.instant(
        vv(
            "*",
            sel("foo"),
            sel("info"),
            on=True,
            labels=["a"],
            card=Cardinality.MANY_TO_ONE,
            include=["team"],
        ),
        2 * M,
    )
    assert points(res) == {L(a="1", team="x"): [(2 * M, 20.0)], L(a="2", team="y"): [(2 * M, 80.0)]}
    res = eng.instant(vv("<", sel("foo"), sel("info"), labels=["team"]), 2 * M)
    assert points(res) == {L(__name__="foo", a="1"): [(2 * M, 2.0)], L(__name__="foo", a="2"): [(2 * M, 4.0)]}
    res = eng.instant(vv("==", sel("foo"), sel("info"), labels=["team"], return_bool=True), 2 * M)
    assert points(res) == {L(a="1"): [(2 * M, 0.0)], L(a="2"): [(2 * M, 0.0)]}
    # group_right: the labels come from the "many" side on the right, the value from the left.
    res = eng.instant(
        vv("-", sel("info"), sel("foo"), on=True, labels=["a"], card=Cardinality.ONE_TO_MANY), 2 * M
    )
    assert points(res) == {L(a="1"): [(2 * M, 8.0)], L(a="2"): [(2 * M, 16.0)]}


def test_matching_errors_are_prometheus_words(db):
    eng = Engine(db)
    with pytest.raises(ExecutionError) as err:
        eng.instant(vv("+", sel("bar"), sel("foo"), on=True, labels=[]), M)
    assert str(err.value) == (
        "found duplicate series for the match group {} on the right hand-side of the operation: "
        '[{__name__="foo", a="1"}, {__name__="foo", a="2"}];many-to-many matching not allowed: '
        "matching labels must be unique on one side"
    )
    with pytest.raises(ExecutionError, match="many-to-one matching must be explicit"):
        eng.instant(vv("+", sel("foo"), sel("bar"), on=True, labels=[]), M)
    db.add([0], [1.0], __name__="baz", a="1")
    any_a1 = VectorSelector("", (Matcher("a", MatchOp.EQ, "1"),))
    with pytest.raises(ExecutionError, match="grouping labels must ensure unique matches"):
        eng.instant(vv("+", any_a1, sel("bar"), on=True, labels=[], card=Cardinality.MANY_TO_ONE), M)
    with pytest.raises(ExecutionError, match="vector cannot contain metrics with the same labelset"):
        eng.instant(
            vv("or", UnaryExpr("-", sel("bar")), UnaryExpr("-", sel("baz")), on=True, labels=["__name__"]), M
        )


def test_set_operators(db):
    eng = Engine(db)
    assert set(points(eng.instant(vv("and", sel("foo"), sel("bar")), M))) == {L(__name__="foo", a="1")}
    assert set(points(eng.instant(vv("unless", sel("foo"), sel("bar")), M))) == {L(__name__="foo", a="2")}
    res = eng.instant(vv("or", sel("bar"), sel("foo")), M)
    assert set(points(res)) == {L(__name__="bar", a="1"), L(__name__="foo", a="2")}
    # After bar goes stale, foo{a="1"} is no longer shadowed.
    res = eng.range(vv("or", sel("bar"), sel("foo", a="1")), 4 * M, 6 * M, M)
    assert points(res) == {
        L(__name__="bar", a="1"): [(4 * M, 5.0)],
        L(__name__="foo", a="1"): [(5 * M, 5.0), (6 * M, 6.0)],
    }


def test_delayed_name_removal_merges_series_whose_steps_do_not_overlap():
    d = MemDB()
    d.add([0], [1.0], __name__="metric_a")
    d.add([0, 10 * M], [3.0, 4.0], __name__="metric_b")
    expr = vv("or", UnaryExpr("-", sel("metric_a")), UnaryExpr("-", sel("metric_b")))
    assert points(Engine(d).range(expr, 0, 20 * M, 10 * M)) == {(): [(0, -1.0), (10 * M, -4.0)]}
    with pytest.raises(ExecutionError, match="same labelset"):
        Engine(d).instant(
            vv(
                "or",
                UnaryExpr("-", sel("metric_a")),
                UnaryExpr("-", sel("metric_b")),
                on=True,
                labels=["__name__"],
            ),
            0,
        )


def test_paren_and_unary(db):
    eng = Engine(db)
    res = eng.instant(ParenExpr(UnaryExpr("-", ParenExpr(sel("foo", a="1")))), 2 * M)
    assert points(res) == {L(a="1"): [(2 * M, -2.0)]}


def test_max_samples_counts_what_is_held_at_once(db):
    expr = vv("+", sel("foo"), sel("foo"))
    Engine(db, max_samples=66).range(expr, 0, 10 * M, M)  # 22 + 22 + 22 held at the peak
    with pytest.raises(TooManySamplesError):
        Engine(db, max_samples=65).range(expr, 0, 10 * M, M)
    res = Engine(db).range(expr, 0, 10 * M, M)
    assert res.stats.peak_samples == 66 and res.stats.total_samples == 44
    # Parentheses and unary minus pass their operand's samples on instead of holding a copy.
    wrapped = Engine(db).range(ParenExpr(UnaryExpr("-", ParenExpr(sel("foo")))), 0, 10 * M, M)
    assert wrapped.stats.peak_samples == 22


def test_deadline_and_cancellation(db):
    with pytest.raises(QueryTimeoutError):
        Engine(db).instant(sel("foo"), 0, deadline=time.monotonic() - 1)
    gone = threading.Event()
    gone.set()
    with pytest.raises(QueryCanceledError):
        Engine(db).range(sel("foo"), 0, M, M, cancelled=gone)


def test_step_counts_past_the_sample_limit_are_refused_before_allocating(db):
    with pytest.raises(TooManySamplesError):
        Engine(db, max_samples=1000).range(sel("foo"), 0, 10**12, 1)
    tiny_step = SubqueryExpr(sel("foo"), 10**12, 1)
    with pytest.raises(TooManySamplesError):
        Engine(db, max_samples=1000).instant(tiny_step, 10 * M)


def test_one_side_duplicates_only_count_where_the_other_side_has_samples(db):
    db.add([0], [1.0], __name__="dup", x="1")
    db.add([0], [2.0], __name__="dup", x="2")
    db.add([6 * M], [3.0], __name__="late")
    expr = vv("+", sel("late"), sel("dup"), on=True, labels=[])
    assert Engine(db).range(expr, 0, 10 * M, M).series == []
    with pytest.raises(ExecutionError, match="found duplicate series"):
        Engine(db).range(vv("+", sel("foo", a="1"), sel("dup"), on=True, labels=[]), 0, 10 * M, M)
