"""The signature of every PromQL function, transcribed from Prometheus' `parser/functions.go`.

The parser checks arity and argument types against this table and sets `Call.return_type`
from it; the engine's `FUNCTIONS` table implements the names. Native-histogram-only functions
are listed (marked `native_histogram_only`) so queries using them parse and the engine can
give its own answer; `experimental` ones are those Prometheus gates behind
`--enable-feature=promql-experimental-functions` (its test suite enables them, and so does Heron).
"""

from __future__ import annotations

from dataclasses import dataclass

from heron.promql.syntax.ast import ValueType

__all__ = ["FunctionSignature", "SIGNATURES"]

V = ValueType


@dataclass(frozen=True)
class FunctionSignature:
    """`variadic`: 0 = exactly `arg_types`; n > 0 = the last type may repeat so up to n more
    (i.e. between len-1 and len-1+n arguments); -1 = the last type repeats without limit."""

    name: str
    arg_types: tuple[ValueType, ...]
    return_type: ValueType
    variadic: int = 0
    experimental: bool = False
    native_histogram_only: bool = False

    @property
    def min_args(self) -> int:
        return len(self.arg_types) - (1 if self.variadic else 0)

    @property
    def max_args(self) -> int | None:
        """None when unbounded."""
        if self.variadic < 0:
            return None
        if self.variadic == 0:
            return len(self.arg_types)
        return len(self.arg_types) - 1 + self.variadic

    def arg_type(self, i: int) -> ValueType:
        """The expected type of argument i (repeating the last for variadic functions)."""
        return self.arg_types[min(i, len(self.arg_types) - 1)]


def _sig(
    name: str,
    arg_types: tuple[ValueType, ...],
    return_type: ValueType,
    *,
    variadic: int = 0,
    experimental: bool = False,
    native_histogram_only: bool = False,
) -> FunctionSignature:
    return FunctionSignature(name, arg_types, return_type, variadic, experimental, native_histogram_only)


_ALL = (
    _sig("abs", (V.VECTOR,), V.VECTOR),
    _sig("absent", (V.VECTOR,), V.VECTOR),
    _sig("absent_over_time", (V.MATRIX,), V.VECTOR),
    _sig("acos", (V.VECTOR,), V.VECTOR),
    _sig("acosh", (V.VECTOR,), V.VECTOR),
    _sig("asin", (V.VECTOR,), V.VECTOR),
    _sig("asinh", (V.VECTOR,), V.VECTOR),
    _sig("atan", (V.VECTOR,), V.VECTOR),
    _sig("atanh", (V.VECTOR,), V.VECTOR),
    _sig("avg_over_time", (V.MATRIX,), V.VECTOR),
    _sig("ceil", (V.VECTOR,), V.VECTOR),
    _sig("changes", (V.MATRIX,), V.VECTOR),
    _sig("clamp", (V.VECTOR, V.SCALAR, V.SCALAR), V.VECTOR),
    _sig("clamp_max", (V.VECTOR, V.SCALAR), V.VECTOR),
    _sig("clamp_min", (V.VECTOR, V.SCALAR), V.VECTOR),
    _sig("cos", (V.VECTOR,), V.VECTOR),
    _sig("cosh", (V.VECTOR,), V.VECTOR),
    _sig("count_over_time", (V.MATRIX,), V.VECTOR),
    _sig("day_of_month", (V.VECTOR,), V.VECTOR, variadic=1),
    _sig("day_of_week", (V.VECTOR,), V.VECTOR, variadic=1),
    _sig("day_of_year", (V.VECTOR,), V.VECTOR, variadic=1),
    _sig("days_in_month", (V.VECTOR,), V.VECTOR, variadic=1),
    _sig("deg", (V.VECTOR,), V.VECTOR),
    _sig("delta", (V.MATRIX,), V.VECTOR),
    _sig("deriv", (V.MATRIX,), V.VECTOR),
    _sig("double_exponential_smoothing", (V.MATRIX, V.SCALAR, V.SCALAR), V.VECTOR, experimental=True),
    _sig("end", (), V.SCALAR, experimental=True),
    _sig("exp", (V.VECTOR,), V.VECTOR),
    _sig("first_over_time", (V.MATRIX,), V.VECTOR),
    _sig("floor", (V.VECTOR,), V.VECTOR),
    _sig("histogram_avg", (V.VECTOR,), V.VECTOR, native_histogram_only=True),
    _sig("histogram_count", (V.VECTOR,), V.VECTOR, native_histogram_only=True),
    _sig("histogram_fraction", (V.SCALAR, V.SCALAR, V.VECTOR), V.VECTOR),
    _sig("histogram_quantile", (V.SCALAR, V.VECTOR), V.VECTOR),
    _sig(
        "histogram_quantiles",
        (V.VECTOR, V.STRING, V.SCALAR, V.SCALAR),
        V.VECTOR,
        variadic=9,
        experimental=True,
        native_histogram_only=True,
    ),
    _sig("histogram_stddev", (V.VECTOR,), V.VECTOR, native_histogram_only=True),
    _sig("histogram_stdvar", (V.VECTOR,), V.VECTOR, native_histogram_only=True),
    _sig("histogram_sum", (V.VECTOR,), V.VECTOR, native_histogram_only=True),
    _sig("hour", (V.VECTOR,), V.VECTOR, variadic=1),
    _sig("idelta", (V.MATRIX,), V.VECTOR),
    _sig("increase", (V.MATRIX,), V.VECTOR),
    _sig("info", (V.VECTOR, V.VECTOR), V.VECTOR, variadic=1, experimental=True),
    _sig("irate", (V.MATRIX,), V.VECTOR),
    _sig("label_join", (V.VECTOR, V.STRING, V.STRING, V.STRING), V.VECTOR, variadic=-1),
    _sig("label_replace", (V.VECTOR, V.STRING, V.STRING, V.STRING, V.STRING), V.VECTOR),
    _sig("last_over_time", (V.MATRIX,), V.VECTOR),
    _sig("ln", (V.VECTOR,), V.VECTOR),
    _sig("log10", (V.VECTOR,), V.VECTOR),
    _sig("log2", (V.VECTOR,), V.VECTOR),
    _sig("mad_over_time", (V.MATRIX,), V.VECTOR, experimental=True),
    _sig("max_of", (V.SCALAR, V.SCALAR), V.SCALAR, experimental=True),
    _sig("max_over_time", (V.MATRIX,), V.VECTOR),
    _sig("min_of", (V.SCALAR, V.SCALAR), V.SCALAR, experimental=True),
    _sig("min_over_time", (V.MATRIX,), V.VECTOR),
    _sig("minute", (V.VECTOR,), V.VECTOR, variadic=1),
    _sig("month", (V.VECTOR,), V.VECTOR, variadic=1),
    _sig("pi", (), V.SCALAR),
    _sig("predict_linear", (V.MATRIX, V.SCALAR), V.VECTOR),
    _sig("present_over_time", (V.MATRIX,), V.VECTOR),
    _sig("quantile_over_time", (V.SCALAR, V.MATRIX), V.VECTOR),
    _sig("rad", (V.VECTOR,), V.VECTOR),
    _sig("range", (), V.SCALAR, experimental=True),
    _sig("rate", (V.MATRIX,), V.VECTOR),
    _sig("resets", (V.MATRIX,), V.VECTOR),
    _sig("round", (V.VECTOR, V.SCALAR), V.VECTOR, variadic=1),
    _sig("scalar", (V.VECTOR,), V.SCALAR),
    _sig("sgn", (V.VECTOR,), V.VECTOR),
    _sig("sin", (V.VECTOR,), V.VECTOR),
    _sig("sinh", (V.VECTOR,), V.VECTOR),
    _sig("sort", (V.VECTOR,), V.VECTOR),
    _sig("sort_by_label", (V.VECTOR, V.STRING), V.VECTOR, variadic=-1, experimental=True),
    _sig("sort_by_label_desc", (V.VECTOR, V.STRING), V.VECTOR, variadic=-1, experimental=True),
    _sig("sort_desc", (V.VECTOR,), V.VECTOR),
    _sig("sqrt", (V.VECTOR,), V.VECTOR),
    _sig("start", (), V.SCALAR, experimental=True),
    _sig("start_timestamp", (V.VECTOR,), V.VECTOR, experimental=True),
    _sig("stddev_over_time", (V.MATRIX,), V.VECTOR),
    _sig("stdvar_over_time", (V.MATRIX,), V.VECTOR),
    _sig("step", (), V.SCALAR, experimental=True),
    _sig("sum_over_time", (V.MATRIX,), V.VECTOR),
    _sig("tan", (V.VECTOR,), V.VECTOR),
    _sig("tanh", (V.VECTOR,), V.VECTOR),
    _sig("time", (), V.SCALAR),
    _sig("timestamp", (V.VECTOR,), V.VECTOR),
    _sig("ts_of_first_over_time", (V.MATRIX,), V.VECTOR, experimental=True),
    _sig("ts_of_last_over_time", (V.MATRIX,), V.VECTOR, experimental=True),
    _sig("ts_of_max_over_time", (V.MATRIX,), V.VECTOR, experimental=True),
    _sig("ts_of_min_over_time", (V.MATRIX,), V.VECTOR, experimental=True),
    _sig("vector", (V.SCALAR,), V.VECTOR),
    _sig("year", (V.VECTOR,), V.VECTOR, variadic=1),
)

SIGNATURES: dict[str, FunctionSignature] = {s.name: s for s in _ALL}
