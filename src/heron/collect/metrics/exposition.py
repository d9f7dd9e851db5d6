"""Exposition bodies (Prometheus text 0.0.4, OpenMetrics 1.0) -> sample columns and metadata.

The scraper calls `parse_exposition` once per scrape and gets columns: per sample the series'
identity text exactly as written (its scrape-cache key), the value and the timestamp. Only a
cache miss needs `series_labels`, so label decoding stays off the per-sample path.

Which samples come out, and which bodies fail, is what Prometheus 2.42 stores and refuses for the
same body and Content-Type (see `exposition_text` and `openmetrics` for the quirks). Speed comes
from `exposition_fast`, which handles bodies in the usual layout with whole-buffer bytes
operations and numpy; anything it does not recognise goes to the exact token-by-token parsers,
which also produce every error message.
"""

from __future__ import annotations

import re
from collections.abc import Container

import numpy as np

from heron.collect.metrics import exposition_fast
from heron.collect.metrics.exposition_base import (
    NO_TIMESTAMP,
    Exposition,
    ExpositionError,
)
from heron.collect.metrics.exposition_text import parse_text
from heron.collect.metrics.openmetrics import parse_openmetrics
from heron.model import Labels

__all__ = [
    "NO_TIMESTAMP",
    "ACCEPT_HEADER",
    "ExpositionError",
    "Exposition",
    "parse_exposition",
    "series_labels",
    "is_openmetrics",
]

# What Prometheus 2.42 sends (scrape.go `scrapeAcceptHeader`), so targets negotiate as they would.
ACCEPT_HEADER = (
    "application/openmetrics-text;version=1.0.0,"
    "application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,"
    "*/*;q=0.1"
)

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_ONE_PARAM = rf'\s*;\s*({_TOKEN})\s*=\s*(?:{_TOKEN}|"(?:[^"\\]|\\.)*")'
_PARAMS = re.compile(rf"(?:{_ONE_PARAM})*(?:\s*;)?\s*")
_PARAM = re.compile(_ONE_PARAM)


def is_openmetrics(content_type: str | None) -> bool:
    """Whether Prometheus would pick its OpenMetrics parser for this Content-Type.

    As with Go's mime.ParseMediaType, the media type is case-insensitive, one trailing `;` is
    allowed, and a malformed or repeated parameter is an error; Prometheus then falls back to
    the text parser, and so does this."""
    if not content_type:
        return False
    media, sep, params = content_type.partition(";")
    if media.strip().lower() != "application/openmetrics-text":
        return False
    m = _PARAMS.fullmatch(sep + params)
    if m is None:
        return False
    names = [p.group(1).lower() for p in _PARAM.finditer(sep + params)]
    return len(names) == len(set(names))


def parse_exposition(
    body: bytes, content_type: str | None, known: Container[bytes] | None = None
) -> Exposition:
    """Parse one scrape body; the grammar follows the Content-Type as in Prometheus (OpenMetrics
    for `application/openmetrics-text`, text 0.0.4 otherwise). Raises ExpositionError, naming the
    line, for anything Prometheus would refuse; then nothing of the body should be stored.

    `known` (optional) holds series entries from earlier results of this function for the same
    target, e.g. the scrape cache's keys, or the previous result's `series` list (cheapest when
    unchanged): they were validated then, so they are not again. This is what makes a
    steady-state scrape cheap; leaving it out is always correct."""
    om = is_openmetrics(content_type)
    fast = exposition_fast.parse_fast(body, om, known)
    if fast is not None:
        return fast
    series, values, ts, metadata = parse_openmetrics(body) if om else parse_text(body)
    return Exposition(
        series=series,
        values=np.array(values, dtype=np.float64),
        timestamps=np.array([NO_TIMESTAMP if t is None else t for t in ts], dtype=np.int64),
        metadata=metadata,
        openmetrics=om,
    )


_SERIES_NAME = re.compile(r"[ \t]*([a-zA-Z_:][a-zA-Z0-9_:]*)")
_SERIES_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:\\.|[^\\"])*)"', re.S)
_UNESCAPE = re.compile(r'\\([\\"n])')


def _unescape_char(m: re.Match[str]) -> str:
    c = m.group(1)
    return "\n" if c == "n" else c


def series_labels(series: bytes) -> Labels:
    """The sorted Labels (with `__name__`) of one `Exposition.series` entry, values unescaped and
    empty-valued labels left out, as Prometheus stores them. Called on scrape-cache misses only.
    The entry must come from `parse_exposition`, which has validated it (its label values are
    UTF-8, so the whole entry decodes once and is read as text)."""
    text = series.decode()
    m = _SERIES_NAME.match(text)
    if m is None:
        raise ValueError(f"not a series from parse_exposition: {text[:80]!r}")
    found = _SERIES_LABEL.findall(text, m.end())
    if "\\" in text:
        pairs = [(n, _UNESCAPE.sub(_unescape_char, v)) for n, v in found if v]
    else:
        pairs = [(n, v) for n, v in found if v]
    pairs.append(("__name__", m.group(1)))
    pairs.sort()
    return tuple(pairs)
