"""Query-string parameters with Loki's and Prometheus' parsing rules.

Timestamps accept RFC3339(Nano), Unix seconds (integer up to 10 digits, or with a fraction) and
Unix nanoseconds, exactly as Loki's loghttp package does; durations accept Prometheus/Go
duration strings or float seconds.
"""

from __future__ import annotations

import math
import re
import time
from datetime import datetime

from heron.config import ConfigError, parse_duration

__all__ = ["ParamError", "parse_time_ns", "parse_step_ns", "parse_int", "parse_duration_param_ns", "now_ns"]


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


def parse_time_ns(value: str | None, default: int, name: str) -> int:
    if value is None or value == "":
        return default
    v = value.strip()
    if "." in v:
        try:
            f = float(v)
            if math.isfinite(f):
                sec = math.floor(f)
                return sec * 1_000_000_000 + round((f - sec) * 1e9)
        except ValueError:
            pass
    try:
        n = int(v)
    except ValueError:
        try:
            return _parse_rfc3339(v)
        except ValueError:
            raise ParamError(f'invalid parameter "{name}": cannot parse "{value}" as a timestamp') from None
    if len(v.lstrip("-")) <= 10:
        return n * 1_000_000_000
    return n


def parse_duration_param_ns(value: str, name: str) -> int:
    v = value.strip()
    try:
        f = float(v)
    except ValueError:
        try:
            return int(parse_duration(v) * 1e9)
        except (ConfigError, ValueError):
            raise ParamError(f'invalid parameter "{name}": cannot parse "{value}" as a duration') from None
    if not math.isfinite(f):
        raise ParamError(f'invalid parameter "{name}": cannot parse "{value}" as a duration')
    return int(f * 1e9)


def parse_step_ns(value: str | None, start_ns: int, end_ns: int) -> int:
    """Loki's default step is the range / 250, at least one second."""
    if value is None or value == "":
        return max(int((end_ns - start_ns) / 1e9 / 250), 1) * 1_000_000_000
    step = parse_duration_param_ns(value, "step")
    if step <= 0:
        raise ParamError(
            "zero or negative query resolution step widths are not accepted. Try a positive integer"
        )
    return step


def parse_int(value: str | None, default: int, name: str) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ParamError(f'invalid parameter "{name}": cannot parse "{value}" as an integer') from None
