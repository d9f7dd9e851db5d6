"""topk, bottomk, limitk and limit_ratio: aggregations that keep input series as they are
(labels, pending `__name__` removal and all) and only choose which samples survive each step.

Prometheus (`engine.go` `aggregationK`) feeds each group's samples, in input order, through a
k-element heap: topk keeps the largest (NaN counts as smaller than anything), bottomk the
smallest (NaN larger than anything), limitk the first k, and limit_ratio the series whose
label hash over 2^64 falls within the ratio. Heron ranks every (group, step) at once with one
`lexsort` over the padded group blocks. Only where samples tie at the k-th place does the
heap's own order decide which of the tied series wins; those few cells are replayed through
a copy of Go's `container/heap` so the same series win as in Prometheus.
"""

from __future__ import annotations

import math

import numpy as np

from heron.promql.aggregate_common import GroupLayout, LayoutBlock, expr_pos, go_format_g, group_rows
from heron.promql.labelhash import labels_hash
from heron.promql.syntax.ast import AggregateExpr
from heron.promql.value import EvalContext, ExecutionError, Vector

__all__ = ["aggregate_k"]

_INT64_LIMIT = 9223372036854775808.0  # 2^63: float64(math.MaxInt64) and -float64(math.MinInt64)
_TWO_64 = 18446744073709551616.0  # float64(math.MaxUint64)


def aggregate_k(node: AggregateExpr, vec: Vector, params: np.ndarray, ctx: EvalContext) -> Vector:
    """Evaluate topk/bottomk/limitk/limit_ratio; `params` is k (or the ratio) at every step."""
    steps = len(ctx.times)
    if not _check_params(node, params, ctx):
        return Vector.empty(steps)
    if len(vec) == 0:
        return Vector.empty(steps)
    gid, group_labels = group_rows(vec.labels, node.grouping, node.without)
    if node.op == "limit_ratio":
        selected = _limit_ratio(vec, params)
        rank = np.zeros(vec.present.shape, dtype=np.int64)
    else:
        with np.errstate(invalid="ignore"):
            k = np.minimum(np.trunc(params), float(len(vec))).astype(np.int64)
        selected, rank = _select(node.op, vec, gid, len(group_labels), k, ctx)
    rows = np.nonzero(selected.any(axis=1))[0]
    if steps == 1 and len(rows):
        # An instant query keeps Prometheus' order: groups as they first appear, each group's
        # series best first (topk descending, bottomk ascending, limitk in input order).
        rows = rows[np.lexsort((rank[rows, 0], gid[rows]))]
    drop = None if vec.drop_name is None else vec.drop_name[rows]
    return Vector([vec.labels[i] for i in rows.tolist()], vec.values[rows], selected[rows], drop)


def _check_params(node: AggregateExpr, params: np.ndarray, ctx: EvalContext) -> bool:
    """Prometheus' checks over the whole evaluation (`rangeEvalAgg`); False means an empty
    result. Go's math.Max/Min propagate NaN, so a NaN anywhere defeats the early returns."""
    has_nan = bool(np.isnan(params).any())
    hi = math.nan if has_nan else float(params.max())
    lo = math.nan if has_nan else float(params.min())
    if node.op == "limit_ratio":
        if hi == 0 and lo == 0:
            return False
        if has_nan:
            raise ExecutionError("Ratio value is NaN")
        pos = expr_pos(node.param)
        if hi > 1.0:
            ctx.warn(f"ratio value should be between -1 and 1, got {go_format_g(hi)}, capping to 1", pos)
        if lo < -1.0:
            ctx.warn(f"ratio value should be between -1 and 1, got {go_format_g(lo)}, capping to -1", pos)
        return True
    if hi < 1:
        return False
    if has_nan:
        raise ExecutionError("Parameter value is NaN")
    if lo <= -_INT64_LIMIT:
        raise ExecutionError(f"Scalar value {go_format_g(lo)} underflows int64")
    if hi >= _INT64_LIMIT:
        raise ExecutionError(f"Scalar value {go_format_g(hi)} overflows int64")
    return True


def _limit_ratio(vec: Vector, params: np.ndarray) -> np.ndarray:
    """A series is kept at a step when its offset hash/2^64 is below r (r >= 0) or at least
    1 + r (r < 0); r is capped to [-1, 1] and r == 0 keeps nothing."""
    offsets = np.array([float(labels_hash(ls)) / _TWO_64 for ls in vec.labels])
    r = np.clip(params, -1.0, 1.0)[None, :]
    off = offsets[:, None]
    keep = ((r >= 0) & (off < r)) | ((r < 0) & (off >= 1.0 + r))
    return vec.present & keep & (params != 0)[None, :]


def _select(
    op: str, vec: Vector, gid: np.ndarray, ngroups: int, k: np.ndarray, ctx: EvalContext
) -> tuple[np.ndarray, np.ndarray]:
    """Selected cells (rows x steps) and each selected cell's place within its group."""
    shape = vec.present.shape
    selected = np.zeros(shape, dtype=bool)
    place = np.zeros(shape, dtype=np.int64)
    layout = GroupLayout(gid, ngroups)
    for block in layout.blocks:
        ctx.check()
        if op == "limitk":
            sel3, place3 = _limitk_block(block, vec, k)
        else:
            sel3, place3 = _topk_block(block, vec, k, top=op == "topk")
        valid = block.valid
        rows = block.rows[valid]
        selected[rows] = sel3[valid]
        place[rows] = place3[valid]
    return selected, place


def _limitk_block(block: LayoutBlock, vec: Vector, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first k present samples of each (group, step), in input order."""
    p3 = block.gather(vec.present, False)
    sel = np.zeros(p3.shape, dtype=bool)
    place = np.zeros(p3.shape, dtype=np.int64)
    seen = np.zeros((p3.shape[0], p3.shape[2]), dtype=np.int64)
    for j in range(p3.shape[1]):
        seen += p3[:, j]
        sel[:, j] = p3[:, j] & (seen <= k[None, :])
        place[:, j] = seen - 1
    return sel, place


_ABSENT = np.uint64(0xFFFFFFFFFFFFFFFF)
_NAN_KEY = np.uint64(0xFFFFFFFFFFFFFFFE)
_SIGN = np.uint64(1 << 63)


def _order_keys(values: np.ndarray, present: np.ndarray, top: bool) -> np.ndarray:
    """uint64 keys whose ascending order is best first: values (descending for topk, with
    -0 == 0), then NaN, then absent cells; equal values get equal keys."""
    v = -values if top else values.copy()
    v += 0.0  # -0 becomes +0, so the two compare equal as in Go
    bits = v.view(np.uint64)
    flip = (bits >> np.uint64(63)) * np.uint64(0x7FFFFFFFFFFFFFFF)
    flip |= _SIGN
    keys = bits ^ flip  # negative floats reversed, positive ones above them
    np.putmask(keys, np.isnan(values), _NAN_KEY)
    np.putmask(keys, ~present, _ABSENT)
    return keys


def _topk_block(block: LayoutBlock, vec: Vector, k: np.ndarray, top: bool) -> tuple[np.ndarray, np.ndarray]:
    """Keep the best min(k, n) samples of each (group, step).

    One `np.partition` per distinct k finds each cell's k-th best key; every sample better or
    equal is kept unless the (k+1)-th ties with it, in which case Prometheus' heap decides and
    the cell is replayed (`_go_heap_select`). The place within the group (for an instant
    query's order) is the rank by key, ties in input order.
    """
    p3 = block.gather(vec.present, False)
    v3 = block.gather(vec.values, 0.0)
    keys = np.ascontiguousarray(_order_keys(v3, p3, top).transpose(0, 2, 1))  # (B, S, W)
    width = keys.shape[2]
    sel = np.zeros(keys.shape, dtype=bool)
    kk_all = np.minimum(k, width)
    for kk in np.unique(kk_all).tolist():
        if kk < 1:
            continue
        cols = np.nonzero(kk_all == kk)[0]
        sub = keys[:, cols]
        if kk >= width:
            sel[:, cols] = sub != _ABSENT
            continue
        part = np.partition(sub, [kk - 1, kk], axis=-1)
        kth = part[..., kk - 1]
        nxt = part[..., kk]
        chosen = (sub <= kth[..., None]) & (sub != _ABSENT)
        tied = (kth == nxt) & (kth != _ABSENT)
        for b, c in zip(*(x.tolist() for x in np.nonzero(tied))):
            s_col = int(cols[c])
            where = np.nonzero(p3[b, :, s_col])[0]
            kept = _go_heap_select(v3[b, where, s_col].tolist(), kk, top)
            chosen[b, c] = False
            chosen[b, c, where[kept]] = True
        sel[:, cols] = chosen
    place = np.zeros(keys.shape, dtype=np.int64)
    if keys.shape[1] == 1:  # only an instant query's output order needs the ranks
        order = np.argsort(keys, axis=-1, kind="stable")
        np.put_along_axis(place, order, np.broadcast_to(np.arange(width), order.shape), axis=-1)
    return sel.transpose(0, 2, 1), place.transpose(0, 2, 1)


def _go_heap_select(vals: list[float], k: int, top: bool) -> list[int]:
    """Replay Prometheus' topk/bottomk heap (Go's `container/heap` over `vectorByValueHeap` or
    `vectorByReverseValueHeap`) on one group's samples at one step; returns the positions kept,
    in heap order. Sequential by nature, and only used for cells with ties at the k-th place."""

    def less(a: float, b: float) -> bool:
        if a != a:
            return True
        return a < b if top else a > b

    heap: list[int] = []

    def up(j: int) -> None:
        while j > 0:
            i = (j - 1) // 2
            if not less(vals[heap[j]], vals[heap[i]]):
                break
            heap[i], heap[j] = heap[j], heap[i]
            j = i

    def down(i0: int) -> bool:
        i, n = i0, len(heap)
        while True:
            j1 = 2 * i + 1
            if j1 >= n:
                break
            j = j1
            if j1 + 1 < n and less(vals[heap[j1 + 1]], vals[heap[j1]]):
                j = j1 + 1
            if not less(vals[heap[j]], vals[heap[i]]):
                break
            heap[i], heap[j] = heap[j], heap[i]
            i = j
        return i > i0

    for idx, v in enumerate(vals):
        if len(heap) < k:
            heap.append(idx)
            up(len(heap) - 1)
            continue
        t = vals[heap[0]]
        better = (t < v) if top else (t > v)
        if better or (t != t and v == v):
            heap[0] = idx
            if k > 1 and not down(0):
                up(0)
    return heap
