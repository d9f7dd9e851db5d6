"""PromQL's range functions: every function whose argument is a range vector (a matrix
selector or a subquery), float samples only, as Prometheus 3 computes them.

The implementations are split by what they compute: `rates` (rate, increase, delta, irate,
idelta, resets, changes), `regression` (deriv, predict_linear, double_exponential_smoothing)
and `over_time` (the `*_over_time` family). All share `windows`, which turns a `RangeVector`
into flat sample arrays and per-(series, step) window bounds. Experimental functions (behind a
feature flag in Prometheus) are listed in `EXPERIMENTAL_RANGE_FUNCTIONS`.
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np

from heron.promql.functions.over_time import EXPERIMENTAL, OVER_TIME_FUNCTIONS
from heron.promql.functions.rates import RATE_FUNCTIONS
from heron.promql.functions.regression import REGRESSION_FUNCTIONS
from heron.promql.syntax.ast import Call
from heron.promql.value import EvalContext, Value

__all__ = ["RANGE_FUNCTIONS", "EXPERIMENTAL_RANGE_FUNCTIONS"]

Impl = Callable[[Call, list[Value], EvalContext], Value]


def _ieee(fn: Impl) -> Impl:
    """Run `fn` with numpy's floating-point warnings off: PromQL arithmetic is IEEE 754 (Inf - Inf
    is NaN, 1e308 * 10 is +Inf) as in Go, and those results are answers, not errors."""

    @functools.wraps(fn)
    def run(call: Call, args: list[Value], ctx: EvalContext) -> Value:
        with np.errstate(all="ignore"):
            return fn(call, args, ctx)

    return run


RANGE_FUNCTIONS: dict[str, Impl] = {
    name: _ieee(fn) for name, fn in {**RATE_FUNCTIONS, **REGRESSION_FUNCTIONS, **OVER_TIME_FUNCTIONS}.items()
}

# Prometheus' experimental range functions (`--enable-feature=promql-experimental-functions`);
# double_exponential_smoothing is one too.
EXPERIMENTAL_RANGE_FUNCTIONS = EXPERIMENTAL | {"double_exponential_smoothing"}
