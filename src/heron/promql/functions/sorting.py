"""PromQL's sorting functions: `sort`, `sort_desc`, `sort_by_label`, `sort_by_label_desc`.

Order only exists in an instant query's result (a range query's series are always ordered by
labels), so with one step the rows are reordered, and with more the vector is returned as it
is, with Prometheus' "sort is ineffective for range queries" warning. Rows with no sample at
the step go last (Prometheus has no such rows; the engine drops them).

Prometheus sorts with Go's unstable pdqsort, and its comparators are not always consistent
(several NaNs, equal values, missing labels, "01" against "1" in natural order), so the order
of those rows is whatever that algorithm makes of them: `gosort.go_sort` reproduces it. When
the values are provably a strict total order (distinct, at most one NaN), any correct sort
gives the same answer and numpy's argsort is used instead.

Sorting keeps each series' labels and `drop_name` as they are (Prometheus returns the input
samples themselves).
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Callable

import numpy as np

from heron.model import Labels
from heron.promql.functions.gosort import go_sort
from heron.promql.syntax.ast import Call
from heron.promql.value import EvalContext, String, Value, Vector

__all__ = ["SORT_FUNCTIONS", "natural_less"]

SORT_IN_RANGE_QUERY = "sort is ineffective for range queries since results are always ordered by labels"
_CHUNK = re.compile(r"[0-9]+|[^0-9]+", re.S)
_INT64_MAX = 2**63 - 1


@lru_cache(maxsize=65536)
def _chunks(text: str) -> tuple[tuple[str, int | None], ...]:
    """facette/natsort's `chunkify`: runs of digits and of non-digits, each with its integer
    value when `strconv.Atoi` would parse it (digits that fit an int64)."""
    out: list[tuple[str, int | None]] = []
    for chunk in _CHUNK.findall(text):
        number: int | None = None
        if chunk[0].isascii() and chunk[0].isdigit():
            value = int(chunk)
            number = value if value <= _INT64_MAX else None
        out.append((chunk, number))
    return tuple(out)


def natural_less(a: str, b: str) -> bool:
    """`natsort.Compare(a, b)` of github.com/facette/natsort (the version Prometheus pins),
    quirks included: chunks that compare equal up to the last one of `a` make `a` first."""
    chunks_a = _chunks(a)
    chunks_b = _chunks(b)
    last_a = len(chunks_a) - 1
    last_b = len(chunks_b) - 1
    for i, (text_a, num_a) in enumerate(chunks_a):
        if i > last_b:
            return False
        text_b, num_b = chunks_b[i]
        if num_a is not None and num_b is not None:
            if num_a != num_b:
                return num_a < num_b
        elif text_a != text_b:
            return text_a < text_b
        if i == last_a:
            return True
        if i == last_b:
            return False
    return False


def _reordered(vec: Vector, order: list[int]) -> Vector:
    idx = np.asarray(order, dtype=np.intp)
    return Vector(
        [vec.labels[i] for i in order],
        vec.values[idx],
        vec.present[idx],
        None if vec.drop_name is None else vec.drop_name[idx],
    )


def _as_is(vec: Vector) -> Vector:
    """The same rows in the same order; sample times belong to selectors only."""
    return Vector(vec.labels, vec.values, vec.present, vec.drop_name)


def _single_step(call: Call, vec: Vector, ctx: EvalContext) -> bool:
    if len(ctx.times) > 1:
        ctx.warn(SORT_IN_RANGE_QUERY, call.pos)
        return False
    return vec.steps == 1 and len(vec) > 1


def _by_value(descending: bool) -> Callable[[Call, list[Value], EvalContext], Value]:
    def impl(call: Call, args: list[Value], ctx: EvalContext) -> Value:
        vec = args[0]
        assert isinstance(vec, Vector)
        if not _single_step(call, vec, ctx):
            return _as_is(vec)
        rows = np.flatnonzero(vec.present[:, 0])
        values = vec.values[rows, 0]
        nan = np.isnan(values)
        finite = values[~nan]
        if int(nan.sum()) <= 1 and np.unique(finite).size == finite.size:
            # A strict total order with NaN greatest: argsort puts NaN last either way.
            picked = np.argsort(-values if descending else values, kind="stable")
            order = rows[picked].tolist()
        else:
            order = rows.tolist()
            v = vec.values[:, 0].tolist()
            if descending:
                # sort.Sort(sort.Reverse(vectorByValueHeap)): Less(i, j) = NaN(j) || j < i.
                go_sort(order, lambda i, j: math.isnan(v[j]) or v[j] < v[i])
            else:
                # sort.Sort(sort.Reverse(vectorByReverseValueHeap)): Less(i, j) = NaN(j) || j > i.
                go_sort(order, lambda i, j: math.isnan(v[j]) or v[j] > v[i])
        absent = np.flatnonzero(~vec.present[:, 0]).tolist()
        return _reordered(vec, order + absent)

    return impl


def _by_label(descending: bool) -> Callable[[Call, list[Value], EvalContext], Value]:
    def impl(call: Call, args: list[Value], ctx: EvalContext) -> Value:
        vec = args[0]
        assert isinstance(vec, Vector)
        names = []
        for arg in args[1:]:
            assert isinstance(arg, String)
            names.append(arg.value)
        if not _single_step(call, vec, ctx):
            return _as_is(vec)
        keys: list[tuple[list[str], Labels]] = []
        for labels in vec.labels:
            mapping = dict(labels)
            keys.append(([mapping.get(name, "") for name in names], labels))
        sign = -1 if descending else 1

        def less(i: int, j: int) -> bool:
            values_i, labels_i = keys[i]
            values_j, labels_j = keys[j]
            for a, b in zip(values_i, values_j):
                if a != b:
                    # cmp = -1 when natsort puts a first, else +1 (even if it is "equal").
                    return (-1 if natural_less(a, b) else 1) * sign < 0
            if labels_i == labels_j:
                return False
            return (-1 if labels_i < labels_j else 1) * sign < 0

        order = np.flatnonzero(vec.present[:, 0]).tolist()
        go_sort(order, less)
        absent = np.flatnonzero(~vec.present[:, 0]).tolist()
        return _reordered(vec, order + absent)

    return impl


SORT_FUNCTIONS: dict[str, Callable[[Call, list[Value], EvalContext], Value]] = {
    "sort": _by_value(False),
    "sort_desc": _by_value(True),
    "sort_by_label": _by_label(False),
    "sort_by_label_desc": _by_label(True),
}
