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
from heron.promql.functions.windows import Windows, go_float, kahan_inc, positions, result, step_scalar
from heron.promql.syntax.ast import Call
from heron.promql.value import EvalContext, ExecutionError, RangeVector, Scalar, Value, Vector

__all__ = ["REGRESSION_FUNCTIONS", "linear_regression"]


def linear_regression(
    w: Windows, intercept_ms: np.ndarray, ctx: EvalContext
) -> tuple[np.ndarray, np.ndarray]:
    """Slope (per second) and intercept at `intercept_ms` of every window (meaningful where the
    window holds two or more samples)."""
    shape = w.shape
    n = np.zeros(shape)
    sums = {name: (np.zeros(shape), np.zeros(shape)) for name in ("x", "y", "xy", "x2")}
    ok = w.count >= 1
    init_y = w.at(w.lo, ok)
    const_y = np.ones(shape, dtype=bool)
    with np.errstate(all="ignore"):
        for k, active, y in positions(w, ctx):
            if k > 0:
                const_y &= ~(active & (y != init_y))
            x = (w.t_at(w.lo + k, active) - intercept_ms).astype(np.float64) / 1e3
            n = np.where(active, n + 1.0, n)
            for name, inc in (("x", x), ("y", y), ("xy", x * y), ("x2", x * x)):
                total, comp = sums[name]
                new_total, new_comp = kahan_inc(inc, total, comp)
                sums[name] = (np.where(active, new_total, total), np.where(active, new_comp, comp))
        sum_x, sum_y, sum_xy, sum_x2 = (total + comp for total, comp in sums.values())
        cov_xy = sum_xy - sum_x * sum_y / n
        var_x = sum_x2 - sum_x * sum_x / n
        slope = cov_xy / var_x
        intercept = sum_y / n - slope * sum_x / n
        infinite = np.isinf(init_y)
        slope = np.where(const_y, np.where(infinite, np.nan, 0.0), slope)
        intercept = np.where(const_y, np.where(infinite, np.nan, init_y), intercept)
    return slope, intercept


def deriv(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    """The per-second slope of the window's least-squares line."""
    rv = range_arg(args)
    w = Windows.of(rv)
    ok = w.count >= 2
    slope, _ = linear_regression(w, w.t_at(w.lo, ok), ctx)
    return result(rv, slope, ok)


def predict_linear(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    """The window's least-squares line evaluated `t` seconds after the evaluation time."""
    rv = range_arg(args)
    w = Windows.of(rv)
    ok = w.count >= 2
    duration = step_scalar(_scalar_after(args, rv, 0), w.shape)
    times = np.broadcast_to(np.asarray(ctx.times, dtype=np.int64), w.shape)
    slope, intercept = linear_regression(w, times, ctx)
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
