"""The PromQL engine: instant and range queries over a storage snapshot.

`Engine(db)` answers `instant(query, time_ms)` and `range(query, start_ms, end_ms, step_ms)`
as Prometheus' engine does. A query reads one `db.snapshot()`; each selector's series are
read once for the widest window the query needs (`heron.promql.selectors`), the tree is
walked once over all step times (`heron.promql.evaluator`), and the value that comes out is
turned into a `QueryResult`:

* metric names flagged for removal (Prometheus 3's delayed name removal) are stripped, and
  series that then share a label set are merged where their steps do not overlap (two
  samples at one time are "vector cannot contain metrics with the same labelset");
* series come sorted by labels, except an instant query whose outermost operation defines
  an order (the sort functions, topk and bottomk), which keeps the order it made;
* a range query answers a matrix; a scalar expression becomes one unlabelled series.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import numpy as np

from heron.model import Labels
from heron.promql.binary import METADATA_LABELS
from heron.promql.evaluator import SORT_FUNCTIONS, Evaluator, unwrap_parens
from heron.promql.result import QueryResult, QueryStats, ResultSeries
from heron.promql.selectors import QueryTimes, SeriesCache, plan_windows
from heron.promql.syntax.ast import AggregateExpr, BinaryExpr, Call, Expr, UnaryExpr, ValueType
from heron.promql.value import (
    EvalContext,
    ExecutionError,
    PromQLError,
    RangeVector,
    Scalar,
    String,
    TooManySamplesError,
    Value,
    Vector,
)

__all__ = ["Engine", "InvalidQueryError", "DEFAULT_EVAL_INTERVAL_MS"]

# Prometheus' default `evaluation_interval`: the step of a subquery written without one.
DEFAULT_EVAL_INTERVAL_MS = 60_000

_ORDERED_AGGREGATES = frozenset({"topk", "bottomk"})
# Instant-vector functions that map each input series to one output series in input order
# (Prometheus' simple functions and label rewrites): the order of what they wrap carries on.
_ORDER_KEEPING_FUNCTIONS = frozenset(
    {
        "abs", "ceil", "floor", "round", "exp", "ln", "log2", "log10", "sqrt", "sgn",
        "clamp", "clamp_min", "clamp_max", "label_replace", "label_join",
        "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
        "asinh", "acosh", "atanh", "deg", "rad",
    }
)  # fmt: skip


def _keeps_order(expr: Expr) -> bool:
    """Whether an instant query's answer keeps the order evaluation made instead of being
    sorted by labels. Prometheus never sorts an instant vector, so the order a sort function
    or topk/bottomk makes reaches the client, also through the operations that keep their
    input's order (parentheses, unary minus, arithmetic with a scalar, simple functions)."""
    expr = unwrap_parens(expr)
    if isinstance(expr, Call):
        if expr.func in SORT_FUNCTIONS:
            return True
        return expr.func in _ORDER_KEEPING_FUNCTIONS and bool(expr.args) and _keeps_order(expr.args[0])
    if isinstance(expr, AggregateExpr):
        return expr.op in _ORDERED_AGGREGATES
    if isinstance(expr, UnaryExpr):
        return _keeps_order(expr.expr)
    if isinstance(expr, BinaryExpr) and expr.op not in ("and", "or", "unless"):
        if expr.lhs.type is ValueType.SCALAR:
            return _keeps_order(expr.rhs)
        if expr.rhs.type is ValueType.SCALAR:
            return _keeps_order(expr.lhs)
    return False


_Row = tuple[Labels, np.ndarray, np.ndarray, bool]


class InvalidQueryError(PromQLError):
    """A query the engine refuses before evaluating it (a range query of a range vector, a
    zero step): Prometheus' API answers these as `bad_data` (400)."""


def _parse(query: str | Expr) -> tuple[str, Expr]:
    if isinstance(query, str):
        from heron.promql.syntax import parse_expr  # type: ignore[attr-defined]

        return query, parse_expr(query)
    return "", query


class Engine:
    """Evaluates PromQL over `db` (anything whose `snapshot()` has `samples(matchers, start,
    end)`, as `heron.storage.Database` and the WAL replica do)."""

    def __init__(
        self,
        db: object,
        *,
        lookback_delta_ms: int = 300_000,
        max_samples: int = 50_000_000,
        default_eval_interval_ms: int = DEFAULT_EVAL_INTERVAL_MS,
    ) -> None:
        if lookback_delta_ms <= 0:
            raise ValueError("lookback_delta_ms must be positive")
        if default_eval_interval_ms <= 0:
            raise ValueError("default_eval_interval_ms must be positive")
        self.db = db
        self.lookback_delta_ms = int(lookback_delta_ms)
        self.max_samples = int(max_samples)
        self.default_eval_interval_ms = int(default_eval_interval_ms)

    def instant(
        self,
        query: str | Expr,
        time_ms: int,
        *,
        lookback_delta_ms: int | None = None,
        deadline: float | None = None,
        cancelled: object | None = None,
    ) -> QueryResult:
        """Evaluate `query` at one time. `deadline` is a `time.monotonic()` value; `cancelled`
        anything with `is_set()` (a threading.Event) that turns true when the client left."""
        text, expr = _parse(query)
        return self._run(text, expr, int(time_ms), int(time_ms), 0, lookback_delta_ms, deadline, cancelled)

    def range(
        self,
        query: str | Expr,
        start_ms: int,
        end_ms: int,
        step_ms: int,
        *,
        lookback_delta_ms: int | None = None,
        deadline: float | None = None,
        cancelled: object | None = None,
    ) -> QueryResult:
        """Evaluate `query` at `start, start+step, ... <= end`; always answers a matrix."""
        text, expr = _parse(query)
        if step_ms <= 0:
            raise InvalidQueryError("zero or negative query resolution step widths are not accepted")
        if end_ms < start_ms:
            raise InvalidQueryError("end timestamp must not be before start time")
        if (end_ms - start_ms) // step_ms + 1 > self.max_samples:
            raise TooManySamplesError()  # more steps than samples may be held: refuse before allocating
        if expr.type not in (ValueType.VECTOR, ValueType.SCALAR):
            kind = "range vector" if expr.type is ValueType.MATRIX else expr.type.value
            raise InvalidQueryError(
                f'invalid expression type "{kind}" for range query, must be Scalar or instant Vector'
            )
        return self._run(
            text, expr, int(start_ms), int(end_ms), int(step_ms), lookback_delta_ms, deadline, cancelled
        )

    def _run(
        self,
        text: str,
        expr: Expr,
        start: int,
        end: int,
        step: int,
        lookback_delta_ms: int | None,
        deadline: float | None,
        cancelled: object | None,
    ) -> QueryResult:
        began = time.perf_counter()
        if lookback_delta_ms is not None and lookback_delta_ms < 0:
            raise InvalidQueryError("lookback delta must not be negative")
        lookback = int(lookback_delta_ms) if lookback_delta_ms else self.lookback_delta_ms
        qt = QueryTimes(start, end, lookback, self.default_eval_interval_ms)
        times = np.arange(start, end + 1, step, dtype=np.int64) if step else np.array([start], dtype=np.int64)
        ctx = EvalContext(times, text, deadline, self.max_samples, cancelled, query_bounds=(start, end, step))
        ctx.check()
        cache = SeriesCache(self.db.snapshot(), plan_windows(expr, qt))  # type: ignore[attr-defined]
        ev = Evaluator(cache, qt)
        value = ev.eval(expr, ctx)
        ctx.check()
        result = self._result(expr, value, times, instant=step == 0)
        result.warnings = list(ctx.warnings)
        result.infos = list(ctx.infos)
        result.stats = QueryStats(ev.total_samples, ev.peak_samples, time.perf_counter() - began)
        return result

    def _result(self, expr: Expr, value: Value, times: np.ndarray, *, instant: bool) -> QueryResult:
        t0 = int(times[0])
        if isinstance(value, String):
            return QueryResult(ValueType.STRING, string=(t0, value.value))
        if isinstance(value, Scalar):
            if instant:
                return QueryResult(ValueType.SCALAR, scalar=(t0, float(value.values[0])))
            vals = np.asarray(value.values, dtype=np.float64)
            return QueryResult(ValueType.MATRIX, [ResultSeries((), times.copy(), vals.copy())])
        if isinstance(value, RangeVector):
            return QueryResult(ValueType.MATRIX, _finish(_range_rows(value), ordered=False))
        if isinstance(value, Vector):
            rows = _vector_rows(value, times)
            if instant:
                return QueryResult(ValueType.VECTOR, _finish(rows, ordered=_keeps_order(expr)))
            return QueryResult(ValueType.MATRIX, _finish(rows, ordered=False))
        raise ExecutionError(f"unexpected value {type(value).__name__} at the top of the query")


def _vector_rows(vec: Vector, times: np.ndarray) -> list[_Row]:
    drops = np.zeros(len(vec), dtype=bool) if vec.drop_name is None else np.asarray(vec.drop_name, dtype=bool)
    rows: list[_Row] = []
    for i, ls in enumerate(vec.labels):
        p = np.asarray(vec.present[i], dtype=bool)
        if p.any():
            rows.append((ls, times[p], np.asarray(vec.values[i], dtype=np.float64)[p], bool(drops[i])))
    return rows


def _range_rows(rv: RangeVector) -> list[_Row]:
    """An instant query's range vector: each series' samples in the window of its one step."""
    drops = np.zeros(len(rv), dtype=bool) if rv.drop_name is None else np.asarray(rv.drop_name, dtype=bool)
    end = int(rv.ends[0])
    rows: list[_Row] = []
    for i, (ls, (ts, vals)) in enumerate(zip(rv.labels, rv.samples)):
        a, b = np.searchsorted(ts, [end - rv.range_ms, end], "right")
        if b > a:
            rows.append(
                (
                    ls,
                    np.asarray(ts[a:b], dtype=np.int64),
                    np.asarray(vals[a:b], dtype=np.float64),
                    bool(drops[i]),
                )
            )
    return rows


def _finish(rows: Iterable[_Row], *, ordered: bool) -> list[ResultSeries]:
    """Strip flagged names, merge series that then share labels (Prometheus'
    cleanupMetricLabels / mergeSeriesWithSameLabelset) and sort unless `ordered`."""
    merged: dict[Labels, list[tuple[np.ndarray, np.ndarray]]] = {}
    for ls, ts, vals, drop in rows:
        if drop:
            ls = tuple(kv for kv in ls if kv[0] not in METADATA_LABELS)
        merged.setdefault(ls, []).append((ts, vals))
    out: list[ResultSeries] = []
    for ls, parts in merged.items():
        if len(parts) == 1:
            ts, vals = parts[0]
        else:
            ts = np.concatenate([p[0] for p in parts])
            vals = np.concatenate([p[1] for p in parts])
            order = np.argsort(ts, kind="stable")
            ts, vals = ts[order], vals[order]
            if len(ts) > 1 and bool((ts[1:] == ts[:-1]).any()):
                raise ExecutionError("vector cannot contain metrics with the same labelset")
        out.append(ResultSeries(ls, ts, vals))
    if not ordered:
        out.sort(key=lambda s: s.labels)
    return out
