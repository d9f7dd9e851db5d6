"""histogram_quantile, histogram_quantiles and histogram_fraction over classic `le` buckets,
with the cases of Prometheus' histograms.test built by hand, and their annotations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from heron.model import Labels, labels_from
from heron.promql.functions import FUNCTIONS
from heron.promql.functions.histogram import format_openmetrics_float, parse_go_float
from heron.promql.syntax.ast import Call, NumberLiteral, StringLiteral, VectorSelector
from heron.promql.syntax.errors import PosRange
from heron.promql.value import EvalContext, ExecutionError, Scalar, String, Vector

NAN = math.nan
INF = math.inf


def buckets(
    name: str, spec: dict[str, list[float | None]], **labels: str
) -> list[tuple[Labels, list[float | None]]]:
    return [(labels_from({"__name__": name, "le": le, **labels}), vs) for le, vs in spec.items()]


def vector(rows: list[tuple[Labels, list[float | None]]]) -> Vector:
    values = np.array([[0.0 if v is None else v for v in vs] for _, vs in rows], dtype=np.float64)
    present = np.array([[v is not None for v in vs] for _, vs in rows], dtype=bool)
    return Vector([ls for ls, _ in rows], values, present)


def call(func: str, args: list[Scalar | Vector | String], query: str = "") -> tuple[Vector, EvalContext]:
    steps = next(a.steps for a in args if isinstance(a, Vector))
    ctx = EvalContext(np.arange(steps, dtype=np.int64) * 60_000 + 3_000_000, query=query)
    nodes = []
    start = query.find("(") + 1
    for a in args:
        pos = PosRange(start, start + 1)
        nodes.append(
            VectorSelector("x", (), pos=pos)
            if isinstance(a, Vector)
            else StringLiteral("q", pos)
            if isinstance(a, String)
            else NumberLiteral(0.0, pos)
        )
        comma = query.find(",", start)
        start = comma + 2 if comma >= 0 else start
    out = FUNCTIONS[func](Call(func, tuple(nodes)), list(args), ctx)
    assert isinstance(out, Vector)
    return out, ctx


def scalar(v: float | list[float], steps: int = 1) -> Scalar:
    return Scalar(np.broadcast_to(np.asarray(v, dtype=np.float64), (steps,)).copy())


def result(out: Vector) -> dict[Labels, list[float | None]]:
    return {
        ls: [float(v) if p else None for v, p in zip(vs, ps)]
        for ls, vs, ps in zip(out.labels, out.values, out.present)
    }


TEST = vector(
    buckets(
        "testhistogram_bucket",
        {"0.1": [50.0], ".2": [70.0], "1e0": [110.0], "+Inf": [120.0]},
        start="positive",
    )
    + buckets(
        "testhistogram_bucket",
        {"-.2": [10.0], "-0.1": [20.0], "0.3": [20.0], "+Inf": [30.0]},
        start="negative",
    )
)
POS = (("__name__", "testhistogram_bucket"), ("start", "positive"))
NEG = (("__name__", "testhistogram_bucket"), ("start", "negative"))


@pytest.mark.parametrize(
    ("q", "positive", "negative"),
    [(0.0, 0.0, -0.2), (0.2, 0.048, -0.2), (0.5, 0.15, -0.15), (0.8, 0.72, 0.3), (1.0, 1.0, 0.3)],
)
def test_quantiles_of_histograms_tests(q: float, positive: float, negative: float) -> None:
    out, ctx = call("histogram_quantile", [scalar(q), TEST])
    got = result(out)
    assert got[POS][0] == pytest.approx(positive) and got[NEG][0] == pytest.approx(negative)
    assert out.drop_name is not None and out.drop_name.all()
    assert ctx.warnings == [] and ctx.infos == []


@pytest.mark.parametrize(("q", "expected"), [(-0.1, -INF), (1.01, INF)])
def test_quantile_outside_zero_one_is_infinite_and_warns(q: float, expected: float) -> None:
    out, ctx = call("histogram_quantile", [scalar(q), TEST], "histogram_quantile(q, testhistogram_bucket)")
    assert out.values[:, 0].tolist() == [expected, expected]
    assert ctx.warnings == [f"PromQL warning: quantile value should be between 0 and 1, got {q:g} (1:20)"]


def test_nan_quantile_warns_even_without_input() -> None:
    _, ctx = call("histogram_quantile", [scalar(NAN), Vector.empty(1)])
    assert ctx.warnings == ["PromQL warning: quantile value should be between 0 and 1, got NaN (1:1)"]


def test_middle_of_buckets_and_lowest_bucket_below_zero() -> None:
    h2 = vector(buckets("h", {"0": [0.0], "2": [1.0], "4": [2.0], "6": [3.0], "+Inf": [3.0]}))
    for q, want in ((1 / 6, 1.0), (0.5, 3.0), (5 / 6, 5.0)):
        assert call("histogram_quantile", [scalar(q), h2])[0].values[0, 0] == pytest.approx(want)
    h3 = vector(buckets("h", {"-.25": [0.0], "-.2": [10.0], "-0.1": [20.0], "0.3": [20.0], "+Inf": [20.0]}))
    assert call("histogram_quantile", [scalar(0.0), h3])[0].values[0, 0] == -0.25
    assert call("histogram_quantile", [scalar(0.25), h3])[0].values[0, 0] == pytest.approx(-0.225)


def test_no_inf_bucket_too_few_buckets_or_no_observations_is_nan() -> None:
    no_inf = vector(buckets("a", {"1": [1.0], "2": [2.0]}))
    single = vector(buckets("b", {"+Inf": [5.0]}))
    empty = vector(buckets("c", {"0.1": [0.0], "0.2": [0.0], "+Inf": [0.0]}))
    for vec in (no_inf, single, empty):
        out, _ = call("histogram_quantile", [scalar(0.5), vec])
        assert len(out) == 1 and math.isnan(out.values[0, 0])


def test_bucket_spellings_merge_and_missing_buckets_per_step() -> None:
    mixed = vector(
        buckets(
            "mixed_bucket", {"0.1": [1.0, 1.0], "0.2": [1.0, None], "2e-1": [1.0, 2.0], "+Inf": [4.0, 4.0]}
        )
    )
    out, _ = call("histogram_quantile", [scalar(0.5, 2), mixed])
    # Step 0: buckets 0.1 -> 1, 0.2 -> 2 (two spellings summed), +Inf -> 4. Step 1: 0.2 -> 2.
    assert out.values[0].tolist() == [pytest.approx(0.2), pytest.approx(0.2)]
    out, _ = call("histogram_quantile", [scalar(0.25, 2), mixed])
    assert out.values[0].tolist() == [pytest.approx(0.1), pytest.approx(0.1)]


def test_monotonicity_is_forced_with_an_info() -> None:
    vec = vector(
        buckets(
            "nonmonotonic_bucket",
            {"0.1": [20.0], "1": [10.0], "10": [50.0], "100": [40.0], "1000": [90.0], "+Inf": [80.0]},
        )
    )
    query = "histogram_quantile(0.5, nonmonotonic_bucket)"
    for q, want in ((0.01, 0.0045), (0.5, 8.5), (0.99, 979.75)):
        out, ctx = call("histogram_quantile", [scalar(q), vec], query)
        assert out.values[0, 0] == pytest.approx(want)
        assert ctx.infos == [
            "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see "
            "https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for "
            'metric name "nonmonotonic_bucket", from buckets 1 to 1e+300, with a max diff of 10, over 1 '
            "samples from 1970-01-01T00:50:00Z to 1970-01-01T00:50:00Z (1:25)".replace("1e+300", "+Inf")
        ]


def test_tiny_rises_are_ignored_silently() -> None:
    vec = vector(buckets("h", {"1": [10.0], "2": [10.0 * (1 + 1e-13)], "3": [10.0], "+Inf": [20.0]}))
    out, ctx = call("histogram_quantile", [scalar(0.75), vec])
    assert out.values[0, 0] == pytest.approx(3.0) and ctx.infos == []


@pytest.mark.parametrize(("le", "shown"), [(None, ""), ("Hello World", "Hello World"), ("1e400", "1e400")])
def test_missing_or_malformed_le_warns(le: str | None, shown: str) -> None:
    labels = {"__name__": "series"} if le is None else {"__name__": "series", "le": le}
    vec = Vector([labels_from(labels)], np.array([[2.0]]), np.array([[True]]))
    out, ctx = call("histogram_quantile", [scalar(0.8), vec], "histogram_quantile(0.8, series)")
    assert len(out) == 0
    assert ctx.warnings == [
        f'PromQL warning: bucket label "le" is missing or has a malformed value of "{shown}" '
        'for metric name "series" (1:25)'
    ]


def test_groups_keep_the_metric_name_apart() -> None:
    a = buckets("a_bucket", {"1": [1.0], "+Inf": [2.0]}, job="x")
    b = buckets("b_bucket", {"1": [1.0], "+Inf": [4.0]}, job="x")
    out, _ = call("histogram_quantile", [scalar(0.5), vector(a + b)])
    assert out.labels == [(("__name__", "a_bucket"), ("job", "x")), (("__name__", "b_bucket"), ("job", "x"))]


def test_histogram_quantiles_labels_each_quantile() -> None:
    out, _ = call("histogram_quantiles", [TEST, String("q"), scalar(0.0), scalar(0.5), scalar(1.0)])
    got = {dict(ls)["q"] + "/" + dict(ls)["start"]: v[0] for ls, v in result(out).items()}
    assert got == {
        "0.0/positive": 0.0,
        "0.0/negative": pytest.approx(-0.2),
        "0.5/positive": pytest.approx(0.15),
        "0.5/negative": pytest.approx(-0.15),
        "1.0/positive": 1.0,
        "1.0/negative": pytest.approx(0.3),
    }
    with pytest.raises(ExecutionError, match="same labelset"):
        call("histogram_quantiles", [TEST, String("start"), scalar(0.5)])


def test_histogram_quantile_over_range_steps() -> None:
    vec = vector(buckets("h", {"0": [0.0, 0.0], "2": [1.0, 2.0], "4": [2.0, 4.0], "+Inf": [2.0, None]}))
    out, _ = call("histogram_quantile", [scalar([0.5, 0.5], 2), vec])
    assert out.present.tolist() == [[True, True]]
    assert out.values[0, 0] == pytest.approx(2.0) and math.isnan(out.values[0, 1])


FRACTION = {"1": [1.0], "2": [3.0], "3": [6.0], "+Inf": [100.0]}


@pytest.mark.parametrize(
    ("lower", "upper", "spec", "expected"),
    [
        (0.0, 4.0, {"0": [0.0], "2": [1.0], "4": [2.0], "6": [3.0], "+Inf": [3.0]}, 2 / 3),
        (0.0, 3.5, {"0": [0.0], "2": [1.0], "4": [2.0], "6": [3.0], "+Inf": [3.0]}, 0.5833333333333334),
        (0.0, 1.5, FRACTION, 0.02),
        (-4.0, -2.0, {"-3": [10.0], "-2": [12.0], "-1": [15.0], "+Inf": [100.0]}, 0.02),
        (-INF, -1.5, {"-3": [10.0], "-2": [12.0], "-1": [15.0], "+Inf": [100.0]}, 0.135),
        (-INF, INF, FRACTION, 1.0),
        (4.0, 5.0, FRACTION, 0.0),
        (2.0, 5.0, FRACTION, 0.03),
        (400.0, INF, FRACTION, 0.94),
        (2.0, 2.0, FRACTION, 0.0),
        (3.0, 2.0, FRACTION, 0.0),
        (0.0, 1.0, {"+Inf": [100.0]}, 0.0),
        (0.0, 5.0, {"1": [0.0], "+Inf": [0.0]}, NAN),
        (0.5, 2.0, FRACTION, 0.025),
        (1.0, 3.0, FRACTION, 0.05),
        (0.1, 0.75, {"0.5": [2.5], "1": [7.5], "+Inf": [100.0]}, 0.045),
        (-1.0, 1.0, {"-2": [5.0], "-1": [10.0], "0": [15.0], "1": [20.0], "+Inf": [100.0]}, 0.1),
        (NAN, 1.0, FRACTION, NAN),
        (0.0, NAN, FRACTION, NAN),
        (-10.0, -5.0, FRACTION, 0.0),
        (5.0, 10.0, {"1": [1.0], "2": [3.0], "+Inf": [10.0]}, 0.0),
    ],
)
def test_fractions_of_histograms_tests(
    lower: float, upper: float, spec: dict[str, list[float | None]], expected: float
) -> None:
    out, ctx = call("histogram_fraction", [scalar(lower), scalar(upper), vector(buckets("h_bucket", spec))])
    got = out.values[0, 0]
    assert (math.isnan(expected) and math.isnan(got)) or got == pytest.approx(expected)
    assert ctx.warnings == [] and out.drop_name is not None and out.drop_name.all()


@pytest.mark.parametrize("func", ["histogram_count", "histogram_sum", "histogram_avg", "histogram_stddev"])
def test_native_histogram_functions_ignore_floats(func: str) -> None:
    out, _ = call(func, [TEST])
    assert len(out) == 0 and out.values.shape == (0, 1)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("+Inf", INF),
        ("inf", INF),
        ("-Infinity", -INF),
        (".2", 0.2),
        ("1e0", 1.0),
        ("2.0e-1", 0.2),
        ("0x1p-2", 0.25),
    ],
)
def test_parse_go_float_accepts_go_spellings(text: str, value: float) -> None:
    assert parse_go_float(text) == value
    assert parse_go_float("NaN") is not None


@pytest.mark.parametrize("text", ["", " 1", "1 ", "+nan", "1e400", "0x10", "Hello World", "1.2.3"])
def test_parse_go_float_rejects_what_go_rejects(text: str) -> None:
    assert parse_go_float(text) is None


def test_openmetrics_float_spelling() -> None:
    assert [format_openmetrics_float(x) for x in (0.0, -0.0, 1.0, 0.25, -0.1, 1e6, 5.0, NAN, -INF)] == [
        "0.0",
        "0.0",
        "1.0",
        "0.25",
        "-0.1",
        "1e+06",
        "5.0",
        "NaN",
        "-Inf",
    ]
