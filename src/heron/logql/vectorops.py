"""Step matrices: LogQL vector aggregations, binary operations and label_replace.

A `StepMatrix` holds every series of an instant-vector expression evaluated at every step of a
query: `labels[i]` names series i, `values[i, j]` is its sample at step j, NaN meaning "no sample
at that step". A genuine NaN *sample value* cannot be told apart from "no sample"; Loki rarely
produces one (an unwrapped "NaN", 0/0), and here such a point simply disappears.

Semantics follow Loki 3.x's step evaluators (`pkg/logql/evaluator.go`, `syntax.MergeBinOp`),
which in turn follow Prometheus; the places where Loki differs from Prometheus, and what Heron
does, are spelled out on each function. All work is vectorised across steps: Python loops run over
series and groups (hundreds), never over samples.

Label conventions: a label with an empty value is the same as an absent label (Prometheus), so it
never appears in an output label set and matches "" in `by`/`on` lists. Output series carrying
identical label sets are merged; if two of them have a sample at the same step, that is
Prometheus' "vector cannot contain metrics with the same labelset" error (Loki would emit both
points under one series, which no client can use).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "StepMatrix",
    "aggregate",
    "binary_op",
    "label_replace",
    "vector_literal",
    "AGGREGATION_OPS",
    "ARITHMETIC_OPS",
    "COMPARISON_OPS",
    "SET_OPS",
]

AGGREGATION_OPS = frozenset(
    {"sum", "avg", "min", "max", "count", "stddev", "stdvar"}
    | {"topk", "bottomk", "approx_topk", "sort", "sort_desc"}
)
ARITHMETIC_OPS = frozenset({"+", "-", "*", "/", "%", "^"})
COMPARISON_OPS = frozenset({"==", "!=", ">", ">=", "<", "<="})
SET_OPS = frozenset({"and", "or", "unless"})

_Key = tuple[Hashable, ...]


@dataclass
class StepMatrix:
    """Series x steps samples; NaN = no sample at that step."""

    labels: list[dict[str, str]]
    values: np.ndarray  # (n_series, n_steps) float64

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=np.float64)
        if values.ndim != 2:
            raise ValueError(f"values must be 2-D (series, steps), got shape {values.shape}")
        if values.shape[0] != len(self.labels):
            raise ValueError(f"{len(self.labels)} label sets for {values.shape[0]} rows of values")
        self.values = values

    @property
    def n_steps(self) -> int:
        return int(self.values.shape[1])

    @classmethod
    def empty(cls, n_steps: int) -> StepMatrix:
        """A matrix with no series (what a filter that drops everything returns)."""
        return cls([], np.empty((0, n_steps), dtype=np.float64))

    def drop_empty(self) -> StepMatrix:
        """The series that have at least one sample; Loki returns no series without points."""
        keep = ~np.isnan(self.values).all(axis=1)
        if keep.all():
            return self
        return StepMatrix([lb for lb, k in zip(self.labels, keep) if k], self.values[keep])


def vector_literal(value: float, n_steps: int) -> StepMatrix:
    """`vector(1)`: one series with no labels and `value` at every step (NaN: no samples at all)."""
    return StepMatrix([{}], np.full((1, int(n_steps)), float(value), dtype=np.float64))


# --------------------------------------------------------------------------- label helpers


def _clean(labels: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if v != ""}


def _full_key(labels: dict[str, str]) -> _Key:
    return tuple(sorted((k, v) for k, v in labels.items() if v != ""))


def _group_ids(keys: Sequence[Hashable]) -> tuple[np.ndarray, list[int]]:
    """Dense ids in first-appearance order, and the first row of each group."""
    index: dict[Hashable, int] = {}
    ids = np.empty(len(keys), dtype=np.int64)
    firsts: list[int] = []
    for i, key in enumerate(keys):
        gid = index.get(key)
        if gid is None:
            gid = index[key] = len(firsts)
            firsts.append(i)
        ids[i] = gid
    return ids, firsts


def _group_reduce(ufunc: np.ufunc, ids: np.ndarray, n_groups: int, rows: np.ndarray) -> np.ndarray:
    """ufunc-reduce the rows of each group (ids dense, every group non-empty) -> (n_groups, n_steps)."""
    order = np.argsort(ids, kind="stable")
    starts = np.searchsorted(ids[order], np.arange(n_groups))
    if rows.shape[1] == 0:
        return np.empty((n_groups, 0), dtype=rows.dtype)
    return ufunc.reduceat(rows[order], starts, axis=0)


def _merge_rows(labels: list[dict[str, str]], values: np.ndarray) -> StepMatrix:
    """Build a matrix, merging rows with identical label sets (error if they overlap)."""
    keys = [_full_key(lb) for lb in labels]
    ids, firsts = _group_ids(keys)
    if len(firsts) == len(keys):
        return StepMatrix([_clean(lb) for lb in labels], values)
    present = ~np.isnan(values)
    counts = _group_reduce(np.add, ids, len(firsts), present.astype(np.int64))
    if (counts > 1).any():
        raise ValueError("vector cannot contain metrics with the same labelset")
    merged = _group_reduce(np.fmax, ids, len(firsts), values)
    return StepMatrix([_clean(labels[i]) for i in firsts], merged)


# --------------------------------------------------------------------------- aggregation


def _grouping_key_fn(
    grouping: Sequence[str] | None, without: bool
) -> Callable[[dict[str, str]], tuple[_Key, dict[str, str]]]:
    if without:
        dropped = set(grouping or ()) | {"__name__"}

        def key_without(labels: dict[str, str]) -> tuple[_Key, dict[str, str]]:
            items = tuple(sorted((k, v) for k, v in labels.items() if k not in dropped and v != ""))
            return items, dict(items)

        return key_without
    names = sorted(set(grouping or ()))

    def key_by(labels: dict[str, str]) -> tuple[_Key, dict[str, str]]:
        key = tuple(labels.get(n, "") for n in names)
        return key, {n: v for n, v in zip(names, key) if v != ""}

    return key_by


def _topk_param(param: float | None, op: str) -> int:
    if param is None:
        raise ValueError(f"parameter required for {op}")
    p = float(param)
    if not math.isfinite(p):
        raise ValueError(f"invalid parameter for {op}: {param}")
    return int(p)


def aggregate(
    op: str,
    m: StepMatrix,
    grouping: list[str] | None,
    without: bool,
    param: float | None = None,
) -> StepMatrix:
    """Vector aggregation `op [by|without (grouping)] ([param,] m)`, per step.

    Groups: `by` keeps only the listed labels, `without` drops them (and `__name__`); with
    `grouping` None (or `by ()`) everything aggregates into one series with no labels. Only the
    samples present at a step take part; a group with none at a step has no point there, and
    series/groups with no point at all are not returned. Output groups keep the order in which
    they first appear in `m`.

    * sum, count, min, max (NaN-skipping, as Loki's `value < s.F || IsNaN(value)`);
    * avg = sum / count (Loki uses an incremental mean: equal up to rounding);
    * stddev, stdvar: population, computed two-pass (Loki: Welford; equal up to rounding);
    * topk/bottomk: per step and group, the k largest/smallest present samples keep their
      original series and labels. k = int(param); k < 1 returns nothing (Loki). Ties prefer the
      earlier series (Loki's heap keeps the incumbent on equality).
    * sort/sort_desc: series unchanged, reordered within each group (groups in first-appearance
      order; Loki emits groups in map order) by their *last* present value, stable on ties. For
      an instant query (one step) that is Loki's order; for range queries Loki orders the matrix
      by labels anyway, so the order is only a presentation choice.
    """
    if op not in AGGREGATION_OPS:
        raise ValueError(f"unknown aggregation operator {op!r}")
    if op == "approx_topk":  # Loki estimates with a count-min sketch; the exact answer is allowed
        op = "topk"
    n_steps = m.n_steps
    if not m.labels:
        return StepMatrix.empty(n_steps)
    key_fn = _grouping_key_fn(grouping, without)
    keyed = [key_fn(lb) for lb in m.labels]
    ids, firsts = _group_ids([k for k, _ in keyed])
    n_groups = len(firsts)
    vals = m.values
    present = ~np.isnan(vals)

    if op in ("topk", "bottomk"):
        k = _topk_param(param, op)
        if k < 1:
            return StepMatrix.empty(n_steps)
        sort_key = np.where(present, -vals if op == "topk" else vals, 0.0)
        gid = np.broadcast_to(ids[:, None], vals.shape)
        # lexsort: last key is primary -> by group, then present first, then value, then row index.
        order = np.lexsort((sort_key, ~present, gid), axis=0)
        group_start = np.concatenate(([0], np.cumsum(np.bincount(ids, minlength=n_groups))[:-1]))
        rank = np.empty_like(order)
        positions = np.broadcast_to(np.arange(vals.shape[0])[:, None], vals.shape)
        np.put_along_axis(
            rank, order, positions - group_start[np.take_along_axis(gid, order, axis=0)], axis=0
        )
        keep = present & (rank < k)
        out = np.where(keep, vals, np.nan)
        return StepMatrix([dict(lb) for lb in m.labels], out).drop_empty()

    if op in ("sort", "sort_desc"):
        if n_steps == 0:
            return StepMatrix.empty(0)
        has_any = present.any(axis=1)
        last_idx = n_steps - 1 - np.argmax(present[:, ::-1], axis=1)
        last = np.where(has_any, vals[np.arange(len(ids)), last_idx], 0.0)
        sort_key = -last if op == "sort_desc" else last
        order = np.lexsort((sort_key, ~has_any, ids))
        order = order[has_any[order]]
        return StepMatrix([dict(m.labels[i]) for i in order], vals[order])

    group_labels = [keyed[i][1] for i in firsts]
    count = _group_reduce(np.add, ids, n_groups, present.astype(np.int64)).astype(np.float64)
    with np.errstate(all="ignore"):
        if op == "count":
            out = count
        elif op == "min":
            out = _group_reduce(np.fmin, ids, n_groups, vals)
        elif op == "max":
            out = _group_reduce(np.fmax, ids, n_groups, vals)
        else:
            zeroed = np.where(present, vals, 0.0)
            total = _group_reduce(np.add, ids, n_groups, zeroed)
            if op == "sum":
                out = total
            elif op == "avg":
                out = total / count
            else:  # stddev, stdvar: corrected two-pass around the group mean
                mean = total / count
                dev = np.where(present, vals - mean[ids], 0.0)
                s1 = _group_reduce(np.add, ids, n_groups, dev)
                s2 = _group_reduce(np.add, ids, n_groups, dev * dev)
                var = np.maximum(s2 - s1 * s1 / count, 0.0) / count
                out = np.sqrt(var) if op == "stddev" else var
    out = np.where(count > 0, out, np.nan)
    return StepMatrix(group_labels, out).drop_empty()


# --------------------------------------------------------------------------- binary operations


def _arith(op: str, a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """Loki's MergeBinOp arithmetic: x/0 and x%0 are NaN (not ±Inf as in Go/Prometheus)."""
    with np.errstate(all="ignore"):
        if op == "+":
            return np.add(a, b)
        if op == "-":
            return np.subtract(a, b)
        if op == "*":
            return np.multiply(a, b)
        if op == "/":
            return np.where(np.equal(b, 0), np.nan, np.divide(a, b))
        if op == "%":
            return np.where(np.equal(b, 0), np.nan, np.fmod(a, b))  # Go math.Mod: sign of dividend
        if op == "^":
            return np.power(a, b)  # C pow == Go math.Pow on every special case
    raise ValueError(f"unknown arithmetic operator {op!r}")


def _compare(op: str, a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    with np.errstate(all="ignore"):
        if op == "==":
            return np.equal(a, b)
        if op == "!=":
            return np.not_equal(a, b)
        if op == ">":
            return np.greater(a, b)
        if op == ">=":
            return np.greater_equal(a, b)
        if op == "<":
            return np.less(a, b)
        if op == "<=":
            return np.less_equal(a, b)
    raise ValueError(f"unknown comparison operator {op!r}")


def _signature_fn(on: list[str] | None, ignoring: list[str] | None) -> Callable[[dict[str, str]], _Key]:
    if on is not None:
        names = sorted(set(on))
        return lambda labels: tuple(labels.get(n, "") for n in names)
    ignored = set(ignoring or ())
    return lambda labels: tuple(sorted((k, v) for k, v in labels.items() if k not in ignored and v != ""))


def _result_labels(
    many: dict[str, str],
    one: dict[str, str],
    card: str,
    on: list[str] | None,
    ignoring: list[str] | None,
    include: list[str],
) -> dict[str, str]:
    """Loki/Prometheus `resultMetric`: one-to-one keeps `on` labels / drops `ignoring` ones;
    group_x keeps all labels of the "many" side and copies `include` labels from the "one" side
    (removing them when the one side lacks them)."""
    out = _clean(many)
    if card == "one-to-one":
        if on is not None:
            keep = set(on)
            out = {k: v for k, v in out.items() if k in keep}
        elif ignoring is not None:
            for name in ignoring:
                out.pop(name, None)
    for name in include:
        value = one.get(name, "")
        if value:
            out[name] = value
        else:
            out.pop(name, None)
    return out


def _scalar_scalar(op: str, a: float, b: float) -> float:
    if op in ARITHMETIC_OPS:
        return float(_arith(op, a, b))
    # Loki folds literal-only binops at parse time with filter=false: comparisons give 0/1, with
    # or without `bool` (Prometheus would demand `bool`).
    return 1.0 if bool(_compare(op, a, b)) else 0.0


def _scalar_vector(
    op: str, vec: StepMatrix, scalar: float, scalar_left: bool, return_bool: bool
) -> StepMatrix:
    vals = vec.values
    present = ~np.isnan(vals)
    a, b = (scalar, vals) if scalar_left else (vals, scalar)
    if op in ARITHMETIC_OPS:
        out = np.where(present, _arith(op, a, b), np.nan)
    else:
        cond = _compare(op, a, b)
        if return_bool:
            out = np.where(present, cond.astype(np.float64), np.nan)
        else:  # the vector's own value survives, whichever side it is on (grafana/loki#10741)
            out = np.where(present & cond, vals, np.nan)
    return StepMatrix([dict(lb) for lb in vec.labels], out).drop_empty()


def _presence_by_sig(sig_ids: np.ndarray, n_sigs: int, present: np.ndarray) -> np.ndarray:
    """(n_sigs, n_steps) number of present rows per signature and step."""
    counts = np.zeros((n_sigs, present.shape[1]), dtype=np.int64)
    if len(sig_ids):
        used = np.unique(sig_ids)
        counts[used] = _group_reduce(
            np.add, np.searchsorted(used, sig_ids), len(used), present.astype(np.int64)
        )
    return counts


def _set_op(
    op: str, lhs: StepMatrix, rhs: StepMatrix, on: list[str] | None, ignoring: list[str] | None
) -> StepMatrix:
    sig = _signature_fn(on, ignoring)
    ids, firsts = _group_ids([sig(lb) for lb in lhs.labels] + [sig(lb) for lb in rhs.labels])
    lids, rids = ids[: len(lhs.labels)], ids[len(lhs.labels) :]
    lp = ~np.isnan(lhs.values)
    rp = ~np.isnan(rhs.values)
    n_sigs = len(firsts)
    if op == "or":
        left_has = _presence_by_sig(lids, n_sigs, lp) > 0
        rvals = np.where(rp & ~left_has[rids], rhs.values, np.nan)
        labels = [dict(lb) for lb in lhs.labels] + [dict(lb) for lb in rhs.labels]
        return _merge_rows(labels, np.concatenate((lhs.values, rvals))).drop_empty()
    right_has = _presence_by_sig(rids, n_sigs, rp) > 0
    keep = lp & (right_has[lids] if op == "and" else ~right_has[lids])
    out = np.where(keep, lhs.values, np.nan)
    return StepMatrix([dict(lb) for lb in lhs.labels], out).drop_empty()


def _vector_vector(
    op: str,
    lhs: StepMatrix,
    rhs: StepMatrix,
    return_bool: bool,
    on: list[str] | None,
    ignoring: list[str] | None,
    group_left: list[str] | None,
    group_right: list[str] | None,
    reserve: Callable[[int], None] | None = None,
) -> StepMatrix:
    n_steps = lhs.n_steps
    if group_left is not None:
        card, include, many, one = "many-to-one", list(group_left), lhs, rhs
    elif group_right is not None:
        card, include, many, one = "one-to-many", list(group_right), rhs, lhs
    else:
        card, include, many, one = "one-to-one", [], lhs, rhs
    sig = _signature_fn(on, ignoring)
    many_sigs = [sig(lb) for lb in many.labels]
    one_sigs = [sig(lb) for lb in one.labels]
    mp = ~np.isnan(many.values)
    op_ = ~np.isnan(one.values)

    # The "one" side must be unique per signature at every step (Loki checks each step's rhs).
    one_groups: dict[_Key, list[int]] = {}
    for j, s in enumerate(one_sigs):
        one_groups.setdefault(s, []).append(j)
    for rows in one_groups.values():
        if len(rows) > 1 and (op_[rows].sum(axis=0) > 1).any():
            side = "left" if card == "one-to-many" else "right"
            raise ValueError(
                f"found duplicate series on the {side} hand-side"
                ";many-to-many matching not allowed: matching labels must be unique on one side"
            )

    pair_i: list[int] = []
    pair_j: list[int] = []
    for i, s in enumerate(many_sigs):
        for j in one_groups.get(s, ()):
            pair_i.append(i)
            pair_j.append(j)
    if not pair_i:
        return StepMatrix.empty(n_steps)
    if reserve is not None:
        # Matched pairs can outnumber both sides: six (pairs x steps) arrays are made below.
        reserve(len(pair_i) * n_steps * 8 * 6 + len(pair_i) * 400)
    pi = np.asarray(pair_i, dtype=np.int64)
    pj = np.asarray(pair_j, dtype=np.int64)
    matched = mp[pi] & op_[pj]  # (pairs, steps); Loki's duplicate checks run before filtering
    labels = [
        _result_labels(many.labels[i], one.labels[j], card, on, ignoring, include)
        for i, j in zip(pair_i, pair_j)
    ]

    if card == "one-to-one":
        check_keys: list[Hashable] = [many_sigs[i] for i in pair_i]
        message = (
            "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
        )
    else:
        check_keys = [(many_sigs[i], _full_key(lb)) for i, lb in zip(pair_i, labels)]
        message = "multiple matches for labels: grouping labels must ensure unique matches"
    cids, cfirsts = _group_ids(check_keys)
    if len(cfirsts) < len(check_keys):
        if (_group_reduce(np.add, cids, len(cfirsts), matched.astype(np.int64)) > 1).any():
            raise ValueError(message)

    mv = many.values[pi]
    ov = one.values[pj]
    left, right = (ov, mv) if card == "one-to-many" else (mv, ov)  # swap back to source order
    if op in ARITHMETIC_OPS:
        res = _arith(op, left, right)
    else:
        cond = _compare(op, left, right)
        # Filtering keeps the left operand's value (Loki MergeBinOp returns `left`; Prometheus too).
        res = cond.astype(np.float64) if return_bool else np.where(cond, left, np.nan)
    res = np.where(matched, res, np.nan)
    return _merge_rows(labels, res).drop_empty()


def binary_op(
    op: str,
    lhs: StepMatrix | float,
    rhs: StepMatrix | float,
    *,
    return_bool: bool = False,
    on: list[str] | None = None,
    ignoring: list[str] | None = None,
    group_left: list[str] | None = None,
    group_right: list[str] | None = None,
    reserve: Callable[[int], None] | None = None,
) -> StepMatrix | float:
    """`lhs op rhs` with Loki's semantics, per step.

    * Arithmetic `+ - * / % ^`. Division and modulo by zero give NaN, as Loki's MergeBinOp
      guards them (Prometheus/Go would give ±Inf) -- and NaN means "no point" in a StepMatrix.
      `%` is Go's math.Mod (sign of the dividend), `^` is math.Pow.
    * Comparisons `== != > >= < <=` filter: the *left operand's* value is kept where true (for
      scalar-vector, the vector's value on either side); with `return_bool` every matched sample
      becomes 0/1. Scalar-scalar comparisons always give 0/1 (Loki folds them with filter off).
    * Set operators `and or unless` between vectors only, matching on signatures per step; `or`
      adds the rhs samples whose signature has no lhs sample at that step.
    * Vector matching: signature = all labels, or only `on(...)`, or all but `ignoring(...)`.
      One-to-one by default; `group_left`/`group_right` make the lhs/rhs the "many" side, whose
      labels the result keeps, copying the listed labels from the "one" side. Errors are raised
      as ValueError with Loki's messages: duplicate series on the "one" side (checked at every
      step), several "many" samples matching one-to-one ("multiple matches for labels:
      many-to-one matching must be explicit (group_left/group_right)"), or duplicate result label
      sets under group_x. As in Loki, these checks run before comparison filtering (Prometheus
      checks the one-to-one case after it).
    * Matching modifiers are ignored when an operand is a scalar (they only apply to two vectors).

    Scalar op scalar returns a float; anything with a vector returns a StepMatrix holding only
    series that still have samples. `reserve(nbytes)` is called before the (pairs x steps)
    arrays of vector matching are made, so a query's memory budget can refuse them (it raises).
    """
    if op not in ARITHMETIC_OPS and op not in COMPARISON_OPS and op not in SET_OPS:
        raise ValueError(f"unknown binary operator {op!r}")
    if return_bool and op not in COMPARISON_OPS:
        raise ValueError("bool modifier can only be used on comparison operators")
    if on is not None and ignoring is not None:
        raise ValueError("on and ignoring are mutually exclusive")
    if group_left is not None and group_right is not None:
        raise ValueError("group_left and group_right are mutually exclusive")
    lhs_vec = isinstance(lhs, StepMatrix)
    rhs_vec = isinstance(rhs, StepMatrix)
    if op in SET_OPS:
        if not lhs_vec:
            raise ValueError(f"unexpected literal for left leg of logical/set binary operation ({op}): {lhs}")
        if not rhs_vec:
            raise ValueError(
                f"unexpected literal for right leg of logical/set binary operation ({op}): {rhs}"
            )
        if group_left is not None or group_right is not None:
            raise ValueError(f'no grouping allowed for "{op}" operation')
    if not lhs_vec and not rhs_vec:
        return _scalar_scalar(op, float(lhs), float(rhs))  # type: ignore[arg-type]
    if not lhs_vec:
        assert isinstance(rhs, StepMatrix)
        return _scalar_vector(op, rhs, float(lhs), True, return_bool)  # type: ignore[arg-type]
    if not rhs_vec:
        assert isinstance(lhs, StepMatrix)
        return _scalar_vector(op, lhs, float(rhs), False, return_bool)  # type: ignore[arg-type]
    assert isinstance(lhs, StepMatrix) and isinstance(rhs, StepMatrix)
    if lhs.n_steps != rhs.n_steps:
        raise ValueError(f"step count mismatch: {lhs.n_steps} vs {rhs.n_steps}")
    if op in SET_OPS:
        return _set_op(op, lhs, rhs, on, ignoring)
    return _vector_vector(op, lhs, rhs, return_bool, on, ignoring, group_left, group_right, reserve)


# --------------------------------------------------------------------------- label_replace


def _is_name_char(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat.startswith("L") or cat == "Nd" or ch == "_"


def _extract(template: str) -> tuple[str, int, int] | None:
    """Go regexp's `extract`: the name after `$` as (name, number or -1, chars consumed)."""
    if not template:
        return None
    brace = template[0] == "{"
    i = 1 if brace else 0
    start = i
    while i < len(template) and _is_name_char(template[i]):
        i += 1
    if i == start:
        return None
    name = template[start:i]
    if brace:
        if i >= len(template) or template[i] != "}":
            return None
        i += 1
    num = 0
    for ch in name:
        if not ("0" <= ch <= "9") or num >= 100_000_000:
            num = -1
            break
        num = num * 10 + ord(ch) - ord("0")
    if name[0] == "0" and len(name) > 1:
        num = -1
    return name, num, i


def _go_expand(template: str, match: re.Match[str]) -> str:
    """Go's `Regexp.ExpandString`: $1, ${1}, $name, ${name}, $$; unknown groups expand to ""."""
    out: list[str] = []
    i = 0
    while True:
        j = template.find("$", i)
        if j < 0:
            out.append(template[i:])
            break
        out.append(template[i:j])
        rest = template[j + 1 :]
        if rest.startswith("$"):
            out.append("$")
            i = j + 2
            continue
        found = _extract(rest)
        if found is None:  # malformed: the $ is literal text
            out.append("$")
            i = j + 1
            continue
        name, num, used = found
        i = j + 1 + used
        group: str | None = None
        if num >= 0:
            if num <= match.re.groups:
                group = match.group(num)
        else:
            idx = match.re.groupindex.get(name)
            if idx is not None:
                group = match.group(idx)
        if group:
            out.append(group)
    return "".join(out)


def label_replace(m: StepMatrix, dst: str, replacement: str, src: str, regex: str) -> StepMatrix:
    """`label_replace(v, dst, replacement, src, regex)` with Prometheus/Loki semantics.

    The regex (Go RE2 syntax, via `heron.logql.syntax.regex`) is fully anchored; if it matches the
    value of `src` (absent = ""), `dst` is set to the expanded replacement ($1, ${1}, $name,
    ${name}, $$ as in Go's Regexp.Expand), and an empty result removes `dst`. Series whose `src`
    does not match are unchanged. As in Loki, `dst` is not validated as a label name (Prometheus
    rejects invalid names). An invalid regex raises ValueError ("invalid regex in label_replace:
    ..."). Series that end up with the same labels are merged (error if they overlap in time).
    """
    from heron.logql.syntax.regex import RegexError, compile_regex

    try:
        pattern = compile_regex("(?:" + regex + ")")
    except RegexError as exc:
        raise ValueError(f"invalid regex in label_replace: {exc}") from None
    cache: dict[str, str | None] = {}
    new_labels: list[dict[str, str]] = []
    for labels in m.labels:
        value = labels.get(src, "")
        if value not in cache:
            match = pattern.fullmatch(value)
            cache[value] = None if match is None else _go_expand(replacement, match)
        res = cache[value]
        if res is None:
            new_labels.append(dict(labels))
            continue
        out = dict(labels)
        out.pop(dst, None)
        if res:
            out[dst] = res
        new_labels.append(out)
    return _merge_rows(new_labels, m.values.copy())
