"""PromQL's calendar functions: `year`, `month`, `day_of_month`, `day_of_year`, `day_of_week`,
`days_in_month`, `hour`, `minute`, and `time()`.

Each reads its argument's values as Unix seconds (truncated to whole seconds, as Go's
`int64(f)` does) in UTC, or, with no argument, the evaluation time of every step (as
`vector(time())` would, with the empty label set). The calendar arithmetic is numpy's
proleptic-Gregorian `datetime64`, which floors before 1970 as Go's `time` does, so a whole
(series x steps) matrix is converted at once.

A value Go cannot turn into an int64 (NaN, an infinity, beyond +-2^63) has no defined
calendar date (Go's own answer differs between CPU architectures); it yields NaN.
"""

from __future__ import annotations

from functools import cached_property
from typing import Callable

import numpy as np

from heron.promql.syntax.ast import Call
from heron.promql.value import EvalContext, Scalar, Value, Vector

__all__ = ["DATE_FUNCTIONS"]

_SECONDS_PER_DAY = 86_400
_INT64_LIMIT = float(2**63)


class _Civil:
    """The UTC calendar fields of an int64 array of Unix seconds, each derived on demand (the
    hour needs no calendar; the month needs datetime64 days)."""

    def __init__(self, seconds: np.ndarray) -> None:
        self.seconds = seconds

    @cached_property
    def days(self) -> np.ndarray:
        return np.floor_divide(self.seconds, _SECONDS_PER_DAY)

    @cached_property
    def _day(self) -> np.ndarray:
        return self.days.astype("datetime64[D]")

    @cached_property
    def year_start(self) -> np.ndarray:
        return self._day.astype("datetime64[Y]")

    @cached_property
    def month_start(self) -> np.ndarray:
        return self._day.astype("datetime64[M]")

    def year(self) -> np.ndarray:
        return self.year_start.astype(np.int64) + 1970

    def month(self) -> np.ndarray:
        return np.mod(self.month_start.astype(np.int64), 12) + 1

    def day_of_month(self) -> np.ndarray:
        return (self._day - self.month_start.astype("datetime64[D]")).astype(np.int64) + 1

    def day_of_year(self) -> np.ndarray:
        return (self._day - self.year_start.astype("datetime64[D]")).astype(np.int64) + 1

    def day_of_week(self) -> np.ndarray:
        # 1970-01-01 was a Thursday; Go numbers Sunday 0.
        return np.mod(self.days + 4, 7)

    def days_in_month(self) -> np.ndarray:
        start = self.month_start
        return ((start + 1).astype("datetime64[D]") - start.astype("datetime64[D]")).astype(np.int64)

    def hour(self) -> np.ndarray:
        return np.mod(self.seconds, _SECONDS_PER_DAY) // 3600

    def minute(self) -> np.ndarray:
        return np.mod(self.seconds, 3600) // 60


Field = Callable[[_Civil], np.ndarray]


def _calendar(values: np.ndarray, field: Field) -> np.ndarray:
    """`field` of float Unix seconds, NaN where Go's int64 conversion is undefined."""
    with np.errstate(invalid="ignore"):
        valid = np.abs(values) < _INT64_LIMIT  # False for NaN and the infinities too
    # astype truncates toward zero, as Go's int64(f) does.
    seconds = np.where(valid, values, 0.0).astype(np.int64)
    out = field(_Civil(seconds)).astype(np.float64)
    return np.where(valid, out, np.nan)


def _date_function(field: Field) -> Callable[[Call, list[Value], EvalContext], Value]:
    def impl(call: Call, args: list[Value], ctx: EvalContext) -> Value:
        if not args:
            times = np.asarray(ctx.times, dtype=np.int64)
            # Go: time.Unix(ts/1000, 0), an integer division that truncates toward zero.
            seconds = (np.abs(times) // 1000) * np.sign(times)
            values = field(_Civil(seconds)).astype(np.float64)[None, :]
            return Vector([()], values, np.ones(values.shape, dtype=bool))
        vec = args[0]
        assert isinstance(vec, Vector)
        return Vector(
            list(vec.labels),
            _calendar(vec.values, field),
            vec.present,
            np.ones(len(vec), dtype=bool),
        )

    return impl


def _time(call: Call, args: list[Value], ctx: EvalContext) -> Value:
    return Scalar(np.asarray(ctx.times, dtype=np.int64).astype(np.float64) / 1000)


DATE_FUNCTIONS: dict[str, Callable[[Call, list[Value], EvalContext], Value]] = {
    "time": _time,
    "year": _date_function(_Civil.year),
    "month": _date_function(_Civil.month),
    "day_of_month": _date_function(_Civil.day_of_month),
    "day_of_year": _date_function(_Civil.day_of_year),
    "day_of_week": _date_function(_Civil.day_of_week),
    "days_in_month": _date_function(_Civil.days_in_month),
    "hour": _date_function(_Civil.hour),
    "minute": _date_function(_Civil.minute),
}
