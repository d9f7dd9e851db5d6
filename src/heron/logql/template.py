"""LogQL's templates: Loki's function table over the Go template engine in `heron.gotemplate`.

This module holds the functions Loki adds to line_format/label_format (its own and the Sprig
ones it exposes) and `compile_template`, which compiles over that table; the engine (lexer,
parser, executor, Go's builtins, fmt verbs and time layouts) lives in `heron.gotemplate`. What
follows describes the two together, as LogQL users meet them.

A template is parsed once into a tree and compiled into Python closures, so rendering a line is
a handful of calls and one `str.join`, never a re-parse. The data is the label map, as in Loki
(`template.New(..).Option("missingkey=zero")` over a map[string]string): `{{.name}}` is a label,
and a missing label renders as "". `{{__line__}}` and `{{__timestamp__}}` are functions, as in
Loki, returning the line and a time value.

Supported Go syntax: text, actions, `{{-`/`-}}` trim markers, comments, pipelines `a | f x`,
parenthesised pipelines, `.` and `$`, field chains (`.a`, `$.a`, `(fromJson .x).k.l`),
string/raw/char/number/bool/nil literals, `if`/`else if`/`else`/`end`, `with`/`else with`/
`else`/`end`, variables (`$x := ...`, `$x = ...`, `$x.field`, scoped to their control structure
as Go's parser scopes them), and `range` over slices and maps (keys in sorted order, `$i, $v :=`,
`{{else}}` when empty, `break`/`continue`). Left out (a parse error names them):
`define`/`template`/`block` and the builtin `call`; ranging over an integer (Go 1.22) is an
execution error, so no template loops without data to loop over.

Functions: Loki's own (ToLower, ToUpper, Replace, Trim, TrimLeft, TrimRight, TrimPrefix,
TrimSuffix, TrimSpace, regexReplaceAll, regexReplaceAllLiteral, count, urlencode, urldecode,
bytes, duration, duration_seconds, unixEpochMillis, unixEpochNanos, toDateInZone, unixToTime,
alignLeft, alignRight), the Sprig functions Loki exposes (b64enc, b64dec, lower, upper, title,
trunc, substr, contains, hasPrefix, hasSuffix, indent, nindent, replace, repeat, trim, trimAll,
trimSuffix, trimPrefix, int, float64, add, sub, mul, div, mod, addf, subf, mulf, divf, max, min,
maxf, minf, ceil, floor, round, fromJson, date, toDate, now, unixEpoch, default) and Go's
builtins (and, or, not, len, index, slice, print, printf, println, eq, ne, lt, le, gt, ge,
html, js, urlquery). Two extras not in Loki: `trimSpace` (alias of TrimSpace) and `abs`.

Semantics follow Go where it is observable: argument types are checked like text/template does
(a label is a string, so `{{ add .a 1 }}` works because Sprig's add takes any value, while
`{{ repeat .n "x" }}` is an error until `.n | int`); numbers print as Go's %v does (`1e+06`,
`0.5`); `eq .status 200` is an error (string vs int), as in Go; Sprig's addf/subf/mulf/divf use
decimal arithmetic (`addf 0.1 0.2` is 0.3). Choices: Go's distinct integer kinds (int, int64)
are one kind here, so a Sprig int64 result is accepted where Go wants an int; `trunc` and
`substr` count runes (the versions defined in Loki's fmt.go) rather than Sprig's bytes; the
server's local time zone is UTC; time layouts support Go's elements (2006 01 Jan January 02 _2
002 15 03 3 04 05 PM pm MST -0700 -07:00 Z07:00 .000 .999 Mon Monday) for format and parse.

Render errors raise TemplateExecError; Loki then sets `__error__=TemplateFormatErr` and
`__error_details__` to the message and keeps the line unchanged.

Output is bounded by `max_bytes` (the server's max line size): a template that would render
more is a render error, never an allocation of the oversized text. Functions whose result can
outgrow their arguments by a parameter (repeat, Replace/replace, regexReplaceAll, indent,
nindent, alignLeft/alignRight, printf widths and precisions) check the size before they build
it, every other function's result is checked when it returns (at most a small constant times
its bounded arguments), and the pieces of the output are counted as they are appended. One
line of a `{{ repeat 100000000 "x" }}` therefore costs a few bytes and an error, not 100 MB.
"""

from __future__ import annotations

import base64
import binascii
import decimal
import json
import math
import re
import time as _time
import urllib.parse
from typing import Any, Callable

import re2

from heron.gotemplate import (
    BUILTINS,
    DEFAULT_MAX_BYTES,
    GoTime,
    Template,
    TemplateError,
    TemplateExecError,
    format_time,
    go_format_float,
    go_sprintf,
    parse_time,
)
from heron.gotemplate import compile_template as _compile
from heron.gotemplate.convert import _decimal_op, _parse_go_int, _to_float64, _to_int64
from heron.gotemplate.errors import _FnError
from heron.gotemplate.functions import _A, _F, _I, _S, _T, _Fn
from heron.gotemplate.gofmt import _go_quote
from heron.gotemplate.gotime import _INT64_MAX, _parse_time, _wrap64, _zone_at
from heron.gotemplate.size import _check_size, _utf8_len
from heron.logql.linefilter import compile_regex

__all__ = [
    "BUILTINS",
    "FUNCTIONS",
    "DEFAULT_MAX_BYTES",
    "TEMPLATE_FORMAT_ERR",
    "GoTime",
    "Template",
    "TemplateError",
    "TemplateExecError",
    "compile_template",
    "format_time",
    "go_format_float",
    "go_sprintf",
    "parse_time",
]

TEMPLATE_FORMAT_ERR = "TemplateFormatErr"
_UNANCHORED = re2._Anchor.UNANCHORED


# --- function implementations -----------------------------------------------------------------

_GO_SPACE = "".join(
    ["\t\n\v\f\r \x85\xa0\u1680", *map(chr, range(0x2000, 0x200B)), "\u2028\u2029\u202f\u205f\u3000"]
)


def _go_lower(s: str) -> str:
    """strings.ToLower: Go maps rune by rune (simple case mapping), never changing the length."""
    if s.isascii():
        return s.lower()
    out = []
    for ch in s:
        low = ch.lower()
        out.append(low if len(low) == 1 else "i" if ch == "\u0130" else ch)
    return "".join(out)


def _go_upper(s: str) -> str:
    """strings.ToUpper, rune by rune ("ß" stays "ß": it has no single-rune upper case)."""
    if s.isascii():
        return s.upper()
    out = []
    for ch in s:
        up = ch.upper()
        out.append(up if len(up) == 1 else ch)
    return "".join(out)


def _go_title(s: str) -> str:
    """strings.Title: upper-case the first letter of each word (a word starts after a
    separator: a space, or ASCII that is not a letter, digit or underscore)."""
    out: list[str] = []
    prev = " "
    for ch in s:
        # Go's isSeparator: ASCII other than [A-Za-z0-9_], or a non-ASCII space
        sep = not (prev.isalnum() or prev == "_") if prev.isascii() else prev in _GO_SPACE
        if sep:
            t = ch.title()
            out.append(t if len(t) == 1 else ch)
        else:
            out.append(ch)
        prev = ch
    return "".join(out)


def _go_expand(template: str, text: bytes, spans: list[tuple[int, int]], names: dict[str, int]) -> str:
    """regexp.Expand: $1, ${1}, $name, ${name}, $$."""
    out: list[str] = []
    i = 0
    n = len(template)
    while i < n:
        j = template.find("$", i)
        if j < 0:
            out.append(template[i:])
            break
        out.append(template[i:j])
        i = j + 1
        if i < n and template[i] == "$":
            out.append("$")
            i += 1
            continue
        if i < n and template[i] == "{":
            end = template.find("}", i)
            name = template[i + 1 : end] if end > 0 else ""
            if end < 0 or not name or not re.fullmatch(r"[A-Za-z0-9_]+", name):
                out.append("$")
                continue
            i = end + 1
        else:
            m = re.match(r"[A-Za-z0-9_]+", template[i:])
            if not m:
                out.append("$")
                continue
            name = m.group()
            i += m.end()
        if name.isdigit() and name.isascii():
            idx = int(name)
        else:
            idx = names.get(name, -1)
        if 0 <= idx < len(spans) and spans[idx][0] >= 0:
            out.append(text[spans[idx][0] : spans[idx][1]].decode("utf-8", "replace"))
    return "".join(out)


def _regex(pattern: str) -> Any:
    try:
        return compile_regex(pattern)
    except ValueError as exc:
        raise _FnError(str(exc)) from None


def _regex_replace(limit: int, pattern: str, s: str, repl: str, literal: bool) -> str:
    """Regexp.ReplaceAllString / ReplaceAllLiteralString, with Go's rule that an empty match
    right after a previous match is not replaced. The result is counted as it is built, so a
    short replacement for every empty match of a long text stops at `limit` bytes."""
    rx = _regex(pattern)
    text = s.encode("utf-8", "surrogateescape")
    match = rx._regexp.Match
    names = rx.groupindex
    out: list[bytes] = []
    last = 0
    pos = 0
    n = len(text)
    size = 0
    while pos <= n:
        spans = match(_UNANCHORED, text, pos, n)
        a0, a1 = spans[0]
        if a0 < 0:
            break
        out.append(text[last:a0])
        size += a0 - last
        if a1 > last or a0 == 0:
            piece = (repl if literal else _go_expand(repl, text, spans, names)).encode(
                "utf-8", "surrogateescape"
            )
            out.append(piece)
            size += len(piece)
            _check_size(size, limit, partial=True)
        last = a1
        width = _rune_width(text, pos)
        if pos + width > a1:
            pos += width
        elif pos + 1 > a1:
            pos += 1
        else:
            pos = a1
    out.append(text[last:])
    return b"".join(out).decode("utf-8", "surrogateescape")


def _rune_width(b: bytes, pos: int) -> int:
    if pos >= len(b):
        return 0
    c = b[pos]
    if c < 0x80:
        return 1
    for w in (2, 3, 4):
        try:
            b[pos : pos + w].decode("utf-8")
            return w
        except UnicodeDecodeError:
            continue
    return 1


def _regex_count(pattern: str, s: str) -> int:
    """len(Regexp.FindAllStringIndex(s, -1))."""
    rx = _regex(pattern)
    text = s.encode("utf-8", "surrogateescape")
    match = rx._regexp.Match
    end = len(text)
    pos, count, prev_end = 0, 0, -1
    while pos <= end:
        a0, a1 = match(_UNANCHORED, text, pos, end)[0]
        if a0 < 0:
            break
        accept = True
        if a1 == pos:
            if a0 == prev_end:
                accept = False
            width = _rune_width(text, pos)
            pos = pos + width if width > 0 else end + 1
        else:
            pos = a1
        prev_end = a1
        if accept:
            count += 1
    return count


def _url_unescape(s: str) -> str:
    """url.QueryUnescape."""
    data = s.encode("utf-8", "surrogateescape")
    out = bytearray()
    i = 0
    while i < len(data):
        c = data[i]
        if c == 0x25:  # %
            h = data[i + 1 : i + 3]
            if len(h) < 2 or not all(x in b"0123456789abcdefABCDEF" for x in h):
                bad = data[i : i + 3].decode("utf-8", "replace")
                raise _FnError(f'invalid URL escape "{bad}"')
            out.append(int(h, 16))
            i += 3
        elif c == 0x2B:  # +
            out.append(0x20)
            i += 1
        else:
            out.append(c)
            i += 1
    return out.decode("utf-8", "replace")


def _b64dec(s: str) -> str:
    """Loki's b64dec: pads an unpadded tail of 2 or 3 characters with `=` first (Loki's own
    `base64Decode` in fmt.go, so `Zm9vYmE` is `fooba`), then decodes as Go's StdEncoding. The
    decoded text, or Go's error message as the result."""
    if len(s) % 4 in (2, 3):
        s += "=" * (4 - len(s) % 4)
    data = s.encode("utf-8", "surrogateescape")
    try:
        return base64.b64decode(data, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        for i, c in enumerate(data):
            if c not in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=":
                return f"illegal base64 data at input byte {i}"
        pad = data.find(b"=")
        if pad < 0:  # an unpadded tail: Go stops at the start of the short quantum
            return f"illegal base64 data at input byte {len(data) - len(data) % 4}"
        at = pad if pad < len(data) - 2 or len(data) % 4 else len(data) - len(data) % 4
        return f"illegal base64 data at input byte {at}"


_BYTE_UNITS = {
    "b": 1, "": 1, "k": 1000, "kb": 1000, "ki": 1024, "kib": 1024, "m": 1000**2, "mb": 1000**2,
    "mi": 1024**2, "mib": 1024**2, "g": 1000**3, "gb": 1000**3, "gi": 1024**3, "gib": 1024**3,
    "t": 1000**4, "tb": 1000**4, "ti": 1024**4, "tib": 1024**4, "p": 1000**5, "pb": 1000**5,
    "pi": 1024**5, "pib": 1024**5, "e": 1000**6, "eb": 1000**6, "ei": 1024**6, "eib": 1024**6,
}  # fmt: skip


def _parse_bytes(s: str) -> float:
    """humanize.ParseBytes ("42 MB", "1.5KiB", "1,000")."""
    m = re.match(r"\s*([0-9.,]*)\s*([A-Za-z]*)\s*\Z", s)
    if not m:
        raise _FnError(f"unhandled size name: {s}")
    num = m.group(1).replace(",", "")
    unit = m.group(2).lower()
    try:
        f = float(num)
    except ValueError:
        raise _FnError(f'strconv.ParseFloat: parsing "{num}": invalid syntax') from None
    if unit not in _BYTE_UNITS:
        raise _FnError(f"unhandled size name: {unit}")
    v = f * _BYTE_UNITS[unit]
    if v >= 2.0**64:
        raise _FnError(f"too large: {s}")
    return float(int(v))


_DURATION_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 10**9,
                   "m": 60 * 10**9, "h": 3600 * 10**9}  # fmt: skip
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")


def _parse_duration(s: str) -> float:
    """time.ParseDuration(s).Seconds()."""
    orig = s
    sign = 1
    if s and s[0] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise _FnError(f'time: invalid duration "{orig}"')
    total = 0
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m or m.group(1) in ("", "."):
            if re.match(r"[0-9.]+", s[pos:]) and not _DURATION_PART.match(s, pos):
                raise _FnError(f'time: missing unit in duration "{orig}"')
            raise _FnError(f'time: invalid duration "{orig}"')
        total += decimal.Decimal(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    ns = int(total)
    if ns > _INT64_MAX:
        raise _FnError(f'time: invalid duration "{orig}"')
    return sign * ns / 1e9


def _unix_to_time(epoch: str) -> GoTime:
    """Loki's unixToTime: days, seconds, ms, µs or ns, chosen by the number of digits."""
    i = _parse_go_int(epoch) if re.fullmatch(r"[+-]?[0-9]+", epoch) else None
    if i is None:
        detail = f"strconv.ParseInt: parsing {_go_quote(epoch)}: invalid syntax"
        raise _FnError(f"unable to parse time '{epoch}': {detail}")
    n = len(epoch)
    if n == 5:
        return GoTime(i * 86400)
    if n == 10:
        return GoTime(i)
    if n == 13:
        return GoTime.from_unix_nano(i * 1_000_000)
    if n == 16:
        return GoTime.from_unix_nano(i * 1000)
    if n == 19:
        return GoTime.from_unix_nano(i)
    raise _FnError(f"unable to parse time '{epoch}': %!w(<nil>)")


def _to_date_in_zone(layout: str, zone: str, value: str) -> GoTime:
    """time.ParseInLocation with the error dropped (zero time), as Loki's toDateInZone and
    Sprig's toDate (zone = Local = UTC here) do. An unknown zone falls back to UTC."""
    try:
        t, has_zone = _parse_time(layout, value)
    except ValueError:
        return GoTime.zero()
    if has_zone or zone in ("", "UTC", "Local"):
        return t
    found = _zone_at(zone, t.sec)  # t.sec is the wall clock read as UTC
    if found is None:
        return t
    off, name = found
    return GoTime(t.sec - off, t.nsec, off, name)


def _date(layout: str, when: Any) -> str:
    """Sprig's date: a time, or unix seconds; anything else means now. Shown in UTC."""
    if isinstance(when, GoTime):
        t = GoTime(when.sec, when.nsec)
    elif isinstance(when, int) and not isinstance(when, bool):
        t = GoTime(when)
    else:
        t = GoTime.from_unix_nano(_time.time_ns())
    return format_time(t, layout)


def _round(a: Any, p: int, *r_opt: float) -> float:
    """Sprig's round: half rounds away from zero only for positive values (Sprig's quirk)."""
    round_on = r_opt[0] if r_opt else 0.5
    val = _to_float64(a)
    pow_ = math.pow(10, float(p))
    digit = pow_ * val
    frac = math.modf(digit)[0]
    rounded = math.ceil(digit) if frac >= round_on else math.floor(digit)
    return rounded / pow_


def _rounded(a: Any, how: Callable[[float], int]) -> float:
    f = _to_float64(a)
    return float(how(f)) if math.isfinite(f) else f


def _go_trunc_div(a: int, b: int, mod: bool) -> int:
    if b == 0:
        raise _FnError("runtime error: integer divide by zero")
    q = abs(a) // abs(b)
    if (a < 0) != (b < 0):
        q = -q
    return _wrap64(a - q * b) if mod else _wrap64(q)


def _align(limit: int, count: int, src: str, left: bool) -> str:
    n = len(src)
    if count < 0 or count == n:
        return src
    if count > n:
        _check_size(_utf8_len(src) + count - n, limit)
        return src + " " * (count - n) if left else " " * (count - n) + src
    return src[:count] if left else src[n - count :]


def _substr(start: int, end: int, s: str) -> str:
    """Loki's substring (rune-based, clamped)."""
    n = len(s)
    end = min(end, n)
    start = min(start, n)
    if start < 0:
        return "" if end < 0 else s[:end]
    if end < 0:
        return s[start:]
    if start > end:
        return ""
    return s[start:end]


def _trunc(c: int, s: str) -> str:
    n = len(s)
    if c < 0 and n + c > 0:
        return s[n + c :]
    if c >= 0 and n > c:
        return s[:c]
    return s


def _repeat(limit: int, count: int, s: str) -> str:
    if count < 0:
        raise _FnError("strings: negative Repeat count")
    if s:
        _check_size(count * _utf8_len(s), limit)
    return s * count


def _replace(limit: int, s: str, old: str, new: str, n: int = -1) -> str:
    """strings.Replace; the result's size is known from the match count before it is built."""
    count = s.count(old) if old else len(s) + 1
    if n >= 0:
        count = min(count, n)
    if len(new) > len(old):
        _check_size(_utf8_len(s) + count * (_utf8_len(new) - _utf8_len(old)), limit)
    return s.replace(old, new, n)


def _indent(limit: int, n: int, s: str, newline: bool) -> str:
    """Sprig's indent / nindent: n spaces before every line (nindent adds a newline first)."""
    if n > 0:
        _check_size(n * (s.count("\n") + 1) + _utf8_len(s) + newline, limit)
    pad = " " * n
    return ("\n" if newline else "") + pad + s.replace("\n", "\n" + pad)


def _empty(v: Any) -> bool:
    """Sprig's empty()."""
    if v is None:
        return True
    if isinstance(v, (bool, int, float, str, list, dict)):
        return not v
    return False


def _default(d: Any, *given: Any) -> Any:
    if not given or _empty(given[0]):
        return d
    return given[0]


def _from_json(s: str) -> Any:
    try:
        return json.loads(s, parse_int=float, parse_constant=lambda c: None)
    except ValueError:
        return None


def _go_max(a: Any, *rest: Any) -> int:
    best = _to_int64(a)
    for x in rest:
        best = max(best, _to_int64(x))
    return best


def _go_min(a: Any, *rest: Any) -> int:
    best = _to_int64(a)
    for x in rest:
        best = min(best, _to_int64(x))
    return best


def _math_max(a: float, b: float) -> float:
    if math.isinf(a) and a > 0 or math.isinf(b) and b > 0:
        return math.inf
    if math.isnan(a) or math.isnan(b):
        return math.nan
    return max(a, b)


def _math_min(a: float, b: float) -> float:
    if math.isinf(a) and a < 0 or math.isinf(b) and b < 0:
        return -math.inf
    if math.isnan(a) or math.isnan(b):
        return math.nan
    return min(a, b)


def _maxf(a: Any, *rest: Any) -> float:
    best = _to_float64(a)
    for x in rest:
        best = _math_max(best, _to_float64(x))
    return best


def _minf(a: Any, *rest: Any) -> float:
    best = _to_float64(a)
    for x in rest:
        best = _math_min(best, _to_float64(x))
    return best


def _abs(a: Any) -> Any:
    """Heron extra (not in Loki): |a| for ints and floats, strings read as float64."""
    if isinstance(a, int) and not isinstance(a, bool):
        return _wrap64(abs(a))
    return abs(_to_float64(a))


FUNCTIONS: dict[str, _Fn] = {
    # Loki's own
    "ToLower": _Fn(_go_lower, (_S,)),
    "ToUpper": _Fn(_go_upper, (_S,)),
    "Replace": _Fn(_replace, (_S, _S, _S, _I), sized=True),
    "Trim": _Fn(lambda s, cut: s.strip(cut), (_S, _S)),
    "TrimLeft": _Fn(lambda s, cut: s.lstrip(cut), (_S, _S)),
    "TrimRight": _Fn(lambda s, cut: s.rstrip(cut), (_S, _S)),
    "TrimPrefix": _Fn(lambda s, p: s.removeprefix(p), (_S, _S)),
    "TrimSuffix": _Fn(lambda s, p: s.removesuffix(p), (_S, _S)),
    "TrimSpace": _Fn(lambda s: s.strip(_GO_SPACE), (_S,)),
    "regexReplaceAll": _Fn(
        lambda m, r, s, repl: _regex_replace(m, r, s, repl, False), (_S, _S, _S), sized=True
    ),
    "regexReplaceAllLiteral": _Fn(
        lambda m, r, s, repl: _regex_replace(m, r, s, repl, True), (_S, _S, _S), sized=True
    ),
    "count": _Fn(_regex_count, (_S, _S)),
    "urldecode": _Fn(_url_unescape, (_S,)),
    "urlencode": _Fn(lambda s: urllib.parse.quote_plus(s, safe=""), (_S,)),
    "bytes": _Fn(_parse_bytes, (_S,)),
    "duration": _Fn(_parse_duration, (_S,)),
    "duration_seconds": _Fn(_parse_duration, (_S,)),
    "unixEpochMillis": _Fn(lambda t: str(t.sec * 1000 + t.nsec // 1_000_000), (_T,)),
    "unixEpochNanos": _Fn(lambda t: str(t.unix_nano()), (_T,)),
    "toDateInZone": _Fn(_to_date_in_zone, (_S, _S, _S)),
    "unixToTime": _Fn(_unix_to_time, (_S,)),
    "alignLeft": _Fn(lambda m, c, s: _align(m, c, s, True), (_I, _S), sized=True),
    "alignRight": _Fn(lambda m, c, s: _align(m, c, s, False), (_I, _S), sized=True),
    # Sprig, as Loki exposes it
    "b64enc": _Fn(lambda s: base64.b64encode(s.encode("utf-8", "surrogateescape")).decode(), (_S,)),
    "b64dec": _Fn(_b64dec, (_S,)),
    "lower": _Fn(_go_lower, (_S,)),
    "upper": _Fn(_go_upper, (_S,)),
    "title": _Fn(_go_title, (_S,)),
    "trunc": _Fn(_trunc, (_I, _S)),
    "substr": _Fn(_substr, (_I, _I, _S)),
    "contains": _Fn(lambda sub, s: sub in s, (_S, _S)),
    "hasPrefix": _Fn(lambda p, s: s.startswith(p), (_S, _S)),
    "hasSuffix": _Fn(lambda p, s: s.endswith(p), (_S, _S)),
    "indent": _Fn(lambda m, n, s: _indent(m, n, s, False), (_I, _S), sized=True),
    "nindent": _Fn(lambda m, n, s: _indent(m, n, s, True), (_I, _S), sized=True),
    "replace": _Fn(lambda m, old, new, src: _replace(m, src, old, new), (_S, _S, _S), sized=True),
    "repeat": _Fn(_repeat, (_I, _S), sized=True),
    "trim": _Fn(lambda s: s.strip(_GO_SPACE), (_S,)),
    "trimAll": _Fn(lambda cut, s: s.strip(cut), (_S, _S)),
    "trimSuffix": _Fn(lambda suf, s: s.removesuffix(suf), (_S, _S)),
    "trimPrefix": _Fn(lambda pre, s: s.removeprefix(pre), (_S, _S)),
    "int": _Fn(_to_int64, (_A,)),
    "float64": _Fn(_to_float64, (_A,)),
    "add": _Fn(lambda *v: _wrap64(sum(_to_int64(x) for x in v)), (), _A),
    "sub": _Fn(lambda a, b: _wrap64(_to_int64(a) - _to_int64(b)), (_A, _A)),
    "mul": _Fn(lambda a, *v: _wrap64(math.prod((_to_int64(a), *map(_to_int64, v)))), (_A,), _A),
    "div": _Fn(lambda a, b: _go_trunc_div(_to_int64(a), _to_int64(b), False), (_A, _A)),
    "mod": _Fn(lambda a, b: _go_trunc_div(_to_int64(a), _to_int64(b), True), (_A, _A)),
    "addf": _Fn(lambda *v: _decimal_op(0.0, v, "+"), (), _A),
    "subf": _Fn(lambda a, *v: _decimal_op(a, v, "-"), (_A,), _A),
    "mulf": _Fn(lambda a, *v: _decimal_op(a, v, "*"), (_A,), _A),
    "divf": _Fn(lambda a, *v: _decimal_op(a, v, "/"), (_A,), _A),
    "max": _Fn(_go_max, (_A,), _A),
    "min": _Fn(_go_min, (_A,), _A),
    "maxf": _Fn(_maxf, (_A,), _A),
    "minf": _Fn(_minf, (_A,), _A),
    "ceil": _Fn(lambda a: _rounded(a, math.ceil), (_A,)),
    "floor": _Fn(lambda a: _rounded(a, math.floor), (_A,)),
    "round": _Fn(_round, (_A, _I), _F),
    "fromJson": _Fn(_from_json, (_S,)),
    "date": _Fn(_date, (_S, _A)),
    "toDate": _Fn(lambda layout, s: _to_date_in_zone(layout, "UTC", s), (_S, _S)),
    "now": _Fn(lambda: GoTime.from_unix_nano(_time.time_ns()), ()),
    "unixEpoch": _Fn(lambda t: str(t.sec), (_T,)),
    "default": _Fn(_default, (_A,), _A),
    # Heron extras
    "trimSpace": _Fn(lambda s: s.strip(_GO_SPACE), (_S,)),
    "abs": _Fn(_abs, (_A,)),
}


def compile_template(text: str, name: str = "line", max_bytes: int = DEFAULT_MAX_BYTES) -> Template:
    """Parse and compile a LogQL template over Loki's function table; TemplateError if bad.

    `name` is the template name in messages: Loki uses "line" for line_format and "label" for
    label_format. `max_bytes` bounds what one render may produce (the max line size).
    """
    return _compile(text, FUNCTIONS, name, max_bytes)
