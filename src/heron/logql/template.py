"""The Go text/template subset behind LogQL's `line_format` and `label_format`.

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
from typing import Any, Callable, Mapping, NamedTuple

import re2

from heron.logql.linefilter import compile_regex

__all__ = [
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


class TemplateError(ValueError):
    """The template text does not parse (raised by compile_template, Go-style message)."""


class TemplateExecError(ValueError):
    """Rendering failed (bad argument type, function error); Loki's TemplateFormatErr."""


class _FnError(Exception):
    """Raised by a template function; becomes `error calling NAME: message`."""


# --- Go values --------------------------------------------------------------------------------

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def _wrap64(v: int) -> int:
    """Two's complement wrap-around, as Go int64 arithmetic does."""
    return ((v - _INT64_MIN) & 0xFFFFFFFFFFFFFFFF) + _INT64_MIN


def _type_name(v: Any) -> str:
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, GoTime):
        return "time.Time"
    if isinstance(v, dict):
        return "map[string]interface {}"
    if isinstance(v, list):
        return "[]interface {}"
    return type(v).__name__


def _truth(v: Any) -> bool:
    """Go template truth: false, 0, nil and empty strings/collections are false."""
    if v is None:
        return False
    if isinstance(v, (bool, int, float, str, dict, list)):
        return bool(v)
    return True  # structs (time values)


def go_format_float(f: float, prec: int = -1) -> str:
    """Go's %v / strconv.FormatFloat(f, 'g', prec, 64): shortest digits, and the exponent form
    when the exponent is < -4 or >= 6 (or >= prec when a precision is given)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if prec >= 0:
        return f"{f:.{max(prec, 1)}g}"  # C's %g agrees with Go's once a precision is set
    digits, dp = _shortest(f)
    neg = math.copysign(1.0, f) < 0
    exp = dp - 1
    if digits != "0" and (exp < -4 or exp >= 6):
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return ("-" if neg else "") + mant + ("e-" if exp < 0 else "e+") + f"{abs(exp):02d}"
    if dp <= 0:
        body = "0." + "0" * (-dp) + digits
    elif dp >= len(digits):
        body = digits + "0" * (dp - len(digits))
    else:
        body = digits[:dp] + "." + digits[dp:]
    return ("-" if neg else "") + body


def _shortest(f: float) -> tuple[str, int]:
    """Shortest round-trip digits of |f| (Python's repr and Go's agree) and the decimal point
    position: |f| = 0.DIGITS * 10**dp. Zero is ("0", 1)."""
    mant, _, exp = repr(abs(f)).partition("e")
    intpart, _, frac = mant.partition(".")
    raw = intpart + frac
    stripped = raw.lstrip("0")
    if not stripped.rstrip("0"):
        return "0", 1
    dp = len(intpart) + (int(exp) if exp else 0) - (len(raw) - len(stripped))
    return stripped.rstrip("0"), dp


def _format_v(v: Any, top: bool = True) -> str:
    """fmt's %v, which text/template uses to print; a nil value alone prints "<no value>"."""
    if isinstance(v, str):
        return v
    if v is None:
        return "<no value>" if top else "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return go_format_float(v)
    if isinstance(v, GoTime):
        return v.string()
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_format_v(v[k], False)}" for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(_format_v(x, False) for x in v) + "]"
    return str(v)


# --- Go time ----------------------------------------------------------------------------------

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"]  # fmt: skip
_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
_UNIX_TO_ZERO = 62135596800  # seconds from 0001-01-01 (Go's zero time) to 1970-01-01


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date, any year (no datetime limits:
    Go's parser yields year 0 when a layout has no year)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(z: int) -> tuple[int, int, int]:
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, d


class GoTime:
    """A Go time.Time: an instant (unix seconds + nanoseconds) and the zone it is shown in."""

    __slots__ = ("sec", "nsec", "offset", "zone")

    def __init__(self, sec: int, nsec: int = 0, offset: int = 0, zone: str = "UTC") -> None:
        self.sec, self.nsec, self.offset, self.zone = sec, nsec, offset, zone

    @classmethod
    def from_unix_nano(cls, ns: int) -> GoTime:
        sec, nsec = divmod(ns, 1_000_000_000)
        return cls(sec, nsec)

    @classmethod
    def zero(cls) -> GoTime:
        return cls(-_UNIX_TO_ZERO)

    def unix_nano(self) -> int:
        return _wrap64(self.sec * 1_000_000_000 + self.nsec)

    def fields(self) -> tuple[int, int, int, int, int, int, int, int]:
        """(year, month, day, hour, minute, second, weekday, yearday) in the time's zone."""
        days, rem = divmod(self.sec + self.offset, 86400)
        y, m, d = _civil_from_days(days)
        yday = days - _days_from_civil(y, 1, 1) + 1
        return y, m, d, rem // 3600, rem // 60 % 60, rem % 60, (days + 4) % 7, yday

    def string(self) -> str:
        """time.Time.String()."""
        return format_time(self, "2006-01-02 15:04:05.999999999 -0700 MST")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GoTime):
            return NotImplemented
        return (self.sec, self.nsec, self.offset, self.zone) == (
            other.sec,
            other.nsec,
            other.offset,
            other.zone,
        )

    def __hash__(self) -> int:
        return hash((self.sec, self.nsec))

    def __repr__(self) -> str:
        return f"GoTime({self.string()!r})"


class _Chunk(NamedTuple):
    """A literal followed by one layout element, as time.nextStdChunk splits a layout."""

    literal: str
    std: str  # "" for the trailing literal
    digits: int = 0  # fractional seconds: how many digits
    sep: str = ""  # fractional seconds: "." or ","


# Tried in this order at a position whose first character may start an element.
_STD_WORDS = [
    ("January", "LongMonth"), ("Jan", "Month"), ("Monday", "LongWeekDay"), ("Mon", "WeekDay"),
    ("MST", "TZ"), ("002", "ZeroYearDay"), ("01", "ZeroMonth"), ("02", "ZeroDay"),
    ("03", "ZeroHour12"), ("04", "ZeroMinute"), ("05", "ZeroSecond"), ("06", "Year"),
    ("15", "Hour"), ("1", "NumMonth"), ("2006", "LongYear"), ("2", "Day"), ("__2", "UnderYearDay"),
    ("_2", "UnderDay"), ("3", "Hour12"), ("4", "Minute"), ("5", "Second"), ("PM", "PM"), ("pm", "pm"),
    ("-070000", "NumSecondsTZ"), ("-07:00:00", "NumColonSecondsTZ"), ("-0700", "NumTZ"),
    ("-07:00", "NumColonTZ"), ("-07", "NumShortTZ"), ("Z070000", "ISOSecondsTZ"),
    ("Z07:00:00", "ISOColonSecondsTZ"), ("Z0700", "ISOTZ"), ("Z07:00", "ISOColonTZ"), ("Z07", "ISOShortTZ"),
]  # fmt: skip
_STD_FIRST = {w[0] for w, _ in _STD_WORDS}
_LAYOUT_CACHE: dict[str, list[_Chunk]] = {}


def _layout_chunks(layout: str) -> list[_Chunk]:
    chunks = _LAYOUT_CACHE.get(layout)
    if chunks is not None:
        return chunks
    chunks = []
    lit_start = i = 0
    n = len(layout)
    while i < n:
        c = layout[i]
        std, width, digits, sep = "", 0, 0, ""
        if c in _STD_FIRST and not layout.startswith("_2006", i):  # "_2006" is "_" then a year
            if c != "0" or layout.startswith("002", i) or (i + 1 < n and "1" <= layout[i + 1] <= "6"):
                for word, name in _STD_WORDS:
                    if layout.startswith(word, i):
                        std, width = name, len(word)
                        break
                # "Jan"/"Mon" followed by a lower-case letter ("Janet", "Month") is plain text
                if std in ("Month", "WeekDay") and i + 3 < n and "a" <= layout[i + 3] <= "z":
                    std = ""
        elif c in ".," and i + 1 < n and layout[i + 1] in "09":
            j = i + 1
            while j < n and layout[j] == layout[i + 1]:
                j += 1
            if not (j < n and layout[j].isdigit()):
                std, width, digits, sep = ("Frac0" if layout[i + 1] == "0" else "Frac9"), j - i, j - i - 1, c
        if std:
            chunks.append(_Chunk(layout[lit_start:i], std, digits, sep))
            i += width
            lit_start = i
        else:
            i += 1
    chunks.append(_Chunk(layout[lit_start:], ""))
    if len(_LAYOUT_CACHE) < 256:
        _LAYOUT_CACHE[layout] = chunks
    return chunks


def _pad(v: int, width: int) -> str:
    return ("-" if v < 0 else "") + str(abs(v)).rjust(width, "0")


def format_time(t: GoTime, layout: str) -> str:
    """time.Time.Format(layout)."""
    year, month, day, hour, minute, second, wday, yday = t.fields()
    out: list[str] = []
    for ch in _layout_chunks(layout):
        out.append(ch.literal)
        std = ch.std
        if not std:
            continue
        if std == "LongYear":
            out.append(_pad(year, 4))
        elif std == "Year":
            out.append(_pad(year % 100, 2))
        elif std == "Month":
            out.append(_MONTHS[month - 1][:3])
        elif std == "LongMonth":
            out.append(_MONTHS[month - 1])
        elif std == "NumMonth":
            out.append(str(month))
        elif std == "ZeroMonth":
            out.append(_pad(month, 2))
        elif std == "WeekDay":
            out.append(_DAYS[wday][:3])
        elif std == "LongWeekDay":
            out.append(_DAYS[wday])
        elif std == "Day":
            out.append(str(day))
        elif std == "UnderDay":
            out.append(str(day).rjust(2))
        elif std == "ZeroDay":
            out.append(_pad(day, 2))
        elif std == "UnderYearDay":
            out.append(str(yday).rjust(3))
        elif std == "ZeroYearDay":
            out.append(_pad(yday, 3))
        elif std == "Hour":
            out.append(_pad(hour, 2))
        elif std == "Hour12":
            out.append(str(hour % 12 or 12))
        elif std == "ZeroHour12":
            out.append(_pad(hour % 12 or 12, 2))
        elif std == "Minute":
            out.append(str(minute))
        elif std == "ZeroMinute":
            out.append(_pad(minute, 2))
        elif std == "Second":
            out.append(str(second))
        elif std == "ZeroSecond":
            out.append(_pad(second, 2))
        elif std == "PM":
            out.append("PM" if hour >= 12 else "AM")
        elif std == "pm":
            out.append("pm" if hour >= 12 else "am")
        elif std == "TZ":
            out.append(t.zone if t.zone else _format_zone("NumTZ", t.offset))
        elif std.endswith("TZ"):
            out.append(_format_zone(std, t.offset))
        else:  # fractional seconds, truncated
            digits = f"{t.nsec:09d}"[: ch.digits]
            if std == "Frac9":
                digits = digits.rstrip("0")
                if not digits:
                    continue
            out.append(ch.sep + digits)
    return "".join(out)


def _format_zone(std: str, offset: int) -> str:
    if offset == 0 and std.startswith("ISO"):
        return "Z"
    z = offset // 60 if offset >= 0 else -((-offset) // 60)
    out = ("-" if offset < 0 else "+") + _pad(abs(z) // 60, 2)
    colon = "Colon" in std
    if colon:
        out += ":"
    if "Short" not in std:
        out += _pad(abs(z) % 60, 2)
    if "Seconds" in std:
        out += (":" if colon else "") + _pad(abs(offset) % 60, 2)
    return out


class _ParseError(Exception):
    """A template syntax error, turned into a Go-style TemplateError message."""


def _getnum(value: str, fixed: bool) -> tuple[int, str]:
    if not value[:1].isdigit() or not value[:1].isascii():
        raise _ParseError("bad")
    if not (len(value) > 1 and value[1].isdigit() and value[1].isascii()):
        if fixed:
            raise _ParseError("bad")
        return int(value[0]), value[1:]
    return int(value[:2]), value[2:]


def _lookup_name(names: list[str], value: str) -> tuple[int, str]:
    for i, name in enumerate(names):
        if len(value) >= len(name) and value[: len(name)].lower() == name.lower():
            return i, value[len(name) :]
    raise _ParseError("bad")


def parse_time(layout: str, value: str) -> GoTime:
    """time.Parse (UTC default) for Go's layout elements; raises ValueError where Go fails."""
    return _parse_time(layout, value)[0]


def _parse_time(layout: str, value: str) -> tuple[GoTime, bool]:
    """time.Parse, and whether the value named its zone (offset, Z, or abbreviation)."""
    orig = value
    year, month, day, hour, minute, sec, nsec = 0, -1, -1, 0, 0, 0, 0
    yday = -1
    pm_set = am_set = False
    zone_offset: int | None = None
    zone_name: str | None = None
    utc = False
    chunks = _layout_chunks(layout)
    try:
        for k, ch in enumerate(chunks):
            value = _skip(value, ch.literal)
            std = ch.std
            if not std:
                break
            if std == "LongYear":
                if len(value) < 4 or not value[:4].isdigit():
                    raise _ParseError("bad")
                year, value = int(value[:4]), value[4:]
            elif std == "Year":
                if len(value) < 2 or not value[:2].isdigit():
                    raise _ParseError("bad")
                year, value = int(value[:2]), value[2:]
                year += 1900 if year >= 69 else 2000
            elif std in ("Month", "LongMonth"):
                names = [m[:3] for m in _MONTHS] if std == "Month" else _MONTHS
                idx, value = _lookup_name(names, value)
                month = idx + 1
            elif std in ("NumMonth", "ZeroMonth"):
                month, value = _getnum(value, std == "ZeroMonth")
                if not 1 <= month <= 12:
                    raise _ParseError("month")
            elif std in ("WeekDay", "LongWeekDay"):
                _, value = _lookup_name([d[:3] for d in _DAYS] if std == "WeekDay" else _DAYS, value)
            elif std in ("Day", "UnderDay", "ZeroDay"):
                if std == "UnderDay" and value[:1] == " ":
                    value = value[1:]
                day, value = _getnum(value, std == "ZeroDay")
            elif std in ("UnderYearDay", "ZeroYearDay"):
                value = value.lstrip(" ") if std == "UnderYearDay" else value
                m = re.match(r"[0-9]{1,3}" if std == "UnderYearDay" else r"[0-9]{3}", value)
                if not m:
                    raise _ParseError("bad")
                yday, value = int(m.group()), value[m.end() :]
            elif std in ("Hour", "Hour12", "ZeroHour12"):
                hour, value = _getnum(value, std == "ZeroHour12")
                if hour >= (24 if std == "Hour" else 13):
                    raise _ParseError("hour")
            elif std in ("Minute", "ZeroMinute"):
                minute, value = _getnum(value, std == "ZeroMinute")
                if minute >= 60:
                    raise _ParseError("minute")
            elif std in ("Second", "ZeroSecond"):
                sec, value = _getnum(value, std == "ZeroSecond")
                if sec >= 60:
                    raise _ParseError("second")
                # Go also takes a fraction here when the layout has none next.
                nxt = chunks[k + 1] if k + 1 < len(chunks) else None
                if (
                    len(value) >= 2
                    and value[0] in ".,"
                    and value[1].isdigit()
                    and not (nxt is not None and nxt.std.startswith("Frac"))
                ):
                    m = re.match(r"[.,]([0-9]+)", value)
                    assert m is not None
                    nsec = int(m.group(1)[:9].ljust(9, "0"))
                    value = value[m.end() :]
            elif std in ("PM", "pm"):  # exactly "PM"/"AM" for PM, "pm"/"am" for pm
                word = value[:2]
                if word == ("PM" if std == "PM" else "pm"):
                    pm_set = True
                elif word == ("AM" if std == "PM" else "am"):
                    am_set = True
                else:
                    raise _ParseError("bad")
                value = value[2:]
            elif std.startswith("Frac"):
                if std == "Frac0":
                    n = ch.digits
                    if len(value) < n + 1 or value[0] not in ".," or not value[1 : n + 1].isdigit():
                        raise _ParseError("bad")
                    nsec = int(value[1 : n + 1][:9].ljust(9, "0"))
                    value = value[n + 1 :]
                else:
                    m = re.match(r"[.,]([0-9]+)", value)
                    if m:
                        nsec = int(m.group(1)[:9].ljust(9, "0"))
                        value = value[m.end() :]
            elif std == "TZ":
                if value.startswith("UTC"):
                    utc, value = True, value[3:]
                else:
                    m = re.match(r"[A-Z]{3,5}", value)
                    if not m:
                        raise _ParseError("bad")
                    zone_name, value = m.group(), value[m.end() :]
            else:  # numeric / ISO 8601 zones
                if std.startswith("ISO") and value[:1] == "Z":
                    utc, value = True, value[1:]
                    continue
                colon = "Colon" in std
                pat = r"([+-])([0-9]{2})"
                if "Short" not in std:
                    pat += (":" if colon else "") + r"([0-9]{2})"
                if "Seconds" in std:
                    pat += (":" if colon else "") + r"([0-9]{2})"
                m = re.match(pat, value)
                if not m:
                    raise _ParseError("bad")
                parts = [int(x) for x in m.groups()[1:]] + [0, 0]
                zone_offset = (parts[0] * 3600 + parts[1] * 60 + parts[2]) * (-1 if m.group(1) == "-" else 1)
                value = value[m.end() :]
        if value:
            raise _ParseError("extra text")
    except _ParseError as exc:
        raise ValueError(f"parsing time {orig!r} as {layout!r}: cannot parse ({exc})") from None
    if pm_set and hour < 12:
        hour += 12
    elif am_set and hour == 12:
        hour = 0
    if yday >= 0:
        if month < 0 or day < 0:
            days = _days_from_civil(year, 1, 1) + yday - 1
            _, month, day = _civil_from_days(days)
    if month < 0:
        month = 1
    if day < 0:
        day = 1
    dim = [31, 29 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 28, 31, 30, 31, 30, 31,
           31, 30, 31, 30, 31][month - 1]  # fmt: skip
    if day < 1 or day > dim:
        raise ValueError(f"parsing time {orig!r}: day out of range")
    wall = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + sec
    if utc:
        return GoTime(wall, nsec), True
    if zone_offset is not None:  # Go uses Local (UTC here) when the offset matches it
        return GoTime(wall - zone_offset, nsec, zone_offset, "UTC" if zone_offset == 0 else ""), True
    if zone_name is not None:  # an abbreviation Go does not know: offset 0, name kept
        return GoTime(wall, nsec, 0, zone_name), True
    return GoTime(wall, nsec), False


def _skip(value: str, prefix: str) -> str:
    """time.skip: the layout's literal must be next; a run of spaces matches one or more."""
    while prefix:
        if prefix[0] == " ":
            if value and value[0] != " ":
                raise _ParseError("bad")
            prefix = prefix.lstrip(" ")
            value = value.lstrip(" ")
            continue
        if not value or value[0] != prefix[0]:
            raise _ParseError("bad")
        prefix, value = prefix[1:], value[1:]
    return value


def _zone_at(zone: str, wall: int) -> tuple[int, str] | None:
    """(offset, abbreviation) of an IANA zone for a wall-clock time, or None if unknown."""
    import datetime
    import zoneinfo

    try:
        tz = zoneinfo.ZoneInfo(zone)
        days, rem = divmod(wall, 86400)
        y, m, d = _civil_from_days(days)
        dt = datetime.datetime(y, m, d, rem // 3600, rem // 60 % 60, rem % 60, tzinfo=tz)
        off = dt.utcoffset()
        return (int(off.total_seconds()) if off is not None else 0), dt.tzname() or ""
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OverflowError, OSError):
        return None


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


# --- numeric conversions (spf13/cast, as Sprig uses them) ---------------------------------------

_GO_INT = re.compile(
    r"[+-]?(?:0[xX]_?[0-9a-fA-F]+(?:_[0-9a-fA-F]+)*|0[bB]_?[01]+(?:_[01]+)*|0[oO]_?[0-7]+(?:_[0-7]+)*"
    r"|0_?[0-7]+(?:_[0-7]+)*|0|[1-9][0-9]*(?:_[0-9]+)*)\Z"
)
_GO_DEC_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_GO_HEX_FLOAT = re.compile(
    r"[+-]?0[xX](?:_?[0-9a-fA-F])*(?:\.[0-9a-fA-F]*(?:_[0-9a-fA-F]+)*)?[pP][+-]?[0-9]+(?:_[0-9]+)*\Z"
)
_GO_SPECIAL_FLOAT = re.compile(r"[+-]?(?:inf|infinity|nan)\Z", re.I)


def _parse_go_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64); None where Go returns an error."""
    if not _GO_INT.match(text):
        return None
    sign = -1 if text[0] == "-" else 1
    body = text.lstrip("+-").replace("_", "")
    if len(body) > 1 and body[0] == "0" and body[1] in "xXbBoO":
        v = int(body, 0)
    elif len(body) > 1 and body[0] == "0":
        v = int(body, 8)
    else:
        v = int(body)
    v *= sign
    return v if _INT64_MIN <= v <= _INT64_MAX else None


def _parse_go_float(text: str) -> float | None:
    """strconv.ParseFloat(text, 64); None where Go returns an error (also for out of range)."""
    if _GO_SPECIAL_FLOAT.match(text):
        return float(text)
    if _GO_DEC_FLOAT.match(text):
        v = float(text)
    elif _GO_HEX_FLOAT.match(text):
        sign = -1.0 if text[0] == "-" else 1.0
        try:
            v = sign * float.fromhex(text.lstrip("+-").replace("_", ""))
        except OverflowError:
            return None
    else:
        return None
    return None if math.isinf(v) else v


def _trim_zero_decimal(s: str) -> str:
    """cast's trimZeroDecimal: "3.00" -> "3", anything else unchanged."""
    found_zero = False
    for i in range(len(s), 0, -1):
        c = s[i - 1]
        if c == ".":
            if found_zero:
                return s[: i - 1]
        elif c == "0":
            found_zero = True
        else:
            return s
    return s


def _to_int64(v: Any) -> int:
    """cast.ToInt64 with the error dropped, as Sprig does (unparseable -> 0)."""
    if v is None:
        return 0
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return _wrap64(v)
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v) or abs(v) >= 2.0**63:
            return _INT64_MIN  # what Go's float->int64 conversion gives on amd64
        return int(v)
    if isinstance(v, str):
        parsed = _parse_go_int(_trim_zero_decimal(v))
        return 0 if parsed is None else parsed
    return 0


def _to_float64(v: Any) -> float:
    """cast.ToFloat64 with the error dropped (unparseable -> 0)."""
    if v is None:
        return 0.0
    if isinstance(v, (bool, int, float)):
        return float(v)
    if isinstance(v, str):
        parsed = _parse_go_float(v)
        return 0.0 if parsed is None else parsed
    return 0.0


_DEC_CONTEXT = decimal.Context(prec=400, rounding=decimal.ROUND_HALF_UP, Emax=999999, Emin=-999999)


def _to_decimal(v: Any) -> decimal.Decimal:
    """shopspring decimal.NewFromFloat(toFloat64(v)): the shortest decimal of the float."""
    f = _to_float64(v)
    if math.isnan(f) or math.isinf(f):
        raise _FnError(f"Cannot create a Decimal from {go_format_float(f)}")
    return decimal.Decimal(repr(f))


def _decimal_op(first: Any, rest: tuple[Any, ...], op: str) -> float:
    acc = _to_decimal(first)
    for x in rest:
        d = _to_decimal(x)
        if op == "+":
            acc = _DEC_CONTEXT.add(acc, d)
        elif op == "-":
            acc = _DEC_CONTEXT.subtract(acc, d)
        elif op == "*":
            acc = _DEC_CONTEXT.multiply(acc, d)
        else:
            if d == 0:
                raise _FnError("decimal division by 0")
            acc = _DEC_CONTEXT.divide(acc, d).quantize(decimal.Decimal("1e-16"), context=_DEC_CONTEXT)
    return float(acc)


# --- output size ------------------------------------------------------------------------------

DEFAULT_MAX_BYTES = 256 * 1024  # Heron's default max_line_size


def _utf8_len(s: str) -> int:
    """UTF-8 size of text (a lone surrogate counts its three bytes), without copying ASCII."""
    return len(s) if s.isascii() else len(s.encode("utf-8", "surrogatepass"))


def _too_long(size: int, limit: int, partial: bool = False) -> str:
    """The error text; `partial` when `size` counts only what was built before stopping."""
    what = f"at least {size}" if partial else str(size)
    return f"output of {what} bytes exceeds the maximum line size of {limit} bytes (max_line_size)"


def _check_size(size: int, limit: int, partial: bool = False) -> None:
    if size > limit:
        raise _FnError(_too_long(size, limit, partial))


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
    """Sprig's b64dec: the decoded text, or Go's error message as the result."""
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


def _kind(v: Any) -> str:
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    return "other"


def _eq(a: Any, *rest: Any) -> bool:
    """Go's eq: true if a equals any of the rest; kinds must match."""
    if not rest:
        raise _FnError("missing argument for comparison")
    ka = _kind(a)
    for b in rest:
        kb = _kind(b)
        if ka != kb:
            if ka == "nil" or kb == "nil":
                if a is None and b is None:
                    return True
                continue
            raise _FnError("incompatible types for comparison")
        if ka == "other" and isinstance(a, (dict, list)):
            raise _FnError(f"non-comparable type {_format_v(a, False)}: {_type_name(a)}")
        if a == b:
            return True
    return False


def _ne(a: Any, b: Any) -> bool:
    return not _eq(a, b)


def _lt(a: Any, b: Any) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka in ("bool", "nil", "other") or kb in ("bool", "nil", "other"):
        raise _FnError("invalid type for comparison")
    if ka != kb:
        raise _FnError("incompatible types for comparison")
    return bool(a < b)


def _le(a: Any, b: Any) -> bool:
    return _lt(a, b) or _eq(a, b)


def _gt(a: Any, b: Any) -> bool:
    return not _le(a, b)


def _ge(a: Any, b: Any) -> bool:
    return not _lt(a, b)


def _len(v: Any) -> int:
    if isinstance(v, str):
        return len(v.encode("utf-8", "surrogateescape"))
    if isinstance(v, (list, dict)):
        return len(v)
    if v is None:
        raise _FnError("len of nil pointer")
    raise _FnError(f"len of type {_type_name(v)}")


def _index(item: Any, *indexes: Any) -> Any:
    for idx in indexes:
        if isinstance(item, dict):
            if not isinstance(idx, str):
                raise _FnError(f"value has type {_type_name(idx)}; should be string")
            item = item.get(idx)
        elif isinstance(item, (list, str)):
            if not isinstance(idx, int) or isinstance(idx, bool):
                raise _FnError(f"cannot index slice/array with type {_type_name(idx)}")
            seq = item.encode("utf-8", "surrogateescape") if isinstance(item, str) else item
            if not 0 <= idx < len(seq):
                raise _FnError(f"index out of range: {idx}")
            item = seq[idx]
        elif item is None:
            raise _FnError("index of untyped nil")
        else:
            raise _FnError(f"can't index item of type {_type_name(item)}")
    return item


def _slice(item: Any, *idx: Any) -> Any:
    if not isinstance(item, (str, list)):
        raise _FnError(f"can't slice item of type {_type_name(item)}")
    if len(idx) > 2:
        raise _FnError("too many slice indexes: 3")
    seq = item.encode("utf-8", "surrogateescape") if isinstance(item, str) else item
    bounds = [i if isinstance(i, int) and not isinstance(i, bool) else -1 for i in idx]
    lo = bounds[0] if bounds else 0
    hi = bounds[1] if len(bounds) > 1 else len(seq)
    if lo < 0 or hi < lo or hi > len(seq):
        raise _FnError(f"invalid slice index: {lo} > {hi}" if 0 <= hi < lo else f"index out of range: {hi}")
    out = seq[lo:hi]
    return out.decode("utf-8", "surrogateescape") if isinstance(out, bytes) else out


def _html_escape(limit: int, *args: Any) -> str:
    s = args[0] if len(args) == 1 and isinstance(args[0], str) else _sprint(args, limit)
    return (
        s.replace("&", "&amp;").replace("'", "&#39;").replace("<", "&lt;").replace(">", "&gt;")
        .replace('"', "&#34;").replace("\x00", "\ufffd")
    )  # fmt: skip


def _js_escape(limit: int, *args: Any) -> str:
    s = args[0] if len(args) == 1 and isinstance(args[0], str) else _sprint(args, limit)
    out: list[str] = []
    for ch in s:
        if ch in "\\'\"":
            out.append("\\" + ch)
        elif ch in "<>&=":
            out.append(f"\\u{ord(ch):04X}")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


def _urlquery(limit: int, *args: Any) -> str:
    s = args[0] if len(args) == 1 and isinstance(args[0], str) else _sprint(args, limit)
    return urllib.parse.quote_plus(s, safe="")


class _Fn(NamedTuple):
    """A template function: its implementation and Go parameter kinds.

    Kinds: "string", "int", "float64", "bool", "any" (interface{}), "time" (time.Time).
    `variadic` is the kind of the trailing ...args, if any.
    """

    impl: Callable[..., Any]
    params: tuple[str, ...]
    variadic: str | None = None
    sized: bool = False  # impl takes the output limit first, to refuse an oversized result early


_S, _I, _F, _A, _T = "string", "int", "float64", "any", "time"

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
    # Go builtins (and/or are special forms: their arguments are evaluated lazily)
    "not": _Fn(lambda a: not _truth(a), (_A,)),
    "len": _Fn(_len, (_A,)),
    "index": _Fn(_index, (_A,), _A),
    "slice": _Fn(_slice, (_A,), _A),
    "print": _Fn(lambda m, *a: _sprint(a, m), (), _A, sized=True),
    "printf": _Fn(lambda m, fmt, *a: go_sprintf(fmt, *a, limit=m), (_S,), _A, sized=True),
    "println": _Fn(lambda m, *a: _sprint(a, m, " ") + "\n", (), _A, sized=True),
    "eq": _Fn(_eq, (_A,), _A),
    "ne": _Fn(_ne, (_A, _A)),
    "lt": _Fn(_lt, (_A, _A)),
    "le": _Fn(_le, (_A, _A)),
    "gt": _Fn(_gt, (_A, _A)),
    "ge": _Fn(_ge, (_A, _A)),
    "html": _Fn(_html_escape, (), _A, sized=True),
    "js": _Fn(_js_escape, (), _A, sized=True),
    "urlquery": _Fn(_urlquery, (), _A, sized=True),
}
_LAZY = {"and", "or"}
_LINE_FN, _TS_FN = "__line__", "__timestamp__"
_UNSUPPORTED = {"define", "template", "block", "call"}


# --- lexer ------------------------------------------------------------------------------------


class _Tok(NamedTuple):
    kind: str  # TEXT LEFT RIGHT PIPE LPAREN RPAREN DECLARE ASSIGN COMMA STRING CHAR NUMBER
    #            BOOL NIL DOT FIELD VAR IDENT KEYWORD EOF
    value: Any
    pos: int
    space: bool  # whitespace right before it (a field chain must be unbroken)
    raw: str = ""  # source text, for error messages


_KEYWORDS = {"if", "else", "end", "with", "range", "define", "template", "block", "break", "continue"}
_SPACE = " \t\r\n"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FIELD = re.compile(r"[A-Za-z0-9_]*")
_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?[0-9_]+)?|0[bB][01_]+|0[oO][0-7_]+"
    r"|[0-9_]*\.?[0-9_]*(?:[eE][+-]?[0-9_]+)?)"
)
_TERMINATORS = set(_SPACE) | set(".,|:)(")
_NUMBER_START = set("0123456789.")


class _Lexer:
    """Go text/template's lexer, for the default `{{` `}}` delimiters."""

    def __init__(self, text: str, name: str) -> None:
        self.text, self.name = text, name
        self.tokens: list[_Tok] = []

    def error(self, pos: int, msg: str) -> TemplateError:
        return TemplateError(f"template: {self.name}:{self.text.count(chr(10), 0, pos) + 1}: {msg}")

    def run(self) -> list[_Tok]:
        text = self.text
        n = len(text)
        pos = 0
        trim_next = False
        while True:
            j = text.find("{{", pos)
            seg = text[pos:] if j < 0 else text[pos:j]
            if trim_next:
                seg = seg.lstrip(_SPACE)
            if j < 0:
                if seg:
                    self.tokens.append(_Tok("TEXT", seg, pos, False))
                self.tokens.append(_Tok("EOF", None, n, False))
                return self.tokens
            k = j + 2
            if text.startswith("-", k) and k + 1 < n and text[k + 1] in _SPACE:
                seg = seg.rstrip(_SPACE)
                k += 2
            if seg:
                self.tokens.append(_Tok("TEXT", seg, pos, False))
            if text.startswith("/*", k):
                end = text.find("*/", k + 2)
                if end < 0:
                    raise self.error(j, "unclosed comment")
                k = end + 2
                if text.startswith(" -}}", k):
                    pos, trim_next = k + 4, True
                elif text.startswith("}}", k):
                    pos, trim_next = k + 2, False
                else:
                    raise self.error(j, "comment ends before closing delimiter")
                continue
            self.tokens.append(_Tok("LEFT", None, j, False))
            pos, trim_next = self.action(k)

    def action(self, k: int) -> tuple[int, bool]:
        """Tokens of one action from k; returns the position after `}}` and the trim flag."""
        text = self.text
        n = len(text)
        paren = 0
        while True:
            start = k
            while k < n and text[k] in _SPACE:
                k += 1
            space = k > start
            if space and text.startswith("-}}", k):
                self.tokens.append(_Tok("RIGHT", None, k, space))
                return k + 3, True
            if text.startswith("}}", k):
                if paren:
                    raise self.error(k, "unclosed left paren")
                self.tokens.append(_Tok("RIGHT", None, k, space))
                return k + 2, False
            if k >= n:
                raise self.error(k, "unclosed action")
            c = text[k]
            single = {"|": "PIPE", "(": "LPAREN", ")": "RPAREN", ",": "COMMA"}
            if c in single:
                paren += {"(": 1, ")": -1}.get(c, 0)
                if paren < 0:
                    raise self.error(k, "unexpected right paren")
                self.tokens.append(_Tok(single[c], c, k, space, c))
                k += 1
            elif c == ":" and text.startswith(":=", k):
                self.tokens.append(_Tok("DECLARE", ":=", k, space, ":="))
                k += 2
            elif c == "=":
                self.tokens.append(_Tok("ASSIGN", "=", k, space, "="))
                k += 1
            elif c == '"':
                end = k + 1
                while end < n and text[end] != '"':
                    if text[end] == "\n":
                        raise self.error(k, "unterminated quoted string")
                    end += 2 if text[end] == "\\" else 1
                if end >= n:
                    raise self.error(k, "unterminated quoted string")
                raw = text[k : end + 1]
                self.tokens.append(_Tok("STRING", self.unquote(raw, k), k, space, raw))
                k = end + 1
            elif c == "`":
                end = text.find("`", k + 1)
                if end < 0:
                    raise self.error(k, "unterminated raw quoted string")
                raw = text[k : end + 1]
                self.tokens.append(_Tok("STRING", raw[1:-1], k, space, raw))
                k = end + 1
            elif c == "'":
                end = k + 1
                while end < n and text[end] != "'":
                    if text[end] == "\n":
                        raise self.error(k, "unterminated character constant")
                    end += 2 if text[end] == "\\" else 1
                if end >= n:
                    raise self.error(k, "unterminated character constant")
                raw = text[k : end + 1]
                value = self.unquote('"' + raw[1:-1].replace('"', '\\"') + '"', k)
                if len(value) != 1:
                    raise self.error(k, f"malformed character constant: {raw}")
                self.tokens.append(_Tok("CHAR", ord(value), k, space, raw))
                k = end + 1
            elif c == "$":
                m = _FIELD.match(text, k + 1)
                assert m is not None
                self.tokens.append(_Tok("VAR", "$" + m.group(), k, space, "$" + m.group()))
                k = self.terminated(m.end())
            elif c == "." and not (k + 1 < n and text[k + 1].isdigit()):
                m = _FIELD.match(text, k + 1)
                assert m is not None
                if m.group():
                    self.tokens.append(_Tok("FIELD", m.group(), k, space, "." + m.group()))
                else:
                    self.tokens.append(_Tok("DOT", ".", k, space, "."))
                k = self.terminated(m.end())
            elif c.isdigit() or c == "." or (c in "+-" and k + 1 < n and text[k + 1] in _NUMBER_START):
                m = _NUMBER.match(text, k)
                assert m is not None
                end = m.end()
                if end < n and (text[end].isalnum() or text[end] == "_"):
                    raise self.error(k, f"bad number syntax: {text[k : end + 1]!r}")
                self.tokens.append(_Tok("NUMBER", m.group(), k, space, m.group()))
                k = end
            elif c.isalpha() or c == "_":
                m = _IDENT.match(text, k)
                if m is None:
                    raise self.error(k, f"bad character {c!r}")
                word = m.group()
                if word in ("true", "false"):
                    self.tokens.append(_Tok("BOOL", word == "true", k, space, word))
                elif word == "nil":
                    self.tokens.append(_Tok("NIL", None, k, space, word))
                elif word in _KEYWORDS:
                    self.tokens.append(_Tok("KEYWORD", word, k, space, word))
                else:
                    self.tokens.append(_Tok("IDENT", word, k, space, word))
                k = self.terminated(m.end())
            else:
                raise self.error(k, f"unrecognized character in action: {c!r}")

    def terminated(self, k: int) -> int:
        """A word must end at a terminator, as Go's lexer insists."""
        text = self.text
        if k < len(text) and text[k] not in _TERMINATORS and not text.startswith("}}", k):
            raise self.error(k, f"bad character {text[k]!r}")
        return k

    def unquote(self, raw: str, pos: int) -> str:
        """strconv.Unquote of a double-quoted Go string literal."""
        body = raw[1:-1]
        if "\\" not in body:
            return body
        out: list[str] = []
        i = 0
        while i < len(body):
            c = body[i]
            if c != "\\":
                out.append(c)
                i += 1
                continue
            e = body[i + 1 : i + 2]
            simple = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
                      "\\": "\\", '"': '"'}  # fmt: skip
            if e in simple:
                out.append(simple[e])
                i += 2
                continue
            width = {"x": 2, "u": 4, "U": 8}.get(e)
            if width:
                digits = body[i + 2 : i + 2 + width]
                if len(digits) != width or not re.fullmatch(r"[0-9a-fA-F]+", digits):
                    raise self.error(pos, f"invalid syntax: {raw}")
                cp = int(digits, 16)
                if e != "x" and (cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF):
                    raise self.error(pos, f"invalid syntax: {raw}")
                out.append(chr(cp))
                i += 2 + width
                continue
            if e and e in "01234567":
                digits = body[i + 1 : i + 4]
                if not re.fullmatch(r"[0-7]{3}", digits) or int(digits, 8) > 255:
                    raise self.error(pos, f"invalid syntax: {raw}")
                out.append(chr(int(digits, 8)))
                i += 4
                continue
            raise self.error(pos, f"invalid syntax: {raw}")
        return "".join(out)


# --- parse tree -------------------------------------------------------------------------------


class _Num(NamedTuple):
    """A number literal as text/template's parse.NumberNode sees it."""

    text: str
    is_int: bool
    int_val: int
    is_float: bool
    float_val: float
    is_char: bool = False


def _number(text: str, is_char: bool = False, char_val: int = 0) -> _Num | None:
    if is_char:
        return _Num(text, True, char_val, True, float(char_val), True)
    clean = text
    i = _parse_go_int(clean)
    if i is not None:
        return _Num(text, True, i, True, float(i))
    f = _parse_go_float(clean)
    if f is None:
        return None
    if not any(c in text for c in ".eEpP"):
        return None  # an integer too large for int64: Go rejects it
    if f.is_integer() and abs(f) < 2.0**63:
        return _Num(text, True, int(f), True, f)
    return _Num(text, False, 0, True, f)


class _Lit(NamedTuple):
    kind: str  # "string", "number", "bool", "nil"
    value: Any
    raw: str
    pos: int = 0


class _Field(NamedTuple):
    base: Any  # "dot", "root", or a parenthesised _Pipe
    chain: tuple[str, ...]
    raw: str
    pos: int = 0


class _Ident(NamedTuple):
    name: str
    raw: str
    pos: int = 0


class _Cmd(NamedTuple):
    args: list[Any]
    pos: int
    raw: str


class _Pipe(NamedTuple):
    cmds: list[_Cmd]
    pos: int
    decl: tuple[str, ...] = ()  # `$x :=` / `$i, $v :=` variables the pipeline's value goes to
    assign: bool = False  # `$x =`: the variable exists already


class _Action(NamedTuple):
    pipe: _Pipe


class _Loop(NamedTuple):
    word: str  # "break" or "continue", inside a {{range}}


class _Branch(NamedTuple):
    kind: str  # "if", "with" or "range"
    pipe: _Pipe
    body: list[Any]
    orelse: list[Any] | None


class _Parser:
    def __init__(self, lexer: _Lexer) -> None:
        self.lx = lexer
        self.toks = lexer.run()
        self.i = 0
        self.vars: list[str] = ["$"]  # declared variables in scope, as Go's parser tracks them
        self.declares = False  # any `:=` at all: renders then need a variable stack of their own
        self.range_depth = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def next(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def error(self, tok: _Tok, msg: str) -> TemplateError:
        return self.lx.error(tok.pos, msg)

    def expect(self, kind: str, context: str) -> _Tok:
        tok = self.next()
        if tok.kind != kind:
            raise self.error(tok, f"unexpected {self.describe(tok)} in {context}")
        return tok

    @staticmethod
    def describe(tok: _Tok) -> str:
        if tok.kind == "EOF":
            return "EOF"
        if tok.kind == "RIGHT":
            return '"}}"'
        return f'"{tok.raw or tok.value}"'

    def parse(self) -> list[Any]:
        nodes, stop = self.parse_list()
        if stop is not None:
            raise self.error(stop, f"unexpected {{{{{stop.value}}}}}")
        return nodes

    def parse_list(self) -> tuple[list[Any], _Tok | None]:
        """Nodes up to EOF (stop None) or an `{{else ...` / `{{end` action (its keyword token)."""
        nodes: list[Any] = []
        while True:
            tok = self.next()
            if tok.kind == "EOF":
                return nodes, None
            if tok.kind == "TEXT":
                nodes.append(tok.value)
                continue
            first = self.peek()  # after LEFT
            if first.kind == "KEYWORD":
                word = first.value
                if word in ("else", "end"):
                    self.next()
                    return nodes, first
                if word in ("if", "with", "range"):
                    self.next()
                    nodes.append(self.parse_branch(word, first))
                    continue
                if word in ("break", "continue"):
                    self.next()
                    if not self.range_depth:
                        raise self.error(first, f"{{{{{word}}}}} outside {{{{range}}}}")
                    self.expect("RIGHT", word)
                    nodes.append(_Loop(word))
                    continue
                raise self.error(first, f'"{word}" is not supported by this LogQL engine')
            pipe = self.parse_pipeline("command")
            self.expect("RIGHT", "command")
            nodes.append(_Action(pipe))

    def parse_branch(self, kind: str, kw: _Tok) -> _Branch:
        """A control structure; variables declared in it go out of scope at its {{end}}."""
        mark = len(self.vars)
        try:
            return self._parse_branch(kind, kw)
        finally:
            del self.vars[mark:]

    def _parse_branch(self, kind: str, kw: _Tok) -> _Branch:
        pipe = self.parse_pipeline(kind)
        self.expect("RIGHT", kind)
        self.range_depth += kind == "range"
        try:
            body, stop = self.parse_list()
        finally:
            self.range_depth -= kind == "range"
        if stop is None:
            raise self.error(self.toks[self.i - 1], "unexpected EOF")
        if stop.value == "end":
            self.expect("RIGHT", "end")
            return _Branch(kind, pipe, body, None)
        # else
        nxt = self.peek()
        if nxt.kind == "KEYWORD" and nxt.value in ("if", "with"):  # {{else if}}: shares the {{end}}
            self.next()
            return _Branch(kind, pipe, body, [self.parse_branch(nxt.value, nxt)])
        self.expect("RIGHT", "else")
        orelse, stop2 = self.parse_list()
        if stop2 is None:
            raise self.error(self.toks[self.i - 1], "unexpected EOF")
        if stop2.value != "end":
            raise self.error(stop2, "expected end; found {{else}}")
        self.expect("RIGHT", "end")
        return _Branch(kind, pipe, body, orelse)

    def parse_pipeline(self, context: str) -> _Pipe:
        start = self.peek()
        decl, assign = self.parse_declaration(context)
        start = self.peek()
        if start.kind in ("RIGHT", "RPAREN", "EOF"):
            raise self.error(start, f"missing value for {context}")
        cmds: list[_Cmd] = []
        while True:
            cmds.append(self.parse_command(len(cmds)))  # "empty command" if nothing is there
            if self.peek().kind != "PIPE":
                return _Pipe(cmds, start.pos, decl, assign)
            self.next()

    def parse_declaration(self, context: str) -> tuple[tuple[str, ...], bool]:
        """`$x :=`, `$x =`, and in a range `$i, $v :=`, as Go's parser reads them."""
        toks, i = self.toks, self.i
        if toks[i].kind != "VAR":
            return (), False
        if toks[i + 1].kind in ("DECLARE", "ASSIGN"):
            names, op = (toks[i].value,), toks[i + 1]
            self.i += 2
        elif toks[i + 1].kind == "COMMA" and context == "range" and toks[i + 2].kind == "VAR":
            if toks[i + 3].kind == "COMMA":
                raise self.error(toks[i + 3], "too many declarations in range")
            if toks[i + 3].kind not in ("DECLARE", "ASSIGN"):
                raise self.error(toks[i + 3], f"unexpected {self.describe(toks[i + 3])} in range")
            names, op = (toks[i].value, toks[i + 2].value), toks[i + 3]
            self.i += 4
        elif toks[i + 1].kind == "COMMA":
            raise self.error(toks[i + 1], f"too many declarations in {context}")
        else:
            return (), False
        if op.kind == "ASSIGN":
            for name in names:
                if name not in self.vars:
                    raise self.error(op, f"undefined variable {_go_quote(name)}")
        else:
            self.vars.extend(names)
        self.declares = True
        return names, op.kind == "ASSIGN"

    def parse_command(self, stage: int) -> _Cmd:
        args: list[Any] = []
        start = self.peek()
        while self.peek().kind not in ("PIPE", "RIGHT", "RPAREN", "EOF"):
            tok = self.peek()
            if args and not tok.space and tok.kind not in ("LPAREN",):
                raise self.error(tok, f"missing space? {self.describe(tok)}")
            args.append(self.parse_operand())
        if not args:
            raise self.error(start, "empty command")
        head = args[0]
        raw = self.lx.text[start.pos : self.peek().pos].strip()
        if isinstance(head, _Lit) and head.kind == "nil":
            raise self.error(start, "nil is not a command")
        # Go's checkPipeline refuses only constants and `.` after a pipe; fields fail when run
        constant = isinstance(head, _Lit) or (
            isinstance(head, _Field) and head.base == "dot" and not head.chain
        )
        if stage > 0 and constant:
            raise self.error(start, f"non executable command in pipeline stage {stage + 1}")
        return _Cmd(args, start.pos, raw)

    def parse_operand(self) -> Any:
        tok = self.next()
        node: Any
        if tok.kind == "IDENT":
            name = tok.value
            if name not in FUNCTIONS and name not in _LAZY and name not in (_LINE_FN, _TS_FN):
                if name in _UNSUPPORTED:
                    raise self.error(tok, f'function "{name}" is not supported by this LogQL engine')
                raise self.error(tok, f'function "{name}" not defined')
            node = _Ident(name, tok.raw, tok.pos)
        elif tok.kind == "DOT":
            node = _Field("dot", (), ".", tok.pos)
        elif tok.kind == "FIELD":
            node = _Field("dot", (tok.value,), tok.raw, tok.pos)
        elif tok.kind == "VAR":
            if tok.value == "$":
                node = _Field("root", (), "$", tok.pos)
            elif tok.value in self.vars:
                node = _Field(("var", tok.value), (), tok.value, tok.pos)
            else:
                raise self.error(tok, f"undefined variable {_go_quote(tok.value)}")
        elif tok.kind == "STRING":
            node = _Lit("string", tok.value, tok.raw, tok.pos)
        elif tok.kind == "CHAR":
            node = _Lit("number", _number(tok.raw, True, tok.value), tok.raw, tok.pos)
        elif tok.kind == "NUMBER":
            num = _number(tok.value)
            if num is None:
                raise self.error(tok, f"illegal number syntax: {tok.value!r}")
            node = _Lit("number", num, tok.raw, tok.pos)
        elif tok.kind == "BOOL":
            node = _Lit("bool", tok.value, tok.raw, tok.pos)
        elif tok.kind == "NIL":
            node = _Lit("nil", None, "nil", tok.pos)
        elif tok.kind == "LPAREN":
            pipe = self.parse_pipeline("parenthesized pipeline")
            self.expect("RPAREN", "parenthesized pipeline")
            node = _Field(pipe, (), self.lx.text[tok.pos : self.toks[self.i - 1].pos + 1], tok.pos)
        else:
            raise self.error(tok, f"unexpected {self.describe(tok)} in operand")
        # a field chain glued on: .a.b, $.a, (pipeline).a
        chain: list[str] = []
        while self.peek().kind == "FIELD" and not self.peek().space:
            chain.append(self.next().value)
        if chain:
            if isinstance(node, _Field):
                raw = node.raw + "." + ".".join(chain)
                node = _Field(node.base, node.chain + tuple(chain), raw, node.pos)
            else:
                raise self.error(tok, f"unexpected . after term {tok.raw!r}")
        return node


# --- compiled form ----------------------------------------------------------------------------


class _Ctx:
    """What one render sees: the label map (dot and $), the line and the timestamp, and the
    output limit with the characters emitted so far (a lower bound of the bytes)."""

    __slots__ = ("root", "line", "ts_ns", "limit", "size", "vars")

    def __init__(self, root: Mapping[str, str], line: str, ts_ns: int, limit: int) -> None:
        self.root, self.line, self.ts_ns = root, line, ts_ns
        self.limit, self.size = limit, 0
        # [name, value] pairs, innermost last, as Go's stack. A template that declares no
        # variable never appends, so it shares one empty list and a render allocates none.
        self.vars: list[list[Any]] = _NO_VARS

    def lookup(self, name: str) -> Any:
        for pair in reversed(self.vars):
            if pair[0] == name:
                return pair[1]
        raise _Exec(f"undefined variable: {name}")

    def bind(self, names: tuple[str, ...], values: tuple[Any, ...], assign: bool) -> None:
        for name, value in zip(names, values):
            if assign:
                for pair in reversed(self.vars):
                    if pair[0] == name:
                        pair[1] = value
                        break
            else:
                self.vars.append([name, value])


_NO_VARS: list[list[Any]] = []


class _LoopSignal(Exception):
    """{{break}} / {{continue}} unwinding to the innermost {{range}}."""

    def __init__(self, word: str) -> None:
        self.word = word


Eval = Callable[[Any, _Ctx], Any]
Emit = Callable[[Any, _Ctx, list[str]], None]

_GO_TYPE = {_S: "string", _I: "int", _F: "float64", "bool": "bool", _T: "time.Time", _A: "interface {}"}


class _Exec(Exception):
    """A render error before the location is attached."""


def _coerce(v: Any, kind: str) -> Any:
    """text/template's validateType: a runtime value must already have the parameter's type."""
    if kind == _A:
        return v
    ok = (
        isinstance(v, str)
        if kind == _S
        else isinstance(v, int) and not isinstance(v, bool)
        if kind == _I
        else isinstance(v, float)
        if kind == _F
        else isinstance(v, GoTime)
        if kind == _T
        else isinstance(v, bool)
    )
    if ok:
        return v
    if v is None:
        raise _Exec(f"invalid value; expected {_GO_TYPE[kind]}")
    raise _Exec(f"wrong type for value; expected {_GO_TYPE[kind]}; got {_type_name(v)}")


def _literal_as(lit: _Lit, kind: str) -> Any:
    """text/template's evalArg for a constant: convert it to the parameter type, or fail."""
    if lit.kind == "nil":
        if kind == _A:
            return None
        raise _Exec(f"cannot assign nil to {_GO_TYPE[kind]}")
    if lit.kind == "string":
        if kind in (_S, _A):
            return lit.value
    elif lit.kind == "bool":
        if kind in ("bool", _A):
            return lit.value
    else:
        num: _Num = lit.value
        if kind == _I and num.is_int:
            return num.int_val
        if kind == _F and num.is_float:
            return num.float_val
        if kind == _A:
            # idealConstant: a float if written like one, else an int
            hex_int = num.text.lstrip("+-")[:2] in ("0x", "0X") and not any(c in num.text for c in "pP")
            if num.is_float and not hex_int and not num.is_char and any(c in num.text for c in ".eEpP"):
                return num.float_val
            if num.is_int:
                return num.int_val
            raise _Exec(f"{num.text} overflows int")
    expected = {_S: "string", _I: "integer", _F: "float", "bool": "bool"}.get(kind)
    if expected is None:
        raise _Exec(f"can't handle {lit.raw} for arg of type {_GO_TYPE[kind]}")
    raise _Exec(f"expected {expected}; found {lit.raw}")


class _Compiler:
    def __init__(self, name: str, text: str) -> None:
        self.name, self.text = name, text

    def where(self, pos: int) -> str:
        line = self.text.count("\n", 0, pos) + 1
        # Go's ErrorContext counts the column as a 0-based byte offset within the line
        col = pos - (self.text.rfind("\n", 0, pos) + 1)
        return f"template: {self.name}:{line}:{col}"

    def wrap(self, pos: int, raw: str, exc: BaseException) -> TemplateExecError:
        return TemplateExecError(f'{self.where(pos)}: executing "{self.name}" at <{raw}>: {exc}')

    # lists and control flow

    def list(self, nodes: list[Any]) -> Emit:
        parts: list[Emit] = []
        for node in nodes:
            if isinstance(node, str):
                parts.append(_emit_text(node))
            elif isinstance(node, _Action):
                parts.append(self.action(node))
            elif isinstance(node, _Loop):
                parts.append(_loop_signal(node.word))
            elif node.kind == "range":
                parts.append(self.range_(node))
            else:
                parts.append(self.branch(node))
        if len(parts) == 1:
            return parts[0]

        def run(dot: Any, ctx: _Ctx, out: list[str]) -> None:
            for part in parts:
                part(dot, ctx, out)

        return run

    def action(self, node: _Action) -> Emit:
        pipe = self.pipe(node.pipe)
        pos = node.pipe.pos
        end = node.pipe.cmds[-1].pos + len(node.pipe.cmds[-1].raw) if node.pipe.cmds else pos
        wrap, raw = self.wrap, self.text[pos:end].strip()
        if node.pipe.decl:  # a declaration prints nothing

            def declare(dot: Any, ctx: _Ctx, out: list[str]) -> None:
                pipe(dot, ctx)

            return declare

        def run(dot: Any, ctx: _Ctx, out: list[str]) -> None:
            v = pipe(dot, ctx)
            text = v if type(v) is str else _format_v(v)
            ctx.size += len(text)
            if ctx.size > ctx.limit:
                raise wrap(pos, raw, _Exec(_too_long(ctx.size, ctx.limit, partial=True)))
            out.append(text)

        return run

    def branch(self, node: _Branch) -> Emit:
        cond = self.pipe(node.pipe)
        body = self.list(node.body)
        orelse = self.list(node.orelse) if node.orelse is not None else None
        is_with = node.kind == "with"

        def run(dot: Any, ctx: _Ctx, out: list[str]) -> None:
            mark = len(ctx.vars)
            v = cond(dot, ctx)
            if _truth(v):
                body(v if is_with else dot, ctx, out)
            elif orelse is not None:
                orelse(dot, ctx, out)
            del ctx.vars[mark:]

        return run

    def range_(self, node: _Branch) -> Emit:
        """Go's walkRange: slices by index, maps by sorted key, nil as empty; dot is the element.

        Ranging over an integer (Go 1.22) is refused, so a template cannot loop without data."""
        decl = node.pipe.decl
        value = self.pipe(node.pipe._replace(decl=()))
        body = self.list(node.body)
        orelse = self.list(node.orelse) if node.orelse is not None else None
        assign = node.pipe.assign
        wrap, pos = self.wrap, node.pipe.pos
        raw = "range " + self.text[pos : node.pipe.cmds[-1].pos + len(node.pipe.cmds[-1].raw)].strip()

        def run(dot: Any, ctx: _Ctx, out: list[str]) -> None:
            mark = len(ctx.vars)
            v = value(dot, ctx)
            if isinstance(v, Mapping):
                items: Any = ((k, v[k]) for k in sorted(v))
            elif isinstance(v, list):
                items = enumerate(v)
            elif v is None:
                items = ()
            else:
                raise wrap(pos, raw, _Exec(f"range can't iterate over {_format_v(v)}"))
            empty = True
            for key, elem in items:
                empty = False
                del ctx.vars[mark:]
                if decl:
                    ctx.bind(decl, (elem,) if len(decl) == 1 else (key, elem), assign)
                try:
                    body(elem, ctx, out)
                except _LoopSignal as sig:
                    if sig.word == "break":
                        break
            del ctx.vars[mark:]
            if empty and orelse is not None:
                orelse(dot, ctx, out)

        return run

    # pipelines and commands

    def pipe(self, pipe: _Pipe) -> Eval:
        if pipe.decl:
            names, assign = pipe.decl, pipe.assign
            inner = self.pipe(pipe._replace(decl=()))

            def bound(dot: Any, ctx: _Ctx) -> Any:
                v = inner(dot, ctx)
                ctx.bind(names[:1], (v,), assign)
                return v

            return bound
        stages = [self.command(cmd, final=k > 0) for k, cmd in enumerate(pipe.cmds)]
        if len(stages) == 1:
            first = stages[0]
            return lambda dot, ctx: first(dot, ctx, _MISSING)

        def run(dot: Any, ctx: _Ctx) -> Any:
            v = _MISSING
            for stage in stages:
                v = stage(dot, ctx, v)
            return v

        return run

    def command(self, cmd: _Cmd, final: bool) -> Callable[[Any, _Ctx, Any], Any]:
        head = cmd.args[0]
        if not isinstance(head, _Ident):
            if len(cmd.args) > 1 or final:
                return self.not_a_function(head)
            operand = self.operand(head)
            return lambda dot, ctx, _final: operand(dot, ctx)
        return self.call(head.name, cmd.args[1:], cmd.pos, cmd.raw)

    def not_a_function(self, head: Any) -> Callable[[Any, _Ctx, Any], Any]:
        """Arguments given to a value: Go's parser accepts this, its executor fails on each entry.

        A field of a map says it "is not a method"; any other value "can't give argument to
        non-function". The receiver chain is still evaluated first, as Go does, so a field of a
        string fails with the field error instead.
        """
        wrap, pos, raw = self.wrap, head.pos, head.raw
        if not isinstance(head, _Field) or not head.chain:

            def fail(dot: Any, ctx: _Ctx, final: Any) -> Any:
                raise wrap(pos, raw, _Exec(f"can't give argument to non-function {raw}"))

            return fail
        receiver = self.operand(head._replace(chain=head.chain[:-1]))
        key = head.chain[-1]

        def not_method(dot: Any, ctx: _Ctx, final: Any) -> Any:
            v = receiver(dot, ctx)
            if v is ctx.root or isinstance(v, dict):
                raise wrap(pos, raw, _Exec(f"{key} is not a method but has arguments"))
            try:
                _field(v, key, ctx)
            except _Exec as exc:
                raise wrap(pos, raw, exc) from None
            raise wrap(pos, raw, _Exec(f"{key} is not a method but has arguments"))

        return not_method

    def call(self, name: str, arg_nodes: list[Any], pos: int, raw: str) -> Callable[[Any, _Ctx, Any], Any]:
        """A function call; the piped value, when there is one, is its last argument."""
        wrap = self.wrap
        if name == _LINE_FN or name == _TS_FN:
            is_line = name == _LINE_FN

            def special(dot: Any, ctx: _Ctx, final: Any) -> Any:
                if arg_nodes or final is not _MISSING:
                    n = len(arg_nodes) + (final is not _MISSING)
                    raise wrap(pos, raw, _Exec(f"wrong number of args for {name}: want 0 got {n}"))
                return ctx.line if is_line else GoTime.from_unix_nano(ctx.ts_ns)

            return special
        if name in _LAZY:
            evals = [self.operand(a) for a in arg_nodes]
            is_and = name == "and"

            def lazy(dot: Any, ctx: _Ctx, final: Any) -> Any:
                """and/or stop at the first argument that decides, returning that argument."""
                if not evals and final is _MISSING:
                    raise wrap(pos, raw, _Exec(f"wrong number of args for {name}: want at least 1 got 0"))
                v = None
                for e in evals:
                    v = e(dot, ctx)
                    if _truth(v) != is_and:
                        return v
                return final if final is not _MISSING else v

            return lazy
        fn = FUNCTIONS[name]
        nparams = len(fn.params)
        kinds = [fn.params[k] if k < nparams else (fn.variadic or _A) for k in range(len(arg_nodes))]
        evals = [self.typed_arg(node, kind) for node, kind in zip(arg_nodes, kinds)]
        impl = fn.impl
        variadic = fn.variadic
        sized = fn.sized

        def invoke(dot: Any, ctx: _Ctx, final: Any) -> Any:
            try:
                args = [e(dot, ctx) for e in evals]
                if final is not _MISSING:
                    k = len(args)
                    kind = fn.params[k] if k < nparams else variadic
                    if kind is None:
                        raise _Exec(f"wrong number of args for {name}: want {nparams} got {k + 1}")
                    args.append(_coerce(final, kind))
                n = len(args)
                if n < nparams or (variadic is None and n > nparams):
                    want = f"at least {nparams}" if variadic is not None else str(nparams)
                    raise _Exec(f"wrong number of args for {name}: want {want} got {n}")
            except _Exec as exc:
                raise wrap(pos, raw, exc) from None
            try:
                v = impl(ctx.limit, *args) if sized else impl(*args)
                # Every other function's result is a small multiple of its (bounded) inputs.
                if type(v) is str and len(v) > ctx.limit:
                    raise _FnError(_too_long(_utf8_len(v), ctx.limit))
                return v
            except _FnError as exc:
                raise wrap(pos, raw, _Exec(f"error calling {name}: {exc}")) from None
            except (ValueError, OverflowError, ZeroDivisionError, decimal.InvalidOperation) as exc:
                raise wrap(pos, raw, _Exec(f"error calling {name}: {exc}")) from None

        return invoke

    def typed_arg(self, node: Any, kind: str) -> Eval:
        if isinstance(node, _Lit):
            try:
                value = _literal_as(node, kind)
            except _Exec as exc:
                err = exc

                def fail(dot: Any, ctx: _Ctx) -> Any:
                    raise err

                return fail
            return lambda dot, ctx: value
        operand = self.operand(node)
        if kind == _A:
            return operand
        return lambda dot, ctx: _coerce(operand(dot, ctx), kind)

    def operand(self, node: Any) -> Eval:
        if isinstance(node, _Lit):
            try:
                value = _literal_as(node, _A)
            except _Exec as exc:
                err = self.wrap(node.pos, node.raw, exc)

                def fail(dot: Any, ctx: _Ctx) -> Any:
                    raise err

                return fail
            return lambda dot, ctx: value
        if isinstance(node, _Ident):  # a function in argument position is called without args
            call = self.call(node.name, [], node.pos, node.raw)
            return lambda dot, ctx: call(dot, ctx, _MISSING)
        assert isinstance(node, _Field)
        if node.base == "dot":
            base: Eval = _dot
        elif node.base == "root":
            base = _root
        elif type(node.base) is tuple:  # ("var", name); a _Pipe is a NamedTuple
            name = node.base[1]
            base = lambda dot, ctx: ctx.lookup(name)  # noqa: E731
        else:
            base = self.pipe(node.base)
        chain = node.chain
        if not chain:
            return base
        wrap, raw, pos = self.wrap, node.raw, node.pos
        if node.base == "dot" and len(chain) == 1:
            key = chain[0]

            def field1(dot: Any, ctx: _Ctx) -> Any:
                if dot is ctx.root:
                    return dot.get(key, "")  # map[string]string with missingkey=zero
                try:
                    return _field(dot, key, ctx)
                except _Exec as exc:
                    raise wrap(pos, raw, exc) from None

            return field1

        def fields(dot: Any, ctx: _Ctx) -> Any:
            v = base(dot, ctx)
            try:
                for key in chain:
                    v = _field(v, key, ctx)
            except _Exec as exc:
                raise wrap(pos, raw, exc) from None
            return v

        return fields


_MISSING: Any = object()


def _loop_signal(word: str) -> Emit:
    def run(dot: Any, ctx: _Ctx, out: list[str]) -> None:
        raise _LoopSignal(word)

    return run


def _dot(dot: Any, ctx: _Ctx) -> Any:
    return dot


def _root(dot: Any, ctx: _Ctx) -> Any:
    return ctx.root


def _field(v: Any, key: str, ctx: _Ctx) -> Any:
    if v is ctx.root:
        return v.get(key, "")
    if isinstance(v, dict):
        return v.get(key)  # map[string]interface{}: a missing key is nil ("<no value>")
    if v is None:
        raise _Exec(f"nil pointer evaluating interface {{}}.{key}")
    raise _Exec(f"can't evaluate field {key} in type {_type_name(v)}")


def _emit_text(text: str) -> Emit:
    size = len(text)

    def run(dot: Any, ctx: _Ctx, out: list[str]) -> None:
        ctx.size += size  # text inside a branch can repeat only as often as the template says
        out.append(text)

    return run


class Template:
    """A compiled template. `render(labels, line, ts_ns)` gives the formatted text, at most
    `max_bytes` of UTF-8."""

    __slots__ = ("text", "name", "max_bytes", "_run", "_simple_key", "_declares")

    def __init__(
        self, text: str, name: str, run: Emit, simple_key: str | None, max_bytes: int, declares: bool
    ) -> None:
        self.text, self.name, self.max_bytes = text, name, max_bytes
        self._run = run
        self._simple_key = simple_key
        self._declares = declares

    def render(self, labels: Mapping[str, str], line: str, ts_ns: int) -> str:
        """Render for one entry. Raises TemplateExecError where Go's Execute fails, and where
        the output would be longer than `max_bytes`."""
        key = self._simple_key
        if key is not None:  # Loki's shortcut for `{{.label}}`: a label is never too long
            return labels.get(key, "")
        out: list[str] = []
        limit = self.max_bytes
        ctx = _Ctx(labels, line, ts_ns, limit)
        if self._declares:
            ctx.vars = []
        self._run(labels, ctx, out)
        text = "".join(out)
        if len(text) > limit or (not text.isascii() and _utf8_len(text) > limit):
            raise TemplateExecError(
                f'template: {self.name}: executing "{self.name}": {_too_long(_utf8_len(text), limit)}'
            )
        return text

    def __repr__(self) -> str:
        return f"Template({self.text!r})"


def compile_template(text: str, name: str = "line", max_bytes: int = DEFAULT_MAX_BYTES) -> Template:
    """Parse and compile `text`; TemplateError (a ValueError) with Go's message if it is bad.

    `name` is the template name in messages: Loki uses "line" for line_format and "label" for
    label_format. `max_bytes` bounds what one render may produce (the max line size).
    """
    parser = _Parser(_Lexer(text, name))
    nodes = parser.parse()
    simple = None
    if len(nodes) == 1 and isinstance(nodes[0], _Action):
        cmds = nodes[0].pipe.cmds
        if len(cmds) == 1 and len(cmds[0].args) == 1:
            arg = cmds[0].args[0]
            if isinstance(arg, _Field) and arg.base == "dot" and len(arg.chain) == 1:
                simple = arg.chain[0]
    run = _Compiler(name, text).list(nodes) if nodes else (lambda dot, ctx, out: None)
    return Template(text, name, run, simple, max_bytes, parser.declares)
