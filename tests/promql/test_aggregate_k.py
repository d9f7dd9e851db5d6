"""topk, bottomk, limitk and limit_ratio: which series survive each step, in which order, and
Prometheus' parameter errors; checked by hand and against a transcription of its heap."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from heron.model import labels_from
from heron.promql.aggregate import aggregate
from heron.promql.labelhash import labels_bytes, labels_hash, xxh64
from heron.promql.syntax.ast import AggregateExpr, NumberLiteral, VectorSelector
from heron.promql.syntax.errors import PosRange
from heron.promql.value import EvalContext, ExecutionError, Scalar, Vector

NAN = math.nan
SEL = VectorSelector("x", ())


def run(
    op: str, vec: Vector, param: float | list[float], by: tuple[str, ...] = (), query: str = ""
) -> tuple[Vector, EvalContext]:
    steps = vec.steps
    ctx = EvalContext(np.arange(steps, dtype=np.int64) * 60_000, query=query)
    pos = PosRange(query.find("(") + 1, query.find("(") + 2) if query else PosRange(0, 0)
    node = AggregateExpr(op, SEL, NumberLiteral(0.0, pos), by)
    k = Scalar(np.broadcast_to(np.asarray(param, dtype=np.float64), (steps,)).copy())
    return aggregate(node, vec, k, ctx), ctx


def single_step(values: list[float], extra: dict[str, str] | None = None) -> Vector:
    labels = [labels_from({"__name__": "m", "i": str(i), **(extra or {})}) for i in range(len(values))]
    return Vector(labels, np.array(values, dtype=np.float64)[:, None], np.ones((len(values), 1), dtype=bool))


def instances(out: Vector) -> list[str]:
    return [dict(ls)["i"] for ls in out.labels]


def test_topk_and_bottomk_order_with_nan_last() -> None:
    vec = single_step([100.0, 200.0, NAN, 50.0])
    assert instances(run("topk", vec, 3)[0]) == ["1", "0", "3"]
    assert instances(run("topk", vec, 9_999_999_999)[0]) == ["1", "0", "3", "2"]
    assert instances(run("bottomk", vec, 3)[0]) == ["3", "0", "1"]
    assert instances(run("bottomk", vec, 10)[0]) == ["3", "0", "1", "2"]


def test_series_are_kept_as_they_are() -> None:
    vec = single_step([1.0, 2.0])
    vec.drop_name = np.array([True, False])
    out, _ = run("topk", vec, 2)
    assert out.labels == [vec.labels[1], vec.labels[0]]
    assert out.drop_name is not None and out.drop_name.tolist() == [False, True]


def test_k_per_step_truncated_and_below_one_empty() -> None:
    values = np.array([[1.0, 1.0, 1.0, 1.0], [2.0, 2.0, 2.0, 2.0], [3.0, 3.0, 3.0, 3.0]])
    vec = Vector([(("i", str(i)),) for i in range(3)], values, np.ones(values.shape, dtype=bool))
    out, _ = run("topk", vec, [1.0, 2.9, 0.5, -3.0])
    assert out.present.sum(axis=0).tolist() == [1, 2, 0, 0]
    assert len(run("topk", vec, 0.9)[0]) == 0
    assert len(run("limitk", vec, -1.0)[0]) == 0


def test_grouped_topk_keeps_group_order() -> None:
    vec = single_step([1.0, 5.0, 3.0, 4.0])
    vec.labels = [labels_from({"i": str(i), "g": "ab"[i % 2]}) for i in range(4)]
    out, _ = run("topk", vec, 1, by=("g",))
    assert instances(out) == ["2", "1"]


@pytest.mark.parametrize(
    ("op", "param", "message"),
    [
        ("topk", NAN, "Parameter value is NaN"),
        ("bottomk", [1.0, NAN], "Parameter value is NaN"),
        ("limitk", NAN, "Parameter value is NaN"),
        ("limit_ratio", NAN, "Ratio value is NaN"),
        ("topk", 1e19, "Scalar value 1e+19 overflows int64"),
        ("topk", [2.0, -1e19], "Scalar value -1e+19 underflows int64"),
    ],
)
def test_parameter_errors(op: str, param: float | list[float], message: str) -> None:
    with pytest.raises(ExecutionError, match=f"^{re.escape(message)}$"):
        run(op, Vector.empty(2), param)


def test_limitk_takes_the_first_k_present_per_step() -> None:
    values = np.zeros((4, 2))
    present = np.array([[True, False], [True, True], [True, True], [False, True]])
    vec = Vector([(("i", str(i)),) for i in range(4)], values, present)
    out, _ = run("limitk", vec, 2)
    assert instances(out) == ["0", "1", "2"]
    assert out.present.tolist() == [[True, False], [True, True], [False, True]]


def test_limit_ratio_complements_and_caps() -> None:
    vec = Vector(
        [labels_from({"__name__": "m", "i": str(i)}) for i in range(40)],
        np.ones((40, 1)),
        np.ones((40, 1), bool),
    )
    low, _ = run("limit_ratio", vec, 0.3)
    high, _ = run("limit_ratio", vec, -0.7)
    assert set(low.labels).isdisjoint(high.labels) and len(low) + len(high) == 40
    for ls in low.labels:
        assert labels_hash(ls) / 2**64 < 0.3
    everything, ctx = run("limit_ratio", vec, 1.1, query="count(limit_ratio(1.1, m))")
    assert len(everything) == 40
    assert ctx.warnings == [
        "PromQL warning: ratio value should be between -1 and 1, got 1.1, capping to 1 (1:7)"
    ]
    assert len(run("limit_ratio", vec, 0.0)[0]) == 0


def test_xxh64_and_label_hash() -> None:
    assert xxh64(b"") == 0xEF46DB3751D8E999
    assert xxh64(b"abc") == 0x44BC2CF5AD770999
    assert xxh64(b"x" * 100) == xxh64(bytes(b"x" * 100))
    # Prometheus' StableHash vectors (name, 0xff, value, 0xff), which exercise the same XXH64.
    assert xxh64(b"hello\xffworld\xff") == 0x347C8EE7A9E29708
    assert xxh64(b"__name__\xffmetric\xfflabel\xffvalue\xff") == 0xCBAB40540F26097D
    assert labels_bytes((("a", "bc"),)) == b"\x01a\x02bc"
    assert labels_bytes((("n", "v" * 300),))[:6] == b"\x01n\xff\x2c\x01\x00"


# Prometheus' aggregationK, transcribed with Go's container/heap sift functions (Python's heapq
# breaks ties differently), decides which of several equal samples survive.


def _go_less(a: float, b: float, top: bool) -> bool:
    if math.isnan(a):
        return True
    return a < b if top else a > b


def _reference_topk(samples: list[tuple[int, float]], k: int, top: bool) -> set[int]:
    heap: list[tuple[int, float]] = []

    def up(j: int) -> None:
        while j > 0:
            i = (j - 1) // 2
            if not _go_less(heap[j][1], heap[i][1], top):
                break
            heap[i], heap[j] = heap[j], heap[i]
            j = i

    def down(i: int) -> bool:
        i0, n = i, len(heap)
        while 2 * i + 1 < n:
            j = 2 * i + 1
            if j + 1 < n and _go_less(heap[j + 1][1], heap[j][1], top):
                j += 1
            if not _go_less(heap[j][1], heap[i][1], top):
                break
            heap[i], heap[j] = heap[j], heap[i]
            i = j
        return i > i0

    for row, f in samples:
        if len(heap) < k:
            heap.append((row, f))
            up(len(heap) - 1)
            continue
        t = heap[0][1]
        if (t < f if top else t > f) or (math.isnan(t) and not math.isnan(f)):
            heap[0] = (row, f)
            if k > 1 and not down(0):
                up(0)
    return {row for row, _ in heap}


@pytest.mark.parametrize("op", ["topk", "bottomk"])
@pytest.mark.parametrize("k", [1, 2, 3, 7])
def test_ties_resolve_as_prometheus_heap(op: str, k: int) -> None:
    rng = np.random.default_rng(k)
    rows, steps = 60, 15
    values = rng.choice([0.0, -0.0, 1.0, 2.0, NAN, 5.0], size=(rows, steps))
    present = rng.random((rows, steps)) < 0.85
    groups = rng.integers(0, 4, size=rows)
    labels = [(("g", str(int(g))), ("i", str(i))) for i, g in enumerate(groups)]
    out, _ = run(op, Vector(labels, values, present), float(k), by=("g",))
    picked = {(dict(ls)["i"], s) for ls, p in zip(out.labels, out.present) for s in np.nonzero(p)[0].tolist()}
    for s in range(steps):
        for g in range(4):
            samples = [(i, float(values[i, s])) for i in range(rows) if groups[i] == g and present[i, s]]
            want = _reference_topk(samples, min(k, rows), op == "topk")
            have = {int(i) for i, step in picked if step == s and groups[int(i)] == g}
            assert have == want, (op, k, s, g)
