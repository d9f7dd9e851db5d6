"""Counter and gauge change functions: rate, increase, delta, irate, idelta, resets, changes.

Each follows Prometheus 3's `promql/functions.go` (`extrapolatedRate`, `instantValue`,
`funcResets`, `funcChanges`) for float samples, evaluated for every (series, step) window at
once. Prometheus' start-timestamp handling (an experimental feature fed by samples' created
timestamps) and the `anchored`/`smoothed` selector modifiers have no input here: Heron's
samples carry no start timestamps and its selectors no such modifiers.
"""

from __future__ import annotations

import json

import numpy as np

from heron.promql.functions.windows import Windows, result, rows
from heron.promql.syntax.ast import Call, MatrixSelector
from heron.promql.syntax.errors import PosRange
from heron.promql.value import EvalContext, RangeVector, Value, Vector

__all__ = ["RATE_FUNCTIONS", "range_arg", "matrix_pos"]

_COUNTER_SUFFIXES = ("_total", "_sum", "_count", "_bucket")
_NOT_COUNTER = "metric might not be a counter, name does not end in _total/_sum/_count/_bucket"


def range_arg(args: list[Value]) -> RangeVector:
    for arg in args:
        if isinstance(arg, RangeVector):
            return arg
    raise TypeError("range function called without a range vector argument")


def matrix_pos(call: Call) -> PosRange:
    """The position Prometheus reports for the matrix argument in annotations.

    A matrix selector reports its own range. A subquery does not: Prometheus' engine swaps the
    subquery argument for a matrix selector it builds without a position before calling the
    function, so annotations about it point at the query's first character."""
    for arg in call.args:
        if isinstance(arg, MatrixSelector):
            return arg.pos
    return PosRange(0, 0)


def _counter_resets(w: Windows) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices `i` where a series' value drops (`v[i] < v[i-1]`) and the value lost there."""
    drop = np.zeros(len(w.v), dtype=bool)
    if len(w.v) > 1:
        with np.errstate(invalid="ignore"):
            drop[1:] = w.v[1:] < w.v[:-1]
    drop[w.first_of_series[w.first_of_series < len(drop)]] = False
    where = np.flatnonzero(drop)
    return where, w.v[where - 1] if len(where) else np.empty(0)


# Past this many resets in one window, the lost values are summed over window rows.
_FEW_RESETS = 16


def _add_resets(
    w: Windows, ok: np.ndarray, first: np.ndarray, last: np.ndarray, res: np.ndarray, ctx: EvalContext
) -> np.ndarray:
    """`res` plus each value lost at a reset inside the window, added in sample order as
    Prometheus does. Counters reset rarely, so this loops over the few resets per window; a
    gauge fed to `rate` may drop at every other sample, and then a `cumsum` along each window's
    row of lost values (0 where nothing was lost, which adds exactly nothing) does the same
    additions in the same order."""
    where, lost = _counter_resets(w)
    a = np.searchsorted(where, first, "right")
    b = np.searchsorted(where, last, "right")
    n_resets = np.where(ok, b - a, 0)
    most = int(n_resets.max()) if n_resets.size else 0
    if most <= _FEW_RESETS:
        for k in range(most):
            ctx.check()
            active = n_resets > k
            res = np.where(active, res + lost[np.where(active, a + k, 0)], res)
        return res
    losses = np.zeros(len(w.v))
    losses[where] = lost
    with_resets = n_resets > 0
    out = res.copy()
    flat_out, flat_res = out.reshape(-1), res.reshape(-1)
    lossy = Windows(w.t, losses, w.lo, w.hi, w.starts, w.ends, w.first_of_series)
    for cells, values, _, _, _ in rows(lossy, with_resets, ctx):
        # The window's first sample has no predecessor: nothing lost there.
        values[:, 0] = flat_res[cells]
        flat_out[cells] = np.cumsum(values, axis=1)[:, -1]
    return out


def _extrapolated_rate(
    call: Call, args: list[Value], ctx: EvalContext, counter: bool, per_second: bool
) -> Vector:
    """Prometheus' `extrapolatedRate` for float samples: the change over the window, corrected for
    counter resets, extrapolated towards the window's edges (all the way when the first or last
    sample is within 1.1 average intervals of the edge, else half an interval), never below zero
    for a counter."""
    rv = range_arg(args)
    w = Windows.of(rv)
    ok = w.count >= 2
    first = w.lo
    last = np.where(ok, w.hi - 1, w.lo)
    v_first, v_last = w.at(first, ok), w.at(last, ok)
    with np.errstate(all="ignore"):
        res = v_last - v_first
        if counter:
            res = _add_resets(w, ok, first, last, res, ctx)
        t_first = w.t_at(first, ok)
        t_last = w.t_at(last, ok)
        to_start = (t_first - w.starts).astype(np.float64) / 1000
        to_end = (w.ends - t_last).astype(np.float64) / 1000
        sampled = (t_last - t_first).astype(np.float64) / 1000
        average = sampled / np.maximum(w.count - 1, 1)
        threshold = average * 1.1
        to_start = np.where(to_start >= threshold, average / 2, to_start)
        if counter:
            to_zero = np.where((res > 0) & (v_first >= 0), sampled * (v_first / res), to_start)
            to_start = np.where(to_zero < to_start, to_zero, to_start)
        to_end = np.where(to_end >= threshold, average / 2, to_end)
        spread = np.where(sampled != 0, sampled, 1.0)
        factor = np.where(sampled != 0, (sampled + to_start + to_end) / spread, 1.0)
        if per_second:
            factor = factor / (rv.range_ms / 1000)
        res = res * factor
    if call.func in ("rate", "increase"):
        _warn_not_counter(call, rv, ok, ctx)
    return result(rv, res, ok)


def _warn_not_counter(call: Call, rv: RangeVector, present: np.ndarray, ctx: EvalContext) -> None:
    """Prometheus' info for `rate`/`increase` over a series whose name does not look like a
    counter's, once per name, for series that produced at least one value."""
    pos = matrix_pos(call)
    produced = present.any(axis=1) if present.size else np.zeros(len(rv.labels), dtype=bool)
    for labels, any_out in zip(rv.labels, produced.tolist()):
        if not any_out:
            continue
        name = dict(labels).get("__name__", "")
        if name and not name.endswith(_COUNTER_SUFFIXES):
            quoted = json.dumps(name, ensure_ascii=False)
            ctx.info(f"{_NOT_COUNTER}: {quoted}", pos)


def rate(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    return _extrapolated_rate(call, args, ctx, counter=True, per_second=True)


def increase(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    return _extrapolated_rate(call, args, ctx, counter=True, per_second=False)


def delta(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    return _extrapolated_rate(call, args, ctx, counter=False, per_second=False)


def _instant_value(args: list[Value], per_second: bool) -> Vector:
    """Prometheus' `instantValue`: from the window's last two samples, their difference (`idelta`)
    or per-second rate (`irate`, where a drop counts the new value as the whole increase)."""
    rv = range_arg(args)
    w = Windows.of(rv)
    ok = w.count >= 2
    i1 = np.where(ok, w.hi - 1, 0)
    i0 = np.where(ok, w.hi - 2, 0)
    v0, v1 = w.at(i0, ok), w.at(i1, ok)
    interval = w.t_at(i1, ok) - w.t_at(i0, ok)
    ok = ok & (interval != 0)
    with np.errstate(all="ignore"):
        if per_second:
            res = np.where(v1 < v0, v1, v1 - v0) / (np.where(ok, interval, 1).astype(np.float64) / 1000)
        else:
            res = v1 - v0
    return result(rv, res, ok)


def irate(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    return _instant_value(args, per_second=True)


def idelta(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    return _instant_value(args, per_second=False)


def resets(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    """How many times each window's value drops (any decrease counts as a counter reset)."""
    rv = range_arg(args)
    w = Windows.of(rv)
    flags = np.zeros(len(w.v), dtype=bool)
    if len(w.v) > 1:
        with np.errstate(invalid="ignore"):
            flags[1:] = w.v[1:] < w.v[:-1]
    counts, ok = w.pair_flags(flags)
    return result(rv, counts.astype(np.float64), ok)


def changes(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    """How many times each window's value differs from the previous one (NaN to NaN is no change)."""
    rv = range_arg(args)
    w = Windows.of(rv)
    flags = np.zeros(len(w.v), dtype=bool)
    if len(w.v) > 1:
        prev, cur = w.v[:-1], w.v[1:]
        flags[1:] = (cur != prev) & ~(np.isnan(cur) & np.isnan(prev))
    counts, ok = w.pair_flags(flags)
    return result(rv, counts.astype(np.float64), ok)


RATE_FUNCTIONS = {
    "rate": rate,
    "increase": increase,
    "delta": delta,
    "irate": irate,
    "idelta": idelta,
    "resets": resets,
    "changes": changes,
}
