"""Go's string and number spellings, which LogQL inherits from Loki's lexer and printer.

Strings are Go literals (`strconv.Quote` / Prometheus `strutil.Unquote`) and numbers are read
by `strconv.ParseFloat` and printed by `fmt`'s `%v` or `FormatFloat(f, 'f', -1, 64)`. Getting
these exactly right is what makes `parse_expr(str(ast)) == ast` hold for every value.
"""

from __future__ import annotations

import math
from decimal import Decimal

__all__ = ["go_quote", "decode_go_string", "go_parse_float", "format_float_v", "format_float_f"]

_SIMPLE_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}
_DECODE_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def go_quote(s: str) -> str:
    """`strconv.Quote`: a double-quoted Go literal that escapes exactly the non-printable runes."""
    out = ['"']
    for ch in s:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ch in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[ch])
        else:
            cp = ord(ch)
            if cp < 0x20 or cp == 0x7F:
                out.append(f"\\x{cp:02x}")
            elif cp < 0x10000:
                out.append(f"\\u{cp:04x}")
            else:
                out.append(f"\\U{cp:08x}")
    out.append('"')
    return "".join(out)


def decode_go_string(body: str, quote: str) -> str:
    """Decode the inside of a `"..."` (or `'...'`) Go literal whose escapes were already checked.

    Mirrors Prometheus `strutil.Unquote`: octal escapes above 255 and `\\u`/`\\U` escapes that
    are not valid runes (surrogates, > U+10FFFF) raise ValueError("invalid syntax"). `\\xHH` and
    octal bytes become the code point HH: Go would insert a raw byte, which a Python str cannot
    hold.
    """
    if "\\" not in body:
        return body
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        esc = body[i + 1]
        if esc in _DECODE_SIMPLE:
            out.append(_DECODE_SIMPLE[esc])
            i += 2
        elif esc == quote:
            out.append(quote)
            i += 2
        elif esc in "01234567":
            value = int(body[i + 1 : i + 4], 8)
            if value > 255:
                raise ValueError("invalid syntax")
            out.append(chr(value))
            i += 4
        elif esc == "x":
            out.append(chr(int(body[i + 2 : i + 4], 16)))
            i += 4
        elif esc in "uU":
            width = 4 if esc == "u" else 8
            value = int(body[i + 2 : i + 2 + width], 16)
            if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
                raise ValueError("invalid syntax")
            out.append(chr(value))
            i += 2 + width
        else:  # the lexer rejects every other escape before decoding
            raise ValueError("invalid syntax")
    return "".join(out)


def go_parse_float(text: str) -> tuple[float, str | None]:
    """`strconv.ParseFloat(text, 64)` for the numbers LogQL's lexer produces.

    Returns the value and Go's error text, or None. Like Go, an out-of-range literal yields
    ±Inf *and* an error, and a hexadecimal integer (which needs a `p` exponent to be a float)
    yields 0 and "invalid syntax"; callers decide, as Loki does, whether the error matters.
    """
    lowered = text.lower()
    if lowered.startswith("0x") or lowered.startswith("0o") or lowered.startswith("0b") or "_" in text:
        return 0.0, f'strconv.ParseFloat: parsing "{text}": invalid syntax'
    try:
        value = float(text)
    except ValueError:
        return 0.0, f'strconv.ParseFloat: parsing "{text}": invalid syntax'
    if math.isinf(value):
        return value, f'strconv.ParseFloat: parsing "{text}": value out of range'
    return value, None


def _shortest_digits(x: float) -> tuple[str, int]:
    """Shortest round-trip significant digits of |x| and Go's `dp` (digits before the point)."""
    _, digit_tuple, exponent = Decimal(repr(abs(x))).as_tuple()
    assert isinstance(exponent, int)
    all_digits = "".join(map(str, digit_tuple))
    significant = all_digits.lstrip("0")
    if not significant:
        return "0", 1
    dp = len(all_digits) + exponent - (len(all_digits) - len(significant))
    return significant.rstrip("0"), dp


def format_float_f(x: float) -> str:
    """`strconv.FormatFloat(x, 'f', -1, 64)`: shortest digits, never an exponent.

    Used for numeric label filters and quantile parameters, as Loki does. Non-finite values
    (which the lexer cannot produce) print as `1e999` / `-1e999`, which read back as ±Inf.
    """
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "1e999" if x > 0 else "-1e999"
    if x == 0:
        return "0"
    digits, dp = _shortest_digits(x)
    if dp <= 0:
        text = "0." + "0" * (-dp) + digits
    elif dp >= len(digits):
        text = digits + "0" * (dp - len(digits))
    else:
        text = digits[:dp] + "." + digits[dp:]
    return ("-" if x < 0 else "") + text


def format_float_v(x: float) -> str:
    """`fmt.Sprint(x)` (`%v`, i.e. `%g` with shortest digits): `1`, `0.5`, `1e+06`, `1e-05`.

    This is how Loki prints literals and `vector()` arguments. -0 prints as `0`: Loki's own
    `-0` would be read back as a zero *duration*, not a number.
    """
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if x == 0:
        return "0"
    digits, dp = _shortest_digits(x)
    exp = dp - 1
    sign = "-" if x < 0 else ""
    if exp < -4 or exp >= 6:  # strconv's rule for shortest %g
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    return sign + format_float_f(abs(x))
