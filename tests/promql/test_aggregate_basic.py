"""sum, avg, count, group, min, max, stddev, stdvar, quantile and count_values over hand-built
vectors, and against a sample-by-sample transcription of Prometheus' `aggregation()`."""

from __future__ import annotations

import math

import numpy as np
import pytest

from heron.model import Labels, labels_from
from heron.promql.aggregate import aggregate
from heron.promql.syntax.ast import AggregateExpr, NumberLiteral, StringLiteral, VectorSelector
from heron.promql.syntax.errors import PosRange
from heron.promql.value import EvalContext, ExecutionError, Scalar, String, Vector

NAN = math.nan
INF = math.inf
SEL = VectorSelector("x", ())


def make(rows: list[tuple[dict[str, str], list[float | None]]]) -> Vector:
    """Rows of labels and per-step values; None marks a step without a sample."""
    labels = [labels_from(ls) for ls, _ in rows]
    values = np.array([[0.0 if v is None else v for v in vs] for _, vs in rows], dtype=np.float64)
    present = np.array([[v is not None for v in vs] for _, vs in rows], dtype=bool)
    return Vector(labels, values.reshape(len(rows), -1), present.reshape(len(rows), -1))


def run(
    op: str,
    vec: Vector,
    *,
    by: tuple[str, ...] = (),
    without: bool = False,
    param: float | list[float] | str | None = None,
    query: str = "",
) -> tuple[Vector, EvalContext]:
    steps = vec.steps
    ctx = EvalContext(np.arange(steps, dtype=np.int64) * 60_000, query=query)
    node_param = None
    value = None
    if isinstance(param, str):
        node_param, value = StringLiteral(param), String(param)
    elif param is not None:
        node_param = NumberLiteral(0.0, PosRange(query.find("(") + 1, query.find("(") + 2))
        value = Scalar(np.broadcast_to(np.asarray(param, dtype=np.float64), (steps,)).copy())
    node = AggregateExpr(op, SEL, node_param, by, without)
    return aggregate(node, vec, value, ctx), ctx


def as_dict(out: Vector) -> dict[Labels, list[float | None]]:
    return {
        ls: [float(v) if p else None for v, p in zip(vals, pres)]
        for ls, vals, pres in zip(out.labels, out.values, out.present)
    }


HTTP = make(
    [
        ({"__name__": "http", "job": "api", "instance": "0", "group": "production"}, [100.0]),
        ({"__name__": "http", "job": "api", "instance": "1", "group": "production"}, [200.0]),
        ({"__name__": "http", "job": "api", "instance": "0", "group": "canary"}, [300.0]),
        ({"__name__": "http", "job": "api", "instance": "1", "group": "canary"}, [400.0]),
        ({"__name__": "http", "job": "app", "instance": "0", "group": "production"}, [500.0]),
        ({"__name__": "http", "job": "app", "instance": "1", "group": "production"}, [600.0]),
        ({"__name__": "http", "job": "app", "instance": "0", "group": "canary"}, [700.0]),
        ({"__name__": "http", "job": "app", "instance": "1", "group": "canary"}, [800.0]),
    ]
)


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ("sum", {"api": 1000.0, "app": 2600.0}),
        ("avg", {"api": 250.0, "app": 650.0}),
        ("count", {"api": 4.0, "app": 4.0}),
        ("group", {"api": 1.0, "app": 1.0}),
        ("min", {"api": 100.0, "app": 500.0}),
        ("max", {"api": 400.0, "app": 800.0}),
        ("stdvar", {"api": 12500.0, "app": 12500.0}),
    ],
)
def test_by_keeps_only_the_listed_labels(op: str, expected: dict[str, float]) -> None:
    out, _ = run(op, HTTP, by=("job", "nonexistent"))
    assert as_dict(out) == {(("job", j),): [v] for j, v in expected.items()}


def test_without_drops_the_listed_labels_and_the_name() -> None:
    out, _ = run("sum", HTTP, by=("instance",), without=True)
    assert as_dict(out) == {
        (("group", "production"), ("job", "api")): [300.0],
        (("group", "canary"), ("job", "api")): [700.0],
        (("group", "production"), ("job", "app")): [1100.0],
        (("group", "canary"), ("job", "app")): [1500.0],
    }
    # Groups come out in the order they first appear.
    assert [dict(ls)["group"] for ls in out.labels] == ["production", "canary", "production", "canary"]


def test_no_grouping_is_one_series_without_labels() -> None:
    out, _ = run("sum", HTTP)
    assert as_dict(out) == {(): [3600.0]}
    stddev, _ = run("stddev", HTTP)
    assert stddev.values[0, 0] == pytest.approx(229.12878474779)


def test_presence_per_step_and_empty_groups_dropped() -> None:
    vec = make(
        [
            ({"a": "1", "g": "x"}, [1.0, None, 3.0]),
            ({"a": "2", "g": "x"}, [None, None, 4.0]),
            ({"a": "3", "g": "y"}, [None, None, None]),
        ]
    )
    out, _ = run("sum", vec, by=("g",))
    assert as_dict(out) == {(("g", "x"),): [1.0, None, 7.0]}
    count, _ = run("count", vec, by=("g",))
    assert as_dict(count) == {(("g", "x"),): [1.0, None, 2.0]}


def test_sum_is_kahan_compensated() -> None:
    vec = make([({"p": str(i)}, [v]) for i, v in enumerate([2.0, 8.0, 1e100, -1e100])])
    assert run("sum", vec)[0].values[0, 0] == 10.0
    assert run("avg", vec)[0].values[0, 0] == 2.5


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.0, INF, INF, 0.0], INF),
        ([INF, 0.0, INF], INF),
        ([INF, INF, -INF], NAN),
        ([-INF, 0.0, INF], NAN),
        ([9.988465674311579e307] * 4, 9.988465674311579e307),
        ([-9.988465674311579e307] * 4, -9.988465674311579e307),
        ([-9.988465674311579e307] * 2 + [9.988465674311579e307] * 2, 0.0),
        ([52.0] * 12, 52.0),
    ],
)
def test_avg_overflow_switches_to_incremental_mean(values: list[float], expected: float) -> None:
    vec = make([({"p": str(i)}, [v]) for i, v in enumerate(values)])
    got = run("avg", vec)[0].values[0, 0]
    if math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got == pytest.approx(expected, rel=1e-15)


def test_stddev_of_identical_values_is_exactly_zero() -> None:
    vec = make([({"p": str(i)}, [13.3]) for i in range(3)])
    assert run("stddev", vec)[0].values[0, 0] == 0.0
    assert run("stdvar", vec)[0].values[0, 0] == 0.0


def test_stddev_nan_or_inf_makes_the_group_nan() -> None:
    vec = make([({"l": "a"}, [1.0]), ({"l": "b"}, [2.0]), ({"l": "c"}, [INF])])
    assert math.isnan(run("stddev", vec)[0].values[0, 0])
    by_label = as_dict(run("stdvar", vec, by=("l",))[0])
    assert by_label[(("l", "a"),)] == [0.0] and math.isnan(by_label[(("l", "c"),)][0])  # type: ignore[arg-type]


def test_min_max_skip_nan_unless_all_are_nan() -> None:
    vec = make([({"p": "0"}, [NAN, NAN]), ({"p": "1"}, [3.0, NAN]), ({"p": "2"}, [1.0, NAN])])
    mx = run("max", vec)[0].values[0]
    mn = run("min", vec)[0].values[0]
    assert mx[0] == 3.0 and mn[0] == 1.0 and math.isnan(mx[1]) and math.isnan(mn[1])


def test_quantile_treats_nan_as_lowest() -> None:
    vec = make([({"p": "a"}, [0.0]), ({"p": "b"}, [1.0]), ({"p": "c"}, [NAN])])
    assert run("quantile", vec, param=0.8)[0].values[0, 0] == pytest.approx(0.6)
    assert math.isnan(run("quantile", vec, param=0.2)[0].values[0, 0])


def test_quantile_parameter_per_step_and_out_of_range() -> None:
    vec = make([({"p": "a"}, [0.0] * 4), ({"p": "b"}, [1.0] * 4), ({"p": "c"}, [4.0] * 4)])
    out, ctx = run("quantile", vec, param=[0.5, -1.0, 2.0, 0.8], query="quantile(x, y)")
    assert out.values[0].tolist() == [1.0, -INF, INF, pytest.approx(2.8)]
    assert ctx.warnings == [
        "PromQL warning: quantile value should be between 0 and 1, got 2 (1:10)",
        "PromQL warning: quantile value should be between 0 and 1, got -1 (1:10)",
    ]
    _, nan_ctx = run("quantile", vec, param=NAN, query="quantile(x, y)")
    assert nan_ctx.warnings == ["PromQL warning: quantile value should be between 0 and 1, got NaN (1:10)"]


def test_pending_name_removal_is_kept_for_by_name() -> None:
    vec = make([({"__name__": "m", "env": "1"}, [10.0]), ({"__name__": "m", "env": "2"}, [0.05])])
    vec.drop_name = np.array([False, True])
    out, _ = run("sum", vec, by=("__name__",))
    assert out.labels == [(("__name__", "m"),)] and out.values[0, 0] == 10.05
    assert out.drop_name is not None and out.drop_name.tolist() == [True]


def test_count_values_spells_values_as_go() -> None:
    vec = make(
        [
            ({"i": "0"}, [6.0]),
            ({"i": "1"}, [6.0]),
            ({"i": "2"}, [-0.0]),
            ({"i": "3"}, [0.0]),
            ({"i": "4"}, [1e21]),
            ({"i": "5"}, [NAN]),
            ({"i": "6"}, [0.1]),
        ]
    )
    out, _ = run("count_values", vec, param="v")
    assert as_dict(out) == {
        (("v", "6"),): [2.0],
        (("v", "-0"),): [1.0],
        (("v", "0"),): [1.0],
        (("v", "1000000000000000000000"),): [1.0],
        (("v", "NaN"),): [1.0],
        (("v", "0.1"),): [1.0],
    }


def test_count_values_grouping_and_overwriting() -> None:
    vec = make(
        [
            ({"__name__": "version", "job": "api", "instance": "0"}, [6.0, 6.0]),
            ({"__name__": "version", "job": "api", "instance": "1"}, [8.0, None]),
            ({"__name__": "version", "job": "app", "instance": "0"}, [6.0, 7.0]),
        ]
    )
    without, _ = run("count_values", vec, by=("instance",), without=True, param="version")
    assert as_dict(without) == {
        (("job", "api"), ("version", "6")): [1.0, 1.0],
        (("job", "api"), ("version", "8")): [1.0, None],
        (("job", "app"), ("version", "6")): [1.0, None],
        (("job", "app"), ("version", "7")): [None, 1.0],
    }
    overwrite, _ = run("count_values", vec, by=("job",), param="job")
    assert as_dict(overwrite) == {
        (("job", "6"),): [2.0, 1.0],
        (("job", "8"),): [1.0, None],
        (("job", "7"),): [None, 1.0],
    }
    dropped, _ = run("count_values", vec, by=("v",), without=True, param="v")
    assert as_dict(dropped) == {
        (("instance", "0"), ("job", "api")): [1.0, 1.0],
        (("instance", "1"), ("job", "api")): [1.0, None],
        (("instance", "0"), ("job", "app")): [1.0, 1.0],
    }


@pytest.mark.parametrize("name", ["", "a\udcc5z"])
def test_count_values_rejects_invalid_label_names(name: str) -> None:
    with pytest.raises(ExecutionError, match="invalid label name"):
        run("count_values", HTTP, param=name)
    with pytest.raises(ExecutionError, match=r'invalid label name "a\\xc5z"'):
        run("count_values", HTTP, param="a\udcc5z")


def test_empty_input_gives_empty_output() -> None:
    for op in ("sum", "avg", "count", "stddev", "quantile"):
        out, _ = run(op, Vector.empty(3), param=0.5 if op == "quantile" else None)
        assert len(out) == 0 and out.values.shape == (0, 3)


# A transcription of Prometheus' aggregation(): one step at a time, one sample at a time, in
# input order, with Go's float arithmetic (Python floats are IEEE doubles).


def _kahan_inc(inc: float, total: float, c: float) -> tuple[float, float]:
    t = total + inc
    if math.isinf(t):
        return t, 0.0
    if abs(total) >= abs(inc):
        return t, c + ((total - t) + inc)
    return t, c + ((inc - t) + total)


def _reference(op: str, samples: list[float], q: float = 0.5) -> float:
    if op == "sum":
        total, c = samples[0], 0.0
        for f in samples[1:]:
            total, c = _kahan_inc(f, total, c)
        return total + c
    if op == "avg":
        total, c, mean, n, incremental = samples[0], 0.0, samples[0], 1.0, False
        for f in samples[1:]:
            n += 1
            if not incremental:
                nv, nc = _kahan_inc(f, total, c)
                if not math.isinf(nv):
                    total, c = nv, nc
                    continue
                incremental = True
                mean = total / (n - 1)
                c = c / (n - 1)
            r = (n - 1) / n
            mean, c = _kahan_inc(f / n, r * mean, r * c)
        return mean + c if incremental else total / n + c / n
    if op in ("stddev", "stdvar"):
        mean, acc, n = samples[0], (NAN if not math.isfinite(samples[0]) else 0.0), 1.0
        for f in samples[1:]:
            n += 1
            delta = f - mean
            mean += delta / n
            acc += delta * (f - mean)
        return math.sqrt(acc / n) if op == "stddev" else acc / n
    ordered = sorted(samples, key=lambda v: (not math.isnan(v), 0.0 if math.isnan(v) else v))
    rank = q * (len(ordered) - 1)
    lower = max(0.0, math.floor(rank))
    upper = min(len(ordered) - 1.0, lower + 1)
    weight = rank - math.floor(rank)
    return ordered[int(lower)] * (1 - weight) + ordered[int(upper)] * weight


@pytest.mark.parametrize("op", ["sum", "avg", "stddev", "stdvar", "quantile"])
def test_matches_a_sample_by_sample_transcription(op: str) -> None:
    rng = np.random.default_rng(7)
    rows, steps = 300, 12
    values = rng.choice([1e16, -1e16, 0.1, 3.0, -2.5, 1e308, 1e-300], size=(rows, steps))
    values = values * rng.random((rows, steps))
    values[rng.random((rows, steps)) < 0.02] = NAN
    values[rng.random((rows, steps)) < 0.01] = INF
    values[:, 3] = 1e308  # a step whose running sum overflows
    present = rng.random((rows, steps)) < 0.8
    groups = rng.integers(0, 9, size=rows) ** 2  # uneven group sizes
    labels = [(("g", str(int(g))), ("i", str(i))) for i, g in enumerate(groups)]
    vec = Vector(labels, values, present)
    out, _ = run(op, vec, by=("g",), param=0.3 if op == "quantile" else None)
    got = as_dict(out)
    for key, series in got.items():
        g = int(key[0][1])
        members = [i for i in range(rows) if groups[i] == g]
        for s in range(steps):
            samples = [float(values[i, s]) for i in members if present[i, s]]
            if not samples:
                assert series[s] is None
                continue
            want = _reference(op, samples, 0.3)
            have = series[s]
            assert have is not None
            assert (math.isnan(want) and math.isnan(have)) or have == want, (op, g, s, have, want)
