"""Vector and matrix selection: raw samples in, whole step matrices out.

A query reads storage through one snapshot. Before evaluating, `plan_windows` walks the tree
once and works out, for every distinct set of matchers, the widest time range any evaluation
of it needs (offsets, `@`, range selectors and the subqueries around it included, as
Prometheus' `FindMinMaxTime`/`getTimeRangesForSelector` do). `SeriesCache` then fetches each
set once for that range, so an expression naming the same selector twice (or with two
offsets) decodes its chunks once.

Selection itself is one `searchsorted` per series over all step times:

* instant vector at lookup time `t`: the last sample in `(t - lookback, t]` (Prometheus 3's
  left-open lookback), absent when that sample is a staleness marker;
* range vector: the series' samples without staleness markers, and every step's window end;
  the range function finds its windows `(end - range, end]` itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from heron.model import STALE_NAN_BITS, Labels, Matcher
from heron.promql.syntax.ast import (
    AggregateExpr,
    AtModifier,
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
from heron.promql.value import EvalContext, RangeVector, Vector

__all__ = [
    "SeriesCache",
    "QueryTimes",
    "SelectorKey",
    "selector_key",
    "plan_windows",
    "at_time",
    "select_vector",
    "select_range",
    "stale_mask",
]

SelectorKey = tuple[Matcher, ...]
RawSeries = tuple[Labels, np.ndarray, np.ndarray]

# Series handled between two `ctx.check()` calls while selecting.
_BATCH = 256
# (series x steps) cells per vectorised selection batch: bounds its temporaries (~8 MB each).
_BATCH_CELLS = 1 << 20


@dataclass(frozen=True)
class QueryTimes:
    """What every part of one query's evaluation shares: the outer query's start and end
    (`@ start()`/`@ end()` and the selector windows), lookback and default subquery step."""

    start_ms: int
    end_ms: int
    lookback_ms: int
    default_step_ms: int


def selector_key(vs: VectorSelector) -> SelectorKey:
    """Matchers in a canonical order: `{a="1",b="2"}` and `{b="2",a="1"}` share one fetch."""
    return tuple(sorted(vs.matchers, key=lambda m: (m.name, m.op.value, m.value)))


def at_time(at: AtModifier | None, qt: QueryTimes) -> int | None:
    """The fixed evaluation time an `@` modifier names (ms), or None without one."""
    if at is None:
        return None
    if at.start_end == "start":
        return qt.start_ms
    if at.start_end == "end":
        return qt.end_ms
    return at.timestamp_ms


def stale_mask(values: np.ndarray) -> np.ndarray:
    """Where `values` holds Prometheus' staleness marker (that exact NaN, not any NaN)."""
    v = np.ascontiguousarray(values, dtype=np.float64)
    return v.view(np.uint64) == np.uint64(STALE_NAN_BITS)


def plan_windows(expr: Expr, qt: QueryTimes) -> dict[SelectorKey, tuple[int, int]]:
    """The [min, max] ms range each selector's series must be read over, for the whole query."""
    out: dict[SelectorKey, tuple[int, int]] = {}
    _plan(expr, qt, (), 0, out)
    return out


def _plan(
    node: Expr,
    qt: QueryTimes,
    subqueries: tuple[SubqueryExpr, ...],
    eval_range: int,
    out: dict[SelectorKey, tuple[int, int]],
) -> None:
    if isinstance(node, VectorSelector):
        lo, hi = _selector_range(node, qt, subqueries, eval_range)
        key = selector_key(node)
        if key in out:
            old_lo, old_hi = out[key]
            lo, hi = min(lo, old_lo), max(hi, old_hi)
        out[key] = (lo, hi)
    elif isinstance(node, MatrixSelector):
        _plan(node.vector, qt, subqueries, node.range_ms, out)
    elif isinstance(node, SubqueryExpr):
        _plan(node.expr, qt, (*subqueries, node), 0, out)
    elif isinstance(node, (ParenExpr, UnaryExpr)):
        _plan(node.expr, qt, subqueries, 0, out)
    elif isinstance(node, BinaryExpr):
        _plan(node.lhs, qt, subqueries, 0, out)
        _plan(node.rhs, qt, subqueries, 0, out)
    elif isinstance(node, AggregateExpr):
        if node.param is not None:
            _plan(node.param, qt, subqueries, 0, out)
        _plan(node.expr, qt, subqueries, 0, out)
    elif isinstance(node, Call):
        for arg in node.args:
            _plan(arg, qt, subqueries, 0, out)
    elif not isinstance(node, (NumberLiteral, StringLiteral)):
        raise TypeError(f"unknown PromQL node {type(node).__name__}")


def _selector_range(
    vs: VectorSelector, qt: QueryTimes, subqueries: Sequence[SubqueryExpr], eval_range: int
) -> tuple[int, int]:
    """Prometheus' getTimeRangesForSelector: the outer subqueries' offsets and ranges add up,
    an `@` on a subquery resets the sum, an `@` on the selector overrides everything."""
    start, end = qt.start_ms, qt.end_ms
    sub_offset = sub_range = 0
    sub_at: int | None = None
    for sq in subqueries:
        sub_offset += sq.offset_ms
        sub_range += sq.range_ms
        ts = at_time(sq.at, qt)
        if ts is not None:
            sub_offset, sub_range, sub_at = sq.offset_ms, sq.range_ms, ts
    if sub_at is not None:
        start = end = sub_at
    own_at = at_time(vs.at, qt)
    if own_at is not None:
        start = end = own_at
    else:
        start -= sub_offset + sub_range
        end -= sub_offset
    start -= (qt.lookback_ms if eval_range == 0 else eval_range) - 1
    return start - vs.offset_ms, end - vs.offset_ms


class SeriesCache:
    """Each selector's series, fetched from the query's one snapshot the first time it is
    needed, over the widest range `plan_windows` found for it."""

    def __init__(self, snapshot: object, windows: dict[SelectorKey, tuple[int, int]]) -> None:
        self._snapshot = snapshot
        self._windows = windows
        self._fetched: dict[SelectorKey, list[RawSeries]] = {}
        self.samples_read = 0

    def series(self, vs: VectorSelector) -> list[RawSeries]:
        key = selector_key(vs)
        got = self._fetched.get(key)
        if got is None:
            lo, hi = self._windows[key]
            raw = self._snapshot.samples(list(key), lo, hi)  # type: ignore[attr-defined]
            got = [
                (labels, np.asarray(ts, dtype=np.int64), np.asarray(vals, dtype=np.float64))
                for labels, ts, vals in raw
            ]
            self.samples_read += sum(len(ts) for _, ts, _ in got)
            self._fetched[key] = got
        return got


def _batches(items: Sequence[RawSeries], ctx: EvalContext) -> Iterable[RawSeries]:
    for i, item in enumerate(items):
        if i % _BATCH == 0:
            ctx.check()
        yield item


def select_vector(
    series: Sequence[RawSeries], lookup: np.ndarray, lookback_ms: int, ctx: EvalContext
) -> Vector:
    """The instant vector at every lookup time (step time minus offset, or the `@` time):
    each series' last sample in `(t - lookback, t]` unless it is a staleness marker. Series
    with no sample at any step are left out, as Prometheus' evalSeries leaves them out.

    Series are handled a batch at a time, each batch with one `searchsorted` over all its
    samples laid end to end (series `i`'s times shifted by `i * span`, so the flat array
    stays sorted and no lookup can land in a neighbour)."""
    n = len(lookup)
    lookup = np.asarray(lookup, dtype=np.int64)
    parts: list[tuple[list[Labels], np.ndarray, np.ndarray, np.ndarray]] = []
    size = min(8192, max(16, _BATCH_CELLS // max(n, 1)))
    for a in range(0, len(series), size):
        ctx.check()
        batch = [s for s in series[a : a + size] if len(s[1])]
        if batch:
            parts.append(_select_batch(batch, lookup, lookback_ms))
    labels = [ls for p in parts for ls in p[0]]
    if not labels:
        return Vector.empty(n)
    return Vector(
        labels,
        np.vstack([p[1] for p in parts]),
        np.vstack([p[2] for p in parts]),
        None,
        np.vstack([p[3] for p in parts]),
    )


def _select_batch(
    batch: Sequence[RawSeries], lookup: np.ndarray, lookback_ms: int
) -> tuple[list[Labels], np.ndarray, np.ndarray, np.ndarray]:
    # Only samples in (first lookup - lookback, last lookup] can be chosen: an instant query
    # concatenates a few samples per series, not the whole fetched span.
    lo_t, hi_t = int(lookup.min()) - lookback_ms, int(lookup.max())
    cuts = [np.searchsorted(ts, (lo_t, hi_t), "right") for _, ts, _ in batch]
    lens = np.array([b - a for a, b in cuts], dtype=np.int64)
    first = np.concatenate([[0], np.cumsum(lens)[:-1]])
    t = np.concatenate([ts[a:b] for (_, ts, _), (a, b) in zip(batch, cuts)] + [np.empty(0, np.int64)])
    v = np.concatenate([vs[a:b] for (_, _, vs), (a, b) in zip(batch, cuts)] + [np.empty(0)])
    if not len(t):
        return (
            [],
            np.empty((0, len(lookup))),
            np.zeros((0, len(lookup)), dtype=bool),
            np.empty((0, len(lookup)), np.int64),
        )
    t_min = min(int(t.min()), int(lookup.min()))
    span = max(int(t.max()), int(lookup.max())) - t_min + 1
    rows = np.arange(len(batch), dtype=np.int64)
    if span * len(batch) >= 2**62:  # shifted times would overflow: one series at a time
        idx = np.vstack(
            [
                np.searchsorted(t[f : f + k], lookup, "right") - 1 + f
                for f, k in zip(first.tolist(), lens.tolist())
            ]
        )
    else:
        key = np.repeat(rows * span, lens) + (t - t_min)
        idx = np.searchsorted(key, rows[:, None] * span + (lookup - t_min)[None, :], "right") - 1
    valid = idx >= first[:, None]
    safe = np.where(valid, idx, 0)
    sample_t = t[safe]
    present = valid & (sample_t > lookup[None, :] - lookback_ms) & ~stale_mask(v)[safe]
    values = np.where(present, v[safe], 0.0)
    keep = np.flatnonzero(present.any(axis=1))
    labels = [batch[i][0] for i in keep.tolist()]
    return labels, values[keep], present[keep], sample_t[keep]


def select_range(
    series: Sequence[RawSeries], ends: np.ndarray, range_ms: int, ctx: EvalContext
) -> tuple[RangeVector, int, int]:
    """The range vector over windows `(end - range, end]`: every series' non-stale samples
    from the first window's start to the last window's end (the cache holds a wider span
    when another use of the same selector needs one).

    Returns the vector, the largest single series' window total (what Prometheus holds at
    once while a range function walks series one by one) and the samples of all windows
    (Prometheus' total-samples figure)."""
    lo_t = int(ends.min()) - range_ms if len(ends) else 0
    hi_t = int(ends.max()) if len(ends) else -1
    labels: list[Labels] = []
    samples: list[tuple[np.ndarray, np.ndarray]] = []
    held = total = 0
    for ls, ts, vals in _batches(series, ctx):
        a, b = np.searchsorted(ts, [lo_t, hi_t], "right")
        t, v = ts[a:b], vals[a:b]
        keep = ~stale_mask(v)
        if not keep.all():
            t, v = t[keep], v[keep]
        if not len(t):
            continue
        counts = np.searchsorted(t, ends, "right") - np.searchsorted(t, ends - range_ms, "right")
        if not counts.any():
            continue
        labels.append(ls)
        samples.append((t, v))
        held = max(held, int(counts.max()))
        total += int(counts.sum())
    return RangeVector(labels, samples, ends, range_ms), held, total
