"""Go's string and duration spellings as PromQL uses them.

Strings are unquoted as Prometheus' `strutil.Unquote` does (Go escapes, in `"..."` and `'...'`;
backticks are raw) and quoted as Go's `strconv.Quote`. Durations are Prometheus'
`model.ParseDuration` / `model.Duration.String()` (units y, w, d, h, m, s, ms, largest first).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

__all__ = ["unquote", "go_quote", "parse_duration_ms", "format_duration_ms", "format_float"]

_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
_QUOTE_ESC = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def unquote(s: str) -> str:
    """The value of a quoted PromQL string token; ValueError("invalid syntax") if malformed."""
    if len(s) < 2 or s[0] != s[-1] or s[0] not in "\"'`":
        raise ValueError("invalid syntax")
    quote, body = s[0], s[1:-1]
    if quote == "`":
        if "`" in body:
            raise ValueError("invalid syntax")
        return body.replace("\r", "")
    if "\\" not in body:
        if quote in body or "\n" in body:
            raise ValueError("invalid syntax")
        return body
    # Go builds the value byte by byte: `\xHH` and octal escapes insert raw bytes, which may or
    # may not form UTF-8 together ("\xc3\xa9" is "é"). Bytes that are not UTF-8 are kept as
    # surrogate escapes (Python's "surrogateescape"), so `go_quote` prints them back as \xHH
    # and the engine can tell an invalid label name, as Prometheus does.
    out = bytearray()
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        if ch != "\\":
            if ch == quote or ch == "\n":
                raise ValueError("invalid syntax")
            out += ch.encode("utf-8", "surrogateescape")
            i += 1
            continue
        if i + 1 >= n:
            raise ValueError("invalid syntax")
        esc = body[i + 1]
        if esc in _SIMPLE:
            out += _SIMPLE[esc].encode()
            i += 2
        elif esc == quote:
            out += quote.encode()
            i += 2
        elif esc in "01234567":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or any(c not in "01234567" for c in digits) or int(digits, 8) > 255:
                raise ValueError("invalid syntax")
            out.append(int(digits, 8))
            i += 4
        elif esc in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[esc]
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise ValueError("invalid syntax")
            value = int(digits, 16)
            if esc == "x":
                out.append(value)
            else:
                if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
                    raise ValueError("invalid syntax")
                out += chr(value).encode()
            i += 2 + width
        else:
            raise ValueError("invalid syntax")
    return out.decode("utf-8", "surrogateescape")


def go_quote(s: str) -> str:
    """`strconv.Quote`: a double-quoted Go literal escaping exactly the non-printable runes."""
    out = ['"']
    for ch in s:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch in _QUOTE_ESC:
            out.append(_QUOTE_ESC[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        else:
            cp = ord(ch)
            if 0xDC80 <= cp <= 0xDCFF:  # a byte that was not UTF-8 (see `unquote`)
                out.append(f"\\x{cp - 0xDC00:02x}")
            elif cp < 0x80:
                out.append(f"\\x{cp:02x}")
            elif cp < 0x10000:
                out.append(f"\\u{cp:04x}")
            else:
                out.append(f"\\U{cp:08x}")
    out.append('"')
    return "".join(out)


_UNITS_MS = {
    "y": 365 * 86_400_000,
    "w": 7 * 86_400_000,
    "d": 86_400_000,
    "h": 3_600_000,
    "m": 60_000,
    "s": 1000,
    "ms": 1,
}
_UNIT_ORDER = ["y", "w", "d", "h", "m", "s", "ms"]
_PART_RE = re.compile(r"([0-9]+)([a-zA-Z]*)")
_MAX_MS = (1 << 63) // 1_000_000


def parse_duration_ms(s: str) -> tuple[int, str | None]:
    """`model.ParseDuration` in ms: returns (ms, None) or (0, Prometheus' error text)."""
    if s == "0":
        return 0, None
    if not s:
        return 0, 'not a valid duration string: ""'
    pos, total, last = 0, 0, -1
    while pos < len(s):
        m = _PART_RE.match(s, pos)
        if m is None or not m.group(2):
            return 0, f'not a valid duration string: "{s}"'
        unit = m.group(2)
        if unit not in _UNITS_MS:
            return 0, f'unknown unit "{unit}" in duration "{s}"'
        rank = _UNIT_ORDER.index(unit)
        if rank <= last:
            return 0, f'not a valid duration string: "{s}"'
        last = rank
        total += int(m.group(1)) * _UNITS_MS[unit]
        if total > _MAX_MS:
            return 0, f'duration out of range: "{s}"'
        pos = m.end()
    return total, None


def format_duration_ms(ms: int) -> str:
    """`model.Duration.String()` of a non-negative duration: `1h30m`, `5m`, `0s`."""
    if ms == 0:
        return "0s"
    out = []
    for unit in _UNIT_ORDER:
        mult = _UNITS_MS[unit]
        v = ms // mult
        if v > 0:
            out.append(f"{v}{unit}")
            ms -= v * mult
    return "".join(out)


def format_float(x: float) -> str:
    """`strconv.FormatFloat(x, 'f', -1, 64)`: shortest round-trip digits, never an exponent;
    `+Inf`, `-Inf` and `NaN` for the non-finite values."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if x == 0:
        return "-0" if math.copysign(1.0, x) < 0 else "0"
    _, digit_tuple, exponent = Decimal(repr(abs(x))).as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple)).lstrip("0") or "0"
    # Decimal(repr) is exact for repr's shortest digits; place the point.
    all_digits = "".join(map(str, digit_tuple))
    dp = len(all_digits) + exponent - (len(all_digits) - len(digits))
    digits = digits.rstrip("0") or "0"
    if dp <= 0:
        text = "0." + "0" * (-dp) + digits
    elif dp >= len(digits):
        text = digits + "0" * (dp - len(digits))
    else:
        text = digits[:dp] + "." + digits[dp:]
    return ("-" if x < 0 else "") + text
