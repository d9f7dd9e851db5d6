"""Prometheus remote write 1.0 and 2.0 request bodies -> SampleColumns and metric metadata.

Remote write 1.0 (`prometheus.WriteRequest`, prompb/types.proto) carries each series' labels
as strings; 2.0 (`io.prometheus.write.v2.Request`, prompb/io/prometheus/write/v2/types.proto)
interns every string in one `symbols` table and refers to it by index. Both become the one
shape storage takes from a scrape: a label set per sample (`SampleColumns`), so a remote-write
request costs one `Database.append` like a scrape does.

The choice between the two is made by Content-Type alone, as the 2.0 spec requires: a missing
or bare `application/x-protobuf` is 1.0, `;proto=prometheus.WriteRequest` is 1.0,
`;proto=io.prometheus.write.v2.Request` is 2.0, anything else is refused (HTTP 415).

What is not stored, and counted instead: native histograms (Heron stores float samples only
for now) and exemplars. A malformed body or an invalid label set refuses the whole request
(`RemoteWriteError`, HTTP 400): nothing of it is stored, and senders do not retry a 400.
"""

from __future__ import annotations

import struct
from array import array
from dataclasses import dataclass, field

import numpy as np

from heron.collect.metrics.metadata import MetricMetadata
from heron.model import LABEL_NAME_RE, METRIC_NAME_RE, Labels
from heron.protowire import WIRE_I64, WIRE_LEN, WIRE_VARINT, ProtoError, iter_fields, read_varint
from heron.receive.decompress import DecompressError, TooLarge, unsnappy
from heron.storage import SampleBatch, SampleColumns

__all__ = [
    "storage_batches",
    "RemoteWriteError",
    "UnsupportedMediaType",
    "RemoteWriteTooLarge",
    "DecodedWrite",
    "V1_PROTO",
    "V2_PROTO",
    "METRIC_TYPES",
    "protocol_of",
    "decode_remote_write",
    "decode_write_request",
]

V1_PROTO = "prometheus.WriteRequest"
V2_PROTO = "io.prometheus.write.v2.Request"

# prompb MetricMetadata.MetricType and v2 Metadata.MetricType share numbers and order.
METRIC_TYPES = ("unknown", "counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset")

_DOUBLE = struct.Struct("<d")
_MAX_LABEL_VALUE_BYTES = 1 << 16  # longer values are refused rather than stored


class RemoteWriteError(ValueError):
    """The request cannot be stored: malformed body or invalid labels (HTTP 400)."""


class UnsupportedMediaType(RemoteWriteError):
    """Content-Type or Content-Encoding that remote write does not define (HTTP 415)."""


class RemoteWriteTooLarge(RemoteWriteError):
    """The body decodes past max_push_size (HTTP 413)."""


@dataclass
class DecodedWrite:
    """A decoded request: the float samples, the metadata, and what was left out."""

    columns: SampleColumns
    metadata: dict[str, MetricMetadata] = field(default_factory=dict)
    multi: list[tuple[int, int]] = field(default_factory=list)  # [start, end) of series with >1 sample
    histograms: int = 0  # native histogram samples: not stored
    exemplars: int = 0  # exemplars: not stored
    version: str = V1_PROTO


def protocol_of(content_type: str) -> str:
    """The protobuf message a Content-Type names; UnsupportedMediaType for any other."""
    if not content_type.strip():
        return V1_PROTO
    parts = [p.strip() for p in content_type.split(";")]
    media = parts[0].lower()
    if media != "application/x-protobuf":
        raise UnsupportedMediaType(
            f"unsupported Content-Type {content_type!r}: remote write takes application/x-protobuf "
            f"(proto={V1_PROTO} or proto={V2_PROTO})"
        )
    proto = V1_PROTO
    for p in parts[1:]:
        key, _, value = p.partition("=")
        if key.strip().lower() == "proto":
            proto = value.strip().strip('"')
    if proto not in (V1_PROTO, V2_PROTO):
        raise UnsupportedMediaType(
            f"unsupported remote write message proto={proto!r}: use {V1_PROTO} or {V2_PROTO}"
        )
    return proto


def decode_remote_write(
    body: bytes, content_type: str, content_encoding: str, max_size: int
) -> tuple[SampleColumns, dict[str, MetricMetadata]]:
    """Decode a snappy-compressed request body; see `decode_write_request` for the details."""
    decoded = decode_write_request(body, content_type, content_encoding, max_size)
    return decoded.columns, decoded.metadata


def decode_write_request(
    body: bytes, content_type: str, content_encoding: str, max_size: int
) -> DecodedWrite:
    """Decode a request body, choosing 1.0 or 2.0 by Content-Type.

    Raises UnsupportedMediaType (415), RemoteWriteTooLarge (413) or RemoteWriteError (400).
    """
    proto = protocol_of(content_type)
    enc = content_encoding.strip().lower() or "snappy"  # Prometheus assumes snappy when absent
    if enc != "snappy":
        raise UnsupportedMediaType(
            f"unsupported Content-Encoding {content_encoding!r}: remote write bodies are snappy"
        )
    if len(body) > max_size:
        raise RemoteWriteTooLarge(f"request body of {len(body)} bytes exceeds max_push_size ({max_size})")
    try:
        raw = unsnappy(body, max_size)
    except TooLarge as exc:
        raise RemoteWriteTooLarge(str(exc)) from None
    except DecompressError as exc:
        raise RemoteWriteError(str(exc)) from None
    try:
        return _decode_v2(raw) if proto == V2_PROTO else _decode_v1(raw)
    except ProtoError as exc:
        raise RemoteWriteError(f"invalid {proto} protobuf: {exc}") from None


# -- validation -------------------------------------------------------------------------
# Names already found valid: a request repeats a few label names and metric names many times.
_VALID_LABEL_NAMES: set[str] = set()
_VALID_METRIC_NAMES: set[str] = set()
_MAX_REMEMBERED = 50_000


def _remember(known: set[str], name: str) -> None:
    if len(known) >= _MAX_REMEMBERED:
        known.clear()
    known.add(name)


def _check_labels(pairs: list[tuple[str, str]]) -> Labels:
    """Prometheus' labels.IsValid, plus no duplicate names; empty values dropped as storage does."""
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for name, value in pairs:
        if name in seen:
            raise RemoteWriteError(f"duplicate label name {name!r} in series {_show(pairs)}")
        seen.add(name)
        if name == "__name__":
            if value not in _VALID_METRIC_NAMES:
                if METRIC_NAME_RE.fullmatch(value) is None:
                    raise RemoteWriteError(f"invalid metric name {value[:200]!r} in series {_show(pairs)}")
                _remember(_VALID_METRIC_NAMES, value)
        elif name not in _VALID_LABEL_NAMES:
            if LABEL_NAME_RE.fullmatch(name) is None:
                raise RemoteWriteError(f"invalid label name {name[:200]!r} in series {_show(pairs)}")
            _remember(_VALID_LABEL_NAMES, name)
        if len(value) > _MAX_LABEL_VALUE_BYTES:
            raise RemoteWriteError(f"label {name!r} has a value longer than {_MAX_LABEL_VALUE_BYTES} bytes")
        if value:
            out.append((name, value))
    if not out:
        raise RemoteWriteError("a series has no labels")
    out.sort()
    return tuple(out)


def _show(pairs: list[tuple[str, str]]) -> str:
    text = "{" + ", ".join(f"{n}={v!r}" for n, v in pairs[:20]) + "}"
    return text if len(text) <= 300 else text[:300] + "...}"


def _text(buf: bytes, span: tuple[int, int], what: str) -> str:
    try:
        return buf[span[0] : span[1]].decode("utf-8")
    except UnicodeDecodeError:
        raise RemoteWriteError(f"{what} is not valid UTF-8") from None


def _want(what: str, num: int, wt: int, want: int) -> None:
    if wt != want:
        raise RemoteWriteError(f"{what} field {num} has wire type {wt}, want {want}")


def _int64(v: int) -> int:
    """An int64 varint: the low 64 bits of what was sent (as protobuf keeps them), signed."""
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >= 1 << 63 else v


def _label(buf: bytes, s: int, e: int) -> tuple[str, str]:
    """A 1.0 Label (name = 1, value = 2). Senders write it as `0a len name 12 len value` with
    one-byte lengths; that shape is read directly, any other through the general reader."""
    if e - s >= 4 and buf[s] == 0x0A:
        n1 = buf[s + 1]
        mid = s + 2 + n1
        if n1 < 0x80 and mid + 2 <= e and buf[mid] == 0x12:
            n2 = buf[mid + 1]
            if n2 < 0x80 and mid + 2 + n2 == e:
                try:
                    return buf[s + 2 : mid].decode(), buf[mid + 2 : e].decode()
                except UnicodeDecodeError:
                    raise RemoteWriteError("label name or value is not valid UTF-8") from None
    name, value = "", ""
    for num, wt, v in iter_fields(buf, s, e):
        if num == 1:
            _want("Label", num, wt, WIRE_LEN)
            name = _text(buf, v, "label name")  # type: ignore[arg-type]
        elif num == 2:
            _want("Label", num, wt, WIRE_LEN)
            value = _text(buf, v, "label value")  # type: ignore[arg-type]
    return name, value


def _sample(buf: bytes, s: int, e: int) -> tuple[int, float]:
    """A Sample message (value = 1 double, timestamp = 2 int64), the same in 1.0 and 2.0.
    The usual shape, `09 <8 bytes> 10 <varint>`, is read directly."""
    if e - s >= 11 and buf[s] == 0x09 and buf[s + 9] == 0x10:
        ts, end = read_varint(buf, s + 10)
        if end == e:
            return _int64(ts), _DOUBLE.unpack_from(buf, s + 1)[0]
    value = 0.0
    ts = 0
    for num, wt, v in iter_fields(buf, s, e):
        if num == 1:
            _want("Sample", num, wt, WIRE_I64)
            value = _DOUBLE.unpack(v)[0]  # type: ignore[arg-type]
        elif num == 2:
            _want("Sample", num, wt, WIRE_VARINT)
            ts = _int64(v)  # type: ignore[arg-type]
    return ts, value


class _Columns:
    """Growing columns, one entry per sample: timestamps and values in typed arrays (16 bytes
    a sample, not a Python int and float each), so the largest body max_push_size admits
    stays within a small multiple of its own size in memory."""

    def __init__(self) -> None:
        self.labels: list[Labels] = []
        self.multi: list[tuple[int, int]] = []
        self.ts = array("q")
        self.vals = array("d")

    def sample(self, sample: tuple[int, float]) -> None:
        """One sample of the series being read; its labels follow in `end_series`."""
        self.ts.append(sample[0])
        self.vals.append(sample[1])

    def end_series(self, labels: Labels, start: int) -> None:
        """The series whose samples were added since `start` (len(ts) before it) is `labels`."""
        n = len(self.ts) - start
        if n == 1:
            self.labels.append(labels)
        elif n > 1:
            self.labels += [labels] * n
            self.multi.append((start, start + n))

    def build(self) -> SampleColumns:
        return SampleColumns(
            labels=self.labels,
            timestamps=np.frombuffer(self.ts, dtype=np.int64) if self.ts else np.zeros(0, np.int64),
            values=np.frombuffer(self.vals, dtype=np.float64) if self.vals else np.zeros(0, np.float64),
        )


# Parts Heron counts without storing (exemplars, native histograms) are still checked as the
# protobuf runtime would check them: framing, UTF-8 strings, packed arrays.
_UNUSED: dict[str, dict[int, str]] = {
    "Exemplar": {1: "Label"},
    "Label": {1: "str", 2: "str"},
    "ExemplarV2": {1: "varints"},
    "Histogram": {
        8: "BucketSpan",
        9: "varints",
        10: "f64s",
        11: "BucketSpan",
        12: "varints",
        13: "f64s",
        16: "f64s",
    },
    "BucketSpan": {},
}


def _check(buf: bytes, s: int, e: int, message: str) -> None:
    fields = _UNUSED[message]
    for num, wt, v in iter_fields(buf, s, e):
        kind = fields.get(num)
        if kind is None or wt != WIRE_LEN:
            continue
        start, end = v  # type: ignore[misc]
        if kind == "str":
            _text(buf, v, f"{message} field {num}")  # type: ignore[arg-type]
        elif kind == "varints":
            pos = start
            while pos < end:
                pos = read_varint(buf, pos)[1]
            if pos != end:
                raise RemoteWriteError(f"{message} field {num}: a varint runs past its field")
        elif kind == "f64s":
            if (end - start) % 8:
                raise RemoteWriteError(f"{message} field {num}: packed doubles of {end - start} bytes")
        else:
            _check(buf, start, end, kind)


# -- 1.0 --------------------------------------------------------------------------------
# WriteRequest: 1 timeseries (TimeSeries), 3 metadata (MetricMetadata).
# TimeSeries: 1 labels (Label), 2 samples (Sample), 3 exemplars, 4 histograms.
# Label: 1 name, 2 value. MetricMetadata: 1 type, 2 metric_family_name, 4 help, 5 unit.
def _decode_v1(buf: bytes) -> DecodedWrite:
    cols = _Columns()
    out = DecodedWrite(SampleColumns([], [], []), version=V1_PROTO)
    interned: dict[Labels, Labels] = {}
    for num, wt, v in iter_fields(buf):
        if num == 1:
            _want("WriteRequest", num, wt, WIRE_LEN)
            s, e = v  # type: ignore[misc]
            pairs: list[tuple[str, str]] = []
            start = len(cols.ts)
            # Labels and samples with one-byte lengths, the layout senders write, are walked
            # here; anything else from there on goes through the general reader below.
            pos = s
            while pos + 2 <= e:
                key, n = buf[pos], buf[pos + 1]
                if n >= 0x80 or (key != 0x0A and key != 0x12):
                    break
                a = pos + 2
                pos = a + n
                if pos > e:
                    raise RemoteWriteError("length-delimited field runs past the end of its message")
                if key == 0x0A:
                    pairs.append(_label(buf, a, pos))
                else:
                    cols.sample(_sample(buf, a, pos))
            for n2, w2, v2 in iter_fields(buf, pos, e):
                if n2 == 1:
                    _want("TimeSeries", n2, w2, WIRE_LEN)
                    pairs.append(_label(buf, v2[0], v2[1]))  # type: ignore[index]
                elif n2 == 2:
                    _want("TimeSeries", n2, w2, WIRE_LEN)
                    cols.sample(_sample(buf, v2[0], v2[1]))  # type: ignore[index]
                elif n2 == 3:
                    _want("TimeSeries", n2, w2, WIRE_LEN)
                    _check(buf, v2[0], v2[1], "Exemplar")  # type: ignore[index]
                    out.exemplars += 1
                elif n2 == 4:
                    _want("TimeSeries", n2, w2, WIRE_LEN)
                    _check(buf, v2[0], v2[1], "Histogram")  # type: ignore[index]
                    out.histograms += 1
            labels = _check_labels(pairs)
            labels = interned.setdefault(labels, labels)
            cols.end_series(labels, start)
        elif num == 3:
            _want("WriteRequest", num, wt, WIRE_LEN)
            name, meta = _v1_metadata(buf, v[0], v[1])  # type: ignore[index]
            if name:
                out.metadata[name] = meta
    out.columns = cols.build()
    out.multi = cols.multi
    return out


def _v1_metadata(buf: bytes, s: int, e: int) -> tuple[str, MetricMetadata]:
    mtype, name, help_, unit = 0, "", "", ""
    for num, wt, v in iter_fields(buf, s, e):
        if num == 1:
            _want("MetricMetadata", num, wt, WIRE_VARINT)
            mtype = v  # type: ignore[assignment]
        elif num == 2:
            _want("MetricMetadata", num, wt, WIRE_LEN)
            name = _text(buf, v, "metric_family_name")  # type: ignore[arg-type]
        elif num == 4:
            _want("MetricMetadata", num, wt, WIRE_LEN)
            help_ = _text(buf, v, "help")  # type: ignore[arg-type]
        elif num == 5:
            _want("MetricMetadata", num, wt, WIRE_LEN)
            unit = _text(buf, v, "unit")  # type: ignore[arg-type]
    kind = METRIC_TYPES[mtype] if 0 <= mtype < len(METRIC_TYPES) else "unknown"
    return name, MetricMetadata(kind, help_, unit)


# -- 2.0 --------------------------------------------------------------------------------
# Request: 4 symbols (string), 5 timeseries. TimeSeries: 1 labels_refs (packed uint32),
# 2 samples, 3 histograms, 4 exemplars, 5 metadata, 6 created_timestamp.
# Metadata: 1 type, 3 help_ref, 4 unit_ref.
def _decode_v2(buf: bytes) -> DecodedWrite:
    symbols: list[str] = []
    series_spans: list[tuple[int, int]] = []
    for num, wt, v in iter_fields(buf):
        if num == 4:
            _want("Request", num, wt, WIRE_LEN)
            symbols.append(_text(buf, v, "symbol"))  # type: ignore[arg-type]
        elif num == 5:
            _want("Request", num, wt, WIRE_LEN)
            series_spans.append(v)  # type: ignore[arg-type]
    if symbols and symbols[0] != "":
        raise RemoteWriteError("symbols table must start with the empty string")
    cols = _Columns()
    out = DecodedWrite(SampleColumns([], [], []), version=V2_PROTO)
    interned: dict[Labels, Labels] = {}
    for s, e in series_spans:
        refs: list[int] = []
        start = len(cols.ts)
        meta: MetricMetadata | None = None
        for num, wt, v in iter_fields(buf, s, e):
            if num == 1:
                if wt == WIRE_LEN:
                    pos, end = v  # type: ignore[misc]
                    while pos < end:
                        ref, pos = read_varint(buf, pos)
                        refs.append(ref)
                    if pos != end:
                        raise RemoteWriteError("labels_refs: a varint runs past its field")
                elif wt == WIRE_VARINT:
                    refs.append(v)  # type: ignore[arg-type]
                else:
                    raise RemoteWriteError(f"TimeSeries field 1 has wire type {wt}")
            elif num == 2:
                _want("TimeSeries", num, wt, WIRE_LEN)
                cols.sample(_sample(buf, v[0], v[1]))  # type: ignore[index]
            elif num == 3:
                _want("TimeSeries", num, wt, WIRE_LEN)
                _check(buf, v[0], v[1], "Histogram")  # type: ignore[index]
                out.histograms += 1
            elif num == 4:
                _want("TimeSeries", num, wt, WIRE_LEN)
                _check(buf, v[0], v[1], "ExemplarV2")  # type: ignore[index]
                out.exemplars += 1
            elif num == 5:
                _want("TimeSeries", num, wt, WIRE_LEN)
                meta = _v2_metadata(buf, v[0], v[1], symbols)  # type: ignore[index]
        if len(refs) % 2:
            raise RemoteWriteError(f"labels_refs has an odd length ({len(refs)})")
        pairs: list[tuple[str, str]] = []
        for i in range(0, len(refs), 2):
            a, b = refs[i], refs[i + 1]
            if a >= len(symbols) or b >= len(symbols):
                raise RemoteWriteError(
                    f"labels_refs points past the symbols table ({max(a, b)} >= {len(symbols)})"
                )
            pairs.append((symbols[a], symbols[b]))
        labels = _check_labels(pairs)
        labels = interned.setdefault(labels, labels)
        cols.end_series(labels, start)
        if meta is not None:
            name = dict(labels).get("__name__", "")
            if name:
                out.metadata[name] = meta
    out.columns = cols.build()
    out.multi = cols.multi
    return out


def _v2_metadata(buf: bytes, s: int, e: int, symbols: list[str]) -> MetricMetadata | None:
    mtype, help_ref, unit_ref = 0, 0, 0
    for num, wt, v in iter_fields(buf, s, e):
        if num == 1:
            _want("Metadata", num, wt, WIRE_VARINT)
            mtype = v  # type: ignore[assignment]
        elif num == 3:
            _want("Metadata", num, wt, WIRE_VARINT)
            help_ref = v  # type: ignore[assignment]
        elif num == 4:
            _want("Metadata", num, wt, WIRE_VARINT)
            unit_ref = v  # type: ignore[assignment]
    for ref in (help_ref, unit_ref):
        if ref and ref >= len(symbols):
            raise RemoteWriteError(f"metadata points past the symbols table ({ref} >= {len(symbols)})")
    if not (mtype or help_ref or unit_ref):
        return None
    kind = METRIC_TYPES[mtype] if 0 <= mtype < len(METRIC_TYPES) else "unknown"
    return MetricMetadata(kind, symbols[help_ref] if help_ref else "", symbols[unit_ref] if unit_ref else "")


def storage_batches(decoded: DecodedWrite) -> tuple[list[SampleBatch], SampleColumns | None]:
    """The decoded samples as storage takes them best: a series with many samples (a sender
    catching up) as one SampleBatch, the usual one-sample series as columns, like a scrape."""
    cols = decoded.columns
    if not decoded.multi:
        return [], cols if len(cols.labels) else None
    ts = np.asarray(cols.timestamps)
    vals = np.asarray(cols.values)
    single = np.ones(len(ts), dtype=bool)
    batches: list[SampleBatch] = []
    for a, b in decoded.multi:
        single[a:b] = False
        batches.append(SampleBatch(cols.labels[a], ts[a:b], vals[a:b]))
    idx = np.flatnonzero(single)
    if not len(idx):
        return batches, None
    rest = SampleColumns(labels=[cols.labels[i] for i in idx.tolist()], timestamps=ts[idx], values=vals[idx])
    return batches, rest
