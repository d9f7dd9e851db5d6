"""The windows of a range vector as flat arrays, shared by every range function.

A `RangeVector` holds each series' raw samples and every step's window end. `Windows` lays
all series' samples end to end in two flat arrays (`t`, `v`) and gives each (series, step)
window its bounds `[lo, hi)` into them, found with one `searchsorted` pair per series. Every
range function is then array arithmetic over the `(series, steps)` matrices of bounds.

Some of Prometheus' per-window algorithms are sequential by nature: Kahan-compensated sums,
the overflow fallback of `avg_over_time`, Welford's variance, the recurrence of
`double_exponential_smoothing`. Matching them float for float rules out prefix sums over the
whole series (a difference of two huge prefix sums loses exactly the digits Kahan keeps;
`1, 1e100, 1, -1e100` must sum to 2). Two array forms replay them exactly instead:

* `rows` lays chunks of windows out as a padded (windows x samples) matrix. A Kahan sum is
  then `kahan_rows`: `np.cumsum` along each row is the running float sum in sample order (an
  accumulate adds strictly left to right), each step's rounding error follows elementwise
  from consecutive running sums, and a second `cumsum` adds the errors in order, which is
  exactly what Prometheus' `kahansum.Inc` loop computes.
* `positions` walks an algorithm whose next state depends on the last (Welford, smoothing)
  one sample position at a time, `k = 0, 1, ...` up to the longest window, each time over all
  windows of all series at once: it loops as often as a window holds samples, never once
  per step or per sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from heron.promql.value import EvalContext, RangeVector, Scalar, Vector

__all__ = ["Windows", "kahan_inc", "kahan_rows", "rows", "positions", "step_scalar", "result", "go_float"]


@dataclass
class Windows:
    """All windows of one range vector: flat samples and per-(series, step) bounds."""

    t: np.ndarray  # int64 ms, every series' samples end to end
    v: np.ndarray  # float64, same length
    lo: np.ndarray  # int64 (series, steps): index of each window's first sample
    hi: np.ndarray  # int64 (series, steps): one past each window's last sample
    starts: np.ndarray  # int64 (series, steps): each window's (exclusive) start, ms
    ends: np.ndarray  # int64 (series, steps): each window's (inclusive) end, ms
    first_of_series: np.ndarray  # int64 (series,): flat index where each series begins

    @property
    def count(self) -> np.ndarray:
        return self.hi - self.lo

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.lo.shape[0]), int(self.lo.shape[1]))

    @classmethod
    def of(cls, rv: RangeVector) -> "Windows":
        ends = np.asarray(rv.ends, dtype=np.int64)
        starts = ends - np.int64(rv.range_ms)
        n_series, n_steps = len(rv.samples), len(ends)
        lo = np.zeros((n_series, n_steps), dtype=np.int64)
        hi = np.zeros((n_series, n_steps), dtype=np.int64)
        first = np.zeros(n_series, dtype=np.int64)
        offset = 0
        for i, (ts, _) in enumerate(rv.samples):
            ts = np.asarray(ts, dtype=np.int64)
            first[i] = offset
            lo[i] = np.searchsorted(ts, starts, "right") + offset
            hi[i] = np.searchsorted(ts, ends, "right") + offset
            offset += len(ts)
        if rv.samples:
            t = np.concatenate([np.asarray(ts, dtype=np.int64) for ts, _ in rv.samples])
            v = np.concatenate([np.asarray(vs, dtype=np.float64) for _, vs in rv.samples])
        else:
            t, v = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        shape = (n_series, n_steps)
        return cls(t, v, lo, hi, np.broadcast_to(starts, shape), np.broadcast_to(ends, shape), first)

    def at(self, idx: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """`v[idx]` where `valid`, 0 elsewhere (so out-of-window indices are never read)."""
        if len(self.v) == 0:
            return np.zeros(idx.shape)
        return np.where(valid, self.v[np.where(valid, idx, 0)], 0.0)

    def t_at(self, idx: np.ndarray, valid: np.ndarray) -> np.ndarray:
        if len(self.t) == 0:
            return np.zeros(idx.shape, dtype=np.int64)
        return np.where(valid, self.t[np.where(valid, idx, 0)], 0)

    def pair_flags(self, flags: np.ndarray, need: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """How many sample pairs `(i-1, i)` inside each window have `flags[i]` set.

        `flags[i]` describes the pair ending at flat index `i`; the first sample of every series
        has no predecessor and is cleared. Returns the counts and the mask of windows holding at
        least `need` samples. Counts are integers, so a prefix sum is exact.
        """
        flags = flags.copy()
        flags[self.first_of_series[self.first_of_series < len(flags)]] = False
        prefix = np.concatenate([[0], np.cumsum(flags, dtype=np.int64)])
        ok = self.count >= need
        # Pairs (i-1, i) with lo < i <= hi - 1: prefix[hi] - prefix[lo + 1].
        upper = np.where(ok, self.hi, 0)
        lower = np.where(ok, np.minimum(self.lo + 1, self.hi), 0)
        return prefix[upper] - prefix[lower], ok


def kahan_inc(
    inc: np.ndarray, total: np.ndarray, comp: np.ndarray, *, reset_on_inf: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Prometheus' `kahansum.Inc` (Neumaier's variant) over arrays: the new sum and compensation.

    The compensation is reset to 0 once the sum is infinite, as Prometheus does, so that an
    overflowed sum is reported as the infinity rather than NaN. A caller whose result ignores
    the compensation of an infinite sum (a plain sum: once infinite it never becomes finite
    again) may skip that step. Called in hot loops, it expects numpy's floating-point warnings
    to be off already (the function table runs every implementation so)."""
    t = total + inc
    big = np.abs(total) >= np.abs(inc)
    comp = comp + np.where(big, (total - t) + inc, (inc - t) + total)
    if reset_on_inf:
        comp[np.isinf(t)] = 0.0
    return t, comp


# Cells gathered at once by `positions` (windows x a block of sample positions).
_BLOCK_CELLS = 1 << 16


def positions(w: Windows, ctx: EvalContext, start: int = 0) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield `(k, active, values)` for k = start.. the longest window's length - 1.

    `active` marks the windows holding a k-th sample and `values` is that sample (0 in
    inactive windows). Used for Prometheus' sequential per-window algorithms (see module
    docstring). Samples are gathered a block of positions at a time (fewer, larger numpy
    calls when there are few windows, as in an instant query over a long range);
    `ctx.check()` runs between blocks so a huge window stays cancellable."""
    count = w.count
    longest = int(count.max()) if count.size else 0
    cells = max(1, count.size)
    block = max(1, min(256, _BLOCK_CELLS // cells))
    for k0 in range(start, longest, block):
        ctx.check()
        ks = np.arange(k0, min(k0 + block, longest)).reshape(-1, 1, 1)
        active = count[None] > ks  # (block, series, steps): each position contiguous
        values = w.at(w.lo[None] + ks, active)
        for j, k in enumerate(ks.ravel().tolist()):
            yield k, active[j], values[j]


# At most this many cells in one padded (windows x samples) matrix of `rows`.
_ROW_CELLS = 1 << 14  # small enough for the temporaries to stay in cache


def rows(
    w: Windows, ok: np.ndarray, ctx: EvalContext
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield `(cells, values, inside, n, index)` per chunk of the windows selected by `ok`.

        `cells` are the windows' flat indices into a `(series, steps)` array, `values` their
        samples left-aligned in a (windows x longest) matrix padded with 0, `inside` the mask of
        real samples, `n` each window's sample count and `index` the samples' flat indices (for
    `t`; 0 in the padding). Chunks are bounded in cells, so memory
        stays bounded whatever the range."""
    cells = np.flatnonzero(np.asarray(ok).ravel())
    if len(cells) == 0:
        return
    lo = w.lo.ravel()[cells]
    n = w.count.ravel()[cells]
    longest = int(n.max())
    chunk = max(1, _ROW_CELLS // max(longest, 1))
    offsets = np.arange(longest)
    for begin in range(0, len(cells), chunk):
        ctx.check()
        part = slice(begin, begin + chunk)
        inside = offsets[None, :] < n[part, None]
        index = np.where(inside, lo[part, None] + offsets[None, :], 0)
        yield cells[part], w.at(index, inside), inside, n[part], index


def kahan_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prometheus' Kahan sum of each row of a 0-padded matrix: (sum, compensation, running sums).

    Equal to looping `kahansum.Inc` over the row from (0, 0): the running sums are the float
    sums in order, and `Inc` adds to the compensation, in order, the rounding error of each
    step (Neumaier's branch on which operand is larger). Its reset of the compensation on an
    infinite sum only matters for the final compensation of an infinite sum (a sum that went
    infinite never becomes finite again), so it is applied at the end. Padding zeros change
    neither sum nor compensation."""
    running = np.cumsum(values, axis=1)
    before = np.zeros_like(running)
    before[:, 1:] = running[:, :-1]
    errors = np.where(
        np.abs(before) >= np.abs(values), (before - running) + values, (values - running) + before
    )
    total = running[:, -1]
    comp = np.cumsum(errors, axis=1)[:, -1]
    return total, np.where(np.isinf(total), 0.0, comp), running


def step_scalar(arg: Scalar | Vector, shape: tuple[int, int]) -> np.ndarray:
    """A scalar argument (one value per step) broadcast to every series' row."""
    if isinstance(arg, Scalar):
        values = np.asarray(arg.values, dtype=np.float64)
    else:  # a one-series vector stands in for a scalar only in tests built by hand
        values = np.asarray(arg.values[0], dtype=np.float64)
    return np.broadcast_to(values, shape)


def result(rv: RangeVector, values: np.ndarray, present: np.ndarray, *, keep_name: bool = False) -> Vector:
    """The output vector: row i is series i; names are dropped unless `keep_name`.

    Prometheus 3 drops the metric name of every range function's output except
    `last_over_time` and `first_over_time` (which act like an offset); those keep whatever the
    input asked for (a subquery's series may already be flagged)."""
    n = len(rv.labels)
    if keep_name:
        drop = None if rv.drop_name is None else np.asarray(rv.drop_name, dtype=bool).copy()
    else:
        drop = np.ones(n, dtype=bool)
    values = np.where(present, values, 0.0).astype(np.float64)
    return Vector(list(rv.labels), values, np.asarray(present, dtype=bool), drop)


def go_float(x: float, verb: str = "g") -> str:
    """Go's `%g` (shortest digits; exponent form from 1e+06 and below 1e-04) or `%f` formatting.

    Prometheus' annotation and error texts embed floats this way; matching them is part of
    matching its messages."""
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "+Inf" if x > 0 else "-Inf"
    if verb == "f":
        return f"{x:.6f}"
    text = repr(float(x))
    mantissa, _, exp_text = text.partition("e")
    digits = mantissa.lstrip("-").replace(".", "")
    exponent = int(exp_text) if exp_text else None
    if exponent is None:
        # repr gave a positional form; find the decimal exponent of the leading digit.
        whole, _, frac = mantissa.lstrip("-").partition(".")
        if whole.strip("0"):
            exponent = len(whole.lstrip("0")) - 1
        else:
            stripped = frac.lstrip("0")
            exponent = -(len(frac) - len(stripped) + 1) if stripped else 0
    sig = digits.strip("0") or "0"
    sign = "-" if x < 0 or (x == 0 and str(x).startswith("-")) else ""
    if exponent < -4 or exponent >= 6:
        first_digits = sig[0] + ("." + sig[1:] if len(sig) > 1 else "")
        return f"{sign}{first_digits}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if sig == "0":
        return f"{sign}0"
    if exponent >= len(sig) - 1:
        return sign + sig + "0" * (exponent - len(sig) + 1)
    if exponent >= 0:
        return sign + sig[: exponent + 1] + "." + sig[exponent + 1 :]
    return sign + "0." + "0" * (-exponent - 1) + sig
