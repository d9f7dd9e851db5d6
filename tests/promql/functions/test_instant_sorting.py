"""sort, sort_desc, sort_by_label(_desc): Prometheus' cases, Go's sort on ties and NaNs,
natural order, and range-query behaviour."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest

from heron.model import labels_from
from heron.promql.functions import FUNCTIONS, gosort
from heron.promql.functions.gosort import go_sort
from heron.promql.functions.sorting import natural_less
from heron.promql.syntax.ast import Call
from heron.promql.syntax.errors import PosRange
from heron.promql.value import EvalContext, String, Vector

NAN = math.nan


def vec(rows: list[tuple[dict[str, str], float]], present: list[bool] | None = None) -> Vector:
    labels = [labels_from(lbls) for lbls, _ in rows]
    values = np.asarray([[v] for _, v in rows], dtype=np.float64).reshape(len(rows), 1)
    mask = np.ones(values.shape, dtype=bool) if present is None else np.asarray(present)[:, None]
    return Vector(labels, values, mask)


def run(name: str, v: Vector, *strings: str, steps: int = 1) -> tuple[Vector, EvalContext]:
    ctx = EvalContext(np.arange(steps, dtype=np.int64) * 60_000, query=f"{name}(x)")
    out = FUNCTIONS[name](Call(name, (), pos=PosRange(0, 7)), [v, *(String(s) for s in strings)], ctx)
    assert isinstance(out, Vector)
    return out, ctx


def http(job: str, instance: str, group: str) -> dict[str, str]:
    return {"__name__": "http_requests", "job": job, "instance": instance, "group": group}


# functions.test's http_requests at 50m, in the storage order (sorted by labels).
HTTP = sorted(
    [
        (http("api-server", "0", "production"), 100.0),
        (http("api-server", "1", "production"), 200.0),
        (http("api-server", "0", "canary"), 300.0),
        (http("api-server", "1", "canary"), 400.0),
        (http("api-server", "2", "canary"), NAN),
        (http("app-server", "0", "production"), 500.0),
        (http("app-server", "1", "production"), 600.0),
        (http("app-server", "0", "canary"), 700.0),
        (http("app-server", "1", "canary"), 800.0),
    ],
    key=lambda r: labels_from(r[0]),
)


def values_of(out: Vector) -> list[float]:
    return out.values[:, 0].tolist()


def test_sort_and_sort_desc_put_nan_last() -> None:
    out, _ = run("sort", vec(HTTP))
    got = values_of(out)
    assert got[:8] == [100, 200, 300, 400, 500, 600, 700, 800] and math.isnan(got[8])
    out, _ = run("sort_desc", vec(HTTP))
    got = values_of(out)
    assert got[:8] == [800, 700, 600, 500, 400, 300, 200, 100] and math.isnan(got[8])
    assert dict(out.labels[8])["instance"] == "2"


def test_sort_of_several_nans_follows_gos_insertion_sort() -> None:
    """Both NaNs are "less" than each other; Go's insertion sort (n <= 12) reverses them."""
    v = vec([({"a": "first"}, NAN), ({"a": "one"}, 1.0), ({"a": "second"}, NAN)])
    out, _ = run("sort", v)
    assert [dict(ls)["a"] for ls in out.labels] == ["one", "second", "first"]


def test_sort_ties_follow_gos_algorithm() -> None:
    rows = [({"i": f"{i:03d}"}, float(i % 3)) for i in range(40)]
    out, _ = run("sort", vec(rows))
    order = list(range(40))
    go_sort(order, lambda i, j: rows[j][1] > rows[i][1])
    assert [dict(ls)["i"] for ls in out.labels] == [f"{i:03d}" for i in order]
    assert values_of(out) == sorted(r[1] for r in rows)


def test_sort_keeps_drop_name_and_puts_absent_rows_last() -> None:
    v = vec([({"a": "x"}, 3.0), ({"a": "y"}, 1.0), ({"a": "z"}, 2.0)], present=[True, False, True])
    v.drop_name = np.array([True, False, False])
    out, _ = run("sort", v)
    assert [dict(ls)["a"] for ls in out.labels] == ["z", "x", "y"]
    assert out.drop_name is not None and out.drop_name.tolist() == [False, True, False]
    assert out.present[:, 0].tolist() == [True, True, False]


def test_sort_in_a_range_query_warns_and_keeps_order() -> None:
    values = np.array([[3.0, 1.0], [1.0, 3.0]])
    v = Vector([(("a", "x"),), (("a", "y"),)], values, np.ones((2, 2), bool))
    for name in ("sort", "sort_desc", "sort_by_label"):
        out, ctx = run(name, v, steps=2)
        assert out.labels == v.labels and out.values.tolist() == values.tolist()
        assert ctx.warnings == [
            "PromQL warning: sort is ineffective for range queries since results are always ordered"
            " by labels (1:1)"
        ]


def names(out: Vector, *keys: str) -> list[tuple[str, ...]]:
    return [tuple(dict(ls).get(k, "") for k in keys) for ls in out.labels]


def test_sort_by_label_prometheus_cases() -> None:
    rows = [*HTTP, (http("api-server", "2", "production"), 100.0)]
    out, _ = run("sort_by_label", vec(rows), "instance")
    assert names(out, "group", "instance", "job") == [
        ("canary", "0", "api-server"),
        ("canary", "0", "app-server"),
        ("production", "0", "api-server"),
        ("production", "0", "app-server"),
        ("canary", "1", "api-server"),
        ("canary", "1", "app-server"),
        ("production", "1", "api-server"),
        ("production", "1", "app-server"),
        ("canary", "2", "api-server"),
        ("production", "2", "api-server"),
    ]
    out, _ = run("sort_by_label", vec(rows), "job", "instance", "group")
    assert names(out, "job", "instance", "group")[:3] == [
        ("api-server", "0", "canary"),
        ("api-server", "0", "production"),
        ("api-server", "1", "canary"),
    ]
    out, _ = run("sort_by_label_desc", vec(rows), "instance")
    assert names(out, "group", "instance", "job")[:4] == [
        ("production", "2", "api-server"),
        ("canary", "2", "api-server"),
        ("production", "1", "app-server"),
        ("production", "1", "api-server"),
    ]


def test_sort_by_label_natural_order() -> None:
    cpus = [
        ({"__name__": "cpu_time_total", "job": "cpu", "cpu": c}, 100.0)
        for c in "0 1 2 3 10 11 12 20 21 100".split()
    ]
    shuffled = sorted(cpus, key=lambda r: labels_from(r[0]))
    out, _ = run("sort_by_label", vec(shuffled), "cpu")
    assert [c for (c,) in names(out, "cpu")] == "0 1 2 3 10 11 12 20 21 100".split()
    uname = [
        ({"instance": "4m600", "release": "1.2.3"}, 1.0),
        ({"instance": "4m5", "release": "1.11.3"}, 1.0),
        ({"instance": "4m1000", "release": "1.111.3"}, 1.0),
    ]
    out, _ = run("sort_by_label", vec(uname), "instance")
    assert names(out, "instance") == [("4m5",), ("4m600",), ("4m1000",)]
    out, _ = run("sort_by_label", vec(uname), "release")
    assert names(out, "release") == [("1.2.3",), ("1.11.3",), ("1.111.3",)]


def test_sort_by_label_with_missing_labels_follows_go() -> None:
    """A missing label compares as "greater" both ways, so rows between differing values never
    move in Go's insertion sort, even when the full label sets say otherwise."""
    rows = [({"n": "b"}, 1.0), ({"n": "a", "l": "a"}, 1.0), ({"n": "a"}, 1.0)]
    out, _ = run("sort_by_label", vec(rows), "l")
    assert names(out, "n", "l") == [("b", ""), ("a", "a"), ("a", "")]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1", "2", True),
        ("2", "10", True),
        ("10", "2", False),
        ("a10", "a9", False),
        ("a", "b", True),
        ("x1", "x1y", True),
        ("x1y", "x1", False),
        ("1.2.3", "1.11.3", True),
        ("4m5", "4m1000", True),
        ("01", "1", True),  # equal numbers: the quirk makes each first
        ("1", "01", True),
        ("", "x", False),  # no chunks: neither first
        ("x", "", False),
        ("99999999999999999999", "5", False),  # beyond int64: compared as text
    ],
)
def test_natural_less(a: str, b: str, expected: bool) -> None:
    assert natural_less(a, b) is expected


@pytest.mark.parametrize("n", [0, 1, 2, 5, 12, 13, 49, 50, 51, 200, 1000])
def test_go_sort_sorts_consistent_orders(n: int) -> None:
    rng = random.Random(n)
    for data in (
        [rng.random() for _ in range(n)],
        [rng.randrange(4) for _ in range(n)],
        list(range(n)),
        list(range(n, 0, -1)),
        [min(i, n - i) for i in range(n)],
    ):
        got = list(data)
        go_sort(got, lambda a, b: a < b)
        assert got == sorted(data)


CASES = json.loads((Path(__file__).parent / "instant_gosort_cases.json").read_text())


def test_orders_match_real_go(monkeypatch: pytest.MonkeyPatch) -> None:
    """Orders recorded from Go 1.19.8 itself (see the file's `about`), ties and NaNs included;
    Go 1.19 used other xorshift shifts in breakPatterns, so those are swapped in here."""
    monkeypatch.setattr(gosort, "_XORSHIFT", (13, 17, 5))
    for case in CASES["by_value"]:
        values = [float(v) for v in case["values"]]
        rows = [({"i": f"{i:05d}"}, v) for i, v in enumerate(values)]
        out, _ = run("sort", vec(rows))
        assert [int(dict(ls)["i"]) for ls in out.labels] == case["order"], values
    for case in CASES["by_label"]:
        rows = [({"id": f"{i:05d}", "k": k}, 1.0) for i, k in enumerate(case["keys"])]
        out, _ = run("sort_by_label", vec(rows), "k")
        assert [int(dict(ls)["id"]) for ls in out.labels] == case["order"], case["keys"]
