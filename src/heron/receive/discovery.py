"""What Loki 3's distributor adds to every pushed stream: `service_name` and `detected_level`.

`discover_service_name`: a stream without `service_name` gets the value of the first of the
configured labels it has, else `unknown_service` (an empty list disables it).
`discover_log_levels`: every entry without a `detected_level` gets one as structured metadata,
from a level label of the stream, else a level field of its metadata, else OTLP's
`severity_number`, else the line (a JSON or logfmt level field, then a keyword scan); Loki
stores `unknown` when nothing is found (pkg/distributor/field_detection.go).

It runs on every pushed line, so the stream-level work is done once per batch, and a stream
whose labels carry the level labels every entry alike without looking at a line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Sequence

from heron.receive.loki_push import encode_metadata
from heron.storage import LogBatch

__all__ = [
    "DEFAULT_SERVICE_NAME_LABELS",
    "LEVEL_FIELDS",
    "Discovery",
    "detect_level",
    "discover",
    "discovery_of",
]

# Loki 3's default `discover_service_name` and `log_level_fields`.
DEFAULT_SERVICE_NAME_LABELS: tuple[str, ...] = (
    "service", "app", "application", "app_name", "name", "app_kubernetes_io_name", "container",
    "container_name", "k8s_container_name", "component", "workload", "job", "k8s_job_name",
)  # fmt: skip
LEVEL_FIELDS: tuple[str, ...] = (
    "level", "LEVEL", "Level", "log.level", "severity", "SEVERITY", "Severity", "SeverityText",
    "lvl", "LVL", "Lvl", "severity_text", "Severity_Text", "SEVERITY_TEXT",
)  # fmt: skip
_LEVEL_SET = frozenset(LEVEL_FIELDS)
_LEVEL_LOWER = {f.lower(): i for i, f in reversed(list(enumerate(LEVEL_FIELDS)))}
JSON_MAX_DEPTH = 2  # Loki's log_level_from_json_max_depth default
DETECTED_LEVEL = "detected_level"
UNKNOWN_SERVICE = "unknown_service"

_NORMAL = {
    "trace": "trace", "trc": "trace", "debug": "debug", "dbg": "debug", "info": "info",
    "inf": "info", "information": "info", "warn": "warn", "wrn": "warn", "warning": "warn",
    "error": "error", "err": "error", "critical": "critical", "fatal": "fatal",
}  # fmt: skip


@dataclass(frozen=True)
class Discovery:
    """The two settings; `Discovery()` is Loki's defaults."""

    service_name_labels: tuple[str, ...] = DEFAULT_SERVICE_NAME_LABELS
    log_levels: bool = True


def discovery_of(app: Any) -> Discovery:
    """The server's settings, kept on the ASGI app's state by `heron server`; Loki's defaults
    for an app built without them (tests building an app of their own)."""
    found = getattr(app.state, "discovery", None)
    return found if isinstance(found, Discovery) else Discovery()


def normalize_level(value: str) -> str:
    """Loki's normalizeLogLevel: the known spellings, case-insensitively; others as they are."""
    return _NORMAL.get(value.lower(), value)


_KEYWORD_RANKS: tuple[tuple[str, tuple[bytes, ...]], ...] = (
    ("error", (b"err:", b"ERR:", b"[err]", b"[ERR]", b"[error]", b"[ERROR]")),
    ("warn", (b"warn:", b"WARN:", b"[warn]", b"[WARN]", b"warning", b"WARNING")),
    ("critical", (b"critical:", b"CRITICAL:", b"[critical]", b"[CRITICAL]")),
    ("debug", (b"debug", b"DEBUG")),
)


def _keyword_level(line: bytes, low: bytes | None = None) -> str:
    """Loki's last resort, in its order: info, then error, warn, critical, debug; else unknown.
    `low` is the line lowered, when the caller has made it already."""
    if b"info" in line or b"INFO" in line:
        return "info"
    # Every keyword holds one of these four stems in some case; most lines hold none, and four
    # substring searches over a lowered copy cost less than one regex alternation.
    if low is None:
        low = line.lower()
    if b"err" not in low and b"warn" not in low and b"critical" not in low and b"debug" not in low:
        return "unknown"
    for level, keys in _KEYWORD_RANKS:
        for k in keys:
            if k in line:
                return level
    return "unknown"


def _json_level(obj: Any, depth: int) -> str | None:
    """The first string-valued level field in document order, nested objects up to the depth."""
    if depth >= JSON_MAX_DEPTH or not isinstance(obj, dict):
        return None
    for key, value in obj.items():
        if isinstance(value, str):
            if key in _LEVEL_SET:
                return value
        elif isinstance(value, dict):
            found = _json_level(value, depth + 1)
            if found is not None:
                return found
    return None


# Only the level keys are looked for (a scan of every pair costs several times more); a key
# counts where a logfmt key starts: at the line's start or after whitespace.
_LOGFMT_LEVEL = re.compile(
    rb"(?:^|(?<=\s))("
    + b"|".join(re.escape(f.encode()) for f in dict.fromkeys(f.lower() for f in LEVEL_FIELDS))
    + rb')=("(?:[^"\\]|\\.)*"|[^\s"]*)',
    re.IGNORECASE,
)


def _logfmt_level(line: bytes, low: bytes | None = None) -> bytes | None:
    """The value of the level field listed first in LEVEL_FIELDS (keys compared caselessly);
    `low` is the line lowered, when the caller has made it already."""
    # Each level key, lowered, holds `level=`, `lvl=` or `severity`: without one of them the
    # line has no level key, and the caseless regex (the costly part) is skipped.
    if low is None:
        low = line.lower()
    if b"level=" not in low and b"lvl=" not in low and b"severity" not in low:
        return None
    best, value = len(LEVEL_FIELDS), None
    for m in _LOGFMT_LEVEL.finditer(line):
        rank = _LEVEL_LOWER[m.group(1).decode().lower()]
        if rank < best:
            raw = m.group(2)
            if raw.startswith(b'"') and raw.endswith(b'"') and len(raw) >= 2:
                try:
                    raw = json.loads(raw).encode()
                except ValueError:
                    raw = raw[1:-1]
            best, value = rank, raw
            if rank == 0:
                break
    return value


# The common JSON line, without a parse: top-level pairs with plain scalar values (no escapes,
# objects or arrays), then the first level field with a plain string value. The lazy repeat
# stops at the first such field in document order, which is what `_json_level` returns; a
# line this does not match is parsed whole.
_JSON_SCALAR = rb'(?:"[^"\\]*"|-?[0-9][0-9.eE+-]*|true|false|null)'
_JSON_TOP_LEVEL = re.compile(
    rb'\{\s*(?:"[^"\\]*"\s*:\s*' + _JSON_SCALAR + rb"\s*,\s*)*?"
    rb'"(?:' + b"|".join(re.escape(f.encode()) for f in LEVEL_FIELDS) + rb')"\s*:\s*"([^"\\]*)"'
)


def detect_level(line: bytes, metadata: dict[str, str] | None = None) -> str:
    """The level Loki's distributor detects for one entry with no level label or field."""
    if metadata:
        sev = metadata.get("severity_number")
        if sev:
            return _severity_level(sev)
    first = line[:1]
    stripped = line.strip() if first.isspace() or line[-1:].isspace() else line
    found: str | bytes | None
    low: bytes | None = None
    if stripped.startswith(b"{") and stripped.endswith(b"}"):
        m = _JSON_TOP_LEVEL.match(stripped)
        if m is not None:
            found = m.group(1)
        else:
            try:
                found = _json_level(json.loads(line), 0)
            except (ValueError, RecursionError):
                found = None
    elif b"=" in line:
        low = line.lower()
        found = _logfmt_level(line, low)
    else:
        return _keyword_level(line)
    if found is None:
        return _keyword_level(line, low)
    text = found if isinstance(found, str) else found.decode("utf-8", "replace")
    level = _NORMAL.get(text.lower())
    return level if level is not None else _keyword_level(line, low)


def _severity_level(text: str) -> str:
    """OTLP severity numbers in ranges of four (trace 1-4 ... fatal 21-24); unparsable is info."""
    try:
        n = int(text)
    except ValueError:
        return "info"
    if n == 0:
        return "unknown"
    for top, level in ((4, "trace"), (8, "debug"), (12, "info"), (16, "warn"), (20, "error"), (24, "fatal")):
        if n <= top:
            return level
    return "unknown"


def _with_level(meta: bytes, level: str, cache: dict[str, bytes]) -> bytes:
    if not meta:
        cached = cache.get(level)
        if cached is None:
            cached = cache[level] = encode_metadata({DETECTED_LEVEL: level})
        return cached
    pairs = json.loads(meta)
    pairs[DETECTED_LEVEL] = level
    return encode_metadata(pairs)


def _levels(batch: LogBatch) -> list[bytes]:
    labels = dict(batch.labels)
    from_label = next((labels[f] for f in LEVEL_FIELDS if f in labels), None)
    metas: Sequence[bytes] = batch.metadata if batch.metadata is not None else [b""] * len(batch.lines)
    cache: dict[str, bytes] = {}
    out: list[bytes] = []
    for line, meta in zip(batch.lines, metas):
        pairs: dict[str, str] | None = json.loads(meta) if meta else None
        if pairs is not None and DETECTED_LEVEL in pairs:
            level = normalize_level(pairs[DETECTED_LEVEL])
        elif from_label is not None:
            level = normalize_level(from_label)
        else:
            field = next((pairs[f] for f in LEVEL_FIELDS if f in pairs), None) if pairs else None
            level = normalize_level(field) if field is not None else detect_level(line, pairs)
        out.append(_with_level(meta, level, cache))
    return out


def discover(batches: list[LogBatch], settings: Discovery) -> list[LogBatch]:
    """Add service_name to the streams and detected_level to the entries, in place."""
    for batch in batches:
        if settings.service_name_labels and not any(k == "service_name" for k, _ in batch.labels):
            labels = dict(batch.labels)
            name = next((labels[k] for k in settings.service_name_labels if labels.get(k)), UNKNOWN_SERVICE)
            batch.labels = tuple(sorted((*batch.labels, ("service_name", name))))
        if settings.log_levels and len(batch.lines):
            batch.metadata = _levels(batch)
    return batches
