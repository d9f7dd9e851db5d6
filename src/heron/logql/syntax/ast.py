"""The LogQL abstract syntax tree: frozen dataclasses that print back as canonical LogQL.

Two families, as in Loki:

* `LogSelectorExpr` - stream matchers plus pipeline stages; a log query, and the input of
  every range aggregation.
* `SampleExpr` - what a metric query evaluates to: `RangeAggregation`, `VectorAggregation`,
  `BinOpExpr`, `LiteralExpr`, `VectorExpr`, `LabelReplaceExpr`.

Pipeline stages derive from `StageExpr`. The label filter tree (`LabelFilter` and its
subclasses) is a stage too: a `| a="b" or c>1` stage is stored as its root node.

Every node's `str()` is LogQL that parses back to an equal node (`parse_expr(str(e)) == e`),
using Loki's spelling wherever Loki's own printing round-trips. Durations are integer
nanoseconds; byte sizes are integers.

Values are only lightly checked here: the parser enforces Loki's rules, and tests may build
nodes directly. Lists passed for tuple fields are converted to tuples so nodes stay hashable.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, fields
from typing import Any

from heron.logql.syntax.quoting import format_float_f, format_float_v, go_quote
from heron.logql.syntax.units import format_bytes, format_duration_ns, format_prometheus_duration_ns
from heron.model import Matcher

__all__ = [
    "Expr",
    "SampleExpr",
    "StageExpr",
    "LineMatchType",
    "LabelFilterOp",
    "UnwrapConversion",
    "RangeOp",
    "VectorOp",
    "BinOp",
    "Cardinality",
    "LogSelectorExpr",
    "LineFilter",
    "LineFilterOr",
    "LabelExtraction",
    "JSONParser",
    "LogfmtParser",
    "RegexpParser",
    "PatternParser",
    "UnpackParser",
    "LineFormat",
    "LabelFmt",
    "LabelFormat",
    "Drop",
    "Keep",
    "Decolorize",
    "LabelFilter",
    "LabelFilterAnd",
    "LabelFilterOr",
    "StringLabelFilter",
    "NumericLabelFilter",
    "DurationLabelFilter",
    "BytesLabelFilter",
    "IPLabelFilter",
    "Unwrap",
    "LogRange",
    "Grouping",
    "RangeAggregation",
    "VectorAggregation",
    "VectorMatching",
    "BinOpExpr",
    "LiteralExpr",
    "VectorExpr",
    "LabelReplaceExpr",
    "matcher_str",
]


def _tuplify(node: Any) -> None:
    """Turn list-valued fields into tuples (frozen nodes must stay hashable and comparable)."""
    for f in fields(node):
        value = getattr(node, f.name)
        if isinstance(value, list):
            object.__setattr__(node, f.name, tuple(value))


def matcher_str(m: Matcher) -> str:
    """A matcher as LogQL prints it: `name="value"` with Go quoting (Prometheus' form)."""
    return f"{m.name}{m.op.value}{go_quote(m.value)}"


class Expr:
    """Base of every LogQL expression (`parse_expr` returns one)."""

    __slots__ = ()


class SampleExpr(Expr):
    """An expression that evaluates to samples: every metric query."""

    __slots__ = ()


class StageExpr:
    """One step of a log pipeline (`|= "x"`, `| json`, `| a="b"`, ...)."""

    __slots__ = ()


# -- enums --------------------------------------------------------------------------------


class LineMatchType(enum.Enum):
    """Line filter operators. Values are the LogQL spelling."""

    EQ = "|="
    NEQ = "!="
    RE = "|~"
    NRE = "!~"
    PATTERN = "|>"
    NPATTERN = "!>"

    @property
    def negated(self) -> bool:
        """`!=`, `!~`, `!>`: an `or` chain of these means "none of them" (Loki expands it)."""
        return self in (LineMatchType.NEQ, LineMatchType.NRE, LineMatchType.NPATTERN)


class LabelFilterOp(enum.Enum):
    """Comparison of a numeric, duration or bytes label filter (`=` is stored as `==`)."""

    EQ = "=="
    NEQ = "!="
    GT = ">"
    GTE = ">="
    LT = "<"
    LTE = "<="


class UnwrapConversion(enum.Enum):
    """`| unwrap bytes(x)` / `duration(x)` / `duration_seconds(x)` (both durations give seconds)."""

    BYTES = "bytes"
    DURATION = "duration"
    DURATION_SECONDS = "duration_seconds"


class RangeOp(enum.Enum):
    """Range aggregations over a log range (`rate({...}[5m])`)."""

    COUNT_OVER_TIME = "count_over_time"
    RATE = "rate"
    RATE_COUNTER = "rate_counter"
    BYTES_OVER_TIME = "bytes_over_time"
    BYTES_RATE = "bytes_rate"
    AVG_OVER_TIME = "avg_over_time"
    SUM_OVER_TIME = "sum_over_time"
    MIN_OVER_TIME = "min_over_time"
    MAX_OVER_TIME = "max_over_time"
    STDVAR_OVER_TIME = "stdvar_over_time"
    STDDEV_OVER_TIME = "stddev_over_time"
    QUANTILE_OVER_TIME = "quantile_over_time"
    FIRST_OVER_TIME = "first_over_time"
    LAST_OVER_TIME = "last_over_time"
    ABSENT_OVER_TIME = "absent_over_time"


class VectorOp(enum.Enum):
    """Vector aggregations (`sum by (x) (...)`, `topk(5, ...)`)."""

    SUM = "sum"
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    COUNT = "count"
    STDDEV = "stddev"
    STDVAR = "stdvar"
    TOPK = "topk"
    BOTTOMK = "bottomk"
    APPROX_TOPK = "approx_topk"  # evaluated exactly, as topk
    SORT = "sort"
    SORT_DESC = "sort_desc"


class BinOp(enum.Enum):
    """Binary operators between sample expressions. Values are the LogQL spelling."""

    OR = "or"
    AND = "and"
    UNLESS = "unless"
    ADD = "+"
    SUB = "-"
    MUL = "*"
    DIV = "/"
    MOD = "%"
    POW = "^"
    EQ = "=="
    NEQ = "!="
    GT = ">"
    GTE = ">="
    LT = "<"
    LTE = "<="

    @property
    def is_comparison(self) -> bool:
        return self in _COMPARISONS

    @property
    def is_set(self) -> bool:
        """`and`, `or`, `unless`: set operations, which reject literal operands."""
        return self in (BinOp.OR, BinOp.AND, BinOp.UNLESS)


_COMPARISONS = frozenset({BinOp.EQ, BinOp.NEQ, BinOp.GT, BinOp.GTE, BinOp.LT, BinOp.LTE})


class Cardinality(enum.Enum):
    """Vector matching cardinality of a binary operation."""

    ONE_TO_ONE = "one-to-one"
    MANY_TO_ONE = "many-to-one"  # group_left
    ONE_TO_MANY = "one-to-many"  # group_right


# -- log selectors and pipeline stages ----------------------------------------------------


def _stage_str(stage: StageExpr) -> str:
    # Label filters print bare (they nest), so the stage separator is added here.
    return f"| {stage}" if isinstance(stage, LabelFilter) else str(stage)


@dataclass(frozen=True)
class LogSelectorExpr(Expr):
    """`{app="x", env!="dev"} |= "err" | json | level="error"`: stream matchers and stages."""

    matchers: tuple[Matcher, ...]
    stages: tuple[StageExpr, ...] = ()

    def __post_init__(self) -> None:
        _tuplify(self)

    def __str__(self) -> str:
        selector = "{" + ", ".join(matcher_str(m) for m in self.matchers) + "}"
        if not self.stages:
            return selector
        return selector + " " + " ".join(_stage_str(s) for s in self.stages)


def _line_filter_operand(value: str, ip: bool) -> str:
    return f"ip({go_quote(value)})" if ip else go_quote(value)


@dataclass(frozen=True)
class LineFilter(StageExpr):
    """`|= "x"`, `!~ "re"`, `|> "<_> error <_>"`, or with `ip=True` `|= ip("10.0.0.0/8")`."""

    op: LineMatchType
    value: str
    ip: bool = False

    def __str__(self) -> str:
        return f"{self.op.value} {_line_filter_operand(self.value, self.ip)}"


@dataclass(frozen=True)
class LineFilterOr(StageExpr):
    """`|= "a" or "b" or ip("c")`: the line passes if any alternative does.

    All alternatives share one positive operator (`|=`, `|~`, `|>`); Loki rewrites an `or`
    chain after a negative operator into separate filters (`!= "a" != "b"`), and so does Heron.
    """

    filters: tuple[LineFilter, ...]

    def __post_init__(self) -> None:
        _tuplify(self)
        if len(self.filters) < 2 or len({f.op for f in self.filters}) != 1 or self.filters[0].op.negated:
            raise ValueError("LineFilterOr needs two or more filters sharing one positive operator")

    @property
    def op(self) -> LineMatchType:
        return self.filters[0].op

    def __str__(self) -> str:
        rest = " or ".join(_line_filter_operand(f.value, f.ip) for f in self.filters[1:])
        return f"{self.filters[0]} or {rest}"


@dataclass(frozen=True)
class LabelExtraction:
    """`name="expression"` in `| json` / `| logfmt`; the shorthand `| json name` is `name="name"`."""

    identifier: str
    expression: str

    def __str__(self) -> str:
        return f"{self.identifier}={go_quote(self.expression)}"


@dataclass(frozen=True)
class JSONParser(StageExpr):
    """`| json`, or `| json a="x.y", b="z[0]"` extracting only the given paths."""

    params: tuple[LabelExtraction, ...] = ()

    def __post_init__(self) -> None:
        _tuplify(self)

    def __str__(self) -> str:
        if not self.params:
            return "| json"
        return "| json " + ",".join(str(p) for p in self.params)


@dataclass(frozen=True)
class LogfmtParser(StageExpr):
    """`| logfmt [--strict] [--keep-empty] [a="b", c]`."""

    strict: bool = False
    keep_empty: bool = False
    params: tuple[LabelExtraction, ...] = ()

    def __post_init__(self) -> None:
        _tuplify(self)

    def __str__(self) -> str:
        parts = ["| logfmt"]
        if self.strict:
            parts.append("--strict")
        if self.keep_empty:
            parts.append("--keep-empty")
        if self.params:
            parts.append(",".join(str(p) for p in self.params))
        return " ".join(parts)


@dataclass(frozen=True)
class RegexpParser(StageExpr):
    """`| regexp "(?P<name>...)"`: named groups become labels."""

    regex: str

    def __str__(self) -> str:
        return f"| regexp {go_quote(self.regex)}"


@dataclass(frozen=True)
class PatternParser(StageExpr):
    """`| pattern "<ip> - <_> <status>"`."""

    pattern: str

    def __str__(self) -> str:
        return f"| pattern {go_quote(self.pattern)}"


@dataclass(frozen=True)
class UnpackParser(StageExpr):
    """`| unpack`: the inverse of Promtail's pack stage."""

    def __str__(self) -> str:
        return "| unpack"


@dataclass(frozen=True)
class LineFormat(StageExpr):
    """`| line_format "{{.foo}}"` (a Go text/template)."""

    template: str

    def __str__(self) -> str:
        return f"| line_format {go_quote(self.template)}"


@dataclass(frozen=True)
class LabelFmt:
    """One `| label_format` entry: `new=old` renames, `new="{{.x}}"` is a template."""

    name: str
    value: str
    rename: bool = False

    def __str__(self) -> str:
        return f"{self.name}={self.value if self.rename else go_quote(self.value)}"


@dataclass(frozen=True)
class LabelFormat(StageExpr):
    """`| label_format new=old, other="{{.x}}"`."""

    formats: tuple[LabelFmt, ...]

    def __post_init__(self) -> None:
        _tuplify(self)

    def __str__(self) -> str:
        return "| label_format " + ",".join(str(f) for f in self.formats)


def _named_matchers_str(items: tuple[str | Matcher, ...]) -> str:
    return ",".join(item if isinstance(item, str) else matcher_str(item) for item in items)


@dataclass(frozen=True)
class Drop(StageExpr):
    """`| drop a, b="v"`: a name drops the label, a matcher drops it only when it matches."""

    labels: tuple[str | Matcher, ...]

    def __post_init__(self) -> None:
        _tuplify(self)

    def __str__(self) -> str:
        return "| drop " + _named_matchers_str(self.labels)


@dataclass(frozen=True)
class Keep(StageExpr):
    """`| keep a, b="v"`: keep only these labels (a matcher keeps the label when it matches)."""

    labels: tuple[str | Matcher, ...]

    def __post_init__(self) -> None:
        _tuplify(self)

    def __str__(self) -> str:
        return "| keep " + _named_matchers_str(self.labels)


@dataclass(frozen=True)
class Decolorize(StageExpr):
    """`| decolorize`: strip ANSI colour sequences from the line."""

    def __str__(self) -> str:
        return "| decolorize"


# -- label filters --------------------------------------------------------------------------


class LabelFilter(StageExpr):
    """A label filter tree node; the root of a tree is a pipeline stage (`| level="error"`)."""

    __slots__ = ()


@dataclass(frozen=True)
class LabelFilterAnd(LabelFilter):
    """`a and b`, `a, b` or `a b`: both must pass."""

    left: LabelFilter
    right: LabelFilter

    def __str__(self) -> str:
        return f"( {self.left} , {self.right} )"


@dataclass(frozen=True)
class LabelFilterOr(LabelFilter):
    """`a or b`: either may pass (and binds tighter than or, as in Loki)."""

    left: LabelFilter
    right: LabelFilter

    def __str__(self) -> str:
        return f"( {self.left} or {self.right} )"


@dataclass(frozen=True)
class StringLabelFilter(LabelFilter):
    """`level="error"`, `path=~"/api.*"`, `__error__=""`: a label matcher on extracted labels."""

    matcher: Matcher

    def __str__(self) -> str:
        return matcher_str(self.matcher)


@dataclass(frozen=True)
class NumericLabelFilter(LabelFilter):
    """`status >= 500`: the label value is parsed as a float (else `__error__` is set)."""

    name: str
    op: LabelFilterOp
    value: float

    def __str__(self) -> str:
        return f"{self.name}{self.op.value}{format_float_f(self.value)}"


@dataclass(frozen=True)
class DurationLabelFilter(LabelFilter):
    """`latency > 250ms`: the label value is parsed as a Go duration; `value_ns` in nanoseconds."""

    name: str
    op: LabelFilterOp
    value_ns: int

    def __str__(self) -> str:
        return f"{self.name}{self.op.value}{format_duration_ns(self.value_ns)}"


@dataclass(frozen=True)
class BytesLabelFilter(LabelFilter):
    """`size > 20MB`: the label value is parsed as a byte size; `value` in bytes."""

    name: str
    op: LabelFilterOp
    value: int

    def __str__(self) -> str:
        return f"{self.name}{self.op.value}{format_bytes(self.value)}"


@dataclass(frozen=True)
class IPLabelFilter(LabelFilter):
    """`addr = ip("10.0.0.0/8")` (op EQ or NEQ): the label holds an address in the range."""

    name: str
    op: LabelFilterOp
    pattern: str

    def __str__(self) -> str:
        op = "=" if self.op is LabelFilterOp.EQ else "!="
        return f"{self.name}{op}ip({go_quote(self.pattern)})"


# -- metric queries -----------------------------------------------------------------------


@dataclass(frozen=True)
class Unwrap:
    """`| unwrap latency`, `| unwrap duration(latency)`, then optional `| label filter`s.

    Only valid inside a range aggregation; `post_filters` run after the value is extracted.
    """

    identifier: str
    conversion: UnwrapConversion | None = None
    post_filters: tuple[LabelFilter, ...] = ()

    def __post_init__(self) -> None:
        _tuplify(self)

    def __str__(self) -> str:
        target = f"{self.conversion.value}({self.identifier})" if self.conversion else self.identifier
        return f"| unwrap {target}" + "".join(f" | {f}" for f in self.post_filters)


@dataclass(frozen=True)
class LogRange:
    """`{...} | stages | unwrap x [5m] offset 1h`: the log input of a range aggregation."""

    selector: LogSelectorExpr
    range_ns: int
    unwrap: Unwrap | None = None
    offset_ns: int = 0

    def __str__(self) -> str:
        text = str(self.selector)
        if self.unwrap is not None:
            text += f" {self.unwrap}"
        text += f"[{format_prometheus_duration_ns(self.range_ns)}]"
        if self.offset_ns:
            text += f" offset {format_duration_ns(self.offset_ns)}"
        return text


@dataclass(frozen=True)
class Grouping:
    """`by (a, b)` or `without (a)`. `Grouping()` (by nothing) aggregates everything away."""

    labels: tuple[str, ...] = ()
    without: bool = False

    def __post_init__(self) -> None:
        _tuplify(self)

    def __str__(self) -> str:
        return f"{'without' if self.without else 'by'} ({','.join(self.labels)})"


@dataclass(frozen=True)
class RangeAggregation(SampleExpr):
    """`rate({...}[5m])`, `quantile_over_time(0.99, {...} | unwrap x [1m]) by (pod)`.

    `param` is quantile_over_time's quantile; `grouping` is only allowed for the operations
    Loki allows it on (avg, min, max, stddev, stdvar, quantile, first, last).
    """

    op: RangeOp
    log_range: LogRange
    param: float | None = None
    grouping: Grouping | None = None

    def __str__(self) -> str:
        param = f"{format_float_f(self.param)}," if self.param is not None else ""
        text = f"{self.op.value}({param}{self.log_range})"
        if self.grouping is not None:
            text += f" {self.grouping}"
        return text


@dataclass(frozen=True)
class VectorAggregation(SampleExpr):
    """`sum by (app) (...)`, `topk(5, ...)` (`param` is k for topk/bottomk)."""

    op: VectorOp
    expr: SampleExpr
    grouping: Grouping = field(default_factory=Grouping)
    param: int | None = None

    def __str__(self) -> str:
        grouping = ""
        if self.grouping.labels or self.grouping.without:
            grouping = f" {self.grouping}"
        param = f"{self.param}," if self.param is not None else ""
        return f"{self.op.value}{grouping}({param}{self.expr})"


@dataclass(frozen=True)
class VectorMatching:
    """`on (a)` / `ignoring (a)` with optional `group_left (b)` / `group_right (b)`.

    The default (ignoring nothing, one-to-one) is what a binary operation without modifiers
    uses; Loki treats `ignoring ()` the same way.
    """

    on: bool = False
    labels: tuple[str, ...] = ()
    card: Cardinality = Cardinality.ONE_TO_ONE
    include: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _tuplify(self)

    def __str__(self) -> str:
        if not self.on and not self.labels and self.card is Cardinality.ONE_TO_ONE:
            return ""
        text = f"{'on' if self.on else 'ignoring'} ({','.join(self.labels)})"
        if self.card is not Cardinality.ONE_TO_ONE:
            group = "group_left" if self.card is Cardinality.MANY_TO_ONE else "group_right"
            # Always with parentheses: a bare group_left followed by "(" would read the right
            # operand as the include list.
            text += f" {group} ({','.join(self.include)})"
        return text


@dataclass(frozen=True)
class BinOpExpr(SampleExpr):
    """`lhs op [bool] [on|ignoring (...)] [group_left|group_right (...)] rhs`, printed in parens.

    Two literal operands never reach this node: the parser folds them, as Loki does.
    """

    op: BinOp
    lhs: SampleExpr
    rhs: SampleExpr
    return_bool: bool = False
    matching: VectorMatching = field(default_factory=VectorMatching)

    def __str__(self) -> str:
        parts = [self.op.value]
        if self.return_bool:
            parts.append("bool")
        matching = str(self.matching)
        if matching:
            parts.append(matching)
        return f"({self.lhs} {' '.join(parts)} {self.rhs})"


@dataclass(frozen=True)
class LiteralExpr(SampleExpr):
    """A scalar number, e.g. the `100` in `... * 100`."""

    value: float

    def __str__(self) -> str:
        # Non-finite values (from folding `1/0`...) have no literal spelling; print an
        # expression the parser folds back to the same value.
        if math.isnan(self.value):
            return "(0 / 0)"
        if math.isinf(self.value):
            return "(1e308 * 10)" if self.value > 0 else "(-1e308 * 10)"
        return format_float_v(self.value)


@dataclass(frozen=True)
class VectorExpr(SampleExpr):
    """`vector(1)`: a label-less sample with this value at every step."""

    value: float

    def __str__(self) -> str:
        return f"vector({format_float_v(self.value)})"


@dataclass(frozen=True)
class LabelReplaceExpr(SampleExpr):
    """`label_replace(expr, "dst", "replacement", "src", "regex")` (regex anchored, Go syntax)."""

    expr: SampleExpr
    dst: str
    replacement: str
    src: str
    regex: str

    def __str__(self) -> str:
        args = ",".join(go_quote(s) for s in (self.dst, self.replacement, self.src, self.regex))
        return f"label_replace({self.expr},{args})"
