"""PromQL's lexer, following the state machine of Prometheus' `promql/parser/lex.go`.

The whole query is tokenised up front: the lexer's state (open braces, brackets, paren depth)
depends only on the text, never on the parser, so the token list is the same one Prometheus'
parser pulls lazily. A lexing error ends the list with an ERROR token carrying Prometheus'
message; the parser reports it when it reaches that token, so an earlier syntax error still
wins, as in Prometheus.

Quirks kept on purpose, since they decide what parses:

* Keywords (`sum`, `by`, `offset`, `and`...) are case-insensitive; `inf` and `nan` are NUMBER.
* Inside `{...}` every word is an IDENTIFIER (so `{by="x"}` works) and strings may name labels.
* Inside `[...]` only durations, numbers, `:`, arithmetic and the duration keywords lex.
* A number directly followed by duration units is one DURATION token (`5m`, `1h30m`).
* Positions are character offsets (Prometheus counts bytes; Heron's AST counts characters).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["T", "Token", "tokenize", "KEYWORDS", "AGGREGATORS", "OPERATORS"]


class T(enum.Enum):
    """Token kinds (a subset of Prometheus' ItemType: no series-description tokens)."""

    EOF = "EOF"
    ERROR = "ERROR"
    COMMENT = "COMMENT"
    IDENTIFIER = "IDENTIFIER"
    METRIC_IDENTIFIER = "METRIC_IDENTIFIER"
    LEFT_PAREN = "("
    RIGHT_PAREN = ")"
    LEFT_BRACE = "{"
    RIGHT_BRACE = "}"
    LEFT_BRACKET = "["
    RIGHT_BRACKET = "]"
    COMMA = ","
    EQL = "="
    COLON = ":"
    STRING = "STRING"
    NUMBER = "NUMBER"
    DURATION = "DURATION"
    # Operators.
    ADD = "+"
    SUB = "-"
    MUL = "*"
    DIV = "/"
    MOD = "%"
    POW = "^"
    EQLC = "=="
    NEQ = "!="
    LTE = "<="
    LSS = "<"
    GTE = ">="
    GTR = ">"
    EQL_REGEX = "=~"
    NEQ_REGEX = "!~"
    LAND = "and"
    LOR = "or"
    LUNLESS = "unless"
    ATAN2 = "atan2"
    AT = "@"
    TRIM_UPPER = "</"
    TRIM_LOWER = ">/"
    # Aggregators.
    AVG = "avg"
    BOTTOMK = "bottomk"
    COUNT = "count"
    COUNT_VALUES = "count_values"
    GROUP = "group"
    MAX = "max"
    MIN = "min"
    QUANTILE = "quantile"
    STDDEV = "stddev"
    STDVAR = "stdvar"
    SUM = "sum"
    TOPK = "topk"
    LIMITK = "limitk"
    LIMIT_RATIO = "limit_ratio"
    # Keywords.
    BOOL = "bool"
    BY = "by"
    GROUP_LEFT = "group_left"
    GROUP_RIGHT = "group_right"
    IGNORING = "ignoring"
    OFFSET = "offset"
    SMOOTHED = "smoothed"
    ANCHORED = "anchored"
    ON = "on"
    WITHOUT = "without"
    FILL = "fill"
    FILL_LEFT = "fill_left"
    FILL_RIGHT = "fill_right"
    # Preprocessors.
    START = "start"
    END = "end"
    STEP = "step"
    RANGE = "range"
    MAX_OF = "max_of"
    MIN_OF = "min_of"


OPERATORS = frozenset(
    {
        T.ADD,
        T.SUB,
        T.MUL,
        T.DIV,
        T.MOD,
        T.POW,
        T.EQLC,
        T.NEQ,
        T.LTE,
        T.LSS,
        T.GTE,
        T.GTR,
        T.EQL_REGEX,
        T.NEQ_REGEX,
        T.LAND,
        T.LOR,
        T.LUNLESS,
        T.ATAN2,
        T.AT,
        T.TRIM_UPPER,
        T.TRIM_LOWER,
    }
)
AGGREGATORS = frozenset(
    {
        T.AVG,
        T.BOTTOMK,
        T.COUNT,
        T.COUNT_VALUES,
        T.GROUP,
        T.MAX,
        T.MIN,
        T.QUANTILE,
        T.STDDEV,
        T.STDVAR,
        T.SUM,
        T.TOPK,
        T.LIMITK,
        T.LIMIT_RATIO,
    }
)
_KEYWORD_KINDS = frozenset(
    {
        T.BOOL,
        T.BY,
        T.GROUP_LEFT,
        T.GROUP_RIGHT,
        T.IGNORING,
        T.OFFSET,
        T.SMOOTHED,
        T.ANCHORED,
        T.ON,
        T.WITHOUT,
        T.FILL,
        T.FILL_LEFT,
        T.FILL_RIGHT,
    }
)
# Not keywords in Prometheus' item classes: they print quoted (`unexpected "start"`).
_PREPROCESSOR_KINDS = frozenset({T.START, T.END, T.STEP, T.RANGE, T.MAX_OF, T.MIN_OF})
# Words the lexer turns into keyword/operator/aggregator tokens outside braces (lex.go `key`).
KEYWORDS: dict[str, T] = {
    kind.value: kind
    for kind in (*AGGREGATORS, *_KEYWORD_KINDS, *_PREPROCESSOR_KINDS, T.LAND, T.LOR, T.LUNLESS, T.ATAN2)
}
_DURATION_KEYWORDS = {"step": T.STEP, "range": T.RANGE, "max_of": T.MAX_OF, "min_of": T.MIN_OF}
# Kinds whose description in "unexpected ..." messages is the token itself (lex.go ItemTypeStr).
_PUNCTUATION = frozenset(
    {
        T.LEFT_PAREN,
        T.RIGHT_PAREN,
        T.LEFT_BRACE,
        T.RIGHT_BRACE,
        T.LEFT_BRACKET,
        T.RIGHT_BRACKET,
        T.COMMA,
        T.EQL,
        T.COLON,
    }
)
_KIND_DESC = {
    T.ERROR: "error",
    T.EOF: "end of input",
    T.COMMENT: "comment",
    T.IDENTIFIER: "identifier",
    T.METRIC_IDENTIFIER: "metric identifier",
    T.STRING: "string",
    T.NUMBER: "number",
    T.DURATION: "duration",
}


def _go_quote_short(s: str) -> str:
    """Go's `%q` of a token value (the values here are printable ASCII-ish source text)."""
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


@dataclass(frozen=True)
class Token:
    kind: T
    pos: int  # character offset of the first character
    val: str  # the source text (for ERROR, the message)

    @property
    def end(self) -> int:
        return self.pos + len(self.val)

    def __str__(self) -> str:
        """Prometheus' `Item.String()`."""
        if self.kind is T.EOF:
            return "EOF"
        if self.kind is T.ERROR:
            return self.val
        if self.kind in (T.IDENTIFIER, T.METRIC_IDENTIFIER):
            return _go_quote_short(self.val)
        if self.kind in _KEYWORD_KINDS:
            return f"<{self.val}>"
        if self.kind in OPERATORS:
            return f"<op:{self.val}>"
        if self.kind in AGGREGATORS:
            return f"<aggr:{self.val}>"
        if len(self.val) > 10:
            return _go_quote_short(self.val[:10]) + "..."
        return _go_quote_short(self.val)

    def desc(self) -> str:
        """Prometheus' `Item.desc()`, as "unexpected <desc>" messages print it."""
        if self.kind in _PUNCTUATION or self.kind in OPERATORS or self.kind in KEYWORDS.values():
            return str(self)
        if self.kind is T.EOF:
            return "end of input"
        return f"{_KIND_DESC.get(self.kind, self.kind.value)} {self}"


def _is_alpha(c: str) -> bool:
    return c == "_" or ("a" <= c <= "z") or ("A" <= c <= "Z")


def _is_digit(c: str) -> bool:
    return "0" <= c <= "9"


def _is_alnum(c: str) -> bool:
    return _is_alpha(c) or _is_digit(c)


_SPACE = " \t\n\r"


class _LexError(Exception):
    def __init__(self, msg: str, pos: int) -> None:
        super().__init__(msg)
        self.msg = msg
        self.pos = pos


def _q(ch: str) -> str:
    """Go's `%q` of a rune: `'x'`."""
    if ch == "'":
        return "'\\''"
    if ch == "\\":
        return "'\\\\'"
    if ch == "\n":
        return "'\\n'"
    if ch == "\t":
        return "'\\t'"
    if ch == "\r":
        return "'\\r'"
    if ch.isprintable():
        return f"'{ch}'"
    return f"'\\u{ord(ch):04x}'" if ord(ch) < 0x10000 else f"'\\U{ord(ch):08x}'"


def _u(ch: str) -> str:
    """Go's `%#U` of a rune: `U+0067 'g'`."""
    return f"U+{ord(ch):04X} {_q(ch)}" if ch.isprintable() else f"U+{ord(ch):04X}"


class _Lexer:
    def __init__(self, text: str) -> None:
        self.s = text
        self.n = len(text)
        self.pos = 0
        self.start = 0
        self.tokens: list[Token] = []
        self.paren_depth = 0
        self.brace_open = False
        self.bracket_open = False
        self.got_colon = False
        self.got_duration = False
        self.in_duration_expr = False  # lexDurationExpr is the current state

    # --- helpers -------------------------------------------------------------------------
    def peek(self, k: int = 0) -> str:
        i = self.pos + k
        return self.s[i] if i < self.n else ""

    def next(self) -> str:
        if self.pos >= self.n:
            return ""
        c = self.s[self.pos]
        self.pos += 1
        return c

    def accept(self, valid: str) -> bool:
        c = self.peek()
        if c and c in valid:
            self.pos += 1
            return True
        return False

    def emit(self, kind: T) -> None:
        self.tokens.append(Token(kind, self.start, self.s[self.start : self.pos]))
        self.start = self.pos

    def fail(self, msg: str) -> None:
        raise _LexError(msg, self.start)

    def skip_spaces(self) -> None:
        while self.peek() and self.peek() in _SPACE:
            self.pos += 1
        self.start = self.pos

    # --- states --------------------------------------------------------------------------
    def run(self) -> list[Token]:
        try:
            while True:
                if self.brace_open:
                    self.inside_braces()
                elif self.in_duration_expr:
                    self.duration_expr()
                elif self.statement():
                    break
        except _LexError as exc:
            self.tokens.append(Token(T.ERROR, exc.pos, exc.msg))
        return self.tokens

    def comment(self) -> None:
        while self.peek() and self.peek() not in "\r\n":
            self.pos += 1
        self.emit(T.COMMENT)

    def statement(self) -> bool:
        """One step of lexStatements; True at the end of input."""
        if self.s.startswith("#", self.pos):
            self.comment()
            return False
        r = self.next()
        if r == "":
            if self.paren_depth != 0:
                self.fail("unclosed left parenthesis")
            if self.bracket_open:
                self.fail("unclosed left bracket")
            self.emit(T.EOF)
            return True
        simple = {
            ",": T.COMMA,
            "*": T.MUL,
            "/": T.DIV,
            "%": T.MOD,
            "+": T.ADD,
            "-": T.SUB,
            "^": T.POW,
            "@": T.AT,
        }
        if r in simple:
            self.emit(simple[r])
        elif r in _SPACE:
            self.skip_spaces()
        elif r == "=":
            t = self.peek()
            if t == "=":
                self.pos += 1
                self.emit(T.EQLC)
            elif t == "~":
                self.fail(f"unexpected character after '=': {_q(t)}")
            else:
                self.emit(T.EQL)
        elif r == "!":
            t = self.next()
            if t != "=":
                self.fail(f"unexpected character after '!': {_q(t) if t else 'U+FFFFFFFF'}")
            self.emit(T.NEQ)
        elif r in "<>":
            if self.accept("="):
                self.emit(T.LTE if r == "<" else T.GTE)
            elif self.accept("/"):
                self.emit(T.TRIM_UPPER if r == "<" else T.TRIM_LOWER)
            else:
                self.emit(T.LSS if r == "<" else T.GTR)
        elif _is_digit(r) or (r == "." and _is_digit(self.peek())):
            self.pos -= 1
            self.number_or_duration()
        elif r in "\"'":
            self.string(r)
        elif r == "`":
            self.raw_string()
        elif (_is_alpha(r) or r == ":") and not self.bracket_open:
            self.pos -= 1
            self.keyword_or_identifier()
        elif r == ":":
            if self.got_colon:
                self.fail("unexpected colon ':'")
            self.emit(T.COLON)
            self.got_colon = True
        elif _is_alpha(r):
            self.pos -= 1
            if not (r.lower() in "srm" and self.duration_keyword()):
                self.pos = self.start + 1
                self.fail(f"unexpected character: {_q(r)}, expected ':'")
        elif r == "(":
            self.emit(T.LEFT_PAREN)
            self.paren_depth += 1
        elif r == ")":
            self.paren_depth -= 1
            if self.paren_depth < 0:
                # Go emits the token and then overwrites it with the error, positioned after it.
                self.start = self.pos
                self.fail("unexpected right parenthesis ')'")
            self.emit(T.RIGHT_PAREN)
        elif r == "{":
            self.emit(T.LEFT_BRACE)
            self.brace_open = True
        elif r == "[":
            if self.bracket_open:
                self.fail("unexpected left bracket '['")
            self.got_colon = False
            self.got_duration = False
            self.emit(T.LEFT_BRACKET)
            self.skip_spaces()
            self.bracket_open = True
            self.in_duration_expr = True
        elif r == "]":
            if not self.bracket_open:
                self.fail("unexpected right bracket ']'")
            self.emit(T.RIGHT_BRACKET)
            self.bracket_open = False
        elif r == "}":
            self.fail("unexpected character: '}'")
        else:
            self.fail(f"unexpected character: {_q(r)}")
        return False

    def inside_braces(self) -> None:
        if self.s.startswith("#", self.pos):
            self.comment()
            return
        r = self.next()
        if r == "":
            self.fail("unexpected end of input inside braces")
        elif r in _SPACE:
            self.skip_spaces()
        elif _is_alpha(r):
            while _is_alnum(self.peek()):
                self.pos += 1
            self.emit(T.IDENTIFIER)
        elif r == ",":
            self.emit(T.COMMA)
        elif r in "\"'":
            self.string(r)
        elif r == "`":
            self.raw_string()
        elif r == "=":
            if self.accept("~"):
                self.emit(T.EQL_REGEX)
            else:
                self.emit(T.EQL)
        elif r == "!":
            nr = self.next()
            if nr == "~":
                self.emit(T.NEQ_REGEX)
            elif nr == "=":
                self.emit(T.NEQ)
            else:
                self.fail(f"unexpected character after '!' inside braces: {_q(nr) if nr else 'U+FFFFFFFF'}")
        elif r == "{":
            self.fail("unexpected left brace '{'")
        elif r == "}":
            self.emit(T.RIGHT_BRACE)
            self.brace_open = False
        else:
            self.fail(f"unexpected character inside braces: {_q(r)}")

    def duration_expr(self) -> None:
        r = self.next()
        if r == "":
            self.fail("unexpected end of input in duration expression")
        simple = {"+": T.ADD, "-": T.SUB, "*": T.MUL, "/": T.DIV, "%": T.MOD, "^": T.POW, ",": T.COMMA}
        if r == "]":
            self.emit(T.RIGHT_BRACKET)
            self.bracket_open = False
            self.got_colon = False
            self.in_duration_expr = False
        elif r == ":":
            if not self.got_duration:
                self.start = self.pos
                self.fail("unexpected colon before duration in duration expression")
            if self.got_colon:
                self.start = self.pos
                self.fail("unexpected repeated colon in duration expression")
            self.emit(T.COLON)
            self.got_colon = True
        elif r == "(":
            self.emit(T.LEFT_PAREN)
            self.paren_depth += 1
        elif r == ")":
            self.paren_depth -= 1
            if self.paren_depth < 0:
                # Go emits the token and then overwrites it with the error, positioned after it.
                self.start = self.pos
                self.fail("unexpected right parenthesis ')'")
            self.emit(T.RIGHT_PAREN)
        elif r in _SPACE:
            self.skip_spaces()
        elif r in simple:
            self.emit(simple[r])
        elif r.lower() in "srm" and _is_alpha(r):
            self.pos -= 1
            if not self.duration_keyword():
                self.pos = self.start + 1
                self.fail(f"unexpected character in duration expression: {_q(r)}")
        elif _is_digit(r) or (r == "." and _is_digit(self.peek())):
            self.pos -= 1
            self.got_duration = True
            self.in_duration_expr = False
            self.number_or_duration()
        else:
            self.fail(f"unexpected character in duration expression: {_q(r)}")

    def duration_keyword(self) -> bool:
        while _is_alpha(self.peek()):
            self.pos += 1
        kind = _DURATION_KEYWORDS.get(self.s[self.start : self.pos].lower())
        if kind is None:
            return False
        self.emit(kind)
        return True

    def escape(self, quote: str) -> None:
        """lexEscape. Its errors do not stop Go's lexer: the ERROR token is emitted and the
        string goes on being read (the parser stops at that first ERROR all the same)."""
        ch = self.next()
        if ch and ch in "abfnrtv\\" + quote:
            return
        if ch == "":
            self.soft_error("escape sequence not terminated")
            return
        if ch in "01234567":
            n, base, max_val = 3, 8, 255
        elif ch == "x":
            ch = self.next()
            n, base, max_val = 2, 16, 255
        elif ch == "u":
            ch = self.next()
            n, base, max_val = 4, 16, 0x10FFFF
        elif ch == "U":
            ch = self.next()
            n, base, max_val = 8, 16, 0x10FFFF
        else:
            self.soft_error(f"unknown escape sequence {_u(ch)}")
            return
        x = 0
        while n > 0:
            d = int(ch, 16) if ch and ch in "0123456789abcdefABCDEF" else 16
            if d >= base:
                if ch == "":
                    self.soft_error("escape sequence not terminated")
                else:
                    self.soft_error(f"illegal character {_u(ch)} in escape sequence")
                return
            x = x * base + d
            n -= 1
            if n > 0:
                ch = self.next()
        if x > max_val or 0xD800 <= x < 0xE000:
            self.soft_error("escape sequence is an invalid Unicode code point")

    def soft_error(self, msg: str) -> None:
        self.tokens.append(Token(T.ERROR, self.start, msg))

    def string(self, quote: str) -> None:
        while True:
            c = self.next()
            if c == "\\":
                self.escape(quote)
            elif c == "" or c == "\n":
                self.fail("unterminated quoted string")
            elif c == quote:
                break
        self.emit(T.STRING)

    def raw_string(self) -> None:
        while True:
            c = self.next()
            if c == "":
                self.fail("unterminated raw string")
            if c == "`":
                break
        self.emit(T.STRING)

    def number_or_duration(self) -> None:
        if self.scan_number():
            self.emit(T.NUMBER)
            return
        if self.accept_remaining_duration():
            self.emit(T.DURATION)
            return
        self.fail(f"bad number or duration syntax: {_go_quote_short(self.s[self.start : self.pos])}")

    def accept_remaining_duration(self) -> bool:
        if not self.accept("smhdwy"):
            return False
        self.accept("s")
        while self.accept("0123456789"):
            while self.accept("0123456789"):
                pass
            if not self.accept("smhdw"):
                return False
            self.accept("s")
        if _is_alnum(self.peek()):
            self.pos += 1  # the offending character is part of the error message, as in Go
            return False
        return True

    def scan_number(self) -> bool:
        initial = self.pos
        digits = "0123456789"
        if self.peek() == "0" and self.peek(1) in ("x", "X"):
            self.pos += 2
            self.accept("_")
            digits = "0123456789abcdefABCDEF"
        self.accept(".")
        self.accept(digits)
        dot = exp = False
        while self.peek() and self.peek() in digits + "._eE":
            if self.peek() == "." and dot:
                self.pos += 1
                return False
            if self.peek() in "eE" and exp:
                self.pos += 1
                return False
            if self.accept("."):
                dot = True
                if self.accept("_."):
                    return False
                if len(digits) > 10:
                    return False
                continue
            if self.accept("eE"):
                exp = True
                self.accept("+-")
                if self.accept("._eE") or self.peek() == "":
                    return False
                continue
            if self.accept("_"):
                if self.accept("._eE") or self.peek() == "":
                    return False
                continue
            while self.peek() and self.peek() in digits:
                self.pos += 1
        if self.pos == initial:
            return False
        return not _is_alnum(self.peek())

    def keyword_or_identifier(self) -> None:
        while _is_alnum(self.peek()) or self.peek() == ":":
            self.pos += 1
        word = self.s[self.start : self.pos]
        lower = word.lower()
        kind = KEYWORDS.get(lower)
        if lower in ("inf", "nan"):
            self.emit(T.NUMBER)
        elif kind is not None:
            if kind in (T.FILL, T.FILL_LEFT, T.FILL_RIGHT) and not self._followed_by_paren():
                self.emit(T.IDENTIFIER)
            else:
                self.emit(kind)
        elif ":" in word:
            self.emit(T.METRIC_IDENTIFIER)
        else:
            self.emit(T.IDENTIFIER)

    def _followed_by_paren(self) -> bool:
        i = self.pos
        while i < self.n and self.s[i] in _SPACE:
            i += 1
        return i < self.n and self.s[i] == "("


def tokenize(text: str) -> list[Token]:
    """All tokens of `text`, comments included, ending with EOF or one ERROR token."""
    return _Lexer(text).run()
