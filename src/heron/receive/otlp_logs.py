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

import base64
import json
import math
import re
import struct
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from heron.model import Labels, labels_from
from heron.protowire import WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT, ProtoError, iter_fields
from heron.receive.loki_push import encode_metadata
from heron.storage import LogBatch

__all__ = [
    "OtlpError",
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
_MAX_DEPTH = 64  # nested AnyValues deeper than this are refused rather than recursed into

AnyValue = tuple[str, Any]  # ("s"|"b"|"i"|"d"|"y"|"a"|"m"|"e", value)
KeyValues = list[tuple[str, AnyValue]]


class OtlpError(ValueError):
    """The body is not a valid ExportLogsServiceRequest; the message says where."""


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
_INVALID_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9_]")


def normalize_label(name: str) -> str:
    """Prometheus' OTLP label normalisation: invalid characters become `_`, a leading digit
    gets a `key_` prefix and a single leading `_` a `key` one (otlptranslator.NormalizeLabel)."""
    if not name:
        return name
    name = _INVALID_LABEL_CHARS.sub("_", name)
    if name[0].isdigit():
        name = "key_" + name
    elif name.startswith("_") and not name.startswith("__"):
        name = "key" + name
    return name


def _format_double(v: float) -> str:
    """Go's strconv.FormatFloat(v, 'f', -1, 64): shortest round-trip digits, never an exponent."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    text = format(Decimal(repr(v)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _raw(value: AnyValue) -> Any:
    kind, v = value
    if kind == "y":
        return base64.b64encode(v).decode()
    if kind == "a":
        return [_raw(x) for x in v]
    if kind == "m":
        return {k: _raw(x) for k, x in v}
    if kind == "d" and (math.isnan(v) or math.isinf(v)):
        return _format_double(v)
    return v


def as_string(value: AnyValue) -> str:
    """pdata's Value.AsString: strings as they are, JSON for maps and arrays, base64 bytes."""
    kind, v = value
    if kind == "s":
        return v
    if kind == "e":
        return ""
    if kind == "b":
        return "true" if v else "false"
    if kind == "i":
        return str(v)
    if kind == "d":
        return _format_double(v)
    if kind == "y":
        return base64.b64encode(v).decode()
    return json.dumps(_raw(value), separators=(",", ":"), ensure_ascii=False, sort_keys=kind == "m")


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
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == "application/x-protobuf":
        resources = decode_otlp_logs_protobuf(body)
    elif ctype == "application/json":
        resources = decode_otlp_logs_json(body)
    else:
        raise LookupError(
            f"unsupported Content-Type {content_type!r}: use application/x-protobuf or application/json"
        )
    try:
        return _to_batches(resources, time.time_ns() if now_ns is None else now_ns)
    except UnicodeEncodeError:  # a lone surrogate from a JSON \u escape
        raise OtlpError("a string holds a lone UTF-16 surrogate: not valid UTF-8") from None


def export_response(content_type: str, rejected: int = 0, message: str = "") -> tuple[bytes, str]:
    """An ExportLogsServiceResponse in the request's encoding, with partial_success if any."""
    json_wanted = content_type.split(";")[0].strip().lower() == "application/json"
    if json_wanted:
        obj: dict[str, Any] = {}
        if rejected or message:
            obj["partialSuccess"] = {"rejectedLogRecords": str(rejected), "errorMessage": message}
        return json.dumps(obj).encode(), "application/json"
    from heron.protowire import field_bytes, field_varint

    if not (rejected or message):
        return b"", "application/x-protobuf"
    inner = (field_varint(1, rejected) if rejected else b"") + (
        field_bytes(2, message.encode()) if message else b""
    )
    return field_bytes(1, inner), "application/x-protobuf"


# -- protobuf -----------------------------------------------------------------------------
def _want(what: str, num: int, wt: int, want: int) -> None:
    if wt != want:
        raise OtlpError(f"{what} field {num} has wire type {wt}, want {want}")


def _text(buf: bytes, span: tuple[int, int], what: str) -> str:
    try:
        return buf[span[0] : span[1]].decode("utf-8")
    except UnicodeDecodeError:
        raise OtlpError(f"{what} is not valid UTF-8") from None


def _pb_any(buf: bytes, start: int, end: int, depth: int) -> AnyValue:
    if depth > _MAX_DEPTH:
        raise OtlpError(f"AnyValue nested deeper than {_MAX_DEPTH}")
    value: AnyValue = ("e", None)
    for num, wt, v in iter_fields(buf, start, end):
        if num == 1:
            _want("AnyValue", num, wt, WIRE_LEN)
            value = ("s", _text(buf, v, "string_value"))  # type: ignore[arg-type]
        elif num == 2:
            _want("AnyValue", num, wt, WIRE_VARINT)
            value = ("b", bool(v))
        elif num == 3:
            _want("AnyValue", num, wt, WIRE_VARINT)
            n = int(v)  # type: ignore[call-overload]
            value = ("i", n - (1 << 64) if n >= 1 << 63 else n)
        elif num == 4:
            _want("AnyValue", num, wt, WIRE_I64)
            value = ("d", struct.unpack("<d", v)[0])  # type: ignore[arg-type]
        elif num == 5:
            _want("AnyValue", num, wt, WIRE_LEN)
            s, e = v  # type: ignore[misc]
            items = []
            for n2, w2, v2 in iter_fields(buf, s, e):
                if n2 == 1:
                    _want("ArrayValue", n2, w2, WIRE_LEN)
                    items.append(_pb_any(buf, v2[0], v2[1], depth + 1))  # type: ignore[index]
            value = ("a", items)
        elif num == 6:
            _want("AnyValue", num, wt, WIRE_LEN)
            s, e = v  # type: ignore[misc]
            kvs: KeyValues = []
            for n2, w2, v2 in iter_fields(buf, s, e):
                if n2 == 1:
                    _want("KeyValueList", n2, w2, WIRE_LEN)
                    kvs.append(_pb_kv(buf, v2[0], v2[1], depth + 1))  # type: ignore[index]
            value = ("m", kvs)
        elif num == 7:
            _want("AnyValue", num, wt, WIRE_LEN)
            value = ("y", bytes(buf[v[0] : v[1]]))  # type: ignore[index]
    return value


def _pb_kv(buf: bytes, start: int, end: int, depth: int) -> tuple[str, AnyValue]:
    key, value = "", ("e", None)
    for num, wt, v in iter_fields(buf, start, end):
        if num == 1:
            _want("KeyValue", num, wt, WIRE_LEN)
            key = _text(buf, v, "attribute key")  # type: ignore[arg-type]
        elif num == 2:
            _want("KeyValue", num, wt, WIRE_LEN)
            value = _pb_any(buf, v[0], v[1], depth)  # type: ignore[index]
    return key, value


def _pb_record(buf: bytes, start: int, end: int) -> _Record:
    r = _Record()
    for num, wt, v in iter_fields(buf, start, end):
        if num in (1, 11):
            _want("LogRecord", num, wt, WIRE_I64)
            t = struct.unpack("<Q", v)[0]  # type: ignore[arg-type]
            if t >= 1 << 63:
                raise OtlpError("LogRecord timestamp overflows int64 nanoseconds")
            if num == 1:
                r.time_ns = t
            else:
                r.observed_ns = t
        elif num == 2:
            _want("LogRecord", num, wt, WIRE_VARINT)
            r.severity_number = int(v)  # type: ignore[call-overload]
        elif num == 3:
            _want("LogRecord", num, wt, WIRE_LEN)
            r.severity_text = _text(buf, v, "severity_text")  # type: ignore[arg-type]
        elif num == 5:
            _want("LogRecord", num, wt, WIRE_LEN)
            r.body = _pb_any(buf, v[0], v[1], 0)  # type: ignore[index]
        elif num == 6:
            _want("LogRecord", num, wt, WIRE_LEN)
            r.attributes.append(_pb_kv(buf, v[0], v[1], 0))  # type: ignore[index]
        elif num == 7:
            _want("LogRecord", num, wt, WIRE_VARINT)
            r.dropped = int(v) & 0xFFFFFFFF  # type: ignore[call-overload]
        elif num == 8:
            _want("LogRecord", num, wt, WIRE_I32)
            r.flags = struct.unpack("<I", v)[0]  # type: ignore[arg-type]
        elif num in (9, 10):
            _want("LogRecord", num, wt, WIRE_LEN)
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
            _want("ScopeLogs", num, wt, WIRE_LEN)
            for n2, w2, v2 in iter_fields(buf, v[0], v[1]):  # type: ignore[index]
                if n2 == 1:
                    _want("InstrumentationScope", n2, w2, WIRE_LEN)
                    sc.name = _text(buf, v2, "scope name")  # type: ignore[arg-type]
                elif n2 == 2:
                    _want("InstrumentationScope", n2, w2, WIRE_LEN)
                    sc.version = _text(buf, v2, "scope version")  # type: ignore[arg-type]
                elif n2 == 3:
                    _want("InstrumentationScope", n2, w2, WIRE_LEN)
                    sc.attributes.append(_pb_kv(buf, v2[0], v2[1], 0))  # type: ignore[index]
                elif n2 == 4:
                    _want("InstrumentationScope", n2, w2, WIRE_VARINT)
                    sc.dropped = int(v2) & 0xFFFFFFFF  # type: ignore[call-overload]
        elif num == 2:
            _want("ScopeLogs", num, wt, WIRE_LEN)
            sc.records.append(_pb_record(buf, v[0], v[1]))  # type: ignore[index]
    return sc


def decode_otlp_logs_protobuf(buf: bytes) -> list[_Resource]:
    resources: list[_Resource] = []
    try:
        for num, wt, v in iter_fields(buf):
            if num != 1:
                continue
            _want("ExportLogsServiceRequest", num, wt, WIRE_LEN)
            res = _Resource()
            for n2, w2, v2 in iter_fields(buf, v[0], v[1]):  # type: ignore[index]
                if n2 == 1:
                    _want("ResourceLogs", n2, w2, WIRE_LEN)
                    for n3, w3, v3 in iter_fields(buf, v2[0], v2[1]):  # type: ignore[index]
                        if n3 == 1:
                            _want("Resource", n3, w3, WIRE_LEN)
                            res.attributes.append(_pb_kv(buf, v3[0], v3[1], 0))  # type: ignore[index]
                elif n2 == 2:
                    _want("ResourceLogs", n2, w2, WIRE_LEN)
                    res.scopes.append(_pb_scope_logs(buf, v2[0], v2[1]))  # type: ignore[index]
            resources.append(res)
    except ProtoError as exc:
        raise OtlpError(f"invalid protobuf ExportLogsServiceRequest: {exc}") from None
    return resources


# -- JSON (OTLP's protobuf JSON mapping) ---------------------------------------------------
def _get(obj: dict[str, Any], camel: str, snake: str) -> Any:
    return obj[camel] if camel in obj else obj.get(snake)


def _obj(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise OtlpError(f"{where}: want an object, got {type(value).__name__}")
    return value


def _arr(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise OtlpError(f"{where}: want an array, got {type(value).__name__}")
    return value


def _str(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise OtlpError(f"{where}: want a string, got {type(value).__name__}")
    return value


def _int(value: Any, where: str, lo: int, hi: int) -> int:
    """int64/uint64 in JSON: a number or a decimal string, as protobuf's JSON mapping allows."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise OtlpError(f"{where}: want an integer, got a boolean")
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
        n = int(value)
    elif isinstance(value, int):
        n = value
    elif isinstance(value, float) and value.is_integer():
        n = int(value)
    else:
        raise OtlpError(f"{where}: want an integer, got {value!r:.40}")
    if not lo <= n <= hi:
        raise OtlpError(f"{where}: {n} is out of range")
    return n


def _hex_id(value: Any, where: str, size: int) -> bytes:
    text = _str(value, where)
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


def _js_any(value: Any, where: str, depth: int) -> AnyValue:
    if depth > _MAX_DEPTH:
        raise OtlpError(f"{where}: AnyValue nested deeper than {_MAX_DEPTH}")
    obj = _obj(value, where)
    if "stringValue" in obj or "string_value" in obj:
        return ("s", _str(_get(obj, "stringValue", "string_value"), where))
    if "boolValue" in obj or "bool_value" in obj:
        b = _get(obj, "boolValue", "bool_value")
        if not isinstance(b, bool):
            raise OtlpError(f"{where}: boolValue must be true or false")
        return ("b", b)
    if "intValue" in obj or "int_value" in obj:
        return ("i", _int(_get(obj, "intValue", "int_value"), where, -(1 << 63), (1 << 63) - 1))
    if "doubleValue" in obj or "double_value" in obj:
        d = _get(obj, "doubleValue", "double_value")
        if isinstance(d, str) and d in ("NaN", "Infinity", "-Infinity"):
            return ("d", float(d.replace("Infinity", "inf")))
        if isinstance(d, str) and re.fullmatch(r"-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?", d):
            return ("d", float(d))  # protobuf's JSON mapping accepts a double as a string
        if isinstance(d, bool) or not isinstance(d, (int, float)):
            raise OtlpError(f"{where}: doubleValue must be a number")
        return ("d", float(d))
    if "arrayValue" in obj or "array_value" in obj:
        inner = _obj(_get(obj, "arrayValue", "array_value"), where)
        return ("a", [_js_any(x, where, depth + 1) for x in _arr(inner.get("values"), where)])
    if "kvlistValue" in obj or "kvlist_value" in obj:
        inner = _obj(_get(obj, "kvlistValue", "kvlist_value"), where)
        return ("m", _js_kvs(inner.get("values"), where, depth + 1))
    if "bytesValue" in obj or "bytes_value" in obj:
        text = _str(_get(obj, "bytesValue", "bytes_value"), where)
        try:
            return (
                "y",
                base64.b64decode(
                    text + "=" * (-len(text) % 4),
                    altchars=b"-_" if "-" in text or "_" in text else None,
                    validate=True,
                ),
            )
        except ValueError:
            raise OtlpError(f"{where}: bytesValue is not base64") from None
    return ("e", None)


def _js_kvs(value: Any, where: str, depth: int) -> KeyValues:
    out: KeyValues = []
    for i, kv in enumerate(_arr(value, where)):
        kv = _obj(kv, f"{where}[{i}]")
        out.append(
            (_str(kv.get("key"), f"{where}[{i}].key"), _js_any(kv.get("value"), f"{where}[{i}].value", depth))
        )
    return out


def _js_record(obj: dict[str, Any], where: str) -> _Record:
    r = _Record()
    r.time_ns = _int(_get(obj, "timeUnixNano", "time_unix_nano"), f"{where}.timeUnixNano", 0, (1 << 63) - 1)
    r.observed_ns = _int(
        _get(obj, "observedTimeUnixNano", "observed_time_unix_nano"),
        f"{where}.observedTimeUnixNano",
        0,
        (1 << 63) - 1,
    )
    sev = _get(obj, "severityNumber", "severity_number")
    if isinstance(sev, str) and sev in _SEVERITY_NAMES:
        r.severity_number = _SEVERITY_NAMES[sev]
    else:
        r.severity_number = _int(sev, f"{where}.severityNumber", -(1 << 31), (1 << 31) - 1)
    r.severity_text = _str(_get(obj, "severityText", "severity_text"), f"{where}.severityText")
    if "body" in obj:
        r.body = _js_any(obj["body"], f"{where}.body", 0)
    r.attributes = _js_kvs(obj.get("attributes"), f"{where}.attributes", 0)
    r.dropped = _int(
        _get(obj, "droppedAttributesCount", "dropped_attributes_count"),
        f"{where}.droppedAttributesCount",
        0,
        0xFFFFFFFF,
    )
    r.flags = _int(obj.get("flags"), f"{where}.flags", 0, 0xFFFFFFFF)
    r.trace_id = _hex_id(_get(obj, "traceId", "trace_id"), f"{where}.traceId", 16)
    r.span_id = _hex_id(_get(obj, "spanId", "span_id"), f"{where}.spanId", 8)
    return r


def decode_otlp_logs_json(body: bytes) -> list[_Resource]:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise OtlpError(f"invalid JSON ExportLogsServiceRequest: {str(exc)[:200]}") from None
    top = _obj(doc, "request")
    resources: list[_Resource] = []
    for i, rl in enumerate(_arr(_get(top, "resourceLogs", "resource_logs"), "resourceLogs")):
        where = f"resourceLogs[{i}]"
        rl = _obj(rl, where)
        res = _Resource(
            _js_kvs(
                _obj(rl.get("resource"), f"{where}.resource").get("attributes"),
                f"{where}.resource.attributes",
                0,
            )
        )
        for j, sl in enumerate(_arr(_get(rl, "scopeLogs", "scope_logs"), f"{where}.scopeLogs")):
            w2 = f"{where}.scopeLogs[{j}]"
            sl = _obj(sl, w2)
            scope = _obj(sl.get("scope"), f"{w2}.scope")
            sc = _Scope(
                name=_str(scope.get("name"), f"{w2}.scope.name"),
                version=_str(scope.get("version"), f"{w2}.scope.version"),
                attributes=_js_kvs(scope.get("attributes"), f"{w2}.scope.attributes", 0),
                dropped=_int(
                    _get(scope, "droppedAttributesCount", "dropped_attributes_count"),
                    f"{w2}.scope.droppedAttributesCount",
                    0,
                    0xFFFFFFFF,
                ),
            )
            for k, rec in enumerate(_arr(_get(sl, "logRecords", "log_records"), f"{w2}.logRecords")):
                sc.records.append(_js_record(_obj(rec, f"{w2}.logRecords[{k}]"), f"{w2}.logRecords[{k}]"))
            res.scopes.append(sc)
        resources.append(res)
    return resources
