"""Math and trigonometric PromQL functions over hand-built vectors, against Go's definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from heron.promql.functions import FUNCTIONS
from heron.promql.functions.math import go_max, go_min
from heron.promql.syntax.ast import Call
from heron.promql.value import EvalContext, Scalar, Vector

NAN = math.nan
INF = math.inf


def vec(rows: list[list[float]], names: list[str] | None = None) -> Vector:
    values = np.asarray(rows, dtype=np.float64)
    labels = [(("__name__", "m"), ("i", str(i))) for i in range(len(rows))]
    return Vector(labels, values, np.ones(values.shape, dtype=bool))


def call(name: str, *args: object, steps: int = 1) -> object:
    ctx = EvalContext(np.arange(steps, dtype=np.int64) * 1000)
    return FUNCTIONS[name](Call(name, ()), list(args), ctx)  # type: ignore[arg-type]


def scalar(*values: float) -> Scalar:
    return Scalar(np.asarray(values, dtype=np.float64))


def same(a: np.ndarray, b: list) -> bool:
    """Equal to a few ulps (numpy's and Go's libm may differ in the last bit), NaN = NaN."""
    got, want = np.asarray(a), np.asarray(b, dtype=np.float64)
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=1e-14, atol=0, equal_nan=True))


@pytest.mark.parametrize(
    ("name", "inputs", "expected"),
    [
        ("abs", [-2.5, 0, 3], [2.5, 0, 3]),
        ("ceil", [-2.5, 0.1, 3], [-2, 1, 3]),
        ("floor", [-2.5, 0.9, 3], [-3, 0, 3]),
        ("sqrt", [4, -1, INF], [2, NAN, INF]),
        ("exp", [0, -INF, NAN], [1, 0, NAN]),
        ("ln", [1, 0, -1], [0, -INF, NAN]),
        ("log2", [8, 0.25, 0, -2], [3, -2, -INF, NAN]),
        ("log10", [1, 0, -3], [0, -INF, NAN]),
        ("sgn", [-INF, INF, NAN, -50, 0, 100], [-1, 1, NAN, -1, 0, 1]),
        ("asin", [-0.1, 2, NAN], [math.asin(-0.1), NAN, NAN]),
        ("acosh", [0.5, 10], [NAN, math.acosh(10)]),
        ("atanh", [1, -1, 0.5], [INF, -INF, math.atanh(0.5)]),
        ("deg", [math.pi, 0], [180, 0]),
        ("rad", [180, -90], [math.pi, -math.pi / 2]),
    ],
)
def test_simple_functions(name: str, inputs: list[float], expected: list[float]) -> None:
    v = vec([[x] for x in inputs])
    out = call(name, v)
    assert isinstance(out, Vector)
    assert same(out.values[:, 0], expected)
    assert out.labels == v.labels
    assert out.drop_name is not None and out.drop_name.all()


def test_trig_matches_prometheus_test_values() -> None:
    """The values of Prometheus' trig_functions.test, to its tolerance (1e-6 relative)."""
    v = vec([[10.0], [20.0]])
    expected = {
        "sin": [-0.5440211108893699, 0.9129452507276277],
        "cos": [-0.8390715290764524, 0.40808206181339196],
        "tan": [0.6483608274590867, 2.2371609442247427],
        "atan": [1.4711276743037345, 1.5208379310729538],
        "sinh": [11013.232920103324, 2.4258259770489514e08],
        "cosh": [11013.232920103324, 2.4258259770489514e08],
        "tanh": [0.9999999958776927, 1],
        "asinh": [2.99822295029797, 3.6895038689889055],
        "acosh": [2.993222846126381, 3.6882538673612966],
    }
    for name, want in expected.items():
        out = call(name, v)
        assert np.allclose(out.values[:, 0], want, rtol=1e-6, atol=0), name


def test_log10_is_gos_log_times_inverse_ln10() -> None:
    out = call("log10", vec([[1000.0]]))
    assert out.values[0, 0] == math.log(1000) * (1 / math.log(10))


def test_math_over_many_steps_keeps_presence() -> None:
    v = vec([[1.0, -4.0, 9.0]])
    v.present[0, 1] = False
    out = call("sqrt", v, steps=3)
    assert out.present.tolist() == [[True, False, True]]
    assert out.values[0, 0] == 1 and out.values[0, 2] == 3


def test_round_is_go_floor_half_up() -> None:
    v = vec([[2.5], [-2.5], [0.45], [1.234567]])
    assert same(call("round", v).values[:, 0], [3, -2, 0, 1])
    out = call("round", v, scalar(0.1))
    # Floor(v*10 + 0.5) / 10, the inverse multiplied as Prometheus does.
    assert same(out.values[:, 0], [math.floor(x * 10 + 0.5) / 10 for x in (2.5, -2.5, 0.45, 1.234567)])
    assert same(call("round", vec([[7.0]]), scalar(5)).values[:, 0], [5])


def test_round_with_a_per_step_precision() -> None:
    v = vec([[12.34, 12.34]])
    out = call("round", v, scalar(1, 10), steps=2)
    assert same(out.values[0], [12, 10])


def test_clamp_family() -> None:
    v = vec([[-50.0], [0.0], [100.0]])
    assert same(call("clamp_max", v, scalar(75)).values[:, 0], [-50, 0, 75])
    assert same(call("clamp_min", v, scalar(-25)).values[:, 0], [-25, 0, 100])
    assert same(call("clamp", v, scalar(-25), scalar(75)).values[:, 0], [-25, 0, 75])
    assert same(call("clamp", v, scalar(0), scalar(NAN)).values[:, 0], [NAN, NAN, NAN])
    assert same(call("clamp", v, scalar(NAN), scalar(0)).values[:, 0], [NAN, NAN, NAN])


def test_clamp_with_min_above_max_is_empty_at_that_step() -> None:
    v = vec([[1.0, 1.0], [2.0, 2.0]])
    out = call("clamp", v, scalar(5, 0), scalar(-5, 3), steps=2)
    assert out.present.tolist() == [[False, True], [False, True]]
    assert same(out.values[:, 1], [1, 2])


def test_go_max_and_min_special_cases() -> None:
    x = np.array([INF, NAN, -INF, NAN, 0.0, -0.0, 1.0])
    y = np.array([NAN, INF, NAN, -INF, -0.0, 0.0, 2.0])
    assert same(go_max(x, y), [INF, INF, NAN, NAN, 0.0, 0.0, 2.0])
    assert not np.signbit(go_max(x, y)[4]) and not np.signbit(go_max(x, y)[5])
    assert same(go_min(x, y), [NAN, NAN, -INF, -INF, -0.0, -0.0, 1.0])
    assert np.signbit(go_min(x, y)[4]) and np.signbit(go_min(x, y)[5])


def test_clamp_max_of_minus_inf_with_nan_bound_is_minus_inf() -> None:
    """Go's Min(NaN, -Inf) is -Inf; numpy's minimum would say NaN."""
    out = call("clamp_max", vec([[-INF]]), scalar(NAN))
    assert out.values[0, 0] == -INF


def test_pi_and_scalar_max_min_of() -> None:
    assert same(call("pi", steps=3).values, [math.pi] * 3)
    assert same(call("max_of", scalar(1, NAN), scalar(2, INF), steps=2).values, [2, INF])
    assert same(call("min_of", scalar(1, NAN), scalar(2, 3), steps=2).values, [1, NAN])


def test_empty_vector_stays_empty() -> None:
    empty = Vector.empty(4)
    for name in ("abs", "ln", "sgn", "round"):
        out = call(name, empty, steps=4)
        assert len(out) == 0 and out.values.shape == (0, 4)
    out = call("clamp", empty, scalar(0, 0, 0, 0), scalar(1, 1, 1, 1), steps=4)
    assert len(out) == 0
