"""PromQL aggregation operators over whole step matrices.

`aggregate(node, vec, param, ctx)` evaluates `node.op` with `node.grouping`/`node.without`
over `vec` at every step of `ctx.times` at once; `param` is the evaluated parameter of the
parameterised operators (a `Scalar` for topk/bottomk/quantile/limitk/limit_ratio, a `String`
for count_values) and None otherwise.

Each row's group is computed once (`group_rows`); the reductions then run over the padded
(groups x rank x steps) blocks of `GroupLayout`, so a sum over 10k series and 1k steps is a
handful of numpy calls. Results follow Prometheus' `engine.go` (`aggregation`,
`aggregationCountValues`) bit for bit where its arithmetic is order-dependent: sums and means
use its Kahan (Neumaier) compensation, `avg` switches to an incremental mean where the running
sum would overflow, and `stddev`/`stdvar` use Welford's recurrence in input order. topk,
bottomk, limitk and limit_ratio live in `aggregate_k`.
"""

from __future__ import annotations

import numpy as np

from heron.model import Labels
from heron.promql.aggregate_common import (
    METRIC_NAME,
    GroupLayout,
    expr_pos,
    go_format_f,
    go_format_g,
    go_quote,
    group_rows,
    is_valid_label_name,
    last_step_flags,
)
from heron.promql.aggregate_k import aggregate_k
from heron.promql.syntax.ast import AggregateExpr
from heron.promql.value import EvalContext, ExecutionError, Scalar, String, Value, Vector

__all__ = ["aggregate"]

_K_OPS = frozenset({"topk", "bottomk", "limitk", "limit_ratio"})
_PLAIN_OPS = frozenset({"sum", "avg", "count", "group", "min", "max", "stddev", "stdvar", "quantile"})


def aggregate(node: AggregateExpr, vec: Vector, param: Value | None, ctx: EvalContext) -> Vector:
    """Evaluate one aggregation; raises ExecutionError for Prometheus' execution errors."""
    steps = len(ctx.times)
    op = node.op
    if op == "count_values":
        if not isinstance(param, String):
            raise ExecutionError("count_values needs a string parameter")
        return _count_values(node, vec, param.value, steps)
    params = _param_values(param, steps)
    if op in _K_OPS:
        return aggregate_k(node, vec, params, ctx)
    if op not in _PLAIN_OPS:
        raise ExecutionError(f"unknown aggregation operator {op!r}")
    if op == "quantile":
        _quantile_warnings(node, params, ctx)
    gid, group_labels = group_rows(vec.labels, node.grouping, node.without)
    ngroups = len(group_labels)
    if len(vec) == 0 or ngroups == 0:
        return Vector.empty(steps)
    values, present = _reduce(op, vec.values, vec.present, gid, ngroups, params, ctx)
    keep = present.any(axis=1)
    drop = last_step_flags(gid, ngroups, vec.present, vec.drop_name)
    rows = np.nonzero(keep)[0]
    return Vector(
        [group_labels[i] for i in rows.tolist()],
        values[rows],
        present[rows],
        None if drop is None else drop[rows],
    )


def _param_values(param: Value | None, steps: int) -> np.ndarray:
    """The parameter at every step; Prometheus reads 0 for an absent parameter."""
    if isinstance(param, Scalar):
        values = np.asarray(param.values, dtype=np.float64).reshape(-1)
        return np.broadcast_to(values, (steps,)).copy() if values.size == 1 else values.reshape(steps)
    return np.zeros(steps)


def _quantile_warnings(node: AggregateExpr, q: np.ndarray, ctx: EvalContext) -> None:
    """Prometheus warns once for a NaN φ, once with the largest φ above 1 and once with the
    smallest below 0 over the whole evaluation (`rangeEvalAgg`)."""
    pos = expr_pos(node.param)
    msg = "quantile value should be between 0 and 1, got "
    if bool(np.isnan(q).any()):
        ctx.warn(msg + "NaN", pos)
        return  # Go's math.Max/Min of a NaN is NaN, so neither bound check fires
    if len(q) and float(q.max()) > 1:
        ctx.warn(msg + go_format_g(float(q.max())), pos)
    if len(q) and float(q.min()) < 0:
        ctx.warn(msg + go_format_g(float(q.min())), pos)


def _reduce(
    op: str,
    values: np.ndarray,
    present: np.ndarray,
    gid: np.ndarray,
    ngroups: int,
    params: np.ndarray,
    ctx: EvalContext,
) -> tuple[np.ndarray, np.ndarray]:
    steps = values.shape[1]
    out = np.full((ngroups, steps), np.nan)
    out_present = np.zeros((ngroups, steps), dtype=bool)
    layout = GroupLayout(gid, ngroups)
    for block in layout.blocks:
        ctx.check()
        p3 = block.gather(present, False)
        n = p3.sum(axis=1)
        seen = n > 0
        if op == "count":
            res = n.astype(np.float64)
        elif op == "group":
            res = np.ones(n.shape)
        elif op == "sum":
            res = _kahan_sum(block.gather(np.where(present, values, 0.0), 0.0))
        elif op == "avg":
            res = _avg(block.gather(np.where(present, values, 0.0), 0.0), p3, n)
        elif op in ("min", "max"):
            res = _min_max(op, block.gather(np.where(present, values, np.nan), np.nan))
        elif op in ("stddev", "stdvar"):
            res = _welford(block.gather(values, 0.0), p3, n)
            if op == "stddev":
                res = np.sqrt(res)
        else:
            res = _quantile(block.gather(values, 0.0), p3, n, params)
        out[block.groups] = res
        out_present[block.groups] = seen
    return out, out_present


def _kahan_loop(v3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prometheus' `kahansum.Inc` along the rank axis of (B, W, S): the plain running sum and
    its compensation at the end, each (B, S).

    Neumaier's branch (`(sum - t) + inc` or `(inc - t) + sum`, whichever operand is larger) is
    Fast2Sum, the exact rounding error of one addition; Knuth's branch-free TwoSum computes the
    same exact error, so the compensation comes out bit for bit as Prometheus'. The rank loop is
    sequential by nature (each addition rounds the previous sum); it runs once per rank over
    whole (groups x steps) slices, which numpy does far faster than `cumsum` along an axis.
    Padding cells are zeros, which add exactly nothing.
    """
    total = v3[:, 0].copy()
    comp = np.zeros_like(total)
    with np.errstate(invalid="ignore", over="ignore"):
        for k in range(1, v3.shape[1]):
            x = v3[:, k]
            t = total + x
            back = t - total
            comp += (total - (t - back)) + (x - back)
            total = t
    return total, comp


def _kahan_sum(v3: np.ndarray) -> np.ndarray:
    """Compensated sums (B, S). Where the running sum ends non-finite Prometheus has reset the
    compensation to 0 (and an infinite sum never returns to finite), so the plain sum is the
    answer there."""
    total, comp = _kahan_loop(v3)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(total), total + comp, total)


def _avg(v3: np.ndarray, p3: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Prometheus' mean: the Kahan sum divided by the count (sum and compensation separately),
    unless the running sum overflows, from which point it continues as an incremental mean.

    The direct path is exact wherever the running sum stays finite; the cells (group, step)
    where it does not are recomputed with Prometheus' sequential state machine (`_avg_exact`).
    """
    total, comp = _kahan_loop(v3)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        count = np.maximum(n, 1).astype(np.float64)
        res = total / count + comp / count
    bad = ~np.isfinite(total) & (n > 0)
    if bool(bad.any()):
        b_idx, s_idx = np.nonzero(bad)
        x = v3[b_idx, :, s_idx]  # (cells, W)
        p = p3[b_idx, :, s_idx]
        res[b_idx, s_idx] = _avg_exact(x, p)
    return res


def _kahan_inc(inc: np.ndarray, total: np.ndarray, comp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`kahansum.Inc` elementwise."""
    t = total + inc
    new_c = np.where(
        np.isinf(t),
        0.0,
        np.where(np.abs(total) >= np.abs(inc), comp + ((total - t) + inc), comp + ((inc - t) + total)),
    )
    return t, new_c


def _avg_exact(x: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Prometheus' `avg` state machine for (cells, ranks), vectorised over cells.

    Inherently sequential in the rank (the switch to an incremental mean depends on the running
    sum), so this loops over ranks; it runs only for the few cells whose sum overflowed.
    """
    cells = x.shape[0]
    seen = np.zeros(cells, dtype=bool)
    incremental = np.zeros(cells, dtype=bool)
    count = np.zeros(cells)
    total = np.zeros(cells)
    comp = np.zeros(cells)
    mean = np.zeros(cells)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        for k in range(x.shape[1]):
            f = x[:, k]
            pk = p[:, k]
            init = pk & ~seen
            upd = pk & seen
            total = np.where(init, f, total)
            mean = np.where(init, f, mean)
            comp = np.where(init, 0.0, comp)
            count = np.where(init, 1.0, count)
            seen |= init
            count = np.where(upd, count + 1, count)
            direct = upd & ~incremental
            new_v, new_c = _kahan_inc(f, total, comp)
            ok = direct & ~np.isinf(new_v)
            total = np.where(ok, new_v, total)
            comp = np.where(ok, new_c, comp)
            switch = direct & np.isinf(new_v)
            mean = np.where(switch, total / (count - 1), mean)
            comp = np.where(switch, comp / (count - 1), comp)
            incremental |= switch
            step = upd & incremental
            q = (count - 1) / count
            m2, c2 = _kahan_inc(f / count, q * mean, q * comp)
            mean = np.where(step, m2, mean)
            comp = np.where(step, c2, comp)
        return np.where(incremental, mean + comp, total / count + comp / count)


def _min_max(op: str, v3: np.ndarray) -> np.ndarray:
    """Prometheus replaces a NaN running value by any later sample, so NaN wins only when all
    samples are NaN: numpy's fmin/fmax."""
    with np.errstate(invalid="ignore"):
        if op == "max":
            return np.fmax.reduce(v3, axis=1)
        return np.fmin.reduce(v3, axis=1)


def _welford(v3: np.ndarray, p3: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Population variance by Welford's recurrence, in input order, as Prometheus computes it
    (so identical inputs give exactly 0). Sequential in the rank; vectorised over the block's
    groups and steps. A first sample that is NaN or ±Inf makes the result NaN."""
    shape = (v3.shape[0], v3.shape[2])
    seen = np.zeros(shape, dtype=bool)
    count = np.zeros(shape)
    mean = np.zeros(shape)
    acc = np.zeros(shape)
    with np.errstate(invalid="ignore", over="ignore"):
        for k in range(v3.shape[1]):
            f = v3[:, k]
            pk = p3[:, k]
            init = pk & ~seen
            upd = pk & seen
            mean = np.where(init, f, mean)
            acc = np.where(init, np.where(np.isfinite(f), 0.0, np.nan), acc)
            count = np.where(init, 1.0, count)
            seen |= init
            count = np.where(upd, count + 1, count)
            delta = f - mean
            new_mean = mean + delta / np.maximum(count, 1)
            acc = np.where(upd, acc + delta * (f - new_mean), acc)
            mean = np.where(upd, new_mean, mean)
        return acc / np.maximum(n, 1)


def _quantile(v3: np.ndarray, p3: np.ndarray, n: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Prometheus' `quantile`: sort (NaN lowest), then interpolate between the two samples
    around rank φ·(n-1); φ < 0 gives -Inf, φ > 1 +Inf, NaN φ NaN."""
    nan = np.isnan(v3) & p3
    key = np.where(p3, np.where(nan, -np.inf, v3), np.inf)
    ordered = np.sort(np.ascontiguousarray(key.transpose(0, 2, 1)), axis=2).transpose(0, 2, 1)
    nnan = nan.sum(axis=1)
    rank_idx = np.arange(v3.shape[1])[None, :, None]
    ordered = np.where(rank_idx < nnan[:, None, :], np.nan, ordered)
    qq = np.broadcast_to(q[None, :], n.shape)
    with np.errstate(invalid="ignore"):
        rank = qq * (n - 1)
        lower = np.maximum(0.0, np.floor(rank))
        upper = np.minimum(n - 1.0, lower + 1)
        weight = rank - np.floor(rank)
        li = np.clip(np.nan_to_num(lower), 0, v3.shape[1] - 1).astype(np.int64)
        ui = np.clip(np.nan_to_num(upper), 0, v3.shape[1] - 1).astype(np.int64)
        lo = np.take_along_axis(ordered, li[:, None, :], axis=1)[:, 0, :]
        hi = np.take_along_axis(ordered, ui[:, None, :], axis=1)[:, 0, :]
        res = lo * (1 - weight) + hi * weight
    res = np.where(np.isnan(qq), np.nan, res)
    res = np.where(qq < 0, -np.inf, res)
    return np.where(qq > 1, np.inf, res)


def _count_values(node: AggregateExpr, vec: Vector, label: str, steps: int) -> Vector:
    """`count_values("l", v)`: one output series per group and distinct value, the value
    spelled as Go's `FormatFloat(v, 'f', -1, 64)` in label `l`.

    With `by`, `l` joins the grouping labels; with `without`, the value is set before the
    listed labels and `__name__` are removed (so `without (l)` removes it again), exactly as
    Prometheus builds the output labels.
    """
    if not is_valid_label_name(label):
        raise ExecutionError(f"invalid label name {go_quote(label)}")
    if len(vec) == 0:
        return Vector.empty(steps)
    # Distinct values by bit pattern, so -0 and 0 stay apart; every NaN spells "NaN".
    cells = vec.present
    bits = np.ascontiguousarray(vec.values).view(np.uint64)
    cell_bits = bits[cells]
    uniq = np.unique(cell_bits)
    inverse = np.searchsorted(uniq, cell_bits)
    spellings = [go_format_f(v) for v in uniq.view(np.float64).tolist()]
    text_index: dict[str, int] = {}
    text_of_uniq = np.array([text_index.setdefault(s, len(text_index)) for s in spellings], dtype=np.int64)
    texts = list(text_index)
    # Per row: the grouping labels without the value label, and whether the value label stays.
    if node.without:
        drop = set(node.grouping) | {METRIC_NAME}
        keeps_value = label not in drop
    else:
        keep = set(node.grouping) | {label}
        keeps_value = True
    base_index: dict[Labels, int] = {}
    base_of_row = np.empty(len(vec), dtype=np.int64)
    for i, ls in enumerate(vec.labels):
        if node.without:
            key = tuple(p for p in ls if p[0] not in drop and p[0] != label)
        else:
            key = tuple(p for p in ls if p[0] in keep and p[0] != label)
        base_of_row[i] = base_index.setdefault(key, len(base_index))
    bases = list(base_index)
    rows, cols = np.nonzero(cells)
    value_id = text_of_uniq[inverse] if keeps_value else np.zeros(len(rows), dtype=np.int64)
    width = max(len(texts), 1)
    series_code = base_of_row[rows] * width + value_id
    # Output series in code order (Prometheus' own order is a map's); counts by bincount.
    space = len(bases) * width
    if space * steps <= 4 * max(len(rows), 1 << 20):  # dense: count over every possible code
        dense = np.bincount(series_code * steps + cols, minlength=space * steps).reshape(space, steps)
        codes = np.nonzero(dense.any(axis=1))[0]
        counts = dense[codes].astype(np.float64)
    else:
        codes, series_of_cell = np.unique(series_code, return_inverse=True)
        counts = np.bincount(series_of_cell * steps + cols, minlength=len(codes) * steps)
        counts = counts.reshape(len(codes), steps).astype(np.float64)
    out_labels: list[Labels] = []
    for code in codes.tolist():
        base = bases[code // width]
        if keeps_value:
            base = tuple(sorted(base + ((label, texts[code % width]),)))
        out_labels.append(base)
    return Vector(out_labels, counts, counts > 0)
