"""LogQL evaluation over Heron's storage: log queries and metric queries.

Plan, as in Loki: stream matchers -> series (storage postings) -> chunks overlapping the range
-> pipeline per chunk -> for log queries, entries merged in the requested direction up to the
limit; for metric queries, per-output-series timestamps (and unwrapped values) fed to the
range functions at every step, then vector aggregations and binary operations on step
matrices. The syntax package parses; this module only evaluates.

Cancellation is cooperative: every chunk visited checks the deadline, so a timed-out query
stops doing work instead of running on in a thread nobody waits for.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np

from heron.logql import rangeagg, vectorops
from heron.logql.pipeline import ERROR_DETAILS_LABEL, ERROR_LABEL, Pipeline
from heron.logql.result import (
    QueryError,
    QueryLimitError,
    QueryResult,
    QueryStats,
    QueryTimeoutError,
    ResultType,
    Sample,
    Series,
    Stream,
)
from heron.logql.syntax import (
    BinOpExpr,
    Cardinality,
    Expr,
    LabelReplaceExpr,
    LiteralExpr,
    LogSelectorExpr,
    RangeAggregation,
    RangeOp,
    VectorAggregation,
    VectorExpr,
    parse_expr,
)
from heron.model import SeriesKind
from heron.storage import Database, Direction, LogColumns, Snapshot

__all__ = ["Engine"]

_LABELS_KEY = tuple[tuple[str, str], ...]
_NO_VALUES_OPS = {
    RangeOp.COUNT_OVER_TIME,
    RangeOp.RATE,
    RangeOp.BYTES_OVER_TIME,
    RangeOp.BYTES_RATE,
    RangeOp.ABSENT_OVER_TIME,
}


@dataclass
class _Ctx:
    snapshot: Snapshot
    deadline: float
    stats: QueryStats
    steps: np.ndarray  # evaluation times, ns

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise QueryTimeoutError("the query exceeded its time limit and was cancelled")


def _key(labels: dict[str, str]) -> _LABELS_KEY:
    return tuple(sorted(labels.items()))


class Engine:
    def __init__(self, db: Database, *, max_series: int = 500, max_entries: int = 5000):
        self.db = db
        self.max_series = max_series
        self.max_entries = max_entries

    # -- entry points ----------------------------------------------------------------------
    def query_range(
        self,
        query: str,
        start: int,
        end: int,
        step: int,
        *,
        limit: int = 100,
        direction: Direction = Direction.BACKWARD,
        interval_ns: int = 0,
        deadline: float | None = None,
    ) -> QueryResult:
        expr = parse_expr(query)
        ctx = self._ctx(deadline, rangeagg.step_times(start, end, step))
        if isinstance(expr, LogSelectorExpr):
            result = self._log_query(expr, start, end, limit, direction, interval_ns, ctx)
        else:
            result = self._matrix_result(self._eval(expr, ctx), ctx)
        result.stats = ctx.stats
        return result

    def query_instant(
        self,
        query: str,
        ts: int,
        *,
        limit: int = 100,
        direction: Direction = Direction.BACKWARD,
        deadline: float | None = None,
    ) -> QueryResult:
        expr = parse_expr(query)
        if isinstance(expr, LogSelectorExpr):
            raise QueryError(
                "log queries are not supported as an instant query type, please change your query to a "
                "range query type"
            )
        ctx = self._ctx(deadline, np.array([ts], dtype=np.int64))
        value = self._eval(expr, ctx)
        if isinstance(value, float):
            return QueryResult(ResultType.SCALAR, scalar=(ts, value), stats=ctx.stats)
        self._check_errors(value)
        self._check_series(value)
        vector = [
            Sample(lbs, ts, float(v[0])) for lbs, v in zip(value.labels, value.values) if not np.isnan(v[0])
        ]
        return QueryResult(ResultType.VECTOR, vector=vector, stats=ctx.stats)

    def _ctx(self, deadline: float | None, steps: np.ndarray) -> _Ctx:
        return _Ctx(
            self.db.snapshot(),
            deadline if deadline is not None else time.monotonic() + 120,
            QueryStats(),
            steps,
        )

    # -- log queries -----------------------------------------------------------------------
    def _log_query(
        self,
        expr: LogSelectorExpr,
        start: int,
        end: int,
        limit: int,
        direction: Direction,
        interval_ns: int,
        ctx: _Ctx,
    ) -> QueryResult:
        """Entries with start <= ts < end (Loki's end is exclusive), merged across streams."""
        if limit > self.max_entries:
            mx = self.max_entries
            raise QueryLimitError(
                f"max entries limit per query exceeded, limit > max_entries_limit ({limit} > {mx})"
            )
        pipeline = _pipeline(expr.stages, None)
        snap = ctx.snapshot
        refs = snap.select(list(expr.matchers), SeriesKind.LOG, start, end - 1)
        sources = []
        for sidx, ref in enumerate(refs):
            sources += snap.log_sources(ref, sidx, start, end - 1)
        forward = direction is Direction.FORWARD
        sources.sort(key=(lambda s: s.min_t) if forward else (lambda s: -s.max_t))
        stream_labels = [dict(r.labels) for r in refs]
        # Collected rows: (ts, sidx, line, out labels key, out labels, metadata)
        rows: list[tuple[int, int, str, _LABELS_KEY, dict[str, str], bytes]] = []
        all_ts: list[int] = []
        bound: int | None = None
        for src in sources:
            if bound is not None and (src.min_t > bound if forward else src.max_t < bound):
                break
            for cols in src.load():
                ctx.check()
                self._account(cols, ctx)
                out = pipeline.process(stream_labels[src.sidx], cols)
                idx = out.index.tolist()
                ts = cols.timestamps[out.index].tolist()
                ctx.stats.post_filter_lines += len(idx)
                lines = (
                    out.lines
                    if out.lines is not None
                    else [cols.line(i).decode("utf-8", "replace") for i in idx]
                )
                base = stream_labels[src.sidx]
                base_key = _key(base)
                for k, (i, t, line) in enumerate(zip(idx, ts, lines)):
                    lbs = out.labels[k] if out.labels is not None else base
                    rows.append(
                        (
                            t,
                            src.sidx,
                            line,
                            base_key if out.labels is None else _key(lbs),
                            lbs,
                            cols.metadata(i),
                        )
                    )
                all_ts += ts
            if len(all_ts) >= limit:
                arr = np.array(all_ts, dtype=np.int64)
                k = limit - 1
                bound = int(np.partition(arr, k)[k]) if forward else int(-np.partition(-arr, k)[k])
        rows.sort(key=lambda r: (r[0], r[1], r[2]), reverse=not forward)
        streams: dict[_LABELS_KEY, Stream] = {}
        prev: tuple[int, int, str] | None = None
        last_kept: dict[_LABELS_KEY, int] = {}
        taken = 0
        for t, sidx, line, key, _lbs, meta in rows:
            if prev == (t, sidx, line):
                continue  # the same entry stored twice (a retried push across a head cut)
            prev = (t, sidx, line)
            if interval_ns > 0:
                last = last_kept.get(key)
                if last is not None and abs(t - last) < interval_ns:
                    continue
                last_kept[key] = t
            st = streams.get(key)
            if st is None:
                st = streams[key] = Stream(dict(key), [], [], [])
            st.timestamps.append(t)
            st.lines.append(line)
            assert st.metadata is not None
            st.metadata.append(_decode_meta(meta))
            taken += 1
            if taken >= limit:
                break
        for st in streams.values():
            if st.metadata is not None and not any(st.metadata):
                st.metadata = None
        ctx.stats.entries_returned = taken
        return QueryResult(ResultType.STREAMS, streams=list(streams.values()))

    @staticmethod
    def _account(cols: LogColumns, ctx: _Ctx) -> None:
        ctx.stats.chunks_decoded += 1
        ctx.stats.lines_processed += len(cols)
        ctx.stats.bytes_processed += int(cols.ends[-1]) if len(cols) else 0
        ctx.stats.structured_metadata_bytes += len(cols.meta)

    # -- metric queries --------------------------------------------------------------------
    def _eval(self, expr: Expr, ctx: _Ctx) -> vectorops.StepMatrix | float:
        if isinstance(expr, RangeAggregation):
            return self._range_aggregation(expr, ctx)
        if isinstance(expr, VectorAggregation):
            inner = self._eval(expr.expr, ctx)
            if isinstance(inner, float):
                raise QueryError("vector aggregation needs a vector, not a scalar")
            g = expr.grouping
            grouping = list(g.labels) if (g.labels or g.without) else None
            param = float(expr.param) if expr.param is not None else None
            return vectorops.aggregate(expr.op.value, inner, grouping, g.without, param)
        if isinstance(expr, BinOpExpr):
            lhs = self._eval(expr.lhs, ctx)
            rhs = self._eval(expr.rhs, ctx)
            m = expr.matching
            on = list(m.labels) if m.on else None
            ignoring = list(m.labels) if not m.on and m.labels else None
            try:
                return vectorops.binary_op(
                    expr.op.value,
                    lhs,
                    rhs,
                    return_bool=expr.return_bool,
                    on=on,
                    ignoring=ignoring,
                    group_left=list(m.include) if m.card is Cardinality.MANY_TO_ONE else None,
                    group_right=list(m.include) if m.card is Cardinality.ONE_TO_MANY else None,
                )
            except ValueError as exc:
                raise QueryError(str(exc)) from None
        if isinstance(expr, LiteralExpr):
            return float(expr.value)
        if isinstance(expr, VectorExpr):
            return vectorops.vector_literal(float(expr.value), len(ctx.steps))
        if isinstance(expr, LabelReplaceExpr):
            inner = self._eval(expr.expr, ctx)
            if isinstance(inner, float):
                raise QueryError("label_replace needs a vector, not a scalar")
            try:
                return vectorops.label_replace(inner, expr.dst, expr.replacement, expr.src, expr.regex)
            except ValueError as exc:
                raise QueryError(str(exc)) from None
        raise QueryError(f"unsupported expression {expr}")

    def _range_aggregation(self, expr: RangeAggregation, ctx: _Ctx) -> vectorops.StepMatrix:
        lr = expr.log_range
        selector = lr.selector
        pipeline = _pipeline(selector.stages, lr.unwrap)
        op = expr.op
        needs_values = op not in _NO_VALUES_OPS
        if needs_values and lr.unwrap is None:
            raise QueryError(f"invalid aggregation {op.value} without unwrap")
        steps = ctx.steps - lr.offset_ns
        lo, hi = int(steps[0]) - lr.range_ns + 1, int(steps[-1])
        snap = ctx.snapshot
        refs = snap.select(list(selector.matchers), SeriesKind.LOG, lo, hi)
        # Output series: labels key -> lists of per-chunk arrays
        acc: dict[_LABELS_KEY, tuple[dict[str, str], list[np.ndarray], list[np.ndarray]]] = {}
        grouping = expr.grouping
        times_only = not pipeline.per_line and not pipeline.vector_filters and op in _NO_VALUES_OPS
        for ref in refs:
            ctx.check()
            if times_only:
                # No stage looks at lines: timestamps and lengths come from the chunks' index
                # frames, and the line bytes are never decompressed.
                ts, lens = snap.series_log_times(ref, lo, hi)
                ctx.stats.chunks_decoded += 1
                ctx.stats.lines_processed += len(ts)
                ctx.stats.bytes_processed += int(lens.sum())
                ctx.stats.post_filter_lines += len(ts)
                self._add(acc, self._group(dict(ref.labels), grouping), ts, lens.astype(np.float64))
                continue
            cols = snap.series_log_columns(ref, lo, hi)
            if not len(cols):
                continue
            self._account(cols, ctx)
            base = dict(ref.labels)
            out = pipeline.process(base, cols)
            ts = cols.timestamps[out.index]
            ctx.stats.post_filter_lines += len(ts)
            if op in (RangeOp.BYTES_OVER_TIME, RangeOp.BYTES_RATE):
                starts = np.concatenate(([0], cols.ends[:-1]))
                sizes = (cols.ends - starts)[out.index].astype(np.float64)
                if out.lines is not None:
                    sizes = np.array([len(line.encode()) for line in out.lines], dtype=np.float64)
                vals = sizes
            else:
                vals = out.values if out.values is not None else np.zeros(len(ts))
            if out.labels is None:
                self._add(acc, self._group(base, grouping), ts, vals)
            else:
                by_key: dict[_LABELS_KEY, list[int]] = {}
                for k, lbs in enumerate(out.labels):
                    by_key.setdefault(_key(self._group(lbs, grouping)), []).append(k)
                for key, ks in by_key.items():
                    sel = np.array(ks, dtype=np.int64)
                    self._add(acc, dict(key), ts[sel], vals[sel])
        if op is RangeOp.ABSENT_OVER_TIME:
            return self._absent(expr, acc, steps, lr.range_ns)
        labels_out: list[dict[str, str]] = []
        rows: list[np.ndarray] = []
        fn = rangeagg.RANGE_FUNCTIONS[_range_fn_name(op, lr.unwrap is not None)]
        for lbs, ts_parts, val_parts in acc.values():
            ctx.check()
            ts = np.concatenate(ts_parts)
            vals = np.concatenate(val_parts)
            if len(ts_parts) > 1:
                order = np.argsort(ts, kind="stable")
                ts, vals = ts[order], vals[order]
            row = _apply_range_fn(fn, op, lr.unwrap is not None, expr.param, ts, vals, steps, lr.range_ns)
            if np.all(np.isnan(row)):
                continue
            labels_out.append(lbs)
            rows.append(row)
        values = np.vstack(rows) if rows else np.empty((0, len(steps)))
        return vectorops.StepMatrix(labels_out, values)

    @staticmethod
    def _group(labels: dict[str, str], grouping: object) -> dict[str, str]:
        if grouping is None:
            return labels
        names = set(grouping.labels)  # type: ignore[attr-defined]
        if grouping.without:  # type: ignore[attr-defined]
            return {k: v for k, v in labels.items() if k not in names}
        return {k: v for k, v in labels.items() if k in names}

    @staticmethod
    def _add(
        acc: dict[_LABELS_KEY, tuple[dict[str, str], list[np.ndarray], list[np.ndarray]]],
        labels: dict[str, str],
        ts: np.ndarray,
        vals: np.ndarray,
    ) -> None:
        if not len(ts):
            return
        key = _key(labels)
        got = acc.get(key)
        if got is None:
            acc[key] = (labels, [ts], [vals])
        else:
            got[1].append(ts)
            got[2].append(vals)

    def _absent(
        self,
        expr: RangeAggregation,
        acc: dict[_LABELS_KEY, tuple[dict[str, str], list[np.ndarray], list[np.ndarray]]],
        steps: np.ndarray,
        range_ns: int,
    ) -> vectorops.StepMatrix:
        """1 at steps where no stream had an entry in the window; labels from `=` matchers."""
        present = np.zeros(len(steps), dtype=bool)
        for _, ts_parts, _ in acc.values():
            ts = np.sort(np.concatenate(ts_parts))
            counts = rangeagg.count_over_time(ts, steps, range_ns)
            present |= ~np.isnan(counts) & (counts > 0)
        labels = {
            m.name: m.value
            for m in expr.log_range.selector.matchers
            if m.op.value == "=" and m.name != "__name__"
        }
        row = np.where(present, np.nan, 1.0)
        if np.all(np.isnan(row)):
            return vectorops.StepMatrix([], np.empty((0, len(steps))))
        return vectorops.StepMatrix([labels], row.reshape(1, -1))

    # -- results ---------------------------------------------------------------------------
    def _check_series(self, m: vectorops.StepMatrix) -> None:
        if len(m.labels) > self.max_series:
            raise QueryLimitError(
                f"maximum number of series ({self.max_series}) reached for a single query; consider reducing "
                "query cardinality by adding more filters, or by aggregating"
            )

    @staticmethod
    def _check_errors(m: vectorops.StepMatrix) -> None:
        for lbs in m.labels:
            err = lbs.get(ERROR_LABEL)
            if err:
                shown = {k: v for k, v in lbs.items() if k != ERROR_DETAILS_LABEL}
                raise QueryError(
                    f"pipeline error: '{err}' for series: '{_fmt(shown)}'.\n"
                    f'Use a label filter to intentionally skip this error. (e.g | __error__!="{err}").\n'
                    'To skip all potential errors you can match empty errors.(e.g __error__="")\n'
                    "The label filter should come after the faulty pipeline stage."
                )

    def _matrix_result(self, value: vectorops.StepMatrix | float, ctx: _Ctx) -> QueryResult:
        steps = ctx.steps
        if isinstance(value, float):
            value = vectorops.StepMatrix([{}], np.full((1, len(steps)), value))
        self._check_errors(value)
        self._check_series(value)
        matrix = []
        for lbs, row in zip(value.labels, value.values):
            present = ~np.isnan(row)
            if present.any():
                matrix.append(Series(lbs, steps[present], row[present]))
        return QueryResult(ResultType.MATRIX, matrix=matrix)


def _pipeline(stages: tuple, unwrap: object) -> Pipeline:  # type: ignore[type-arg]
    """Build a pipeline; a template or parser that fails to compile is the query's fault (400)."""
    try:
        return Pipeline(stages, unwrap)  # type: ignore[arg-type]
    except QueryError:
        raise
    except ValueError as exc:
        raise QueryError(str(exc)) from None


def _fmt(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _decode_meta(meta: bytes) -> dict[str, str]:
    if not meta:
        return {}
    try:
        out = json.loads(meta)
    except ValueError:
        return {}
    return out if isinstance(out, dict) else {}


def _range_fn_name(op: RangeOp, unwrapped: bool) -> str:
    if op is RangeOp.RATE and unwrapped:
        return "rate_unwrapped"
    return op.value


def _apply_range_fn(
    fn: object,
    op: RangeOp,
    unwrapped: bool,
    param: float | None,
    ts: np.ndarray,
    vals: np.ndarray,
    steps: np.ndarray,
    range_ns: int,
) -> np.ndarray:
    """Call a range function with its signature: count-like ones take no values."""
    if op is RangeOp.COUNT_OVER_TIME or (op is RangeOp.RATE and not unwrapped):
        return fn(ts, steps, range_ns)  # type: ignore[operator]
    if op is RangeOp.QUANTILE_OVER_TIME:
        return fn(param if param is not None else 0.0, ts, vals, steps, range_ns)  # type: ignore[operator]
    return fn(ts, vals, steps, range_ns)  # type: ignore[operator]
