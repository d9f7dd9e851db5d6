"""Range aggregations: hand-computed tables plus property tests against a naive per-step reference."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heron.logql import rangeagg as ra

S = 1_000_000_000  # ns per second
NAN = math.nan


def same(actual: np.ndarray, expected: Sequence[float]) -> bool:
    """Element-wise equality where NaN == NaN (NaN is "no point")."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    return a.shape == e.shape and bool(np.all((a == e) | (np.isnan(a) & np.isnan(e))))


# Entries at 1s, 2s, 2s, 5s, 9s, 10s; steps 0, 2, ..., 12 s; range 4s.
TS = np.array([1, 2, 2, 5, 9, 10], dtype=np.int64) * S
VALS = np.array([1.0, 5.0, 3.0, 2.0, 8.0, 1.0])
STEPS = ra.step_times(0, 12 * S, 2 * S)
RANGE = 4 * S
# windows: t=0 (-4,0]: -; t=2 (-2,2]: 1,5,3; t=4 (0,4]: 1,5,3; t=6 (2,6]: 2 (the 2s entries
# sit exactly on the open left edge and are excluded); t=8 (4,8]: 2; t=10 (6,10]: 8,1; t=12 (8,12]: 8,1

TABLE: list[tuple[str, Callable[[], np.ndarray], list[float]]] = [
    ("count", lambda: ra.count_over_time(TS, STEPS, RANGE), [NAN, 3, 3, 1, 1, 2, 2]),
    ("rate", lambda: ra.rate(TS, STEPS, RANGE), [NAN, 0.75, 0.75, 0.25, 0.25, 0.5, 0.5]),
    ("absent", lambda: ra.absent_over_time(TS, STEPS, RANGE), [1, NAN, NAN, NAN, NAN, NAN, NAN]),
    (
        "bytes",
        lambda: ra.bytes_over_time(TS, [10, 20, 30, 40, 50, 60], STEPS, RANGE),
        [NAN, 60, 60, 40, 40, 110, 110],
    ),
    (
        "bytes_rate",
        lambda: ra.bytes_rate(TS, [10, 20, 30, 40, 50, 60], STEPS, RANGE),
        [NAN, 15, 15, 10, 10, 27.5, 27.5],
    ),
    ("sum", lambda: ra.sum_over_time(TS, VALS, STEPS, RANGE), [NAN, 9, 9, 2, 2, 9, 9]),
    ("avg", lambda: ra.avg_over_time(TS, VALS, STEPS, RANGE), [NAN, 3, 3, 2, 2, 4.5, 4.5]),
    ("min", lambda: ra.min_over_time(TS, VALS, STEPS, RANGE), [NAN, 1, 1, 2, 2, 1, 1]),
    ("max", lambda: ra.max_over_time(TS, VALS, STEPS, RANGE), [NAN, 5, 5, 2, 2, 8, 8]),
    ("stdvar", lambda: ra.stdvar_over_time(TS, VALS, STEPS, RANGE), [NAN, 8 / 3, 8 / 3, 0, 0, 12.25, 12.25]),
    ("stddev", lambda: ra.stddev_over_time([0, 1, 2, 3], [2, 4, 4, 6], [3], 10), [math.sqrt(2)]),
    ("quantile.5", lambda: ra.quantile_over_time(0.5, TS, VALS, STEPS, RANGE), [NAN, 3, 3, 2, 2, 4.5, 4.5]),
    (
        "quantile.9",
        lambda: ra.quantile_over_time(0.9, TS, VALS, STEPS, RANGE),
        [NAN, 4.6, 4.6, 2, 2, 7.3, 7.3],
    ),
    ("quantile<0", lambda: ra.quantile_over_time(-1, TS, VALS, STEPS, RANGE), [NAN] + [-math.inf] * 6),
    ("quantile>1", lambda: ra.quantile_over_time(1.5, TS, VALS, STEPS, RANGE), [NAN] + [math.inf] * 6),
    ("first", lambda: ra.first_over_time(TS, VALS, STEPS, RANGE), [NAN, 1, 1, 2, 2, 8, 8]),
    ("last", lambda: ra.last_over_time(TS, VALS, STEPS, RANGE), [NAN, 3, 3, 2, 2, 1, 1]),
    (
        "rate_unwrapped",
        lambda: ra.rate_unwrapped(TS, VALS, STEPS, RANGE),
        [NAN, 2.25, 2.25, 0.5, 0.5, 2.25, 2.25],
    ),
]


@pytest.mark.parametrize(("name", "call", "expected"), TABLE, ids=[t[0] for t in TABLE])
def test_table(name: str, call: Callable[[], np.ndarray], expected: list[float]) -> None:
    got = call()
    assert got.dtype == np.float64
    assert np.allclose(got, expected, rtol=1e-12, atol=0, equal_nan=True), (name, got)


def test_window_is_left_open_right_closed() -> None:
    ts = np.array([10, 20], dtype=np.int64)
    # t=20, range 10: (10, 20] holds only the entry at 20; t=19: (9, 19] only the one at 10;
    # t=30: (20, 30] holds nothing (20 sits on the open edge); t=29: (19, 29] holds 20.
    assert same(ra.count_over_time(ts, [20, 19, 30, 29, 9], 10), [1, 1, NAN, 1, NAN])
    lo, hi = ra.window_bounds(ts, [20], 10)
    assert (lo.tolist(), hi.tolist()) == ([1], [2])


def test_step_times() -> None:
    assert ra.step_times(0, 10, 5).tolist() == [0, 5, 10]
    assert ra.step_times(0, 11, 5).tolist() == [0, 5, 10]
    assert ra.step_times(7, 7, 5).tolist() == [7]
    assert ra.step_times(8, 7, 5).tolist() == []
    assert ra.step_times(0, 10, 5).dtype == np.int64
    with pytest.raises(ValueError, match="zero or negative"):
        ra.step_times(0, 10, 0)


def test_range_seconds_is_gos_formula() -> None:
    assert ra.range_seconds(90 * S) == 90.0
    assert ra.range_seconds(1_500_000_000) == 1.5
    assert ra.range_seconds(3 * S + 1) == 3.0 + 1 / 1e9


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="range"):
        ra.count_over_time(TS, STEPS, 0)
    with pytest.raises(ValueError, match="one element per timestamp"):
        ra.sum_over_time(TS, [1.0], STEPS, RANGE)
    with pytest.raises(ValueError, match="needs values"):
        ra.apply_range_function("sum_over_time", TS, None, STEPS, RANGE)
    with pytest.raises(ValueError, match="quantile parameter"):
        ra.apply_range_function("quantile_over_time", TS, VALS, STEPS, RANGE)
    with pytest.raises(ValueError, match="unknown range function"):
        ra.apply_range_function("median_over_time", TS, VALS, STEPS, RANGE)


def test_empty_inputs() -> None:
    empty = np.empty(0, dtype=np.int64)
    assert same(ra.count_over_time(empty, [5, 6], 3), [NAN, NAN])
    assert same(ra.absent_over_time(empty, [5, 6], 3), [1, 1])
    assert same(ra.sum_over_time(empty, [], [5], 3), [NAN])
    assert same(ra.stddev_over_time(empty, [], [5], 3), [NAN])
    assert same(ra.quantile_over_time(0.5, empty, [], [5], 3), [NAN])
    assert same(ra.rate_counter(empty, [], [5], 3), [NAN])
    assert ra.count_over_time(TS, np.empty(0, dtype=np.int64), RANGE).shape == (0,)


def test_sum_has_no_prefix_sum_cancellation() -> None:
    # A cumsum-difference would lose the small values behind the huge first one.
    ts = np.arange(4, dtype=np.int64)
    vals = [1e17, 0.5, 0.25, 0.125]
    assert same(ra.sum_over_time(ts, vals, [1, 2, 3], 1), [0.5, 0.25, 0.125])
    assert same(ra.sum_over_time(ts, vals, [3], 3), [0.875])
    assert same(ra.avg_over_time(ts, vals, [3], 3), [0.875 / 3])


def test_integer_sums_are_exact() -> None:
    rng = np.random.default_rng(7)
    ts = np.sort(rng.integers(0, 10_000, 20_000))
    vals = rng.integers(-(2**40), 2**40, ts.shape[0]).astype(np.float64)
    steps = ra.step_times(0, 10_000, 37)
    got = ra.sum_over_time(ts, vals, steps, 500)
    for k, t in enumerate(steps.tolist()):
        window = vals[(ts > t - 500) & (ts <= t)]
        expected = sum(int(v) for v in window) if window.size else NAN
        assert same(got[k : k + 1], [expected])


def test_stddev_survives_a_large_offset() -> None:
    # Naive E[x^2] - E[x]^2 returns garbage (even negative) here.
    vals = [1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16]
    got = ra.stdvar_over_time([1, 2, 3, 4], vals, [4, 3], 4)
    assert got[0] == pytest.approx(22.5, rel=1e-12)
    assert got[1] == pytest.approx(statistics.pvariance(vals[:3]), rel=1e-12)
    assert ra.stddev_over_time([1], [1e15], [1], 1)[0] == 0.0


def test_min_max_skip_nan_like_loki() -> None:
    vals = [NAN, 3.0, NAN, 1.0]
    assert same(ra.min_over_time([1, 2, 3, 4], vals, [4, 1], 4), [1.0, NAN])
    assert same(ra.max_over_time([1, 2, 3, 4], vals, [4, 1], 4), [3.0, NAN])


def test_quantile_sorts_nan_first() -> None:
    # Loki's HeapByMaxValue.Less puts NaN before everything: sorted = [NaN, 1, 2].
    vals = [2.0, NAN, 1.0]
    assert same(ra.quantile_over_time(1.0, [1, 2, 3], vals, [3], 3), [2.0])
    assert same(ra.quantile_over_time(0.0, [1, 2, 3], vals, [3], 3), [NAN])
    assert same(ra.quantile_over_time(NAN, [1, 2, 3], vals, [3], 3), [NAN])


def test_quantile_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ra, "_QUANTILE_CHUNK", 3)
    got = ra.quantile_over_time(0.9, TS, VALS, STEPS, RANGE)
    assert np.allclose(got, [NAN, 4.6, 4.6, 2, 2, 7.3, 7.3], equal_nan=True)
    # Windows of different lengths, NaNs included, split over many small chunks.
    rng = np.random.default_rng(3)
    ts = np.sort(rng.integers(0, 200, 300))
    vals = rng.integers(-5, 5, 300).astype(np.float64)
    vals[rng.random(300) < 0.1] = NAN
    steps = np.arange(0, 210, 7)
    for chunk in (3, 50, 1 << 21):
        monkeypatch.setattr(ra, "_QUANTILE_CHUNK", chunk)
        for q in (0.0, 0.3, 0.5, 0.95, 1.0):
            got = ra.quantile_over_time(q, ts, vals, steps, 23)
            for k, t in enumerate(steps.tolist()):
                w = vals[(ts > t - 23) & (ts <= t)].tolist()
                if not w:
                    assert math.isnan(got[k])
                    continue
                nan_first = sorted(w, key=lambda v: (not math.isnan(v), 0.0 if math.isnan(v) else v))
                n = len(w)
                rank = q * (n - 1)
                lower = max(0, math.floor(rank))
                upper = min(n - 1, lower + 1)
                weight = rank - math.floor(rank)
                want = nan_first[lower] * (1 - weight) + nan_first[upper] * weight
                assert same(got[k : k + 1], [want]), (chunk, q, t, got[k], want)


def test_rate_counter_hand_computed() -> None:
    # Counter sampled every 10s, 10 -> 20 -> 30 -> 40, window (0s, 40s] at t=40s, range 40s.
    ts = np.array([10, 20, 30, 40], dtype=np.int64) * S
    vals = [10.0, 20.0, 30.0, 40.0]
    # increase 30 over 30s sampled; to_start 10s < 11s threshold -> extrapolate fully, but the
    # zero point is 10s before the first sample (10 / (30/30s)) -> to_start stays 10s; to_end 0.
    # rate = 30 * 40 / 30 / 40 = 1.0
    assert same(ra.rate_counter(ts, vals, [40 * S], 40 * S), [1.0])
    # With a reset 30 -> 5: increase = 5 - 10 + 30 = 25; first=10 -> zero point 30*(10/25)=12s
    # > to_start 10s, so to_start stays 10s: 25 * 40/30 / 40
    assert ra.rate_counter(ts, [10.0, 20.0, 30.0, 5.0], [40 * S], 40 * S)[0] == pytest.approx(25 / 30)
    # Samples far from the edges: window (0, 100s], samples at 40..70s every 10s -> extrapolate
    # half an interval (5s) on both sides: 30 * 40/30 / 100 = 0.4
    ts2 = np.array([40, 50, 60, 70], dtype=np.int64) * S
    assert ra.rate_counter(ts2, [100.0, 110.0, 120.0, 130.0], [100 * S], 100 * S)[0] == pytest.approx(0.4)
    # Loki: one sample -> 0, none -> no point; same-timestamp samples -> 0 (documented choice).
    assert same(ra.rate_counter(ts, vals, [10 * S, 5 * S], 5 * S), [0.0, NAN])
    assert same(ra.rate_counter([S, S], [1.0, 2.0], [S], S), [0.0])


def test_range_functions_table() -> None:
    assert set(ra.RANGE_FUNCTIONS) == ra.LOG_RANGE_FUNCTIONS | ra.UNWRAP_RANGE_FUNCTIONS | {"rate_unwrapped"}
    assert ra.RANGE_FUNCTIONS["count_over_time"] is ra.count_over_time
    sizes = np.array([10, 20, 30, 40, 50, 60])
    apply = ra.apply_range_function
    assert same(apply("rate", TS, None, STEPS, RANGE), ra.rate(TS, STEPS, RANGE))
    assert same(apply("rate", TS, VALS, STEPS, RANGE), ra.rate_unwrapped(TS, VALS, STEPS, RANGE))
    assert same(apply("rate_unwrapped", TS, VALS, STEPS, RANGE), ra.rate_unwrapped(TS, VALS, STEPS, RANGE))
    assert same(apply("bytes_rate", TS, sizes, STEPS, RANGE), ra.bytes_rate(TS, sizes, STEPS, RANGE))
    assert same(
        apply("quantile_over_time", TS, VALS, STEPS, RANGE, 0.9),
        ra.quantile_over_time(0.9, TS, VALS, STEPS, RANGE),
    )
    assert same(apply("count_over_time", TS, VALS, STEPS, RANGE), ra.count_over_time(TS, STEPS, RANGE))
    assert same(apply("absent_over_time", TS, None, STEPS, RANGE), ra.absent_over_time(TS, STEPS, RANGE))


# --------------------------------------------------------------------------- naive reference


def naive_rate_counter(wt: list[int], wv: list[float], t: int, r: int) -> float:
    """Prometheus' extrapolatedRate(isCounter, isRate) over (t-r, t], Loki's <2 samples -> 0."""
    if len(wv) < 2:
        return 0.0
    increase = wv[-1] - wv[0]
    prev = wv[0]
    for v in wv[1:]:
        if v < prev:
            increase += prev
        prev = v
    to_start = (wt[0] - (t - r)) / 1e9
    to_end = (t - wt[-1]) / 1e9
    sampled = (wt[-1] - wt[0]) / 1e9
    if sampled == 0:
        return 0.0
    avg = sampled / (len(wv) - 1)
    if to_start >= avg * 1.1:
        to_start = avg / 2
    if increase > 0 and wv[0] >= 0:
        to_zero = sampled * (wv[0] / increase)
        if to_zero < to_start:
            to_start = to_zero
    if to_end >= avg * 1.1:
        to_end = avg / 2
    return increase * (sampled + to_start + to_end) / sampled / ra.range_seconds(r)


def naive_quantile(q: float, w: list[float]) -> float:
    s = sorted(w)
    n = len(s)
    rank = q * (n - 1)
    lower = max(0.0, math.floor(rank))
    upper = min(n - 1.0, lower + 1)
    weight = rank - math.floor(rank)
    return s[int(lower)] * (1 - weight) + s[int(upper)] * weight


def naive_value(name: str, wt: list[int], w: list[float], t: int, r: int, q: float) -> float:
    secs = ra.range_seconds(r)
    if name == "count_over_time":
        return float(len(w))
    if name == "rate":
        return len(w) / secs
    if name == "bytes_over_time":
        return float(sum(int(v) for v in w))
    if name == "bytes_rate":
        return sum(int(v) for v in w) / secs
    if name == "sum_over_time":
        return math.fsum(w)
    if name == "avg_over_time":
        return statistics.fmean(w)
    if name == "min_over_time":
        return min(w)
    if name == "max_over_time":
        return max(w)
    if name == "stdvar_over_time":
        return statistics.pvariance(w)
    if name == "stddev_over_time":
        return statistics.pstdev(w)
    if name == "quantile_over_time":
        return naive_quantile(q, w)
    if name == "first_over_time":
        return w[0]
    if name == "last_over_time":
        return w[-1]
    if name == "rate_unwrapped":
        return math.fsum(w) / secs
    assert name == "rate_counter"
    return naive_rate_counter(wt, w, t, r)


def naive(name: str, ts: list[int], vals: list[float], steps: list[int], r: int, q: float) -> list[float]:
    out: list[float] = []
    for t in steps:
        idx = [i for i, x in enumerate(ts) if t - r < x <= t]
        wt = [ts[i] for i in idx]
        w = [vals[i] for i in idx]
        if name == "absent_over_time":
            out.append(1.0 if not w else NAN)
            continue
        if not w:
            out.append(NAN)
            continue
        out.append(naive_value(name, wt, w, t, r, q))
    return out


def call(name: str, ts: np.ndarray, vals: np.ndarray, steps: np.ndarray, r: int, q: float) -> np.ndarray:
    """Go through both entry points: the natural signatures and the uniform dispatcher."""
    fn = ra.RANGE_FUNCTIONS[name]
    if name in ("count_over_time", "rate", "absent_over_time"):
        direct = fn(ts, steps, r)
        uniform = ra.apply_range_function(name, ts, None, steps, r)
    elif name == "quantile_over_time":
        direct = fn(q, ts, vals, steps, r)
        uniform = ra.apply_range_function(name, ts, vals, steps, r, q)
    else:
        arg = vals.astype(np.int64) if name.startswith("bytes") else vals
        direct = fn(ts, arg, steps, r)
        uniform = ra.apply_range_function(name, ts, arg, steps, r)
    assert same(direct, uniform), name
    return direct


ALL_NAMES = sorted(ra.RANGE_FUNCTIONS)
EXACT = {
    "count_over_time",
    "rate",
    "absent_over_time",
    "bytes_over_time",
    "bytes_rate",
    "min_over_time",
    "max_over_time",
    "first_over_time",
    "last_over_time",
    "quantile_over_time",
}


@st.composite
def scenarios(draw: st.DrawFn, integer: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, float]:
    n = draw(st.integers(0, 30))
    # Seconds on a small grid so duplicates and exact window-edge hits are frequent.
    ts = sorted(draw(st.lists(st.integers(0, 40), min_size=n, max_size=n)))
    if integer:
        vals = draw(st.lists(st.integers(-1000, 1000), min_size=n, max_size=n))
    else:
        magnitude = draw(st.sampled_from([1.0, 1e6, 1e12]))
        vals = draw(
            st.lists(st.floats(-magnitude, magnitude, allow_nan=False, width=64), min_size=n, max_size=n)
        )
    start = draw(st.integers(-5, 45))
    step = draw(st.integers(1, 12))
    n_steps = draw(st.integers(1, 10))
    r = draw(st.integers(1, 25))
    q = draw(st.sampled_from([0.0, 0.25, 0.5, 0.9, 0.99, 1.0]))
    steps = ra.step_times(start * S, (start + step * (n_steps - 1)) * S, step * S)
    return np.array(ts, dtype=np.int64) * S, np.array(vals, dtype=np.float64), steps, r * S, q


def check_against_naive(
    scenario: tuple[np.ndarray, np.ndarray, np.ndarray, int, float], integer: bool
) -> None:
    ts, vals, steps, r, q = scenario
    ts_l, vals_l, steps_l = ts.tolist(), vals.tolist(), steps.tolist()
    scale = float(np.abs(vals).sum()) if vals.size else 0.0
    for name in ALL_NAMES:
        if name.startswith("bytes") and not integer:
            continue
        got = call(name, ts, vals, steps, r, q)
        want = naive(name, ts_l, vals_l, steps_l, r, q)
        assert got.shape == (len(steps_l),)
        assert np.array_equal(np.isnan(got), np.isnan(want)), (name, got, want)
        if name in EXACT or (integer and name in ("sum_over_time", "rate_unwrapped")):
            assert same(got, want), (name, got, want)
            continue
        for k, (g, w) in enumerate(zip(got.tolist(), want)):
            if math.isnan(w):
                continue
            if name in ("stdvar_over_time", "stddev_over_time"):
                t = steps_l[k]
                window = [v for x, v in zip(ts_l, vals_l) if t - r < x <= t]
                mean = statistics.fmean(window)
                spread = max(abs(v - mean) for v in window)
                # Floors: a variance below ~1e-300 underflows in any float code (Loki's too).
                tol = (
                    1e-9 * spread * spread + 1e-300 if name == "stdvar_over_time" else 1e-9 * spread + 1e-150
                )
            else:
                tol = 1e-12 * scale + 1e-12 * abs(w)
                if name == "rate_counter":
                    tol = 1e-9 * (scale + abs(w))
            assert abs(g - w) <= tol, (name, k, g, w)


@settings(max_examples=150, deadline=None)
@given(scenarios(integer=True))
def test_matches_naive_reference_integers(
    scenario: tuple[np.ndarray, np.ndarray, np.ndarray, int, float],
) -> None:
    check_against_naive(scenario, integer=True)


@settings(max_examples=150, deadline=None)
@given(scenarios(integer=False))
def test_matches_naive_reference_floats(
    scenario: tuple[np.ndarray, np.ndarray, np.ndarray, int, float],
) -> None:
    check_against_naive(scenario, integer=False)
