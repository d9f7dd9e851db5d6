"""Structured logs on stderr, as logfmt or JSON lines, through the standard `logging` module.

Named `logsetup` rather than `logging` so it never shadows the standard library.

Why structured: heron runs in Kubernetes, where logs are read by `kubectl logs`, grep, and log
collectors (heron itself among them). Key=value pairs survive all three. Callers attach fields
with `extra=log_fields(...)`::

    log = logging.getLogger("heron.storage")
    log.info("wal replayed", extra=log_fields(records=10, seconds=0.25))

which prints, in logfmt::

    ts=2026-11-28T01:02:03.456Z level=info logger=heron.storage msg="wal replayed" records=10 seconds=0.25

Every record is exactly one line in both formats: newlines in messages, values and tracebacks
are escaped, so one event never splits into several for a line-based collector.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

__all__ = ["setup_logging", "log_fields", "LogfmtFormatter", "JsonFormatter", "LEVELS"]

LEVELS: dict[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}

# The record attributes each line starts with; a caller's field with one of these names is
# renamed (suffixed with "_") rather than allowed to overwrite it.
_RESERVED = frozenset({"ts", "level", "logger", "msg", "exc"})


def log_fields(**fields: object) -> dict[str, dict[str, object]]:
    """Wrap structured fields for `extra=`: `log.info("msg", extra=log_fields(k=v))`.

    The fields travel as one `fields` attribute on the record, so they can never collide with
    `LogRecord`'s own attributes (`name`, `msg`, `args`...), which `logging` would reject.
    """
    return {"fields": fields}


def _timestamp(record: logging.LogRecord) -> str:
    """RFC 3339 UTC with milliseconds, like Prometheus and Loki write."""
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"


def _level(record: logging.LogRecord) -> str:
    return record.levelname.lower()


def _record_fields(record: logging.LogRecord) -> list[tuple[str, object]]:
    fields = getattr(record, "fields", None)
    if not isinstance(fields, Mapping):
        return []
    return [(f"{key}_" if key in _RESERVED else str(key), value) for key, value in fields.items()]


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    if record.exc_info:
        return formatter.formatException(record.exc_info)
    if record.exc_text:
        return record.exc_text
    return None


class LogfmtFormatter(logging.Formatter):
    """`ts=... level=info logger=heron.x msg="..." key=value ...`, one line per record.

    Quoting follows go-logfmt: a value is quoted when it is empty or holds a space, `=`, `"`,
    or a control character, with backslash escapes inside the quotes. `msg` is always quoted.
    """

    def format(self, record: logging.LogRecord) -> str:
        parts = [
            f"ts={_timestamp(record)}",
            f"level={_level(record)}",
            f"logger={_logfmt_value(record.name)}",
            f"msg={_logfmt_quote(record.getMessage())}",
        ]
        for key, value in _record_fields(record):
            parts.append(f"{_logfmt_key(key)}={_logfmt_value(value)}")
        exc = _exception_text(self, record)
        if exc is not None:
            parts.append(f"exc={_logfmt_quote(exc)}")
        if record.stack_info:
            parts.append(f"stack={_logfmt_quote(record.stack_info)}")
        return " ".join(parts)


def _logfmt_key(key: str) -> str:
    cleaned = "".join(c if c > " " and c not in '="' else "_" for c in key)
    return cleaned or "_"


def _logfmt_value(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="backslashreplace")
    text = value if isinstance(value, str) else str(value)
    if text == "" or any(c <= " " or c in '="\\' or c == "\x7f" for c in text):
        return _logfmt_quote(text)
    return text


def _logfmt_quote(text: str) -> str:
    out = ['"']
    for c in text:
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif c < " " or c == "\x7f":
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: `{"ts": ..., "level": ..., "logger": ..., "msg": ..., fields...}`.

    Values JSON cannot hold become strings (non-finite floats included), so a line is always
    valid JSON that any collector can parse.
    """

    def format(self, record: logging.LogRecord) -> str:
        obj: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": _level(record),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in _record_fields(record):
            obj[key] = _json_value(value)
        exc = _exception_text(self, record)
        if exc is not None:
            obj["exc"] = exc
        if record.stack_info:
            obj["stack"] = record.stack_info
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str)


def _json_value(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    return str(value)


_CHATTY = ("httpx", "httpcore", "httpx2", "httpcore2")


def setup_logging(level: str, fmt: str, stream: TextIO | None = None) -> logging.Handler:
    """Send every logger's records at `level` and above to `stream` (stderr by default) in `fmt`.

    Configures the root logger so libraries' warnings come out in the same format. Calling it
    again replaces the handler it installed before instead of adding a second one, so tests
    and re-configuration never double every line. Returns the installed handler.
    """
    try:
        numeric_level = LEVELS[level]
    except KeyError:
        raise ValueError(f"unknown log level {level!r}; want one of {', '.join(LEVELS)}") from None
    formatter: logging.Formatter
    if fmt == "logfmt":
        formatter = LogfmtFormatter()
    elif fmt == "json":
        formatter = JsonFormatter()
    else:
        raise ValueError(f"unknown log format {fmt!r}; want logfmt or json")

    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter)
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == _HANDLER_NAME:
            root.removeHandler(old)
            old.close()
    root.addHandler(handler)
    root.setLevel(numeric_level)
    # httpx (and lightkube's httpx2) log every request at info: a line per API call, and heron may be
    # collecting its own logs. Their warnings still come through; debug shows everything.
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if numeric_level <= logging.DEBUG else logging.WARNING)
    return handler


_HANDLER_NAME = "heron.logsetup"
