"""deriv, predict_linear and double_exponential_smoothing against values from Prometheus'
functions.test (worked out there by hand) and its argument checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from heron.promql.functions import FUNCTIONS
from heron.promql.syntax.ast import Call, MatrixSelector, VectorSelector
from heron.promql.value import EvalContext, ExecutionError, RangeVector, Scalar, Vector

# Prometheus' testcounter_reset_middle_total: `0+10x4 0+10x5` every 5m.
RESET_MIDDLE_T = np.arange(0, 11) * 300_000
RESET_MIDDLE_V = np.array([0, 10, 20, 30, 40, 0, 10, 20, 30, 40, 50], dtype=np.float64)


def run(
    func: str, ts: np.ndarray, vs: np.ndarray, end_ms: int, range_ms: int, eval_ms: int, *scalars: float
) -> float | None:
    rv = RangeVector([(("__name__", "m"),)], [(ts.astype(np.int64), vs)], np.array([end_ms]), range_ms)
    call = Call(func, (MatrixSelector(VectorSelector("m", ()), range_ms),))
    out = FUNCTIONS[func](
        call, [rv, *(Scalar(np.array([s])) for s in scalars)], EvalContext(np.array([eval_ms]))
    )
    assert isinstance(out, Vector)
    return float(out.values[0, 0]) if out.present[0, 0] else None


def test_deriv_matches_prometheus() -> None:
    # eval instant at 50m deriv(testcounter_reset_middle_total[100m]) -> 0.010606060606060607
    got = run("deriv", RESET_MIDDLE_T, RESET_MIDDLE_V, 3_000_000, 6_000_000, 3_000_000)
    assert got == pytest.approx(0.010606060606060607, rel=1e-12)


def test_predict_linear_intercepts_at_the_evaluation_time() -> None:
    # predict_linear(testcounter_reset_middle_total[50m], 3600) at 50m -> 70
    assert run(
        "predict_linear", RESET_MIDDLE_T, RESET_MIDDLE_V, 3_000_000, 3_000_000, 3_000_000, 3600
    ) == pytest.approx(70)
    # [55m] @ 3000 evaluated at 10m: the window ends at 3000 s, the line is read at 600 + 3600 s.
    got = run("predict_linear", RESET_MIDDLE_T, RESET_MIDDLE_V, 3_000_000, 3_300_000, 600_000, 3600)
    assert got == pytest.approx(51.36363636363637, rel=1e-12)


def test_constant_and_infinite_windows() -> None:
    ts = np.array([0, 10_000, 20_000])
    assert run("deriv", ts, np.array([5.0, 5.0, 5.0]), 20_000, 60_000, 20_000) == 0.0
    assert run("predict_linear", ts, np.array([5.0, 5.0, 5.0]), 20_000, 60_000, 20_000, 100) == 5.0
    assert math.isnan(run("deriv", ts, np.array([math.inf] * 3), 20_000, 60_000, 20_000) or 0.0)
    assert run("deriv", ts[:1], np.array([1.0]), 20_000, 60_000, 20_000) is None


def test_double_exponential_smoothing_follows_a_linear_trend() -> None:
    # functions.test: http_requests 0+10x1000 every 10 s; at 8000 s over [1m] -> 8000.
    ts = np.arange(0, 1001) * 10_000
    vs = np.arange(0, 1001) * 10.0
    got = run("double_exponential_smoothing", ts, vs, 8_000_000, 60_000, 8_000_000, 0.01, 0.1)
    assert got == pytest.approx(8000, rel=1e-9)


def test_double_exponential_smoothing_checks_its_factors() -> None:
    ts = np.array([0, 10_000, 20_000])
    vs = np.array([1.0, 2.0, 3.0])
    with pytest.raises(
        ExecutionError, match=r"^invalid smoothing factor. Expected: 0 < sf < 1, got: 1.500000$"
    ):
        run("double_exponential_smoothing", ts, vs, 20_000, 60_000, 20_000, 1.5, 0.5)
    with pytest.raises(ExecutionError, match=r"^invalid trend factor. Expected: 0 < tf < 1, got: 0.000000$"):
        run("double_exponential_smoothing", ts, vs, 20_000, 60_000, 20_000, 0.5, 0)
    # Checked only where the function runs: a window without samples raises nothing.
    assert run("double_exponential_smoothing", ts, vs, 500_000, 60_000, 500_000, 1.5, 0.5) is None
