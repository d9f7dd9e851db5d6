"""OpenMetrics 1.0 text, token by token: the exact reference for every OpenMetrics body.

Follows Prometheus 2.42's `openmetricslex.l`/`openmetricsparse.go` and its scrape loop:

- the grammar is strict: exactly one space between a series, its value and its timestamp, no
  spaces or trailing comma inside label blocks, no blank lines, and only `# HELP`, `# TYPE`,
  `# UNIT` and `# EOF` as comment lines;
- the body must end with `# EOF` (optionally followed by one newline) and nothing after it;
- timestamps are float seconds, stored as int64(seconds*1000) ms; NaN or infinite ones fail;
- a UNIT must be a `_`-separated suffix of its metric's name;
- exemplars (`# {labels} value [timestamp]`) are checked and dropped, and only series named
  `*_total` or `*_bucket` may carry one;
- `_created` series are ordinary samples: Prometheus 2.42 stores them as it finds them (it has no
  created-timestamp ingestion), and so does Heron;
- metadata may follow samples of its family (Prometheus 2.42 does not check the order).
"""

from __future__ import annotations

import re

from heron.collect.metrics.exposition_base import (
    LABEL_NAME_RE,
    METRIC_NAME_RE,
    Scanner,
    check_label_names,
    om_timestamp_ms,
    parse_float,
    unescape_label_value,
)
from heron.collect.metrics.metadata import MetricMetadata

__all__ = ["OM_TYPES", "parse_openmetrics"]

OM_TYPES = {
    t: t.decode()
    for t in (
        b"counter",
        b"gauge",
        b"histogram",
        b"gaugehistogram",
        b"summary",
        b"info",
        b"stateset",
        b"unknown",
    )
}

_META = re.compile(rb"# (HELP|TYPE|UNIT) ")
_EOF = re.compile(rb"# EOF\n?")
_MNAME = METRIC_NAME_RE
_LNAME = LABEL_NAME_RE
_LVALUE = re.compile(rb'"((?:\\.|[^\\"\n])*)"')
_FIELD = re.compile(rb" ([^ \n]+)")
_EXEMPLAR = re.compile(rb" # \{")
_EXEMPLAR_SUFFIXES = (b"_total", b"_bucket")


class _Scanner(Scanner):
    """OpenMetrics reads a byte ahead where the text format skips spaces."""

    def peek(self) -> int:
        return self.b[self.pos] if self.pos < self.n else -1


def parse_openmetrics(
    body: bytes,
) -> tuple[list[bytes], list[float], list[int | None], dict[str, MetricMetadata]]:
    """(series, values, timestamps or None, metadata) for an OpenMetrics body; raises
    ExpositionError for what Prometheus would refuse."""
    s = _Scanner(body)
    b = s.b
    series: list[bytes] = []
    values: list[float] = []
    timestamps: list[int | None] = []
    metadata: dict[str, MetricMetadata] = {}
    while True:
        if s.pos >= s.n:
            raise s.fail("data does not end with # EOF")
        c = b[s.pos]
        if c == 0x23:  # '#'
            eof = _EOF.match(b, s.pos)
            if eof is not None:
                s.pos = eof.end()
                if s.pos != s.n:
                    raise s.fail("unexpected data after # EOF")
                break
            _meta_line(s, metadata)
            continue
        if not _MNAME.match(b, s.pos):
            raise s.fail(f"expected a metric name or a # line, got {s.got()}")
        ser, val, ts = _sample_line(s)
        series.append(ser)
        values.append(val)
        timestamps.append(ts)
    return series, values, timestamps, metadata


def _meta_line(s: _Scanner, metadata: dict[str, MetricMetadata]) -> None:
    b = s.b
    m = _META.match(b, s.pos)
    if m is None:
        raise s.fail(f"expected '# HELP ', '# TYPE ', '# UNIT ' or '# EOF', got {s.got()}")
    word = m.group(1)
    s.pos = m.end()
    name = _MNAME.match(b, s.pos)
    if name is None:
        raise s.fail(f"expected metric name after {word.decode()}, got {s.got()}")
    s.pos = name.end()
    nl = b.find(b"\n", s.pos)
    if s.peek() != 0x20 or nl < 0:
        raise s.fail(f"expected a space and text ending in a newline after the {word.decode()} metric name")
    text = b[s.pos + 1 : nl]
    mname = name.group().decode()
    if word == b"TYPE":
        s.set_type(metadata, mname, text, OM_TYPES)
    elif word == b"HELP":
        s.set_help(metadata, mname, unescape_label_value(text))
    else:
        old = metadata.get(mname, MetricMetadata())
        raw = name.group()
        if text and not (raw.endswith(text) and len(raw) > len(text) and raw[-len(text) - 1] == 0x5F):
            raise s.fail(f"unit not a suffix of metric {mname!r}")
        try:
            unit = text.decode()
        except UnicodeDecodeError:
            raise s.fail("unit is not a valid utf8 string") from None
        metadata[mname] = MetricMetadata(type=old.type, help=old.help, unit=unit)
    s.pos = nl + 1


def _label_block(s: _Scanner, names: list[bytes], vals: list[bytes]) -> None:
    """Labels after an opening brace, through the closing one: `a="1",b="2"` with no spaces."""
    b = s.b
    first = True
    while True:
        c = s.peek()
        if c == 0x7D:  # '}'
            s.pos += 1
            return
        if not first:
            if c != 0x2C:
                raise s.fail(f"expected a comma or a closing brace, got {s.got()}")
            s.pos += 1
        ln = _LNAME.match(b, s.pos)
        if ln is None:
            raise s.fail(f"expected label name, got {s.got()}")
        first = False
        s.pos = ln.end()
        if s.peek() != 0x3D:
            raise s.fail(f"expected equal after label name, got {s.got()}")
        s.pos += 1
        s.label_value(_LVALUE, ln.group(), names, vals)


def _float_field(s: _Scanner, what: str) -> float:
    f = _FIELD.match(s.b, s.pos)
    if f is None:
        raise s.fail(f"expected a value after {what}, got {s.got()}")
    v = s.value(f.group(1))
    s.pos = f.end()
    return v


def _timestamp_field(s: _Scanner, what: str) -> int:
    f = _FIELD.match(s.b, s.pos)
    assert f is not None
    v = parse_float(f.group(1))
    if v is None:
        raise s.fail(f"bad {what} {f.group(1).decode('utf-8', 'replace')!r}")
    if v != v or v in (float("inf"), float("-inf")):
        raise s.fail(f"invalid {what}")
    ms = om_timestamp_ms(v)
    if ms is None:
        raise s.fail(f"{what} out of range")
    s.pos = f.end()
    return ms


def _end_of_line(s: _Scanner, what: str) -> None:
    c = s.peek()
    if c == 0x0A:
        s.pos += 1
        return
    if c < 0:
        raise s.fail("data does not end with # EOF")
    raise s.fail(f"expected the end of the line after {what}, got {s.got()}")


def _exemplar(s: _Scanner, metric: bytes) -> None:
    """Parse an exemplar after ` # {` for errors and drop it (Heron stores no exemplars)."""
    if not metric.endswith(_EXEMPLAR_SUFFIXES):
        raise s.fail(f"metric name {metric.decode()} does not support exemplars")
    s.pos += 4
    _label_block(s, [], [])
    _float_field(s, "exemplar labels")
    if _FIELD.match(s.b, s.pos):
        _timestamp_field(s, "exemplar timestamp")
    _end_of_line(s, "the exemplar")


def _sample_line(s: _Scanner) -> tuple[bytes, float, int | None]:
    b = s.b
    start = s.pos
    name = _MNAME.match(b, start)
    assert name is not None
    s.pos = name.end()
    names = [b"__name__"]
    vals = [name.group()]
    if s.peek() == 0x7B:
        s.pos += 1
        _label_block(s, names, vals)
    series_end = s.pos
    val = _float_field(s, "metric")
    ts: int | None = None
    if _EXEMPLAR.match(b, s.pos):
        _exemplar(s, name.group())
    elif _FIELD.match(b, s.pos):
        ts = _timestamp_field(s, "timestamp")
        if _EXEMPLAR.match(b, s.pos):
            _exemplar(s, name.group())
        else:
            _end_of_line(s, "the timestamp")
    else:
        _end_of_line(s, "the value")
    problem = check_label_names(names, vals)
    if problem is not None:
        raise s.fail(problem, at=start)
    return b[start:series_end], val, ts
