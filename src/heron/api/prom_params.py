"""Request parameters as Prometheus' HTTP API reads them (`web/api/v1/api.go`).

Prometheus differs from Loki here, so these are not `heron.api.params`: a number is always Unix
*seconds* (a float, rounded to milliseconds), never nanoseconds; durations are float seconds
or Prometheus durations (`5m`, `1h30m`); `limit` 0 means no limit. Every error is worded as
Prometheus words it, because clients and people compare the two.

Times come back as int milliseconds (PromQL's resolution). Storage counts metric time in ms
but some of its range checks scale to nanoseconds, so every time is kept within what int64
nanoseconds can hold (years 1678 to 2262): query times outside it are refused, metadata
ranges (whose defaults are Prometheus' far-away MinTime/MaxTime) are clamped to it.
"""

from __future__ import annotations

import math
import re
from datetime import datetime

from heron.config import parse_duration

__all__ = [
    "PromParamError",
    "MIN_MS",
    "MAX_MS",
    "invalid",
    "parse_time_ms",
    "parse_time_param_ms",
    "parse_duration_ns",
    "parse_limit",
    "clamp_ms",
]

MAX_MS = (2**63 - 1) // 1_000_000  # the last millisecond int64 nanoseconds can hold
MIN_MS = -MAX_MS
_INT64_MAX = 2**63 - 1

_RFC3339 = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d{1,9}))?(?P<tz>Z|[+-]\d{2}:\d{2})"
)


# Prometheus' MinTime and MaxTime as its API formats them (clients echo them back).
_GO_BOUNDS = {"-292273086-05-16T16:47:06Z": MIN_MS, "292277026596-12-04T15:30:07.999999999Z": MAX_MS}


class PromParamError(ValueError):
    """A malformed parameter: Prometheus' `bad_data`, HTTP 400, with this message."""


def invalid(name: str, problem: str) -> PromParamError:
    """Prometheus' `invalidParamError`: `invalid parameter "<name>": <problem>`."""
    return PromParamError(f'invalid parameter "{name}": {problem}')


def _rfc3339_ms(text: str) -> int | None:
    m = _RFC3339.fullmatch(text)
    if m is None:
        return None
    tz = "+00:00" if m["tz"] == "Z" else m["tz"]
    try:
        dt = datetime.fromisoformat(f"{m['date']}T{m['time']}{tz}")
    except ValueError:
        return None
    frac = (m["frac"] or "").ljust(9, "0")
    # Go's time.Time keeps nanoseconds; PromQL then truncates to milliseconds (timestamp.FromTime).
    return int(dt.timestamp()) * 1000 + int(frac[:3])


def parse_time_ms(text: str, *, clamp: bool = False) -> int:
    """Prometheus' `parseTime`: float Unix seconds (the fraction rounded to ms) or RFC 3339.
    Raises ValueError with Prometheus' `cannot parse "<s>" to a valid timestamp`. With
    `clamp`, a time beyond years 1678 to 2262 becomes the nearest end instead of an error
    (and Prometheus' own MinTime/MaxTime texts are understood)."""
    bad = ValueError(f'cannot parse "{text[:64]}" to a valid timestamp')
    out_of_range = ValueError(f'cannot parse "{text}" to a valid timestamp: out of range (years 1678-2262)')
    if len(text) > 64:  # no timestamp is this long; don't feed 10 MB of digits to float()
        raise bad
    if clamp and text in _GO_BOUNDS:
        return _GO_BOUNDS[text]
    try:
        seconds = float(text.replace("_", "x"))  # Go's ParseFloat has no `1_000` for decimals
    except ValueError:
        ms = _rfc3339_ms(text)
        if ms is None:
            raise bad from None
    else:
        if not math.isfinite(seconds) or text.strip() != text:
            raise bad
        whole = math.trunc(seconds)
        if abs(whole) > MAX_MS // 1000:
            ms = MAX_MS if whole > 0 else MIN_MS
            if not clamp:
                raise out_of_range
        else:
            ms = whole * 1000 + round((seconds - whole) * 1000)
    if clamp:
        return clamp_ms(ms)
    if not MIN_MS <= ms <= MAX_MS:
        raise out_of_range
    return ms


def parse_time_param_ms(params: dict[str, object], name: str, default_ms: int, *, clamp: bool = False) -> int:
    """Prometheus' `parseTimeParam`: the default when absent, else the wrapped parse error."""
    value = params.get(name)
    if value is None or value == "":
        return default_ms
    try:
        return parse_time_ms(str(value), clamp=clamp)
    except ValueError as exc:
        raise invalid(name, f"invalid time value for '{name}': {exc}") from None


def parse_duration_ns(text: str) -> int:
    """Prometheus' `parseDuration`: float seconds, or a Prometheus duration (`5m`, `1h30m`).
    Answers nanoseconds (a Go `time.Duration`: float seconds are truncated, as Go converts
    them); raises ValueError in Prometheus' words."""
    bad = ValueError(f'cannot parse "{text[:64]}" to a valid duration')
    if len(text) > 64 or text.strip() != text:
        raise bad
    try:
        seconds = float(text.replace("_", "x"))
    except ValueError:
        try:
            ms = round(parse_duration(text) * 1000)  # whole milliseconds: exact
        except (ValueError, OverflowError):
            raise bad from None
        if ms * 1_000_000 > _INT64_MAX:
            raise bad from None
        return ms * 1_000_000
    if math.isnan(seconds):
        raise bad
    if not -_INT64_MAX <= seconds * 1e9 <= _INT64_MAX:
        raise ValueError(f'cannot parse "{text}" to a valid duration. It overflows int64')
    return int(seconds * 1e9)


def parse_limit(params: dict[str, object]) -> int:
    """Prometheus' `parseLimitParam`: 0 (no limit) when absent, never negative."""
    value = params.get("limit")
    if value is None or value == "":
        return 0
    text = str(value)
    if not re.fullmatch(r"[+-]?\d{1,18}", text):
        raise invalid("limit", f'strconv.Atoi: parsing "{text[:64]}": invalid syntax')
    limit = int(text)
    if limit < 0:
        raise invalid("limit", "limit must be non-negative")
    return limit


def clamp_ms(ms: int) -> int:
    return max(MIN_MS, min(MAX_MS, ms))
