"""A hand-written LogQL parser that accepts what Loki's `syntax.y` accepts, with Loki's errors.

Recursive descent for the structure, precedence climbing for binary operators (Go/Prometheus
precedence: `^` right-associative, then `* / %`, `+ -`, comparisons, `and unless`, `or`), and
a small shift-reduce loop for label filters, whose yacc conflicts resolve in a particular way
(see `_parse_label_filter_expr`).

Errors come in Loki's three kinds and in Loki's order:

1. Syntax errors, `syntax error: unexpected X[, expecting A or B]`, at the offending token.
   The "expecting" list copies yacc's: tokens in yacc's order, only when there are at most
   four. Lexical errors (`literal not terminated`, bad durations) also stop parsing at once.
2. Errors Loki raises while building nodes (a matcher or `| regexp` that does not compile, a
   bad `| pattern`); these stop parsing too and have no position.
3. Errors Loki stores in nodes and reports only after a successful parse (wrong parameters,
   unwrap misuse, logical operators on literals, ...), then the checks of `validateExpr`
   (every stream selector needs a matcher that does not match the empty string).

Heron adds one check Loki makes only when it builds the pipeline: line filter regexes and
patterns must compile, reported with Loki's `stage '...' : ...` text.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterable
from typing import NoReturn, TypeVar

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
from heron.logql.syntax.lexer import Lexer, Token, TokenKind
from heron.logql.syntax.pattern import pattern_filter_error, pattern_parser_error
from heron.logql.syntax.quoting import go_parse_float
from heron.logql.syntax.regex import RegexError, capture_names, go_regex_error, translate_regex
from heron.model import Matcher, MatchOp

__all__ = [
    "parse_expr",
    "parse_log_selector",
    "parse_sample_expr",
    "parse_matchers",
    "MAX_INPUT_SIZE",
    "MAX_DEPTH",
    "ERR_EMPTY_MATCHERS",
]

K = TokenKind
_N = TypeVar("_N")

MAX_INPUT_SIZE = 5120
"""Loki refuses queries of this many bytes or more (`maxInputSize`)."""

MAX_DEPTH = 128
"""Deepest allowed tree (nested operations, aggregations, label filter operators). Loki has no
limit, but Python's recursion limit would otherwise turn a pathological query into a crash
(while parsing, printing or comparing) instead of an error."""

# Parser recursion (parentheses included) may go twice as deep as the tree: printing wraps every
# binary operation in parentheses, and the printed form of an accepted tree must parse again.
_MAX_RECURSION = 2 * MAX_DEPTH + 8

ERR_EMPTY_MATCHERS = (
    "queries require at least one regexp or equality matcher that does not have an empty-compatible "
    'value. For instance, app=~".*" does not meet this requirement, but app=~".+" will'
)

_RANGE_OPS: dict[TokenKind, RangeOp] = {
    K.COUNT_OVER_TIME: RangeOp.COUNT_OVER_TIME,
    K.RATE: RangeOp.RATE,
    K.RATE_COUNTER: RangeOp.RATE_COUNTER,
    K.BYTES_OVER_TIME: RangeOp.BYTES_OVER_TIME,
    K.BYTES_RATE: RangeOp.BYTES_RATE,
    K.AVG_OVER_TIME: RangeOp.AVG_OVER_TIME,
    K.SUM_OVER_TIME: RangeOp.SUM_OVER_TIME,
    K.MIN_OVER_TIME: RangeOp.MIN_OVER_TIME,
    K.MAX_OVER_TIME: RangeOp.MAX_OVER_TIME,
    K.STDVAR_OVER_TIME: RangeOp.STDVAR_OVER_TIME,
    K.STDDEV_OVER_TIME: RangeOp.STDDEV_OVER_TIME,
    K.QUANTILE_OVER_TIME: RangeOp.QUANTILE_OVER_TIME,
    K.FIRST_OVER_TIME: RangeOp.FIRST_OVER_TIME,
    K.LAST_OVER_TIME: RangeOp.LAST_OVER_TIME,
    K.ABSENT_OVER_TIME: RangeOp.ABSENT_OVER_TIME,
}

_VECTOR_OPS: dict[TokenKind, VectorOp] = {
    K.SUM: VectorOp.SUM,
    K.AVG: VectorOp.AVG,
    K.MIN: VectorOp.MIN,
    K.MAX: VectorOp.MAX,
    K.COUNT: VectorOp.COUNT,
    K.STDDEV: VectorOp.STDDEV,
    K.STDVAR: VectorOp.STDVAR,
    K.TOPK: VectorOp.TOPK,
    K.BOTTOMK: VectorOp.BOTTOMK,
    K.APPROX_TOPK: VectorOp.APPROX_TOPK,
    K.SORT: VectorOp.SORT,
    K.SORT_DESC: VectorOp.SORT_DESC,
}

# Operator -> (node operator, precedence, right-associative); syntax.y's %left/%right lines.
_BINOPS: dict[TokenKind, tuple[BinOp, int, bool]] = {
    K.OR: (BinOp.OR, 1, False),
    K.AND: (BinOp.AND, 2, False),
    K.UNLESS: (BinOp.UNLESS, 2, False),
    K.CMP_EQ: (BinOp.EQ, 3, False),
    K.NEQ: (BinOp.NEQ, 3, False),
    K.GT: (BinOp.GT, 3, False),
    K.GTE: (BinOp.GTE, 3, False),
    K.LT: (BinOp.LT, 3, False),
    K.LTE: (BinOp.LTE, 3, False),
    K.ADD: (BinOp.ADD, 4, False),
    K.SUB: (BinOp.SUB, 4, False),
    K.MUL: (BinOp.MUL, 5, False),
    K.DIV: (BinOp.DIV, 5, False),
    K.MOD: (BinOp.MOD, 5, False),
    K.POW: (BinOp.POW, 6, True),
}

_LINE_FILTER_OPS: dict[TokenKind, LineMatchType] = {
    K.PIPE_EXACT: LineMatchType.EQ,
    K.NEQ: LineMatchType.NEQ,
    K.PIPE_MATCH: LineMatchType.RE,
    K.NRE: LineMatchType.NRE,
    K.PIPE_PATTERN: LineMatchType.PATTERN,
    K.NPA: LineMatchType.NPATTERN,
}

_MATCH_OPS: dict[TokenKind, MatchOp] = {
    K.EQ: MatchOp.EQ,
    K.NEQ: MatchOp.NEQ,
    K.RE: MatchOp.RE,
    K.NRE: MatchOp.NRE,
}

_COMPARE_OPS: dict[TokenKind, LabelFilterOp] = {
    K.EQ: LabelFilterOp.EQ,
    K.CMP_EQ: LabelFilterOp.EQ,
    K.NEQ: LabelFilterOp.NEQ,
    K.GT: LabelFilterOp.GT,
    K.GTE: LabelFilterOp.GTE,
    K.LT: LabelFilterOp.LT,
    K.LTE: LabelFilterOp.LTE,
}

_CONVERSIONS: dict[TokenKind, UnwrapConversion] = {
    K.BYTES_CONV: UnwrapConversion.BYTES,
    K.DURATION_CONV: UnwrapConversion.DURATION,
    K.DURATION_SECONDS_CONV: UnwrapConversion.DURATION_SECONDS,
}

# Loki's RangeAggregationExpr.validate().
_GROUPING_ALLOWED = frozenset(
    {
        RangeOp.AVG_OVER_TIME,
        RangeOp.STDDEV_OVER_TIME,
        RangeOp.STDVAR_OVER_TIME,
        RangeOp.QUANTILE_OVER_TIME,
        RangeOp.MAX_OVER_TIME,
        RangeOp.MIN_OVER_TIME,
        RangeOp.FIRST_OVER_TIME,
        RangeOp.LAST_OVER_TIME,
    }
)
_UNWRAP_ALLOWED = frozenset(
    {
        RangeOp.AVG_OVER_TIME,
        RangeOp.SUM_OVER_TIME,
        RangeOp.MAX_OVER_TIME,
        RangeOp.MIN_OVER_TIME,
        RangeOp.STDDEV_OVER_TIME,
        RangeOp.STDVAR_OVER_TIME,
        RangeOp.QUANTILE_OVER_TIME,
        RangeOp.RATE,
        RangeOp.RATE_COUNTER,
        RangeOp.ABSENT_OVER_TIME,
        RangeOp.FIRST_OVER_TIME,
        RangeOp.LAST_OVER_TIME,
    }
)
_NO_UNWRAP_ALLOWED = frozenset(
    {
        RangeOp.BYTES_OVER_TIME,
        RangeOp.BYTES_RATE,
        RangeOp.COUNT_OVER_TIME,
        RangeOp.RATE,
        RangeOp.ABSENT_OVER_TIME,
    }
)

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_LEADING_FLAGS = re.compile(r"\(\?([ims]+)\)")
_INT64 = re.compile(r"[+-]?[0-9]+")


# -- public entry points --------------------------------------------------------------------


def _check_size(text: str) -> None:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size >= MAX_INPUT_SIZE:
        raise ParseError(f"input size too long ({size} > {MAX_INPUT_SIZE})")


def parse_expr(text: str) -> Expr:
    """Parse and validate a LogQL query (log or metric), as Loki's `syntax.ParseExpr`.

    Raises ParseError, and nothing else, for any text that is not a valid query.
    """
    _check_size(text)
    parser = _Parser(text)
    expr = parser.parse()
    parser.raise_deferred()
    _validate(expr)
    _validate_stages(expr)
    return expr


def parse_log_selector(text: str, validate: bool = True) -> LogSelectorExpr:
    """Parse a log query (`{...} | ...`), as Loki's `ParseLogSelector`.

    `validate=False` skips the post-parse checks (the non-empty matcher rule among them), which
    Loki's tailer and tests use for selectors that are only filtered, never fetched.
    """
    _check_size(text)
    parser = _Parser(text)
    expr = parser.parse()
    if not isinstance(expr, LogSelectorExpr):
        raise ParseError("only log selector is supported")
    if validate:
        parser.raise_deferred()
        _validate(expr)
        _validate_stages(expr)
    return expr


def parse_sample_expr(text: str) -> SampleExpr:
    """Parse and validate a metric query, as Loki's `ParseSampleExpr`."""
    expr = parse_expr(text)
    if not isinstance(expr, SampleExpr):
        raise ParseError("only sample expression supported")
    return expr


def parse_matchers(text: str) -> list[Matcher]:
    """Parse a bare stream selector (`{a="b"}`), as Loki's `ParseMatchers` (the series API)."""
    expr = parse_expr(text)
    if not isinstance(expr, LogSelectorExpr) or expr.stages:
        raise ParseError("only label matchers is supported")
    return list(expr.matchers)


# -- helpers ------------------------------------------------------------------------------------


def _syntax_error(tok: Token, expected: Iterable[TokenKind] = ()) -> ParseError:
    msg = f"syntax error: unexpected {tok.kind.display}"
    kinds = sorted(set(expected), key=lambda k: k.order)
    if 0 < len(kinds) <= 4:  # yacc (like Bison) lists at most four
        msg += ", expecting " + " or ".join(k.display for k in kinds)
    return ParseError(msg, tok.line, tok.col)


def _go_f(value: float) -> str:
    """Go's `%f`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:f}"


def _go_type(expr: Expr) -> str:
    """The Go type name Loki prints for a non-sample operand."""
    if isinstance(expr, LogSelectorExpr):
        return "*syntax.PipelineExpr" if expr.stages else "*syntax.MatchersExpr"
    return f"*syntax.{type(expr).__name__}"


def _go_pow(x: float, y: float) -> float:
    """Go's math.Pow, which returns NaN/±Inf where Python's raises."""
    try:
        return math.pow(x, y)
    except (ValueError, OverflowError):
        odd_int = y == math.floor(y) and abs(y) < 2**53 and int(y) % 2 == 1
        if x == 0:
            return math.copysign(math.inf, x) if odd_int else math.inf
        if x < 0 and y != math.floor(y):
            return math.nan
        return -math.inf if x < 0 and odd_int else math.inf


def _fold(op: BinOp, a: float, b: float) -> float:
    """Loki's MergeBinOp on two scalars: `1 + 1` becomes 2 at parse time, `x / 0` is NaN."""
    if op is BinOp.ADD:
        return a + b
    if op is BinOp.SUB:
        return a - b
    if op is BinOp.MUL:
        return a * b
    if op is BinOp.DIV:
        return math.nan if b == 0 else a / b
    if op is BinOp.MOD:
        if b == 0:
            return math.nan
        try:
            return math.fmod(a, b)
        except ValueError:
            return math.nan
    if op is BinOp.POW:
        return _go_pow(a, b)
    result = {
        BinOp.EQ: a == b,
        BinOp.NEQ: a != b,
        BinOp.GT: a > b,
        BinOp.GTE: a >= b,
        BinOp.LT: a < b,
        BinOp.LTE: a <= b,
    }[op]
    return 1.0 if result else 0.0


def _make_matcher(name: str, op: MatchOp, value: str) -> Matcher:
    """Build a `heron.model.Matcher`, failing like Loki's `mustNewMatcher` for bad regexes.

    Go syntax is checked first; if Heron's matcher (Python `re`, wrapped in `(?s:...)`) cannot
    take the pattern as written, the Python translation is stored instead: `(?<n>` becomes
    `(?P<n>` and a leading `(?i)` becomes `(?i:...)`, both meaning the same to Go.
    """
    if op in (MatchOp.RE, MatchOp.NRE):
        err = go_regex_error(value)
        if err is not None:
            raise ParseError(err)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return Matcher(name, op, value)
        except ValueError:
            pass
        translated = translate_regex(value)
        flags = _LEADING_FLAGS.match(translated)
        if flags:
            translated = f"(?{flags.group(1)}:{translated[flags.end() :]})"
        try:
            return Matcher(name, op, translated)
        except ValueError as exc:
            raise ParseError(f"error parsing regexp: {exc}") from None


def _regexp_parser_error(regex: str) -> str | None:
    """Loki's `log.NewRegexpParser` checks: compiles, has named captures, valid unique names."""
    try:
        names = capture_names(regex)
    except RegexError as exc:
        return str(exc)
    if not names:
        return "at least one named capture must be supplied"
    seen: set[str] = set()
    for name in names:
        if name is None:
            continue
        if not _LABEL_NAME.fullmatch(name):
            return f"invalid extracted label name '{name}'"
        if name in seen:
            return f"duplicate extracted label name '{name}'"
        seen.add(name)
    if not seen:
        return "at least one named capture must be supplied"
    return None


# -- the parser ---------------------------------------------------------------------------------


class _Parser:
    """One parse. Tokens are read lazily so that the first error in the text wins, as in yacc."""

    def __init__(self, text: str) -> None:
        self.lexer = Lexer(text)
        self._tok: Token | None = None
        self.deferred: list[str] = []
        self.depth = 0
        self._tree_depth: dict[int, int] = {}  # id(node) -> height, for nodes built so far

    # token plumbing

    def peek(self) -> Token:
        if self._tok is None:
            self._tok = self.lexer.next_token()
        return self._tok

    def at(self, *kinds: TokenKind) -> bool:
        return self.peek().kind in kinds

    def advance(self) -> Token:
        tok = self.peek()
        self._tok = None
        return tok

    def unexpected(self, expected: Iterable[TokenKind] = ()) -> NoReturn:
        raise _syntax_error(self.peek(), expected)

    def expect(self, kind: TokenKind, expected: Iterable[TokenKind] | None = None) -> Token:
        if self.peek().kind is not kind:
            self.unexpected((kind,) if expected is None else expected)
        return self.advance()

    def expect_str(self, kind: TokenKind) -> str:
        value = self.expect(kind).value
        assert isinstance(value, str)
        return value

    def expect_int(self, kind: TokenKind) -> int:
        value = self.expect(kind).value
        assert isinstance(value, int)
        return value

    def defer(self, msg: str) -> None:
        """Record an error Loki reports only once the whole query has parsed."""
        self.deferred.append(msg)

    def raise_deferred(self) -> None:
        if self.deferred:
            raise ParseError(self.deferred[0])

    def _too_deep(self) -> NoReturn:
        tok = self.peek()
        raise ParseError(f"syntax error: expression nested deeper than {MAX_DEPTH} levels", tok.line, tok.col)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > _MAX_RECURSION:
            self._too_deep()

    def nest(self, node: _N, *children: object) -> _N:
        """Record the height of a new tree node; refuse trees deeper than MAX_DEPTH."""
        height = 1 + max((self._tree_depth.get(id(c), 1) for c in children), default=0)
        if height > MAX_DEPTH:
            self._too_deep()
        self._tree_depth[id(node)] = height
        return node

    def leave(self) -> None:
        self.depth -= 1

    # expressions

    def parse(self) -> Expr:
        expr = self.parse_binary(0)
        if not self.at(K.EOF):
            self.unexpected()
        return expr

    def parse_binary(self, min_prec: int, left: Expr | None = None) -> Expr:
        self.enter()
        if left is None:
            left = self.parse_operand()
        while True:
            info = _BINOPS.get(self.peek().kind)
            if info is None or info[1] < min_prec:
                break
            op, prec, right_assoc = info
            self.advance()
            return_bool, matching = self.parse_binop_modifiers()
            right = self.parse_binary(prec if right_assoc else prec + 1)
            left = self.make_binop(op, left, right, return_bool, matching)
        self.leave()
        return left

    def parse_binop_modifiers(self) -> tuple[bool, VectorMatching]:
        return_bool = False
        if self.at(K.BOOL):
            self.advance()
            return_bool = True
        if not self.at(K.ON, K.IGNORING):
            return return_bool, VectorMatching()
        on = self.advance().kind is K.ON
        self.expect(K.OPEN_PARENTHESIS)
        labels = self.parse_label_list()
        card = Cardinality.ONE_TO_ONE
        include: tuple[str, ...] = ()
        if self.at(K.GROUP_LEFT, K.GROUP_RIGHT):
            group = self.advance().kind
            card = Cardinality.MANY_TO_ONE if group is K.GROUP_LEFT else Cardinality.ONE_TO_MANY
            if self.at(K.OPEN_PARENTHESIS):  # yacc shifts: `group_left (` is always a label list
                self.advance()
                include = self.parse_label_list()
        return return_bool, VectorMatching(on, labels, card, include)

    def make_binop(
        self, op: BinOp, left: Expr, right: Expr, return_bool: bool, matching: VectorMatching
    ) -> Expr:
        """Loki's mustNewBinOpExpr: type checks (deferred) and folding of two literals."""
        if not isinstance(left, SampleExpr):
            self.defer(f"unexpected type for left leg of binary operation ({op.value}): {_go_type(left)}")
            return LiteralExpr(0.0)
        if not isinstance(right, SampleExpr):
            self.defer(f"unexpected type for right leg of binary operation ({op.value}): {_go_type(right)}")
            return LiteralExpr(0.0)
        if op.is_set:
            if isinstance(left, LiteralExpr):
                self.defer(
                    f"unexpected literal for left leg of logical/set binary operation ({op.value}): "
                    f"{_go_f(left.value)}"
                )
                return LiteralExpr(0.0)
            if isinstance(right, LiteralExpr):
                self.defer(
                    f"unexpected literal for right leg of logical/set binary operation ({op.value}): "
                    f"{_go_f(right.value)}"
                )
                return LiteralExpr(0.0)
        if isinstance(left, LiteralExpr) and isinstance(right, LiteralExpr):
            return LiteralExpr(_fold(op, left.value, right.value))
        return self.nest(BinOpExpr(op, left, right, return_bool, matching), left, right)

    def parse_operand(self) -> Expr:
        kind = self.peek().kind
        if kind is K.OPEN_BRACE:
            return self.parse_log_expr()
        if kind is K.OPEN_PARENTHESIS:
            self.advance()
            inner = self.parse_binary(0)
            self.expect(K.CLOSE_PARENTHESIS, ())
            return inner
        if kind in (K.NUMBER, K.ADD, K.SUB):
            return self.parse_literal()
        if kind in _RANGE_OPS:
            return self.parse_range_aggregation()
        if kind in _VECTOR_OPS:
            return self.parse_vector_aggregation()
        if kind is K.LABEL_REPLACE:
            return self.parse_label_replace()
        if kind is K.VECTOR:
            return self.parse_vector()
        self.unexpected()

    def literal_value(self, tok: Token, what: str) -> float:
        value, err = go_parse_float(tok.text)
        if err is not None:
            self.defer(f"unable to parse {what} as a float: {err}")
        return value

    def parse_literal(self) -> LiteralExpr:
        tok = self.advance()
        negate = False
        if tok.kind is not K.NUMBER:
            negate = tok.kind is K.SUB
            tok = self.expect(K.NUMBER)
        value = self.literal_value(tok, "literal")
        return LiteralExpr(-value if negate else value)

    def parse_vector(self) -> VectorExpr:
        self.advance()
        self.expect(K.OPEN_PARENTHESIS)
        tok = self.expect(K.NUMBER)
        self.expect(K.CLOSE_PARENTHESIS)
        return VectorExpr(self.literal_value(tok, "vectorExpr"))

    def parse_sample_operand(self, left: Expr | None = None) -> SampleExpr:
        """A `metricExpr` argument: a log expression here is a syntax error at the next token."""
        expr = self.parse_binary(0, left)
        if not isinstance(expr, SampleExpr):
            self.unexpected()
        return expr

    def parse_label_replace(self) -> LabelReplaceExpr:
        self.advance()
        self.expect(K.OPEN_PARENTHESIS)
        inner = self.parse_sample_operand()
        self.expect(K.COMMA, ())
        args = []
        for closing in (K.COMMA, K.COMMA, K.COMMA, K.CLOSE_PARENTHESIS):
            args.append(self.expect_str(K.STRING))
            self.expect(closing)
        dst, replacement, src, regex = args
        err = go_regex_error(f"^(?:{regex})$")
        if err is not None:
            self.defer(f"invalid regex in label_replace: {err}")
        return self.nest(LabelReplaceExpr(inner, dst, replacement, src, regex), inner)

    def parse_vector_aggregation(self) -> VectorAggregation:
        op = _VECTOR_OPS[self.advance().kind]
        grouping = self.parse_grouping() if self.at(K.BY, K.WITHOUT) else None
        if grouping is None:
            self.expect(K.OPEN_PARENTHESIS, (K.OPEN_PARENTHESIS, K.BY, K.WITHOUT))
        else:
            self.expect(K.OPEN_PARENTHESIS)
        param_text: str | None = None
        left: Expr | None = None
        if self.at(K.NUMBER):
            num = self.advance()
            if self.at(K.COMMA):
                self.advance()
                param_text = num.text
            else:  # the number starts the inner expression: `sum(1 + x)`
                left = LiteralExpr(self.literal_value(num, "literal"))
        inner = self.parse_sample_operand(left)
        self.expect(K.CLOSE_PARENTHESIS, ())
        if grouping is None and self.at(K.BY, K.WITHOUT):
            grouping = self.parse_grouping()
        param = self.vector_param(op, param_text)
        if op is VectorOp.APPROX_TOPK and grouping is not None:  # even `by ()`, as in Loki
            self.defer("grouping not allowed for approx_topk aggregation")
        return self.nest(VectorAggregation(op, inner, grouping or Grouping(), param), inner)

    def vector_param(self, op: VectorOp, text: str | None) -> int | None:
        """Loki's mustNewVectorAggregationExpr parameter rules (errors deferred)."""
        if op not in (VectorOp.TOPK, VectorOp.BOTTOMK, VectorOp.APPROX_TOPK):
            if text is not None:
                self.defer(f"unsupported parameter for operation {op.value}({text},")
            return None
        if text is None:
            self.defer(f"parameter required for operation {op.value}")
            return None
        if not _INT64.fullmatch(text) or not -(2**63) <= int(text) < 2**63:
            self.defer(f"invalid parameter {op.value}({text},")
            return None
        value = int(text)
        if value <= 0:
            self.defer(f"invalid parameter (must be greater than 0) {op.value}({text}")
        return value

    def parse_grouping(self) -> Grouping:
        without = self.advance().kind is K.WITHOUT
        self.expect(K.OPEN_PARENTHESIS)
        return Grouping(self.parse_label_list(), without)

    def parse_label_list(self) -> tuple[str, ...]:
        """`a, b)` after an opening parenthesis (grouping, on/ignoring, group_left/right)."""
        if self.at(K.CLOSE_PARENTHESIS):
            self.advance()
            return ()
        labels = [self.expect_str(K.IDENTIFIER) if self.at(K.IDENTIFIER) else self.unexpected_label()]
        while True:
            if self.at(K.CLOSE_PARENTHESIS):
                self.advance()
                return tuple(labels)
            if not self.at(K.COMMA):
                self.unexpected((K.COMMA, K.CLOSE_PARENTHESIS))
            self.advance()
            labels.append(self.expect_str(K.IDENTIFIER))

    def unexpected_label(self) -> NoReturn:
        self.unexpected((K.IDENTIFIER, K.CLOSE_PARENTHESIS))

    # range aggregations

    def parse_range_aggregation(self) -> RangeAggregation:
        op = _RANGE_OPS[self.advance().kind]
        self.expect(K.OPEN_PARENTHESIS)
        param_text: str | None = None
        if self.at(K.NUMBER):
            param_text = self.advance().text
            self.expect(K.COMMA)
            if not self.at(K.OPEN_BRACE, K.OPEN_PARENTHESIS):
                self.unexpected((K.OPEN_BRACE, K.OPEN_PARENTHESIS))
        elif not self.at(K.OPEN_BRACE, K.OPEN_PARENTHESIS):
            self.unexpected((K.NUMBER, K.OPEN_BRACE, K.OPEN_PARENTHESIS))
        self.enter()
        log_range = self.parse_log_range()
        self.leave()
        self.expect(K.CLOSE_PARENTHESIS)
        grouping = self.parse_grouping() if self.at(K.BY, K.WITHOUT) else None
        return self.make_range_aggregation(op, log_range, param_text, grouping)

    def make_range_aggregation(
        self, op: RangeOp, log_range: LogRange, param_text: str | None, grouping: Grouping | None
    ) -> RangeAggregation:
        """Loki's newRangeAggregationExpr and validate(); every error is deferred."""
        node = RangeAggregation(op, log_range, None, grouping)
        param: float | None = None
        if param_text is not None:
            if op is not RangeOp.QUANTILE_OVER_TIME:
                self.defer(f"parameter {param_text} not supported for operation {op.value}")
                return node
            param, err = go_parse_float(param_text)
            if err is not None:
                self.defer(f"invalid parameter for operation {op.value}: {err}")
                return node
        elif op is RangeOp.QUANTILE_OVER_TIME:
            self.defer(f"parameter required for operation {op.value}")
            return node
        if grouping is not None and op not in _GROUPING_ALLOWED:
            self.defer(f"grouping not allowed for {op.value} aggregation")
        elif log_range.unwrap is not None:
            if op not in _UNWRAP_ALLOWED:
                self.defer(f"invalid aggregation {op.value} with unwrap")
        elif op not in _NO_UNWRAP_ALLOWED:
            self.defer(f"invalid aggregation {op.value} without unwrap")
        return self.nest(
            RangeAggregation(op, log_range, param, grouping), log_range.selector, log_range.unwrap
        )

    def parse_log_range(self) -> LogRange:
        """Every `logRangeExpr` form of syntax.y: the range before or after the pipeline, with
        the selector (and pipeline, and unwrap) optionally parenthesised."""
        if not self.at(K.OPEN_PARENTHESIS):
            matchers = self.parse_selector()
            stages, unwrap = self.parse_pipeline(allow_unwrap=True)
            return self.finish_log_range(matchers, stages, unwrap)
        self.advance()
        self.enter()
        if self.at(K.OPEN_PARENTHESIS):
            inner = self.parse_log_range()
            self.expect(K.CLOSE_PARENTHESIS)
            self.leave()
            return inner
        if not self.at(K.OPEN_BRACE):
            self.unexpected((K.OPEN_BRACE, K.OPEN_PARENTHESIS))
        matchers = self.parse_selector()
        stages, unwrap = self.parse_pipeline(allow_unwrap=True)
        if self.at(K.RANGE):  # `( {...} [5m] ... )`: a whole range inside the parentheses
            inner = self.finish_log_range(matchers, stages, unwrap)
            self.expect(K.CLOSE_PARENTHESIS)
            self.leave()
            return inner
        if not self.at(K.CLOSE_PARENTHESIS):
            self.unexpected((K.RANGE, K.CLOSE_PARENTHESIS, K.PIPE) if unwrap is not None else ())
        self.advance()
        range_ns = self.expect_int(K.RANGE)
        offset_ns = self.parse_offset()
        if not stages and unwrap is None and self.at(K.PIPE):  # `({...})[5m] | unwrap x`
            self.advance()
            if not self.at(K.UNWRAP):
                self.unexpected((K.UNWRAP,))
            unwrap = self.parse_unwrap()
        self.leave()
        return LogRange(self.nest(LogSelectorExpr(matchers, stages), *stages), range_ns, unwrap, offset_ns)

    def finish_log_range(
        self, matchers: tuple[Matcher, ...], stages: tuple[StageExpr, ...], unwrap: Unwrap | None
    ) -> LogRange:
        if not self.at(K.RANGE):
            self.unexpected((K.RANGE, K.PIPE) if unwrap is not None else ())
        range_ns = self.expect_int(K.RANGE)
        offset_ns = self.parse_offset()
        if not stages and unwrap is None:  # `{...}[5m] | json | unwrap x`
            stages, unwrap = self.parse_pipeline(allow_unwrap=True)
        return LogRange(self.nest(LogSelectorExpr(matchers, stages), *stages), range_ns, unwrap, offset_ns)

    def parse_offset(self) -> int:
        if not self.at(K.OFFSET):
            return 0
        self.advance()
        return self.expect_int(K.DURATION)

    def parse_unwrap(self) -> Unwrap:
        self.expect(K.UNWRAP)
        conversion: UnwrapConversion | None = None
        if self.at(K.IDENTIFIER):
            identifier = self.expect_str(K.IDENTIFIER)
        elif self.peek().kind in _CONVERSIONS:
            conversion = _CONVERSIONS[self.advance().kind]
            self.expect(K.OPEN_PARENTHESIS)
            identifier = self.expect_str(K.IDENTIFIER)
            self.expect(K.CLOSE_PARENTHESIS)
        else:
            self.unexpected((K.IDENTIFIER, *_CONVERSIONS))
        post_filters: list[LabelFilter] = []
        while self.at(K.PIPE):
            self.advance()
            post_filters.append(self.parse_label_filter_expr())
        return self.nest(Unwrap(identifier, conversion, tuple(post_filters)), *post_filters)

    # log queries

    def parse_log_expr(self) -> LogSelectorExpr:
        matchers = self.parse_selector()
        stages, _ = self.parse_pipeline(allow_unwrap=False)
        return self.nest(LogSelectorExpr(matchers, stages), *stages)

    def parse_selector(self) -> tuple[Matcher, ...]:
        self.expect(K.OPEN_BRACE)
        if self.at(K.CLOSE_BRACE):
            self.advance()
            return ()
        if not self.at(K.IDENTIFIER):
            self.unexpected((K.IDENTIFIER, K.CLOSE_BRACE))
        matchers = [self.parse_matcher()]
        while True:
            if self.at(K.CLOSE_BRACE):
                self.advance()
                return tuple(matchers)
            if not self.at(K.COMMA):
                self.unexpected((K.CLOSE_BRACE, K.COMMA))
            self.advance()
            matchers.append(self.parse_matcher())

    def parse_matcher(self) -> Matcher:
        name = self.expect_str(K.IDENTIFIER)
        op = _MATCH_OPS.get(self.peek().kind)
        if op is None:
            self.unexpected(_MATCH_OPS)
        self.advance()
        return _make_matcher(name, op, self.expect_str(K.STRING))

    def parse_pipeline(self, allow_unwrap: bool) -> tuple[tuple[StageExpr, ...], Unwrap | None]:
        """Stages up to the first token that cannot continue them, and a trailing unwrap."""
        stages: list[StageExpr] = []
        while True:
            kind = self.peek().kind
            if kind in _LINE_FILTER_OPS:
                stages.extend(self.parse_line_filter())
            elif kind is K.PIPE:
                self.advance()
                if self.at(K.UNWRAP):
                    if not allow_unwrap:
                        self.unexpected()
                    return tuple(stages), self.parse_unwrap()
                stages.append(self.parse_pipe_stage())
            else:
                return tuple(stages), None

    def parse_line_filter(self) -> list[StageExpr]:
        op = _LINE_FILTER_OPS[self.advance().kind]
        filters = [self.parse_line_filter_operand(op)]
        while self.at(K.OR):
            self.advance()
            filters.append(self.parse_line_filter_operand(op))
        if len(filters) == 1 or op.negated:
            # Loki: `!= "a" or "b"` means neither, i.e. `!= "a" != "b"`.
            return list(filters)
        return [LineFilterOr(tuple(filters))]

    def parse_line_filter_operand(self, op: LineMatchType) -> LineFilter:
        if self.at(K.STRING):
            return LineFilter(op, self.expect_str(K.STRING))
        if not self.at(K.IP):
            self.unexpected((K.STRING, K.IP))
        return LineFilter(op, self.parse_ip_call(), ip=True)

    def parse_ip_call(self) -> str:
        self.expect(K.IP)
        self.expect(K.OPEN_PARENTHESIS)
        value = self.expect_str(K.STRING)
        self.expect(K.CLOSE_PARENTHESIS)
        return value

    def parse_pipe_stage(self) -> StageExpr:
        kind = self.peek().kind
        if kind is K.JSON:
            self.advance()
            return JSONParser(self.parse_extractions() if self.at(K.IDENTIFIER) else ())
        if kind is K.LOGFMT:
            self.advance()
            flags = set()
            while self.at(K.FUNCTION_FLAG):
                flags.add(self.advance().value)
            params = self.parse_extractions() if self.at(K.IDENTIFIER) else ()
            return LogfmtParser("--strict" in flags, "--keep-empty" in flags, params)
        if kind is K.REGEXP:
            self.advance()
            regex = self.expect_str(K.STRING)
            err = _regexp_parser_error(regex)
            if err is not None:
                raise ParseError(f"invalid regexp parser: {err}")
            return RegexpParser(regex)
        if kind is K.PATTERN:
            self.advance()
            pattern = self.expect_str(K.STRING)
            err = pattern_parser_error(pattern)
            if err is not None:
                raise ParseError(f"invalid pattern parser: {err}")
            return PatternParser(pattern)
        if kind is K.UNPACK:
            self.advance()
            return UnpackParser()
        if kind is K.DECOLORIZE:
            self.advance()
            return Decolorize()
        if kind is K.LINE_FMT:
            self.advance()
            return LineFormat(self.expect_str(K.STRING))
        if kind is K.LABEL_FMT:
            self.advance()
            return self.parse_label_format()
        if kind in (K.DROP, K.KEEP):
            self.advance()
            labels = self.parse_named_matchers()
            return Drop(labels) if kind is K.DROP else Keep(labels)
        if kind in (K.IDENTIFIER, K.OPEN_PARENTHESIS):
            return self.parse_label_filter_expr()
        self.unexpected()

    def parse_extractions(self) -> tuple[LabelExtraction, ...]:
        items = []
        while True:
            name = self.expect_str(K.IDENTIFIER)
            expression = name
            if self.at(K.EQ):
                self.advance()
                expression = self.expect_str(K.STRING)
            items.append(LabelExtraction(name, expression))
            if not self.at(K.COMMA):
                return tuple(items)
            self.advance()

    def parse_label_format(self) -> LabelFormat:
        formats = []
        while True:
            name = self.expect_str(K.IDENTIFIER)
            self.expect(K.EQ)
            if self.at(K.IDENTIFIER):
                formats.append(LabelFmt(name, self.expect_str(K.IDENTIFIER), rename=True))
            elif self.at(K.STRING):
                formats.append(LabelFmt(name, self.expect_str(K.STRING)))
            else:
                self.unexpected((K.IDENTIFIER, K.STRING))
            if not self.at(K.COMMA):
                return LabelFormat(tuple(formats))
            self.advance()

    def parse_named_matchers(self) -> tuple[str | Matcher, ...]:
        items: list[str | Matcher] = []
        while True:
            name = self.expect_str(K.IDENTIFIER)
            op = _MATCH_OPS.get(self.peek().kind)
            if op is None:
                items.append(name)
            else:
                self.advance()
                items.append(_make_matcher(name, op, self.expect_str(K.STRING)))
            if not self.at(K.COMMA):
                return tuple(items)
            self.advance()

    # label filters

    def parse_label_filter_expr(self) -> LabelFilter:
        """Label filters joined by `and`, `,`, juxtaposition and `or`, resolved like Loki's yacc.

        `or` and `and` carry precedence (and binds tighter, both left-associative). `,` and
        juxtaposition have none, so yacc always shifts past them: they group everything to
        their right, e.g. `a, b or c` is `a and (b or c)` while `a and b or c` is
        `(a and b) or c`. This loop is that shift-reduce decision, made explicit.
        """
        operands = [self.parse_label_filter_primary()]
        ops: list[TokenKind] = []
        while True:
            kind = self.peek().kind
            op: TokenKind
            if kind in (K.AND, K.OR, K.COMMA):
                self.advance()
                op = kind
            elif kind in (K.IDENTIFIER, K.OPEN_PARENTHESIS):
                op = K.IDENTIFIER  # juxtaposition: an implicit `and`
            else:
                break
            while ops and _reduce_before(ops[-1], op):
                self.reduce_label_filters(operands, ops)
            ops.append(op)
            operands.append(self.parse_label_filter_primary())
        while ops:
            self.reduce_label_filters(operands, ops)
        return operands[0]

    def reduce_label_filters(self, operands: list[LabelFilter], ops: list[TokenKind]) -> None:
        op = ops.pop()
        right = operands.pop()
        left = operands.pop()
        node = LabelFilterOr(left, right) if op is K.OR else LabelFilterAnd(left, right)
        operands.append(self.nest(node, left, right))

    def parse_label_filter_primary(self) -> LabelFilter:
        if self.at(K.OPEN_PARENTHESIS):
            self.advance()
            self.enter()
            inner = self.parse_label_filter_expr()
            self.expect(K.CLOSE_PARENTHESIS, ())
            self.leave()
            return inner
        if not self.at(K.IDENTIFIER):
            self.unexpected((K.IDENTIFIER, K.OPEN_PARENTHESIS))
        name = self.expect_str(K.IDENTIFIER)
        kind = self.peek().kind
        if kind in (K.EQ, K.NEQ):
            self.advance()
            if self.at(K.STRING):
                return StringLabelFilter(_make_matcher(name, _MATCH_OPS[kind], self.expect_str(K.STRING)))
            if self.at(K.IP):
                return IPLabelFilter(name, _COMPARE_OPS[kind], self.parse_ip_call())
            return self.parse_value_filter(name, _COMPARE_OPS[kind])
        if kind in (K.RE, K.NRE):
            self.advance()
            return StringLabelFilter(_make_matcher(name, _MATCH_OPS[kind], self.expect_str(K.STRING)))
        if kind in (K.CMP_EQ, K.GT, K.GTE, K.LT, K.LTE):
            self.advance()
            return self.parse_value_filter(name, _COMPARE_OPS[kind])
        self.unexpected()

    def parse_value_filter(self, name: str, op: LabelFilterOp) -> LabelFilter:
        """Duration, bytes or number after a comparison (`latency > 250ms`, `size > 1KiB`)."""
        tok = self.peek()
        if tok.kind is K.DURATION:
            return DurationLabelFilter(name, op, self.expect_int(K.DURATION))
        if tok.kind is K.BYTES:
            return BytesLabelFilter(name, op, self.expect_int(K.BYTES))
        if tok.kind not in (K.NUMBER, K.ADD, K.SUB):
            self.unexpected()
        negate = False
        if tok.kind is not K.NUMBER:
            negate = self.advance().kind is K.SUB
        value, err = go_parse_float(self.expect(K.NUMBER).text)
        if err is not None:  # Loki's mustNewNumericLabelFilter: out of range is refused too
            raise ParseError(f"unable to parse literal as a float: {err}")
        return NumericLabelFilter(name, op, -value if negate else value)


_FILTER_PREC = {K.OR: 1, K.AND: 2}


def _reduce_before(top: TokenKind, lookahead: TokenKind) -> bool:
    """yacc's choice between reducing `left top right` and shifting `lookahead`."""
    if top not in _FILTER_PREC or lookahead not in _FILTER_PREC:
        return False  # a token without precedence: yacc shifts
    return _FILTER_PREC[top] >= _FILTER_PREC[lookahead]  # equal: left-associative


# -- post-parse validation --------------------------------------------------------------------


def _validate_matchers(matchers: tuple[Matcher, ...]) -> None:
    if not any(not m.matches_empty() for m in matchers):
        raise ParseError(ERR_EMPTY_MATCHERS)


def _validate(expr: Expr) -> None:
    """Loki's validateExpr, over every leg of the tree."""
    if isinstance(expr, LogSelectorExpr):
        _validate_matchers(expr.matchers)
    elif isinstance(expr, BinOpExpr):
        _validate(expr.lhs)
        _validate(expr.rhs)
    elif isinstance(expr, VectorAggregation):
        if expr.op in (VectorOp.SORT, VectorOp.SORT_DESC) and expr.grouping.labels:
            raise ParseError("sort and sort_desc doesn't allow grouping by ")
        _validate(expr.expr)
    elif isinstance(expr, RangeAggregation):
        _validate_matchers(expr.log_range.selector.matchers)
    elif isinstance(expr, LabelReplaceExpr):
        _validate(expr.expr)


def _selectors(expr: Expr) -> Iterable[LogSelectorExpr]:
    if isinstance(expr, LogSelectorExpr):
        yield expr
    elif isinstance(expr, BinOpExpr):
        yield from _selectors(expr.lhs)
        yield from _selectors(expr.rhs)
    elif isinstance(expr, (VectorAggregation, LabelReplaceExpr)):
        yield from _selectors(expr.expr)
    elif isinstance(expr, RangeAggregation):
        yield expr.log_range.selector


def _line_filter_error(f: LineFilter) -> str | None:
    if f.ip:
        return None
    if f.op in (LineMatchType.RE, LineMatchType.NRE):
        return go_regex_error(f.value)
    if f.op in (LineMatchType.PATTERN, LineMatchType.NPATTERN):
        return pattern_filter_error(f.value)
    return None


def _label_format_error(stage: LabelFormat) -> str | None:
    """Loki refuses a label_format that sets `__error__` or names one target twice: renaming
    and templating the same label in one stage would be ambiguous."""
    seen: set[str] = set()
    for f in stage.formats:
        if f.name == "__error__":
            return f"{f.name} cannot be formatted"
        if f.name in seen:
            return f"multiple label name '{f.name}' not allowed in a single format operation"
        seen.add(f.name)
    return None


def _validate_stages(expr: Expr) -> None:
    """Checks Loki makes when it builds the pipeline: line filter regexes and patterns."""
    for selector in _selectors(expr):
        for stage in selector.stages:
            filters: tuple[LineFilter, ...] = ()
            if isinstance(stage, LineFilter):
                filters = (stage,)
            elif isinstance(stage, LineFilterOr):
                filters = stage.filters
            for f in filters:
                err = _line_filter_error(f)
                if err is not None:
                    raise ParseError(f"stage '{stage}' : {err}")
            if isinstance(stage, LabelFormat):
                err = _label_format_error(stage)
                if err is not None:
                    raise ParseError(f"stage '{stage}' : {err}")
