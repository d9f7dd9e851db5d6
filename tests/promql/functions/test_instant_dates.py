"""Calendar functions and time(): UTC, truncated seconds, vectorised over steps."""

from __future__ import annotations

import calendar
import datetime as dt
import math

import numpy as np
import pytest

from heron.promql.functions import FUNCTIONS
from heron.promql.syntax.ast import Call
from heron.promql.value import EvalContext, Scalar, Vector


def ctx_at(*seconds: float) -> EvalContext:
    return EvalContext(np.asarray([int(s * 1000) for s in seconds], dtype=np.int64))


def of(name: str, *values: float) -> np.ndarray:
    """`name(v)` where v holds one series per value."""
    arr = np.asarray([[v] for v in values], dtype=np.float64)
    labels = [(("__name__", "t"), ("i", str(i))) for i in range(len(values))]
    v = Vector(labels, arr, np.ones(arr.shape, dtype=bool))
    out = FUNCTIONS[name](Call(name, ()), [v], ctx_at(0))
    assert isinstance(out, Vector)
    assert out.drop_name is not None and out.drop_name.all()
    return out.values[:, 0]


def python_fields(seconds: int) -> dict[str, int]:
    t = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)
    return {
        "year": t.year,
        "month": t.month,
        "day_of_month": t.day,
        "day_of_year": t.timetuple().tm_yday,
        "day_of_week": (t.weekday() + 1) % 7,
        "days_in_month": calendar.monthrange(t.year, t.month)[1],
        "hour": t.hour,
        "minute": t.minute,
    }


SAMPLES = [
    0,
    1136239445,
    1230767999,
    1230768000,
    1456790399,
    1456790400,
    1483191420,
    1672493820,
    -1,
    -86401,
    -2208988800,
    951782400,
    4102444799,
    253402300799,
]


@pytest.mark.parametrize("name", sorted(python_fields(0)))
def test_fields_match_pythons_calendar(name: str) -> None:
    got = of(name, *SAMPLES)
    want = [python_fields(s)[name] for s in SAMPLES]
    assert got.tolist() == want


def test_prometheus_cases() -> None:
    assert of("year", 1136239445).tolist() == [2006]
    assert of("month", 1136239445).tolist() == [1]
    assert of("day_of_month", 1136239445).tolist() == [2]
    assert of("day_of_year", 1136239445).tolist() == [2]
    assert of("day_of_week", 1136239445).tolist() == [1]
    assert of("hour", 1136239445).tolist() == [22]
    assert of("minute", 1136239445).tolist() == [4]
    assert of("days_in_month", 1454284800, 1485907200).tolist() == [29, 28]


def test_fractions_truncate_toward_zero() -> None:
    # int64(-0.5) is 0 in Go: 1970-01-01, not 1969-12-31.
    assert of("year", -0.5, 59.9).tolist() == [1970, 1970]
    assert of("minute", 59.9, 60.0).tolist() == [0, 1]


def test_undefined_seconds_are_nan() -> None:
    got = of("year", math.nan, math.inf, -math.inf, 1e300)
    assert np.isnan(got).all()


def test_no_argument_uses_each_step_time() -> None:
    ctx = ctx_at(0, 1136239445, 1136239445.999, -0.5)
    out = FUNCTIONS["hour"](Call("hour", ()), [], ctx)
    assert isinstance(out, Vector)
    assert out.labels == [()] and out.present.all()
    assert out.values.tolist() == [[0, 22, 22, 0]]
    assert out.drop_name is None or not out.drop_name.any()


def test_time_is_step_seconds() -> None:
    out = FUNCTIONS["time"](Call("time", ()), [], ctx_at(0, 5, 3600.5))
    assert isinstance(out, Scalar)
    assert out.values.tolist() == [0, 5, 3600.5]


def test_dates_over_a_matrix_keep_presence() -> None:
    arr = np.array([[0.0, 1136239445.0], [86400.0 * 31, 0.0]])
    present = np.array([[True, False], [True, True]])
    v = Vector([(("a", "1"),), (("a", "2"),)], arr, present)
    out = FUNCTIONS["month"](Call("month", ()), [v], ctx_at(0, 1))
    assert out.present.tolist() == present.tolist()
    assert out.values[:, 0].tolist() == [1, 2] and out.values[1, 1] == 1
