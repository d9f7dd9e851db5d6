"""Durations and byte sizes exactly as Loki reads and prints them.

Loki uses three parsers, and a query behaves differently depending on which one a value meets:

* ranges (`[5m]`) go through Prometheus' `model.ParseDuration` (units y w d h m s ms, integers
  only, biggest unit first);
* duration literals in label filters (`| latency > 1.5s`) try Prometheus first and fall back to
  Go's `time.ParseDuration` (fractions, ns/us/µs, a sign);
* label *values* compared at run time by a duration filter use `time.ParseDuration` alone, and
  bytes filters use go-humanize's `ParseBytes` on both sides.

The engine needs the run-time variants too, so they live here rather than in the lexer. All
durations are integer nanoseconds, like Go's `time.Duration`.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "GoRangeError",
    "parse_go_float",
    "parse_duration_ns",
    "parse_prometheus_duration_ns",
    "parse_bytes",
    "format_duration_ns",
    "format_prometheus_duration_ns",
    "format_bytes",
]

NS_PER_MS = 1_000_000
_MAX_INT64 = (1 << 63) - 1
_MAX_UINT64 = (1 << 64) - 1

# Go's time.ParseDuration unit table (both micro signs: U+00B5 and U+03BC).
_GO_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def _go_quote(s: str) -> str:
    # Imported lazily: quoting depends on nothing here, but keeping units free of imports from
    # sibling modules lets the engine import it cheaply.
    from heron.logql.syntax.quoting import go_quote

    return go_quote(s)


_GO_DEC_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_GO_HEX_FLOAT = re.compile(
    r"[+-]?0[xX](?:_?[0-9a-fA-F])*(?:\.[0-9a-fA-F]*(?:_[0-9a-fA-F]+)*)?[pP][+-]?[0-9]+(?:_[0-9]+)*\Z"
)
_GO_INF = re.compile(r"[+-]?(?:inf|infinity)\Z", re.I)


class GoRangeError(ValueError):
    """strconv's ErrRange: the text is a number too big for a float64. Go still returns the
    value (+Inf or -Inf) alongside the error, and Loki keeps that value as the sample."""

    def __init__(self, message: str, value: float):
        super().__init__(message)
        self.value = value


def parse_go_float(text: str) -> float:
    """Go's `strconv.ParseFloat(text, 64)`, the conversion Loki's unwrap and numeric label
    filters use. Python's float() is more lenient (spaces, `1_0`, non-ASCII digits); Go's
    message is what Loki puts in `__error_details__`, so a ValueError carries it."""
    if _GO_INF.match(text):
        return -math.inf if text[0] == "-" else math.inf
    if text.lower() == "nan":  # Go takes no sign on NaN
        return math.nan
    if _GO_DEC_FLOAT.match(text):
        v = float(text)  # past float64's range this is +-inf, which Go reports as ErrRange
    elif _GO_HEX_FLOAT.match(text):
        sign = -1.0 if text[0] == "-" else 1.0
        try:
            v = sign * float.fromhex(text.lstrip("+-").replace("_", ""))
        except OverflowError:
            v = sign * math.inf
    else:
        raise ValueError(f"strconv.ParseFloat: parsing {_go_quote(text)}: invalid syntax")
    if math.isinf(v):
        raise GoRangeError(f"strconv.ParseFloat: parsing {_go_quote(text)}: value out of range", v)
    return v


def parse_duration_ns(s: str) -> int:
    """Go's `time.ParseDuration`: `[-+]?([0-9]*(\\.[0-9]*)?[a-z]+)+`, e.g. `1h2m3.5s`, `-5µs`.

    Raises ValueError with Go's message (`time: invalid duration "x"`), because Loki copies
    that text into `__error_details__` when a label value fails to parse.
    """
    orig = s
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f"time: invalid duration {_go_quote(orig)}")
    total = 0
    while s:
        if not (s[0] == "." or "0" <= s[0] <= "9"):
            raise ValueError(f"time: invalid duration {_go_quote(orig)}")
        i = 0
        while i < len(s) and "0" <= s[i] <= "9":
            i += 1
        pre = i > 0
        whole = int(s[:i]) if pre else 0
        if whole > (1 << 63):
            raise ValueError(f"time: invalid duration {_go_quote(orig)}")
        s = s[i:]
        frac, scale, post = 0, 1.0, False
        if s and s[0] == ".":
            s = s[1:]
            j = 0
            overflow = False
            while j < len(s) and "0" <= s[j] <= "9":
                if not overflow:
                    if frac > ((1 << 63) - 1) // 10:
                        overflow = True  # Go drops digits it can no longer represent.
                    else:
                        frac = frac * 10 + int(s[j])
                        scale *= 10
                j += 1
            post = j > 0
            s = s[j:]
        if not pre and not post:
            raise ValueError(f"time: invalid duration {_go_quote(orig)}")
        k = 0
        while k < len(s) and not (s[k] == "." or "0" <= s[k] <= "9"):
            k += 1
        if k == 0:
            raise ValueError(f"time: missing unit in duration {_go_quote(orig)}")
        unit_name, s = s[:k], s[k:]
        unit = _GO_UNITS.get(unit_name)
        if unit is None:
            raise ValueError(f"time: unknown unit {_go_quote(unit_name)} in duration {_go_quote(orig)}")
        if whole > (1 << 63) // unit:
            raise ValueError(f"time: invalid duration {_go_quote(orig)}")
        value = whole * unit
        if frac > 0:
            value += int(float(frac) * (float(unit) / scale))
            if value > (1 << 63):
                raise ValueError(f"time: invalid duration {_go_quote(orig)}")
        total += value
        if total > (1 << 63):
            raise ValueError(f"time: invalid duration {_go_quote(orig)}")
    if neg:
        return -total
    if total > _MAX_INT64:
        raise ValueError(f"time: invalid duration {_go_quote(orig)}")
    return total


_PROM_RE = re.compile(
    r"(?:([0-9]+)y)?(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?(?:([0-9]+)ms)?",
    re.ASCII,
)
_PROM_MULT_MS = (
    1000 * 60 * 60 * 24 * 365,
    1000 * 60 * 60 * 24 * 7,
    1000 * 60 * 60 * 24,
    1000 * 60 * 60,
    1000 * 60,
    1000,
    1,
)


def parse_prometheus_duration_ns(s: str) -> int:
    """Prometheus' `model.ParseDuration` (ranges, `offset`): `1y2w3d4h5m6s7ms`, or `0`.

    Raises ValueError with Prometheus' messages, which Loki shows verbatim for a bad range.
    """
    if s == "0":
        return 0
    if s == "":
        raise ValueError("empty duration string")
    m = _PROM_RE.fullmatch(s)
    if m is None:
        raise ValueError(f"not a valid duration string: {_go_quote(s)}")
    total_ms = 0
    for text, mult in zip(m.groups(), _PROM_MULT_MS):
        if text is None:
            continue
        n = int(text)
        if n > _MAX_INT64 // mult // NS_PER_MS:
            raise ValueError("duration out of range")
        total_ms += n * mult
        if total_ms * NS_PER_MS > _MAX_INT64:
            raise ValueError("duration out of range")
    return total_ms * NS_PER_MS


def _fmt_frac(v: int, prec: int) -> tuple[str, int]:
    """Go's fmtFrac: the fraction of v/10**prec without trailing zeros, and the integer part."""
    digits = []
    printed = False
    for _ in range(prec):
        digit = v % 10
        printed = printed or digit != 0
        if printed:
            digits.append(str(digit))
        v //= 10
    frac = ("." + "".join(reversed(digits))) if printed else ""
    return frac, v


def format_duration_ns(ns: int) -> str:
    """Go's `time.Duration.String()` (`1h2m3.5s`, `250ms`, `5µs`, `0s`), exact to the nanosecond.

    Loki prints duration label filters and offsets this way, and `parse_duration_ns` reads
    every such string back to the same value.
    """
    neg = ns < 0
    u = -ns if neg else ns
    if u < 1_000_000_000:
        if u == 0:
            return "0s"
        if u < 1_000:
            text = f"{u}ns"
        elif u < 1_000_000:
            frac, whole = _fmt_frac(u, 3)
            text = f"{whole}{frac}\u00b5s"
        else:
            frac, whole = _fmt_frac(u, 6)
            text = f"{whole}{frac}ms"
    else:
        frac, secs = _fmt_frac(u, 9)
        text = f"{secs % 60}{frac}s"
        mins = secs // 60
        if mins > 0:
            text = f"{mins % 60}m{text}"
            hours = mins // 60
            if hours > 0:
                text = f"{hours}h{text}"
    return f"-{text}" if neg else text


def format_prometheus_duration_ns(ns: int) -> str:
    """Prometheus' `model.Duration.String()` (`5m`, `1h30m`, `1w`, `90d`), at millisecond precision.

    Years and weeks are only used when they divide the value exactly, as Prometheus does.
    """
    ms = ns // NS_PER_MS if ns >= 0 else -((-ns) // NS_PER_MS)
    if ms == 0:
        return "0s"
    out = []
    for unit, mult, exact in (
        ("y", _PROM_MULT_MS[0], True),
        ("w", _PROM_MULT_MS[1], True),
        ("d", _PROM_MULT_MS[2], False),
        ("h", _PROM_MULT_MS[3], False),
        ("m", _PROM_MULT_MS[4], False),
        ("s", _PROM_MULT_MS[5], False),
        ("ms", 1, False),
    ):
        if exact and ms % mult != 0:
            continue
        v = ms // mult
        if v > 0:
            out.append(f"{v}{unit}")
            ms -= v * mult
    return "".join(out)


# go-humanize's bytesSizeTable; keys are lower-cased before the lookup.
_BYTE_UNITS = {
    "b": 1,
    "kib": 1 << 10,
    "kb": 10**3,
    "mib": 1 << 20,
    "mb": 10**6,
    "gib": 1 << 30,
    "gb": 10**9,
    "tib": 1 << 40,
    "tb": 10**12,
    "pib": 1 << 50,
    "pb": 10**15,
    "eib": 1 << 60,
    "eb": 10**18,
    "": 1,
    "ki": 1 << 10,
    "k": 10**3,
    "mi": 1 << 20,
    "m": 10**6,
    "gi": 1 << 30,
    "g": 10**9,
    "ti": 1 << 40,
    "t": 10**12,
    "pi": 1 << 50,
    "p": 10**15,
    "ei": 1 << 60,
    "e": 10**18,
}


def parse_bytes(s: str) -> int:
    """go-humanize's `ParseBytes`: `20MB` (SI, 10**6), `1KiB` (IEC, 1024), `2.5kB`, `1,000 b`.

    Units are case-insensitive and the number may carry a fraction (truncated after scaling),
    as in Loki's bytes label filters. Raises ValueError with go-humanize's message.
    """
    last = 0
    has_comma = False
    for ch in s:
        if not (ch.isdecimal() or ch in ".,"):
            break
        has_comma = has_comma or ch == ","
        last += 1
    num = s[:last].replace(",", "") if has_comma else s[:last]
    if not re.fullmatch(r"[0-9]*\.?[0-9]*", num) or num in ("", "."):
        raise ValueError(f"strconv.ParseFloat: parsing {_go_quote(num)}: invalid syntax")
    value = float(num)
    extra = s[last:].strip().lower()
    mult = _BYTE_UNITS.get(extra)
    if mult is None:
        raise ValueError(f"unhandled size name: {extra}")
    scaled = value * mult
    if scaled >= float(_MAX_UINT64):
        raise ValueError(f"too large: {s}")
    return int(scaled)


def _humanize_bytes(v: int) -> str:
    """go-humanize's `Bytes` (SI units, one decimal under ten) with the spaces Loki strips."""
    if v < 10:
        return f"{v}B"
    sizes = ("B", "kB", "MB", "GB", "TB", "PB", "EB")
    e = math.floor(math.log(v) / math.log(1000))
    e = min(e, len(sizes) - 1)
    val = math.floor(v / 1000**e * 10 + 0.5) / 10
    text = f"{val:.1f}" if val < 10 else f"{val:.0f}"
    return f"{text}{sizes[e]}"


_EXACT_UNITS = (
    ("PiB", 1 << 50),
    ("PB", 10**15),
    ("TiB", 1 << 40),
    ("TB", 10**12),
    ("GiB", 1 << 30),
    ("GB", 10**9),
    ("MiB", 1 << 20),
    ("MB", 10**6),
    ("KiB", 1 << 10),
    ("kB", 10**3),
)


def format_bytes(v: int) -> str:
    """A byte size as Loki prints it (`20MB`, `2.5kB`) when that is exact, else an exact form.

    Loki's own form rounds to one decimal, so `1KiB` would print as `1.0kB` and come back as
    1000; Heron falls back to the largest unit dividing the value (`1KiB`) or plain `1234B`, so
    printing and parsing always round-trip.
    """
    if v == 0:
        return "0kB"  # "0B" would lex as a binary-literal prefix (Go's `0b...`)
    text = _humanize_bytes(v)
    try:
        if parse_bytes(text) == v:
            return text
    except ValueError:
        pass
    for suffix, mult in _EXACT_UNITS:
        if v >= mult and v % mult == 0:
            return f"{v // mult}{suffix}"
    return f"{v}B"
