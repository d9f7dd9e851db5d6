"""Step-matrix operations: hand-computed tables plus property tests against per-step dict references."""

from __future__ import annotations

import math
import statistics
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heron.logql.vectorops import (
    ARITHMETIC_OPS,
    COMPARISON_OPS,
    SET_OPS,
    StepMatrix,
    aggregate,
    binary_op,
    label_replace,
    vector_literal,
)

NAN = math.nan
Key = tuple[tuple[str, str], ...]


def key(labels: dict[str, str]) -> Key:
    return tuple(sorted((k, v) for k, v in labels.items() if v != ""))


def as_dict(m: StepMatrix) -> dict[Key, list[float | None]]:
    """{label key: [value or None per step]}; also asserts the label sets are unique."""
    out: dict[Key, list[float | None]] = {}
    for lb, row in zip(m.labels, m.values.tolist()):
        k = key(lb)
        assert k not in out, f"duplicate series {k}"
        out[k] = [None if math.isnan(v) else v for v in row]
    return out


def sm(rows: list[tuple[dict[str, str], list[float]]]) -> StepMatrix:
    return StepMatrix(
        [dict(lb) for lb, _ in rows], np.array([v for _, v in rows], dtype=np.float64).reshape(len(rows), -1)
    )


# A small fixture: requests per (app, status), 3 steps, with gaps.
REQ = sm(
    [
        ({"app": "api", "status": "200"}, [10, 20, NAN]),
        ({"app": "api", "status": "500"}, [1, NAN, NAN]),
        ({"app": "web", "status": "200"}, [5, 6, 7]),
        ({"app": "web", "status": "404"}, [NAN, NAN, NAN]),
    ]
)


# --------------------------------------------------------------------------- StepMatrix basics


def test_step_matrix_validation_and_drop_empty() -> None:
    with pytest.raises(ValueError, match="2-D"):
        StepMatrix([{}], np.zeros(3))
    with pytest.raises(ValueError, match="label sets"):
        StepMatrix([{}], np.zeros((2, 3)))
    dropped = REQ.drop_empty()
    assert [lb["status"] for lb in dropped.labels] == ["200", "500", "200"]
    assert dropped.n_steps == 3
    assert StepMatrix.empty(4).values.shape == (0, 4)


def test_vector_literal() -> None:
    v = vector_literal(1, 3)
    assert v.labels == [{}] and v.values.tolist() == [[1.0, 1.0, 1.0]]


# --------------------------------------------------------------------------- aggregate tables

AGG_TABLE: list[tuple[str, list[str] | None, bool, float | None, dict[Key, list[float | None]]]] = [
    ("sum", None, False, None, {(): [16, 26, 7]}),
    ("sum", ["app"], False, None, {(("app", "api"),): [11, 20, None], (("app", "web"),): [5, 6, 7]}),
    ("sum", ["status"], True, None, {(("app", "api"),): [11, 20, None], (("app", "web"),): [5, 6, 7]}),
    ("sum", ["nope"], False, None, {(): [16, 26, 7]}),
    (
        "count",
        ["status"],
        False,
        None,
        {(("status", "200"),): [2, 2, 1], (("status", "500"),): [1, None, None]},
    ),
    ("avg", ["app"], False, None, {(("app", "api"),): [5.5, 20, None], (("app", "web"),): [5, 6, 7]}),
    ("min", None, False, None, {(): [1, 6, 7]}),
    ("max", None, False, None, {(): [10, 20, 7]}),
    ("stdvar", ["app"], False, None, {(("app", "api"),): [20.25, 0, None], (("app", "web"),): [0, 0, 0]}),
    ("stddev", ["app"], False, None, {(("app", "api"),): [4.5, 0, None], (("app", "web"),): [0, 0, 0]}),
    (
        "topk",
        None,
        False,
        1,
        {
            (("app", "api"), ("status", "200")): [10, 20, None],
            (("app", "web"), ("status", "200")): [None, None, 7],
        },
    ),
    (
        "bottomk",
        ["app"],
        False,
        1,
        {
            (("app", "api"), ("status", "500")): [1, None, None],
            (("app", "api"), ("status", "200")): [None, 20, None],
            (("app", "web"), ("status", "200")): [5, 6, 7],
        },
    ),
    ("topk", None, False, 0, {}),
]


@pytest.mark.parametrize(("op", "grouping", "without", "param", "expected"), AGG_TABLE)
def test_aggregate_table(
    op: str,
    grouping: list[str] | None,
    without: bool,
    param: float | None,
    expected: dict[Key, list[float | None]],
) -> None:
    assert as_dict(aggregate(op, REQ, grouping, without, param)) == expected


def test_aggregate_without_drops_name_and_empty_values() -> None:
    m = sm([({"__name__": "x", "a": "1", "b": ""}, [1]), ({"a": "1"}, [2])])
    got = aggregate("sum", m, [], True)
    assert got.labels == [{"a": "1"}] and got.values.tolist() == [[3.0]]
    # by() with a label some series lack: missing == "" and the label is left out of the result
    got = aggregate("count", sm([({"a": "1"}, [1]), ({"b": "2"}, [1]), ({"a": ""}, [1])]), ["a"], False)
    assert as_dict(got) == {(("a", "1"),): [1], (): [2]}


def test_topk_ties_prefer_earlier_series_and_bad_params() -> None:
    m = sm([({"s": "a"}, [1, 2]), ({"s": "b"}, [1, 3]), ({"s": "c"}, [0, 3])])
    assert as_dict(aggregate("topk", m, None, False, 1)) == {
        (("s", "a"),): [1, None],
        (("s", "b"),): [None, 3],
    }
    assert as_dict(aggregate("topk", m, None, False, 2.9)) == {
        (("s", "a"),): [1, None],
        (("s", "b"),): [1, 3],
        (("s", "c"),): [None, 3],
    }
    assert len(aggregate("bottomk", m, None, False, -3).labels) == 0
    with pytest.raises(ValueError, match="parameter required"):
        aggregate("topk", m, None, False)
    with pytest.raises(ValueError, match="invalid parameter"):
        aggregate("topk", m, None, False, math.inf)
    with pytest.raises(ValueError, match="unknown aggregation"):
        aggregate("median", m, None, False)


def test_sort_orders_by_last_value_within_groups() -> None:
    m = sm(
        [
            ({"g": "1", "s": "a"}, [9, 2]),
            ({"g": "2", "s": "b"}, [1, NAN]),
            ({"g": "1", "s": "c"}, [0, 1]),
            ({"g": "1", "s": "d"}, [NAN, NAN]),
            ({"g": "1", "s": "e"}, [5, 1]),
        ]
    )
    # last values: a=2, b=1 (step 1), c=1, e=1; d has none and is dropped; ties keep input order
    assert [lb["s"] for lb in aggregate("sort", m, None, False).labels] == ["b", "c", "e", "a"]
    assert [lb["s"] for lb in aggregate("sort_desc", m, None, False).labels] == ["a", "b", "c", "e"]
    assert [lb["s"] for lb in aggregate("sort_desc", m, ["g"], False).labels] == ["a", "c", "e", "b"]
    got = aggregate("sort", m, None, False)
    # values are untouched: rows b then c
    assert np.array_equal(got.values[:2], [[1, NAN], [0, 1]], equal_nan=True)


def test_aggregate_empty_input() -> None:
    assert aggregate("sum", StepMatrix.empty(3), None, False).values.shape == (0, 3)


# --------------------------------------------------------------------------- binary_op tables

L = sm([({"app": "api", "env": "p"}, [10, 20, NAN]), ({"app": "web", "env": "p"}, [4, 0, 8])])
R = sm([({"app": "api", "env": "p"}, [2, 0, 1]), ({"app": "web", "env": "p"}, [NAN, 5, 2])])


def test_arithmetic_one_to_one() -> None:
    assert as_dict(binary_op("+", L, R)) == {
        (("app", "api"), ("env", "p")): [12, 20, None],
        (("app", "web"), ("env", "p")): [None, 5, 10],
    }
    # Loki: x/0 and x%0 are NaN -> no point
    assert as_dict(binary_op("/", L, R)) == {
        (("app", "api"), ("env", "p")): [5, None, None],
        (("app", "web"), ("env", "p")): [None, 0, 4],
    }
    assert as_dict(binary_op("%", L, R))[(("app", "web"), ("env", "p"))] == [None, 0, 0]
    assert as_dict(binary_op("^", L, R))[(("app", "api"), ("env", "p"))] == [100, 1, None]


def test_go_mod_sign_follows_dividend() -> None:
    a = sm([({}, [-7, 7, -7.5])])
    assert binary_op("%", a, 3.0).values.tolist() == [[-1, 1, -1.5]]  # type: ignore[union-attr]
    assert binary_op("%", -7.0, -3.0) == -1.0


def test_scalar_operations() -> None:
    assert binary_op("+", 1.0, 2.0) == 3.0
    assert math.isnan(binary_op("/", 1.0, 0.0))  # type: ignore[arg-type]
    assert binary_op(">", 2.0, 1.0) == 1.0 and binary_op(">", 1.0, 2.0) == 0.0  # folded with filter off
    assert binary_op("==", 1.0, 1.0, return_bool=True) == 1.0
    got = binary_op("-", 100.0, L)
    assert as_dict(got)[(("app", "api"), ("env", "p"))] == [90, 80, None]  # type: ignore[arg-type]
    got = binary_op("/", L, 0.0)
    assert len(got.labels) == 0  # type: ignore[union-attr]


def test_scalar_comparisons_keep_the_vector_value() -> None:
    # grafana/loki#10741: `5 < vector` returns the vector's value, not the literal's.
    assert as_dict(binary_op("<", 5.0, L)) == {
        (("app", "api"), ("env", "p")): [10, 20, None],
        (("app", "web"), ("env", "p")): [None, None, 8],
    }  # type: ignore[arg-type]
    assert as_dict(binary_op(">", L, 5.0)) == as_dict(binary_op("<", 5.0, L))  # type: ignore[arg-type]
    assert as_dict(binary_op(">", L, 5.0, return_bool=True)) == {  # type: ignore[arg-type]
        (("app", "api"), ("env", "p")): [1, 1, None],
        (("app", "web"), ("env", "p")): [0, 0, 1],
    }


def test_vector_comparisons() -> None:
    assert as_dict(binary_op(">", L, R)) == {
        (("app", "api"), ("env", "p")): [10, 20, None],
        (("app", "web"), ("env", "p")): [None, None, 8],
    }
    assert as_dict(binary_op("<=", L, R, return_bool=True)) == {
        (("app", "api"), ("env", "p")): [0, 0, None],
        (("app", "web"), ("env", "p")): [None, 1, 0],
    }


def test_on_and_ignoring() -> None:
    a = sm([({"app": "api", "pod": "1"}, [1]), ({"app": "web", "pod": "2"}, [2])])
    b = sm([({"app": "api", "zone": "z"}, [10]), ({"app": "web", "zone": "z"}, [20])])
    assert as_dict(binary_op("+", a, b)) == {}
    assert as_dict(binary_op("+", a, b, on=["app"])) == {(("app", "api"),): [11], (("app", "web"),): [22]}
    got = binary_op("+", a, b, ignoring=["pod", "zone"])
    assert as_dict(got) == {(("app", "api"),): [11], (("app", "web"),): [22]}  # type: ignore[arg-type]
    assert as_dict(binary_op("*", a, sm([({"x": "y"}, [3])]), on=[], group_left=[])) == {
        (("app", "api"), ("pod", "1")): [3],
        (("app", "web"), ("pod", "2")): [6],
    }


def test_group_left_and_right() -> None:
    many = sm([({"app": "api", "pod": "1"}, [1, 2]), ({"app": "api", "pod": "2"}, [3, 4])])
    one = sm([({"app": "api", "team": "core", "pod": "x"}, [10, 100])])
    got = binary_op("/", many, one, on=["app"], group_left=["team"])
    assert as_dict(got) == {  # type: ignore[arg-type]
        (("app", "api"), ("pod", "1"), ("team", "core")): [0.1, 0.02],
        (("app", "api"), ("pod", "2"), ("team", "core")): [0.3, 0.04],
    }
    # group_right: the rhs is "many"; operand order is preserved (one / many).
    got = binary_op("/", one, many, on=["app"], group_right=["team"])
    assert as_dict(got) == {  # type: ignore[arg-type]
        (("app", "api"), ("pod", "1"), ("team", "core")): [10, 50],
        (("app", "api"), ("pod", "2"), ("team", "core")): [10 / 3, 25],
    }
    # Comparisons filter keeping the left operand's value (the "one" side under group_right).
    got = binary_op(">", one, many, on=["app"], group_right=[])
    assert as_dict(got) == {  # type: ignore[arg-type]
        (("app", "api"), ("pod", "1")): [10, 100],
        (("app", "api"), ("pod", "2")): [10, 100],
    }
    # Copying `pod` from the one side makes both results {app=api, pod=x}: Loki's error.
    with pytest.raises(ValueError, match="grouping labels must ensure unique matches"):
        binary_op("+", many, one, on=["app"], group_left=["pod"])
    got = binary_op(
        "+",
        sm([({"app": "a", "nope": "n"}, [1])]),
        sm([({"app": "a"}, [1])]),
        on=["app"],
        group_left=["nope"],
    )
    assert got.labels == [{"app": "a"}]  # type: ignore[union-attr]


def test_matching_errors() -> None:
    many = sm([({"app": "api", "pod": "1"}, [1, NAN]), ({"app": "api", "pod": "2"}, [3, 4])])
    one = sm([({"app": "api"}, [10, 100])])
    with pytest.raises(
        ValueError, match=r"^multiple matches for labels: many-to-one matching must be explicit"
    ):
        binary_op("+", many, one, on=["app"])
    # Loki checks before filtering: a comparison that would drop one of them still errors.
    with pytest.raises(ValueError, match="many-to-one matching must be explicit"):
        binary_op(">", many, one, on=["app"])
    # ... but samples at different steps never collide.
    ok = sm([({"app": "api", "pod": "1"}, [1, NAN]), ({"app": "api", "pod": "2"}, [NAN, 4])])
    assert as_dict(binary_op("+", ok, one, on=["app"])) == {(("app", "api"),): [11, 104]}
    with pytest.raises(ValueError, match="found duplicate series on the right hand-side"):
        binary_op("+", one, many, on=["app"], group_left=[])
    with pytest.raises(ValueError, match="found duplicate series on the left hand-side"):
        binary_op("+", many, one, on=["app"], group_right=[])
    with pytest.raises(ValueError, match="bool modifier"):
        binary_op("+", L, R, return_bool=True)
    with pytest.raises(ValueError, match="logical/set"):
        binary_op("and", L, 1.0)
    with pytest.raises(ValueError, match="no grouping allowed"):
        binary_op("or", L, R, group_left=[])
    with pytest.raises(ValueError, match="step count"):
        binary_op("+", L, sm([({}, [1])]))
    with pytest.raises(ValueError, match="unknown binary operator"):
        binary_op("atan2", L, R)


def test_set_operators() -> None:
    a = sm([({"x": "1"}, [1, 1, NAN]), ({"x": "2"}, [2, NAN, 2])])
    b = sm([({"x": "1", "y": "b"}, [NAN, 9, 9]), ({"x": "3"}, [3, 3, 3])])
    assert as_dict(binary_op("and", a, b, on=["x"])) == {(("x", "1"),): [None, 1, None]}
    assert as_dict(binary_op("unless", a, b, on=["x"])) == {
        (("x", "1"),): [1, None, None],
        (("x", "2"),): [2, None, 2],
    }
    assert as_dict(binary_op("or", a, b, on=["x"])) == {
        (("x", "1"),): [1, 1, None],
        (("x", "2"),): [2, None, 2],
        (("x", "1"), ("y", "b")): [None, None, 9],
        (("x", "3"),): [3, 3, 3],
    }
    assert as_dict(binary_op("and", a, b)) == {}
    assert as_dict(binary_op("or", a, b, ignoring=["y"]))[(("x", "1"), ("y", "b"))] == [None, None, 9]


# --------------------------------------------------------------------------- label_replace

LR_TABLE: list[tuple[dict[str, str], str, str, str, str, dict[str, str]]] = [
    ({"a": "foo-bar"}, "dst", "$1", "a", "(.*)-.*", {"a": "foo-bar", "dst": "foo"}),
    ({"a": "foo-bar"}, "dst", "${1}x", "a", "(.*)-(.*)", {"a": "foo-bar", "dst": "foox"}),
    ({"a": "foo-bar"}, "dst", "$1x", "a", "(.*)-(.*)", {"a": "foo-bar"}),  # "$1x" names group "1x"
    ({"a": "foo-bar"}, "dst", "$2-$1", "a", "(.*)-(.*)", {"a": "foo-bar", "dst": "bar-foo"}),
    ({"a": "foo-bar"}, "dst", "${h}", "a", "(?P<h>[a-z]+)-.*", {"a": "foo-bar", "dst": "foo"}),
    ({"a": "foo-bar"}, "dst", "$h!", "a", "(?<h>[a-z]+)-.*", {"a": "foo-bar", "dst": "foo!"}),
    ({"a": "foo"}, "dst", "$$1 $ ${", "a", "(f)oo", {"a": "foo", "dst": "$1 $ ${"}),
    ({"a": "foo"}, "dst", "$0$01$9", "a", "f(o)o", {"a": "foo", "dst": "foo"}),
    ({"a": "foo-bar"}, "dst", "x", "a", "foo", {"a": "foo-bar"}),  # anchored: no match, unchanged
    ({"a": "foo\n"}, "dst", "x", "a", "foo", {"a": "foo\n"}),  # Go's $ is end of text
    ({"a": "foo", "dst": "old"}, "dst", "", "a", ".*", {"a": "foo"}),  # empty result removes dst
    ({"a": "foo", "dst": "old"}, "dst", "$1", "a", "f(x)?oo", {"a": "foo"}),  # unmatched group = ""
    ({"b": "1"}, "dst", "empty", "a", "", {"b": "1", "dst": "empty"}),  # missing src == ""
    ({"a": "foo"}, "a", "$1$1", "a", "(.*)", {"a": "foofoo"}),
]


@pytest.mark.parametrize(("labels", "dst", "repl", "src", "regex", "expected"), LR_TABLE)
def test_label_replace(
    labels: dict[str, str], dst: str, repl: str, src: str, regex: str, expected: dict[str, str]
) -> None:
    m = StepMatrix([labels], np.array([[1.0, NAN]]))
    got = label_replace(m, dst, repl, src, regex)
    assert got.labels == [expected]
    assert np.array_equal(got.values, m.values, equal_nan=True)
    assert m.labels == [labels]  # input untouched


def test_label_replace_errors_and_merging() -> None:
    with pytest.raises(ValueError, match="invalid regex in label_replace"):
        label_replace(REQ, "x", "y", "app", "(")
    m = sm([({"a": "1", "b": "x"}, [1, NAN]), ({"a": "2", "b": "x"}, [NAN, 2])])
    merged = label_replace(m, "a", "", "b", "x")
    assert as_dict(merged) == {(("b", "x"),): [1, 2]}
    clash = sm([({"a": "1", "b": "x"}, [1, 1]), ({"a": "2", "b": "x"}, [NAN, 2])])
    with pytest.raises(ValueError, match="same labelset"):
        label_replace(clash, "a", "", "b", "x")


# --------------------------------------------------------------------------- naive references


def naive_reduce(op: str, vs: list[float]) -> float:
    if op == "sum":
        return float(sum(vs))
    if op == "count":
        return float(len(vs))
    if op == "min":
        return min(vs)
    if op == "max":
        return max(vs)
    if op == "avg":
        return statistics.fmean(vs)
    if op == "stdvar":
        return statistics.pvariance(vs)
    assert op == "stddev"
    return statistics.pstdev(vs)


def naive_aggregate(
    op: str, m: StepMatrix, grouping: list[str] | None, without: bool, param: float | None
) -> dict[Key, dict[int, float]]:
    out: dict[Key, dict[int, float]] = {}
    for j in range(m.n_steps):
        groups: dict[Key, list[tuple[float, int, dict[str, str]]]] = {}
        for i, lb in enumerate(m.labels):
            v = float(m.values[i, j])
            if math.isnan(v):
                continue
            if without:
                gl = {k: x for k, x in lb.items() if k not in set(grouping or []) | {"__name__"} and x}
            else:
                gl = {k: lb[k] for k in (grouping or []) if lb.get(k)}
            groups.setdefault(key(gl), []).append((v, i, lb))
        for gk, items in groups.items():
            if op in ("topk", "bottomk"):
                k = int(param or 0)
                sign = -1 if op == "topk" else 1
                for v, _, lb in sorted(items, key=lambda t: (sign * t[0], t[1]))[:k]:
                    out.setdefault(key(lb), {})[j] = v
                continue
            value = naive_reduce(op, [v for v, _, _ in items])
            out.setdefault(gk, {})[j] = value
    return out


def matrix_dict(m: StepMatrix) -> dict[Key, dict[int, float]]:
    out: dict[Key, dict[int, float]] = {}
    for lb, row in zip(m.labels, m.values.tolist()):
        k = key(lb)
        assert k not in out
        points = {j: v for j, v in enumerate(row) if not math.isnan(v)}
        assert points, "empty series returned"
        out[k] = points
    return out


def assert_close(got: dict[Key, dict[int, float]], want: dict[Key, dict[int, float]], exact: bool) -> None:
    assert got.keys() == want.keys()
    for k in want:
        assert got[k].keys() == want[k].keys(), k
        for j, w in want[k].items():
            if exact:
                assert got[k][j] == w, (k, j, got[k][j], w)
            else:
                assert got[k][j] == pytest.approx(w, rel=1e-9, abs=1e-9), (k, j)


LABEL_VALUES = st.sampled_from(["x", "y"])


@st.composite
def matrices(draw: st.DrawFn, n_steps: int, names: tuple[str, ...] = ("a", "b", "c")) -> StepMatrix:
    label_sets = draw(
        st.lists(
            st.dictionaries(st.sampled_from(names), LABEL_VALUES, max_size=len(names)),
            max_size=6,
            unique_by=lambda d: key(d),
        )
    )
    rows = [
        draw(
            st.lists(
                st.one_of(st.just(NAN), st.integers(-3, 3).map(float)), min_size=n_steps, max_size=n_steps
            )
        )
        for _ in label_sets
    ]
    values = np.array(rows, dtype=np.float64).reshape(len(label_sets), n_steps)
    return StepMatrix(label_sets, values)


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    n_steps=st.integers(0, 4),
    op=st.sampled_from(["sum", "avg", "min", "max", "count", "stddev", "stdvar", "topk", "bottomk"]),
    grouping=st.one_of(st.none(), st.lists(st.sampled_from(["a", "b", "c", "z"]), max_size=3)),
    without=st.booleans(),
    k=st.integers(0, 3),
)
def test_aggregate_matches_naive(
    data: st.DataObject, n_steps: int, op: str, grouping: list[str] | None, without: bool, k: int
) -> None:
    m = data.draw(matrices(n_steps))
    param = float(k) if op in ("topk", "bottomk") else None
    got = aggregate(op, m, grouping, without, param)
    assert got.n_steps == n_steps
    want = naive_aggregate(op, m, grouping, without, param)
    assert_close(matrix_dict(got), want, exact=op not in ("avg", "stddev", "stdvar"))


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    n_steps=st.integers(1, 4),
    op=st.sampled_from(["topk", "bottomk"]),
    grouping=st.one_of(st.none(), st.lists(st.sampled_from(["a", "b"]), max_size=2)),
    without=st.booleans(),
    k=st.integers(1, 3),
)
def test_topk_bottomk_match_naive(
    data: st.DataObject, n_steps: int, op: str, grouping: list[str] | None, without: bool, k: int
) -> None:
    m = data.draw(matrices(n_steps))
    got = aggregate(op, m, grouping, without, float(k))
    assert_close(matrix_dict(got), naive_aggregate(op, m, grouping, without, float(k)), exact=True)


# Loki's MergeBinOp / vectorBinop / vectorAnd|Or|Unless / LiteralStepEvaluator, one step at a time.


def loki_merge(op: str, a: float, b: float, filter_: bool) -> float | None:
    if op in ARITHMETIC_OPS:
        if op in ("/", "%") and b == 0:
            return NAN
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return a / b
        if op == "%":
            return math.fmod(a, b)
        # Go's math.Pow special cases where Python's math.pow raises
        if a == 0 and b < 0:
            return math.copysign(math.inf, a) if b.is_integer() and b % 2 == 1 else math.inf
        if a < 0 and not b.is_integer():
            return NAN
        return math.pow(a, b)
    cond = {"==": a == b, "!=": a != b, ">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]
    if filter_:
        return a if cond else None
    return 1.0 if cond else 0.0


def loki_sig(lb: dict[str, str], on: list[str] | None, ignoring: list[str] | None) -> Key:
    if on is not None:
        return key({k: v for k, v in lb.items() if k in on})
    return key({k: v for k, v in lb.items() if k not in (ignoring or [])})


def loki_result_metric(
    ls: dict[str, str],
    rs: dict[str, str],
    card: str,
    on: list[str] | None,
    ignoring: list[str] | None,
    include: list[str],
) -> dict[str, str]:
    out = {k: v for k, v in ls.items() if v}
    if card == "one-to-one":
        if on is not None:
            out = {k: v for k, v in out.items() if k in on}
        else:
            out = {k: v for k, v in out.items() if k not in (ignoring or [])}
    for name in include:
        if rs.get(name):
            out[name] = rs[name]
        else:
            out.pop(name, None)
    return out


def naive_binop(
    op: str, lhs: Any, rhs: Any, return_bool: bool, on: Any, ignoring: Any, gl: Any, gr: Any
) -> Any:
    if not isinstance(lhs, StepMatrix) and not isinstance(rhs, StepMatrix):
        return loki_merge(op, lhs, rhs, False)
    n_steps = lhs.n_steps if isinstance(lhs, StepMatrix) else rhs.n_steps
    out: dict[Key, dict[int, float]] = {}

    def emit(j: int, samples: list[tuple[dict[str, str], float]]) -> None:
        for lb, v in samples:
            if math.isnan(v):
                continue  # NaN reads as "no sample" in a StepMatrix
            points = out.setdefault(key(lb), {})
            if j in points:
                raise ValueError("vector cannot contain metrics with the same labelset")
            points[j] = v

    def at(m: StepMatrix, j: int) -> list[tuple[dict[str, str], float]]:
        return [
            (lb, float(m.values[i, j])) for i, lb in enumerate(m.labels) if not math.isnan(m.values[i, j])
        ]

    for j in range(n_steps):
        if not isinstance(lhs, StepMatrix) or not isinstance(rhs, StepMatrix):
            vec, lit, lit_left = (rhs, lhs, True) if isinstance(rhs, StepMatrix) else (lhs, rhs, False)
            res = []
            for lb, v in at(vec, j):
                a, b = (lit, v) if lit_left else (v, lit)
                merged = loki_merge(op, a, b, not return_bool)
                if merged is not None:
                    res.append((lb, v if (op in COMPARISON_OPS and not return_bool) else merged))
            emit(j, res)
            continue
        ls, rs = at(lhs, j), at(rhs, j)
        lsigs = [loki_sig(lb, on, ignoring) for lb, _ in ls]
        rsigs = [loki_sig(lb, on, ignoring) for lb, _ in rs]
        if op in SET_OPS:
            if op == "and":
                res = [s for s, g in zip(ls, lsigs) if g in set(rsigs)] if ls and rs else []
            elif op == "unless":
                res = [s for s, g in zip(ls, lsigs) if g not in set(rsigs)] if rs else ls
            else:
                res = ls + [s for s, g in zip(rs, rsigs) if g not in set(lsigs)]
            emit(j, res)
            continue
        card, include = "one-to-one", []
        if gl is not None:
            card, include = "many-to-one", gl
        elif gr is not None:
            card, include = "one-to-many", gr
            ls, rs, lsigs, rsigs = rs, ls, rsigs, lsigs
        right: dict[Key, tuple[dict[str, str], float]] = {}
        for (lb, v), g in zip(rs, rsigs):
            if g in right:
                raise ValueError("found duplicate series")
            right[g] = (lb, v)
        matched: dict[Key, set[Key]] = {}
        res = []
        for (lb, v), g in zip(ls, lsigs):
            if g not in right:
                continue
            rlb, rv = right[g]
            metric = loki_result_metric(lb, rlb, card, on, ignoring, include)
            if card == "one-to-one":
                if g in matched:
                    raise ValueError("multiple matches for labels: many-to-one matching must be explicit")
                matched[g] = set()
            else:
                seen = matched.setdefault(g, set())
                if key(metric) in seen:
                    raise ValueError(
                        "multiple matches for labels: grouping labels must ensure unique matches"
                    )
                seen.add(key(metric))
            a, b = (rv, v) if card == "one-to-many" else (v, rv)
            merged = loki_merge(op, a, b, not return_bool)
            if merged is not None:
                res.append((metric, merged))
        emit(j, res)
    return out


MATCHING = st.one_of(
    st.just({}),
    st.fixed_dictionaries({"on": st.lists(st.sampled_from(["a", "b"]), max_size=2, unique=True)}),
    st.fixed_dictionaries({"ignoring": st.lists(st.sampled_from(["a", "b", "c"]), max_size=2, unique=True)}),
)
GROUPING = st.one_of(
    st.just({}),
    st.fixed_dictionaries({"group_left": st.lists(st.sampled_from(["b", "c"]), max_size=2, unique=True)}),
    st.fixed_dictionaries({"group_right": st.lists(st.sampled_from(["b", "c"]), max_size=2, unique=True)}),
)


@settings(max_examples=400, deadline=None)
@given(
    data=st.data(),
    n_steps=st.integers(1, 4),
    op=st.sampled_from(sorted(ARITHMETIC_OPS | COMPARISON_OPS | SET_OPS)),
    return_bool=st.booleans(),
    matching=MATCHING,
    grouping=GROUPING,
    shape=st.sampled_from(["vv", "vv", "vv", "sv", "vs", "ss"]),
)
def test_binary_op_matches_naive(
    data: st.DataObject,
    n_steps: int,
    op: str,
    return_bool: bool,
    matching: dict[str, list[str]],
    grouping: dict[str, list[str]],
    shape: str,
) -> None:
    return_bool = return_bool and op in COMPARISON_OPS
    if op in SET_OPS:
        grouping = {}
        shape = "vv"
    scalar = st.integers(-2, 2).map(float)
    lhs = data.draw(matrices(n_steps)) if shape[0] == "v" else data.draw(scalar)
    rhs = data.draw(matrices(n_steps)) if shape[1] == "v" else data.draw(scalar)
    kwargs: dict[str, Any] = {**matching, **grouping}
    try:
        want = naive_binop(
            op,
            lhs,
            rhs,
            return_bool,
            kwargs.get("on"),
            kwargs.get("ignoring"),
            kwargs.get("group_left"),
            kwargs.get("group_right"),
        )
    except ValueError:
        with pytest.raises(ValueError):
            binary_op(op, lhs, rhs, return_bool=return_bool, **kwargs)
        return
    got = binary_op(op, lhs, rhs, return_bool=return_bool, **kwargs)
    if shape == "ss":
        assert isinstance(got, float) and want is not None
        assert got == want or (math.isnan(got) and math.isnan(want))
        return
    assert isinstance(got, StepMatrix) and got.n_steps == n_steps
    assert_close(matrix_dict(got), want, exact=True)
