"""The vectorised range functions against a naive twin: Prometheus' per-window loops from
`promql/functions.go`, transcribed sample by sample in plain Python, on random series.

The twin is deliberately the slow, obvious form (one window at a time, one sample at a time), so
any disagreement points at the array version. Values must agree exactly where Prometheus'
algorithm is replayed in the same order (Kahan sums, regression, smoothing, quantiles), and
within 1e-9 relative where the array form sums counter resets in another order.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from heron.promql.functions import rates, windows
from heron.promql.functions.range import RANGE_FUNCTIONS
from heron.promql.syntax.ast import Call, MatrixSelector, VectorSelector
from heron.promql.value import EvalContext, RangeVector, Scalar

RNG_SEEDS = range(6)


def kahan_inc(inc: float, total: float, comp: float) -> tuple[float, float]:
    t = total + inc
    if math.isinf(t):
        comp = 0.0
    elif abs(total) >= abs(inc):
        comp += (total - t) + inc
    else:
        comp += (inc - t) + total
    return t, comp


def ref_extrapolated(ts, vs, start, end, range_ms, counter, per_second):  # type: ignore[no-untyped-def]
    if len(vs) < 2:
        return None
    result = vs[-1] - vs[0]
    if counter:
        for i in range(1, len(vs)):
            if vs[i] < vs[i - 1]:
                result += vs[i - 1]
    to_start = (ts[0] - start) / 1000
    to_end = (end - ts[-1]) / 1000
    sampled = (ts[-1] - ts[0]) / 1000
    average = sampled / (len(vs) - 1)
    threshold = average * 1.1
    if to_start >= threshold:
        to_start = average / 2
    if counter:
        to_zero = to_start
        if result > 0 and vs[0] >= 0:
            to_zero = sampled * (vs[0] / result)
        if to_zero < to_start:
            to_start = to_zero
    if to_end >= threshold:
        to_end = average / 2
    factor = (sampled + to_start + to_end) / sampled if sampled != 0 else 1.0
    if per_second:
        factor /= range_ms / 1000
    return result * factor


def ref_instant(ts, vs, per_second):  # type: ignore[no-untyped-def]
    if len(vs) < 2:
        return None
    interval = ts[-1] - ts[-2]
    if interval == 0:
        return None
    res = vs[-1]
    if not per_second or not vs[-1] < vs[-2]:
        res = vs[-1] - vs[-2]
    return res / (interval / 1000) if per_second else res


def ref_regression(ts, vs, intercept):  # type: ignore[no-untyped-def]
    n = 0.0
    sx = cx = sy = cy = sxy = cxy = sx2 = cx2 = 0.0
    const = True
    for i, (t, v) in enumerate(zip(ts, vs)):
        if const and i > 0 and v != vs[0]:
            const = False
        n += 1
        x = (t - intercept) / 1e3
        sx, cx = kahan_inc(x, sx, cx)
        sy, cy = kahan_inc(v, sy, cy)
        sxy, cxy = kahan_inc(x * v, sxy, cxy)
        sx2, cx2 = kahan_inc(x * x, sx2, cx2)
    if const:
        if math.isinf(vs[0]):
            return math.nan, math.nan
        return 0.0, vs[0]
    sx, sy, sxy, sx2 = sx + cx, sy + cy, sxy + cxy, sx2 + cx2
    cov = sxy - sx * sy / n
    var = sx2 - sx * sx / n
    slope = cov / var if var != 0 else (math.nan if cov == 0 else math.copysign(math.inf, cov))
    return slope, sy / n - slope * sx / n


def ref_avg(vs):  # type: ignore[no-untyped-def]
    total, count, mean, comp, incremental = vs[0], 1.0, 0.0, 0.0, False
    for i, f in enumerate(vs[1:]):
        count = float(i + 2)
        if not incremental:
            new_total, new_comp = kahan_inc(f, total, comp)
            if not math.isinf(new_total):
                total, comp = new_total, new_comp
                continue
            incremental = True
            mean = total / (count - 1)
            comp /= count - 1
        q = (count - 1) / count
        mean, comp = kahan_inc(f / count, q * mean, q * comp)
    return mean + comp if incremental else total / count + comp / count


def ref_sum(vs):  # type: ignore[no-untyped-def]
    total = comp = 0.0
    for f in vs:
        total, comp = kahan_inc(f, total, comp)
    return total if math.isinf(total) else total + comp


def ref_variance(vs):  # type: ignore[no-untyped-def]
    count = mean = c_mean = aux = c_aux = 0.0
    for f in vs:
        count += 1
        delta = f - (mean + c_mean)
        mean, c_mean = kahan_inc(delta / count, mean, c_mean)
        aux, c_aux = kahan_inc(delta * (f - (mean + c_mean)), aux, c_aux)
    return (aux + c_aux) / count


def ref_quantile(q, vs):  # type: ignore[no-untyped-def]
    if not vs or math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(vs, key=lambda x: (not math.isnan(x), x if not math.isnan(x) else 0))
    n = float(len(ordered))
    rank = q * (n - 1)
    lower = max(0.0, math.floor(rank))
    upper = min(n - 1, lower + 1)
    weight = rank - math.floor(rank)
    return ordered[int(lower)] * (1 - weight) + ordered[int(upper)] * weight


def ref_mad(vs):  # type: ignore[no-untyped-def]
    if any(math.isnan(v) for v in vs):
        return math.nan
    median = ref_quantile(0.5, vs)
    return ref_quantile(0.5, [abs(v - median) for v in vs])


def ref_compare(ts, vs, better, want_ts):  # type: ignore[no-untyped-def]
    best, best_t = vs[0], ts[0]
    for t, v in zip(ts, vs):
        if better(v, best):
            best, best_t = v, t
    return best_t / 1000 if want_ts else best


def ref_des(vs, sf, tf):  # type: ignore[no-untyped-def]
    if len(vs) < 2:
        return None
    s0, s1, b = 0.0, vs[0], vs[1] - vs[0]
    for i in range(1, len(vs)):
        x = sf * vs[i]
        if i - 1 != 0:
            b = tf * (s1 - s0) + (1 - tf) * b
        y = (1 - sf) * (s1 + b)
        s0, s1 = s1, x + y
    return s1


def reference(name: str, ts: list[int], vs: list[float], start: int, end: int, range_ms: int, eval_t: int):  # type: ignore[no-untyped-def]
    """Prometheus' value for one window, or None when it outputs nothing."""
    if not vs:
        return None
    two = len(vs) >= 2
    if name in ("rate", "increase", "delta"):
        return ref_extrapolated(ts, vs, start, end, range_ms, name != "delta", name == "rate")
    if name in ("irate", "idelta"):
        return ref_instant(ts, vs, name == "irate")
    if name == "deriv":
        return ref_regression(ts, vs, ts[0])[0] if two else None
    if name == "predict_linear":
        if not two:
            return None
        slope, intercept = ref_regression(ts, vs, eval_t)
        return slope * 600 + intercept
    if name == "double_exponential_smoothing":
        return ref_des(vs, 0.3, 0.6)
    if name == "resets":
        return float(sum(vs[i] < vs[i - 1] for i in range(1, len(vs))))
    if name == "changes":
        return float(
            sum(
                vs[i] != vs[i - 1] and not (math.isnan(vs[i]) and math.isnan(vs[i - 1]))
                for i in range(1, len(vs))
            )
        )
    simple = {
        "avg_over_time": lambda: ref_avg(vs),
        "sum_over_time": lambda: ref_sum(vs),
        "count_over_time": lambda: float(len(vs)),
        "stdvar_over_time": lambda: ref_variance(vs),
        "stddev_over_time": lambda: math.sqrt(ref_variance(vs)) if ref_variance(vs) >= 0 else math.nan,
        "quantile_over_time": lambda: ref_quantile(0.3, vs),
        "mad_over_time": lambda: ref_mad(vs),
        "last_over_time": lambda: vs[-1],
        "first_over_time": lambda: vs[0],
        "ts_of_last_over_time": lambda: ts[-1] / 1000,
        "ts_of_first_over_time": lambda: ts[0] / 1000,
        "present_over_time": lambda: 1.0,
        "max_over_time": lambda: ref_compare(ts, vs, lambda c, m: c > m or math.isnan(m), False),
        "min_over_time": lambda: ref_compare(ts, vs, lambda c, m: c < m or math.isnan(m), False),
        "ts_of_max_over_time": lambda: ref_compare(ts, vs, lambda c, m: c >= m or math.isnan(m), True),
        "ts_of_min_over_time": lambda: ref_compare(ts, vs, lambda c, m: c <= m or math.isnan(m), True),
    }
    return simple[name]()


def random_series(rng: np.random.Generator, kind: str) -> tuple[np.ndarray, np.ndarray]:
    n = int(rng.integers(0, 40))
    ts = np.sort(rng.choice(np.arange(0, 600_000, 1000), size=n, replace=False)).astype(np.int64)
    if kind == "counter":
        steps = rng.exponential(5.0, n)
        vs = np.cumsum(steps)
        for i in np.flatnonzero(rng.random(n) < 0.1):
            vs[i:] -= vs[i] - rng.random() * 3  # a reset to a small value
    elif kind == "gauge":
        vs = rng.normal(0, 100, n)
    elif kind == "extreme":
        vs = rng.choice([1.0, -1.0, 1e100, -1e100, 1e308, -1e308, 0.5, np.inf, -np.inf], size=n)
    else:  # with NaN and repeated values
        vs = rng.choice([1.0, 2.0, np.nan, 2.0, 3.5], size=n)
    return ts, vs.astype(np.float64)


FLOAT_FUNCTIONS = sorted(set(RANGE_FUNCTIONS) - {"absent_over_time"})


def call_of(name: str, rv: RangeVector) -> tuple[Call, list]:  # type: ignore[type-arg]
    ms = MatrixSelector(VectorSelector("m", ()), rv.range_ms)
    n = len(rv.ends)
    if name == "predict_linear":
        return Call(name, (ms,)), [rv, Scalar(np.full(n, 600.0))]
    if name == "quantile_over_time":
        return Call(name, (ms,)), [Scalar(np.full(n, 0.3)), rv]
    if name == "double_exponential_smoothing":
        return Call(name, (ms,)), [rv, Scalar(np.full(n, 0.3)), Scalar(np.full(n, 0.6))]
    return Call(name, (ms,)), [rv]


def same(a: float, b: float, rel: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return a == b or abs(a - b) <= rel * max(abs(a), abs(b))


@pytest.mark.parametrize("name", FLOAT_FUNCTIONS)
@pytest.mark.parametrize("kind", ["counter", "gauge", "extreme", "nan"])
@pytest.mark.parametrize("chunked", [False, True], ids=["whole", "chunked"])
def test_matches_naive_twin(name: str, kind: str, chunked: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if chunked:  # tiny chunks: many row chunks and position blocks per evaluation
        monkeypatch.setattr(windows, "_ROW_CELLS", 97)
        monkeypatch.setattr(windows, "_BLOCK_CELLS", 50)
        monkeypatch.setattr(rates, "_FEW_RESETS", 0)  # resets summed over rows, not one by one
    for seed in RNG_SEEDS:
        rng = np.random.default_rng(hash((name, kind, seed)) % 2**32)
        series = [random_series(rng, kind) for _ in range(4)]
        labels = [(("__name__", f"m{i}_total"),) for i in range(len(series))]
        range_ms = int(rng.choice([30_000, 60_000, 125_000, 300_000]))
        ends = np.arange(-60_000, 700_000, int(rng.choice([7_000, 15_000, 60_000])), dtype=np.int64)
        rv = RangeVector(labels, series, ends, range_ms)
        call, args = call_of(name, rv)
        times = ends + 5_000  # an evaluation time apart from the window end (as with an offset)
        out = RANGE_FUNCTIONS[name](call, args, EvalContext(times))
        rel = 1e-9 if name in ("rate", "increase") else 0.0
        for i, (ts, vs) in enumerate(series):
            for j, end in enumerate(ends.tolist()):
                start = end - range_ms
                inside = (ts > start) & (ts <= end)
                want = reference(
                    name, ts[inside].tolist(), vs[inside].tolist(), start, end, range_ms, int(times[j])
                )
                got = float(out.values[i, j]) if out.present[i, j] else None
                where = f"{name} {kind} seed={seed} series={i} end={end}: want {want}, got {got}"
                if want is None or got is None:
                    assert want is None and got is None, where
                else:
                    assert same(got, want, rel), where
