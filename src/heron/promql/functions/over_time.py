"""The `*_over_time` family: one aggregate of each window's samples.

Each matches Prometheus 3's `promql/functions.go` for float samples:

* `sum_over_time` is a Kahan (Neumaier) sum and `avg_over_time` a Kahan sum over the count,
  both over window rows (`windows.kahan_rows`); a window whose running sum would overflow
  takes Prometheus' incremental mean instead, replayed one sample position at a time.
  `stddev_over_time`/`stdvar_over_time` use Welford's method with Kahan-compensated mean and
  sum of squares, whose every step depends on the last, so they always walk positions
  (`windows.positions`).
* `min_over_time`/`max_over_time` ignore NaN unless the window is all NaN (`np.fmin`/`np.fmax`
  reductions); `ts_of_min_over_time`/`ts_of_max_over_time` report the last sample holding it.
* `quantile_over_time` and `mad_over_time` sort each window (NaN first, as Prometheus'
  `vectorByValueHeap` orders them) in chunks of a padded windows-by-samples matrix.
* `count`, `first`, `last`, `present` and the `ts_of_first`/`ts_of_last` functions read the
  window bounds; `absent_over_time` answers for the selector as a whole.

`mad_over_time` and the four `ts_of_*_over_time` functions are experimental in Prometheus
(behind `--enable-feature=promql-experimental-functions`); Heron implements them like the rest.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from heron.model import MatchOp, labels_from
from heron.promql.functions.rates import range_arg
from heron.promql.functions.windows import (
    Windows,
    go_float,
    kahan_inc,
    kahan_rows,
    positions,
    result,
    rows,
    step_scalar,
)
from heron.promql.syntax.ast import Call, MatrixSelector
from heron.promql.value import EvalContext, RangeVector, Scalar, Value, Vector

__all__ = ["OVER_TIME_FUNCTIONS", "EXPERIMENTAL"]

EXPERIMENTAL = frozenset(
    {
        "mad_over_time",
        "ts_of_min_over_time",
        "ts_of_max_over_time",
        "ts_of_last_over_time",
        "ts_of_first_over_time",
    }
)


def _windows(args: list[Value]) -> tuple[RangeVector, Windows, np.ndarray]:
    rv = range_arg(args)
    w = Windows.of(rv)
    return rv, w, w.count >= 1


def sum_over_time(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    rv, w, ok = _windows(args)
    out = np.zeros(w.shape)
    flat = out.reshape(-1)
    for cells, values, _, _, _ in rows(w, ok, ctx):
        total, comp, _ = kahan_rows(values)
        flat[cells] = np.where(np.isinf(total), total, total + comp)
    return result(rv, out, ok)


def avg_over_time(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    """Kahan sum over count while the running sum stays finite (`kahan_rows`); the windows where
    it would overflow take Prometheus' incremental mean instead (`_incremental_avg`)."""
    rv, w, ok = _windows(args)
    out = np.zeros(w.shape)
    flat = out.reshape(-1)
    overflowed = np.zeros(w.shape, dtype=bool)
    for cells, values, _, n, _ in rows(w, ok, ctx):
        total, comp, running = kahan_rows(values)
        flat[cells] = total / n + comp / n
        overflowed.reshape(-1)[cells] = np.isinf(running).any(axis=1)
    if overflowed.any():
        out = np.where(overflowed, _incremental_avg(w, ok, ctx), out)
    return result(rv, out, ok)


def _incremental_avg(w: Windows, ok: np.ndarray, ctx: EvalContext) -> np.ndarray:
    """Prometheus' avg_over_time loop replayed position by position: a Kahan sum until it would
    overflow, then from there the incremental mean `mean * (k-1)/k + v/k`, Kahan-compensated."""
    total = w.at(w.lo, ok)
    comp = np.zeros(w.shape)
    mean = np.zeros(w.shape)
    incremental = np.zeros(w.shape, dtype=bool)
    for k, active, value in positions(w, ctx, start=1):
        count = float(k + 1)
        direct = active & ~incremental
        new_total, new_comp = kahan_inc(value, total, comp)
        keep = direct & ~np.isinf(new_total)
        switch = direct & np.isinf(new_total)
        total = np.where(keep, new_total, total)
        comp = np.where(keep, new_comp, comp)
        mean = np.where(switch, total / (count - 1), mean)
        comp = np.where(switch, comp / (count - 1), comp)
        incremental |= switch
        if not incremental.any():
            continue
        step = active & incremental
        q = (count - 1) / count
        new_mean, new_comp = kahan_inc(value / count, q * mean, q * comp)
        mean = np.where(step, new_mean, mean)
        comp = np.where(step, new_comp, comp)
    n = np.maximum(w.count, 1).astype(np.float64)
    return np.where(incremental, mean + comp, total / n + comp / n)


def count_over_time(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    rv, w, ok = _windows(args)
    return result(rv, w.count.astype(np.float64), ok)


def _variance(args: list[Value], ctx: EvalContext) -> tuple[RangeVector, np.ndarray, np.ndarray]:
    """Welford's running variance with Kahan-compensated mean and sum of squared deviations."""
    rv, w, ok = _windows(args)
    shape = w.shape
    mean, c_mean, aux, c_aux = (np.zeros(shape) for _ in range(4))
    with np.errstate(all="ignore"):
        for k, active, value in positions(w, ctx):
            count = float(k + 1)
            delta = value - (mean + c_mean)
            new_mean, new_c_mean = kahan_inc(delta / count, mean, c_mean)
            mean, c_mean = np.where(active, new_mean, mean), np.where(active, new_c_mean, c_mean)
            new_aux, new_c_aux = kahan_inc(delta * (value - (mean + c_mean)), aux, c_aux)
            aux, c_aux = np.where(active, new_aux, aux), np.where(active, new_c_aux, c_aux)
        variance = (aux + c_aux) / np.maximum(w.count, 1)
    return rv, variance, ok


def stdvar_over_time(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    rv, variance, ok = _variance(args, ctx)
    return result(rv, variance, ok)


def stddev_over_time(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    rv, variance, ok = _variance(args, ctx)
    with np.errstate(invalid="ignore"):
        return result(rv, np.sqrt(variance), ok)


def _reduce(w: Windows, ok: np.ndarray, ufunc: np.ufunc) -> np.ndarray:
    """`ufunc.reduceat` over every non-empty window (windows may overlap)."""
    out = np.zeros(w.shape)
    if not ok.any():
        return out
    # reduceat over interleaved (lo, hi) bounds reduces v[lo:hi] at even positions; a sentinel
    # sample keeps `hi == len(v)` a valid index.
    padded = np.concatenate([w.v, [0.0]])
    bounds = np.stack([w.lo[ok], w.hi[ok]], axis=1).ravel()
    out[ok] = ufunc.reduceat(padded, bounds)[::2]
    return out


def max_over_time(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    rv, w, ok = _windows(args)
    return result(rv, _reduce(w, ok, np.fmax), ok)


def min_over_time(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    rv, w, ok = _windows(args)
    return result(rv, _reduce(w, ok, np.fmin), ok)


def _ts_of_extreme(args: list[Value], ctx: EvalContext, take_max: bool) -> Vector:
    """Seconds of the last sample holding the window's max (min); NaN is never chosen over a
    number, and an all-NaN window reports its last sample.

    Prometheus' loop takes a sample when it is >= (<=) the best so far or the best is NaN; the
    last one taken is the last sample equal to the final best, which is the NaN-ignoring
    max (min), or simply the last sample when all are NaN."""
    rv, w, ok = _windows(args)
    out = np.zeros(w.shape)
    flat = out.reshape(-1)
    for cells, values, inside, n, index in rows(w, ok, ctx):
        padded = np.where(inside, values, np.nan)
        best = (np.fmax if take_max else np.fmin).reduce(padded, axis=1)
        hit = inside & (padded == best[:, None])
        # The last hit per row (argmax of the reversed row), else the last sample.
        last_hit = hit.shape[1] - 1 - np.argmax(hit[:, ::-1], axis=1)
        position = np.where(hit.any(axis=1), last_hit, n - 1)
        chosen = np.take_along_axis(index, position[:, None], axis=1)[:, 0]
        flat[cells] = w.t[chosen].astype(np.float64) / 1000
    return result(rv, out, ok)


def ts_of_max_over_time(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    return _ts_of_extreme(args, ctx, take_max=True)


def ts_of_min_over_time(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    return _ts_of_extreme(args, ctx, take_max=False)


def last_over_time(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    rv, w, ok = _windows(args)
    return result(rv, w.at(w.hi - 1, ok), ok, keep_name=True)


def first_over_time(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    rv, w, ok = _windows(args)
    return result(rv, w.at(w.lo, ok), ok, keep_name=True)


def ts_of_last_over_time(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    rv, w, ok = _windows(args)
    return result(rv, w.t_at(w.hi - 1, ok).astype(np.float64) / 1000, ok)


def ts_of_first_over_time(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    rv, w, ok = _windows(args)
    return result(rv, w.t_at(w.lo, ok).astype(np.float64) / 1000, ok)


def present_over_time(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    rv, w, ok = _windows(args)
    return result(rv, np.ones(w.shape), ok)


def absent_labels(call: Call) -> tuple[tuple[str, str], ...]:
    """Prometheus' `createLabelsForAbsentFunction`: the labels the selector pins with `=`.

    A label named by a second matcher of any kind (or by a non-equality matcher at all) is
    removed, a backwards-compatible quirk Prometheus keeps (`x{job="a",job="b"}` has no job).
    A subquery argument gives no labels."""
    arg = call.args[0] if call.args else None
    if not isinstance(arg, MatrixSelector):
        return ()
    chosen: dict[str, str] = {}
    seen: set[str] = set()
    for m in arg.vector.matchers:
        if m.name == "__name__":
            continue
        if m.op is MatchOp.EQ and m.name not in seen:
            chosen[m.name] = m.value
            seen.add(m.name)
        else:
            chosen.pop(m.name, None)
    return labels_from(chosen)


def absent_over_time(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    """1 at the steps where no series of the argument has a sample in its window; no series at
    all when every step has one."""
    rv, w, ok = _windows(args)
    absent = ~ok.any(axis=0) if len(rv.labels) else np.ones(len(rv.ends), dtype=bool)
    if not absent.any():
        return Vector.empty(len(rv.ends))
    values = np.where(absent, 1.0, 0.0)[None, :]
    return Vector([absent_labels(call)], values, absent[None, :].copy(), np.ones(1, dtype=bool))


def _sorted_windows(
    w: Windows, ok: np.ndarray, ctx: EvalContext
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield `(cells, sorted, nan_count, n)` per chunk of non-empty windows: `sorted` holds each
    window's non-NaN values ascending, padded with +Inf; Prometheus orders NaN before every
    number, so a window's i-th value is NaN for i < nan_count and `sorted[i - nan_count]` after."""
    for cells, values, inside, n, _ in rows(w, ok, ctx):
        nan = np.isnan(values) & inside
        values = np.where(inside & ~nan, values, np.inf)
        values.sort(axis=1)
        yield cells, values, nan.sum(axis=1), n


def _pick(values: np.ndarray, nan_count: np.ndarray, index: np.ndarray) -> np.ndarray:
    """The `index`-th value of each window in Prometheus' order (NaN first)."""
    shifted = np.clip(index - nan_count, 0, values.shape[1] - 1)
    picked = np.take_along_axis(values, shifted[:, None], axis=1)[:, 0]
    return np.where(index < nan_count, np.nan, picked)


def _quantile(q: np.ndarray, values: np.ndarray, nan_count: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Prometheus' `quantile`: linear interpolation between the two closest ranks."""
    with np.errstate(all="ignore"):
        qc = np.clip(np.nan_to_num(q, nan=0.0), 0.0, 1.0)
        rank = qc * (n - 1)
        lower = np.maximum(0.0, np.floor(rank))
        upper = np.minimum(n - 1, lower + 1)
        weight = rank - np.floor(rank)
        low_v = _pick(values, nan_count, lower.astype(np.int64))
        up_v = _pick(values, nan_count, upper.astype(np.int64))
        out = low_v * (1 - weight) + up_v * weight
        out = np.where(q < 0, -np.inf, np.where(q > 1, np.inf, out))
        return np.where(np.isnan(q), np.nan, out)


def quantile_over_time(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    rv, w, ok = _windows(args)
    phi_arg = next(a for a in args if isinstance(a, (Scalar, Vector)))
    phi = step_scalar(phi_arg, w.shape)
    pos = call.args[0].pos if call.args else None
    with np.errstate(invalid="ignore"):
        invalid = ok & (np.isnan(phi) | (phi < 0) | (phi > 1))
    for q in dict.fromkeys(phi[invalid].tolist()):
        ctx.warn(f"quantile value should be between 0 and 1, got {go_float(q)}", pos)
    out = np.zeros(w.shape)
    flat_out, flat_phi = out.reshape(-1), np.ascontiguousarray(phi).reshape(-1)
    for cells, values, nan_count, n in _sorted_windows(w, ok, ctx):
        flat_out[cells] = _quantile(flat_phi[cells], values, nan_count, n.astype(np.float64))
    return result(rv, out, ok)


def mad_over_time(call: Call, args: list[Value], ctx: EvalContext) -> Vector:
    """Median absolute deviation from the median; NaN when the window holds a NaN."""
    rv, w, ok = _windows(args)
    out = np.zeros(w.shape)
    flat_out = out.reshape(-1)
    for cells, values, nan_count, n in _sorted_windows(w, ok, ctx):
        nf = n.astype(np.float64)
        half = np.full(len(cells), 0.5)
        none = np.zeros(len(cells), dtype=np.int64)
        with np.errstate(invalid="ignore"):
            median = _quantile(half, values, none, nf)
            inside = np.arange(values.shape[1])[None, :] < n[:, None]
            deviations = np.abs(values - median[:, None])
            nan = inside & np.isnan(deviations)  # |Inf - Inf|, ordered first again
            deviations = np.where(inside & ~nan, deviations, np.inf)
        deviations.sort(axis=1)
        mad = _quantile(half, deviations, nan.sum(axis=1), nf)
        flat_out[cells] = np.where(nan_count > 0, np.nan, mad)
    return result(rv, out, ok)


OVER_TIME_FUNCTIONS = {
    "sum_over_time": sum_over_time,
    "avg_over_time": avg_over_time,
    "count_over_time": count_over_time,
    "min_over_time": min_over_time,
    "max_over_time": max_over_time,
    "quantile_over_time": quantile_over_time,
    "stddev_over_time": stddev_over_time,
    "stdvar_over_time": stdvar_over_time,
    "last_over_time": last_over_time,
    "first_over_time": first_over_time,
    "present_over_time": present_over_time,
    "absent_over_time": absent_over_time,
    "mad_over_time": mad_over_time,
    "ts_of_min_over_time": ts_of_min_over_time,
    "ts_of_max_over_time": ts_of_max_over_time,
    "ts_of_last_over_time": ts_of_last_over_time,
    "ts_of_first_over_time": ts_of_first_over_time,
}
