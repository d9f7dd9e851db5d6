"""PromQL's functions, by name: `FUNCTIONS[name](call, args, ctx) -> Value`.

Each implementation receives its already-evaluated arguments in order (a matrix argument as a
`RangeVector`, a vector as a `Vector`, a scalar as a `Scalar`, a string as a `String`;
optional arguments not written are absent from `args`), the `Call` node (for its position in
annotations, and for `absent`'s matchers), and the `EvalContext`. It returns a value for every
step of `ctx.times` at once. Signatures and type checks live in the parser
(`heron.promql.syntax.functions`); an implementation may trust the argument types.

The tables are split by what the functions read: range functions (windows of raw samples),
instant-vector functions (math, time, labels, sorting), and classic-histogram functions.
"""

from __future__ import annotations

from typing import Callable

from heron.promql.functions.histogram import HISTOGRAM_FUNCTIONS
from heron.promql.functions.instant import INSTANT_FUNCTIONS
from heron.promql.functions.range import RANGE_FUNCTIONS
from heron.promql.syntax.ast import Call
from heron.promql.value import EvalContext, Value

__all__ = ["FUNCTIONS", "FunctionImpl"]

FunctionImpl = Callable[[Call, list[Value], EvalContext], Value]

FUNCTIONS: dict[str, FunctionImpl] = {**RANGE_FUNCTIONS, **INSTANT_FUNCTIONS, **HISTOGRAM_FUNCTIONS}
