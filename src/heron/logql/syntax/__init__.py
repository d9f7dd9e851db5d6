"""LogQL syntax: lexer, parser, AST and printer, apart from any evaluation code.

Like Loki's `pkg/logql/syntax`, this package imports only the standard library and
`heron.model` (whose `Matcher` is reused for stream selectors and label matchers), so the API,
the rules manager and the UI can parse and print queries without loading the engine.

    >>> expr = parse_expr('sum by (app) (rate({app="api"} |= "error" [5m]))')
    >>> str(expr)
    'sum by (app)(rate({app="api"} |= "error"[5m]))'

`parse_expr` raises `ParseError` (and nothing else) with Loki's message and position.

Not supported (all newer Loki features): the `| xml` parser and `variants(...) of (...)`;
their keywords are ordinary identifiers here, as in older Loki. `approx_topk(k, ...)` parses
with Loki's rules (k an integer > 0, no grouping at all) and the engine answers it exactly.
"""

from heron.logql.syntax.ast import (
    BinOp,
    BinOpExpr,
    BytesLabelFilter,
    Cardinality,
    Decolorize,
    Drop,
    DurationLabelFilter,
    Expr,
    Grouping,
    IPLabelFilter,
    JSONParser,
    Keep,
    LabelExtraction,
    LabelFilter,
    LabelFilterAnd,
    LabelFilterOp,
    LabelFilterOr,
    LabelFmt,
    LabelFormat,
    LabelReplaceExpr,
    LineFilter,
    LineFilterOr,
    LineFormat,
    LineMatchType,
    LiteralExpr,
    LogfmtParser,
    LogRange,
    LogSelectorExpr,
    NumericLabelFilter,
    PatternParser,
    RangeAggregation,
    RangeOp,
    RegexpParser,
    SampleExpr,
    StageExpr,
    StringLabelFilter,
    UnpackParser,
    Unwrap,
    UnwrapConversion,
    VectorAggregation,
    VectorExpr,
    VectorMatching,
    VectorOp,
)
from heron.logql.syntax.errors import ParseError
from heron.logql.syntax.parser import (
    ERR_EMPTY_MATCHERS,
    MAX_DEPTH,
    MAX_INPUT_SIZE,
    parse_expr,
    parse_log_selector,
    parse_matchers,
    parse_sample_expr,
)
from heron.logql.syntax.pattern import PatternNode, parse_pattern
from heron.logql.syntax.regex import RegexError, capture_names, compile_regex, translate_regex
from heron.logql.syntax.units import (
    format_bytes,
    format_duration_ns,
    format_prometheus_duration_ns,
    parse_bytes,
    parse_duration_ns,
    parse_prometheus_duration_ns,
)

__all__ = [
    # parsing
    "parse_expr",
    "parse_log_selector",
    "parse_sample_expr",
    "parse_matchers",
    "ParseError",
    "MAX_INPUT_SIZE",
    "MAX_DEPTH",
    "ERR_EMPTY_MATCHERS",
    # AST: bases and enums
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
    # AST: log queries and stages
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
    # AST: metric queries
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
    # helpers the engine shares with the parser
    "parse_duration_ns",
    "parse_prometheus_duration_ns",
    "parse_bytes",
    "format_duration_ns",
    "format_prometheus_duration_ns",
    "format_bytes",
    "RegexError",
    "compile_regex",
    "translate_regex",
    "capture_names",
    "PatternNode",
    "parse_pattern",
]
