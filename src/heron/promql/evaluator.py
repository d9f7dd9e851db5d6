"""The tree walk: one PromQL expression evaluated at every step of an `EvalContext` at once.

Each node yields a whole value (`heron.promql.value`): a selector a (series x steps) matrix, a
binary operation one numpy expression over matched rows, a function or aggregation the
implementation from its table. A subquery evaluates its inner expression once, at the inner
steps Prometheus uses (multiples of its step, `subqueryTimeRange`), and hands the result on
as a `RangeVector`.

Memory accounting follows Prometheus' `currentSamples`: while a node is evaluated, its
children's values and its own result are held at once; once it returns, only its result is.
Each node's result is counted with `ctx.add_samples` (which raises TooManySamplesError past
`max_samples`) and its children's released.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from heron.promql import aggregate as aggregate_mod
from heron.promql.binary import binary_op, coalesce_rows
from heron.promql.functions import FUNCTIONS
from heron.promql.selectors import QueryTimes, SeriesCache, at_time, select_range, select_vector
from heron.promql.syntax.ast import (
    AggregateExpr,
    BinaryExpr,
    Call,
    Expr,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    StringLiteral,
    SubqueryExpr,
    UnaryExpr,
    VectorSelector,
)
from heron.promql.value import (
    EvalContext,
    ExecutionError,
    RangeVector,
    Scalar,
    String,
    TooManySamplesError,
    Value,
    Vector,
)

__all__ = ["Evaluator", "unwrap_parens", "subquery_times", "SORT_FUNCTIONS"]

SORT_FUNCTIONS = frozenset({"sort", "sort_desc", "sort_by_label", "sort_by_label_desc"})
# Functions whose vector argument keeps the samples' own timestamps when it is a selector
# (Prometheus' rangeEvalTimestampFunctionOverVectorSelector).
_SAMPLE_TIME_FUNCTIONS = frozenset({"timestamp"})
# Prometheus merges their output by label set at once (mergeSeriesWithSameLabelset), for an
# instant query too.
_LABEL_FUNCTIONS = frozenset({"label_replace", "label_join"})
_SORT_IN_RANGE = "sort is ineffective for range queries since results are always ordered by labels"


def unwrap_parens(expr: Expr) -> Expr:
    while isinstance(expr, ParenExpr):
        expr = expr.expr
    return expr


def _go_div(a: int, b: int) -> int:
    """Go's integer division (truncates toward zero; Python's // floors). `b` > 0."""
    q = a // b
    if q < 0 and q * b != a:
        q += 1
    return q


def subquery_times(
    outer: np.ndarray, node: SubqueryExpr, at: int | None, default_step_ms: int, max_steps: int = 1 << 62
) -> np.ndarray:
    """The inner step times of a subquery (Prometheus' subqueryTimeRange): from the first
    multiple of the step after `start - offset - range` up to `end - offset`, where start and
    end are the outer evaluation's (or both the `@` time). More steps than `max_steps` (the
    sample limit, which a scalar at every step would pass) is TooManySamplesError before
    anything is allocated, so a tiny step over a long range cannot take unbounded memory."""
    step = node.step_ms or default_step_ms
    if at is not None:
        start = end = at
    else:
        start, end = int(outer[0]), int(outer[-1])
    low = start - node.offset_ms - node.range_ms
    first = step * _go_div(low, step)
    if first <= low:
        first += step
    last = end - node.offset_ms
    if first > last:
        return np.empty(0, dtype=np.int64)
    if (last - first) // step + 1 > max_steps:
        raise TooManySamplesError()
    return np.arange(first, last + 1, step, dtype=np.int64)


def _without_sample_ts(v: Value) -> Value:
    if isinstance(v, Vector) and v.sample_ts is not None:
        return replace(v, sample_ts=None)
    return v


class Evaluator:
    """Evaluates the nodes of one query; `total_samples` and `peak_samples` are its stats."""

    def __init__(self, cache: SeriesCache, qt: QueryTimes) -> None:
        self.cache = cache
        self.qt = qt
        self.total_samples = 0
        self.peak_samples = 0

    # -- accounting -------------------------------------------------------------------

    def eval(self, node: Expr, ctx: EvalContext) -> Value:
        """Evaluate `node` at `ctx.times`, holding its result's samples against the limit."""
        ctx.check()
        root = ctx._root()
        before = root.samples
        value, held = self._eval(node, ctx)
        children = root.samples - before
        ctx.add_samples(held)
        self.peak_samples = max(self.peak_samples, root.samples)
        ctx.release_samples(children)
        return value

    def _eval(self, node: Expr, ctx: EvalContext) -> tuple[Value, int]:
        n = len(ctx.times)
        if isinstance(node, NumberLiteral):
            return Scalar(np.full(n, float(node.value))), n
        if isinstance(node, StringLiteral):
            return String(node.value), 0
        # Parentheses and unary minus hand their operand's samples on (Prometheus negates in
        # place): they are not held twice.
        if isinstance(node, ParenExpr):
            ctx.check()
            return self._eval(node.expr, ctx)
        if isinstance(node, UnaryExpr):
            ctx.check()
            value, held = self._eval(node.expr, ctx)
            return self._unary(node, value), held
        if isinstance(node, VectorSelector):
            vec = self._vector_selector(node, ctx)
            count = int(vec.present.sum())
            self.total_samples += count
            return vec, count
        if isinstance(node, MatrixSelector):
            rv, held, total = select_range(
                self.cache.series(node.vector), self._lookup(node.vector, ctx), node.range_ms, ctx
            )
            self.total_samples += total
            return rv, held
        if isinstance(node, SubqueryExpr):
            rv = self._subquery(node, ctx)
            return rv, sum(len(t) for t, _ in rv.samples)
        if isinstance(node, BinaryExpr):
            lhs = _without_sample_ts(self.eval(node.lhs, ctx))
            rhs = _without_sample_ts(self.eval(node.rhs, ctx))
            return self._held(binary_op(node, lhs, rhs))
        if isinstance(node, AggregateExpr):
            return self._held(self._aggregate(node, ctx))
        if isinstance(node, Call):
            return self._held(self._call(node, ctx))
        raise ExecutionError(f"unknown PromQL node {type(node).__name__}")

    @staticmethod
    def _held(v: Value) -> tuple[Value, int]:
        if isinstance(v, Vector):
            return v, int(v.present.sum())
        if isinstance(v, Scalar):
            return v, len(v.values)
        if isinstance(v, RangeVector):
            return v, sum(len(t) for t, _ in v.samples)
        return v, 0

    # -- nodes ------------------------------------------------------------------------

    def _lookup(self, vs: VectorSelector, ctx: EvalContext) -> np.ndarray:
        """Each step's lookup time: the step (or the `@` time) minus the offset."""
        at = at_time(vs.at, self.qt)
        if at is not None:
            return np.full(len(ctx.times), at - vs.offset_ms, dtype=np.int64)
        return np.asarray(ctx.times, dtype=np.int64) - vs.offset_ms

    def _vector_selector(self, vs: VectorSelector, ctx: EvalContext) -> Vector:
        return select_vector(self.cache.series(vs), self._lookup(vs, ctx), self.qt.lookback_ms, ctx)

    @staticmethod
    def _unary(node: UnaryExpr, value: Value) -> Value:
        v = _without_sample_ts(value)
        if node.op != "-":
            return v
        if isinstance(v, Scalar):
            return Scalar(-v.values)
        if isinstance(v, Vector):
            return Vector(list(v.labels), -v.values, v.present, np.ones(len(v), dtype=bool))
        raise ExecutionError("unary minus is only defined for scalars and instant vectors")

    def _subquery(self, node: SubqueryExpr, ctx: EvalContext) -> RangeVector:
        at = at_time(node.at, self.qt)
        inner_times = subquery_times(ctx.times, node, at, self.qt.default_step_ms, ctx.max_samples)
        if at is not None:
            ends = np.full(len(ctx.times), at - node.offset_ms, dtype=np.int64)
        else:
            ends = np.asarray(ctx.times, dtype=np.int64) - node.offset_ms
        if not len(inner_times):
            return RangeVector([], [], ends, node.range_ms)
        inner = self.eval(node.expr, ctx.with_times(inner_times))
        if not isinstance(inner, Vector):
            raise ExecutionError("subquery is only allowed on instant vector")
        samples = [(inner_times[p], inner.values[i][p]) for i, p in enumerate(inner.present)]
        keep = [i for i, (t, _) in enumerate(samples) if len(t)]
        drop = None if inner.drop_name is None else np.asarray(inner.drop_name, dtype=bool)[keep]
        return RangeVector(
            [inner.labels[i] for i in keep], [samples[i] for i in keep], ends, node.range_ms, drop
        )

    def _aggregate(self, node: AggregateExpr, ctx: EvalContext) -> Value:
        param = None if node.param is None else _without_sample_ts(self.eval(node.param, ctx))
        vec = _without_sample_ts(self.eval(node.expr, ctx))
        if not isinstance(vec, Vector):
            raise ExecutionError(f"aggregation {node.op!r} needs an instant vector")
        return aggregate_mod.aggregate(node, vec, param, ctx)

    def _call(self, node: Call, ctx: EvalContext) -> Value:
        impl = FUNCTIONS.get(node.func)
        if impl is None:
            raise ExecutionError(f"function {node.func!r} is not implemented")
        args: list[Value] = []
        has_range_arg = False
        for arg in node.args:
            bare = unwrap_parens(arg)
            value = self.eval(bare, ctx)
            if isinstance(value, RangeVector):
                has_range_arg = True
            if not (node.func in _SAMPLE_TIME_FUNCTIONS and isinstance(bare, VectorSelector)):
                value = _without_sample_ts(value)
            args.append(value)
        if node.func in SORT_FUNCTIONS and len(ctx.times) > 1:
            ctx.warn(_SORT_IN_RANGE, node.pos)
        out = impl(node, args, ctx)
        if isinstance(out, Vector) and not has_range_arg:
            out = coalesce_rows(out, strict=node.func in _LABEL_FUNCTIONS)
        return out
