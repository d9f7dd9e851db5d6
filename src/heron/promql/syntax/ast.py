"""The PromQL abstract syntax tree: frozen dataclasses, one per node kind of Prometheus'
`promql/parser/ast.go`.

Every node carries `pos`, the character range of its text in the query (excluded from
equality, so trees parsed from differently spaced text compare equal). `type` is the value
type the node evaluates to, as Prometheus' `Expr.Type()` defines it.

Durations and timestamps are integer milliseconds (PromQL's resolution). Duration arithmetic
(`offset (1h + 5m)`, `[5m * 2]`) is folded to constants by the parser, so the evaluator only
ever sees numbers. `str(node)` is `heron.promql.syntax.format_expr(node)`, Prometheus'
canonical single-line spelling.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TypeAlias

from heron.model import Matcher
from heron.promql.syntax.errors import PosRange

__all__ = [
    "ValueType",
    "Expr",
    "NumberLiteral",
    "StringLiteral",
    "AtModifier",
    "VectorSelector",
    "MatrixSelector",
    "SubqueryExpr",
    "ParenExpr",
    "UnaryExpr",
    "Cardinality",
    "VectorMatching",
    "BinaryExpr",
    "AggregateExpr",
    "Call",
    "NO_POS",
    "COMPARISON_OPS",
    "SET_OPS",
    "ARITHMETIC_OPS",
    "AGGREGATE_OPS",
    "PARAM_AGGREGATES",
]

NO_POS = PosRange(0, 0)


class ValueType(enum.Enum):
    SCALAR = "scalar"
    VECTOR = "vector"
    MATRIX = "matrix"
    STRING = "string"


ARITHMETIC_OPS = frozenset({"+", "-", "*", "/", "%", "^", "atan2"})
COMPARISON_OPS = frozenset({"==", "!=", ">", "<", ">=", "<="})
SET_OPS = frozenset({"and", "or", "unless"})
AGGREGATE_OPS = frozenset(
    {
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "topk",
        "bottomk",
        "quantile",
        "limitk",
        "limit_ratio",
    }
)
# Aggregations whose first argument is a parameter: `topk(3, x)`, `count_values("v", x)`.
PARAM_AGGREGATES = frozenset({"count_values", "topk", "bottomk", "quantile", "limitk", "limit_ratio"})


@dataclass(frozen=True)
class NumberLiteral:
    value: float
    pos: PosRange = field(default=NO_POS, compare=False)

    @property
    def type(self) -> ValueType:
        return ValueType.SCALAR


@dataclass(frozen=True)
class StringLiteral:
    value: str
    pos: PosRange = field(default=NO_POS, compare=False)

    @property
    def type(self) -> ValueType:
        return ValueType.STRING


@dataclass(frozen=True)
class AtModifier:
    """`@ <t>` (timestamp in ms), `@ start()` or `@ end()` (`start_end` names which)."""

    timestamp_ms: int | None = None
    start_end: str | None = None  # "start" | "end"


@dataclass(frozen=True)
class VectorSelector:
    """`name{matchers} offset d @ t`. `matchers` includes the `__name__` matcher when a name
    was written (as Prometheus' LabelMatchers does); `name` is the written name or ""."""

    name: str
    matchers: tuple[Matcher, ...]
    offset_ms: int = 0
    at: AtModifier | None = None
    pos: PosRange = field(default=NO_POS, compare=False)

    @property
    def type(self) -> ValueType:
        return ValueType.VECTOR


@dataclass(frozen=True)
class MatrixSelector:
    """`selector[range]`; offset and @ live on the inner VectorSelector, as in Prometheus."""

    vector: VectorSelector
    range_ms: int
    pos: PosRange = field(default=NO_POS, compare=False)

    @property
    def type(self) -> ValueType:
        return ValueType.MATRIX


@dataclass(frozen=True)
class SubqueryExpr:
    """`expr[range:step] offset d @ t`; `step_ms` 0 means the default evaluation interval."""

    expr: "Expr"
    range_ms: int
    step_ms: int = 0
    offset_ms: int = 0
    at: AtModifier | None = None
    pos: PosRange = field(default=NO_POS, compare=False)

    @property
    def type(self) -> ValueType:
        return ValueType.MATRIX


@dataclass(frozen=True)
class ParenExpr:
    expr: "Expr"
    pos: PosRange = field(default=NO_POS, compare=False)

    @property
    def type(self) -> ValueType:
        return self.expr.type


@dataclass(frozen=True)
class UnaryExpr:
    op: str  # "-" | "+"
    expr: "Expr"
    pos: PosRange = field(default=NO_POS, compare=False)

    @property
    def type(self) -> ValueType:
        return self.expr.type


class Cardinality(enum.Enum):
    ONE_TO_ONE = "one-to-one"
    MANY_TO_ONE = "many-to-one"  # group_left
    ONE_TO_MANY = "one-to-many"  # group_right
    MANY_TO_MANY = "many-to-many"  # the set operators


@dataclass(frozen=True)
class VectorMatching:
    """`on(...)`/`ignoring(...)` and `group_left(...)`/`group_right(...)` of a binary operation
    between two vectors. `on` is False for `ignoring` (and for no clause, with no labels)."""

    card: Cardinality = Cardinality.ONE_TO_ONE
    matching_labels: tuple[str, ...] = ()
    on: bool = False
    include: tuple[str, ...] = ()  # the labels named in group_left/group_right


@dataclass(frozen=True)
class BinaryExpr:
    """`lhs op rhs`. `matching` is set when both sides are vectors (a default one-to-one
    matching when no clause was written, many-to-many for the set operators)."""

    op: str
    lhs: "Expr"
    rhs: "Expr"
    return_bool: bool = False
    matching: VectorMatching | None = None
    pos: PosRange = field(default=NO_POS, compare=False)

    @property
    def type(self) -> ValueType:
        if self.lhs.type is ValueType.SCALAR and self.rhs.type is ValueType.SCALAR:
            return ValueType.SCALAR
        return ValueType.VECTOR


@dataclass(frozen=True)
class AggregateExpr:
    """`op by|without (grouping) (param, expr)`; `param` is None for the plain aggregations."""

    op: str
    expr: "Expr"
    param: "Expr | None" = None
    grouping: tuple[str, ...] = ()
    without: bool = False
    pos: PosRange = field(default=NO_POS, compare=False)

    @property
    def type(self) -> ValueType:
        return ValueType.VECTOR


@dataclass(frozen=True)
class Call:
    """A function call; `func` is the name (signatures in `heron.promql.syntax.functions`)."""

    func: str
    args: tuple["Expr", ...]
    return_type: ValueType = ValueType.VECTOR
    pos: PosRange = field(default=NO_POS, compare=False)

    @property
    def type(self) -> ValueType:
        return self.return_type


Expr: TypeAlias = (
    NumberLiteral
    | StringLiteral
    | VectorSelector
    | MatrixSelector
    | SubqueryExpr
    | ParenExpr
    | UnaryExpr
    | BinaryExpr
    | AggregateExpr
    | Call
)


def _node_str(self: Expr) -> str:
    """`str(node)` is Prometheus' `String()` (imported lazily: the printer imports this module)."""
    from heron.promql.syntax.printer import format_expr

    return format_expr(self)


for _node_class in (
    NumberLiteral,
    StringLiteral,
    VectorSelector,
    MatrixSelector,
    SubqueryExpr,
    ParenExpr,
    UnaryExpr,
    BinaryExpr,
    AggregateExpr,
    Call,
):
    _node_class.__str__ = _node_str  # type: ignore[method-assign,assignment]
del _node_class
