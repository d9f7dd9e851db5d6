"""The fast path: bodies in the usual layout, parsed with whole-buffer bytes and numpy operations.

Nearly every exporter writes one sample per line as `series value[ timestamp]` with single spaces,
label values without whitespace, `# HELP`/`# TYPE` lines with single spaces, and no blank lines.
For such a body no Python code runs per sample:

1. comment lines are found and cut out with one regex each (`\\n#` is a literal prefix, so the
   search is a memchr-like scan), and only they are looked at one by one;
2. `bytes.split()` cuts the rest into tokens, and `bytes.translate` keeps only the whitespace,
   which must read exactly `" \\n"` (or `"  \\n"` with timestamps) once per line: that proves
   every line has the expected fields, so the tokens can be taken by stride;
3. values and timestamps are checked against the allowed alphabet with `translate` and converted
   by numpy; the few things numpy accepts and Go refuses (`+NaN`, `1e400`) are caught after;
4. series text is validated only for series the caller has not seen before (`known`, the
   scraper's cache keys), with one regex each, so a steady-state scrape validates nothing per
   series.

Whenever anything is not in that shape, `parse_fast` returns None and the caller runs the exact
token-by-token parser, which also raises every error. The fast path never raises and never
accepts a body the exact parser refuses (the tests check both on generated bodies).
"""

from __future__ import annotations

import re
from collections.abc import Container

import numpy as np

from heron.collect.metrics.exposition_base import (
    NO_TIMESTAMP,
    Exposition,
    unescape_label_value,
    unescape_text_help,
)
from heron.collect.metrics.exposition_text import TEXT_TYPES
from heron.collect.metrics.metadata import MetricMetadata
from heron.collect.metrics.openmetrics import OM_TYPES

__all__ = ["parse_fast"]

_WHITESPACE = b" \n\t\r\x0b\x0c"
_NOT_WHITESPACE = bytes(c for c in range(256) if c not in _WHITESPACE)
_FLOAT_ALPHABET = b"0123456789.eE+-infaINFAtyTY"
_DIGITS = b"0123456789"
_INF_WORD = re.compile(rb"[+-]?[iI][nN][fF]")

_COMMENT_LINE = re.compile(rb"\n#[^\n]*")
_TEXT_META = re.compile(rb"\n# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ([^\n]*)")
_TEXT_META_LOOSE = re.compile(rb"\n#[ \t]+(?:HELP|TYPE)[ \t]")
_OM_META = re.compile(rb"\n# (HELP|TYPE|UNIT) ([a-zA-Z_:][a-zA-Z0-9_:]*) ([^\n]*)")

# One series token (no whitespace in it): name, then an optional label block. Text allows a
# trailing comma; OpenMetrics bodies containing ",}" never reach this path.
_LV = rb'"[^"\\\s]*(?:\\\S[^"\\\s]*)*"'
_LABEL = rb"[a-zA-Z_][a-zA-Z0-9_]*=" + _LV
_SERIES = re.compile(rb"[a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:" + _LABEL + rb"(?:," + _LABEL + rb")*,?)?\})?")
# Label names as they appear; may also hit look-alikes inside values, which only makes the
# duplicate check below conservative (the exact parser then decides).
_LABEL_NAME = re.compile(rb"[{,]([a-zA-Z_][a-zA-Z0-9_]*)=\"")


def parse_fast(body: bytes, om: bool, known: Container[bytes] | None = None) -> Exposition | None:
    """The parsed body, or None when it is not in the fast layout (the exact parser decides)."""
    if om:
        if body.endswith(b"# EOF\n"):
            core = body[:-6]
        elif body.endswith(b"# EOF"):
            core = body[:-5]
        else:
            return None
        if (core and not core.endswith(b"\n")) or b",}" in core:
            return None
    else:
        core = body if body.endswith(b"\n") else body + b"\n"
    if b"\0" in core:
        return None
    metadata: dict[str, MetricMetadata] = {}
    if b"#" in core:
        pre = b"\n" + core
        meta = _om_metadata(pre) if om else _text_metadata(pre)
        if meta is None:
            return None
        metadata = meta
        samples = _COMMENT_LINE.sub(b"", pre)[1:]
    else:
        samples = core
    if not samples:
        return _empty(metadata, om)
    if samples.startswith(b"\n") or b"\n\n" in samples:
        return None
    columns = _sample_columns(samples, om, known)
    if columns is None:
        return None
    series, values, timestamps = columns
    return Exposition(series=series, values=values, timestamps=timestamps, metadata=metadata, openmetrics=om)


def _empty(metadata: dict[str, MetricMetadata], om: bool) -> Exposition:
    return Exposition(
        series=[],
        values=np.empty(0, dtype=np.float64),
        timestamps=np.empty(0, dtype=np.int64),
        metadata=metadata,
        openmetrics=om,
    )


def _sample_columns(
    samples: bytes, om: bool, known: Container[bytes] | None
) -> tuple[list[bytes], np.ndarray, np.ndarray] | None:
    n = samples.count(b"\n")
    tokens = samples.split()
    seps = samples.translate(None, _NOT_WHITESPACE)
    if len(tokens) == 2 * n and seps == b" \n" * n:
        stride = 2
    elif len(tokens) == 3 * n and seps == b"  \n" * n:
        stride = 3
    else:
        return None
    series = tokens[0::stride]
    values = _floats(tokens[1::stride])
    if values is None:
        return None
    if stride == 2:
        timestamps = np.full(n, NO_TIMESTAMP, dtype=np.int64)
    else:
        ts = _om_timestamps(tokens[2::3]) if om else _text_timestamps(tokens[2::3])
        if ts is None:
            return None
        timestamps = ts
    if known is None or not all(map(known.__contains__, series)):
        fresh = series if known is None else [s for s in series if s not in known]
        if not all(map(_series_ok, fresh)):
            return None
    return series, values, timestamps


def _floats(tokens: list[bytes]) -> np.ndarray | None:
    """Go's ParseFloat over many tokens at once, or None if any might differ from it."""
    joined = b"".join(tokens)
    if joined.translate(None, _FLOAT_ALPHABET):
        return None
    if b"+n" in joined or b"-n" in joined or b"+N" in joined or b"-N" in joined:
        return None  # numpy reads a signed NaN; Go refuses it
    try:
        out = np.array(tokens).astype(np.float64)
    except ValueError:
        return None
    inf = np.isinf(out)
    if inf.any():
        for i in np.flatnonzero(inf).tolist():
            if not _INF_WORD.match(tokens[i]):
                return None  # overflow: Go reports "value out of range"
    return out


def _text_timestamps(tokens: list[bytes]) -> np.ndarray | None:
    if b"".join(tokens).translate(None, _DIGITS) or max(map(len, tokens)) > 18:
        return None
    return np.array(tokens).astype(np.int64)


def _om_timestamps(tokens: list[bytes]) -> np.ndarray | None:
    secs = _floats(tokens)
    if secs is None:
        return None
    ms = secs * 1000.0
    if not np.all(np.abs(ms) < 9.223372036854775e18):  # also false for NaN and Inf
        return None
    return ms.astype(np.int64)


def _series_ok(s: bytes) -> bool:
    """Whether one new series token is valid and has no label name twice or `__name__`
    (conservatively: a look-alike inside a value also sends the body to the exact parser)."""
    if _SERIES.fullmatch(s) is None:
        return False
    if b"{" in s:
        names = _LABEL_NAME.findall(s)
        if len(set(names)) != len(names) or b"__name__" in names:
            return False
        try:
            s.decode()
        except UnicodeDecodeError:
            return False
    return True


def _text_metadata(pre: bytes) -> dict[str, MetricMetadata] | None:
    found = _TEXT_META.findall(pre)
    if len(found) != len(_TEXT_META_LOOSE.findall(pre)):
        return None
    out: dict[str, MetricMetadata] = {}
    for word, name, text in found:
        key = name.decode()
        old = out.get(key, MetricMetadata())
        if word == b"TYPE":
            mtype = TEXT_TYPES.get(text)
            if mtype is None:
                return None
            out[key] = MetricMetadata(type=mtype, help=old.help, unit=old.unit)
        else:
            try:
                out[key] = MetricMetadata(
                    type=old.type, help=unescape_text_help(text).decode(), unit=old.unit
                )
            except UnicodeDecodeError:
                return None
    return out


def _om_metadata(pre: bytes) -> dict[str, MetricMetadata] | None:
    found = _OM_META.findall(pre)
    if len(found) != pre.count(b"\n#"):
        return None
    out: dict[str, MetricMetadata] = {}
    for word, name, text in found:
        key = name.decode()
        old = out.get(key, MetricMetadata())
        try:
            if word == b"TYPE":
                mtype = OM_TYPES.get(text)
                if mtype is None:
                    return None
                out[key] = MetricMetadata(type=mtype, help=old.help, unit=old.unit)
            elif word == b"HELP":
                out[key] = MetricMetadata(
                    type=old.type, help=unescape_label_value(text).decode(), unit=old.unit
                )
            else:
                if text and not name.endswith(b"_" + text):
                    return None
                out[key] = MetricMetadata(type=old.type, help=old.help, unit=text.decode())
        except UnicodeDecodeError:
            return None
    return out
