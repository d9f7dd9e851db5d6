"""LogQL's lexer, a port of Loki's `lex.go` on top of Go's `text/scanner` rules.

Tokens are produced lazily, one at a time, because Loki's yacc parser reads its look-ahead
lazily too: the first error in the query text is the one reported, whether it comes from the
lexer or the parser.

Quirks kept on purpose, since they decide what parses:

* Keywords are case-insensitive (`SUM`, `Json`); function names (`rate`, `sum`, `bytes`...)
  are keywords only when followed by `(` or by `by (` / `without (`, so `{rate="x"}` works.
* A number directly followed by duration or size units is one token: `250ms` is a DURATION,
  `20MB` is BYTES, and `5min` is DURATION `5m` then IDENTIFIER `in`.
* `-` directly followed by a duration is a negative DURATION (`offset -5m`), so `-0` is the
  duration zero and not a number.
* `[...]` is read whole as a range; everything up to `]` must be a Prometheus duration.
* `#` comments run to the end of the line; Go's `//` and `/* */` comments are skipped too.
* Tokens Loki reads with look-ahead (ranges, durations, sizes, flags, two-character operators)
  report line 0, as Loki's scanner does after `Next()`.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from heron.logql.syntax.errors import ParseError
from heron.logql.syntax.quoting import decode_go_string
from heron.logql.syntax.units import parse_bytes, parse_duration_ns, parse_prometheus_duration_ns

__all__ = ["TokenKind", "Token", "Lexer"]


class TokenKind(enum.Enum):
    """Token kinds with Loki's yacc token number (for "expecting" lists) and display name.

    Display names are what Loki's error messages print: the literal text for tokens in lex.go's
    `tokens` table (`{`, `|=`, `by`, `json`), the yacc name otherwise (`IDENTIFIER`, `SUM`).
    """

    EOF = (0, "$end")
    BYTES = (1, "BYTES")
    IDENTIFIER = (2, "IDENTIFIER")
    STRING = (3, "STRING")
    NUMBER = (4, "NUMBER")
    FUNCTION_FLAG = (5, "FUNCTION_FLAG")
    DURATION = (6, "DURATION")
    RANGE = (7, "RANGE")
    EQ = (10, "=")
    RE = (11, "=~")
    NRE = (12, "!~")
    NPA = (13, "!>")
    OPEN_BRACE = (14, "{")
    CLOSE_BRACE = (15, "}")
    OPEN_BRACKET = (16, "[")
    CLOSE_BRACKET = (17, "]")
    COMMA = (18, ",")
    DOT = (19, ".")
    PIPE_MATCH = (20, "|~")
    PIPE_EXACT = (21, "|=")
    PIPE_PATTERN = (22, "|>")
    OPEN_PARENTHESIS = (23, "(")
    CLOSE_PARENTHESIS = (24, ")")
    BY = (25, "by")
    WITHOUT = (26, "without")
    COUNT_OVER_TIME = (27, "COUNT_OVER_TIME")
    RATE = (28, "RATE")
    RATE_COUNTER = (29, "RATE_COUNTER")
    SUM = (30, "SUM")
    SORT = (31, "SORT")
    SORT_DESC = (32, "SORT_DESC")
    AVG = (33, "AVG")
    MAX = (34, "MAX")
    MIN = (35, "MIN")
    COUNT = (36, "COUNT")
    STDDEV = (37, "STDDEV")
    STDVAR = (38, "STDVAR")
    BOTTOMK = (39, "BOTTOMK")
    TOPK = (40, "TOPK")
    APPROX_TOPK = (41, "APPROX_TOPK")
    BYTES_OVER_TIME = (42, "BYTES_OVER_TIME")
    BYTES_RATE = (43, "BYTES_RATE")
    BOOL = (44, "bool")
    JSON = (45, "json")
    REGEXP = (47, "regexp")
    LOGFMT = (48, "logfmt")
    PIPE = (49, "|")
    LINE_FMT = (50, "line_format")
    LABEL_FMT = (51, "label_format")
    UNWRAP = (52, "unwrap")
    AVG_OVER_TIME = (53, "AVG_OVER_TIME")
    SUM_OVER_TIME = (54, "SUM_OVER_TIME")
    MIN_OVER_TIME = (55, "MIN_OVER_TIME")
    MAX_OVER_TIME = (56, "MAX_OVER_TIME")
    STDVAR_OVER_TIME = (57, "STDVAR_OVER_TIME")
    STDDEV_OVER_TIME = (58, "STDDEV_OVER_TIME")
    QUANTILE_OVER_TIME = (59, "QUANTILE_OVER_TIME")
    BYTES_CONV = (60, "BYTES_CONV")
    DURATION_CONV = (61, "DURATION_CONV")
    DURATION_SECONDS_CONV = (62, "DURATION_SECONDS_CONV")
    FIRST_OVER_TIME = (63, "FIRST_OVER_TIME")
    LAST_OVER_TIME = (64, "LAST_OVER_TIME")
    ABSENT_OVER_TIME = (65, "ABSENT_OVER_TIME")
    VECTOR = (66, "VECTOR")
    LABEL_REPLACE = (67, "label_replace")
    UNPACK = (68, "unpack")
    OFFSET = (69, "offset")
    PATTERN = (70, "pattern")
    IP = (71, "ip")
    ON = (72, "on")
    IGNORING = (73, "ignoring")
    GROUP_LEFT = (74, "group_left")
    GROUP_RIGHT = (75, "group_right")
    DECOLORIZE = (76, "decolorize")
    DROP = (77, "drop")
    KEEP = (78, "keep")
    OR = (81, "or")
    AND = (82, "and")
    UNLESS = (83, "unless")
    CMP_EQ = (84, "==")
    NEQ = (85, "!=")
    LT = (86, "<")
    LTE = (87, "<=")
    GT = (88, ">")
    GTE = (89, ">=")
    ADD = (90, "+")
    SUB = (91, "-")
    MUL = (92, "*")
    DIV = (93, "/")
    MOD = (94, "%")
    POW = (95, "^")

    @property
    def order(self) -> int:
        return self.value[0]

    @property
    def display(self) -> str:
        return self.value[1]


K = TokenKind

# lex.go `tokens`: always keywords (matched case-insensitively), plus operators.
_KEYWORDS: dict[str, TokenKind] = {
    "by": K.BY,
    "without": K.WITHOUT,
    "bool": K.BOOL,
    "label_replace": K.LABEL_REPLACE,
    "offset": K.OFFSET,
    "on": K.ON,
    "ignoring": K.IGNORING,
    "group_left": K.GROUP_LEFT,
    "group_right": K.GROUP_RIGHT,
    "or": K.OR,
    "and": K.AND,
    "unless": K.UNLESS,
    "json": K.JSON,
    "regexp": K.REGEXP,
    "logfmt": K.LOGFMT,
    "unpack": K.UNPACK,
    "pattern": K.PATTERN,
    "label_format": K.LABEL_FMT,
    "line_format": K.LINE_FMT,
    "ip": K.IP,
    "decolorize": K.DECOLORIZE,
    "drop": K.DROP,
    "keep": K.KEEP,
    "unwrap": K.UNWRAP,
}

# lex.go `functionTokens`: keywords only when a `(` (or `by (` / `without (`) follows.
_FUNCTIONS: dict[str, TokenKind] = {
    "rate": K.RATE,
    "rate_counter": K.RATE_COUNTER,
    "count_over_time": K.COUNT_OVER_TIME,
    "bytes_rate": K.BYTES_RATE,
    "bytes_over_time": K.BYTES_OVER_TIME,
    "avg_over_time": K.AVG_OVER_TIME,
    "sum_over_time": K.SUM_OVER_TIME,
    "min_over_time": K.MIN_OVER_TIME,
    "max_over_time": K.MAX_OVER_TIME,
    "stdvar_over_time": K.STDVAR_OVER_TIME,
    "stddev_over_time": K.STDDEV_OVER_TIME,
    "quantile_over_time": K.QUANTILE_OVER_TIME,
    "first_over_time": K.FIRST_OVER_TIME,
    "last_over_time": K.LAST_OVER_TIME,
    "absent_over_time": K.ABSENT_OVER_TIME,
    "vector": K.VECTOR,
    "sum": K.SUM,
    "avg": K.AVG,
    "max": K.MAX,
    "min": K.MIN,
    "count": K.COUNT,
    "stddev": K.STDDEV,
    "stdvar": K.STDVAR,
    "bottomk": K.BOTTOMK,
    "topk": K.TOPK,
    "approx_topk": K.APPROX_TOPK,
    "sort": K.SORT,
    "sort_desc": K.SORT_DESC,
    "label_replace": K.LABEL_REPLACE,
    "bytes": K.BYTES_CONV,
    "duration": K.DURATION_CONV,
    "duration_seconds": K.DURATION_SECONDS_CONV,
    "ip": K.IP,
}

_TWO_CHAR: dict[str, TokenKind] = {
    "!=": K.NEQ,
    "=~": K.RE,
    "!~": K.NRE,
    "!>": K.NPA,
    "|=": K.PIPE_EXACT,
    "|~": K.PIPE_MATCH,
    "|>": K.PIPE_PATTERN,
    "==": K.CMP_EQ,
    ">=": K.GTE,
    "<=": K.LTE,
}

_ONE_CHAR: dict[str, TokenKind] = {
    ",": K.COMMA,
    ".": K.DOT,
    "{": K.OPEN_BRACE,
    "}": K.CLOSE_BRACE,
    "=": K.EQ,
    "|": K.PIPE,
    "(": K.OPEN_PARENTHESIS,
    ")": K.CLOSE_PARENTHESIS,
    "[": K.OPEN_BRACKET,
    "]": K.CLOSE_BRACKET,
    "+": K.ADD,
    "-": K.SUB,
    "*": K.MUL,
    "/": K.DIV,
    "%": K.MOD,
    "^": K.POW,
    ">": K.GT,
    "<": K.LT,
}

_PARSER_FLAGS = frozenset({"--strict", "--keep-empty"})
_DURATION_RUNES = frozenset("nuµmshdwy")
_BYTES_RUNES = frozenset("BikKMGTP")
_WHITESPACE = frozenset(" \t\n\r")


@dataclass(frozen=True, slots=True)
class Token:
    """One token. `value` holds the decoded string, the duration in ns or the size in bytes."""

    kind: TokenKind
    text: str
    line: int
    col: int
    value: str | int | None = None


def _is_letter(ch: str) -> bool:
    return ch.isalpha()


def _is_ident_rune(ch: str, first: bool) -> bool:
    return ch == "_" or ch.isalpha() or (not first and ch.isdecimal())


def _is_number_rune(ch: str) -> bool:
    return unicodedata.category(ch)[0] == "N"


def lexer_duration_ns(text: str) -> int:
    """Loki's `parseDuration`: Prometheus syntax first (`1d`), then Go's (`1.5h`, `-5m`)."""
    try:
        return parse_prometheus_duration_ns(text)
    except ValueError:
        return parse_duration_ns(text)


class Lexer:
    """Turns query text into tokens on demand (see the module docstring for Loki's quirks)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 1 if text.startswith("\ufeff") else 0  # Go skips a leading BOM
        self._line_starts = [0]
        for i, ch in enumerate(text):
            if ch == "\n":
                self._line_starts.append(i + 1)

    # -- positions -------------------------------------------------------------------------

    def position(self, index: int) -> tuple[int, int]:
        """1-based line and column (in characters) of `index`, as Go's scanner counts them."""
        lo, hi = 0, len(self._line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._line_starts[mid] <= index:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, index - self._line_starts[lo] + 1

    def _eof_position(self) -> tuple[int, int]:
        # Go's scanner reports (0, 0) when it never read a character, else one past the end.
        if not self.text:
            return 0, 0
        return self.position(len(self.text))

    def _error(self, msg: str, start: int, line_zero: bool = False) -> ParseError:
        line, col = self.position(start)
        return ParseError(msg, 0 if line_zero else line, col)

    def _token(
        self, kind: TokenKind, start: int, value: str | int | None = None, line_zero: bool = False
    ) -> Token:
        line, col = self.position(start)
        return Token(kind, self.text[start : self.pos], 0 if line_zero else line, col, value)

    def _peek(self, offset: int = 0) -> str:
        i = self.pos + offset
        return self.text[i] if i < len(self.text) else ""

    def _check_char(self, ch: str, start: int) -> None:
        if ch == "\0":
            raise self._error("invalid character NUL", start)
        if "\ud800" <= ch <= "\udfff":
            raise self._error("invalid UTF-8 encoding", start)

    # -- scanning --------------------------------------------------------------------------

    def next_token(self) -> Token:
        text = self.text
        n = len(text)
        while True:
            while self.pos < n and text[self.pos] in _WHITESPACE:
                self.pos += 1
            if self.pos + 1 < n and text[self.pos] == "/" and text[self.pos + 1] in "/*":
                self._skip_go_comment()
                continue
            if self.pos < n and text[self.pos] == "#":
                end = text.find("\n", self.pos)
                self.pos = n if end == -1 else end
                continue
            break
        start = self.pos
        if start >= n:
            line, col = self._eof_position()
            return Token(K.EOF, "", line, col)
        ch = text[start]
        self._check_char(ch, start)
        if _is_ident_rune(ch, True):
            return self._identifier(start)
        if "0" <= ch <= "9" or (ch == "." and "0" <= self._peek(1) <= "9"):
            return self._number(start)
        if ch == '"':
            return self._string(start)
        if ch == "`":
            return self._raw_string(start)
        if ch == "'":
            return self._char_literal(start)
        if ch == "[":
            return self._range(start)
        self.pos += 1
        if ch == "-":
            if self._peek() == "-":
                flag = self._try_flag(start)
                if flag is not None:
                    return flag
            duration = self._try_suffix(start, "-", _DURATION_RUNES, lexer_duration_ns, K.DURATION)
            if duration is not None:
                return duration
        pair = ch + self._peek()
        kind = _TWO_CHAR.get(pair)
        if kind is not None:
            self.pos += 1
            return self._token(kind, start, line_zero=True)
        kind = _ONE_CHAR.get(ch)
        if kind is not None:
            return self._token(kind, start)
        return self._token(K.IDENTIFIER, start, ch)

    def _skip_go_comment(self) -> None:
        start = self.pos
        text = self.text
        if text[self.pos + 1] == "/":
            end = text.find("\n", self.pos)
            self.pos = len(text) if end == -1 else end
            return
        end = text.find("*/", self.pos + 2)
        if end == -1:
            raise self._error("comment not terminated", start)
        self.pos = end + 2

    def _identifier(self, start: int) -> Token:
        text = self.text
        n = len(text)
        self.pos += 1
        while self.pos < n and _is_ident_rune(text[self.pos], False):
            self.pos += 1
        word = text[start : self.pos]
        lower = word.lower()
        kind = _FUNCTIONS.get(lower)
        if kind is not None:
            # Even `ip` and `label_replace`, also in lex.go's keyword table, are identifiers
            # here: Loki's function check runs first and returns IDENTIFIER.
            if self._followed_by_call(self.pos):
                return self._token(kind, start)
            return self._token(K.IDENTIFIER, start, word)
        kind = _KEYWORDS.get(lower)
        if kind is not None:
            return self._token(kind, start)
        return self._token(K.IDENTIFIER, start, word)

    def _followed_by_call(self, i: int) -> bool:
        """lex.go `isFunction`: next non-space is `(`, or `by`/`without` then `(`."""
        text = self.text
        n = len(text)
        while i < n and text[i].isspace():
            i += 1
        if text.startswith("(", i):
            return True
        for word in ("by", "without"):
            if text[i : i + len(word)].lower() == word:
                j = i + len(word)
                while j < n and text[j].isspace():
                    j += 1
                return text.startswith("(", j)
        return False

    def _number(self, start: int) -> Token:
        text = self.text
        n = len(text)
        i = start
        prefix = text[i : i + 2].lower()
        radix_digits = {"0x": "0123456789abcdefABCDEF_", "0o": "01234567_", "0b": "01_"}.get(prefix)
        # Loki's scanner patch: `0b` followed by a space is the size `0B`, not a binary literal.
        if radix_digits is not None and not (prefix == "0b" and self._is_space_at(i + 2)):
            i += 2
            j = i
            while j < n and text[j] in radix_digits:
                j += 1
            if j == i:
                name = {"0x": "hexadecimal", "0o": "octal", "0b": "binary"}[prefix]
                raise self._error(f"{name} literal has no digits", start)
            i = j
        else:
            while i < n and "0" <= text[i] <= "9":
                i += 1
            is_float = False
            if i < n and text[i] == ".":
                is_float = True
                i += 1
                while i < n and "0" <= text[i] <= "9":
                    i += 1
            if i < n and text[i] in "eE":
                is_float = True
                i += 1
                if i < n and text[i] in "+-":
                    i += 1
                j = i
                while j < n and "0" <= text[j] <= "9":
                    j += 1
                if j == i:
                    raise self._error("exponent has no digits", start)
                i = j
            if not is_float and text[start] == "0":
                bad = next((c for c in text[start:i] if c in "89"), None)
                if bad is not None:
                    raise self._error(f"invalid digit '{bad}' in octal literal", start)
        number = text[start:i]
        self.pos = i
        token = self._try_suffix(start, number, _DURATION_RUNES, lexer_duration_ns, K.DURATION)
        if token is None:
            token = self._try_suffix(start, number, _BYTES_RUNES, parse_bytes, K.BYTES)
        if token is None:
            token = self._token(K.NUMBER, start, number)
        return token

    def _try_suffix(
        self, start: int, prefix: str, runes: frozenset[str], parse: Callable[[str], int], kind: TokenKind
    ) -> Token | None:
        """lex.go `tryScanDuration` / `tryScanBytes`: glue unit runes onto the number if valid."""
        text = self.text
        n = len(text)
        j = self.pos
        while (
            j < n
            and not text[j].isspace()
            and (_is_number_rune(text[j]) or text[j] in runes or text[j] == ".")
        ):
            j += 1
        if j == self.pos:
            return None
        try:
            value = parse(prefix + text[self.pos : j])
        except ValueError:
            return None
        self.pos = j
        return self._token(kind, start, value, line_zero=True)

    def _is_space_at(self, i: int) -> bool:
        return i < len(self.text) and self.text[i].isspace()

    def _try_flag(self, start: int) -> Token | None:
        text = self.text
        j = self.pos
        while j < len(text) and (_is_letter(text[j]) or text[j] == "-"):
            j += 1
        flag = "-" + text[self.pos : j]
        if flag not in _PARSER_FLAGS:
            return None
        self.pos = j
        return self._token(K.FUNCTION_FLAG, start, flag, line_zero=True)

    def _scan_quoted(self, start: int, quote: str) -> tuple[str, int]:
        """Go's scanString: returns the body and the number of characters (escapes count once)."""
        text = self.text
        n = len(text)
        i = start + 1
        count = 0
        while True:
            if i >= n or text[i] == "\n":
                raise self._error("literal not terminated", start)
            ch = text[i]
            if ch == quote:
                break
            self._check_char(ch, start)
            if ch == "\\":
                i = self._scan_escape(i + 1, quote, start)
            else:
                i += 1
            count += 1
        self.pos = i + 1
        return text[start + 1 : i], count

    def _scan_escape(self, i: int, quote: str, start: int) -> int:
        text = self.text
        ch = text[i] if i < len(text) else ""
        if ch and (ch in "abfnrtv\\" or ch == quote):
            return i + 1
        if ch and ch in "01234567":
            return self._scan_digits(i, 8, 3, start)
        if ch == "x":
            return self._scan_digits(i + 1, 16, 2, start)
        if ch == "u":
            return self._scan_digits(i + 1, 16, 4, start)
        if ch == "U":
            return self._scan_digits(i + 1, 16, 8, start)
        raise self._error("invalid char escape", start)

    def _scan_digits(self, i: int, base: int, count: int, start: int) -> int:
        digits = "01234567" if base == 8 else "0123456789abcdefABCDEF"
        for _ in range(count):
            if i >= len(self.text) or self.text[i] not in digits:
                raise self._error("invalid char escape", start)
            i += 1
        return i

    def _string(self, start: int) -> Token:
        body, _ = self._scan_quoted(start, '"')
        try:
            value = decode_go_string(body, '"')
        except ValueError as exc:
            raise self._error(str(exc), start) from None
        return self._token(K.STRING, start, value)

    def _raw_string(self, start: int) -> Token:
        end = self.text.find("`", start + 1)
        if end == -1:
            raise self._error("literal not terminated", start)
        body = self.text[start + 1 : end]
        for ch in body:
            self._check_char(ch, start)
        self.pos = end + 1
        return self._token(K.STRING, start, body)

    def _char_literal(self, start: int) -> Token:
        # Go scans 'x' as a char literal; Loki has no use for it and passes the raw text on as
        # an IDENTIFIER, so `{a='x'}` fails with "unexpected IDENTIFIER, expecting STRING".
        _, count = self._scan_quoted(start, "'")
        if count != 1:
            raise self._error("invalid char literal", start)
        return self._token(K.IDENTIFIER, start, self.text[start : self.pos])

    def _range(self, start: int) -> Token:
        end = self.text.find("]", start + 1)
        if end == -1:
            self.pos = len(self.text)
            raise self._error("missing closing ']' in duration", start, line_zero=True)
        body = self.text[start + 1 : end]
        try:
            value = parse_prometheus_duration_ns(body)
        except ValueError as exc:
            raise self._error(str(exc), start, line_zero=True) from None
        self.pos = end + 1
        return self._token(K.RANGE, start, value, line_zero=True)
