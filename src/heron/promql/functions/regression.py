"""Trend functions over a window: deriv, predict_linear, double_exponential_smoothing.

`deriv` and `predict_linear` are Prometheus' `linearRegression`: a least-squares line through
the window's samples with Kahan-compensated sums of x, y, xy and x², x being seconds from an
intercept time (the window's first sample for `deriv`, the evaluation time for
`predict_linear`, which Prometheus chose to keep the sums small). A constant window has slope
0, or NaN when the constant is infinite. `double_exponential_smoothing` is Holt's linear
method as Prometheus runs it. All three are sequential per window, so they walk the windows
one sample position at a time (`windows.positions`), vectorised over every window at once.
"""

from __future__ import annotations

import numpy as np

from heron.promql.functions.rates import range_arg
from heron.promql.functions.windows import Windows, go_float, kahan_rows, positions, result, rows, step_scalar
from heron.promql.syntax.ast import Call
from heron.promql.value import EvalContext, ExecutionError, RangeVector, Scalar, Value, Vector

__all__ = ["REGRESSION_FUNCTIONS", "linear_regression"]


def linear_regression(
    w: Windows, ok: np.ndarray, intercept_ms: np.ndarray, ctx: EvalContext
) -> tuple[np.ndarray, np.ndarray]:
    """Slope (per second) and intercept at `intercept_ms` of every window selected by `ok`.

    Each of Prometheus' four Kahan sums is `kahan_rows` over the windows' rows; a window whose
    values are all equal has slope 0 (NaN if the value is infinite), as Prometheus decides
    before dividing."""
    slope, intercept = np.zeros(w.shape), np.zeros(w.shape)
    flat_slope, flat_intercept = slope.reshape(-1), intercept.reshape(-1)
    at = np.ascontiguousarray(np.broadcast_to(intercept_ms, w.shape)).reshape(-1)
    for cells, y, inside, n, index in rows(w, ok, ctx):
        x = np.where(inside, (w.t[index] - at[cells, None]).astype(np.float64) / 1e3, 0.0)
        sums = []
        for part in (x, y, x * y, x * x):
            total, comp, _ = kahan_rows(part)
            sums.append(total + comp)
        sum_x, sum_y, sum_xy, sum_x2 = sums
        count = n.astype(np.float64)
        cov_xy = sum_xy - sum_x * sum_y / count
        var_x = sum_x2 - sum_x * sum_x / count
        row_slope = cov_xy / var_x
        row_intercept = sum_y / count - row_slope * sum_x / count
        first = y[:, 0]
        constant = ~(inside & (y != first[:, None])).any(axis=1)
        infinite = np.isinf(first)
        flat_slope[cells] = np.where(constant, np.where(infinite, np.nan, 0.0), row_slope)
        flat_intercept[cells] = np.where(constant, np.where(infinite, np.nan, first), row_intercept)
    return slope, intercept


def deriv(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    """The per-second slope of the window's least-squares line."""
    rv = range_arg(args)
    w = Windows.of(rv)
    ok = w.count >= 2
    slope, _ = linear_regression(w, ok, w.t_at(w.lo, ok), ctx)
    return result(rv, slope, ok)


def predict_linear(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    """The window's least-squares line evaluated `t` seconds after the evaluation time."""
    rv = range_arg(args)
    w = Windows.of(rv)
    ok = w.count >= 2
    duration = step_scalar(_scalar_after(args, rv, 0), w.shape)
    times = np.broadcast_to(np.asarray(ctx.times, dtype=np.int64), w.shape)
    slope, intercept = linear_regression(w, ok, times, ctx)
    with np.errstate(all="ignore"):
        return result(rv, slope * duration + intercept, ok)


def _scalar_after(args: list[Value], rv: RangeVector, index: int) -> Scalar | Vector:
    """The `index`-th non-range argument (the scalars of predict_linear and friends)."""
    rest = [a for a in args if a is not rv]
    arg = rest[index]
    if not isinstance(arg, (Scalar, Vector)):
        raise TypeError(f"expected a scalar argument, got {type(arg).__name__}")
    return arg


def double_exponential_smoothing(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    """Holt's double exponential smoothing of the window (`sf` smoothing, `tf` trend factor)."""
    rv = range_arg(args)
    w = Windows.of(rv)
    sf = step_scalar(_scalar_after(args, rv, 0), w.shape)
    tf = step_scalar(_scalar_after(args, rv, 1), w.shape)
    # Prometheus checks the factors wherever it calls the function: at every (series, step)
    # whose window holds a sample; the first failing one (series by series) is reported.
    used = w.count >= 1
    with np.errstate(invalid="ignore"):
        bad_sf = used & ((sf <= 0) | (sf >= 1))
        bad_tf = used & ((tf <= 0) | (tf >= 1))
    bad = bad_sf | bad_tf
    if bad.any():
        at = np.unravel_index(int(np.argmax(bad)), bad.shape)
        if bad_sf[at]:
            raise ExecutionError(
                f"invalid smoothing factor. Expected: 0 < sf < 1, got: {go_float(sf[at], 'f')}"
            )
        raise ExecutionError(f"invalid trend factor. Expected: 0 < tf < 1, got: {go_float(tf[at], 'f')}")
    ok = w.count >= 2
    s0 = np.zeros(w.shape)
    s1 = w.at(w.lo, ok)
    b = w.at(w.lo + 1, ok) - s1
    with np.errstate(all="ignore"):
        for k, active, value in positions(w, ctx, start=1):
            x = sf * value
            if k > 1:
                b = np.where(active, tf * (s1 - s0) + (1 - tf) * b, b)
            y = (1 - sf) * (s1 + b)
            s0, s1 = np.where(active, s1, s0), np.where(active, x + y, s1)
    return result(rv, s1, ok)


REGRESSION_FUNCTIONS = {
    "deriv": deriv,
    "predict_linear": predict_linear,
    "double_exponential_smoothing": double_exponential_smoothing,
}
