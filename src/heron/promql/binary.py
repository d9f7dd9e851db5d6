"""PromQL binary operators over whole step matrices (Prometheus' VectorBinop and friends).

Vector matching works on rows, not samples: every row's match signature (its `on` labels, or
all labels but `ignoring`'s and `__name__`) is built once, rows are paired by signature with
a Python loop over rows, and the values of every pair at every step come out of one numpy
operation. Prometheus evaluates step by step; the checks it makes at each step (a duplicate
on the "one" side, two matches for one result) are made here over all steps at once, and
the first failing step's error is raised with Prometheus' wording.

Names follow Prometheus 3 with delayed name removal: arithmetic between vectors drops
`__name__` (and the other metadata labels) at once; vector/scalar arithmetic and `bool`
comparisons flag it for removal; filtering comparisons keep it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from heron.model import Labels, format_labels
from heron.promql.syntax.ast import (
    ARITHMETIC_OPS,
    COMPARISON_OPS,
    BinaryExpr,
    Cardinality,
    VectorMatching,
)
from heron.promql.value import ExecutionError, Scalar, Value, Vector

__all__ = ["binary_op", "coalesce_rows", "METADATA_LABELS"]

# The labels Prometheus' schema.Metadata covers: what an operation that changes a metric's
# meaning removes.
METADATA_LABELS = frozenset({"__name__", "__type__", "__unit__"})

Signature = tuple[tuple[str, str], ...]

_ARITH: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
    "%": np.fmod,  # Go's math.Mod: the result has the sign of the dividend, like C fmod
    "^": np.power,
    "atan2": np.arctan2,
}
_CMP: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "==": np.equal,
    "!=": np.not_equal,
    ">": np.greater,
    "<": np.less,
    ">=": np.greater_equal,
    "<=": np.less_equal,
}


def _arith(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(_ARITH[op](a, b), dtype=np.float64)


def _cmp(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.asarray(_CMP[op](a, b), dtype=bool)


def drop_metadata(labels: Labels) -> Labels:
    return tuple(kv for kv in labels if kv[0] not in METADATA_LABELS)


def binary_op(node: BinaryExpr, lhs: Value, rhs: Value) -> Value:
    """Evaluate `node.op` between two evaluated operands (Scalar or Vector)."""
    op = node.op
    if isinstance(lhs, Scalar) and isinstance(rhs, Scalar):
        if op in COMPARISON_OPS:
            return Scalar(_cmp(op, lhs.values, rhs.values).astype(np.float64))
        return Scalar(_arith(op, lhs.values, rhs.values))
    if isinstance(lhs, Vector) and isinstance(rhs, Scalar):
        return _vector_scalar(op, lhs, rhs, swap=False, return_bool=node.return_bool)
    if isinstance(lhs, Scalar) and isinstance(rhs, Vector):
        return _vector_scalar(op, rhs, lhs, swap=True, return_bool=node.return_bool)
    if isinstance(lhs, Vector) and isinstance(rhs, Vector):
        matching = node.matching or VectorMatching(
            Cardinality.MANY_TO_MANY if op in ("and", "or", "unless") else Cardinality.ONE_TO_ONE
        )
        if op == "and" or op == "unless":
            return _and_unless(lhs, rhs, matching, keep_matched=op == "and")
        if op == "or":
            return coalesce_rows(_or(lhs, rhs, matching))
        return coalesce_rows(_vector_vector(op, lhs, rhs, matching, node.return_bool))
    raise ExecutionError(f"binary operator {op!r} is not defined between these operand types")


def _nonempty(vec: Vector) -> Vector:
    """The vector without rows absent at every step (Prometheus never makes such series)."""
    if not len(vec) or bool(vec.present.any(axis=1).all()):
        return vec
    keep = np.flatnonzero(vec.present.any(axis=1))
    return Vector(
        [vec.labels[i] for i in keep.tolist()],
        vec.values[keep],
        vec.present[keep],
        None if vec.drop_name is None else vec.drop_name[keep],
        None,
    )


def _drop_flags(vec: Vector) -> np.ndarray:
    return np.zeros(len(vec), dtype=bool) if vec.drop_name is None else np.asarray(vec.drop_name, dtype=bool)


def _vector_scalar(op: str, vec: Vector, sc: Scalar, *, swap: bool, return_bool: bool) -> Vector:
    """Prometheus' VectorscalarBinop; `swap` when the scalar was written on the left."""
    s = np.broadcast_to(np.asarray(sc.values, dtype=np.float64), vec.values.shape)
    a, b = (s, vec.values) if swap else (vec.values, s)
    if op in ARITHMETIC_OPS:
        values = _arith(op, a, b)
        return Vector(list(vec.labels), values, vec.present.copy(), np.ones(len(vec), dtype=bool))
    cond = _cmp(op, a, b)
    if return_bool:
        return Vector(
            list(vec.labels), cond.astype(np.float64), vec.present.copy(), np.ones(len(vec), dtype=bool)
        )
    # A filtering comparison keeps the vector's own value even when the scalar is on the left.
    out = Vector(list(vec.labels), vec.values, vec.present & cond, vec.drop_name)
    return _nonempty(out)


def signature(labels: Labels, matching: VectorMatching) -> Signature:
    """The labels two rows must share to match: `on`'s, or all but `ignoring`'s and the name."""
    if matching.on:
        names = set(matching.matching_labels)
        return tuple(kv for kv in labels if kv[0] in names)
    skip = set(matching.matching_labels) | {"__name__"}
    return tuple(kv for kv in labels if kv[0] not in skip)


def _ordinals(lhs: Vector, rhs: Vector, matching: VectorMatching) -> tuple[np.ndarray, np.ndarray, int]:
    ords: dict[Signature, int] = {}
    lsig = np.array(
        [ords.setdefault(signature(ls, matching), len(ords)) for ls in lhs.labels], dtype=np.int64
    )
    rsig = np.array(
        [ords.setdefault(signature(ls, matching), len(ords)) for ls in rhs.labels], dtype=np.int64
    )
    return lsig, rsig, len(ords)


def _any_by_sig(vec: Vector, sig: np.ndarray, n_sigs: int) -> np.ndarray:
    """(signatures x steps): whether any row of that signature is present at the step."""
    out = np.zeros((n_sigs, vec.steps), dtype=bool)
    if len(vec):
        np.logical_or.at(out, sig, vec.present)
    return out


def _and_unless(lhs: Vector, rhs: Vector, matching: VectorMatching, *, keep_matched: bool) -> Vector:
    lsig, rsig, n = _ordinals(lhs, rhs, matching)
    matched = _any_by_sig(rhs, rsig, n)[lsig] if len(lhs) else np.zeros_like(lhs.present)
    present = lhs.present & (matched if keep_matched else ~matched)
    return _nonempty(Vector(list(lhs.labels), lhs.values, present, lhs.drop_name))


def _or(lhs: Vector, rhs: Vector, matching: VectorMatching) -> Vector:
    lsig, rsig, n = _ordinals(lhs, rhs, matching)
    taken = _any_by_sig(lhs, lsig, n)[rsig] if len(rhs) else np.zeros_like(rhs.present)
    out = Vector(
        list(lhs.labels) + list(rhs.labels),
        np.vstack([lhs.values, rhs.values]),
        np.vstack([lhs.present, rhs.present & ~taken]),
        np.concatenate([_drop_flags(lhs), _drop_flags(rhs)]),
    )
    return _nonempty(out)


def _match_labels(labels: Labels, matching: VectorMatching) -> Labels:
    """Prometheus' Labels.MatchLabels: what the error about a match group prints."""
    if matching.on:
        names = set(matching.matching_labels)
        return tuple(kv for kv in labels if kv[0] in names)
    skip = set(matching.matching_labels) | {"__name__"}
    return tuple(kv for kv in labels if kv[0] not in skip)


def _check_one_side(one: Vector, osig: np.ndarray, matching: VectorMatching, steps: np.ndarray) -> None:
    """The "one" side may hold a signature only once per step; else Prometheus' error for
    the first step (and, within it, the first row in order) where it does not. Only `steps`
    count: Prometheus skips a step where the other side is empty before looking."""
    rows_by_sig: dict[int, list[int]] = {}
    for i, s in enumerate(osig.tolist()):
        rows_by_sig.setdefault(s, []).append(i)
    worst: tuple[int, int, int, int] | None = None  # (step, second row, first row, sig)
    for rows in rows_by_sig.values():
        if len(rows) < 2:
            continue
        p = one.present[rows] & steps[None, :]
        counts = np.cumsum(p, axis=0)
        bad = (counts >= 2) & p
        if not bad.any():
            continue
        step = int(np.flatnonzero(bad.any(axis=0))[0])
        at = [rows[k] for k in np.flatnonzero(p[:, step]).tolist()]
        cand = (step, at[1], at[0], 0)
        if worst is None or cand < worst:
            worst = cand
    if worst is None:
        return
    _, second, first, _ = worst
    side = "left" if matching.card is Cardinality.ONE_TO_MANY else "right"
    group = format_labels(_match_labels(one.labels[second], matching))
    d1, d2 = sorted([format_labels(one.labels[second]), format_labels(one.labels[first])])
    raise ExecutionError(
        f"found duplicate series for the match group {group} on the {side} hand-side of the operation: "
        f"[{d1}, {d2}];many-to-many matching not allowed: matching labels must be unique on one side"
    )


def _result_labels(ls: Labels, rs: Labels, op: str, matching: VectorMatching) -> Labels:
    """Prometheus' resultMetric: the "many" side's labels, reduced for one-to-one matching,
    with `group_x`'s include labels copied from the "one" side."""
    out = dict(ls)
    if op in ARITHMETIC_OPS:
        for name in METADATA_LABELS:
            out.pop(name, None)
    if matching.card is Cardinality.ONE_TO_ONE:
        names = set(matching.matching_labels)
        if matching.on:
            out = {k: v for k, v in out.items() if k in names}
        else:
            out = {k: v for k, v in out.items() if k not in names}
    if matching.include:
        other = dict(rs)
        for name in matching.include:
            if other.get(name):
                out[name] = other[name]
            else:
                out.pop(name, None)
    return tuple(sorted(out.items()))


def _vector_vector(op: str, lhs: Vector, rhs: Vector, matching: VectorMatching, return_bool: bool) -> Vector:
    """Arithmetic and comparison between two vectors, one-to-one or many-to-one/one-to-many."""
    n = lhs.steps
    swapped = matching.card is Cardinality.ONE_TO_MANY
    many, one = (rhs, lhs) if swapped else (lhs, rhs)
    msig, osig, _ = _ordinals(many, one, matching)
    if not len(many) or not len(one):
        return Vector.empty(n)
    _check_one_side(one, osig, matching, many.present.any(axis=0))

    one_rows: dict[int, list[int]] = {}
    for j, s in enumerate(osig.tolist()):
        one_rows.setdefault(s, []).append(j)
    pair_many: list[int] = []
    pair_one: list[int] = []
    pair_labels: list[Labels] = []
    label_cache: dict[tuple[int, int], Labels] = {}
    for i, s in enumerate(msig.tolist()):
        for j in one_rows.get(s, ()):
            if not (many.present[i] & one.present[j]).any():
                continue
            pair_many.append(i)
            pair_one.append(j)
            key = (i, j)
            if key not in label_cache:
                label_cache[key] = _result_labels(many.labels[i], one.labels[j], op, matching)
            pair_labels.append(label_cache[key])
    if not pair_many:
        return Vector.empty(n)
    mi = np.asarray(pair_many, dtype=np.int64)
    oj = np.asarray(pair_one, dtype=np.int64)
    mask = many.present[mi] & one.present[oj]
    _check_unique_matches(mask, msig[mi], pair_labels, matching)

    fl, fr = many.values[mi], one.values[oj]
    if swapped:
        fl, fr = fr, fl
    if op in ARITHMETIC_OPS:
        values, present = _arith(op, fl, fr), mask
    else:
        cond = _cmp(op, fl, fr)
        if return_bool:
            values, present = cond.astype(np.float64), mask
        else:
            values, present = fl, mask & cond
    # Prometheus 3 (delayed removal) sets DropName to `bool` here and so forgets a flag the
    # "many" row carried: `rate(a[5m]) > rate(b[5m])` would come out named `a`, unlike
    # Prometheus without delayed removal (and 2.x), which drop it in rate. Keeping the flag
    # gives the answer both agree on whenever the name was meant to go.
    drop = _drop_flags(many)[mi] | return_bool
    return _nonempty(Vector(pair_labels, np.where(present, values, 0.0), present, drop))


def _check_unique_matches(
    mask: np.ndarray, sig: np.ndarray, labels: list[Labels], matching: VectorMatching
) -> None:
    """One-to-one: a signature may match once per step. Many-to-one: the result labels of
    one signature must differ at each step. Checked for every step at once."""
    if matching.card is Cardinality.ONE_TO_ONE:
        keys = sig
        msg = "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
    else:
        ids: dict[tuple[int, Labels], int] = {}
        keys = np.array(
            [ids.setdefault((int(s), ls), len(ids)) for s, ls in zip(sig.tolist(), labels)], dtype=np.int64
        )
        msg = "multiple matches for labels: grouping labels must ensure unique matches"
    if len(np.unique(keys)) == len(keys):
        return
    counts = np.zeros((int(keys.max()) + 1, mask.shape[1]), dtype=np.int64)
    np.add.at(counts, keys, mask.astype(np.int64))
    if (counts > 1).any():
        raise ExecutionError(msg)


def coalesce_rows(vec: Vector, *, strict: bool = False) -> Vector:
    """Rows with the same labels become one series, as Prometheus' rangeEval collects each
    step's output by label set. Two such rows present at the same step are Prometheus'
    "vector cannot contain metrics with the same labelset" in a range evaluation; in a
    one-step (instant) evaluation Prometheus keeps both and leaves the check to the end,
    unless `strict` (label_replace and label_join merge and check at once)."""
    if len(set(vec.labels)) == len(vec.labels):
        return vec
    groups: dict[Labels, list[int]] = {}
    for i, ls in enumerate(vec.labels):
        groups.setdefault(ls, []).append(i)
    if vec.steps == 1 and not strict:
        return vec
    drops = _drop_flags(vec)
    labels: list[Labels] = []
    values: list[np.ndarray] = []
    present: list[np.ndarray] = []
    drop: list[bool] = []
    for ls, rows in groups.items():
        p = vec.present[rows]
        if (p.sum(axis=0) > 1).any():
            raise ExecutionError("vector cannot contain metrics with the same labelset")
        labels.append(ls)
        present.append(p.any(axis=0))
        pick = p.argmax(axis=0)  # the one row present at each step (row 0 where none is)
        values.append(vec.values[rows][pick, np.arange(vec.steps)])
        drop.append(bool(drops[rows[0]]))
    return Vector(labels, np.vstack(values), np.vstack(present), np.asarray(drop, dtype=bool))
