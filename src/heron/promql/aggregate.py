"""PromQL aggregation operators over whole step matrices (filled in by their owner).

`aggregate(node, vec, param, ctx)` evaluates `node.op` with `node.grouping`/`node.without`
over `vec` at every step of `ctx.times` at once; `param` is the evaluated parameter of the
parameterised operators (a `Scalar` for topk/bottomk/quantile/limitk/limit_ratio, a `String`
for count_values) and None otherwise.
"""

from __future__ import annotations

from heron.promql.syntax.ast import AggregateExpr
from heron.promql.value import EvalContext, ExecutionError, Value, Vector

__all__ = ["aggregate"]


def aggregate(node: AggregateExpr, vec: Vector, param: Value | None, ctx: EvalContext) -> Vector:
    """Evaluate one aggregation; raises ExecutionError for Prometheus' execution errors."""
    raise ExecutionError(f"aggregation {node.op!r} is not available yet")
