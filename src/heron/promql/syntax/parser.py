"""PromQL's parser: recursive descent with precedence climbing over `lexer.tokenize`.

It reproduces what Prometheus' yacc grammar (`promql/parser/generated_parser.y`) accepts and the
trees `parse.go` builds, then runs the same semantic pass (`checkAST`): types, arity, `bool`,
set operators, vector matching, empty selectors. Errors carry Prometheus' wording and position.

Prometheus collects several errors and reports the first; so does this parser: semantic errors
found while parsing (unknown function, offset on a non-selector, ...) are recorded and parsing
goes on, a syntax error stops it (the earliest recorded error wins), and the type check runs
only when parsing found nothing, as in `ParseExpr`.

Duration arithmetic (`foo[5m * 2]`, `offset (1h + 5m)`) is folded to integer milliseconds here,
as Prometheus' engine does before evaluation; `step()` and `range()` inside durations depend on
the query and cannot be folded at parse time, so they are refused with a clear error.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

from heron.model import Matcher, MatchOp
from heron.promql.syntax.ast import (
    AggregateExpr,
    AtModifier,
    BinaryExpr,
    Call,
    Cardinality,
    Expr,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    StringLiteral,
    SubqueryExpr,
    UnaryExpr,
    ValueType,
    VectorMatching,
    VectorSelector,
)
from heron.promql.syntax.errors import ParseError, PosRange
from heron.promql.syntax.functions import SIGNATURES
from heron.promql.syntax.goregex import RegexError, compile_matcher_regex
from heron.promql.syntax.lexer import AGGREGATORS, T, Token, tokenize
from heron.promql.syntax.quoting import parse_duration_ms, unquote

__all__ = ["parse_expr", "parse_selector"]

# Binary operator precedence, lowest first (generated_parser.y's %left / %right lines).
_PRECEDENCE: dict[T, int] = {
    T.LOR: 1,
    T.LAND: 2,
    T.LUNLESS: 2,
    T.EQLC: 3,
    T.GTE: 3,
    T.GTR: 3,
    T.LSS: 3,
    T.LTE: 3,
    T.NEQ: 3,
    T.TRIM_UPPER: 3,
    T.TRIM_LOWER: 3,
    T.ADD: 4,
    T.SUB: 4,
    T.MUL: 5,
    T.DIV: 5,
    T.MOD: 5,
    T.ATAN2: 5,
    T.POW: 6,
}
_MUL_PREC = 5
_POW_PREC = 6
_COMPARISONS = frozenset({T.EQLC, T.NEQ, T.LTE, T.LSS, T.GTE, T.GTR})
_SET_OPS = frozenset({T.LAND, T.LOR, T.LUNLESS})
_PARAM_AGGS = frozenset({T.TOPK, T.BOTTOMK, T.COUNT_VALUES, T.QUANTILE, T.LIMITK, T.LIMIT_RATIO})
# Tokens that may name a metric (metric_identifier) and a label (maybe_label) in the grammar.
_METRIC_IDENT = frozenset(
    {
        T.IDENTIFIER,
        T.METRIC_IDENTIFIER,
        *AGGREGATORS,
        T.BY,
        T.FILL,
        T.FILL_LEFT,
        T.FILL_RIGHT,
        T.LAND,
        T.LOR,
        T.LUNLESS,
        T.OFFSET,
        T.WITHOUT,
        T.START,
        T.END,
        T.STEP,
        T.RANGE,
        T.ANCHORED,
        T.SMOOTHED,
        T.MAX_OF,
        T.MIN_OF,
    }
)
_MAYBE_LABEL = frozenset({*_METRIC_IDENT, T.BOOL, T.GROUP_LEFT, T.GROUP_RIGHT, T.IGNORING, T.ON, T.ATAN2})
# Tokens that can begin an expression (the FIRST set of the grammar's `expr`).
_EXPR_START = frozenset(
    {*_METRIC_IDENT, T.NUMBER, T.DURATION, T.STRING, T.LEFT_PAREN, T.LEFT_BRACE, T.ADD, T.SUB}
)
_MATCH_OPS = {T.EQL: MatchOp.EQ, T.NEQ: MatchOp.NEQ, T.EQL_REGEX: MatchOp.RE, T.NEQ_REGEX: MatchOp.NRE}
_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_MAX_DURATION_S = (1 << 63) / 1e9
# Recursion bounds (see `_Parser.enter` and `check_depth`): far beyond any written query, well
# inside Python's default stack for the parser, the printer and the evaluator.
MAX_NESTING = 100
MAX_TREE_DEPTH = 250
_PRECEDED_BY = "an instant vector selector or range vector selector or a subquery"

_DOC_TYPE = {
    ValueType.SCALAR: "scalar",
    ValueType.VECTOR: "instant vector",
    ValueType.MATRIX: "range vector",
    ValueType.STRING: "string",
}


class _Syntax(Exception):
    """Raised to stop parsing at a syntax error (the error itself is in `_Parser.errors`)."""


def _go_f(x: float) -> str:
    """Go's `%f`."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return f"{x:.6f}"


def go_number(text: str) -> tuple[float, str | None]:
    """Prometheus' `parser.number`: `strconv.ParseInt(s, 0, 64)`, else `ParseFloat(s, 64)`.

    So `010` is octal 8 and `0x1F` is 31, as in Prometheus. Returns (value, error text)."""
    t = text
    try:
        if t[:2] in ("0x", "0X"):
            v = int(t, 16)
        elif len(t) > 1 and t[0] == "0" and t.replace("_", "").isdigit():
            v = int(t, 8)
        else:
            v = int(t, 10)
        if -(1 << 63) <= v < (1 << 63):
            return float(v), None
        if t[:2] in ("0x", "0X"):
            return 0.0, f'strconv.ParseFloat: parsing "{t}": invalid syntax'
    except ValueError:
        pass
    lower = t.lower()
    if lower in ("inf", "+inf", "infinity"):
        return math.inf, None
    if lower == "nan":
        return math.nan, None
    try:
        v2 = float(t)
    except ValueError:
        return 0.0, f'strconv.ParseFloat: parsing "{t}": invalid syntax'
    if math.isinf(v2):
        return v2, f'strconv.ParseFloat: parsing "{t}": value out of range'
    return v2, None


class _Dur:
    """A duration expression under construction: value in seconds and its text range.
    `literal` is True for a bare (optionally signed) number/duration literal, whose conversion to
    time.Duration rounds (`math.Round(v*1e9)`), while a computed one truncates to ms."""

    __slots__ = ("value", "pos", "literal")

    def __init__(self, value: float, pos: PosRange, literal: bool) -> None:
        self.value = value
        self.pos = pos
        self.literal = literal


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = [t for t in tokenize(query) if t.kind is not T.COMMENT]
        self.i = 0
        self.errors: list[ParseError] = []
        self.depth = 0
        # Inside an aggregation's parentheses, yacc's `aggregate_op error` rule is the nearest
        # one that recovers, so a plain "unexpected X" there reads "unexpected X in aggregation".
        self.agg_depth = 0

    # --- token helpers -------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def advance(self) -> Token:
        t = self.tokens[self.i]
        if t.kind is T.ERROR:
            self.lex_error(t)
        if self.i < len(self.tokens) - 1:
            self.i += 1
        return t

    def at(self, *kinds: T) -> bool:
        return self.tok.kind in kinds

    def add_error(self, msg: str, pos: PosRange) -> None:
        self.errors.append(ParseError(msg, pos, self.query))

    def lex_error(self, t: Token) -> None:
        self.add_error(t.val, PosRange(t.pos, len(self.query)))
        raise _Syntax

    def unexpected(self, context: str = "", expected: str = "") -> None:
        """Prometheus' `parser.unexpected`: stops parsing at the current token."""
        t = self.tok
        if t.kind is T.ERROR:
            self.lex_error(t)
        msg = "unexpected " + t.desc()
        if not context and self.agg_depth:
            context = "aggregation"
        if context:
            msg += " in " + context
        if expected:
            msg += ", expected " + expected
        self.add_error(msg, PosRange(t.pos, t.end))
        raise _Syntax

    def expect(self, kind: T, context: str, expected: str) -> Token:
        if self.tok.kind is not kind:
            self.unexpected(context, expected)
        return self.advance()

    # --- entry points --------------------------------------------------------------------
    def parse(self) -> Expr:
        try:
            if self.at(T.EOF):
                self.add_error("no expression found in input", PosRange(0, 0))
                raise _Syntax
            expr = self.expr(0)
            if not self.at(T.EOF):
                self.unexpected()
        except _Syntax:
            pass
        if self.errors:
            raise self.errors[0]
        self.check_depth(expr)
        self.check(expr)
        if self.errors:
            raise self.errors[0]
        return expr

    def parse_selector(self) -> VectorSelector:
        try:
            if self.at(T.EOF):
                self.add_error("no expression found in input", PosRange(0, 0))
                raise _Syntax
            if self.at(T.LEFT_BRACE) or self.tok.kind in _METRIC_IDENT:
                vs = self.vector_selector()
            else:
                self.unexpected()
            if not self.at(T.EOF):
                self.unexpected()
        except _Syntax:
            pass
        if self.errors:
            raise self.errors[0]
        self.check_depth(vs)
        self.check(vs)
        if self.errors:
            raise self.errors[0]
        return vs

    # --- expressions ---------------------------------------------------------------------
    def enter(self) -> None:
        """Bound the parser's recursion: a hostile query must get a ParseError, not exhaust
        Python's stack (Prometheus' Go stack grows; Heron's recursion is capped)."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            t = self.tok
            self.add_error(
                f"query is nested too deeply (more than {MAX_NESTING} levels)", PosRange(t.pos, t.end)
            )
            raise _Syntax

    def expr(self, min_prec: int) -> Expr:
        self.enter()
        try:
            return self._expr(min_prec)
        finally:
            self.depth -= 1

    def _expr(self, min_prec: int) -> Expr:
        lhs = self.unary()
        while True:
            kind = self.tok.kind
            prec = _PRECEDENCE.get(kind)
            if prec is None or prec < min_prec:
                return lhs
            op_tok = self.advance()
            return_bool, matching = self.bin_modifiers()
            # ^ is right-associative; every other operator is left-associative.
            rhs = self.expr(prec if kind is T.POW else prec + 1)
            lhs = BinaryExpr(
                op=op_tok.val.lower(),
                lhs=lhs,
                rhs=rhs,
                return_bool=return_bool,
                matching=matching,
                pos=PosRange(lhs.pos.start, rhs.pos.end),
            )

    def bin_modifiers(self) -> tuple[bool, VectorMatching]:
        return_bool = False
        if self.at(T.BOOL):
            self.advance()
            return_bool = True
        card = Cardinality.ONE_TO_ONE
        on = False
        labels: tuple[str, ...] = ()
        include: tuple[str, ...] = ()
        if self.at(T.ON, T.IGNORING):
            on = self.advance().kind is T.ON
            labels = self.grouping_labels()
            if self.at(T.GROUP_LEFT, T.GROUP_RIGHT):
                card = (
                    Cardinality.MANY_TO_ONE
                    if self.advance().kind is T.GROUP_LEFT
                    else Cardinality.ONE_TO_MANY
                )
                if self.at(T.LEFT_PAREN):
                    include = self.grouping_labels()
        if self.at(T.FILL, T.FILL_LEFT, T.FILL_RIGHT):
            start = self.tok.pos
            while self.at(T.FILL, T.FILL_LEFT, T.FILL_RIGHT):
                self.advance()
                self.expect(T.LEFT_PAREN, "", "")
                if self.at(T.ADD, T.SUB):
                    self.advance()
                if not self.at(T.NUMBER, T.DURATION):
                    self.unexpected()
                self.advance()
                self.expect(T.RIGHT_PAREN, "", "")
            self.add_error(
                "binop fill modifiers are experimental and not supported by Heron",
                PosRange(start, self.tokens[self.i - 1].end),
            )
        return return_bool, VectorMatching(card=card, matching_labels=labels, on=on, include=include)

    def unary(self) -> Expr:
        if self.at(T.ADD, T.SUB):
            op = self.advance()
            # Unary operators have MUL's precedence: only ^ (and the postfix modifiers) bind
            # tighter, so `-a ^ b` is `-(a ^ b)` and `-a * b` is `(-a) * b`.
            operand = self.expr(_POW_PREC)
            if isinstance(operand, NumberLiteral):
                value = -operand.value if op.kind is T.SUB else operand.value
                return NumberLiteral(value, pos=PosRange(op.pos, operand.pos.end))
            return UnaryExpr(op.val, operand, pos=PosRange(op.pos, operand.pos.end))
        return self.postfix(self.primary())

    def primary(self) -> Expr:
        t = self.tok
        k = t.kind
        if k in (T.NUMBER, T.DURATION):
            return self.number_literal()
        if k is T.STRING:
            self.advance()
            return StringLiteral(self.unquote(t), pos=PosRange(t.pos, t.end))
        if k is T.LEFT_PAREN:
            self.advance()
            inner = self.expr(0)
            close = self.tok
            if close.kind is not T.RIGHT_PAREN:
                self.unexpected()
            self.advance()
            return ParenExpr(inner, pos=PosRange(t.pos, close.end))
        if k is T.LEFT_BRACE:
            return self.vector_selector()
        if k in AGGREGATORS and self.peek().kind in (T.LEFT_PAREN, T.BY, T.WITHOUT):
            return self.aggregate()
        if k in (T.IDENTIFIER, T.START, T.END, T.STEP, T.RANGE, T.MAX_OF, T.MIN_OF) and (
            self.peek().kind is T.LEFT_PAREN
        ):
            return self.call()
        if k in _METRIC_IDENT:
            return self.vector_selector()
        self.unexpected()
        raise AssertionError("unreachable")

    def number_literal(self) -> NumberLiteral:
        t = self.advance()
        return NumberLiteral(self.token_seconds(t), pos=PosRange(t.pos, t.end))

    def token_seconds(self, t: Token) -> float:
        """A NUMBER token's value, or a DURATION token's value in seconds."""
        if t.kind is T.DURATION:
            ms, err = parse_duration_ms(t.val)
            if err is not None:
                self.add_error(err, PosRange(t.pos, t.end))
            return ms / 1000.0
        value, err = go_number(t.val)
        if err is not None:
            self.add_error(f"error parsing number: {err}", PosRange(t.pos, t.end))
        return value

    def unquote(self, t: Token) -> str:
        try:
            return unquote(t.val)
        except ValueError as exc:
            self.add_error(f"error unquoting string {t.val!r}: {exc}", PosRange(t.pos, t.end))
            return ""

    # --- postfix modifiers: [range], [range:step], offset, @ --------------------------------
    def postfix(self, expr: Expr) -> Expr:
        while True:
            if self.at(T.LEFT_BRACKET):
                expr = self.range_or_subquery(expr)
            elif self.at(T.OFFSET):
                expr = self.offset(expr)
            elif self.at(T.AT):
                expr = self.at_modifier(expr)
            elif self.at(T.ANCHORED, T.SMOOTHED):
                t = self.advance()
                self.add_error(
                    f"{t.val.lower()} modifier is experimental and not supported by Heron",
                    PosRange(t.pos, t.end),
                )
            else:
                return expr

    def range_or_subquery(self, expr: Expr) -> Expr:
        open_tok = self.advance()
        if not self.at_duration_start():
            self.unexpected("subquery or range selector", "number, duration, step(), or range()")
        if self.at(T.STEP, T.RANGE) and self.peek().kind is not T.LEFT_PAREN:
            self.advance()
            self.unexpected("subquery or range selector", "number, duration, step(), or range()")
        rng = self.positive(self.duration_expr(0))
        if self.at(T.RIGHT_BRACKET):
            close = self.advance()
            err = ""
            if not isinstance(expr, VectorSelector):
                err = "ranges only allowed for vector selectors"
            elif expr.offset_ms != 0:
                err = "no offset modifiers allowed before range"
            elif expr.at is not None:
                err = "no @ modifiers allowed before range"
            if err:
                self.add_error(err, PosRange(open_tok.pos, close.end))
                return expr
            return MatrixSelector(expr, self.to_ms(rng), pos=PosRange(expr.pos.start, close.end))
        if not self.at(T.COLON):
            self.unexpected("subquery or range", '":" or "]"')
        self.advance()
        step_ms = 0
        if not self.at(T.RIGHT_BRACKET):
            if not self.at_duration_start():
                self.unexpected("subquery selector", 'number, duration, step(), range(), or "]"')
            step_ms = self.to_ms(self.positive(self.duration_expr(0)))
            if not self.at(T.RIGHT_BRACKET):
                self.unexpected("subquery selector", '"]"')
        close = self.advance()
        return SubqueryExpr(expr, self.to_ms(rng), step_ms, pos=PosRange(expr.pos.start, close.end))

    def at_duration_start(self) -> bool:
        return self.at(T.NUMBER, T.DURATION, T.ADD, T.SUB, T.LEFT_PAREN, T.STEP, T.RANGE, T.MAX_OF, T.MIN_OF)

    def positive(self, d: _Dur) -> _Dur:
        if d.value <= 0 or math.isnan(d.value):
            self.add_error("duration must be greater than 0", d.pos)
            return _Dur(0.0, d.pos, True)
        return d

    @staticmethod
    def to_ms(d: _Dur) -> int:
        if d.literal:
            ns = round(d.value * 1e9)
            return int(ns / 1_000_000) if ns < 0 else ns // 1_000_000
        return int(d.value * 1000)

    def offset(self, expr: Expr) -> Expr:
        self.advance()
        d = self.offset_duration()
        ms = self.to_ms(d)
        end = self.tokens[self.i - 1].end
        if isinstance(expr, VectorSelector):
            if expr.offset_ms != 0:
                self.add_error("offset may not be set multiple times", expr.pos)
                return expr
            return replace(expr, offset_ms=ms, pos=PosRange(expr.pos.start, end))
        if isinstance(expr, MatrixSelector):
            if expr.vector.offset_ms != 0:
                self.add_error("offset may not be set multiple times", expr.pos)
                return expr
            return replace(expr, vector=replace(expr.vector, offset_ms=ms), pos=PosRange(expr.pos.start, end))
        if isinstance(expr, SubqueryExpr):
            if expr.offset_ms != 0:
                self.add_error("offset may not be set multiple times", expr.pos)
                return expr
            return replace(expr, offset_ms=ms, pos=PosRange(expr.pos.start, end))
        self.add_error(
            "offset modifier must be preceded by " + _PRECEDED_BY,
            expr.pos,
        )
        return expr

    def offset_duration(self) -> _Dur:
        """`offset_duration_expr`: a signed literal, `(expr)`, step()/range()/min_of/max_of."""
        t = self.tok
        if t.kind in (T.ADD, T.SUB):
            self.advance()
            inner = self.offset_duration_atom(signed=True)
            value = -inner.value if t.kind is T.SUB else inner.value
            if inner.literal and abs(value) > _MAX_DURATION_S:
                self.add_error("duration out of range", PosRange(t.pos, t.end))
                return _Dur(0.0, PosRange(t.pos, inner.pos.end), True)
            return _Dur(value, PosRange(t.pos, inner.pos.end), inner.literal)
        return self.offset_duration_atom(signed=False)

    def offset_duration_atom(self, signed: bool) -> _Dur:
        t = self.tok
        if t.kind in (T.NUMBER, T.DURATION):
            self.advance()
            v = self.token_seconds(t)
            if not signed and abs(v) > _MAX_DURATION_S:
                self.add_error("duration out of range", PosRange(t.pos, t.end))
                return _Dur(0.0, PosRange(t.pos, t.end), True)
            return _Dur(v, PosRange(t.pos, t.end), True)
        if t.kind in (T.LEFT_PAREN, T.STEP, T.RANGE, T.MAX_OF, T.MIN_OF):
            return self.duration_atom()
        self.unexpected("offset", "number, duration, step(), or range()")
        raise AssertionError("unreachable")

    # Duration expressions: + - (left), * / % (left), ^ (right), unary minus like MUL.
    def duration_expr(self, min_prec: int) -> _Dur:
        self.enter()
        try:
            return self._duration_expr(min_prec)
        finally:
            self.depth -= 1

    def _duration_expr(self, min_prec: int) -> _Dur:
        lhs = self.duration_unary()
        while True:
            kind = self.tok.kind
            prec = {T.ADD: 4, T.SUB: 4, T.MUL: 5, T.DIV: 5, T.MOD: 5, T.POW: 6}.get(kind)
            if prec is None or prec < min_prec:
                return lhs
            op = self.advance()
            if not self.at_duration_start():
                self.unexpected()
            rhs = self.duration_expr(prec if kind is T.POW else prec + 1)
            lhs = self.fold(op, lhs, rhs)

    def fold(self, op: Token, lhs: _Dur, rhs: _Dur) -> _Dur:
        a, b = lhs.value, rhs.value
        pos = PosRange(lhs.pos.start, rhs.pos.end)
        k = op.kind
        if k is T.ADD:
            v = a + b
        elif k is T.SUB:
            v = a - b
        elif k is T.MUL:
            v = a * b
        elif k is T.DIV:
            if b == 0:
                self.add_error("division by zero", PosRange(op.pos, op.end))
                return _Dur(0.0, pos, False)
            v = a / b
        elif k is T.MOD:
            if b == 0:
                self.add_error("modulo by zero", PosRange(op.pos, op.end))
                return _Dur(0.0, pos, False)
            v = math.fmod(a, b)
        else:
            try:
                v = math.pow(a, b)
            except (OverflowError, ValueError):
                v = math.inf if a > 0 else math.nan
        return _Dur(v, pos, False)

    def duration_unary(self) -> _Dur:
        if self.at(T.ADD, T.SUB):
            op = self.advance()
            if not self.at_duration_start():
                self.unexpected()
            inner = self.duration_expr(_POW_PREC)
            value = -inner.value if op.kind is T.SUB else inner.value
            if inner.literal and abs(value) > _MAX_DURATION_S:
                self.add_error("duration out of range", PosRange(op.pos, op.end))
                return _Dur(0.0, PosRange(op.pos, inner.pos.end), True)
            return _Dur(value, PosRange(op.pos, inner.pos.end), inner.literal)
        return self.duration_atom()

    def duration_atom(self) -> _Dur:
        t = self.tok
        if t.kind in (T.NUMBER, T.DURATION):
            self.advance()
            v = self.token_seconds(t)
            if abs(v) > _MAX_DURATION_S:
                self.add_error("duration out of range", PosRange(t.pos, t.end))
                return _Dur(0.0, PosRange(t.pos, t.end), True)
            return _Dur(v, PosRange(t.pos, t.end), True)
        if t.kind is T.LEFT_PAREN:
            self.advance()
            inner = self.duration_expr(0)
            close = self.tok
            if close.kind is not T.RIGHT_PAREN:
                self.unexpected()
            self.advance()
            return _Dur(inner.value, PosRange(t.pos, close.end), False)
        if t.kind in (T.STEP, T.RANGE):
            self.advance()
            self.expect(T.LEFT_PAREN, "", "")
            close = self.expect(T.RIGHT_PAREN, "", "")
            self.add_error(
                f"{t.val.lower()}() in a duration is not supported by Heron"
                " (it depends on the query's step and range)",
                PosRange(t.pos, close.end),
            )
            return _Dur(1.0, PosRange(t.pos, close.end), False)
        if t.kind in (T.MAX_OF, T.MIN_OF):
            self.advance()
            self.expect(T.LEFT_PAREN, "", "")
            a = self.duration_expr(0)
            self.expect(T.COMMA, "", "")
            b = self.duration_expr(0)
            close = self.expect(T.RIGHT_PAREN, "", "")
            v = max(a.value, b.value) if t.kind is T.MAX_OF else min(a.value, b.value)
            return _Dur(v, PosRange(t.pos, close.end), False)
        self.unexpected()
        raise AssertionError("unreachable")

    def at_modifier(self, expr: Expr) -> Expr:
        self.advance()
        t = self.tok
        at: AtModifier
        if t.kind in (T.START, T.END):
            self.advance()
            self.expect(T.LEFT_PAREN, "@", "timestamp")
            self.expect(T.RIGHT_PAREN, "@", "timestamp")
            at = AtModifier(start_end=t.val.lower())
        else:
            sign = 1.0
            if t.kind in (T.ADD, T.SUB):
                self.advance()
                sign = -1.0 if t.kind is T.SUB else 1.0
            if not self.at(T.NUMBER, T.DURATION):
                self.unexpected("@", "timestamp")
            num = self.advance()
            ts = sign * self.token_seconds(num)
            if math.isinf(ts) or math.isnan(ts) or ts >= 2.0**63 or ts <= -(2.0**63):
                self.add_error(f"timestamp out of bounds for @ modifier: {_go_f(ts)}", expr.pos)
                return expr
            at = AtModifier(
                timestamp_ms=int(math.floor(ts * 1000 + 0.5))
                if ts >= 0
                else -int(math.floor(-ts * 1000 + 0.5))
            )
        end = self.tokens[self.i - 1].end
        if isinstance(expr, VectorSelector):
            target_at = expr.at
        elif isinstance(expr, MatrixSelector):
            target_at = expr.vector.at
        elif isinstance(expr, SubqueryExpr):
            target_at = expr.at
        else:
            self.add_error(
                "@ modifier must be preceded by " + _PRECEDED_BY,
                expr.pos,
            )
            return expr
        if target_at is not None:
            self.add_error("@ <timestamp> may not be set multiple times", expr.pos)
            return expr
        if isinstance(expr, MatrixSelector):
            return replace(expr, vector=replace(expr.vector, at=at), pos=PosRange(expr.pos.start, end))
        return replace(expr, at=at, pos=PosRange(expr.pos.start, end))

    # --- selectors -----------------------------------------------------------------------
    def vector_selector(self) -> VectorSelector:
        name = ""
        start = self.tok.pos
        end = self.tok.end
        if self.tok.kind in _METRIC_IDENT:
            name = self.advance().val
        matchers: list[Matcher] = []
        if self.at(T.LEFT_BRACE):
            matchers, end = self.label_matchers()
        if name:
            matchers.insert(0, Matcher("__name__", MatchOp.EQ, name))
        return VectorSelector(name, tuple(matchers), pos=PosRange(start, end))

    def label_matchers(self) -> tuple[list[Matcher], int]:
        self.advance()  # {
        out: list[Matcher] = []
        if self.at(T.RIGHT_BRACE):
            return out, self.advance().end
        while True:
            m = self.label_matcher()
            if m is not None:
                out.append(m)
            if self.at(T.RIGHT_BRACE):
                return out, self.advance().end
            if not self.at(T.COMMA):
                self.unexpected("label matching", '"," or "}"')
            self.advance()
            if self.at(T.RIGHT_BRACE):
                return out, self.advance().end

    def label_matcher(self) -> Matcher | None:
        t = self.tok
        if t.kind is T.IDENTIFIER:
            self.advance()
            label = t.val
            if self.tok.kind not in _MATCH_OPS:
                self.unexpected("label matching", "label matching operator")
        elif t.kind is T.STRING:
            self.advance()
            label = self.unquote(t)
            if self.tok.kind not in _MATCH_OPS:
                # A quoted name alone is the metric name: `{"my.metric"}`.
                return self.matcher("__name__", MatchOp.EQ, label, PosRange(t.pos, t.end))
        else:
            self.unexpected("label matching", 'identifier or "}"')
            raise AssertionError("unreachable")
        op = _MATCH_OPS[self.advance().kind]
        if not self.at(T.STRING):
            self.unexpected("label matching", "string")
        v = self.advance()
        return self.matcher(label, op, self.unquote(v), PosRange(t.pos, v.end))

    def matcher(self, name: str, op: MatchOp, value: str, pos: PosRange) -> Matcher | None:
        if op in (MatchOp.RE, MatchOp.NRE):
            try:
                compiled = compile_matcher_regex(value)
            except RegexError as exc:
                self.add_error(str(exc), pos)
                return None
            return _regex_matcher(name, op, value, compiled)
        return Matcher(name, op, value)

    # --- aggregations and calls ----------------------------------------------------------
    def grouping_labels(self) -> tuple[str, ...]:
        if not self.at(T.LEFT_PAREN):
            self.unexpected("grouping opts", '"("')
        self.advance()
        out: list[str] = []
        if self.at(T.RIGHT_PAREN):
            self.advance()
            return ()
        while True:
            t = self.tok
            if t.kind in _MAYBE_LABEL:
                self.advance()
                label = t.val
            elif t.kind is T.STRING:
                self.advance()
                label = self.unquote(t)
                if not label:  # every other valid UTF-8 name is a valid label name
                    self.add_error('invalid label name for grouping: ""', PosRange(t.pos, t.end))
            else:
                self.unexpected("grouping opts", "label")
                raise AssertionError("unreachable")
            out.append(label)
            if self.at(T.RIGHT_PAREN):
                self.advance()
                return tuple(out)
            if not self.at(T.COMMA):
                self.unexpected("grouping opts", '"," or ")"')
            self.advance()
            if self.at(T.RIGHT_PAREN):
                self.advance()
                return tuple(out)

    def call_body(self) -> tuple[list[Expr], int]:
        self.advance()  # (
        args: list[Expr] = []
        if self.at(T.RIGHT_PAREN):
            return args, self.advance().end
        while True:
            args.append(self.expr(0))
            if self.at(T.RIGHT_PAREN):
                return args, self.advance().end
            if not self.at(T.COMMA):
                self.unexpected()
            comma = self.advance()
            if self.at(T.ERROR):  # a lexing error is recorded when read, before any reduction
                self.lex_error(self.tok)
            if self.tok.kind not in _EXPR_START:
                # yacc reduces `args COMMA` (the trailing-comma rule) on any token that cannot
                # start an argument, so that error comes first, before any syntax error here.
                self.add_error(
                    "trailing commas not allowed in function call args", PosRange(comma.pos, comma.end)
                )
                if not self.at(T.RIGHT_PAREN):
                    self.unexpected()
                return args, self.advance().end

    def aggregate(self) -> Expr:
        op = self.advance()
        grouping: tuple[str, ...] = ()
        without = False
        modifier = False
        if self.at(T.BY, T.WITHOUT):
            without = self.advance().kind is T.WITHOUT
            grouping = self.grouping_labels()
            modifier = True
        if not self.at(T.LEFT_PAREN):
            self.unexpected("aggregation" if modifier else "", "")
        self.agg_depth += 1
        try:
            args, end = self.call_body()
        finally:
            self.agg_depth -= 1
        if self.at(T.ERROR):
            # yacc reads the token after `)` (is a `by` coming?) before building the
            # aggregation, so a lexing error there is recorded before the arity checks.
            self.lex_error(self.tok)
        if not modifier and self.at(T.BY, T.WITHOUT):
            without = self.advance().kind is T.WITHOUT
            grouping = self.grouping_labels()
            end = self.tokens[self.i - 1].end
        pos = PosRange(op.pos, end)
        name = op.val.lower()
        placeholder = AggregateExpr(name, NumberLiteral(0.0), None, grouping, without, pos=pos)
        if not args:
            self.add_error("no arguments for aggregate expression provided", pos)
            return placeholder
        want = 2 if op.kind in _PARAM_AGGS else 1
        if len(args) != want:
            self.add_error(
                "wrong number of arguments for aggregate expression provided, "
                f"expected {want}, got {len(args)}",
                pos,
            )
            return placeholder
        param = args[0] if want == 2 else None
        return AggregateExpr(name, args[-1], param, grouping, without, pos=pos)

    def call(self) -> Expr:
        name_tok = self.advance()
        name = name_tok.val
        sig = SIGNATURES.get(name)
        # Checked once the arguments are parsed, as yacc's reduction does: an error inside them
        # (or an inner unknown function) comes first.
        args, end = self.call_body()
        if sig is None:
            self.add_error(f'unknown function with name "{name}"', PosRange(name_tok.pos, name_tok.end))
        ret = sig.return_type if sig is not None else ValueType.VECTOR
        return Call(name, tuple(args), ret, pos=PosRange(name_tok.pos, end))

    # --- the semantic pass (checkAST) ----------------------------------------------------
    def check_depth(self, root: Expr) -> None:
        """Refuse trees deeper than MAX_TREE_DEPTH (long `a + b + c ...` chains are left-deep),
        measured without recursion, before the recursive passes and the evaluator see them."""
        stack: list[tuple[Expr, int]] = [(root, 1)]
        while stack:
            node, d = stack.pop()
            if d > MAX_TREE_DEPTH:
                self.add_error(f"query is nested too deeply (more than {MAX_TREE_DEPTH} levels)", root.pos)
                raise self.errors[0]
            stack.extend((c, d + 1) for c in _children(node))

    def expect_type(self, node: Expr, want: ValueType, context: str) -> None:
        t = self.check(node)
        if t is not want:
            self.add_error(f"expected type {_DOC_TYPE[want]} in {context}, got {_DOC_TYPE[t]}", node.pos)

    def op_range(self, n: BinaryExpr) -> PosRange:
        s, e = n.lhs.pos.end, n.rhs.pos.start - 1
        q = self.query
        while s < len(q) and q[s] in " \t\n\r":
            s += 1
        while e > 0 and q[e] in " \t\n\r":
            e -= 1
        return PosRange(s, e)

    def check(self, node: Expr, bypass_empty: bool = False) -> ValueType:
        typ = node.type
        if isinstance(node, AggregateExpr):
            self.expect_type(node.expr, ValueType.VECTOR, "aggregation expression")
            if node.op in ("topk", "bottomk", "quantile", "limitk", "limit_ratio") and node.param is not None:
                self.expect_type(node.param, ValueType.SCALAR, "aggregation parameter")
            if node.op == "count_values" and node.param is not None:
                self.expect_type(node.param, ValueType.STRING, "aggregation parameter")
        elif isinstance(node, BinaryExpr):
            self.check_binary(node)
        elif isinstance(node, Call):
            self.check_call(node)
        elif isinstance(node, ParenExpr):
            self.check(node.expr)
        elif isinstance(node, UnaryExpr):
            t = self.check(node.expr)
            if t not in (ValueType.SCALAR, ValueType.VECTOR):
                self.add_error(
                    "unary expression only allowed on expressions of type scalar or instant vector, "
                    f'got "{_DOC_TYPE[t]}"',
                    node.pos,
                )
        elif isinstance(node, SubqueryExpr):
            t = self.check(node.expr)
            if t is not ValueType.VECTOR:
                self.add_error(f"subquery is only allowed on instant vector, got {t.value} instead", node.pos)
        elif isinstance(node, MatrixSelector):
            self.check(node.vector)
        elif isinstance(node, VectorSelector):
            if node.name:
                for m in node.matchers[1:]:
                    if m.name == "__name__":
                        self.add_error(
                            f'metric name must not be set twice: "{node.name}" or "{m.value}"', node.pos
                        )
            elif not bypass_empty and not any(not m.matches("") for m in node.matchers):
                self.add_error("vector selector must contain at least one non-empty matcher", node.pos)
        return typ

    def check_binary(self, n: BinaryExpr) -> None:
        lt = self.check(n.lhs)
        rt = self.check(n.rhs)
        op = n.op
        is_cmp = op in ("==", "!=", "<=", "<", ">=", ">")
        is_set = op in ("and", "or", "unless")
        vm = n.matching
        if n.return_bool and not is_cmp:
            self.add_error("bool modifier can only be used on comparison operators", self.op_range(n))
        if is_cmp and not n.return_bool and lt is ValueType.SCALAR and rt is ValueType.SCALAR:
            self.add_error("comparisons between scalars must use BOOL modifier", self.op_range(n))
        if vm is not None and vm.on:
            for label in vm.matching_labels:
                if label in vm.include:
                    self.add_error(
                        f'label "{label}" must not occur in ON and GROUP clause at once', self.op_range(n)
                    )
        for side, t in ((n.lhs, lt), (n.rhs, rt)):
            if t not in (ValueType.SCALAR, ValueType.VECTOR):
                self.add_error(
                    "binary expression must contain only scalar and instant vector types", side.pos
                )
        if (lt is not ValueType.VECTOR or rt is not ValueType.VECTOR) and vm is not None:
            if vm.matching_labels:
                self.add_error("vector matching only allowed between instant vectors", n.pos)
        elif is_set and vm is not None:
            if vm.card in (Cardinality.ONE_TO_MANY, Cardinality.MANY_TO_ONE):
                self.add_error(f'no grouping allowed for "{op}" operation', n.pos)
                self.add_error("set operations must always be many-to-many", n.pos)
        if (lt is ValueType.SCALAR or rt is ValueType.SCALAR) and is_set:
            self.add_error(f'set operator "{op}" not allowed in binary scalar expression', n.pos)

    def check_call(self, n: Call) -> None:
        sig = SIGNATURES[n.func]
        nargs = len(sig.arg_types)
        if sig.variadic == 0:
            if nargs != len(n.args):
                self.add_error(
                    f'expected {nargs} argument(s) in call to "{n.func}", got {len(n.args)}', n.pos
                )
        else:
            na = nargs - 1
            if na > len(n.args):
                self.add_error(
                    f'expected at least {na} argument(s) in call to "{n.func}", got {len(n.args)}', n.pos
                )
            elif sig.variadic > 0 and na + sig.variadic < len(n.args):
                self.add_error(
                    f"expected at most {na + sig.variadic} argument(s) "
                    f'in call to "{n.func}", got {len(n.args)}',
                    n.pos,
                )
        bypass = False
        if n.func == "info" and len(n.args) > 1:
            second = n.args[1]
            if second.type is not ValueType.VECTOR:
                self.add_error(
                    f'expected type instant vector in call to function "info", got {_DOC_TYPE[second.type]}',
                    n.pos,
                )
            if isinstance(second, VectorSelector) and second.name:
                self.add_error("expected label selectors only, got vector selector instead", second.pos)
            elif isinstance(second, VectorSelector):
                bypass = True
            else:
                self.add_error("expected label selectors only", second.pos)
        for i, arg in enumerate(n.args):
            if i >= nargs and sig.variadic == 0:
                break
            want = sig.arg_type(i)
            t = self.check(arg, bypass_empty=bypass and i == 1)
            if t is not want:
                self.add_error(
                    f'expected type {_DOC_TYPE[want]} in call to function "{n.func}", got {_DOC_TYPE[t]}',
                    arg.pos,
                )


def _children(e: Expr) -> list[Expr]:
    if isinstance(e, (ParenExpr, UnaryExpr, SubqueryExpr)):
        return [e.expr]
    if isinstance(e, MatrixSelector):
        return [e.vector]
    if isinstance(e, BinaryExpr):
        return [e.lhs, e.rhs]
    if isinstance(e, AggregateExpr):
        return [e.expr] if e.param is None else [e.param, e.expr]
    if isinstance(e, Call):
        return list(e.args)
    return []


def _fix_matching(expr: Expr) -> Expr:
    """Set operators are many-to-many, and matching is dropped unless both sides are vectors
    (Prometheus' checkAST does this in place; Heron's nodes are frozen, so it rebuilds)."""
    if isinstance(expr, BinaryExpr):
        lhs, rhs = _fix_matching(expr.lhs), _fix_matching(expr.rhs)
        vm = expr.matching
        if lhs.type is not ValueType.VECTOR or rhs.type is not ValueType.VECTOR:
            vm = None
        elif vm is not None and expr.op in ("and", "or", "unless") and vm.card is Cardinality.ONE_TO_ONE:
            vm = replace(vm, card=Cardinality.MANY_TO_MANY)
        return replace(expr, lhs=lhs, rhs=rhs, matching=vm)
    if isinstance(expr, ParenExpr):
        return replace(expr, expr=_fix_matching(expr.expr))
    if isinstance(expr, UnaryExpr):
        return replace(expr, expr=_fix_matching(expr.expr))
    if isinstance(expr, SubqueryExpr):
        return replace(expr, expr=_fix_matching(expr.expr))
    if isinstance(expr, AggregateExpr):
        param = _fix_matching(expr.param) if expr.param is not None else None
        return replace(expr, expr=_fix_matching(expr.expr), param=param)
    if isinstance(expr, Call):
        return replace(expr, args=tuple(_fix_matching(a) for a in expr.args))
    return expr


def _regex_matcher(name: str, op: MatchOp, value: str, compiled: re.Pattern[str]) -> Matcher:
    """A `heron.model.Matcher` holding a regex compiled from Go syntax.

    `Matcher` compiles its value as Python syntax, which refuses Go-valid patterns such as
    `(?i)foo` (see `goregex`); the Go-translated pattern is installed instead, while `value`
    (what equality and printing use) stays exactly as written."""
    try:
        return Matcher(name, op, value)
    except ValueError:
        m = object.__new__(Matcher)
        object.__setattr__(m, "name", name)
        object.__setattr__(m, "op", op)
        object.__setattr__(m, "value", value)
        object.__setattr__(m, "_regex", compiled)
        return m


def parse_expr(query: str) -> Expr:
    """Parse a PromQL expression; raises `ParseError` (and nothing else) for invalid input."""
    p = _Parser(query)
    expr = p.parse()
    return _fix_matching(expr)


def parse_selector(text: str) -> VectorSelector:
    """Parse a series selector (`match[]`), as Prometheus' `ParseMetricSelector`."""
    return _Parser(text).parse_selector()
