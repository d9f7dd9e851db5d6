"""PromQL histogram functions (filled in by their owner; see heron.promql.functions)."""

from __future__ import annotations

from typing import Callable

from heron.promql.syntax.ast import Call
from heron.promql.value import EvalContext, Value

__all__ = ["HISTOGRAM_FUNCTIONS"]

HISTOGRAM_FUNCTIONS: dict[str, Callable[[Call, list[Value], EvalContext], Value]] = {}
