"""rate, increase, delta, irate, idelta, resets and changes on hand-built range vectors, with
expected values worked out from Prometheus' `extrapolatedRate` and `instantValue` by hand."""

from __future__ import annotations

import numpy as np
import pytest

from heron.model import Matcher, MatchOp
from heron.promql.functions import FUNCTIONS
from heron.promql.syntax.ast import Call, MatrixSelector, NumberLiteral, SubqueryExpr, VectorSelector
from heron.promql.syntax.errors import PosRange
from heron.promql.value import EvalContext, RangeVector, Vector


def run(
    func: str,
    name: str,
    ts_s: list[float],
    values: list[float],
    end_s: float,
    range_s: float,
    query: str = "",
):  # type: ignore[no-untyped-def]
    """One series, one step: returns (value or None, context, output vector)."""
    ts = (np.asarray(ts_s) * 1000).astype(np.int64)
    rv = RangeVector(
        [(("__name__", name), ("job", "a"))],
        [(ts, np.asarray(values, dtype=np.float64))],
        np.array([int(end_s * 1000)], dtype=np.int64),
        int(range_s * 1000),
    )
    sel = VectorSelector(name, (Matcher("__name__", MatchOp.EQ, name),), pos=PosRange(5, 5 + len(name)))
    call = Call(func, (MatrixSelector(sel, rv.range_ms, pos=PosRange(5, 5 + len(name) + 4)),))
    ctx = EvalContext(rv.ends.copy(), query=query)
    out = FUNCTIONS[func](call, [rv], ctx)
    assert isinstance(out, Vector)
    value = float(out.values[0, 0]) if out.present[0, 0] else None
    return value, ctx, out


def test_rate_extrapolates_to_both_edges_of_a_regular_series() -> None:
    # Samples 10..60 s, window (0, 60]: 50 over 50 s, 10 s to the start (< 1.1 x 10 s) is
    # extrapolated in full, and the zero point (10 s back) does not cut it shorter.
    ts = [10, 20, 30, 40, 50, 60]
    vs = [10, 20, 30, 40, 50, 60]
    assert run("increase", "x_total", ts, vs, 60, 60)[0] == pytest.approx(60.0)
    assert run("rate", "x_total", ts, vs, 60, 60)[0] == pytest.approx(1.0)
    assert run("delta", "x_total", ts, vs, 60, 60)[0] == pytest.approx(60.0)


def test_increase_adds_back_the_value_lost_at_a_reset() -> None:
    # 10, 20, 5, 15: (15 - 10) + 20 = 25 over 30 s, extrapolated by 10 s: 25 * 40 / 30.
    value, _, _ = run("increase", "x_total", [10, 20, 30, 40], [10, 20, 5, 15], 40, 40)
    assert value == pytest.approx(25 * 40 / 30)
    # delta is for gauges: no reset handling, so 15 - 10 = 5 over 30 s, times 40 / 30.
    assert run("delta", "x", [10, 20, 30, 40], [10, 20, 5, 15], 40, 40)[0] == pytest.approx(5 * 40 / 30)


def test_a_gap_before_the_first_sample_extrapolates_half_an_interval() -> None:
    # 100 -> 110 at 50 s and 60 s in (0, 60]: 50 s to the start is past 1.1 x 10 s, so only 5 s.
    assert run("increase", "x_total", [50, 60], [100, 110], 60, 60)[0] == pytest.approx(15.0)


def test_counter_extrapolation_stops_at_zero() -> None:
    # 1 -> 11: the counter would reach zero 1 s before the first sample, so 10 * 11 / 10.
    assert run("increase", "x_total", [50, 60], [1, 11], 60, 60)[0] == pytest.approx(11.0)
    # delta has no such floor: 10 * 15 / 10.
    assert run("delta", "x", [50, 60], [1, 11], 60, 60)[0] == pytest.approx(15.0)


def test_a_negative_counter_start_is_not_floored() -> None:
    # The zero point only applies when the first value is >= 0.
    assert run("increase", "x_total", [50, 60], [-5, 5], 60, 60)[0] == pytest.approx(15.0)


def test_rates_need_two_samples() -> None:
    for func in ("rate", "increase", "delta", "irate", "idelta"):
        value, _, out = run(func, "x_total", [30], [5], 60, 60)
        assert value is None, func
        assert out.present.shape == (1, 1)


def test_irate_and_idelta_read_the_last_two_samples() -> None:
    # 20 -> 5 is a reset for irate (the new value is the whole increase), a drop for idelta.
    assert run("irate", "x_total", [10, 20, 30], [10, 20, 5], 30, 60)[0] == pytest.approx(0.5)
    assert run("idelta", "x", [10, 20, 30], [10, 20, 5], 30, 60)[0] == pytest.approx(-15.0)
    assert run("irate", "x_total", [10, 20, 30], [10, 20, 26], 30, 60)[0] == pytest.approx(0.6)


def test_resets_and_changes_count_pairs_inside_the_window() -> None:
    assert run("resets", "x_total", [1, 2, 3, 4, 5], [10, 20, 5, 15, 3], 5, 60)[0] == 2.0
    nan = float("nan")
    # 1->1 no, 1->2 yes, 2->NaN yes, NaN->NaN no, NaN->2 yes.
    assert run("changes", "x", [1, 2, 3, 4, 5, 6], [1, 1, 2, nan, nan, 2], 6, 60)[0] == 3.0
    # One sample: zero changes and zero resets (present, unlike rate).
    assert run("changes", "x", [3], [1], 5, 60)[0] == 0.0
    assert run("resets", "x", [3], [1], 5, 60)[0] == 0.0
    # The sample at the window's (open) start does not count: (2, 5] holds 3, 4, 5.
    assert run("changes", "x", [2, 3, 4, 5], [9, 1, 1, 2], 5, 3)[0] == 1.0


def test_non_counter_name_gets_prometheus_info() -> None:
    query = "rate(foo[1m])"
    _, ctx, _ = run("rate", "foo", [10, 20], [1, 2], 60, 60, query=query)
    assert ctx.infos == [
        "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "
        '"foo" (1:6)'
    ]
    for good in ("foo_total", "foo_sum", "foo_count", "foo_bucket"):
        assert run("rate", good, [10, 20], [1, 2], 60, 60, query=query)[1].infos == []
    # No info when the series produced nothing, nor for delta.
    assert run("increase", "foo", [10], [1], 60, 60, query=query)[1].infos == []
    assert run("delta", "foo", [10, 20], [1, 2], 60, 60, query=query)[1].infos == []


def test_info_for_a_subquery_points_at_the_query_start() -> None:
    # Prometheus replaces a subquery argument by a matrix selector without a position.
    rv = RangeVector(
        [(("__name__", "foo"),)],
        [(np.array([10_000, 20_000]), np.array([1.0, 2.0]))],
        np.array([60_000]),
        60_000,
    )
    sub = SubqueryExpr(NumberLiteral(1.0), 60_000, pos=PosRange(5, 15))
    ctx = EvalContext(rv.ends.copy(), query="rate(foo[1m:10s])")
    FUNCTIONS["rate"](Call("rate", (sub,)), [rv], ctx)
    assert ctx.infos[0].endswith('"foo" (1:1)')


def test_every_step_at_once_and_names_dropped() -> None:
    ts = np.arange(0, 121_000, 10_000, dtype=np.int64)
    vs = ts / 1000.0  # 1 per second
    rv = RangeVector(
        [(("__name__", "a_total"),), (("__name__", "b_total"),)],
        [(ts, vs), (ts[:2], vs[:2])],
        np.array([30_000, 60_000, 120_000, 200_000], dtype=np.int64),
        30_000,
    )
    call = Call("rate", (MatrixSelector(VectorSelector("a_total", ()), 30_000),))
    out = FUNCTIONS["rate"](call, [rv], EvalContext(rv.ends.copy()))
    assert isinstance(out, Vector)
    assert out.present.tolist() == [[True, True, True, False], [False, False, False, False]]
    assert np.allclose(out.values[0, :3], 1.0)
    assert out.drop_name is not None and out.drop_name.tolist() == [True, True]
