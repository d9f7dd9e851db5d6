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
    p3 = block.gather(vec.present, False)
    seen = np.cumsum(p3, axis=1)
    return p3 & (seen <= k[None, None, :]), seen - 1


def _topk_block(block: LayoutBlock, vec: Vector, k: np.ndarray, top: bool) -> tuple[np.ndarray, np.ndarray]:
    """Rank a block's samples best first: finite and infinite values by value, then NaN,
    then absent cells, ties in input order; keep the first min(k, n) of each (group, step)."""
    p3 = block.gather(vec.present, False).transpose(0, 2, 1)  # (B, S, W)
    v3 = block.gather(vec.values, 0.0).transpose(0, 2, 1)
    nan = np.isnan(v3)
    category = np.where(p3, np.where(nan, 1, 0), 2)
    value_key = np.where(category == 0, -v3 if top else v3, 0.0)
    width = v3.shape[2]
    rank_key = np.broadcast_to(np.arange(width), v3.shape)
    order = np.lexsort((rank_key, value_key, category), axis=-1)
    place = np.empty_like(order)
    np.put_along_axis(place, order, np.broadcast_to(np.arange(width), order.shape), axis=-1)
    n = p3.sum(axis=2)
    keff = np.minimum(k[None, :], n)
    sel = p3 & (place < keff[:, :, None])
    # Ties across the k-th place: Prometheus' heap decides which of the tied samples stay.
    inner = (keff >= 1) & (keff < n)
    if bool(inner.any()):
        b_idx, s_idx = np.nonzero(inner)
        kth = order[b_idx, s_idx, keff[b_idx, s_idx] - 1]
        nxt = order[b_idx, s_idx, keff[b_idx, s_idx]]
        cat_a = category[b_idx, s_idx, kth]
        cat_b = category[b_idx, s_idx, nxt]
        va = v3[b_idx, s_idx, kth]
        vb = v3[b_idx, s_idx, nxt]
        tied = (cat_a == cat_b) & ((cat_a == 1) | (va == vb))
        for b, s in zip(b_idx[tied].tolist(), s_idx[tied].tolist()):
            cols = np.nonzero(p3[b, s])[0]
            kept = _go_heap_select(v3[b, s, cols].tolist(), int(keff[b, s]), top)
            sel[b, s] = False
            chosen = cols[kept]
            sel[b, s, chosen] = True
            # Keep the best-first order among the chosen, ties by their heap position.
            vals = v3[b, s, chosen]
            cat = np.isnan(vals).astype(np.int64)
            vkey = np.where(cat == 0, -vals if top else vals, 0.0)
            within = np.lexsort((np.arange(len(chosen)), vkey, cat))
            place[b, s, chosen[within]] = np.arange(len(chosen))
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
