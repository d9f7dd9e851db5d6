"""vector, scalar, absent and timestamp over hand-built vectors."""

from __future__ import annotations

import math

import numpy as np

from heron.model import Matcher, MatchOp
from heron.promql.functions import FUNCTIONS
from heron.promql.functions.instant import absent_labels
from heron.promql.syntax.ast import Call, MatrixSelector, NumberLiteral, ParenExpr, VectorSelector
from heron.promql.value import EvalContext, Scalar, Vector


def ctx(steps: int) -> EvalContext:
    return EvalContext(np.arange(steps, dtype=np.int64) * 10_000)


def selector(*matchers: tuple[str, str, str]) -> VectorSelector:
    return VectorSelector("", tuple(Matcher(n, MatchOp(op), v) for n, op, v in matchers))


def test_vector_of_a_scalar() -> None:
    out = FUNCTIONS["vector"](Call("vector", ()), [Scalar(np.array([1.0, 2.5]))], ctx(2))
    assert isinstance(out, Vector)
    assert out.labels == [()] and out.values.tolist() == [[1.0, 2.5]] and out.present.all()


def test_scalar_needs_exactly_one_series_per_step() -> None:
    values = np.array([[1.0, 2.0, 3.0], [9.0, 8.0, 7.0]])
    present = np.array([[True, True, False], [False, True, False]])
    v = Vector([(("a", "1"),), (("a", "2"),)], values, present)
    out = FUNCTIONS["scalar"](Call("scalar", ()), [v], ctx(3))
    assert isinstance(out, Scalar)
    assert out.values[0] == 1.0 and math.isnan(out.values[1]) and math.isnan(out.values[2])
    empty = FUNCTIONS["scalar"](Call("scalar", ()), [Vector.empty(2)], ctx(2))
    assert np.isnan(empty.values).all() and empty.values.shape == (2,)


def test_absent_labels_from_equality_matchers() -> None:
    assert absent_labels(selector(("__name__", "=", "nonexistent"))) == ()
    assert absent_labels(
        selector(
            ("__name__", "=", "x"), ("job", "=", "testjob"), ("instance", "=", "i"), ("method", "=~", ".x")
        )
    ) == (("instance", "i"), ("job", "testjob"))
    # A label matched twice, or by a regex too, is left out.
    assert absent_labels(selector(("job", "=", "a"), ("job", "=", "b"), ("foo", "=", "bar"))) == (
        ("foo", "bar"),
    )
    assert absent_labels(
        selector(("job", "=", "a"), ("job", "=", "b"), ("job", "=", "c"), ("foo", "=", "bar"))
    ) == (("foo", "bar"),)
    assert absent_labels(selector(("job", "=", "a"), ("job", "=~", "b"), ("foo", "=", "bar"))) == (
        ("foo", "bar"),
    )
    assert absent_labels(selector(("job", "=", ""))) == ()
    inner = selector(("job", "=", "j"))
    assert absent_labels(ParenExpr(ParenExpr(inner))) == (("job", "j"),)
    assert absent_labels(MatrixSelector(inner, 60_000)) == (("job", "j"),)
    assert absent_labels(NumberLiteral(1.0)) == ()


def test_absent_is_one_where_the_input_is_missing() -> None:
    arg = selector(("__name__", "=", "x"), ("job", "=", "j"))
    node = Call("absent", (arg,))
    present = np.array([[True, False, False], [False, False, True]])
    v = Vector([(("a", "1"),), (("a", "2"),)], np.zeros((2, 3)), present)
    out = FUNCTIONS["absent"](node, [v], ctx(3))
    assert isinstance(out, Vector)
    assert out.labels == [(("job", "j"),)]
    assert out.present.tolist() == [[False, True, False]] and out.values[0, 1] == 1.0
    none = FUNCTIONS["absent"](node, [Vector.empty(2)], ctx(2))
    assert none.present.tolist() == [[True, True]]
    full = FUNCTIONS["absent"](node, [Vector([()], np.ones((1, 2)), np.ones((1, 2), bool))], ctx(2))
    assert len(full) == 0


def test_timestamp_uses_sample_times_when_given() -> None:
    labels = [(("__name__", "metric"),)]
    v = Vector(labels, np.ones((1, 3)), np.ones((1, 3), bool), sample_ts=np.array([[0, 0, 10_000]]))
    out = FUNCTIONS["timestamp"](Call("timestamp", ()), [v], ctx(3))
    assert out.values.tolist() == [[0.0, 0.0, 10.0]]
    assert out.drop_name is not None and out.drop_name.all()
    without = Vector(labels, np.ones((1, 3)), np.array([[True, False, True]]))
    out = FUNCTIONS["timestamp"](Call("timestamp", ()), [without], ctx(3))
    assert out.values[0, 0] == 0.0 and out.values[0, 2] == 20.0
    assert out.present.tolist() == [[True, False, True]]


def constant(name: str, context: EvalContext) -> list[float]:
    out = FUNCTIONS[name](Call(name, ()), [], context)
    assert isinstance(out, Scalar)
    return out.values.tolist()


def test_query_bounds_from_the_root_times() -> None:
    root = EvalContext(np.array([100_000, 110_000, 120_000, 130_000]))
    assert constant("start", root) == [100.0] * 4
    assert constant("end", root) == [130.0] * 4
    assert constant("range", root) == [30.0] * 4
    assert constant("step", root) == [10.0] * 4
    # Inside a subquery the query's bounds still hold.
    inner = root.with_times(np.array([0, 5_000]))
    assert constant("start", inner) == [100.0, 100.0] and constant("step", inner) == [10.0, 10.0]
    instant = EvalContext(np.array([50_000]))
    assert constant("end", instant) == [50.0] and constant("step", instant) == [0.0]
    assert constant("range", instant) == [0.0]


def test_query_bounds_given_by_the_engine_win() -> None:
    # A range query whose end is not on a step, and one of a single step before its end.
    root = EvalContext(np.array([0, 5_000]), query_bounds=(0, 7_000, 5_000))
    assert constant("end", root) == [7.0, 7.0] and constant("range", root) == [7.0, 7.0]
    single = EvalContext(np.array([0]), query_bounds=(0, 5_000, 10_000))
    assert constant("step", single) == [10.0]
