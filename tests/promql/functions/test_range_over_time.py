"""The *_over_time family on hand-built windows: Kahan sums, the avg overflow fallback, NaN
handling, quantile annotations, absent_over_time's labels and which outputs keep the name."""

from __future__ import annotations

import math

import numpy as np
import pytest

from heron.model import Matcher, MatchOp
from heron.promql.functions import FUNCTIONS
from heron.promql.syntax.ast import Call, MatrixSelector, NumberLiteral, SubqueryExpr, VectorSelector
from heron.promql.syntax.errors import PosRange
from heron.promql.value import EvalContext, RangeVector, Scalar, Vector

NAN = float("nan")


def window(values: list[float], step_s: float = 10) -> RangeVector:
    """One series whose samples all fall in the single window (0, len * step]."""
    ts = (np.arange(1, len(values) + 1) * step_s * 1000).astype(np.int64)
    end = int(len(values) * step_s * 1000)
    return RangeVector(
        [(("__name__", "m"),)], [(ts, np.asarray(values, dtype=np.float64))], np.array([end]), end
    )


def one(func: str, values: list[float], *extra: float, query: str = "") -> tuple[float | None, EvalContext]:
    rv = window(values)
    call = Call(func, (MatrixSelector(VectorSelector("m", ()), rv.range_ms),))
    args: list = [rv]  # type: ignore[type-arg]
    if func == "quantile_over_time":
        call = Call(func, (NumberLiteral(extra[0], pos=PosRange(19, 22)), call.args[0]))
        args = [Scalar(np.array([extra[0]])), rv]
    ctx = EvalContext(rv.ends.copy(), query=query)
    out = FUNCTIONS[func](call, args, ctx)
    assert isinstance(out, Vector)
    return (float(out.values[0, 0]) if out.present[0, 0] else None), ctx


def test_kahan_sum_keeps_small_values_beside_huge_ones() -> None:
    # From Prometheus' functions.test: 1, 1e100, 1, -1e100 sums to 2 (plain summing gives 0).
    assert one("sum_over_time", [1, 1e100, 1, -1e100])[0] == 2.0
    assert one("avg_over_time", [1, 1e100, 1, -1e100])[0] == 0.5


def test_avg_switches_to_an_incremental_mean_when_the_sum_overflows() -> None:
    # 1e308 + 1e308 overflows; the incremental mean goes on from 1e308: (1e308 + 1e308 - 1e308) / 3.
    value = one("avg_over_time", [1e308, 1e308, -1e308])[0]
    assert value == pytest.approx(1e308 / 3, rel=1e-12)
    assert one("sum_over_time", [1e308, 1e308, -1e308])[0] == math.inf


def test_repeated_values_average_exactly() -> None:
    # Prometheus' functions.test relies on avg_over_time(52 x n) == 52 exactly.
    for n in (10, 11, 12, 13):
        assert one("avg_over_time", [52.0] * n)[0] == 52.0


def test_variance_count_first_last_present() -> None:
    assert one("stdvar_over_time", [1, 2, 3, 4])[0] == pytest.approx(1.25)
    assert one("stddev_over_time", [1, 2, 3, 4])[0] == pytest.approx(math.sqrt(1.25))
    assert one("count_over_time", [1, 2, 3, 4])[0] == 4.0
    assert one("first_over_time", [7, 2, 3])[0] == 7.0
    assert one("last_over_time", [7, 2, 3])[0] == 3.0
    assert one("present_over_time", [NAN])[0] == 1.0
    assert one("ts_of_first_over_time", [7, 2, 3])[0] == 10.0
    assert one("ts_of_last_over_time", [7, 2, 3])[0] == 30.0


def test_min_max_ignore_nan_unless_all_nan() -> None:
    assert one("max_over_time", [NAN, 3, 1])[0] == 3.0
    assert one("min_over_time", [NAN, 3, 1])[0] == 1.0
    assert math.isnan(one("max_over_time", [NAN, NAN])[0] or 0.0)
    # ts_of_max takes the last sample holding the maximum; NaN never wins over a number.
    assert one("ts_of_max_over_time", [5, 5, 1])[0] == 20.0
    assert one("ts_of_min_over_time", [1, 5, 1, NAN])[0] == 30.0
    assert one("ts_of_max_over_time", [NAN, NAN])[0] == 20.0


def test_quantile_interpolates_and_orders_nan_first() -> None:
    assert one("quantile_over_time", [4, 1, 3, 2], 0.5)[0] == 2.5
    assert one("quantile_over_time", [4, 1, 3, 2], 0.0)[0] == 1.0
    assert math.isnan(one("quantile_over_time", [NAN, 1, 2], 0.0)[0] or 0.0)
    assert one("quantile_over_time", [NAN, 1, 2], 1.0)[0] == 2.0


def test_quantile_out_of_range_warns_and_returns_infinities() -> None:
    query = "quantile_over_time(1.5, m[30s])"
    value, ctx = one("quantile_over_time", [1, 2, 3], 1.5, query=query)
    assert value == math.inf
    assert ctx.warnings == ["PromQL warning: quantile value should be between 0 and 1, got 1.5 (1:20)"]
    value, ctx = one("quantile_over_time", [1, 2, 3], -1, query=query)
    assert value == -math.inf
    assert ctx.warnings[0].startswith("PromQL warning: quantile value should be between 0 and 1, got -1 ")
    value, ctx = one("quantile_over_time", [1, 2, 3], NAN, query=query)
    assert value is not None and math.isnan(value)
    assert "got NaN" in ctx.warnings[0]


def test_mad_is_the_median_of_deviations() -> None:
    # median 3; deviations 2, 1, 0, 1, 97; their median 1.
    assert one("mad_over_time", [1, 2, 3, 4, 100])[0] == 1.0
    assert math.isnan(one("mad_over_time", [1, NAN, 3])[0] or 0.0)


def test_last_and_first_keep_the_name_the_rest_drop_it() -> None:
    rv = window([1, 2])
    call = Call("x", (MatrixSelector(VectorSelector("m", ()), rv.range_ms),))
    for func in ("last_over_time", "first_over_time"):
        out = FUNCTIONS[func](call, [rv], EvalContext(rv.ends.copy()))
        assert isinstance(out, Vector) and (out.drop_name is None or not out.drop_name.any())
    flagged = RangeVector(rv.labels, rv.samples, rv.ends, rv.range_ms, np.array([True]))
    out = FUNCTIONS["last_over_time"](call, [flagged], EvalContext(rv.ends.copy()))
    assert isinstance(out, Vector) and out.drop_name is not None and out.drop_name.tolist() == [True]
    for func in ("sum_over_time", "ts_of_last_over_time", "present_over_time"):
        out = FUNCTIONS[func](call, [rv], EvalContext(rv.ends.copy()))
        assert isinstance(out, Vector) and out.drop_name is not None and out.drop_name.tolist() == [True]


def test_absent_over_time_labels_and_steps() -> None:
    matchers = (
        Matcher("__name__", MatchOp.EQ, "m"),
        Matcher("job", MatchOp.EQ, "a"),
        Matcher("job", MatchOp.EQ, "b"),
        Matcher("env", MatchOp.EQ, "x"),
        Matcher("inst", MatchOp.RE, "y"),
    )
    ts = np.array([10_000, 20_000], dtype=np.int64)
    rv = RangeVector(
        [(("__name__", "m"),)], [(ts, np.array([1.0, 2.0]))], np.array([20_000, 60_000, 100_000]), 30_000
    )
    call = Call("absent_over_time", (MatrixSelector(VectorSelector("m", matchers), 30_000),))
    out = FUNCTIONS["absent_over_time"](call, [rv], EvalContext(rv.ends.copy()))
    assert isinstance(out, Vector)
    assert out.labels == [(("env", "x"),)]
    assert out.present.tolist() == [[False, True, True]]
    assert out.values[0, 1:].tolist() == [1.0, 1.0]
    # Every step covered: no series at all.
    covered = RangeVector(rv.labels, rv.samples, np.array([20_000]), 30_000)
    assert len(FUNCTIONS["absent_over_time"](call, [covered], EvalContext(covered.ends.copy()))) == 0  # type: ignore[arg-type]
    # No input series: absent everywhere; a subquery argument gives no labels.
    empty = RangeVector([], [], np.array([20_000, 40_000]), 30_000)
    sub = Call("absent_over_time", (SubqueryExpr(NumberLiteral(1.0), 30_000),))
    out = FUNCTIONS["absent_over_time"](sub, [empty], EvalContext(empty.ends.copy()))
    assert isinstance(out, Vector) and out.labels == [()] and out.present.tolist() == [[True, True]]


def test_a_window_with_its_staleness_marker_removed() -> None:
    # The selector hands over samples with staleness markers already removed: a series that
    # went stale at 30 s and came back at 50 s is just samples at 10, 20, 50, 60 s.
    ts = np.array([10_000, 20_000, 50_000, 60_000], dtype=np.int64)
    vs = np.array([1.0, 2.0, 4.0, 5.0])
    rv = RangeVector([(("__name__", "m"),)], [(ts, vs)], np.array([40_000, 60_000]), 30_000)
    call = Call("x", (MatrixSelector(VectorSelector("m", ()), 30_000),))
    counts = FUNCTIONS["count_over_time"](call, [rv], EvalContext(rv.ends.copy()))
    assert isinstance(counts, Vector)
    # (10, 40] holds only 20 s (10 s is on the open edge); (30, 60] holds 50 and 60 s.
    assert counts.values.tolist() == [[1.0, 2.0]]
    last = FUNCTIONS["last_over_time"](call, [rv], EvalContext(rv.ends.copy()))
    assert isinstance(last, Vector) and last.values.tolist() == [[2.0, 5.0]]
