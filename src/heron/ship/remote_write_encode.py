"""Remote write request bodies: `prometheus.WriteRequest` (1.0) and `io.prometheus.write.v2.Request`.

Samples are grouped by series in first-seen order, and each series keeps its samples in the
order given, so one series' samples reach the receiver in order. The encoded label block of a
series is cached by the caller's `LabelCache`: a scrape repeats the same series every interval,
and their bytes never change.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from typing import Iterable, Mapping, Sequence

import cramjam

from heron.collect.metrics.metadata import MetricMetadata
from heron.model import Labels
from heron.protowire import encode_varint, field_bytes, field_varint

__all__ = [
    "LabelCache",
    "V1_CONTENT_TYPE",
    "V2_CONTENT_TYPE",
    "encode_v1",
    "encode_v2",
    "snappy",
    "group_by_series",
]

V1_CONTENT_TYPE = "application/x-protobuf"
V2_CONTENT_TYPE = "application/x-protobuf;proto=io.prometheus.write.v2.Request"

_METRIC_TYPE_NUMBERS = {
    "unknown": 0,
    "counter": 1,
    "gauge": 2,
    "histogram": 3,
    "gaugehistogram": 4,
    "summary": 5,
    "info": 6,
    "stateset": 7,
}
_SAMPLE_VALUE_KEY = b"\x09"  # field 1, wire type I64
_SAMPLE_TS_KEY = b"\x10"  # field 2, varint
_DOUBLE = struct.Struct("<d")


class LabelCache:
    """Encoded 1.0 label blocks by label set, least recently used evicted past `max_entries`."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._cache: OrderedDict[Labels, bytes] = OrderedDict()

    def get(self, labels: Labels) -> bytes:
        hit = self._cache.get(labels)
        if hit is not None:
            self._cache.move_to_end(labels)
            return hit
        block = b"".join(
            field_bytes(1, field_bytes(1, n.encode()) + field_bytes(2, v.encode())) for n, v in labels
        )
        self._cache[labels] = block
        if len(self._cache) > self.max_entries:
            self._cache.popitem(last=False)
        return block


def group_by_series(
    labels: Sequence[Labels], timestamps: Iterable[int], values: Iterable[float]
) -> dict[Labels, list[tuple[int, float]]]:
    """Samples per series, series in first-seen order, samples in the given order."""
    out: dict[Labels, list[tuple[int, float]]] = {}
    for lab, t, v in zip(labels, timestamps, values):
        got = out.get(lab)
        if got is None:
            out[lab] = [(int(t), float(v))]
        else:
            got.append((int(t), float(v)))
    return out


def _sample(t: int, v: float) -> bytes:
    inner = _SAMPLE_VALUE_KEY + _DOUBLE.pack(v) + _SAMPLE_TS_KEY + encode_varint(t)
    return b"\x12" + encode_varint(len(inner)) + inner  # TimeSeries field 2


def encode_v1(
    series: Mapping[Labels, Sequence[tuple[int, float]]],
    metadata: Mapping[str, MetricMetadata] | None = None,
    cache: LabelCache | None = None,
) -> bytes:
    """A serialized (uncompressed) WriteRequest."""
    cache = cache or LabelCache(0)
    parts: list[bytes] = []
    for labels, samples in series.items():
        ts_body = cache.get(labels) + b"".join(_sample(t, v) for t, v in samples)
        parts.append(b"\x0a" + encode_varint(len(ts_body)) + ts_body)  # WriteRequest field 1
    for name, meta in (metadata or {}).items():
        body = (
            field_varint(1, _METRIC_TYPE_NUMBERS.get(meta.type, 0))
            + field_bytes(2, name.encode())
            + (field_bytes(4, meta.help.encode()) if meta.help else b"")
            + (field_bytes(5, meta.unit.encode()) if meta.unit else b"")
        )
        parts.append(field_bytes(3, body))
    return b"".join(parts)


def encode_v2(
    series: Mapping[Labels, Sequence[tuple[int, float]]],
    metadata: Mapping[str, MetricMetadata] | None = None,
) -> bytes:
    """A serialized (uncompressed) 2.0 Request: one symbols table, label refs per series, and
    each series' metadata looked up by its metric name."""
    symbols: dict[str, int] = {"": 0}

    def ref(s: str) -> int:
        got = symbols.get(s)
        if got is None:
            got = symbols[s] = len(symbols)
        return got

    meta = metadata or {}
    series_parts: list[bytes] = []
    for labels, samples in series.items():
        refs = b"".join(encode_varint(ref(n)) + encode_varint(ref(v)) for n, v in labels)
        body = field_bytes(1, refs) + b"".join(_sample(t, v) for t, v in samples)
        m = meta.get(dict(labels).get("__name__", ""))
        if m is not None:
            mbody = (
                field_varint(1, _METRIC_TYPE_NUMBERS.get(m.type, 0))
                + (field_varint(3, ref(m.help)) if m.help else b"")
                + (field_varint(4, ref(m.unit)) if m.unit else b"")
            )
            body += field_bytes(5, mbody)
        series_parts.append(field_bytes(5, body))
    head = b"".join(field_bytes(4, s.encode()) for s in symbols)
    return head + b"".join(series_parts)


def snappy(raw: bytes) -> bytes:
    """The snappy block format remote write uses (not the framed stream format)."""
    return bytes(cramjam.snappy.compress_raw(raw))
