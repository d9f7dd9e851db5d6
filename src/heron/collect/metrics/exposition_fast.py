"""The fast path: bodies in the usual layout, parsed with whole-buffer bytes and numpy operations.

Nearly every exporter writes one sample per line as `series value[ timestamp]` with single spaces,
label values without whitespace, `# HELP`/`# TYPE` lines with single spaces, and no blank lines.
For such a body no Python code runs per sample:

1. comment lines are found with `bytes.find` (a memchr-speed scan) and cut out, and only they
   are looked at one by one;
2. `bytes.split()` cuts the rest into tokens, and `bytes.translate` keeps only the whitespace,
   which must read `" \\n"` (or `"  \\n"` with a timestamp) for each line: that proves every
   line has the expected fields, so the tokens can be taken by stride (or, when only some lines
   have timestamps, by numpy index);
3. values and timestamps are checked against the allowed alphabet with `translate` and converted
   with `map(float)` (C-level) into numpy; the few things Python accepts and Go refuses
   (`+NaN`, `1e400`) are caught after;
4. series text is validated only for series the caller has not seen before (`known`, the
   scraper's cache keys), with one regex each, so a steady-state scrape validates nothing per
   series.

OpenMetrics exemplars (` # {...} value [ts]`) are checked and cut off first, one regex each.
The metadata of a comment block is remembered (bounded), since a target repeats it each scrape.

Whenever anything is not in that shape, `parse_fast` returns None and the caller runs the exact
token-by-token parser, which also raises every error. The fast path never raises and never
accepts a body the exact parser refuses (the tests check both on generated bodies).
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Container

import numpy as np

from heron.collect.metrics.exposition_base import (
    NO_TIMESTAMP,
    Exposition,
    ExpositionError,
    om_timestamp_ms,
    parse_float,
    unescape_label_value,
    unescape_text_help,
)
from heron.collect.metrics.exposition_text import TEXT_TYPES, parse_text
from heron.collect.metrics.metadata import MetricMetadata
from heron.collect.metrics.openmetrics import OM_TYPES, parse_openmetrics

__all__ = ["parse_fast"]

_WHITESPACE = b" \n\t\r\x0b\x0c"
_NOT_WHITESPACE = bytes(c for c in range(256) if c not in _WHITESPACE)
_FLOAT_ALPHABET = b"0123456789.eE+-infaINFAtyTY"
_DIGITS = b"0123456789"
_INF_WORD = re.compile(rb"[+-]?[iI][nN][fF]")

_TEXT_META_ALL = re.compile(rb"^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$", re.M)
_TEXT_META_LOOSE_ALL = re.compile(rb"^#[ \t]+(?:HELP|TYPE)[ \t]", re.M)
_OM_META = re.compile(rb"# (HELP|TYPE|UNIT) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)", re.S)
_UNKNOWN = MetricMetadata()
_METADATA_MEMO_BYTES = 8 << 20
_MNAME = re.compile(rb"[a-zA-Z_:][a-zA-Z0-9_:]*")
_OM_LV = rb'"(?:[^"\\\n]|\\.)*"'
_OM_LABEL = rb"[a-zA-Z_][a-zA-Z0-9_]*=" + _OM_LV
_EXEMPLAR = re.compile(rb"# \{(?:" + _OM_LABEL + rb"(?:," + _OM_LABEL + rb")*)?\} ([^ \n]+)(?: ([^ \n]+))?")
_EXEMPLAR_SUFFIXES = (b"_total", b"_bucket")

# One series token (no whitespace in it): name, then an optional label block. Text allows a
# trailing comma; OpenMetrics bodies containing ",}" never reach this path.
_LV = rb'"[^"\\\s]*(?:\\\S[^"\\\s]*)*"'
_LABEL = rb"[a-zA-Z_][a-zA-Z0-9_]*=" + _LV
_SERIES = re.compile(rb"[a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:" + _LABEL + rb"(?:," + _LABEL + rb")*,?)?\})?")
# Label names as they appear; may also hit look-alikes inside values, which only makes the
# duplicate check below conservative (the exact parser then decides).
_LABEL_NAME = re.compile(rb"[{,]([a-zA-Z_][a-zA-Z0-9_]*)=\"")


def parse_fast(body: bytes, om: bool, known: Container[bytes] | None = None) -> Exposition | None:
    """The parsed body, or None when it is not in the fast layout (the exact parser decides).

    `known`: series entries validated by an earlier call, as a container (e.g. the scrape
    cache's dict) or as the previous result's `series` list, which is cheapest when unchanged."""
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
    pieces, comments = _split_comments(core)
    metadata: dict[str, MetricMetadata] = {}
    if comments:
        meta = _METADATA_MEMO.get(comments, om)
        if meta is None:
            return None
        metadata = meta
    if not any(pieces):
        return _empty(metadata, om)
    if om and any(b"#" in p for p in pieces):
        cut = _cut_exemplars(b"".join(pieces))
        if cut is None:
            return None
        pieces = [cut]
    columns = _sample_columns(pieces, om, known)
    if columns is None:
        return None
    series, values, timestamps = columns
    return Exposition(series=series, values=values, timestamps=timestamps, metadata=metadata, openmetrics=om)


def _split_comments(core: bytes) -> tuple[list[bytes], list[bytes]]:
    """The runs of sample lines between the `#` lines (each ending in a newline; not joined,
    which would copy the body), and the `#` lines themselves without newlines, in order. Found
    with a one-byte bytes.find (memchr), so the cost is per `#`, not per byte; a `#` inside a
    label value is skipped over."""
    start = core.find(b"#")
    while start > 0 and core[start - 1] != 0x0A:
        start = core.find(b"#", start + 1)
    if start < 0:
        return [core], []
    pieces: list[bytes] = []
    comments: list[bytes] = []
    pos = 0
    while start >= 0:
        pieces.append(core[pos:start])
        end = core.find(b"\n", start)
        comments.append(core[start:end])
        pos = end + 1
        start = core.find(b"#", pos)
        while start > 0 and core[start - 1] != 0x0A:
            start = core.find(b"#", start + 1)
    pieces.append(core[pos:])
    return pieces, comments


def _cut_exemplars(samples: bytes) -> bytes | None:
    """OpenMetrics samples with their exemplars checked and cut off, or None if one is not in
    the plain form. Costs a few regex calls per exemplar, none for the other lines. A ` # {`
    inside a label value cuts a series token in two, which then fails validation."""
    pieces: list[bytes] = []
    pos = 0
    i = samples.find(b" # {")
    while i >= 0:
        end = samples.find(b"\n", i)
        m = _EXEMPLAR.fullmatch(samples, i + 1, end)
        if m is None:
            return None
        value, ts = m.groups()
        if parse_float(value) is None:
            return None
        if ts is not None:
            secs = parse_float(ts)
            if secs is None or not math.isfinite(secs) or om_timestamp_ms(secs) is None:
                return None
        name = _MNAME.match(samples, samples.rfind(b"\n", pos, i) + 1)
        if name is None or not name.group().endswith(_EXEMPLAR_SUFFIXES):
            return None
        try:
            samples[i:end].decode()
        except UnicodeDecodeError:
            return None
        pieces.append(samples[pos:i])
        pos = end
        i = samples.find(b" # {", end)
    pieces.append(samples[pos:])
    return b"".join(pieces)


def _empty(metadata: dict[str, MetricMetadata], om: bool) -> Exposition:
    return Exposition(
        series=[],
        values=np.empty(0, dtype=np.float64),
        timestamps=np.empty(0, dtype=np.int64),
        metadata=metadata,
        openmetrics=om,
    )


Columns = tuple[list[bytes], np.ndarray, np.ndarray]


def _sample_columns(pieces: list[bytes], om: bool, known: Container[bytes] | None) -> Columns | None:
    cols = _plain_columns(pieces, om, known)
    if cols is None:
        cols = _columns_around_odd_lines(b"".join(pieces), om, known)
    return cols


def _columns_around_odd_lines(samples: bytes, om: bool, known: Container[bytes] | None) -> Columns | None:
    """The plain path for all lines but a few odd ones, which the exact parser reads alone.

    Info-style series often have a space in a label value (node-exporter's `node_uname_info`,
    `node_os_info`), which defeats the whitespace tokenising for the whole body. Such lines
    are found with numpy (whitespace before the line's last `}`, or other than one or two
    fields after it), cut out, parsed exactly, and merged back in body order. If they are more
    than a tenth of the lines, or anything else is off, the caller's exact parse decides."""
    if not samples.endswith(b"\n"):
        return None
    arr = np.frombuffer(samples, dtype=np.uint8)
    nl = np.flatnonzero(arr == 0x0A)
    n = len(nl)
    starts = np.concatenate(([0], nl[:-1] + 1))
    ws = np.flatnonzero((arr == 0x20) | (arr == 0x09))
    closes = np.flatnonzero(arr == 0x7D)
    if len(closes):
        ci = np.searchsorted(closes, nl) - 1  # each line's last '}' (if it is on that line)
        last_close = np.where(ci >= 0, closes[np.maximum(ci, 0)], -1)
        last_close = np.where(last_close >= starts, last_close, -1)
    else:
        last_close = np.full(n, -1)
    line_of = np.searchsorted(nl, ws)
    inside = ws < last_close[line_of]
    outside = np.bincount(line_of[~inside], minlength=n)
    odd = (np.bincount(line_of[inside], minlength=n) > 0) | (outside < 1) | (outside > 2)
    odd_lines = np.flatnonzero(odd).tolist()
    if not odd_lines or len(odd_lines) * 10 > n:
        return None
    pieces: list[bytes] = []
    odd_text: list[bytes] = []
    pos = 0
    for i in odd_lines:
        a, b = int(starts[i]), int(nl[i]) + 1
        pieces.append(samples[pos:a])
        odd_text.append(samples[a:b])
        pos = b
    pieces.append(samples[pos:])
    plain = _plain_columns(pieces, om, known)
    if plain is None:
        return None
    body = b"".join(odd_text)
    try:
        o_series, o_values, o_ts, _ = parse_openmetrics(body + b"# EOF\n") if om else parse_text(body)
    except ExpositionError:
        return None
    if len(o_series) != len(odd_lines):
        return None
    series = np.empty(n, dtype=object)
    values = np.empty(n, dtype=np.float64)
    timestamps = np.empty(n, dtype=np.int64)
    mask = np.zeros(n, dtype=bool)
    mask[odd_lines] = True
    series[mask] = o_series
    values[mask] = o_values
    timestamps[mask] = [NO_TIMESTAMP if t is None else t for t in o_ts]
    series[~mask] = plain[0]
    values[~mask] = plain[1]
    timestamps[~mask] = plain[2]
    return series.tolist(), values, timestamps


def _plain_columns(pieces: list[bytes], om: bool, known: Container[bytes] | None) -> Columns | None:
    if len(pieces) == 1:
        seps = pieces[0].translate(None, _NOT_WHITESPACE)
        tokens = pieces[0].split()
    else:
        seps = b"".join([p.translate(None, _NOT_WHITESPACE) for p in pieces])
        tokens = []
        for p in pieces:
            tokens += p.split()
    if len(tokens) != len(seps):
        return None  # an empty field somewhere
    ts_tokens: list[bytes] | None = None
    has_ts: np.ndarray | None = None
    if seps == b" \n" * (len(seps) // 2):
        series, value_tokens = tokens[0::2], tokens[1::2]
    elif seps == b"  \n" * (len(seps) // 3):
        series, value_tokens, ts_tokens = tokens[0::3], tokens[1::3], tokens[2::3]
    else:
        mixed = _mixed_lines(seps, tokens)
        if mixed is None:
            return None
        series, value_tokens, ts_tokens, has_ts = mixed
    values = _floats(value_tokens)
    if values is None:
        return None
    timestamps = np.full(len(series), NO_TIMESTAMP, dtype=np.int64)
    if ts_tokens:
        ts = _om_timestamps(ts_tokens) if om else _text_timestamps(ts_tokens)
        if ts is None:
            return None
        if has_ts is None:
            timestamps = ts
        else:
            timestamps[has_ts] = ts
    if not all(map(_series_ok, _fresh(series, known))):
        return None
    return series, values, timestamps


def _mixed_lines(
    seps: bytes, tokens: list[bytes]
) -> tuple[list[bytes], list[bytes], list[bytes], np.ndarray] | None:
    """Bodies where only some lines carry a timestamp (cAdvisor's do): each line's separators
    must read " \n" or "  \n"; the tokens are then picked by index with numpy."""
    sep = np.frombuffer(seps, dtype=np.uint8)
    nl = np.flatnonzero(sep == 0x0A)
    if not len(nl) or nl[-1] != len(sep) - 1 or seps.count(b" ") != len(sep) - len(nl):
        return None
    per_line = np.diff(nl, prepend=-1)  # separators per line, the newline included = tokens
    has_ts = per_line == 3
    if not np.all(has_ts | (per_line == 2)):
        return None
    starts = np.cumsum(per_line) - per_line
    tok = np.array(tokens, dtype=object)
    return tok[starts].tolist(), tok[starts + 1].tolist(), tok[starts[has_ts] + 2].tolist(), has_ts


def _fresh(series: list[bytes], known: Container[bytes] | None) -> list[bytes]:
    """The series not validated before. An unchanged list compares in one memcmp-like pass;
    a container is asked per series (hashing them, which the scrape cache's lookup reuses)."""
    if known is None:
        return series
    if isinstance(known, list):
        if known == series:
            return []
        known = set(known)
    if all(map(known.__contains__, series)):
        return []
    return [s for s in series if s not in known]


def _floats(tokens: list[bytes]) -> np.ndarray | None:
    """Go's ParseFloat over many tokens at once, or None if any might differ from it.

    Python's float() agrees with Go on tokens over this alphabet except for overflow (Go
    refuses `1e400`, Python gives inf) and signed NaN (Go refuses `+NaN`); both are checked
    after, on the few infinite or NaN results only."""
    if b"".join(tokens).translate(None, _FLOAT_ALPHABET):
        return None
    try:
        out = np.array(list(map(float, tokens)), dtype=np.float64)
    except ValueError:
        return None
    odd = ~np.isfinite(out)
    if odd.any():
        for i in np.flatnonzero(odd).tolist():
            tok = tokens[i]
            if out[i] != out[i]:
                if tok[:1] in (b"+", b"-"):
                    return None
            elif not _INF_WORD.match(tok):
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


class _MetadataMemo:
    """The metadata of recently seen comment blocks. A target's HELP/TYPE lines rarely change
    between scrapes, and for comment-heavy exporters (node-exporter: one HELP and one TYPE per
    ~2 samples) reading them is half the parse. Keyed by the comment text itself (compared in
    full on a hit), bounded by the total size of the keys; thread-safe (scrapes run on threads)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[bool, bytes], dict[str, MetricMetadata] | None] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, comments: list[bytes], om: bool) -> dict[str, MetricMetadata] | None:
        key = (om, b"\n".join(comments))
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                hit = self._entries[key]
                return None if hit is None else dict(hit)
        meta = _om_metadata(comments) if om else _text_metadata(comments)
        if len(key[1]) <= self.max_bytes // 8:
            with self._lock:
                if key not in self._entries:
                    self._entries[key] = meta
                    self._bytes += len(key[1])
                while self._bytes > self.max_bytes:
                    old, _ = self._entries.popitem(last=False)
                    self._bytes -= len(old[1])
        return None if meta is None else dict(meta)


def _text_metadata(comments: list[bytes]) -> dict[str, MetricMetadata] | None:
    """HELP/TYPE from the comment lines: one findall over them all, then one entry per name
    (each field's last line wins, as in Prometheus' scrape cache)."""
    joined = b"\n".join(comments)
    found = _TEXT_META_ALL.findall(joined)
    if len(found) != len(_TEXT_META_LOOSE_ALL.findall(joined)):
        return None  # HELP/TYPE written some other way: the exact parser reads it
    types = {n: t for w, n, t in found if w == b"TYPE"}
    helps = {n: t for w, n, t in found if w == b"HELP"}
    # Every line is checked, not only each name's last: Prometheus fails on any bad one.
    if not {t for w, _, t in found if w == b"TYPE"} <= TEXT_TYPES.keys():
        return None
    try:
        b"\n".join([t for w, _, t in found if w == b"HELP"]).decode()
    except UnicodeDecodeError:
        return None
    out: dict[str, MetricMetadata] = {}
    for name in dict.fromkeys(n for _, n, _ in found):
        raw_type = types.get(name)
        mtype = "unknown" if raw_type is None else TEXT_TYPES.get(raw_type)
        if mtype is None:
            return None
        raw_help = helps.get(name, b"")
        try:
            help_text = unescape_text_help(raw_help).decode() if raw_help else ""
        except UnicodeDecodeError:
            return None
        out[name.decode()] = MetricMetadata(type=mtype, help=help_text)
    return out


def _om_metadata(comments: list[bytes]) -> dict[str, MetricMetadata] | None:
    out: dict[str, MetricMetadata] = {}
    for line in comments:
        m = _OM_META.fullmatch(line)
        if m is None:
            return None
        word, name, text = m.groups()
        key = name.decode()
        old = out.get(key, _UNKNOWN)
        try:
            if word == b"TYPE":
                mtype = OM_TYPES.get(text)
                if mtype is None:
                    return None
                out[key] = MetricMetadata(type=mtype, help=old.help, unit=old.unit)
            elif word == b"HELP":
                help_text = unescape_label_value(text).decode()
                out[key] = MetricMetadata(type=old.type, help=help_text, unit=old.unit)
            else:
                if text and not name.endswith(b"_" + text):
                    return None
                out[key] = MetricMetadata(type=old.type, help=old.help, unit=text.decode())
        except UnicodeDecodeError:
            return None
    return out


_METADATA_MEMO = _MetadataMemo(_METADATA_MEMO_BYTES)
