"""Query-string parameters with Loki's and Prometheus' parsing rules.

Timestamps accept RFC3339(Nano), Unix seconds (integer up to 10 digits, or with a fraction) and
Unix nanoseconds, exactly as Loki's loghttp package does; durations accept Prometheus/Go
duration strings or float seconds. Every time and duration must fit int64 nanoseconds, as in
Loki (whose ParseInt refuses a longer number): anything else is a 400 naming the parameter,
never an overflow deeper in.
"""

from __future__ import annotations

import math
import re
import time
from datetime import datetime

from heron.config import ConfigError, parse_duration
from heron.logql.rangeagg import MAX_POINTS, RESOLUTION_ERROR

__all__ = [
    "ParamError",
    "parse_time_ns",
    "parse_step_ns",
    "parse_int",
    "parse_duration_param_ns",
    "now_ns",
    "check_time_ns",
]

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


class ParamError(ValueError):
    """A request parameter is malformed; HTTP 400 with this message."""


def now_ns() -> int:
    return time.time_ns()


_RFC3339_FRACTION = re.compile(r"\.(\d+)")


def _parse_rfc3339(value: str) -> int:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    frac_ns = 0
    m = _RFC3339_FRACTION.search(text)
    if m:
        digits = m.group(1)
        frac_ns = int((digits + "000000000")[:9])
        text = text[: m.start()] + text[m.end() :]
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        raise ValueError("missing time zone")
    return int(dt.timestamp()) * 1_000_000_000 + frac_ns


def check_time_ns(ns: int, name: str) -> int:
    """`ns` if it is a time int64 nanoseconds can hold (years 1678 to 2262), else ParamError."""
    if not _INT64_MIN <= ns <= _INT64_MAX:
        raise ParamError(
            f'invalid parameter "{name}": the time is out of range (int64 nanoseconds: years 1678 to 2262)'
        )
    return ns


def parse_time_ns(value: str | None, default: int, name: str) -> int:
    if value is None or value == "":
        return check_time_ns(default, name)
    v = value.strip()
    if "." in v:
        try:
            f = float(v)
        except ValueError:
            f = math.nan
        if math.isfinite(f):
            sec = math.floor(f)
            return check_time_ns(sec * 1_000_000_000 + round((f - sec) * 1e9), name)
    if len(v) > 40:  # no int64 or RFC3339 text is this long; don't parse 400 digits to say so
        raise ParamError(f'invalid parameter "{name}": cannot parse "{value[:40]}..." as a timestamp')
    try:
        n = int(v)
    except ValueError:
        try:
            ns = _parse_rfc3339(v)
        except (ValueError, OverflowError):
            raise ParamError(f'invalid parameter "{name}": cannot parse "{value}" as a timestamp') from None
        return check_time_ns(ns, name)
    if len(v.lstrip("-")) <= 10:
        return n * 1_000_000_000
    return check_time_ns(n, name)


def parse_duration_param_ns(value: str, name: str) -> int:
    v = value.strip()
    bad = ParamError(f'invalid parameter "{name}": cannot parse "{value[:40]}" as a duration')
    try:
        f = float(v)
    except ValueError:
        try:
            f = parse_duration(v)
        except (ConfigError, ValueError, OverflowError):
            raise bad from None
    if not math.isfinite(f) or not _INT64_MIN <= f * 1e9 <= _INT64_MAX:
        raise bad
    return int(f * 1e9)


def parse_step_ns(value: str | None, start_ns: int, end_ns: int) -> int:
    """Loki's default step is the range / 250, at least one second. More than 11,000 steps
    are refused with Loki's message, before the query allocates a single step."""
    if value is None or value == "":
        return max(int((end_ns - start_ns) / 1e9 / 250), 1) * 1_000_000_000
    step = parse_duration_param_ns(value, "step")
    if step <= 0:
        raise ParamError(
            "zero or negative query resolution step widths are not accepted. Try a positive integer"
        )
    if (end_ns - start_ns) // step > MAX_POINTS:
        raise ParamError(RESOLUTION_ERROR)
    return step


def parse_int(value: str | None, default: int, name: str) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ParamError(f'invalid parameter "{name}": cannot parse "{value}" as an integer') from None
