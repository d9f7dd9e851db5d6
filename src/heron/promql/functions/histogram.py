"""PromQL's histogram functions over classic (`le`-bucketed) histograms.

`histogram_quantile`, `histogram_quantiles` and `histogram_fraction` group the input rows by all
labels but `le` (the metric name included, as Prometheus' signature does) once per call, merge
buckets that spell the same bound differently (`0.2`, `2e-1`), and then compute every group
at every step at once: groups with the same number of buckets form one (groups x buckets x
steps) block, and the bucket-by-bucket passes of Prometheus' `BucketQuantile`, its
monotonicity fix-up and `BucketFraction` run along the bucket axis, vectorised over groups and
steps. A bucket absent at a step is skipped at that step, as if the series were not there.

Heron stores floats only, so the native-histogram functions (`histogram_count`, `_sum`, `_avg`,
`_stddev`, `_stdvar`) see no histogram samples; like Prometheus, they ignore float samples and
return an empty vector.
"""

from __future__ import annotations

import datetime
import math
import re
from typing import Callable

import numpy as np

from heron.model import Labels
from heron.promql.aggregate_common import expr_pos, go_format_g, go_quote
from heron.promql.syntax.ast import Call
from heron.promql.syntax.errors import PosRange
from heron.promql.value import EvalContext, ExecutionError, Scalar, String, Value, Vector

__all__ = ["HISTOGRAM_FUNCTIONS", "parse_go_float", "format_openmetrics_float"]

_SMALL_DELTA = 1e-12  # Prometheus' smallDeltaTolerance for the monotonicity fix-up
_MIN_NORMAL = 2.2250738585072014e-308
_MONOTONICITY = (
    "input to histogram_quantile needed to be fixed for monotonicity "
    "(see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)"
)
_DECIMAL = re.compile(r"[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?")
_HEX = re.compile(r"[+-]?0[xX](?:[0-9a-fA-F_]*\.?[0-9a-fA-F_]*)[pP][+-]?\d+")
_SPECIAL = re.compile(r"[+-]?(?:inf|infinity)|nan", re.IGNORECASE)


def parse_go_float(text: str) -> float | None:
    """`strconv.ParseFloat(text, 64)`, or None where Go reports an error (including values out
    of range, which Go rounds to ±Inf *with* an error)."""
    if _SPECIAL.fullmatch(text):
        return float(text)
    if _HEX.fullmatch(text):
        try:
            value = float.fromhex(text.replace("_", ""))
        except (ValueError, OverflowError):
            return None
    elif _DECIMAL.fullmatch(text):
        value = float(text.replace("_", ""))
    else:
        return None
    return None if math.isinf(value) else value


def format_openmetrics_float(x: float) -> str:
    """Prometheus' `labels.FormatOpenMetricsFloat`: Go's %g with `.0` added to integers."""
    if x == 0:
        return "0.0"
    text = go_format_g(x)
    if math.isnan(x) or math.isinf(x) or "." in text or "e" in text:
        return text
    return text + ".0"


def _go_format_g_prec(x: float, prec: int) -> str:
    """Go's `%.<prec>g`, for the monotonicity annotation's `%.2g`."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if x == 0:
        return "0"
    mantissa, exp_text = f"{abs(x):.{prec - 1}e}".split("e")
    digits = mantissa.replace(".", "").rstrip("0") or "0"
    dp = int(exp_text) + 1
    sign = "-" if x < 0 else ""
    eprec = len(digits) if prec > len(digits) >= dp else prec
    exp = dp - 1
    if exp < -4 or exp >= eprec:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{body}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    if dp <= 0:
        return sign + "0." + "0" * (-dp) + digits
    if dp >= len(digits):
        return sign + digits + "0" * (dp - len(digits))
    return sign + digits[:dp] + "." + digits[dp:]


def _rfc3339(ts_ms: int) -> str:
    """`time.Unix(ts/1000, 0).UTC().Format(time.RFC3339)` (Go's division truncates)."""
    seconds = ts_ms // 1000 if ts_ms >= 0 else -((-ts_ms) // 1000)
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Blocks:
    """A vector's classic histograms: groups (labels without `le`) and their merged buckets,
    gathered into blocks of groups with equal bucket counts."""

    def __init__(self, vec: Vector, ctx: EvalContext, pos: PosRange | None) -> None:
        bounds = np.full(len(vec), np.nan)
        usable = np.zeros(len(vec), dtype=bool)
        signature: dict[Labels, int] = {}
        gid = np.zeros(len(vec), dtype=np.int64)
        any_present = vec.present.any(axis=1) if len(vec) else np.zeros(0, dtype=bool)
        for i, ls in enumerate(vec.labels):
            le = ""
            name = ""
            rest: list[tuple[str, str]] = []
            for pair in ls:
                if pair[0] == "le":
                    le = pair[1]
                    continue
                if pair[0] == "__name__":
                    name = pair[1]
                rest.append(pair)
            bound = parse_go_float(le)
            if bound is None:
                if any_present[i]:
                    msg = f'bucket label "le" is missing or has a malformed value of {go_quote(le)}'
                    if name:
                        msg += f" for metric name {go_quote(name)}"
                    ctx.warn(msg, pos)
                continue
            bounds[i] = bound
            usable[i] = True
            gid[i] = signature.setdefault(tuple(rest), len(signature))
        self.labels: list[Labels] = list(signature)
        self.steps = vec.steps
        rows = np.nonzero(usable)[0]
        self.blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        if len(rows) == 0:
            return
        order = rows[np.lexsort((bounds[rows], gid[rows]))]
        g_sorted = gid[order]
        b_sorted = bounds[order]
        # A new bucket starts where the group or the bound changes (coalesceBuckets).
        new = np.ones(len(order), dtype=bool)
        new[1:] = (g_sorted[1:] != g_sorted[:-1]) | (b_sorted[1:] != b_sorted[:-1])
        starts = np.nonzero(new)[0]
        present = vec.present[order]
        counts = np.add.reduceat(np.where(present, vec.values[order], 0.0), starts, axis=0)
        bucket_present = np.logical_or.reduceat(present, starts, axis=0)
        bucket_group = g_sorted[starts]
        bucket_bound = b_sorted[starts]
        per_group = np.bincount(bucket_group, minlength=len(self.labels))
        first_bucket = np.concatenate(([0], np.cumsum(per_group)[:-1]))
        for width in np.unique(per_group).tolist():
            groups = np.nonzero(per_group == width)[0]
            idx = first_bucket[groups][:, None] + np.arange(width)[None, :]
            self.blocks.append((groups, bucket_bound[idx], counts[idx], bucket_present[idx]))


def _quantile_warnings(q: np.ndarray, ctx: EvalContext, pos: PosRange | None) -> None:
    bad = np.isnan(q) | (q < 0) | (q > 1)
    for value in np.unique(q[bad]).tolist():
        ctx.warn(f"quantile value should be between 0 and 1, got {go_format_g(value)}", pos)


def _prev_present(present: np.ndarray) -> np.ndarray:
    """For each (group, bucket, step): the index of the previous present bucket, or -1."""
    width = present.shape[1]
    idx = np.where(present, np.arange(width)[None, :, None], -1)
    last = np.maximum.accumulate(idx, axis=1)
    return np.concatenate((np.full_like(last[:, :1], -1), last[:, :-1]), axis=1)


def _almost_equal(a: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    """Prometheus' `almost.Equal` elementwise (both NaN counts as equal)."""
    with np.errstate(invalid="ignore", over="ignore"):
        abs_sum = np.abs(a) + np.abs(b)
        diff = np.abs(a - b)
        tiny = (a == 0) | (b == 0) | (abs_sum < _MIN_NORMAL)
        rel = diff / np.minimum(abs_sum, np.finfo(np.float64).max) < eps
        close = np.where(tiny, diff < eps * _MIN_NORMAL, rel)
    return (np.isnan(a) & np.isnan(b)) | (a == b) | close


class _Fixups:
    """Where the monotonicity fix-up fired, per metric name, merged as Prometheus merges its
    annotation: earliest and latest step, lowest and highest bucket, largest decrease, count."""

    def __init__(self) -> None:
        self.by_name: dict[str, list[float]] = {}

    def add(self, name: str, times: np.ndarray, lo: np.ndarray, hi: np.ndarray, diff: np.ndarray) -> None:
        if len(times) == 0:
            return
        entry = [
            float(times.min()),
            float(times.max()),
            float(lo.min()),
            float(hi.max()),
            float(diff.max()),
            len(times),
        ]
        old = self.by_name.get(name)
        if old is not None:
            entry = [
                min(old[0], entry[0]),
                max(old[1], entry[1]),
                min(old[2], entry[2]),
                max(old[3], entry[3]),
                max(old[4], entry[4]),
                old[5] + entry[5],
            ]
        self.by_name[name] = entry

    def report(self, ctx: EvalContext, pos: PosRange | None) -> None:
        for name, (t0, t1, lo, hi, diff, n) in self.by_name.items():
            msg = _MONOTONICITY + (f" for metric name {go_quote(name)}" if name else "")
            msg += (
                f", from buckets {go_format_g(lo)} to {go_format_g(hi)}, with a max diff of "
                f"{_go_format_g_prec(diff, 2)}, over {n} samples "
                f"from {_rfc3339(int(t0))} to {_rfc3339(int(t1))}"
            )
            ctx.info(msg, pos)


def _bucket_quantile(
    q: np.ndarray, bounds: np.ndarray, counts: np.ndarray, present: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Prometheus' `BucketQuantile` for a block (G, B, S) of merged, sorted buckets.

    Returns the quantiles (G, S) and, for the fix-up annotation, where monotonicity was forced
    and its lowest and highest bucket and largest decrease. The fix-up itself walks the buckets
    in order (each keeps the running maximum unless the rise is within 1e-12 relative), once
    per bucket, vectorised over groups and steps.
    """
    ngroups, width, steps = counts.shape
    ub = np.broadcast_to(bounds[:, :, None], counts.shape)
    last = width - 1 - np.argmax(present[:, ::-1, :], axis=1)  # (G, S)
    take = last[:, None, :]
    last_bound = np.take_along_axis(ub, take, axis=1)[:, 0, :]
    qq = np.broadcast_to(q[None, :], (ngroups, steps))
    valid_q = (qq >= 0) & (qq <= 1)
    work = valid_q & np.isposinf(last_bound)
    fixed = counts.copy()
    prev = np.zeros((ngroups, steps))
    has = np.zeros((ngroups, steps), dtype=bool)
    forced = np.zeros((ngroups, steps), dtype=bool)
    min_b = np.full((ngroups, steps), np.inf)
    max_b = np.full((ngroups, steps), -np.inf)
    max_diff = np.zeros((ngroups, steps))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        for j in range(width):
            p = present[:, j] & work
            cur = counts[:, j]
            first = p & ~has
            other = p & has
            same = cur == prev
            close = ~same & _almost_equal(prev, cur, _SMALL_DELTA)
            drop = other & ~same & ~close & (cur < prev)
            rise = other & ~same & ~close & ~drop
            fixed[:, j] = np.where(other & (close | drop), prev, cur)
            forced |= drop
            bj = bounds[:, j][:, None]
            min_b = np.where(drop, np.minimum(min_b, bj), min_b)
            max_b = np.where(drop, np.maximum(max_b, bj), max_b)
            max_diff = np.where(drop & (prev - cur > max_diff), prev - cur, max_diff)
            prev = np.where(first | rise, cur, prev)
            has |= first
        n = present.sum(axis=1)
        observations = np.take_along_axis(fixed, take, axis=1)[:, 0, :]
        rank = qq * observations
        position = np.cumsum(present, axis=1) - 1
        candidate = present & (position < (n - 1)[:, None, :]) & (fixed >= rank[:, None, :])
        found = candidate.any(axis=1)
        b = np.where(found, np.argmax(candidate, axis=1), last)
        prev_idx = _prev_present(present)
        b_prev = np.take_along_axis(prev_idx, b[:, None, :], axis=1)[:, 0, :]
        b_bound = np.take_along_axis(ub, b[:, None, :], axis=1)[:, 0, :]
        b_count = np.take_along_axis(fixed, b[:, None, :], axis=1)[:, 0, :]
        safe_prev = np.maximum(b_prev, 0)[:, None, :]
        prev_bound = np.where(b_prev >= 0, np.take_along_axis(ub, safe_prev, axis=1)[:, 0, :], 0.0)
        prev_count = np.where(b_prev >= 0, np.take_along_axis(fixed, safe_prev, axis=1)[:, 0, :], 0.0)
        interpolated = prev_bound + (b_bound - prev_bound) * ((rank - prev_count) / (b_count - prev_count))
        result = np.where((b_prev < 0) & (b_bound <= 0), b_bound, interpolated)
        result = np.where(b == last, prev_bound, result)
        result = np.where((n < 2) | (observations == 0), np.nan, result)
    result = np.where(np.isposinf(last_bound), result, np.nan)
    result = np.where(np.isnan(qq), np.nan, result)
    result = np.where(qq < 0, -np.inf, result)
    result = np.where(qq > 1, np.inf, result)
    return result, forced & work, min_b, max_b, max_diff


def _bucket_fraction(
    lower: np.ndarray, upper: np.ndarray, bounds: np.ndarray, counts: np.ndarray, present: np.ndarray
) -> np.ndarray:
    """Prometheus' `BucketFraction` for a block (G, B, S): the share of observations between
    `lower` and `upper`, interpolating linearly inside buckets (not inside infinite ones)."""
    ngroups, width, steps = counts.shape
    ub = np.broadcast_to(bounds[:, :, None], counts.shape)
    last = width - 1 - np.argmax(present[:, ::-1, :], axis=1)
    take = last[:, None, :]
    last_bound = np.take_along_axis(ub, take, axis=1)[:, 0, :]
    total = np.take_along_axis(counts, take, axis=1)[:, 0, :]
    lo = np.broadcast_to(lower[None, :], (ngroups, steps))
    hi = np.broadcast_to(upper[None, :], (ngroups, steps))
    prev_idx = _prev_present(present)
    rank = np.zeros((ngroups, steps))
    lower_rank = np.zeros((ngroups, steps))
    upper_rank = np.zeros((ngroups, steps))
    lower_set = np.zeros((ngroups, steps), dtype=bool)
    upper_set = np.zeros((ngroups, steps), dtype=bool)
    done = np.zeros((ngroups, steps), dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for j in range(width):
            act = present[:, j] & ~done
            cnt = counts[:, j]
            bound = ub[:, j]
            pj = prev_idx[:, j]
            first_lb = np.where(bound <= 0, -np.inf, 0.0)
            lb = np.where(
                pj >= 0, np.take_along_axis(ub, np.maximum(pj, 0)[:, None, :], axis=1)[:, 0, :], first_lb
            )
            hit = act & ~lower_set & (lb >= lo)
            lower_rank = np.where(hit, rank, lower_rank)
            lower_set |= hit
            hit = act & ~upper_set & (lb >= hi)
            upper_rank = np.where(hit, rank, upper_rank)
            upper_set |= hit
            act2 = act & ~(lower_set & upper_set)
            span = bound - lb
            interp_lo = np.where(np.isneginf(lb), cnt, rank + (cnt - rank) * (lo - lb) / span)
            interp_hi = np.where(np.isneginf(lb), cnt, rank + (cnt - rank) * (hi - lb) / span)
            hit = act2 & ~lower_set & (lb < lo) & (bound > lo)
            lower_rank = np.where(hit, interp_lo, lower_rank)
            lower_set |= hit
            hit = act2 & ~upper_set & (lb < hi) & (bound > hi)
            upper_rank = np.where(hit, interp_hi, upper_rank)
            upper_set |= hit
            finished = lower_set & upper_set
            rank = np.where(act2 & ~finished, cnt, rank)
            done |= act & finished
        lower_rank = np.where(~lower_set | (lower_rank > total), total, lower_rank)
        upper_rank = np.where(~upper_set | (upper_rank > total), total, upper_rank)
        result = (upper_rank - lower_rank) / total
    result = np.where(lo >= hi, 0.0, result)
    result = np.where((total == 0) | np.isnan(lo) | np.isnan(hi), np.nan, result)
    return np.where(np.isposinf(last_bound), result, np.nan)


def _metric_name(labels: Labels) -> str:
    return labels[0][1] if labels and labels[0][0] == "__name__" else ""


def _scalar(value: Value, steps: int) -> np.ndarray:
    if not isinstance(value, Scalar):
        raise ExecutionError("expected a scalar argument")
    values = np.asarray(value.values, dtype=np.float64).reshape(-1)
    return np.broadcast_to(values, (steps,)).copy() if values.size == 1 else values.reshape(steps)


def _vector(value: Value) -> Vector:
    if not isinstance(value, Vector):
        raise ExecutionError("expected an instant vector argument")
    return value


def _quantile_rows(
    q: np.ndarray, hist: _Blocks, ctx: EvalContext, fixups: _Fixups
) -> tuple[np.ndarray, np.ndarray]:
    """Quantiles and presence (groups x steps) for one φ per step."""
    steps = hist.steps
    values = np.full((len(hist.labels), steps), np.nan)
    present = np.zeros((len(hist.labels), steps), dtype=bool)
    for groups, bounds, counts, bucket_present in hist.blocks:
        ctx.check()
        res, forced, lo, hi, diff = _bucket_quantile(q, bounds, counts, bucket_present)
        values[groups] = res
        present[groups] = bucket_present.any(axis=1)
        if bool(forced.any()):
            names: dict[str, list[int]] = {}
            for i, g in enumerate(groups.tolist()):
                names.setdefault(_metric_name(hist.labels[g]), []).append(i)
            for name, idx in names.items():
                f = forced[idx]
                cols = np.nonzero(f)[1]
                fixups.add(name, ctx.times[cols], lo[idx][f], hi[idx][f], diff[idx][f])
    return values, present


def _histogram_quantile(call: Call, args: list[Value], ctx: EvalContext) -> Value:
    steps = len(ctx.times)
    q = _scalar(args[0], steps)
    _quantile_warnings(q, ctx, expr_pos(call.args[0]))
    vec_pos = expr_pos(call.args[1])
    hist = _Blocks(_vector(args[1]), ctx, vec_pos)
    fixups = _Fixups()
    values, present = _quantile_rows(q, hist, ctx, fixups)
    fixups.report(ctx, vec_pos)
    return _assemble(hist.labels, values, present)


def _histogram_quantiles(call: Call, args: list[Value], ctx: EvalContext) -> Value:
    """`histogram_quantiles(v, "label", φ...)`: one series per group and φ, the φ spelled as
    `FormatOpenMetricsFloat` in the given label (per step, since φ may vary by step)."""
    steps = len(ctx.times)
    label = args[1].value if isinstance(args[1], String) else ""
    qs = [_scalar(a, steps) for a in args[2:]]
    for i, q in enumerate(qs):
        _quantile_warnings(q, ctx, expr_pos(call.args[i + 2]))
    vec_pos = expr_pos(call.args[0])
    hist = _Blocks(_vector(args[0]), ctx, vec_pos)
    fixups = _Fixups()
    out_labels: list[Labels] = []
    out_values: list[np.ndarray] = []
    out_present: list[np.ndarray] = []
    for q in qs:
        values, present = _quantile_rows(q, hist, ctx, fixups)
        spelled = [format_openmetrics_float(x) for x in q.tolist()]
        for text in dict.fromkeys(spelled):
            at = np.array([s == text for s in spelled])
            for g, ls in enumerate(hist.labels):
                rows_present = present[g] & at
                if not bool(rows_present.any()):
                    continue
                kept = tuple(p for p in ls if p[0] != label)
                out_labels.append(tuple(sorted(kept + ((label, text),))))
                out_values.append(values[g])
                out_present.append(rows_present)
    fixups.report(ctx, vec_pos)
    seen: dict[Labels, np.ndarray] = {}
    for ls, p in zip(out_labels, out_present):
        if ls in seen and bool((seen[ls] & p).any()):
            raise ExecutionError("vector cannot contain metrics with the same labelset")
        seen[ls] = seen[ls] | p if ls in seen else p
    if not out_labels:
        return Vector.empty(steps)
    return Vector(
        out_labels, np.array(out_values), np.array(out_present), np.ones(len(out_labels), dtype=bool)
    )


def _histogram_fraction(call: Call, args: list[Value], ctx: EvalContext) -> Value:
    steps = len(ctx.times)
    lower = _scalar(args[0], steps)
    upper = _scalar(args[1], steps)
    hist = _Blocks(_vector(args[2]), ctx, expr_pos(call.args[2]))
    values = np.full((len(hist.labels), steps), np.nan)
    present = np.zeros((len(hist.labels), steps), dtype=bool)
    for groups, bounds, counts, bucket_present in hist.blocks:
        ctx.check()
        values[groups] = _bucket_fraction(lower, upper, bounds, counts, bucket_present)
        present[groups] = bucket_present.any(axis=1)
    return _assemble(hist.labels, values, present)


def _assemble(labels: list[Labels], values: np.ndarray, present: np.ndarray) -> Vector:
    """Groups with a sample at some step; Prometheus drops their metric name at the end."""
    rows = np.nonzero(present.any(axis=1))[0] if len(labels) else np.zeros(0, dtype=np.int64)
    if len(rows) == 0:
        return Vector.empty(present.shape[1])
    return Vector(
        [labels[i] for i in rows.tolist()], values[rows], present[rows], np.ones(len(rows), dtype=bool)
    )


def _native_only(call: Call, args: list[Value], ctx: EvalContext) -> Value:
    """histogram_count/sum/avg/stddev/stdvar read native histogram samples only; Prometheus
    skips float samples, and Heron stores nothing else, so the answer is always empty."""
    return Vector.empty(len(ctx.times))


HISTOGRAM_FUNCTIONS: dict[str, Callable[[Call, list[Value], EvalContext], Value]] = {
    "histogram_quantile": _histogram_quantile,
    "histogram_quantiles": _histogram_quantiles,
    "histogram_fraction": _histogram_fraction,
    "histogram_count": _native_only,
    "histogram_sum": _native_only,
    "histogram_avg": _native_only,
    "histogram_stddev": _native_only,
    "histogram_stdvar": _native_only,
}
