"""Prometheus text format 0.0.4, token by token: the exact reference for every body.

This scanner follows Prometheus 2.42's `promlex.l`/`promparse.go` and its scrape loop, quirks
included, because the samples stored must be the ones Prometheus stores:

- spaces and tabs may separate any two tokens (`foo { a = "b" , } 1` is valid), and a trailing
  comma in a label block is allowed;
- a label value may hold a raw newline, and backslash escapes other than `\\\\ \\" \\n` stay as
  written;
- a sample line must not start with whitespace: Prometheus keeps it in the metric name, which then
  fails validation ("invalid metric name");
- a line starting with a NUL byte ends the body (Prometheus' lexer reads it as end of input);
- `# HELP`/`# TYPE` take the rest of the line after one separator character as their text, and a
  `#` line that is neither is a comment; metadata may come after samples of its family.

`exposition_fast` handles common bodies much faster and falls back here for anything else, so this
module is also the oracle the fast path is tested against.
"""

from __future__ import annotations

import re

from heron.collect.metrics.exposition_base import (
    LABEL_NAME_RE,
    METRIC_NAME_RE,
    Scanner,
    check_label_names,
    parse_text_timestamp,
    unescape_text_help,
)
from heron.collect.metrics.metadata import MetricMetadata

__all__ = ["TEXT_TYPES", "parse_text"]

TEXT_TYPES = {
    b"counter": "counter",
    b"gauge": "gauge",
    b"histogram": "histogram",
    b"summary": "summary",
    b"untyped": "unknown",
}

_WS = re.compile(rb"[ \t]*")
_COMMENT_START = re.compile(rb"#[ \t]+")
_META_KW = re.compile(rb"(HELP|TYPE)[ \t]+")
_MNAME = METRIC_NAME_RE
_LNAME = LABEL_NAME_RE
_LVALUE = re.compile(rb'"((?:\\.|[^\\"])*)"', re.S)
_VALUE = re.compile(rb"[^{ \t\n\0]+")
_TIMESTAMP = re.compile(rb"[0-9]+")
_REST = re.compile(rb"[^\n]*")


class _Scanner(Scanner):
    """The text format may put spaces and tabs between any two tokens."""

    def ws(self) -> None:
        self.pos = _WS.match(self.b, self.pos).end()  # type: ignore[union-attr]


def parse_text(
    body: bytes,
) -> tuple[list[bytes], list[float], list[int | None], dict[str, MetricMetadata]]:
    """(series, values, timestamps or None, metadata) for a text-format body; raises
    ExpositionError for what Prometheus would refuse."""
    s = _Scanner(body if body.endswith(b"\n") else body + b"\n")
    b = s.b
    series: list[bytes] = []
    values: list[float] = []
    timestamps: list[int | None] = []
    metadata: dict[str, MetricMetadata] = {}
    n = len(b)
    while True:
        line_start = s.pos
        s.ws()
        if s.pos >= n or b[s.pos] == 0:
            break
        c = b[s.pos]
        if c == 0x0A:  # blank (or whitespace-only) line
            s.pos += 1
            continue
        if c == 0x23:  # '#'
            _comment_line(s, metadata)
            continue
        if not _MNAME.match(b, s.pos):
            raise s.fail(f"expected a metric name, a comment or a blank line, got {s.got()}")
        if s.pos != line_start:
            raise s.fail("invalid metric name: a sample line must not start with whitespace")
        ser, val, ts = _sample_line(s)
        series.append(ser)
        values.append(val)
        timestamps.append(ts)
    return series, values, timestamps, metadata


def _comment_line(s: _Scanner, metadata: dict[str, MetricMetadata]) -> None:
    b = s.b
    m = _COMMENT_START.match(b, s.pos)
    kw = _META_KW.match(b, m.end()) if m else None
    if kw is None:  # a plain comment: anything up to the newline
        s.pos = b.index(b"\n", s.pos) + 1
        return
    word = kw.group(1)
    s.pos = kw.end()
    name = _MNAME.match(b, s.pos)
    if name is None:
        raise s.fail(f"expected metric name after {word.decode()}, got {s.got()}")
    s.pos = name.end()
    rest = _REST.match(b, s.pos).group()  # type: ignore[union-attr]
    text = rest[1:]  # the lexer's text token starts at the separator and drops one character
    mname = name.group().decode()
    if word == b"TYPE":
        s.set_type(metadata, mname, text, TEXT_TYPES)
    else:
        s.set_help(metadata, mname, unescape_text_help(text))
    s.pos += len(rest) + 1


def _sample_line(s: _Scanner) -> tuple[bytes, float, int | None]:
    b = s.b
    start = s.pos
    name = _MNAME.match(b, start)
    assert name is not None
    s.pos = name.end()
    names = [b"__name__"]
    vals = [name.group()]
    series_end = s.pos
    s.ws()
    if b[s.pos] == 0x7B:  # '{'
        s.pos += 1
        while True:
            s.ws()
            if b[s.pos] == 0x7D:  # '}'
                s.pos += 1
                break
            ln = _LNAME.match(b, s.pos)
            if ln is None:
                raise s.fail(f"expected label name, got {s.got()}")
            s.pos = ln.end()
            s.ws()
            if b[s.pos] != 0x3D:  # '='
                raise s.fail(f"expected equal after label name, got {s.got()}")
            s.pos += 1
            s.ws()
            s.label_value(_LVALUE, ln.group(), names, vals)
            s.ws()
            if b[s.pos] == 0x2C:  # ','
                s.pos += 1
        series_end = s.pos
        s.ws()
    vt = _VALUE.match(b, s.pos)
    if vt is None:
        raise s.fail(f"expected a value after the metric, got {s.got()}")
    val = s.value(vt.group())
    s.pos = vt.end()
    s.ws()
    ts: int | None = None
    if b[s.pos] != 0x0A:
        tt = _TIMESTAMP.match(b, s.pos)
        if tt is None:
            raise s.fail(f"expected a timestamp or the end of the line, got {s.got()}")
        ts = parse_text_timestamp(tt.group())
        if ts is None:
            raise s.fail(f"timestamp {tt.group().decode()} out of range")
        s.pos = tt.end()
        s.ws()
        if b[s.pos] != 0x0A:
            raise s.fail(f"expected the end of the line after the timestamp, got {s.got()}")
    problem = check_label_names(names, vals)
    if problem is not None:
        raise s.fail(problem, at=start)
    s.pos += 1
    return b[start:series_end], val, ts
