"""What both exposition grammars share: the result shape, the error, and Prometheus' value rules.

The rules here are the ones Prometheus 2.42 applies while scraping (`model/textparse` plus the
checks its scrape loop and head appender make), because a scrape must store exactly what
Prometheus would store for the same body:

- values go through Go's `strconv.ParseFloat` with `p`, `P` and `_` refused, so hex floats and
  digit separators are errors, `+NaN` is an error, and a finite-looking value too large for a
  float64 (`1e400`) is an error rather than +Inf;
- a label whose value is empty is not stored (Prometheus' label builder deletes it), and a
  label name that appears twice in one series fails the scrape (`label name "a" is not unique`);
  `__name__` written as a label in a series that already has a name is such a duplicate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from heron.collect.metrics.metadata import MetricMetadata
from heron.model import Labels

__all__ = [
    "NO_TIMESTAMP",
    "ExpositionError",
    "Exposition",
    "parse_float",
    "check_label_names",
    "unescape_label_value",
    "METRIC_NAME_RE",
    "LABEL_NAME_RE",
    "Scanner",
]

NO_TIMESTAMP: int = int(np.iinfo(np.int64).min)

_INT64_MAX = 2**63 - 1

# Go's ParseFloat grammar, minus what Prometheus' parseFloat refuses (hex needs `p`; `_`).
# Go accepts a sign before inf/infinity but not before nan.
FLOAT_RE = (
    rb"(?:[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)"
    rb"|[nN][aA][nN])"
)
_FLOAT_FULL = re.compile(FLOAT_RE + rb"\Z")
_INF_WORD = re.compile(rb"[+-]?[iI][nN][fF]")


class ExpositionError(ValueError):
    """A body Prometheus would refuse. `str(e)` starts with the 1-based line: "line 12: ..."."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


@dataclass
class Exposition:
    """One parsed body, column-wise, in body order (a series may repeat; storage decides)."""

    series: list[bytes]
    values: np.ndarray
    timestamps: np.ndarray
    metadata: dict[str, MetricMetadata]
    openmetrics: bool

    def __len__(self) -> int:
        return len(self.series)


def parse_float(tok: bytes) -> float | None:
    """The float Go's ParseFloat gives for `tok`, or None where Prometheus reports an error."""
    if not _FLOAT_FULL.match(tok):
        return None
    v = float(tok)
    if v in (float("inf"), float("-inf")) and not _INF_WORD.match(tok):
        return None  # Go: "value out of range"
    return v


def parse_text_timestamp(tok: bytes) -> int | None:
    """A text-format timestamp (decimal digits, ms), or None when it overflows int64."""
    v = int(tok)
    return v if v <= _INT64_MAX else None


def om_timestamp_ms(seconds: float) -> int | None:
    """OpenMetrics seconds as Prometheus' int64(ts*1000), or None when that cannot be
    represented (Go leaves the conversion undefined; the minimum is reserved for NO_TIMESTAMP)."""
    ms = seconds * 1000.0
    if not -9.223372036854775e18 < ms < 9.223372036854775e18:
        return None
    return int(ms)


METRIC_NAME_RE = re.compile(rb"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME_RE = re.compile(rb"[a-zA-Z_][a-zA-Z0-9_]*")

_UNESCAPE_LVAL = re.compile(rb'\\([\\"n])')
_UNESCAPE_HELP_TEXT = re.compile(rb"\\([\\n])")


def _unescape_char(m: re.Match[bytes]) -> bytes:
    c = m.group(1)
    return b"\n" if c == b"n" else c


def unescape_label_value(raw: bytes) -> bytes:
    """`\\\\`, `\\"` and `\\n` decoded left to right; any other backslash stays as written
    (Prometheus' lvalReplacer)."""
    if b"\\" not in raw:
        return raw
    return _UNESCAPE_LVAL.sub(_unescape_char, raw)


def unescape_text_help(raw: bytes) -> bytes:
    """The text format's HELP escaping: only `\\\\` and `\\n` (Prometheus' helpReplacer)."""
    if b"\\" not in raw:
        return raw
    return _UNESCAPE_HELP_TEXT.sub(_unescape_char, raw)


def check_label_names(names: list[bytes], values: list[bytes]) -> str | None:
    """Why Prometheus' appender refuses this series (metric name first in `names`), or None.

    Labels with an empty value are deleted by name before the duplicate check, as the label
    builder does; deleting the name itself leaves a series without `__name__`."""
    if len(names) == 1:
        return None if values[0] else "metric name label is missing"
    empty = {n for n, v in zip(names, values, strict=True) if not v}
    kept = [n for n in names if n not in empty] if empty else names
    if b"__name__" in empty:
        return "metric name label is missing"
    if len(set(kept)) != len(kept):
        seen: set[bytes] = set()
        for n in kept:
            if n in seen:
                return f'label name "{n.decode()}" is not unique'
            seen.add(n)
    return None


def labels_of(names: list[bytes], values: list[bytes]) -> Labels:
    """Sorted Labels from already-validated raw names and unescaped values, empties dropped."""
    return tuple(sorted((n.decode(), v.decode()) for n, v in zip(names, values, strict=True) if v))


class Scanner:
    """A body and a position, with the token steps both grammars take alike; each parser
    keeps its own grammar (where spaces may go, how lines end) around these steps."""

    def __init__(self, body: bytes) -> None:
        self.b = body
        self.pos = 0
        self.n = len(body)

    def fail(self, message: str, at: int | None = None) -> ExpositionError:
        """The line-numbered error for the position (or `at`)."""
        pos = self.pos if at is None else at
        return ExpositionError(self.b.count(b"\n", 0, pos) + 1, message)

    def got(self) -> str:
        """The text at the position, for error messages (Prometheus quotes the bad token)."""
        if self.pos >= self.n:
            return "end of input"
        tok = self.b[self.pos : self.pos + 16].split(b"\n", 1)[0]
        return repr(tok.decode("utf-8", "replace")) if tok else "end of line"

    def label_value(
        self, pattern: re.Pattern[bytes], name: bytes, names: list[bytes], vals: list[bytes]
    ) -> None:
        """The quoted value at the position (`pattern`'s group 1 is what is inside the quotes),
        appended unescaped to `vals` with `name` to `names`; the value must be UTF-8."""
        lv = pattern.match(self.b, self.pos)
        if lv is None:
            if self.pos < self.n and self.b[self.pos] == 0x22:
                raise self.fail("unterminated quoted label value")
            raise self.fail(f"expected label value, got {self.got()}")
        try:
            lv.group(1).decode()
        except UnicodeDecodeError:
            raise self.fail("invalid UTF-8 label value") from None
        names.append(name)
        vals.append(unescape_label_value(lv.group(1)))
        self.pos = lv.end()

    def value(self, tok: bytes) -> float:
        """A sample's (or exemplar's) value token as a float, as Prometheus reads it."""
        v = parse_float(tok)
        if v is None:
            raise self.fail(f"bad float value {tok.decode('utf-8', 'replace')!r}")
        return v

    def set_type(
        self, metadata: dict[str, MetricMetadata], mname: str, text: bytes, types: dict[bytes, str]
    ) -> None:
        """A TYPE line's text, one of `types` (the grammar's names -> the stored ones)."""
        mtype = types.get(text)
        if mtype is None:
            raise self.fail(f"invalid metric type {text.decode('utf-8', 'replace')!r}")
        old = metadata.get(mname, MetricMetadata())
        metadata[mname] = MetricMetadata(type=mtype, help=old.help, unit=old.unit)

    def set_help(self, metadata: dict[str, MetricMetadata], mname: str, unescaped: bytes) -> None:
        """A HELP line's text, already unescaped by the grammar's rules; it must be UTF-8."""
        try:
            help_text = unescaped.decode()
        except UnicodeDecodeError:
            raise self.fail("help text is not a valid utf8 string") from None
        old = metadata.get(mname, MetricMetadata())
        metadata[mname] = MetricMetadata(type=old.type, help=help_text, unit=old.unit)
