"""PromQL's instant-vector functions: math, dates, labels and sorting (each in its own module),
and here the conversions and presence tests (`vector`, `scalar`, `absent`, `timestamp`) and
the query's own bounds (`start`, `end`, `range`, `step`).

Every implementation follows `promql/functions.go` of Prometheus 3 and works over the whole
(series x steps) matrix at once. Name dropping follows Prometheus 3: `timestamp` and the math
and date functions flag `__name__` for removal, `sort*` and `label_*` keep each series' flag,
`vector`, `absent` and the argument-less date functions make series without a name.

Left out: `info` (experimental; it needs native metadata series) and `start_timestamp` (it
needs stored start timestamps, which Heron's storage does not keep).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from heron.model import Labels, MatchOp
from heron.promql.functions.dates import DATE_FUNCTIONS
from heron.promql.functions.labels import LABEL_FUNCTIONS
from heron.promql.functions.math import MATH_FUNCTIONS
from heron.promql.functions.sorting import SORT_FUNCTIONS
from heron.promql.syntax.ast import Call, Expr, MatrixSelector, ParenExpr, VectorSelector
from heron.promql.value import EvalContext, Scalar, Value, Vector

__all__ = ["INSTANT_FUNCTIONS", "absent_labels"]


def absent_labels(expr: Expr) -> Labels:
    """Prometheus' `createLabelsForAbsentFunction`: the labels `absent(expr)` and
    `absent_over_time(expr)` give their series, from a selector's equality matchers.

    A label matched for equality once is kept; matched again, or by any other matcher, it is
    removed (so `x{job="a",job="b"}` gives no `job`); `__name__` never is one; an empty value
    is no label. Anything but a (parenthesised) selector gives the empty set.
    """
    while isinstance(expr, ParenExpr):
        expr = expr.expr
    if isinstance(expr, MatrixSelector):
        expr = expr.vector
    if not isinstance(expr, VectorSelector):
        return ()
    out: dict[str, str] = {}
    seen: set[str] = set()
    for m in expr.matchers:
        if m.name == "__name__":
            continue
        if m.op is MatchOp.EQ and m.name not in seen:
            if m.value:
                out[m.name] = m.value
            else:
                out.pop(m.name, None)
            seen.add(m.name)
        else:
            out.pop(m.name, None)
    return tuple(sorted(out.items()))


def _vector(call: Call, args: list[Value], ctx: EvalContext) -> Value:
    """`vector(s)`: one series with no labels holding the scalar at every step."""
    arg = args[0]
    assert isinstance(arg, Scalar)
    values = np.asarray(arg.values, dtype=np.float64)[None, :].copy()
    return Vector([()], values, np.ones(values.shape, dtype=bool))


def _scalar(call: Call, args: list[Value], ctx: EvalContext) -> Value:
    """`scalar(v)`: the value of the only series present at a step, NaN at a step with none or
    several."""
    vec = args[0]
    assert isinstance(vec, Vector)
    n = len(ctx.times)
    if len(vec) == 0:
        return Scalar(np.full(n, np.nan))
    single = vec.present.sum(axis=0) == 1
    picked = np.where(vec.present, vec.values, 0.0).sum(axis=0)
    return Scalar(np.where(single, picked, np.nan))


def _absent(call: Call, args: list[Value], ctx: EvalContext) -> Value:
    """`absent(v)`: 1 at the steps where `v` has no sample, labelled from its selector."""
    vec = args[0]
    assert isinstance(vec, Vector)
    n = len(ctx.times)
    missing = ~vec.present.any(axis=0) if len(vec) else np.ones(n, dtype=bool)
    if not bool(missing.any()):
        return Vector.empty(n)
    return Vector([absent_labels(call.args[0])], np.ones((1, n)), missing[None, :].copy())


def _timestamp(call: Call, args: list[Value], ctx: EvalContext) -> Value:
    """`timestamp(v)`: each sample's own time in seconds when `v` is a selector (the engine
    hands its sample times over in `sample_ts`), else the step time."""
    vec = args[0]
    assert isinstance(vec, Vector)
    if vec.sample_ts is not None:
        ts = np.asarray(vec.sample_ts, dtype=np.int64)
    else:
        ts = np.broadcast_to(np.asarray(ctx.times, dtype=np.int64)[None, :], vec.values.shape)
    return Vector(
        list(vec.labels),
        ts.astype(np.float64) / 1000,
        vec.present,
        np.ones(len(vec), dtype=bool),
    )


def _query_bounds(ctx: EvalContext) -> tuple[int, int, int]:
    """The query's (start, end, step) in ms: the root context's `query_bounds`, or its times."""
    root = ctx._root()
    if root.query_bounds is not None:
        return root.query_bounds
    times = np.asarray(root.times, dtype=np.int64)
    if times.size == 0:
        return 0, 0, 0
    step = int(times[1] - times[0]) if times.size > 1 else 0
    return int(times[0]), int(times[-1]), step


def _query_constant(which: str) -> Callable[[Call, list[Value], EvalContext], Value]:
    """`start()`, `end()`, `range()`, `step()` (experimental): the query's own bounds in seconds,
    the same at every step and inside subqueries (Prometheus folds them into numbers before
    evaluating); `step()` is 0 for an instant query."""

    def impl(call: Call, args: list[Value], ctx: EvalContext) -> Value:
        start, end, step = _query_bounds(ctx)
        seconds = {
            "start": start / 1000,
            "end": end / 1000,
            "range": (end - start) / 1000,
            "step": step / 1000 if start != end else 0.0,
        }[which]
        return Scalar(np.full(len(ctx.times), seconds))

    return impl


INSTANT_FUNCTIONS: dict[str, Callable[[Call, list[Value], EvalContext], Value]] = {
    **MATH_FUNCTIONS,
    **DATE_FUNCTIONS,
    **LABEL_FUNCTIONS,
    **SORT_FUNCTIONS,
    "vector": _vector,
    "scalar": _scalar,
    "absent": _absent,
    "timestamp": _timestamp,
    "start": _query_constant("start"),
    "end": _query_constant("end"),
    "range": _query_constant("range"),
    "step": _query_constant("step"),
}
