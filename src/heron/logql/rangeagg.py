"""LogQL range aggregations over the entries of one series, evaluated at many steps at once.

These are the numeric kernels behind `count_over_time({...}[5m])`, `rate(...)`,
`sum_over_time(... | unwrap x [5m])` and friends. They take plain numpy arrays (no AST, no labels),
so each is testable on its own and the engine calls them once per series per query.

Window semantics (Loki 3.x `batchRangeVectorIterator.load`/`popBack`): the window of the step
evaluated at time `t` is **left-open, right-closed**, `(t - range, t]`. An entry stamped exactly
`t - range` is *not* in the window; an entry stamped exactly `t` is. Loki skips
`sample.Timestamp <= start` and stops at `sample.Timestamp > end`; we get the same bounds from
`np.searchsorted(ts, t - range, "right")` and `np.searchsorted(ts, t, "right")`.

Output convention: a float64 array with one value per step, NaN where Loki produces no point
(the window holds no entries), except `absent_over_time`, which is 1 exactly where the window is
empty. A genuine NaN *result* (e.g. `sum_over_time` of an unwrapped "NaN") is therefore
indistinguishable from "no point"; Loki rarely produces such values and the step matrices in
`heron.logql.vectorops` use the same convention.

How windows are reduced without a Python loop per entry or per window:

* count, bytes: integer positions and int64 prefix sums -- exact.
* sum, avg, min, max, stddev, stdvar, rate_counter's reset correction: every window is a union of
  consecutive *elementary segments* between the sorted, deduplicated window boundaries (at most
  `2 * len(steps)` of them). Each segment is reduced once with `ufunc.reduceat` (O(entries)), and
  each window is then answered from a small segment tree over the segments (O(steps * log steps)).
  Unlike `cumsum[hi] - cumsum[lo]`, no window's sum is the difference of two large running totals,
  so there is no catastrophic cancellation (a 1e17 entry early in the series cannot wipe out the
  fractional sums of later windows), and integer-valued data sums exactly while partial sums stay
  below 2**53. Overlapping windows (range > step) cost nothing extra.
* stddev/stdvar: per-segment (count, mean, M2) from a corrected two-pass, combined with Chan et
  al.'s pairwise formula in the tree: numerically stable for data with a large common offset.
* quantile: windows are gathered, in bounded chunks of similar length, into a +Inf-padded
  (windows x length) block sorted row-wise by one `np.sort` per chunk.

Results can differ from Loki's in the last bits for float data: Loki adds sequentially and uses an
incremental mean (avg) and Welford (stddev); integer-valued data gives identical results.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

__all__ = [
    "count_over_time",
    "rate",
    "bytes_over_time",
    "bytes_rate",
    "absent_over_time",
    "sum_over_time",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "quantile_over_time",
    "first_over_time",
    "last_over_time",
    "rate_unwrapped",
    "rate_counter",
    "step_times",
    "MAX_POINTS",
    "RESOLUTION_ERROR",
    "window_bounds",
    "range_seconds",
    "apply_range_function",
    "RANGE_FUNCTIONS",
    "LOG_RANGE_FUNCTIONS",
    "UNWRAP_RANGE_FUNCTIONS",
]

_Arrays = tuple[np.ndarray, ...]
_Combine = Callable[[_Arrays, _Arrays], _Arrays]

# Cells (windows x longest window) gathered at once by quantile_over_time: bounds its memory.
_QUANTILE_CHUNK = 1 << 21

# Loki's and Prometheus' cap on the points of one range query series: (end - start) / step.
MAX_POINTS = 11_000
RESOLUTION_ERROR = (
    "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query "
    "resolution (?step=XX)"
)
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


# --------------------------------------------------------------------------- inputs and windows


def _as_ts(ts: npt.ArrayLike) -> np.ndarray:
    arr = np.asarray(ts, dtype=np.int64)
    if arr.ndim != 1:
        raise ValueError("timestamps must be a 1-D array")
    return arr


def _as_values(
    values: npt.ArrayLike, n: int, what: str = "values", dtype: npt.DTypeLike = np.float64
) -> np.ndarray:
    arr = np.asarray(values, dtype=dtype)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{what} must be a 1-D array with one element per timestamp ({n})")
    return arr


def _check_range(range_ns: int) -> int:
    r = int(range_ns)
    if r <= 0:
        raise ValueError(f"range must be positive, got {range_ns} ns")
    return r


def range_seconds(range_ns: int) -> float:
    """`time.Duration(range_ns).Seconds()` exactly as Go computes it (whole + fractional part).

    Go splits the duration into seconds and nanoseconds before converting, which is not always the
    same double as `range_ns / 1e9`; using Go's formula keeps `rate` bit-identical to Loki.
    """
    sec, nsec = divmod(int(range_ns), 1_000_000_000)
    return float(sec) + float(nsec) / 1e9


def window_bounds(ts: npt.ArrayLike, steps: npt.ArrayLike, range_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """Index bounds `[lo, hi)` of each step's window `(t - range, t]` in the sorted `ts`.

    `ts` must be sorted ascending (duplicates allowed); it is not checked, as that would cost a
    pass over every entry of every series.
    """
    ts_arr = _as_ts(ts)
    steps_arr = _as_ts(steps)
    r = _check_range(range_ns)
    lo = np.searchsorted(ts_arr, steps_arr - r, side="right")
    hi = np.searchsorted(ts_arr, steps_arr, side="right")
    return lo.astype(np.int64), hi.astype(np.int64)


def step_times(start_ns: int, end_ns: int, step_ns: int) -> np.ndarray:
    """Evaluation times of a range query: start, start+step, ... while <= end (Loki/Prometheus).

    An instant query is `start == end` (one step). `end < start` gives no steps; Loki's HTTP layer
    rejects that earlier. A non-positive step is an error (Loki: "zero or negative query
    resolution step widths are not accepted"), and so is more than MAX_POINTS steps (Loki's
    RESOLUTION_ERROR), found before anything is allocated, as are times outside int64.
    """
    start, end, step = int(start_ns), int(end_ns), int(step_ns)
    if step <= 0:
        raise ValueError("zero or negative query resolution step widths are not accepted")
    if end < start:
        return np.empty(0, dtype=np.int64)
    if (end - start) // step > MAX_POINTS:
        raise ValueError(RESOLUTION_ERROR)
    n = (end - start) // step + 1
    if not _INT64_MIN <= start <= _INT64_MAX or start + (n - 1) * step > _INT64_MAX:
        raise ValueError("query times must lie within the int64 nanosecond range (years 1678 to 2262)")
    return start + np.arange(n, dtype=np.int64) * step


# --------------------------------------------------------------------------- segment-tree engine


def _segments(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Elementary segments between all window boundaries, and each window's segment range."""
    cuts = np.unique(np.concatenate((lo, hi)))
    a = np.searchsorted(cuts, lo)
    b = np.searchsorted(cuts, hi)
    return cuts, a.astype(np.int64), b.astype(np.int64)


def _tree_query(
    leaves: _Arrays, identity: tuple[float, ...], combine: _Combine, a: np.ndarray, b: np.ndarray
) -> _Arrays:
    """Reduce leaves[a_i:b_i] for every i with a bottom-up segment tree, vectorised over i.

    `combine` must be associative and commutative (all our uses are) and accept/return tuples of
    equally shaped arrays, one per leaf component. Empty ranges yield `identity`.
    """
    m = leaves[0].shape[0]
    size = 1 << max(0, (m - 1).bit_length())
    trees = []
    for leaf, ident in zip(leaves, identity):
        t = np.full(2 * size, ident, dtype=np.float64)
        t[size : size + m] = leaf
        trees.append(t)
    w = size >> 1
    while w >= 1:
        lefts = tuple(t[2 * w : 4 * w : 2] for t in trees)
        rights = tuple(t[2 * w + 1 : 4 * w : 2] for t in trees)
        for t, res in zip(trees, combine(lefts, rights)):
            t[w : 2 * w] = res
        w >>= 1
    left = a + size
    right = b + size
    acc = [np.full(a.shape[0], ident, dtype=np.float64) for ident in identity]
    while True:
        active = left < right
        if not active.any():
            break
        take = active & ((left & 1) == 1)
        if take.any():
            idx = left[take]
            new = combine(tuple(x[take] for x in acc), tuple(t[idx] for t in trees))
            for x, res in zip(acc, new):
                x[take] = res
            left = left + take
        take = active & ((right & 1) == 1)
        if take.any():
            right = right - take
            idx = right[take]
            new = combine(tuple(x[take] for x in acc), tuple(t[idx] for t in trees))
            for x, res in zip(acc, new):
                x[take] = res
        left >>= 1
        right >>= 1
    return tuple(acc)


def _window_reduce(
    values: np.ndarray, lo: np.ndarray, hi: np.ndarray, ufunc: np.ufunc, identity: float
) -> np.ndarray:
    """ufunc-reduce values[lo_i:hi_i] per window (identity for empty windows)."""
    cuts, a, b = _segments(lo, hi)
    if cuts.shape[0] < 2:
        return np.full(lo.shape[0], identity, dtype=np.float64)
    with np.errstate(all="ignore"):
        leaves = ufunc.reduceat(values[: cuts[-1]], cuts[:-1])

        def combine(x: _Arrays, y: _Arrays) -> _Arrays:
            return (ufunc(x[0], y[0]),)

        return _tree_query((leaves,), (identity,), combine, a, b)[0]


def _chan_combine(x: _Arrays, y: _Arrays) -> _Arrays:
    """Merge (count, mean, M2) summaries (Chan, Golub & LeVeque): stable, order-independent."""
    na, ma, qa = x
    nb, mb, qb = y
    n = na + nb
    fb = np.divide(nb, n, out=np.zeros_like(n), where=n > 0)
    delta = mb - ma
    mean = ma + delta * fb
    m2 = qa + qb + delta * delta * na * fb
    return n, mean, m2


def _window_moments(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-window (count, M2) where M2 = sum((v - mean)^2), computed without cancellation."""
    n_win = lo.shape[0]
    cuts, a, b = _segments(lo, hi)
    if cuts.shape[0] < 2:
        return np.zeros(n_win), np.zeros(n_win)
    with np.errstate(all="ignore"):
        first, last = int(cuts[0]), int(cuts[-1])
        seg_start = cuts[:-1] - first
        seg_len = np.diff(cuts)
        seg_n = seg_len.astype(np.float64)
        seg_vals = values[first:last]
        mean = np.add.reduceat(seg_vals, seg_start) / seg_n
        dev = seg_vals - np.repeat(mean, seg_len)
        s1 = np.add.reduceat(dev, seg_start)
        s2 = np.add.reduceat(dev * dev, seg_start)
        # Corrected two-pass: fold the first pass's rounding error back into mean and M2.
        mean = mean + s1 / seg_n
        m2 = np.maximum(s2 - s1 * s1 / seg_n, 0.0)
        n, _, q = _tree_query((seg_n, mean, m2), (0.0, 0.0, 0.0), _chan_combine, a, b)
    return n, q


def _masked(result: np.ndarray, nonempty: np.ndarray) -> np.ndarray:
    out = np.asarray(result, dtype=np.float64).copy()
    out[~nonempty] = np.nan
    return out


# --------------------------------------------------------------------------- log-range functions


def count_over_time(ts: npt.ArrayLike, steps: npt.ArrayLike, range_ns: int) -> np.ndarray:
    """Number of entries in each window; NaN (no point) where there are none."""
    lo, hi = window_bounds(ts, steps, range_ns)
    count = (hi - lo).astype(np.float64)
    return _masked(count, hi > lo)


def rate(ts: npt.ArrayLike, steps: npt.ArrayLike, range_ns: int) -> np.ndarray:
    """Entries per second: count / range seconds (Loki's `rateLogs`, no extrapolation)."""
    return count_over_time(ts, steps, range_ns) / range_seconds(_check_range(range_ns))


def bytes_over_time(
    ts: npt.ArrayLike, sizes: npt.ArrayLike, steps: npt.ArrayLike, range_ns: int
) -> np.ndarray:
    """Sum of line byte lengths per window (int64 prefix sums: exact)."""
    ts_arr = _as_ts(ts)
    sizes_arr = _as_values(sizes, ts_arr.shape[0], "sizes", np.int64)
    lo, hi = window_bounds(ts_arr, steps, range_ns)
    prefix = np.zeros(ts_arr.shape[0] + 1, dtype=np.int64)
    np.cumsum(sizes_arr, out=prefix[1:])
    total = (prefix[hi] - prefix[lo]).astype(np.float64)
    return _masked(total, hi > lo)


def bytes_rate(ts: npt.ArrayLike, sizes: npt.ArrayLike, steps: npt.ArrayLike, range_ns: int) -> np.ndarray:
    """Bytes per second: bytes_over_time / range seconds."""
    return bytes_over_time(ts, sizes, steps, range_ns) / range_seconds(_check_range(range_ns))


def absent_over_time(ts: npt.ArrayLike, steps: npt.ArrayLike, range_ns: int) -> np.ndarray:
    """1 where the window is empty, NaN (no point) where it holds entries.

    Loki's AbsentRangeVectorEvaluator emits 1 only when *no* series has a sample at the step, with
    labels taken from the selector's equality matchers; that cross-series step belongs to the
    engine (apply this to the union of the selected series' timestamps).
    """
    lo, hi = window_bounds(ts, steps, range_ns)
    return np.where(hi == lo, 1.0, np.nan)


# --------------------------------------------------------------------------- unwrapped functions


def _unwrap_inputs(
    ts: npt.ArrayLike, values: npt.ArrayLike, steps: npt.ArrayLike, range_ns: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    ts_arr = _as_ts(ts)
    vals = _as_values(values, ts_arr.shape[0])
    lo, hi = window_bounds(ts_arr, steps, range_ns)
    return ts_arr, vals, lo, hi


def sum_over_time(
    ts: npt.ArrayLike, values: npt.ArrayLike, steps: npt.ArrayLike, range_ns: int
) -> np.ndarray:
    """Sum of the window's values (segment tree: no prefix-sum cancellation; see module doc)."""
    _, vals, lo, hi = _unwrap_inputs(ts, values, steps, range_ns)
    return _masked(_window_reduce(vals, lo, hi, np.add, 0.0), hi > lo)


def avg_over_time(
    ts: npt.ArrayLike, values: npt.ArrayLike, steps: npt.ArrayLike, range_ns: int
) -> np.ndarray:
    """Mean of the window's values, as sum / count.

    Loki uses an incremental mean (`mean += v/n - mean/n`); results agree to rounding, except that
    a sum overflowing to ±Inf (values near 1e308) gives ±Inf here where Loki stays finite.
    """
    _, vals, lo, hi = _unwrap_inputs(ts, values, steps, range_ns)
    total = _window_reduce(vals, lo, hi, np.add, 0.0)
    with np.errstate(all="ignore"):
        mean = total / (hi - lo)
    return _masked(mean, hi > lo)


def min_over_time(
    ts: npt.ArrayLike, values: npt.ArrayLike, steps: npt.ArrayLike, range_ns: int
) -> np.ndarray:
    """Minimum of the window's values; NaN values are skipped unless all are NaN (Loki's loop)."""
    _, vals, lo, hi = _unwrap_inputs(ts, values, steps, range_ns)
    return _masked(_window_reduce(vals, lo, hi, np.fmin, np.nan), hi > lo)


def max_over_time(
    ts: npt.ArrayLike, values: npt.ArrayLike, steps: npt.ArrayLike, range_ns: int
) -> np.ndarray:
    """Maximum of the window's values; NaN values are skipped unless all are NaN (Loki's loop)."""
    _, vals, lo, hi = _unwrap_inputs(ts, values, steps, range_ns)
    return _masked(_window_reduce(vals, lo, hi, np.fmax, np.nan), hi > lo)


def stdvar_over_time(
    ts: npt.ArrayLike, values: npt.ArrayLike, steps: npt.ArrayLike, range_ns: int
) -> np.ndarray:
    """Population variance (divide by n, like Prometheus/Loki); 0 for a single entry."""
    _, vals, lo, hi = _unwrap_inputs(ts, values, steps, range_ns)
    n, m2 = _window_moments(vals, lo, hi)
    with np.errstate(all="ignore"):
        var = m2 / n
    return _masked(var, hi > lo)


def stddev_over_time(
    ts: npt.ArrayLike, values: npt.ArrayLike, steps: npt.ArrayLike, range_ns: int
) -> np.ndarray:
    """Population standard deviation: sqrt(stdvar_over_time)."""
    with np.errstate(all="ignore"):
        return np.sqrt(stdvar_over_time(ts, values, steps, range_ns))


def _nan_first_pick(block: np.ndarray, n_nan: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Element i of each row in Loki's order (NaNs first), from rows np.sort-ed with NaNs last."""
    shifted = np.maximum(i - n_nan, 0)
    return np.where(i < n_nan, np.nan, block[np.arange(block.shape[0]), shifted])


def quantile_over_time(
    q: float,
    ts: npt.ArrayLike,
    values: npt.ArrayLike,
    steps: npt.ArrayLike,
    range_ns: int,
    check: Callable[[], None] | None = None,
) -> np.ndarray:
    """φ-quantile of the window's values, Prometheus/Loki `quantile` with linear interpolation.

    rank = q*(n-1); result = v[floor(rank)]*(1-w) + v[min(n-1, floor(rank)+1)]*w over the sorted
    values, w = rank - floor(rank). q < 0 gives -Inf, q > 1 gives +Inf (only at steps whose window
    holds entries -- empty windows still produce no point). NaN values sort *first*, as in Loki's
    `HeapByMaxValue.Less`. q = NaN gives NaN (Go would index with int(NaN); we refuse to guess).

    Long overlapping windows make this the one kernel whose work is not O(entries + steps), so
    `check` (the query's deadline) runs before each chunk.
    """
    _, vals, lo, hi = _unwrap_inputs(ts, values, steps, range_ns)
    q = float(q)
    out = np.full(lo.shape[0], np.nan)
    nonempty = hi > lo
    if math.isnan(q):
        return out
    if q < 0 or q > 1:
        out[nonempty] = -np.inf if q < 0 else np.inf
        return out
    idx = np.flatnonzero(nonempty)
    if idx.shape[0] == 0:
        return out
    # Windows sorted by length and cut into chunks of similar length, so that each chunk is a
    # (windows x longest) block padded with +Inf that one row-wise np.sort orders.
    lens_all = (hi - lo)[idx]
    by_len = np.argsort(lens_all, kind="stable")
    idx = idx[by_len]
    lens = lens_all[by_len]
    pos = 0
    while pos < idx.shape[0]:
        if check is not None:
            check()
        cost = np.arange(1, idx.shape[0] - pos + 1) * lens[pos:]
        stop = pos + max(1, int(np.searchsorted(cost, _QUANTILE_CHUNK, side="right")))
        w_idx = idx[pos:stop]
        n_int = lens[pos:stop]
        cols = np.arange(int(n_int[-1]))
        valid = cols[None, :] < n_int[:, None]
        gather = np.where(valid, lo[w_idx][:, None] + cols[None, :], 0)
        block = np.where(valid, vals[gather], np.inf)
        # np.sort puts NaN last; Loki's HeapByMaxValue.Less puts it first: shift the index.
        n_nan = np.isnan(block).sum(axis=1)
        block.sort(axis=1)
        n = n_int.astype(np.float64)
        rank = q * (n - 1)
        floor_rank = np.floor(rank)
        lower = np.maximum(0.0, floor_rank).astype(np.int64)
        upper = np.minimum(n - 1, lower + 1).astype(np.int64)
        weight = rank - floor_rank
        with np.errstate(all="ignore"):
            low = _nan_first_pick(block, n_nan, lower)
            high = _nan_first_pick(block, n_nan, upper)
            out[w_idx] = low * (1 - weight) + high * weight
        pos = stop
    return out


def first_over_time(
    ts: npt.ArrayLike, values: npt.ArrayLike, steps: npt.ArrayLike, range_ns: int
) -> np.ndarray:
    """Value of the window's first entry (input order breaks timestamp ties)."""
    _, vals, lo, hi = _unwrap_inputs(ts, values, steps, range_ns)
    nonempty = hi > lo
    out = np.full(lo.shape[0], np.nan)
    out[nonempty] = vals[lo[nonempty]]
    return out


def last_over_time(
    ts: npt.ArrayLike, values: npt.ArrayLike, steps: npt.ArrayLike, range_ns: int
) -> np.ndarray:
    """Value of the window's last entry (input order breaks timestamp ties)."""
    _, vals, lo, hi = _unwrap_inputs(ts, values, steps, range_ns)
    nonempty = hi > lo
    out = np.full(lo.shape[0], np.nan)
    out[nonempty] = vals[hi[nonempty] - 1]
    return out


def rate_unwrapped(
    ts: npt.ArrayLike, values: npt.ArrayLike, steps: npt.ArrayLike, range_ns: int
) -> np.ndarray:
    """`rate(... | unwrap x [r])`: sum_over_time / range seconds (Loki's `rateLogs` with values)."""
    return sum_over_time(ts, values, steps, range_ns) / range_seconds(_check_range(range_ns))


def rate_counter(ts: npt.ArrayLike, values: npt.ArrayLike, steps: npt.ArrayLike, range_ns: int) -> np.ndarray:
    """Per-second rate of an unwrapped counter, Prometheus' `rate` extrapolation over (t-r, t].

    The algorithm is Prometheus' current `extrapolatedRate(isCounter=true, isRate=true)`:

    * increase = last - first + sum of v[j-1] over consecutive pairs with v[j] < v[j-1] (resets);
    * duration to the window start/end is extrapolated over only if it is below 1.1x the average
      spacing of the window's samples, otherwise by half that spacing; the start is then capped at
      the counter's extrapolated zero point (when increase > 0 and first >= 0);
    * result = increase * (sampled + to_start + to_end) / sampled / range_seconds.

    Loki conventions kept: a window with a single entry yields 0 (not "no point"). Chosen here: a
    window whose entries all share one timestamp also yields 0 (Go would divide 0/0 into NaN).

    Deliberate deviation from released Loki 3.x: its port of this function mixed nanosecond
    timestamps with Prometheus' millisecond arithmetic and took the window bounds from the first
    and last samples, which makes the extrapolation a near no-op (increase / range, times a
    ~1+1e-6 factor). That is grafana/loki#23670, fixed upstream by grafana/loki#23684, whose
    behaviour -- Prometheus' extrapolation to the query window -- is what is implemented here.
    """
    ts_arr, vals, lo, hi = _unwrap_inputs(ts, values, steps, range_ns)
    steps_arr = _as_ts(steps)
    r = _check_range(range_ns)
    n = hi - lo
    out = np.full(lo.shape[0], np.nan)
    out[n == 1] = 0.0
    two = n >= 2
    if not two.any():
        return out
    # Reset correction: d[j] = v[j-1] where v[j] < v[j-1]; a window sums d over (lo, hi).
    drop = np.zeros(vals.shape[0], dtype=np.float64)
    if vals.shape[0] > 1:
        with np.errstate(all="ignore"):
            drop[1:] = np.where(vals[1:] < vals[:-1], vals[:-1], 0.0)
    corr = _window_reduce(drop, np.minimum(lo + 1, hi), hi, np.add, 0.0)
    i0 = lo[two]
    i1 = hi[two] - 1
    t = steps_arr[two]
    v0 = vals[i0]
    with np.errstate(all="ignore"):
        increase = vals[i1] - v0 + corr[two]
        to_start = (ts_arr[i0] - (t - r)).astype(np.float64) / 1e9
        to_end = (t - ts_arr[i1]).astype(np.float64) / 1e9
        sampled = (ts_arr[i1] - ts_arr[i0]).astype(np.float64) / 1e9
        avg = sampled / (n[two] - 1)
        threshold = avg * 1.1
        to_start = np.where(to_start >= threshold, avg / 2, to_start)
        to_zero = sampled * (v0 / increase)
        cap = (increase > 0) & (v0 >= 0) & (to_zero < to_start)
        to_start = np.where(cap, to_zero, to_start)
        to_end = np.where(to_end >= threshold, avg / 2, to_end)
        factor = (sampled + to_start + to_end) / sampled / range_seconds(r)
        res = np.where(sampled > 0, increase * factor, 0.0)
    out[two] = res
    return out


# --------------------------------------------------------------------------- dispatch table

RANGE_FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "count_over_time": count_over_time,
    "rate": rate,
    "rate_unwrapped": rate_unwrapped,
    "bytes_over_time": bytes_over_time,
    "bytes_rate": bytes_rate,
    "absent_over_time": absent_over_time,
    "sum_over_time": sum_over_time,
    "avg_over_time": avg_over_time,
    "min_over_time": min_over_time,
    "max_over_time": max_over_time,
    "stddev_over_time": stddev_over_time,
    "stdvar_over_time": stdvar_over_time,
    "quantile_over_time": quantile_over_time,
    "first_over_time": first_over_time,
    "last_over_time": last_over_time,
    "rate_counter": rate_counter,
}
"""LogQL range-aggregation name -> implementation, each with its own signature:

* `(ts, steps, range_ns)`: count_over_time, rate (log lines), absent_over_time;
* `(ts, sizes, steps, range_ns)`: bytes_over_time, bytes_rate;
* `(ts, values, steps, range_ns)`: the unwrapped ones, with `rate_unwrapped` standing for
  `rate(... | unwrap x [r])` (one LogQL name, two meanings, as in Loki's `rateLogs`);
* `(q, ts, values, steps, range_ns)`: quantile_over_time.

`apply_range_function` calls any of them through one uniform signature.
"""

LOG_RANGE_FUNCTIONS: frozenset[str] = frozenset(
    {"count_over_time", "rate", "bytes_over_time", "bytes_rate", "absent_over_time"}
)
"""LogQL operators valid on a plain log range (no unwrap)."""

UNWRAP_RANGE_FUNCTIONS: frozenset[str] = frozenset(
    {
        "rate",
        "rate_counter",
        "sum_over_time",
        "avg_over_time",
        "min_over_time",
        "max_over_time",
        "stddev_over_time",
        "stdvar_over_time",
        "quantile_over_time",
        "first_over_time",
        "last_over_time",
        "absent_over_time",
    }
)
"""LogQL operators valid on an unwrapped range (Loki's parser rejects the others with unwrap)."""

_NO_VALUES = frozenset({"count_over_time", "absent_over_time"})


def apply_range_function(
    name: str,
    ts: npt.ArrayLike,
    values: npt.ArrayLike | None,
    steps: npt.ArrayLike,
    range_ns: int,
    param: float | None = None,
) -> np.ndarray:
    """Evaluate LogQL range function `name` with one signature for all of them.

    `values` is None for a plain log range (count/rate/absent), the line byte sizes for bytes_*,
    and the unwrapped values otherwise; `rate` with values is the unwrapped rate. `param` is
    quantile_over_time's q.
    """
    fn = RANGE_FUNCTIONS.get(name)
    if fn is None:
        raise ValueError(f"unknown range function {name!r}")
    if name in _NO_VALUES:
        return fn(ts, steps, range_ns)
    if name == "rate":
        return rate(ts, steps, range_ns) if values is None else rate_unwrapped(ts, values, steps, range_ns)
    if values is None:
        raise ValueError(f"{name} needs values (unwrapped values or line sizes)")
    if name == "quantile_over_time":
        if param is None:
            raise ValueError("quantile_over_time needs a quantile parameter")
        return quantile_over_time(param, ts, values, steps, range_ns)
    return fn(ts, values, steps, range_ns)
