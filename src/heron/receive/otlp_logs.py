"""OTLP/HTTP logs (`ExportLogsServiceRequest`, protobuf or JSON) -> LogBatches, as Loki 3 maps them.

Loki's mapping (pkg/loghttp/push/otlp.go, Loki 3.x): a fixed list of resource attributes
becomes the stream's index labels, with names normalised the Prometheus way (`service.name`
-> `service_name`); every other resource attribute, the scope's attributes, name and version,
and the record's attributes and fields become structured metadata; nested maps flatten with
`_`. The line is the body rendered as pdata's `Value.AsString` renders it. A stream without
`service.name` gets its `service_name` from discovery (heron.receive.discovery), which every
push path applies: from a discovery label such as `k8s_container_name`, else `unknown_service`.

Both encodings decode into one small intermediate form (AnyValue as a (kind, value) pair) so
the mapping is written once. Decoding is all-or-nothing: OtlpError and nothing stored.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field
from typing import Any

from heron.model import Labels, labels_from
from heron.protowire import WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT, iter_fields
from heron.receive.loki_push import encode_metadata
from heron.receive.otlp_common import (
    PROTOBUF,
    AnyValue,
    KeyValues,
    OtlpError,
    as_array,
    as_int,
    as_object,
    as_str,
    as_string,
    js_any,
    js_kvs,
    json_field,
    json_resources,
    media_kind,
    normalize_label,
    partial_success,
    pb_any,
    pb_kv,
    pb_resource,
    pb_resources,
    text_at,
    want,
)
from heron.storage import LogBatch

__all__ = [
    "OtlpError",
    "normalize_label",
    "INDEX_RESOURCE_ATTRIBUTES",
    "decode_otlp_logs",
    "decode_otlp_logs_json",
    "decode_otlp_logs_protobuf",
    "export_response",
]

# Loki's DefaultOTLPResourceAttributesAsIndexLabels (pkg/loghttp/push/otlplabels/config.go, 3.8).
INDEX_RESOURCE_ATTRIBUTES = frozenset(
    {
        "service.name",
        "service.namespace",
        "service.instance.id",
        "deployment.environment",
        "deployment.environment.name",
        "cloud.region",
        "cloud.availability_zone",
        "k8s.cluster.name",
        "k8s.namespace.name",
        "k8s.pod.name",
        "k8s.container.name",
        "container.name",
        "k8s.replicaset.name",
        "k8s.deployment.name",
        "k8s.statefulset.name",
        "k8s.daemonset.name",
        "k8s.cronjob.name",
        "k8s.job.name",
    }
)


@dataclass
class _Record:
    time_ns: int = 0
    observed_ns: int = 0
    severity_number: int = 0
    severity_text: str = ""
    body: AnyValue = ("e", None)
    attributes: KeyValues = field(default_factory=list)
    dropped: int = 0
    flags: int = 0
    trace_id: bytes = b""
    span_id: bytes = b""


@dataclass
class _Scope:
    name: str = ""
    version: str = ""
    attributes: KeyValues = field(default_factory=list)
    dropped: int = 0
    records: list[_Record] = field(default_factory=list)


@dataclass
class _Resource:
    attributes: KeyValues = field(default_factory=list)
    scopes: list[_Scope] = field(default_factory=list)


# -- rendering, as pdata does -------------------------------------------------------------


def _flatten(key: str, value: AnyValue, prefix: str, out: dict[str, str]) -> None:
    name = normalize_label(f"{prefix}_{key}" if prefix else key)
    if value[0] == "m":
        for k, v in value[1]:
            _flatten(k, v, name, out)
    else:
        out[name] = as_string(value)


# -- mapping ------------------------------------------------------------------------------
def _to_batches(resources: list[_Resource], now_ns: int) -> list[LogBatch]:
    streams: dict[Labels, tuple[list[int], list[bytes], list[bytes]]] = {}
    for res in resources:
        labels: dict[str, str] = {}
        res_meta: dict[str, str] = {}
        for key, value in res.attributes:
            _flatten(key, value, "", labels if key in INDEX_RESOURCE_ATTRIBUTES else res_meta)
        stream = labels_from(labels)
        for scope in res.scopes:
            scope_meta: dict[str, str] = {}
            for key, value in scope.attributes:
                _flatten(key, value, "", scope_meta)
            if scope.name:
                scope_meta["scope_name"] = scope.name
            if scope.version:
                scope_meta["scope_version"] = scope.version
            if scope.dropped:
                scope_meta["scope_dropped_attributes_count"] = str(scope.dropped)
            if not scope.records:
                continue
            ts, lines, metas = streams.setdefault(stream, ([], [], []))
            for rec in scope.records:
                meta: dict[str, str] = {}
                for key, value in rec.attributes:
                    _flatten(key, value, "", meta)
                if rec.time_ns and rec.observed_ns:
                    meta["observed_timestamp"] = str(rec.observed_ns)
                if rec.severity_number:
                    meta["severity_number"] = str(rec.severity_number)
                if rec.severity_text:
                    meta["severity_text"] = rec.severity_text
                if rec.dropped:
                    meta["dropped_attributes_count"] = str(rec.dropped)
                if rec.flags:
                    meta["flags"] = str(rec.flags)
                if rec.trace_id.strip(b"\0"):
                    meta["trace_id"] = rec.trace_id.hex()
                if rec.span_id.strip(b"\0"):
                    meta["span_id"] = rec.span_id.hex()
                # Loki appends resource then scope metadata after the record's own; a later
                # duplicate name wins when its adapter list becomes a label set.
                meta.update(res_meta)
                meta.update(scope_meta)
                ts.append(rec.time_ns or rec.observed_ns or now_ns)
                lines.append(as_string(rec.body).encode())
                metas.append(encode_metadata(meta))
    return [LogBatch(labels, t, lines, m) for labels, (t, lines, m) in streams.items()]


def decode_otlp_logs(body: bytes, content_type: str, now_ns: int | None = None) -> list[LogBatch]:
    """Dispatch on the (already decompressed) body's content type; OtlpError if malformed.

    Raises LookupError for a content type OTLP/HTTP does not define (answered with 415).
    """
    if media_kind(content_type) == PROTOBUF:
        resources = decode_otlp_logs_protobuf(body)
    else:
        resources = decode_otlp_logs_json(body)
    try:
        return _to_batches(resources, time.time_ns() if now_ns is None else now_ns)
    except UnicodeEncodeError:  # a lone surrogate from a JSON \u escape
        raise OtlpError("a string holds a lone UTF-16 surrogate: not valid UTF-8") from None


def export_response(content_type: str, rejected: int = 0, message: str = "") -> tuple[bytes, str]:
    """An ExportLogsServiceResponse in the request's encoding, with partial_success if any."""
    return partial_success(content_type, "rejectedLogRecords", rejected, message)


# -- protobuf -----------------------------------------------------------------------------


def _pb_record(buf: bytes, start: int, end: int) -> _Record:
    r = _Record()
    for num, wt, v in iter_fields(buf, start, end):
        if num in (1, 11):
            want("LogRecord", num, wt, WIRE_I64)
            t = struct.unpack("<Q", v)[0]  # type: ignore[arg-type]
            if t >= 1 << 63:
                raise OtlpError("LogRecord timestamp overflows int64 nanoseconds")
            if num == 1:
                r.time_ns = t
            else:
                r.observed_ns = t
        elif num == 2:
            want("LogRecord", num, wt, WIRE_VARINT)
            r.severity_number = int(v)  # type: ignore[call-overload]
        elif num == 3:
            want("LogRecord", num, wt, WIRE_LEN)
            r.severity_text = text_at(buf, v, "severity_text")  # type: ignore[arg-type]
        elif num == 5:
            want("LogRecord", num, wt, WIRE_LEN)
            r.body = pb_any(buf, v[0], v[1], 0)  # type: ignore[index]
        elif num == 6:
            want("LogRecord", num, wt, WIRE_LEN)
            r.attributes.append(pb_kv(buf, v[0], v[1], 0))  # type: ignore[index]
        elif num == 7:
            want("LogRecord", num, wt, WIRE_VARINT)
            r.dropped = int(v) & 0xFFFFFFFF  # type: ignore[call-overload]
        elif num == 8:
            want("LogRecord", num, wt, WIRE_I32)
            r.flags = struct.unpack("<I", v)[0]  # type: ignore[arg-type]
        elif num in (9, 10):
            want("LogRecord", num, wt, WIRE_LEN)
            raw = bytes(buf[v[0] : v[1]])  # type: ignore[index]
            if raw and len(raw) != (16 if num == 9 else 8):
                raise OtlpError(f"{'trace_id' if num == 9 else 'span_id'} has {len(raw)} bytes")
            if num == 9:
                r.trace_id = raw
            else:
                r.span_id = raw
    return r


def _pb_scope_logs(buf: bytes, start: int, end: int) -> _Scope:
    sc = _Scope()
    for num, wt, v in iter_fields(buf, start, end):
        if num == 1:
            want("ScopeLogs", num, wt, WIRE_LEN)
            for n2, w2, v2 in iter_fields(buf, v[0], v[1]):  # type: ignore[index]
                if n2 == 1:
                    want("InstrumentationScope", n2, w2, WIRE_LEN)
                    sc.name = text_at(buf, v2, "scope name")  # type: ignore[arg-type]
                elif n2 == 2:
                    want("InstrumentationScope", n2, w2, WIRE_LEN)
                    sc.version = text_at(buf, v2, "scope version")  # type: ignore[arg-type]
                elif n2 == 3:
                    want("InstrumentationScope", n2, w2, WIRE_LEN)
                    sc.attributes.append(pb_kv(buf, v2[0], v2[1], 0))  # type: ignore[index]
                elif n2 == 4:
                    want("InstrumentationScope", n2, w2, WIRE_VARINT)
                    sc.dropped = int(v2) & 0xFFFFFFFF  # type: ignore[call-overload]
        elif num == 2:
            want("ScopeLogs", num, wt, WIRE_LEN)
            sc.records.append(_pb_record(buf, v[0], v[1]))  # type: ignore[index]
    return sc


def _pb_resource_logs(buf: bytes, start: int, end: int) -> _Resource:
    res = _Resource()
    for n2, w2, v2 in iter_fields(buf, start, end):
        if n2 == 1:
            want("ResourceLogs", n2, w2, WIRE_LEN)
            pb_resource(buf, v2[0], v2[1], res.attributes)  # type: ignore[index]
        elif n2 == 2:
            want("ResourceLogs", n2, w2, WIRE_LEN)
            res.scopes.append(_pb_scope_logs(buf, v2[0], v2[1]))  # type: ignore[index]
    return res


def decode_otlp_logs_protobuf(buf: bytes) -> list[_Resource]:
    return pb_resources(buf, "ExportLogsServiceRequest", _pb_resource_logs)


# -- JSON (OTLP's protobuf JSON mapping) ---------------------------------------------------


def _hex_id(value: Any, where: str, size: int) -> bytes:
    text = as_str(value, where)
    if not text:
        return b""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise OtlpError(f"{where}: {text!r:.40} is not hex") from None
    if len(raw) != size:
        raise OtlpError(f"{where}: want {size} bytes, got {len(raw)}")
    return raw


_SEVERITY_NAMES = {
    "SEVERITY_NUMBER_UNSPECIFIED": 0,
    **{f"SEVERITY_NUMBER_{n}{'' if i == 0 else i + 1}": base + i
       for base, n in ((1, "TRACE"), (5, "DEBUG"), (9, "INFO"), (13, "WARN"), (17, "ERROR"), (21, "FATAL"))
       for i in range(4)},
}  # fmt: skip


def _js_record(obj: dict[str, Any], where: str) -> _Record:
    r = _Record()
    r.time_ns = as_int(
        json_field(obj, "timeUnixNano", "time_unix_nano"), f"{where}.timeUnixNano", 0, (1 << 63) - 1
    )
    r.observed_ns = as_int(
        json_field(obj, "observedTimeUnixNano", "observed_time_unix_nano"),
        f"{where}.observedTimeUnixNano",
        0,
        (1 << 63) - 1,
    )
    sev = json_field(obj, "severityNumber", "severity_number")
    if isinstance(sev, str) and sev in _SEVERITY_NAMES:
        r.severity_number = _SEVERITY_NAMES[sev]
    else:
        r.severity_number = as_int(sev, f"{where}.severityNumber", -(1 << 31), (1 << 31) - 1)
    r.severity_text = as_str(json_field(obj, "severityText", "severity_text"), f"{where}.severityText")
    if "body" in obj:
        r.body = js_any(obj["body"], f"{where}.body", 0)
    r.attributes = js_kvs(obj.get("attributes"), f"{where}.attributes", 0)
    r.dropped = as_int(
        json_field(obj, "droppedAttributesCount", "dropped_attributes_count"),
        f"{where}.droppedAttributesCount",
        0,
        0xFFFFFFFF,
    )
    r.flags = as_int(obj.get("flags"), f"{where}.flags", 0, 0xFFFFFFFF)
    r.trace_id = _hex_id(json_field(obj, "traceId", "trace_id"), f"{where}.traceId", 16)
    r.span_id = _hex_id(json_field(obj, "spanId", "span_id"), f"{where}.spanId", 8)
    return r


def decode_otlp_logs_json(body: bytes) -> list[_Resource]:
    resources: list[_Resource] = []
    for where, rl, attributes in json_resources(
        body, "ExportLogsServiceRequest", "resourceLogs", "resource_logs"
    ):
        res = _Resource(attributes)
        for j, sl in enumerate(as_array(json_field(rl, "scopeLogs", "scope_logs"), f"{where}.scopeLogs")):
            w2 = f"{where}.scopeLogs[{j}]"
            sl = as_object(sl, w2)
            scope = as_object(sl.get("scope"), f"{w2}.scope")
            sc = _Scope(
                name=as_str(scope.get("name"), f"{w2}.scope.name"),
                version=as_str(scope.get("version"), f"{w2}.scope.version"),
                attributes=js_kvs(scope.get("attributes"), f"{w2}.scope.attributes", 0),
                dropped=as_int(
                    json_field(scope, "droppedAttributesCount", "dropped_attributes_count"),
                    f"{w2}.scope.droppedAttributesCount",
                    0,
                    0xFFFFFFFF,
                ),
            )
            for k, rec in enumerate(
                as_array(json_field(sl, "logRecords", "log_records"), f"{w2}.logRecords")
            ):
                sc.records.append(
                    _js_record(as_object(rec, f"{w2}.logRecords[{k}]"), f"{w2}.logRecords[{k}]")
                )
            res.scopes.append(sc)
        resources.append(res)
    return resources
