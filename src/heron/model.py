"""Core data model shared by every package: labels, series kinds, matchers.

Everything here is pure and dependency-free (the standard library only) so that the storage
codecs, the query engines and the collectors can all import it without pulling each other in.
"""

from __future__ import annotations

import enum
import hashlib
import math
import re
import struct
from dataclasses import dataclass, field
from typing import Iterable, Mapping

__all__ = [
    "Labels",
    "SeriesKind",
    "MatchOp",
    "Matcher",
    "STALE_NAN_BITS",
    "STALE_NAN",
    "is_stale_nan",
    "labels_from",
    "labels_to_dict",
    "fingerprint",
    "format_labels",
    "LABEL_NAME_RE",
    "METRIC_NAME_RE",
    "MAX_LABEL_NAME_BYTES",
    "RESERVED_LABEL_PREFIX",
    "valid_label_name",
    "label_name_problem",
    "parse_label_set",
]

Labels = tuple[tuple[str, str], ...]
"""A label set: (name, value) pairs sorted by name, names unique. Hashable and cheap to compare."""

LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
METRIC_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")

# Prometheus marks a series as stale with this exact NaN payload (value.StaleNaN).
STALE_NAN_BITS = 0x7FF0000000000002
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]


def is_stale_nan(v: float) -> bool:
    """True only for Prometheus' stale marker, not for any other NaN."""
    return math.isnan(v) and struct.unpack("<Q", struct.pack("<d", v))[0] == STALE_NAN_BITS


class SeriesKind(enum.IntEnum):
    """What a series holds. Stored on disk as one byte, so the numbers never change."""

    LOG = 1
    METRIC = 2


MAX_LABEL_NAME_BYTES = 1024
"""Longest label name accepted: Loki's default `max_label_name_length`. Names are ASCII, so
bytes and characters agree."""

RESERVED_LABEL_PREFIX = "__"
"""Names starting with this are Prometheus' and Loki's own (`__name__`, `__error__`,
`__stream_shard__`); a log stream may not carry one, or LogQL would confuse it with them."""


def valid_label_name(name: str) -> bool:
    return LABEL_NAME_RE.fullmatch(name) is not None


def label_name_problem(name: str, kind: SeriesKind) -> str | None:
    """Why `name` may not name a label of a `kind` series, or None if it may. The message quotes
    at most the first 64 characters of a name, so a 10,000-character one gives a short answer."""
    shown = repr(name) if len(name) <= 64 else repr(name[:64]) + f"... ({len(name)} characters)"
    if len(name) > MAX_LABEL_NAME_BYTES:
        return f"label name {shown} is longer than the limit of {MAX_LABEL_NAME_BYTES} bytes"
    if not valid_label_name(name):
        return f"invalid label name {shown}: names are [a-zA-Z_][a-zA-Z0-9_]*"
    if kind is SeriesKind.LOG and name.startswith(RESERVED_LABEL_PREFIX):
        return (
            f"label name {shown} is reserved: names starting with {RESERVED_LABEL_PREFIX} are not "
            f"allowed on log streams"
        )
    return None


def labels_from(source: Mapping[str, str] | Iterable[tuple[str, str]]) -> Labels:
    """Normalise a mapping or pairs into sorted Labels; empty values are dropped as Prometheus does."""
    items = source.items() if isinstance(source, Mapping) else source
    return tuple(sorted((str(k), str(v)) for k, v in items if v != ""))


def labels_to_dict(labels: Labels) -> dict[str, str]:
    return dict(labels)


def format_labels(labels: Labels) -> str:
    """Prometheus/Loki text form: {a="1", b="2"}; used in logs and error messages."""
    inner = ", ".join(f'{k}="{_escape(v)}"' for k, v in labels)
    return "{" + inner + "}"


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def fingerprint(labels: Labels, kind: SeriesKind) -> int:
    """A stable unsigned 64-bit id for a series.

    blake2b over an unambiguous byte encoding, so it never depends on Python's hash seed or
    version; the kind is part of it because a log stream and a metric series may share labels.
    """
    h = hashlib.blake2b(digest_size=8)
    h.update(bytes((int(kind),)))
    for name, value in labels:
        h.update(name.encode())
        h.update(b"\xff")
        h.update(value.encode())
        h.update(b"\xff")
    return int.from_bytes(h.digest(), "little")


class MatchOp(enum.Enum):
    EQ = "="
    NEQ = "!="
    RE = "=~"
    NRE = "!~"


@dataclass(frozen=True)
class Matcher:
    """A label matcher with Prometheus semantics: regexes are fully anchored, and a missing
    label matches as the empty string (so `{a=""}` selects series without `a`)."""

    name: str
    op: MatchOp
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.op in (MatchOp.RE, MatchOp.NRE):
            try:
                compiled = re.compile(f"(?s:{self.value})")
            except re.error as exc:
                raise ValueError(f"invalid regex {self.value!r} for label {self.name!r}: {exc}") from None
            object.__setattr__(self, "_regex", compiled)

    @classmethod
    def parse_op(cls, name: str, op: str, value: str) -> "Matcher":
        return cls(name, MatchOp(op), value)

    def matches(self, value: str) -> bool:
        if self.op is MatchOp.EQ:
            return value == self.value
        if self.op is MatchOp.NEQ:
            return value != self.value
        assert self._regex is not None
        hit = self._regex.fullmatch(value) is not None
        return hit if self.op is MatchOp.RE else not hit

    def matches_empty(self) -> bool:
        """Whether a series lacking this label is selected; decides if postings can narrow."""
        return self.matches("")

    def __str__(self) -> str:
        return f'{self.name}{self.op.value}"{_escape(self.value)}"'


_LABEL_PAIR_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_.]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|\Z)', re.S)
_UNESCAPE_RE = re.compile(r"\\(.)", re.S)
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"'}


def parse_label_set(text: str) -> Labels:
    """Parse the Prometheus/Loki text form `{a="1", b="2"}` (as Loki push sends stream labels).

    Raises ValueError naming the problem; only `=` pairs are allowed, values are Go-escaped.
    """
    s = text.strip()
    if not (s.startswith("{") and s.endswith("}")):
        raise ValueError(f"invalid label set {text!r}: must be enclosed in braces")
    body = s[1:-1]
    pos = 0
    pairs: dict[str, str] = {}
    while pos < len(body):
        if not body[pos:].strip():
            break
        m = _LABEL_PAIR_RE.match(body, pos)
        if m is None:
            raise ValueError(f"invalid label set {text!r} at offset {pos + 1}")
        name = m.group(1)
        if name in pairs:
            raise ValueError(f"invalid label set {text!r}: duplicate label name {name!r}")
        pairs[name] = _UNESCAPE_RE.sub(lambda e: _ESCAPES.get(e.group(1), "\\" + e.group(1)), m.group(2))
        pos = m.end()
    return labels_from(pairs)
