"""Go's fmt verbs: go_sprintf and print/println spacing, bounded by the output limit."""

from __future__ import annotations

import math
import re
from typing import Any

from heron.gotemplate.errors import _FnError
from heron.gotemplate.gotime import GoTime
from heron.gotemplate.size import _too_long
from heron.gotemplate.values import _format_v, _type_name, go_format_float

# --- fmt.Sprintf ------------------------------------------------------------------------------

_VERB = re.compile(r"%([-+# 0]*)(\*|[0-9]+)?(?:\.(\*|[0-9]*))?(.?)", re.S)


def _bad_verb(verb: str, v: Any) -> str:
    if v is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({_type_name(v)}={_format_v(v, False)})"


def _go_quote(s: str) -> str:
    """strconv.Quote."""
    out = ['"']
    for ch in s:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch.isprintable() and not ("\ud800" <= ch <= "\udfff"):
            out.append(ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append("\\" + "abfnrtv"["\a\b\f\n\r\t\v".index(ch)])
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif "\ud800" <= ch <= "\udfff":
            out.append("\\ufffd")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _go_quote_rune(r: int) -> str:
    """strconv.QuoteRune."""
    if not 0 <= r <= 0x10FFFF or 0xD800 <= r <= 0xDFFF:
        r = 0xFFFD
    inner = _go_quote(chr(r))[1:-1].replace('\\"', '"')
    return "'" + ("\\'" if inner == "'" else inner) + "'"


def _pad_to(s: str, width: int | None, minus: bool, zero: bool) -> str:
    if width is None or len(s) >= width:
        return s
    if minus:
        return s + " " * (width - len(s))
    if zero:
        sign = s[0] if s and s[0] in "+-" else ""
        return sign + "0" * (width - len(s)) + s[len(sign) :]
    return " " * (width - len(s)) + s


def _fmt_int(v: int, verb: str, flags: str, prec: int | None) -> str:
    base = {"d": 10, "v": 10, "b": 2, "o": 8, "O": 8, "x": 16, "X": 16}[verb]
    digits = format(abs(v), {2: "b", 8: "o", 10: "d", 16: "x"}[base])
    if verb == "X":
        digits = digits.upper()
    if prec is not None:
        digits = "" if prec == 0 and v == 0 else digits.rjust(prec, "0")
    if "#" in flags:
        digits = {2: "0b", 8: "0", 16: "0x" if verb == "x" else "0X"}.get(base, "") + digits
    if verb == "O":
        digits = "0o" + digits
    sign = "-" if v < 0 else "+" if "+" in flags else " " if " " in flags else ""
    return sign + digits


_GO_FMT_MAX = 1_000_000  # fmt's tooLarge: a bigger width or precision is not a number to Go


def _parsenum(digits: str) -> int | None:
    """fmt's parsenum: the number, or None where Go gives up ("crazy long number")."""
    num = 0
    for ch in digits:
        if num > _GO_FMT_MAX:
            return None
        num = num * 10 + ord(ch) - 48
    return num


def _check_pad(width: int | None, prec: int | None, verb: str, v: Any, limit: int | None) -> None:
    """Refuse, before building it, a field that padding or precision would make longer than
    the output limit (Go allows up to ten million characters in one field)."""
    if limit is None:
        return
    grows = isinstance(v, (int, float)) and not isinstance(v, bool) and verb in "dvboOxXeEfFgG"
    size = max(width or 0, (prec or 0) if grows else 0)
    if size > limit:
        raise _FnError(_too_long(size, limit))


def _fmt_one(
    verb: str, flags: str, width: int | None, prec: int | None, v: Any, limit: int | None = None
) -> str:
    _check_pad(width, prec, verb, v, limit)
    minus, zero = "-" in flags, "0" in flags and "-" not in flags
    if isinstance(v, bool):
        if verb not in "tv":
            return _bad_verb(verb, v)
        return _pad_to("true" if v else "false", width, minus, False)
    if isinstance(v, int):
        if verb in "dvboOxX":
            s = _fmt_int(v, verb, flags, prec)
            return _pad_to(s, width, minus, zero and prec is None)
        if verb == "c":  # Go's utf8.EncodeRune: a surrogate or out-of-range rune is U+FFFD
            ok = 0 <= v <= 0x10FFFF and not 0xD800 <= v <= 0xDFFF
            return _pad_to(chr(v) if ok else "\ufffd", width, minus, False)
        if verb == "q":
            return _pad_to(_go_quote_rune(v), width, minus, False)
        if verb == "U":
            return _pad_to(f"U+{v:04X}", width, minus, False)
        return _bad_verb(verb, v)
    if isinstance(v, float):
        if verb not in "veEfFgG":
            return _bad_verb(verb, v)
        if math.isnan(v) or math.isinf(v):  # Go never zero-pads these; NaN shows a sign only if asked
            if math.isinf(v):
                s = "+Inf" if v > 0 else "-Inf"
            else:
                s = "+NaN" if "+" in flags else " NaN" if " " in flags else "NaN"
            return _pad_to(s, width, minus, False)
        if verb in "vgG":
            s = go_format_float(v, -1 if prec is None else prec)
            if verb == "G":
                s = s.upper()
        else:
            p = 6 if prec is None else prec
            s = f"{v:.{p}{verb.lower() if verb in 'fF' else verb}}"
        if "+" in flags and not s.startswith("-"):
            s = "+" + s
        elif " " in flags and not s.startswith("-"):
            s = " " + s
        return _pad_to(s, width, minus, zero)
    if isinstance(v, str):
        if verb in "sv":
            s = v if prec is None else v[:prec]
        elif verb == "q":
            s = _go_quote(v if prec is None else v[:prec])
        elif verb in "xX":
            data = v.encode("utf-8", "surrogateescape")
            if prec is not None:
                data = data[:prec]
            s = data.hex(" ") if " " in flags else data.hex()
            s = s.upper() if verb == "X" else s
        else:
            return _bad_verb(verb, v)
        return _pad_to(s, width, minus, zero)
    if v is None:
        return _pad_to("<nil>", width, minus, False) if verb == "v" else _bad_verb(verb, v)
    if isinstance(v, GoTime):
        if verb in "vs":
            return _pad_to(v.string(), width, minus, False)
        return _bad_verb(verb, v)
    return _pad_to(_format_v(v, False), width, minus, False)


def go_sprintf(fmt: str, *args: Any, limit: int | None = None) -> str:
    """fmt.Sprintf for the verbs templates use: %s %v %d %q %f %e %g %x %X %o %b %c %t %U %%,
    flags `-+# 0`, width and precision (also `*`); mismatches print Go's %!verb(type=value).

    Widths and precisions past a million are Go's BADWIDTH/BADPREC/NOVERB; with `limit`, a
    field wider than `limit` characters is an error before it is padded."""
    out: list[str] = []
    argi = 0
    pos = 0
    n = len(fmt)
    size = 0  # of the formatted arguments, which (unlike fmt's text) can outgrow the template
    while pos < n:
        i = fmt.find("%", pos)
        if i < 0:
            out.append(fmt[pos:])
            break
        out.append(fmt[pos:i])
        m = _VERB.match(fmt, i)
        assert m is not None
        flags, width_s, prec_s, verb = m.groups()
        pos = m.end()
        if verb == "%":
            out.append("%")
            continue
        if not verb:
            out.append("%!(NOVERB)")
            break
        width: int | None = None
        prec: int | None = None
        if width_s == "*":
            arg = args[argi] if argi < len(args) else None
            if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) <= _GO_FMT_MAX:
                width = arg
                if width < 0:
                    flags += "-"
                    width = -width
            else:
                out.append("%!(BADWIDTH)")
            argi += 1
        elif width_s:
            width = _parsenum(width_s)
            if width is None:
                out.append("%!(NOVERB)")
                break
        if prec_s == "*":
            arg = args[argi] if argi < len(args) else None
            if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) <= _GO_FMT_MAX:
                prec = arg if arg >= 0 else None
            else:
                out.append("%!(BADPREC)")
            argi += 1
        elif prec_s is not None:
            prec = _parsenum(prec_s) if prec_s else 0
            if prec is None:
                out.append("%!(NOVERB)")
                break
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        piece = _fmt_one(verb, flags, width, prec, args[argi], limit)
        out.append(piece)
        argi += 1
        if limit is not None:
            size += len(piece)
            if size > limit:
                raise _FnError(_too_long(size, limit, partial=True))
    if argi < len(args):
        extra = ", ".join(
            "<nil>" if a is None else f"{_type_name(a)}={_format_v(a, False)}" for a in args[argi:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _sprint(args: tuple[Any, ...], limit: int | None = None, sep: str = "") -> str:
    """fmt.Sprint: a space between operands when neither is a string (fmt.Sprintln: `sep`
    " " between all operands); with `limit`, stops once the text is longer."""
    out: list[str] = []
    prev_str = True
    size = 0
    for k, a in enumerate(args):
        is_str = isinstance(a, str)
        if k > 0 and (sep or (not is_str and not prev_str)):
            out.append(sep or " ")
            size += 1
        piece = _format_v(a, False)
        out.append(piece)
        size += len(piece)
        if limit is not None and size > limit:
            raise _FnError(_too_long(size, limit, partial=True))
        prev_str = is_str
    return "".join(out)
