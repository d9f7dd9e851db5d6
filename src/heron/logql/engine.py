"""LogQL evaluation over Heron's storage: log queries and metric queries.

Plan, as in Loki: stream matchers -> series (storage postings) -> chunks overlapping the range
-> pipeline per chunk -> for log queries, entries merged in the requested direction up to the
limit; for metric queries, per-output-series timestamps (and unwrapped values) fed to the
range functions at every step, then vector aggregations and binary operations on step
matrices. The syntax package parses; this module only evaluates.

Cancellation is cooperative and so is the memory bound: one `QueryBudget` per query is checked
for its deadline in every loop that grows with the data (chunks, every `LINE_BATCH` lines of a
per-line pipeline, output series, quantile chunks, vector operations), and charged with what the
query holds as it is produced (decoded chunks, kept lines and label maps, step matrices, the
answer about to be rendered). A query past its deadline stops doing work instead of running on
in a thread nobody waits for; one past its budget stops with QueryMemoryError (HTTP 422) before
it takes the process down. Range queries are refused above `rangeagg.MAX_POINTS` steps before
any step is allocated.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Iterator, Protocol

import numpy as np

from heron.logql import rangeagg, vectorops
from heron.logql.budget import DEFAULT_MEMORY_BYTES, ENTRY_BYTES, POINT_BYTES, QueryBudget, labels_bytes
from heron.logql.pipeline import ERROR_DETAILS_LABEL, ERROR_LABEL, Pipeline, line_bytes, metadata_labels
from heron.logql.result import (
    QueryError,
    QueryLimitError,
    QueryResult,
    QueryStats,
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
    VectorOp,
    format_prometheus_duration_ns,
    parse_expr,
)
from heron.logql.template import DEFAULT_MAX_BYTES
from heron.model import SeriesKind
from heron.storage import Direction, LogColumns, Snapshot

__all__ = ["Engine", "SnapshotSource"]

_LABELS_KEY = tuple[tuple[str, str], ...]
_NO_VALUES_OPS = {
    RangeOp.COUNT_OVER_TIME,
    RangeOp.RATE,
    RangeOp.BYTES_OVER_TIME,
    RangeOp.BYTES_RATE,
    RangeOp.ABSENT_OVER_TIME,
}


_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
# Transient arrays a vector operation makes, in multiples of its operands' values: topk/bottomk
# sort keys, order, ranks and masks; binary operations their masks and results.
_AGG_FACTOR = {"topk": 6, "bottomk": 6, "approx_topk": 6, "sort": 3, "sort_desc": 3}
_OP_FACTOR = 4
_SERIES_BYTES = 400  # an output series in the making: its acc entry, lists and array headers


@dataclass
class _Ctx:
    snapshot: Snapshot
    budget: QueryBudget
    stats: QueryStats
    steps: np.ndarray  # evaluation times, ns

    def check(self) -> None:
        self.budget.check()


class SnapshotSource(Protocol):
    """What the engine reads from: a `Database` in the server process, a `WalReplica` in a
    query worker (heron.workers)."""

    def snapshot(self) -> Snapshot: ...


def _key(labels: dict[str, str]) -> _LABELS_KEY:
    return tuple(sorted(labels.items()))


class Engine:
    """Evaluates LogQL over `db` (a Database or a worker's replica of one).

    `max_line_bytes` is the server's max line size (setting `max_line_size`): what a
    line_format or label_format template may render for one entry."""

    def __init__(
        self,
        db: SnapshotSource,
        *,
        max_series: int = 500,
        max_entries: int = 5000,
        max_line_bytes: int = DEFAULT_MAX_BYTES,
    ):
        self.db = db
        self.max_series = max_series
        self.max_entries = max_entries
        self.max_line_bytes = max_line_bytes

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
        memory_bytes: int | None = None,
    ) -> QueryResult:
        """A range query; `memory_bytes` is its budget (query_memory_budget), `deadline` a
        time.monotonic() value."""
        expr = parse_expr(query)
        if isinstance(expr, LogSelectorExpr):  # no steps: a log query returns entries
            ctx = self._ctx(deadline, memory_bytes, np.empty(0, dtype=np.int64))
            result = self._log_query(expr, start, end, limit, direction, interval_ns, ctx)
        else:
            try:
                steps = rangeagg.step_times(start, end, step)
            except ValueError as exc:
                raise QueryError(str(exc)) from None
            if _has_approx_topk(expr):
                raise QueryError("count min sketches are only supported on instant queries")  # Loki's
            ctx = self._ctx(deadline, memory_bytes, steps)
            ctx.budget.charge(steps.nbytes)
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
        memory_bytes: int | None = None,
    ) -> QueryResult:
        expr = parse_expr(query)
        if isinstance(expr, LogSelectorExpr):
            raise QueryError(
                "log queries are not supported as an instant query type, please change your query to a "
                "range query type"
            )
        if not _INT64_MIN <= ts <= _INT64_MAX:
            raise QueryError("query times must lie within the int64 nanosecond range (years 1678 to 2262)")
        ctx = self._ctx(deadline, memory_bytes, np.array([ts], dtype=np.int64))
        value = self._eval(expr, ctx)
        if isinstance(value, float):
            return QueryResult(ResultType.SCALAR, scalar=(ts, value), stats=ctx.stats)
        self._check_errors(value)
        self._check_series(value)
        ctx.budget.charge(len(value.labels) * POINT_BYTES)
        vector = [
            Sample(lbs, ts, float(v[0])) for lbs, v in zip(value.labels, value.values) if not np.isnan(v[0])
        ]
        return QueryResult(ResultType.VECTOR, vector=vector, stats=ctx.stats)

    def _ctx(self, deadline: float | None, memory_bytes: int | None, steps: np.ndarray) -> _Ctx:
        budget = QueryBudget(
            deadline if deadline is not None else time.monotonic() + 120,
            memory_bytes if memory_bytes is not None else DEFAULT_MEMORY_BYTES,
        )
        return _Ctx(self.db.snapshot(), budget, QueryStats(), steps)

    def _pipeline(self, stages: tuple, unwrap: object, ctx: _Ctx) -> Pipeline:  # type: ignore[type-arg]
        """Build a pipeline; a template or parser that fails to compile is the query's fault (400)."""
        try:
            return Pipeline(
                stages,  # type: ignore[arg-type]
                unwrap,  # type: ignore[arg-type]
                max_line_bytes=self.max_line_bytes,
                budget=ctx.budget,
            )
        except QueryError:
            raise
        except ValueError as exc:
            raise QueryError(str(exc)) from None

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
        pipeline = self._pipeline(expr.stages, None, ctx)
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
        rows_bytes = 0  # charged to the budget for the rows
        all_ts: list[int] = []
        bound: int | None = None
        budget = ctx.budget
        order_key = lambda r: (r[0], r[1], r[2])  # noqa: E731
        for src in sources:
            if bound is not None and (src.min_t > bound if forward else src.max_t < bound):
                break
            for whole in src.load():
                whole_bytes = _columns_bytes(whole)
                budget.charge(whole_bytes)  # the decoded chunk, held while its windows are cut
                for cols in _windows(whole, limit, forward, interval_ns == 0):
                    if (
                        bound is not None
                        and cols is not whole
                        and (int(cols.timestamps[0]) > bound if forward else int(cols.timestamps[-1]) < bound)
                    ):
                        break  # this window, and the rest of the chunk after it, are past the answer
                    ctx.check()
                    self._account(cols, ctx)
                    chunk_bytes = _columns_bytes(cols)
                    budget.charge(chunk_bytes)  # held while its entries go through the pipeline
                    out = pipeline.process(stream_labels[src.sidx], cols)
                    idx = out.index.tolist()
                    ts = cols.timestamps[out.index].tolist()
                    ctx.stats.post_filter_lines += len(idx)
                    kept = out.charged
                    if out.lines is not None:
                        lines = out.lines
                    else:
                        lines = [cols.line(i).decode("utf-8", "replace") for i in idx]
                        kept += sum(map(len, lines)) + len(lines) * ENTRY_BYTES
                    if cols.meta:
                        kept += int(np.diff(cols.meta_ends, prepend=0)[out.index].sum())
                    if out.charged < kept:
                        budget.charge(kept - out.charged)
                    rows_bytes += kept
                    budget.release(chunk_bytes)
                    base = stream_labels[src.sidx]
                    base_key = _key(base)
                    for k, (i, t, line) in enumerate(zip(idx, ts, lines)):
                        lbs = out.labels[k] if out.labels is not None else base
                        meta = cols.metadata(i) if cols.meta else b""
                        key = base_key if out.labels is None else _key(lbs)
                        if meta and out.labels is not None:
                            lbs, meta = _split_metadata(lbs, meta, base)
                        rows.append((t, src.sidx, line, key, lbs, meta))
                    all_ts += ts
                    if interval_ns == 0 and len(rows) > 4 * limit + 4096:
                        # Keep only what the answer can use: the first `limit` distinct entries in the
                        # query's order, exactly what the final pass below would take.
                        before = len(rows)
                        rows.sort(key=order_key, reverse=not forward)
                        rows = _first_distinct(rows, limit)
                        all_ts = [r[0] for r in rows]
                        freed = rows_bytes - rows_bytes * len(rows) // before
                        rows_bytes -= freed
                        budget.release(freed)
                    if len(all_ts) >= limit:
                        arr = np.array(all_ts, dtype=np.int64)
                        k = limit - 1
                        bound = int(np.partition(arr, k)[k]) if forward else int(-np.partition(-arr, k)[k])
                budget.release(whole_bytes)
        rows.sort(key=order_key, reverse=not forward)
        per_line = pipeline.per_line
        streams: dict[_LABELS_KEY, Stream] = {}
        prev: tuple[int, int, str] | None = None
        last_kept: dict[_LABELS_KEY, int] = {}
        taken = 0
        for t, sidx, line, key, row_labels, meta in rows:
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
                st = streams[key] = Stream(dict(row_labels), [], [], [], [] if per_line else None)
            st.timestamps.append(t)
            st.lines.append(line)
            assert st.metadata is not None
            md = _decode_meta(meta)
            st.metadata.append(md if per_line or not md else metadata_labels(md, stream_labels[sidx]))
            if st.parsed is not None:
                # what the stages made or changed: not a stream label (categorize-labels)
                own = stream_labels[sidx]
                st.parsed.append({k: v for k, v in row_labels.items() if own.get(k) != v})
            taken += 1
            if taken >= limit:
                break
        for st in streams.values():
            if st.metadata is not None and not any(st.metadata):
                st.metadata = None
            if st.parsed is not None and not any(st.parsed):
                st.parsed = None
        # Rendering copies each returned line twice (JSON text, then bytes) around its list.
        budget.charge(taken * POINT_BYTES + 2 * sum(sum(map(len, st.lines)) for st in streams.values()))
        ctx.stats.entries_returned = taken
        return QueryResult(ResultType.STREAMS, streams=list(streams.values()), forward=forward)

    @staticmethod
    def _account(cols: LogColumns, ctx: _Ctx) -> None:
        ctx.stats.chunks_decoded += 1
        ctx.stats.lines_processed += len(cols)
        ctx.stats.bytes_processed += int(cols.ends[-1]) if len(cols) else 0
        ctx.stats.structured_metadata_bytes += len(cols.meta)

    # -- metric queries --------------------------------------------------------------------
    def _eval(self, expr: Expr, ctx: _Ctx) -> vectorops.StepMatrix | float:
        """Evaluate a metric expression. Each step matrix returned is charged to the budget
        (its values' bytes); an operation releases its operands once its result exists."""
        ctx.check()
        budget = ctx.budget
        if isinstance(expr, RangeAggregation):
            return self._range_aggregation(expr, ctx)
        if isinstance(expr, VectorAggregation):
            inner = self._eval(expr.expr, ctx)
            if isinstance(inner, float):
                raise QueryError("vector aggregation needs a vector, not a scalar")
            g = expr.grouping
            grouping = list(g.labels) if (g.labels or g.without) else None
            param = float(expr.param) if expr.param is not None else None
            work = _AGG_FACTOR.get(expr.op.value, _OP_FACTOR) * inner.values.nbytes
            budget.charge(work)
            try:
                out = vectorops.aggregate(expr.op.value, inner, grouping, g.without, param)
            except ValueError as exc:
                raise QueryError(str(exc)) from None
            return _replace(budget, work, [inner], out)
        if isinstance(expr, BinOpExpr):
            lhs = self._eval(expr.lhs, ctx)
            rhs = self._eval(expr.rhs, ctx)
            m = expr.matching
            on = list(m.labels) if m.on else None
            ignoring = list(m.labels) if not m.on and m.labels else None
            operands = [x for x in (lhs, rhs) if isinstance(x, vectorops.StepMatrix)]
            work = _OP_FACTOR * sum(x.values.nbytes for x in operands)
            budget.charge(work)
            reserved = [0]

            def reserve(nbytes: int) -> None:
                reserved[0] += nbytes
                budget.charge(nbytes)

            try:
                out = vectorops.binary_op(
                    expr.op.value,
                    lhs,
                    rhs,
                    return_bool=expr.return_bool,
                    on=on,
                    ignoring=ignoring,
                    group_left=list(m.include) if m.card is Cardinality.MANY_TO_ONE else None,
                    group_right=list(m.include) if m.card is Cardinality.ONE_TO_MANY else None,
                    reserve=reserve,
                )
            except ValueError as exc:
                raise QueryError(str(exc)) from None
            return _replace(budget, work + reserved[0], operands, out)
        if isinstance(expr, LiteralExpr):
            return float(expr.value)
        if isinstance(expr, VectorExpr):
            budget.charge(len(ctx.steps) * 8)
            return vectorops.vector_literal(float(expr.value), len(ctx.steps))
        if isinstance(expr, LabelReplaceExpr):
            inner = self._eval(expr.expr, ctx)
            if isinstance(inner, float):
                raise QueryError("label_replace needs a vector, not a scalar")
            budget.charge(inner.values.nbytes)
            try:
                out = vectorops.label_replace(inner, expr.dst, expr.replacement, expr.src, expr.regex)
            except ValueError as exc:
                raise QueryError(str(exc)) from None
            return _replace(budget, inner.values.nbytes, [inner], out)
        raise QueryError(f"unsupported expression {expr}")

    def _range_aggregation(self, expr: RangeAggregation, ctx: _Ctx) -> vectorops.StepMatrix:
        lr = expr.log_range
        selector = lr.selector
        if lr.range_ns <= 0:  # Loki's grammar takes [0s]; its window (t - 0, t] holds nothing
            shown = format_prometheus_duration_ns(lr.range_ns)
            raise QueryError(f"invalid range [{shown}] in {expr.op.value}: a range must be greater than zero")
        pipeline = self._pipeline(selector.stages, lr.unwrap, ctx)
        op = expr.op
        needs_values = op not in _NO_VALUES_OPS
        if needs_values and lr.unwrap is None:
            raise QueryError(f"invalid aggregation {op.value} without unwrap")
        if not len(ctx.steps):
            return vectorops.StepMatrix.empty(0)
        first, last = int(ctx.steps[0]) - lr.offset_ns, int(ctx.steps[-1]) - lr.offset_ns
        if first - lr.range_ns < _INT64_MIN or last > _INT64_MAX:
            raise QueryError("the range and offset reach outside the int64 nanosecond time range")
        steps = ctx.steps - lr.offset_ns
        lo, hi = first - lr.range_ns + 1, last
        snap = ctx.snapshot
        budget = ctx.budget
        refs = snap.select(list(selector.matchers), SeriesKind.LOG, lo, hi)
        # Output series: labels key -> lists of per-chunk arrays
        acc: dict[_LABELS_KEY, tuple[dict[str, str], list[np.ndarray], list[np.ndarray]]] = {}
        acc_bytes = 0  # the timestamps and values held in acc (16 bytes an entry)
        grouping = expr.grouping
        times_only = not pipeline.per_line and not pipeline.vector_filters and op in _NO_VALUES_OPS
        for ref in refs:
            ctx.check()
            if times_only and not snap.series_has_log_metadata(ref, lo, hi):
                # No stage looks at lines and no entry has metadata: timestamps and lengths
                # come from the chunks' index frames, and the line bytes are never decompressed.
                ts, lens = snap.series_log_times(ref, lo, hi)
                budget.charge(24 * len(ts))
                acc_bytes += 24 * len(ts)
                ctx.stats.chunks_decoded += 1
                ctx.stats.lines_processed += len(ts)
                ctx.stats.bytes_processed += int(lens.sum())
                ctx.stats.post_filter_lines += len(ts)
                acc_bytes += self._add(
                    acc, self._group(dict(ref.labels), grouping), ts, lens.astype(np.float64), budget
                )
                continue
            if times_only:
                # No stage looks at lines, but entries carry structured metadata, which is part
                # of their labels (Loki's sample extractors add it to every entry's): the chunks
                # are decoded for it and the entries grouped by it with numpy, not line by line.
                cols = snap.series_log_columns(ref, lo, hi)
                if not len(cols):
                    continue
                cols_bytes = _columns_bytes(cols)
                budget.charge(cols_bytes)
                self._account(cols, ctx)
                ts = cols.timestamps
                lens = np.diff(cols.ends, prepend=0).astype(np.float64)
                budget.charge(24 * len(ts))
                acc_bytes += 24 * len(ts)
                ctx.stats.post_filter_lines += len(ts)
                every = np.arange(len(cols), dtype=np.int64)
                acc_bytes += self._add_by_metadata(
                    acc, dict(ref.labels), grouping, cols, every, ts, lens, budget
                )
                budget.release(cols_bytes)
                continue
            cols = snap.series_log_columns(ref, lo, hi)
            if not len(cols):
                continue
            cols_bytes = _columns_bytes(cols)
            budget.charge(cols_bytes)
            self._account(cols, ctx)
            base = dict(ref.labels)
            out = pipeline.process(base, cols)
            ts = cols.timestamps[out.index]
            ctx.stats.post_filter_lines += len(ts)
            budget.charge(16 * len(ts))
            acc_bytes += 16 * len(ts)
            if op in (RangeOp.BYTES_OVER_TIME, RangeOp.BYTES_RATE):
                starts = np.concatenate(([0], cols.ends[:-1]))
                sizes = (cols.ends - starts)[out.index].astype(np.float64)
                if out.lines is not None:
                    sizes = line_bytes(out.lines)
                vals = sizes
            else:
                vals = out.values if out.values is not None else np.zeros(len(ts))
            if out.labels is None:
                acc_bytes += self._add_by_metadata(acc, base, grouping, cols, out.index, ts, vals, budget)
            else:
                by_key: dict[_LABELS_KEY, list[int]] = {}
                for k, lbs in enumerate(out.labels):
                    by_key.setdefault(_key(self._group(lbs, grouping)), []).append(k)
                ctx.check()
                for key, ks in by_key.items():
                    sel = np.array(ks, dtype=np.int64)
                    acc_bytes += self._add(acc, dict(key), ts[sel], vals[sel], budget)
            budget.release(cols_bytes + out.charged)  # only ts and vals stay, in acc
        if op is RangeOp.ABSENT_OVER_TIME:
            absent = self._absent(expr, acc, steps, lr.range_ns)
            budget.release(acc_bytes)
            budget.charge(absent.values.nbytes)
            return absent
        labels_out: list[dict[str, str]] = []
        rows: list[np.ndarray] = []
        fn = rangeagg.RANGE_FUNCTIONS[_range_fn_name(op, lr.unwrap is not None)]
        row_bytes = 8 * len(steps)
        for lbs, ts_parts, val_parts in acc.values():
            ctx.check()
            ts = np.concatenate(ts_parts)
            vals = np.concatenate(val_parts)
            if len(ts_parts) > 1:
                order = np.argsort(ts, kind="stable")
                ts, vals = ts[order], vals[order]
            row = _apply_range_fn(
                fn, op, lr.unwrap is not None, expr.param, ts, vals, steps, lr.range_ns, ctx.check
            )
            if np.all(np.isnan(row)):
                continue
            budget.charge(row_bytes)
            labels_out.append(lbs)
            rows.append(row)
        budget.charge(row_bytes * len(rows))  # vstack copies the rows
        values = np.vstack(rows) if rows else np.empty((0, len(steps)))
        budget.release(row_bytes * len(rows) + acc_bytes)
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
        budget: QueryBudget,
    ) -> int:
        """Add entries to an output series; returns the bytes charged for a new series."""
        if not len(ts):
            return 0
        key = _key(labels)
        got = acc.get(key)
        if got is None:
            acc[key] = (labels, [ts], [vals])
            nbytes = 2 * labels_bytes([labels]) + _SERIES_BYTES  # the map and its key tuple
            budget.charge(nbytes)
            return nbytes
        got[1].append(ts)
        got[2].append(vals)
        return 0

    def _add_by_metadata(
        self,
        acc: dict[_LABELS_KEY, tuple[dict[str, str], list[np.ndarray], list[np.ndarray]]],
        base: dict[str, str],
        grouping: object,
        cols: LogColumns,
        idx: np.ndarray,
        ts: np.ndarray,
        vals: np.ndarray,
        budget: QueryBudget,
    ) -> int:
        """Add entries `idx` of `cols` (with their `ts` and `vals`) to the output series of
        their labels: the stream's plus each entry's structured metadata, then grouped."""
        if not cols.meta or not len(idx):
            return self._add(acc, self._group(base, grouping), ts, vals, budget)
        inverse, blobs = _meta_groups(cols.meta, cols.meta_ends, np.asarray(idx, dtype=np.int64), budget)
        order = np.argsort(inverse, kind="stable")  # stable: each group keeps time order
        edges = np.searchsorted(inverse[order], np.arange(len(blobs) + 1))
        added = 0
        for g, blob in enumerate(blobs):
            sel = order[edges[g] : edges[g + 1]]
            md = _decode_meta(blob)
            labels = {**base, **metadata_labels(md, base)} if md else base
            added += self._add(acc, self._group(labels, grouping), ts[sel], vals[sel], budget)
        return added

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
        # The answer's points, each copied into a Series (16 bytes) and then rendered.
        ctx.budget.charge(int(np.count_nonzero(~np.isnan(value.values))) * (16 + POINT_BYTES))
        matrix = []
        for lbs, row in zip(value.labels, value.values):
            present = ~np.isnan(row)
            if present.any():
                matrix.append(Series(lbs, steps[present], row[present]))
        return QueryResult(ResultType.MATRIX, matrix=matrix)


def _has_approx_topk(expr: Expr) -> bool:
    """Loki runs approx_topk as a count-min sketch, which it refuses in range queries."""
    if isinstance(expr, VectorAggregation):
        return expr.op is VectorOp.APPROX_TOPK or _has_approx_topk(expr.expr)
    if isinstance(expr, BinOpExpr):
        return _has_approx_topk(expr.lhs) or _has_approx_topk(expr.rhs)
    if isinstance(expr, LabelReplaceExpr):
        return _has_approx_topk(expr.expr)
    return False


def _replace(
    budget: QueryBudget,
    work: int,
    operands: list[vectorops.StepMatrix],
    out: vectorops.StepMatrix | float,
) -> vectorops.StepMatrix | float:
    """Swap the charge for an operation's working arrays and operands for its result's."""
    budget.release(work + sum(x.values.nbytes for x in operands))
    if isinstance(out, vectorops.StepMatrix):
        budget.charge(out.values.nbytes)
    return out


def _windows(cols: LogColumns, limit: int, forward: bool, allowed: bool) -> Iterator[LogColumns]:
    """A chunk's entries in windows from the query's end (newest first for backward), each
    twice the one before, starting at twice the limit. A log query needs only the `limit`
    entries nearest its end, so once those are found the older windows are never run through
    the pipeline, and a limit-1000 query over a 100,000-line head series touches 2,000 lines.
    Not `allowed` (step-deduplicated queries see every entry) or a small chunk: one window."""
    n = len(cols)
    size = max(2 * limit, 1024)
    if not allowed or n <= size:
        yield cols
        return
    lo, hi = (0, 0) if forward else (n, n)
    while (hi < n) if forward else (lo > 0):
        if forward:
            lo, hi = hi, min(n, hi + size)
        else:
            lo, hi = max(0, lo - size), lo
        yield cols.take(np.arange(lo, hi, dtype=np.int64))
        size *= 2


_META_VECTOR_MAX = 255  # longest metadata grouped as a numpy row; longer goes through a dict


def _meta_groups(
    meta: bytes, meta_ends: np.ndarray, idx: np.ndarray, budget: QueryBudget
) -> tuple[np.ndarray, list[bytes]]:
    """Entries `idx` grouped by their structured metadata bytes: each entry's group number
    and each group's bytes. Metadata repeats a few values (`detected_level` and the like), so
    the rows are padded to one width (length first, so padding never collides) and
    np.unique groups them; only the distinct values are decoded in Python."""
    ends = meta_ends[idx]
    starts = np.where(idx > 0, meta_ends[np.maximum(idx - 1, 0)], 0)
    lens = ends - starts
    width = int(lens.max()) if len(idx) else 0
    if width > _META_VECTOR_MAX:
        index: dict[bytes, int] = {}
        groups = np.empty(len(idx), dtype=np.int64)
        for k, (a, b) in enumerate(zip(starts.tolist(), ends.tolist())):
            groups[k] = index.setdefault(meta[a:b], len(index))
        return groups, list(index)
    nbytes = 2 * len(idx) * (width + 1)
    budget.charge(nbytes)
    rows = np.zeros((len(idx), width + 1), dtype=np.uint8)
    rows[:, 0] = lens
    offsets = np.arange(width)
    inside = offsets[None, :] < lens[:, None]
    rows[:, 1:][inside] = np.frombuffer(meta, dtype=np.uint8)[(starts[:, None] + offsets[None, :])[inside]]
    keys = rows.view(np.dtype((np.void, width + 1))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    blobs = [rows[i, 1 : 1 + rows[i, 0]].tobytes() for i in first.tolist()]
    budget.release(nbytes)
    return inverse.reshape(-1).astype(np.int64), blobs


def _first_distinct(rows: list, limit: int) -> list:  # type: ignore[type-arg]
    """The first `limit` sorted rows, skipping repeats of the same (ts, stream, line)."""
    out = []
    prev = None
    for r in rows:
        ident = (r[0], r[1], r[2])
        if ident == prev:
            continue
        prev = ident
        out.append(r)
        if len(out) >= limit:
            break
    return out


def _columns_bytes(cols: LogColumns) -> int:
    """What decoded chunk columns hold: line and metadata bytes and three int64 arrays."""
    return len(cols.data) + len(cols.meta) + 24 * len(cols)


def _fmt(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _split_metadata(lbs: dict[str, str], meta: bytes, stream: dict[str, str]) -> tuple[dict[str, str], bytes]:
    """A per-line pipeline's labels already hold the entry's structured metadata (the stages
    saw it, a name shared with a stream label suffixed). Keep as metadata only what is still
    there unchanged, so a `drop` or `keep` of a metadata label is not undone when rendering
    folds metadata back into the labels."""
    md = metadata_labels(_decode_meta(meta), stream)
    kept = {k: v for k, v in md.items() if lbs.get(k) == v}
    if not kept:
        return lbs, b""
    rest = {k: v for k, v in lbs.items() if k not in kept}
    return rest, json.dumps(kept, separators=(",", ":")).encode()


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
    check: Callable[[], None],
) -> np.ndarray:
    """Call a range function with its signature: count-like ones take no values; quantile,
    whose work grows with window length times steps, checks the deadline as it goes."""
    if op is RangeOp.COUNT_OVER_TIME or (op is RangeOp.RATE and not unwrapped):
        return fn(ts, steps, range_ns)  # type: ignore[operator]
    if op is RangeOp.QUANTILE_OVER_TIME:
        q = param if param is not None else 0.0
        return fn(q, ts, vals, steps, range_ns, check)  # type: ignore[operator]
    return fn(ts, vals, steps, range_ns)  # type: ignore[operator]
