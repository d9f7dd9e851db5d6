"""OTLP/HTTP metrics (`ExportMetricsServiceRequest`, protobuf or JSON) -> Prometheus samples.

Mapped as Prometheus' OTLP receiver maps them (storage/remote/otlptranslator, with the
OpenTelemetry "Prometheus and OpenMetrics compatibility" rules):

- gauge -> a gauge; sum -> a counter named `..._total` when monotonic, a gauge when not;
  histogram -> `_bucket{le=...}` (cumulative, `+Inf` = count), `_sum` (when present) and
  `_count`; summary -> `{quantile=...}`, `_sum` and `_count`. Names and units by
  `heron.receive.otlp_naming`.
- Labels: the point's attributes, names sanitised (`http.method` -> `http_method`; two names
  that sanitise alike have their values joined with `;` in key order); `job` is
  `service.namespace/service.name` (or `service.name`), `instance` is `service.instance.id`;
  every other resource attribute goes on one `target_info` sample per resource (value 1, at
  the resource's latest point) with the same `job` and `instance`.
- A point flagged `NO_RECORDED_VALUE` becomes a staleness marker.
- Not stored, and reported in `partial_success` instead: exponential histograms (Heron
  stores float samples only for now), delta temporality (Prometheus refuses it too), and a
  metric whose name sanitises to nothing.

Decoding is all-or-nothing: a body that does not decode raises OtlpError (HTTP 400).
"""

from __future__ import annotations

import math
import re
import struct
from array import array
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from heron.collect.metrics.metadata import MetricMetadata
from heron.model import STALE_NAN, Labels
from heron.protowire import WIRE_I64, WIRE_LEN, WIRE_VARINT, ProtoError, iter_fields, read_varint
from heron.receive import otlp_naming as naming
from heron.receive.otlp_common import (
    PROTOBUF,
    KeyValues,
    OtlpError,
    as_array,
    as_int,
    as_object,
    as_str,
    as_string,
    js_kvs,
    json_field,
    json_resources,
    media_kind,
    normalize_label,
    partial_success,
    pb_kv,
    pb_resource,
    pb_resources,
    text_at,
    want,
)
from heron.storage import SampleColumns

__all__ = ["OtlpMetrics", "decode_otlp_metrics", "metrics_response", "OtlpError"]

_DELTA, _CUMULATIVE = 1, 2
_NO_RECORDED_VALUE = 1
_IDENTIFYING = ("service.name", "service.namespace", "service.instance.id")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")
_F64 = struct.Struct("<d")
_MAX_I64 = (1 << 63) - 1


@dataclass
class _Point:
    attributes: KeyValues = field(default_factory=list)
    time_ns: int = 0
    flags: int = 0
    value: float = 0.0  # number points
    count: int = 0  # histogram and summary points
    sum: float | None = None
    bucket_counts: list[int] = field(default_factory=list)
    bounds: list[float] = field(default_factory=list)
    quantiles: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class _Metric:
    name: str = ""
    description: str = ""
    unit: str = ""
    kind: str = ""  # gauge | sum | histogram | exponential_histogram | summary | "" (no data)
    monotonic: bool = False
    temporality: int = 0
    points: list[_Point] = field(default_factory=list)  # from JSON
    # From protobuf: each point's [start, end) in `buf`, read only when it is mapped, so a
    # big request never holds a Python object per point (16 bytes each instead).
    buf: bytes = b""
    spans: array = field(default_factory=lambda: array("q"))
    ignored_points: int = 0  # exponential histogram points: counted, never decoded

    def count(self) -> int:
        return len(self.points) + len(self.spans) // 2

    def iter_points(self) -> Iterator[_Point]:
        yield from self.points
        read = _pb_summary_point if self.kind == "summary" else _PB_POINT[self.kind]
        spans = self.spans
        for i in range(0, len(spans), 2):
            yield read(self.buf, spans[i], spans[i + 1])


@dataclass
class _Resource:
    attributes: KeyValues = field(default_factory=list)
    metrics: list[_Metric] = field(default_factory=list)


@dataclass
class OtlpMetrics:
    """A decoded request: samples to store, their metadata, and the points left out."""

    columns: SampleColumns
    metadata: dict[str, MetricMetadata]
    rejected: int = 0
    messages: list[str] = field(default_factory=list)


# -- mapping ------------------------------------------------------------------------------
def _format_float(v: float) -> str:
    """Go's strconv.FormatFloat(v, 'f', -1, 64), as the translator writes `le` and `quantile`."""
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if math.isnan(v):
        return "NaN"
    text = np.format_float_positional(v, trim="-", unique=True)
    return "0" if text in ("-0", "") else text


_NORMALIZED: dict[str, str] = {}  # attribute key -> label name; keys repeat on every point


def _label_name(key: str) -> str:
    name = _NORMALIZED.get(key)
    if name is None:
        if len(_NORMALIZED) >= 50_000:
            _NORMALIZED.clear()
        name = _NORMALIZED[key] = normalize_label(key)
    return name


def _attr_labels(attrs: KeyValues) -> dict[str, str]:
    grouped: dict[str, list[tuple[str, str]]] = {}
    for key, value in attrs:
        name = _label_name(key)
        if not name:
            continue
        grouped.setdefault(name, []).append((key, as_string(value)))
    return {n: ";".join(v for _, v in sorted(pairs)) for n, pairs in grouped.items()}


def _identity(res_attrs: KeyValues) -> dict[str, str]:
    attrs = {k: as_string(v) for k, v in res_attrs}
    out: dict[str, str] = {}
    if "service.name" in attrs:
        job = attrs["service.name"]
        if "service.namespace" in attrs:
            job = f"{attrs['service.namespace']}/{job}"
        out["job"] = job
    if "service.instance.id" in attrs:
        out["instance"] = attrs["service.instance.id"]
    return out


def _kind(m: _Metric) -> str:
    if m.kind == "gauge":
        return naming.GAUGE
    if m.kind == "sum":
        return naming.MONOTONIC_COUNTER if m.monotonic else naming.NON_MONOTONIC
    return naming.HISTOGRAM if m.kind == "histogram" else naming.SUMMARY


_PROM_TYPES = {
    naming.GAUGE: "gauge",
    naming.MONOTONIC_COUNTER: "counter",
    naming.NON_MONOTONIC: "gauge",
    naming.HISTOGRAM: "histogram",
    naming.SUMMARY: "summary",
}


class _Out:
    def __init__(self) -> None:
        self.labels: list[Labels] = []
        self.ts = array("q")
        self.vals = array("d")
        self.interned: dict[Labels, Labels] = {}
        self.series: dict[tuple[object, str, tuple[str, str] | None], Labels] = {}  # one resource's

    def add(
        self,
        base: dict[str, str],
        name: str,
        extra: tuple[str, str] | None,
        ts: int,
        v: float,
        key: object = None,
    ) -> None:
        """One sample of `base` + `extra` + `__name__`; `key` names `base` (its attributes,
        within one resource) so a series seen before costs a dict lookup, not a sort."""
        if key is not None:
            cached = self.series.get((key, name, extra))
            if cached is not None:
                self.labels.append(cached)
                self.ts.append(ts)
                self.vals.append(v)
                return
        d = dict(base)
        if extra is not None:
            d[extra[0]] = extra[1]
        d["__name__"] = name
        lab = tuple(sorted((k, val) for k, val in d.items() if val != ""))
        known = self.interned.get(lab)
        if known is None:
            _check_utf8(*(k + val for k, val in lab))
            known = self.interned[lab] = lab
        lab = known
        if key is not None:
            self.series[(key, name, extra)] = lab
        self.labels.append(lab)
        self.ts.append(ts)
        self.vals.append(v)


def _check_utf8(*texts: str) -> None:
    try:
        "".join(texts).encode()
    except UnicodeEncodeError:  # a lone surrogate from a JSON \u escape
        raise OtlpError("a string holds a lone UTF-16 surrogate: not valid UTF-8") from None


def _validate_points(m: _Metric) -> int:
    """Read the points of a metric that is refused (so a malformed one still fails the
    request, as protobuf would fail it) and count them."""
    n = 0
    for _ in m.iter_points():
        n += 1
    return n


def _to_samples(resources: list[_Resource]) -> OtlpMetrics:
    out = _Out()
    meta: dict[str, MetricMetadata] = {}
    rejected = 0
    messages: list[str] = []
    for res in resources:
        ident = _identity(res.attributes)
        bases: dict[object, dict[str, str]] = {}
        out.series = {}
        latest_ms: int | None = None
        for m in res.metrics:
            _check_utf8(m.description, m.unit)
            if m.kind == "exponential_histogram":
                rejected += m.ignored_points
                messages.append(f"metric {m.name!r}: exponential histograms are not stored by Heron")
                continue
            if not m.kind or not m.count():
                continue
            if m.kind in ("sum", "histogram") and m.temporality != _CUMULATIVE:
                rejected += _validate_points(m)
                messages.append(
                    f"metric {m.name!r}: invalid temporality and type combination "
                    f"(only cumulative {m.kind}s are accepted)"
                )
                continue
            kind = _kind(m)
            name = naming.metric_name(m.name, m.unit, kind) if m.name else ""
            if not name:
                rejected += _validate_points(m)
                messages.append(f"metric {m.name!r}: the name has no valid characters")
                continue
            meta[name] = MetricMetadata(_PROM_TYPES[kind], m.description, naming.prom_unit(m.unit))
            for p in m.iter_points():
                try:
                    key: object = tuple(p.attributes)
                    base = bases.get(key)  # type: ignore[call-overload]
                except TypeError:  # an array or map value: not hashable, not cached
                    key, base = None, None
                if base is None:
                    base = _attr_labels(p.attributes)
                    base.update(ident)
                    if key is not None:
                        bases[key] = base
                ts = p.time_ns // 1_000_000
                latest_ms = ts if latest_ms is None else max(latest_ms, ts)
                stale = bool(p.flags & _NO_RECORDED_VALUE)
                if m.kind in ("gauge", "sum"):
                    out.add(base, name, None, ts, STALE_NAN if stale else p.value, key=key)
                elif m.kind == "histogram":
                    cum = 0
                    for bound, c in zip(p.bounds, p.bucket_counts):
                        cum += c
                        le = ("le", _format_float(bound))
                        out.add(base, name + "_bucket", le, ts, STALE_NAN if stale else float(cum), key=key)
                    out.add(
                        base,
                        name + "_bucket",
                        ("le", "+Inf"),
                        ts,
                        STALE_NAN if stale else float(p.count),
                        key=key,
                    )
                    if p.sum is not None:
                        out.add(base, name + "_sum", None, ts, STALE_NAN if stale else p.sum, key=key)
                    out.add(base, name + "_count", None, ts, STALE_NAN if stale else float(p.count), key=key)
                else:
                    for q, v in p.quantiles:
                        qv = ("quantile", _format_float(q))
                        out.add(base, name, qv, ts, STALE_NAN if stale else v, key=key)
                    out.add(base, name + "_sum", None, ts, STALE_NAN if stale else (p.sum or 0.0), key=key)
                    out.add(base, name + "_count", None, ts, STALE_NAN if stale else float(p.count), key=key)
        info = [(k, v) for k, v in res.attributes if k not in _IDENTIFYING]
        if info and latest_ms is not None:
            base = _attr_labels(info)
            base.update(ident)
            out.add(base, "target_info", None, latest_ms, 1.0)
    cols = SampleColumns(
        labels=out.labels,
        timestamps=np.frombuffer(out.ts, dtype=np.int64) if out.ts else np.zeros(0, np.int64),
        values=np.frombuffer(out.vals, dtype=np.float64) if out.vals else np.zeros(0, np.float64),
    )
    return OtlpMetrics(cols, meta, rejected, messages)


def decode_otlp_metrics(body: bytes, content_type: str) -> OtlpMetrics:
    """Dispatch on the (already decompressed) body's content type; OtlpError if malformed.

    Raises LookupError for a content type OTLP/HTTP does not define (answered with 415).
    """
    if media_kind(content_type) == PROTOBUF:
        resources = _decode_protobuf(body)
    else:
        resources = _decode_json(body)
    try:
        return _to_samples(resources)  # protobuf points are read here
    except ProtoError as exc:
        raise OtlpError(f"invalid protobuf ExportMetricsServiceRequest: {exc}") from None


def metrics_response(content_type: str, rejected: int = 0, message: str = "") -> tuple[bytes, str]:
    """An ExportMetricsServiceResponse in the request's encoding, with partial_success if any."""
    return partial_success(content_type, "rejectedDataPoints", rejected, message)


# -- protobuf -----------------------------------------------------------------------------
# ExportMetricsServiceRequest: 1 resource_metrics. ResourceMetrics: 1 resource, 2 scope_metrics.
# ScopeMetrics: 2 metrics. Metric: 1 name, 2 description, 3 unit, 5 gauge, 7 sum, 9 histogram,
# 10 exponential_histogram, 11 summary. Sum: 1 data_points, 2 temporality, 3 is_monotonic.
# Submessages Heron does not use are still checked as the protobuf runtime would check them
# (framing, UTF-8 strings, nested messages), so a body is accepted only if it is valid OTLP.
_UNUSED: dict[str, dict[int, str]] = {
    "InstrumentationScope": {1: "str", 2: "str", 3: "kv"},
    "EntityRef": {1: "str", 2: "str", 3: "str", 4: "str"},
    "Exemplar": {7: "kv"},
    "ExponentialHistogramDataPoint": {1: "kv", 8: "Buckets", 9: "Buckets", 11: "Exemplar"},
    "Buckets": {2: "varints"},
}


def _check(buf: bytes, s: int, e: int, message: str) -> None:
    fields = _UNUSED[message]
    for num, wt, v in iter_fields(buf, s, e):
        kind = fields.get(num)
        if kind is None or wt != WIRE_LEN:
            continue
        if kind == "str":
            text_at(buf, v, f"{message} field {num}")  # type: ignore[arg-type]
        elif kind == "kv":
            pb_kv(buf, v[0], v[1], 0)  # type: ignore[index]
        elif kind == "varints":
            pos, end = v  # type: ignore[misc]
            while pos < end:
                pos = read_varint(buf, pos)[1]
            if pos != end:
                raise OtlpError(f"{message} field {num}: a varint runs past its field")
        else:
            _check(buf, v[0], v[1], kind)  # type: ignore[index]


def _fixed64(v: object, what: str) -> int:
    n = _U64.unpack(v)[0]  # type: ignore[arg-type]
    if n > _MAX_I64:
        raise OtlpError(f"{what} overflows int64 nanoseconds")
    return n


def _packed(buf: bytes, wt: int, v: object, what: str, dtype: str) -> list[Any]:
    """A repeated fixed64/double field, packed (one LEN) or not (one I64 each)."""
    if wt == WIRE_I64:
        return [struct.unpack("<" + ("d" if dtype == "<f8" else "Q"), v)[0]]  # type: ignore[arg-type]
    if wt != WIRE_LEN:
        raise OtlpError(f"{what} has wire type {wt}, want 1 or 2")
    s, e = v  # type: ignore[misc]
    if (e - s) % 8:
        raise OtlpError(f"{what}: packed length {e - s} is not a multiple of 8")
    return np.frombuffer(buf, dtype=dtype, count=(e - s) // 8, offset=s).tolist()


def _kv(buf: bytes, s: int, e: int) -> tuple[str, Any]:
    """A KeyValue; the usual one, a string value with one-byte lengths
    (`0a len key 12 len 0a len value`), is read directly, any other by the general reader."""
    if e - s >= 6 and buf[s] == 0x0A:
        n1 = buf[s + 1]
        mid = s + 2 + n1
        if n1 < 0x80 and mid + 4 <= e and buf[mid] == 0x12 and buf[mid + 2] == 0x0A:
            n2, n3 = buf[mid + 1], buf[mid + 3]
            if n2 < 0x80 and n3 < 0x80 and mid + 2 + n2 == e and n2 == n3 + 2:
                try:
                    return buf[s + 2 : mid].decode(), ("s", buf[mid + 4 : e].decode())
                except UnicodeDecodeError:
                    raise OtlpError("an attribute key or value is not valid UTF-8") from None
    return pb_kv(buf, s, e, 0)


def _pb_number_point(buf: bytes, s: int, e: int) -> _Point:
    p = _Point()
    # The fixed-width fields SDKs write first (start and end time, the value) are read
    # straight from the buffer; whatever follows goes through the general reader.
    pos = s
    while pos + 9 <= e:
        key = buf[pos]
        if key == 0x19:  # time_unix_nano
            p.time_ns = _fixed64(buf[pos + 1 : pos + 9], "time_unix_nano")
        elif key == 0x21:  # as_double
            p.value = _F64.unpack_from(buf, pos + 1)[0]
        elif key == 0x31:  # as_int
            p.value = float(_I64.unpack_from(buf, pos + 1)[0])
        elif key != 0x11:  # start_time_unix_nano, unused
            break
        pos += 9
    for num, wt, v in iter_fields(buf, pos, e):
        if num == 7:
            want("NumberDataPoint", num, wt, WIRE_LEN)
            p.attributes.append(_kv(buf, v[0], v[1]))  # type: ignore[index]
        elif num == 3:
            want("NumberDataPoint", num, wt, WIRE_I64)
            p.time_ns = _fixed64(v, "time_unix_nano")
        elif num == 4:
            want("NumberDataPoint", num, wt, WIRE_I64)
            p.value = _F64.unpack(v)[0]  # type: ignore[arg-type]
        elif num == 6:
            want("NumberDataPoint", num, wt, WIRE_I64)
            p.value = float(_I64.unpack(v)[0])  # type: ignore[arg-type]
        elif num == 8:
            want("NumberDataPoint", num, wt, WIRE_VARINT)
            p.flags = int(v) & 0xFFFFFFFF  # type: ignore[call-overload]
        elif num == 5 and wt == WIRE_LEN:
            _check(buf, v[0], v[1], "Exemplar")  # type: ignore[index]
    return p


def _pb_histogram_point(buf: bytes, s: int, e: int) -> _Point:
    p = _Point()
    for num, wt, v in iter_fields(buf, s, e):
        if num == 9:
            want("HistogramDataPoint", num, wt, WIRE_LEN)
            p.attributes.append(_kv(buf, v[0], v[1]))  # type: ignore[index]
        elif num == 3:
            want("HistogramDataPoint", num, wt, WIRE_I64)
            p.time_ns = _fixed64(v, "time_unix_nano")
        elif num == 4:
            want("HistogramDataPoint", num, wt, WIRE_I64)
            p.count = _U64.unpack(v)[0]  # type: ignore[arg-type]
        elif num == 5:
            want("HistogramDataPoint", num, wt, WIRE_I64)
            p.sum = _F64.unpack(v)[0]  # type: ignore[arg-type]
        elif num == 6:
            p.bucket_counts += _packed(buf, wt, v, "HistogramDataPoint.bucket_counts", "<u8")
        elif num == 7:
            p.bounds += _packed(buf, wt, v, "HistogramDataPoint.explicit_bounds", "<f8")
        elif num == 10:
            want("HistogramDataPoint", num, wt, WIRE_VARINT)
            p.flags = int(v) & 0xFFFFFFFF  # type: ignore[call-overload]
        elif num == 8 and wt == WIRE_LEN:
            _check(buf, v[0], v[1], "Exemplar")  # type: ignore[index]
    return p


def _pb_summary_point(buf: bytes, s: int, e: int) -> _Point:
    p = _Point(sum=0.0)
    for num, wt, v in iter_fields(buf, s, e):
        if num == 7:
            want("SummaryDataPoint", num, wt, WIRE_LEN)
            p.attributes.append(_kv(buf, v[0], v[1]))  # type: ignore[index]
        elif num == 3:
            want("SummaryDataPoint", num, wt, WIRE_I64)
            p.time_ns = _fixed64(v, "time_unix_nano")
        elif num == 4:
            want("SummaryDataPoint", num, wt, WIRE_I64)
            p.count = _U64.unpack(v)[0]  # type: ignore[arg-type]
        elif num == 5:
            want("SummaryDataPoint", num, wt, WIRE_I64)
            p.sum = _F64.unpack(v)[0]  # type: ignore[arg-type]
        elif num == 6:
            want("SummaryDataPoint", num, wt, WIRE_LEN)
            q, val = 0.0, 0.0
            for n2, w2, v2 in iter_fields(buf, v[0], v[1]):  # type: ignore[index]
                if n2 in (1, 2):
                    want("ValueAtQuantile", n2, w2, WIRE_I64)
                    if n2 == 1:
                        q = _F64.unpack(v2)[0]  # type: ignore[arg-type]
                    else:
                        val = _F64.unpack(v2)[0]  # type: ignore[arg-type]
            p.quantiles.append((q, val))
        elif num == 8:
            want("SummaryDataPoint", num, wt, WIRE_VARINT)
            p.flags = int(v) & 0xFFFFFFFF  # type: ignore[call-overload]
    return p


_PB_KINDS = {5: "gauge", 7: "sum", 9: "histogram", 10: "exponential_histogram", 11: "summary"}
_PB_POINT = {"gauge": _pb_number_point, "sum": _pb_number_point, "histogram": _pb_histogram_point}


def _pb_data(buf: bytes, s: int, e: int, m: _Metric) -> None:
    for num, wt, v in iter_fields(buf, s, e):
        if num == 1:
            want(m.kind, num, wt, WIRE_LEN)
            if m.kind == "exponential_histogram":
                _check(buf, v[0], v[1], "ExponentialHistogramDataPoint")  # type: ignore[index]
                m.ignored_points += 1
            else:
                m.spans.extend(v)  # type: ignore[arg-type]
        elif num == 2 and m.kind != "gauge" and m.kind != "summary":
            want(m.kind, num, wt, WIRE_VARINT)
            m.temporality = int(v) & 0xFFFFFFFF  # type: ignore[call-overload]  # an enum is int32
        elif num == 3 and m.kind == "sum":
            want(m.kind, num, wt, WIRE_VARINT)
            m.monotonic = bool(v)


def _pb_metric(buf: bytes, s: int, e: int) -> _Metric:
    m = _Metric()
    for num, wt, v in iter_fields(buf, s, e):
        if num == 1:
            want("Metric", num, wt, WIRE_LEN)
            m.name = text_at(buf, v, "metric name")  # type: ignore[arg-type]
        elif num == 2:
            want("Metric", num, wt, WIRE_LEN)
            m.description = text_at(buf, v, "metric description")  # type: ignore[arg-type]
        elif num == 3:
            want("Metric", num, wt, WIRE_LEN)
            m.unit = text_at(buf, v, "metric unit")  # type: ignore[arg-type]
        elif num in _PB_KINDS:
            want("Metric", num, wt, WIRE_LEN)
            if m.spans:  # a second data field replaces the first, whose points must still be valid
                _validate_points(m)
            m.kind = _PB_KINDS[num]
            m.spans, m.ignored_points, m.temporality, m.monotonic = array("q"), 0, 0, False  # last wins
            m.buf = buf
            _pb_data(buf, v[0], v[1], m)  # type: ignore[index]
        elif num == 12 and wt == WIRE_LEN:
            pb_kv(buf, v[0], v[1], 0)  # type: ignore[index]
    return m


def _entity_refs(buf: bytes, num: int, wt: int, v: Any) -> None:
    if num == 3 and wt == WIRE_LEN:  # Resource.entity_refs, checked though unused
        _check(buf, v[0], v[1], "EntityRef")


def _pb_resource_metrics(buf: bytes, start: int, end: int) -> _Resource:
    res = _Resource()
    for n2, w2, v2 in iter_fields(buf, start, end):
        if n2 == 1:
            want("ResourceMetrics", n2, w2, WIRE_LEN)
            pb_resource(buf, v2[0], v2[1], res.attributes, _entity_refs)  # type: ignore[index]
        elif n2 == 2:
            want("ResourceMetrics", n2, w2, WIRE_LEN)
            for n3, w3, v3 in iter_fields(buf, v2[0], v2[1]):  # type: ignore[index]
                if n3 == 2:
                    want("ScopeMetrics", n3, w3, WIRE_LEN)
                    res.metrics.append(_pb_metric(buf, v3[0], v3[1]))  # type: ignore[index]
                elif n3 == 1 and w3 == WIRE_LEN:
                    _check(buf, v3[0], v3[1], "InstrumentationScope")  # type: ignore[index]
                elif n3 == 3 and w3 == WIRE_LEN:
                    text_at(buf, v3, "schema_url")  # type: ignore[arg-type]
        elif n2 == 3 and w2 == WIRE_LEN:
            text_at(buf, v2, "schema_url")  # type: ignore[arg-type]
    return res


def _decode_protobuf(buf: bytes) -> list[_Resource]:
    return pb_resources(buf, "ExportMetricsServiceRequest", _pb_resource_metrics)


# -- JSON (OTLP's protobuf JSON mapping) ---------------------------------------------------
_TEMPORALITY_NAMES = {
    "AGGREGATION_TEMPORALITY_UNSPECIFIED": 0,
    "AGGREGATION_TEMPORALITY_DELTA": 1,
    "AGGREGATION_TEMPORALITY_CUMULATIVE": 2,
}
_JSON_KINDS = (
    ("gauge", "gauge", "gauge"),
    ("sum", "sum", "sum"),
    ("histogram", "histogram", "histogram"),
    ("exponentialHistogram", "exponential_histogram", "exponential_histogram"),
    ("summary", "summary", "summary"),
)


_DOUBLE_TEXT = re.compile(r"-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?|-?\.[0-9]+([eE][-+]?[0-9]+)?")


def _js_double(value: Any, where: str) -> float:
    """A double in protobuf's JSON mapping: a number, a numeric string, NaN or +-Infinity."""
    if value is None:
        return 0.0
    if isinstance(value, str):
        if value in ("NaN", "Infinity", "-Infinity"):
            return float(value.replace("Infinity", "inf"))
        if _DOUBLE_TEXT.fullmatch(value):
            return float(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            raise OtlpError(f"{where}: number out of range for a double") from None
    raise OtlpError(f"{where}: want a number, got {value!r:.40}")


def _js_common(obj: dict[str, Any], where: str, p: _Point) -> None:
    p.attributes = js_kvs(obj.get("attributes"), f"{where}.attributes", 0)
    p.time_ns = as_int(
        json_field(obj, "timeUnixNano", "time_unix_nano"), f"{where}.timeUnixNano", 0, _MAX_I64
    )
    p.flags = as_int(obj.get("flags"), f"{where}.flags", 0, 0xFFFFFFFF)


def _js_point(obj: dict[str, Any], where: str, kind: str) -> _Point:
    p = _Point()
    _js_common(obj, where, p)
    if kind in ("gauge", "sum"):
        if "asInt" in obj or "as_int" in obj:
            p.value = float(
                as_int(json_field(obj, "asInt", "as_int"), f"{where}.asInt", -(1 << 63), _MAX_I64)
            )
        else:
            p.value = _js_double(json_field(obj, "asDouble", "as_double"), f"{where}.asDouble")
        return p
    p.count = as_int(obj.get("count"), f"{where}.count", 0, (1 << 64) - 1)
    if kind == "histogram":
        if obj.get("sum") is not None:
            p.sum = _js_double(obj.get("sum"), f"{where}.sum")
        p.bucket_counts = [
            as_int(c, f"{where}.bucketCounts", 0, (1 << 64) - 1)
            for c in as_array(json_field(obj, "bucketCounts", "bucket_counts"), f"{where}.bucketCounts")
        ]
        p.bounds = [
            _js_double(b, f"{where}.explicitBounds")
            for b in as_array(json_field(obj, "explicitBounds", "explicit_bounds"), f"{where}.explicitBounds")
        ]
        return p
    p.sum = _js_double(obj.get("sum"), f"{where}.sum")
    for i, qv in enumerate(
        as_array(json_field(obj, "quantileValues", "quantile_values"), f"{where}.quantileValues")
    ):
        qv = as_object(qv, f"{where}.quantileValues[{i}]")
        p.quantiles.append(
            (
                _js_double(qv.get("quantile"), f"{where}.quantileValues[{i}].quantile"),
                _js_double(qv.get("value"), f"{where}.quantileValues[{i}].value"),
            )
        )
    return p


def _js_metric(obj: dict[str, Any], where: str) -> _Metric:
    m = _Metric(
        name=as_str(obj.get("name"), f"{where}.name"),
        description=as_str(obj.get("description"), f"{where}.description"),
        unit=as_str(obj.get("unit"), f"{where}.unit"),
    )
    for camel, snake, kind in _JSON_KINDS:
        if camel not in obj and snake not in obj:
            continue
        data = as_object(json_field(obj, camel, snake), f"{where}.{camel}")
        m.kind = kind
        points = as_array(json_field(data, "dataPoints", "data_points"), f"{where}.{camel}.dataPoints")
        if kind == "exponential_histogram":
            m.ignored_points = len(points)
        else:
            m.points = [
                _js_point(
                    as_object(p, f"{where}.{camel}.dataPoints[{i}]"), f"{where}.{camel}.dataPoints[{i}]", kind
                )
                for i, p in enumerate(points)
            ]
        temp = json_field(data, "aggregationTemporality", "aggregation_temporality")
        if isinstance(temp, str) and temp in _TEMPORALITY_NAMES:
            m.temporality = _TEMPORALITY_NAMES[temp]
        else:
            m.temporality = as_int(temp, f"{where}.{camel}.aggregationTemporality", -(1 << 31), (1 << 31) - 1)
        mono = json_field(data, "isMonotonic", "is_monotonic")
        if mono is not None and not isinstance(mono, bool):
            raise OtlpError(f"{where}.{camel}.isMonotonic: want true or false")
        m.monotonic = bool(mono)
    return m


def _decode_json(body: bytes) -> list[_Resource]:
    resources: list[_Resource] = []
    requests = json_resources(body, "ExportMetricsServiceRequest", "resourceMetrics", "resource_metrics")
    for where, rm, attributes in requests:
        res = _Resource(attributes)
        for j, sm in enumerate(
            as_array(json_field(rm, "scopeMetrics", "scope_metrics"), f"{where}.scopeMetrics")
        ):
            w2 = f"{where}.scopeMetrics[{j}]"
            sm = as_object(sm, w2)
            for k, metric in enumerate(as_array(sm.get("metrics"), f"{w2}.metrics")):
                res.metrics.append(_js_metric(as_object(metric, f"{w2}.metrics[{k}]"), f"{w2}.metrics[{k}]"))
        resources.append(res)
    return resources
