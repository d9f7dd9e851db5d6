"""What OTLP/HTTP logs and metrics decode alike: the AnyValue/KeyValue forms in protobuf and
in OTLP's JSON mapping, pdata's rendering of them, Prometheus' label normalisation, the
content types, the request envelope (resources and their attributes) and the
partial_success answer.

Kept in one module so the two receivers (`heron.receive.otlp_logs`, `.otlp_metrics`) refuse
and render the same input the same way; each keeps only what its signal maps differently.
"""

from __future__ import annotations

import base64
import json
import math
import re
import struct
from decimal import Decimal
from typing import Any, Callable, Iterator, TypeVar

from heron.protowire import (
    WIRE_I64,
    WIRE_LEN,
    WIRE_VARINT,
    ProtoError,
    field_bytes,
    field_varint,
    iter_fields,
)

__all__ = [
    "AnyValue",
    "KeyValues",
    "OtlpError",
    "PROTOBUF",
    "JSON",
    "as_array",
    "as_int",
    "as_object",
    "as_str",
    "as_string",
    "js_any",
    "js_kvs",
    "json_field",
    "json_resources",
    "media_kind",
    "normalize_label",
    "partial_success",
    "pb_any",
    "pb_kv",
    "pb_resource",
    "pb_resources",
    "text_at",
    "want",
]

PROTOBUF, JSON = "application/x-protobuf", "application/json"
_R = TypeVar("_R")

_MAX_DEPTH = 64  # nested AnyValues deeper than this are refused rather than recursed into

AnyValue = tuple[str, Any]  # ("s"|"b"|"i"|"d"|"y"|"a"|"m"|"e", value)
KeyValues = list[tuple[str, AnyValue]]


class OtlpError(ValueError):
    """The body is not a valid OTLP export request; the message says where."""


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


# -- protobuf -----------------------------------------------------------------------------
def want(what: str, num: int, wt: int, expected: int) -> None:
    """Refuse a field of the wrong wire type, as the protobuf runtime does."""
    if wt != expected:
        raise OtlpError(f"{what} field {num} has wire type {wt}, want {expected}")


def text_at(buf: bytes, span: tuple[int, int], what: str) -> str:
    """A string field's text; protobuf refuses one that is not UTF-8, and so does this."""
    try:
        return buf[span[0] : span[1]].decode("utf-8")
    except UnicodeDecodeError:
        raise OtlpError(f"{what} is not valid UTF-8") from None


def pb_any(buf: bytes, start: int, end: int, depth: int) -> AnyValue:
    """An AnyValue message; `depth` bounds the nesting so a hostile body cannot recurse deep."""
    if depth > _MAX_DEPTH:
        raise OtlpError(f"AnyValue nested deeper than {_MAX_DEPTH}")
    value: AnyValue = ("e", None)
    for num, wt, v in iter_fields(buf, start, end):
        if num == 1:
            want("AnyValue", num, wt, WIRE_LEN)
            value = ("s", text_at(buf, v, "string_value"))  # type: ignore[arg-type]
        elif num == 2:
            want("AnyValue", num, wt, WIRE_VARINT)
            value = ("b", bool(v))
        elif num == 3:
            want("AnyValue", num, wt, WIRE_VARINT)
            n = int(v)  # type: ignore[call-overload]
            value = ("i", n - (1 << 64) if n >= 1 << 63 else n)
        elif num == 4:
            want("AnyValue", num, wt, WIRE_I64)
            value = ("d", struct.unpack("<d", v)[0])  # type: ignore[arg-type]
        elif num == 5:
            want("AnyValue", num, wt, WIRE_LEN)
            s, e = v  # type: ignore[misc]
            items = []
            for n2, w2, v2 in iter_fields(buf, s, e):
                if n2 == 1:
                    want("ArrayValue", n2, w2, WIRE_LEN)
                    items.append(pb_any(buf, v2[0], v2[1], depth + 1))  # type: ignore[index]
            value = ("a", items)
        elif num == 6:
            want("AnyValue", num, wt, WIRE_LEN)
            s, e = v  # type: ignore[misc]
            kvs: KeyValues = []
            for n2, w2, v2 in iter_fields(buf, s, e):
                if n2 == 1:
                    want("KeyValueList", n2, w2, WIRE_LEN)
                    kvs.append(pb_kv(buf, v2[0], v2[1], depth + 1))  # type: ignore[index]
            value = ("m", kvs)
        elif num == 7:
            want("AnyValue", num, wt, WIRE_LEN)
            value = ("y", bytes(buf[v[0] : v[1]]))  # type: ignore[index]
    return value


def pb_kv(buf: bytes, start: int, end: int, depth: int) -> tuple[str, AnyValue]:
    """A KeyValue message: (key, AnyValue)."""
    key, value = "", ("e", None)
    for num, wt, v in iter_fields(buf, start, end):
        if num == 1:
            want("KeyValue", num, wt, WIRE_LEN)
            key = text_at(buf, v, "attribute key")  # type: ignore[arg-type]
        elif num == 2:
            want("KeyValue", num, wt, WIRE_LEN)
            value = pb_any(buf, v[0], v[1], depth)  # type: ignore[index]
    return key, value


# -- JSON (OTLP's protobuf JSON mapping) ---------------------------------------------------
def json_field(obj: dict[str, Any], camel: str, snake: str) -> Any:
    """A field by its JSON name or its proto name, as protobuf's JSON parser accepts both."""
    return obj[camel] if camel in obj else obj.get(snake)


def as_object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise OtlpError(f"{where}: want an object, got {type(value).__name__}")
    return value


def as_array(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise OtlpError(f"{where}: want an array, got {type(value).__name__}")
    return value


def as_str(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise OtlpError(f"{where}: want a string, got {type(value).__name__}")
    return value


def as_int(value: Any, where: str, lo: int, hi: int) -> int:
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


def js_any(value: Any, where: str, depth: int) -> AnyValue:
    """An AnyValue in JSON; `where` is the path an error names."""
    if depth > _MAX_DEPTH:
        raise OtlpError(f"{where}: AnyValue nested deeper than {_MAX_DEPTH}")
    obj = as_object(value, where)
    if "stringValue" in obj or "string_value" in obj:
        return ("s", as_str(json_field(obj, "stringValue", "string_value"), where))
    if "boolValue" in obj or "bool_value" in obj:
        b = json_field(obj, "boolValue", "bool_value")
        if not isinstance(b, bool):
            raise OtlpError(f"{where}: boolValue must be true or false")
        return ("b", b)
    if "intValue" in obj or "int_value" in obj:
        return ("i", as_int(json_field(obj, "intValue", "int_value"), where, -(1 << 63), (1 << 63) - 1))
    if "doubleValue" in obj or "double_value" in obj:
        d = json_field(obj, "doubleValue", "double_value")
        if isinstance(d, str) and d in ("NaN", "Infinity", "-Infinity"):
            return ("d", float(d.replace("Infinity", "inf")))
        if isinstance(d, str) and re.fullmatch(r"-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?", d):
            return ("d", float(d))  # protobuf's JSON mapping accepts a double as a string
        if isinstance(d, bool) or not isinstance(d, (int, float)):
            raise OtlpError(f"{where}: doubleValue must be a number")
        return ("d", float(d))
    if "arrayValue" in obj or "array_value" in obj:
        inner = as_object(json_field(obj, "arrayValue", "array_value"), where)
        return ("a", [js_any(x, where, depth + 1) for x in as_array(inner.get("values"), where)])
    if "kvlistValue" in obj or "kvlist_value" in obj:
        inner = as_object(json_field(obj, "kvlistValue", "kvlist_value"), where)
        return ("m", js_kvs(inner.get("values"), where, depth + 1))
    if "bytesValue" in obj or "bytes_value" in obj:
        text = as_str(json_field(obj, "bytesValue", "bytes_value"), where)
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


def js_kvs(value: Any, where: str, depth: int) -> KeyValues:
    """A JSON array of KeyValue objects."""
    out: KeyValues = []
    for i, kv in enumerate(as_array(value, where)):
        kv = as_object(kv, f"{where}[{i}]")
        out.append(
            (
                as_str(kv.get("key"), f"{where}[{i}].key"),
                js_any(kv.get("value"), f"{where}[{i}].value", depth),
            )
        )
    return out


# -- the envelope ---------------------------------------------------------------------------
def media_kind(content_type: str) -> str:
    """PROTOBUF or JSON, from a Content-Type header (parameters and case ignored).

    Raises LookupError for a content type OTLP/HTTP does not define (answered with 415).
    """
    kind = content_type.split(";")[0].strip().lower()
    if kind not in (PROTOBUF, JSON):
        raise LookupError(f"unsupported Content-Type {content_type!r}: use {PROTOBUF} or {JSON}")
    return kind


def partial_success(content_type: str, rejected_field: str, rejected: int, message: str) -> tuple[bytes, str]:
    """An Export*ServiceResponse in the request's encoding: empty, or a partial_success of
    `rejected` items (JSON key `rejected_field`, protobuf field 1) and `message` (field 2)."""
    if content_type.split(";")[0].strip().lower() == JSON:
        obj: dict[str, Any] = {}
        if rejected or message:
            obj["partialSuccess"] = {rejected_field: str(rejected), "errorMessage": message}
        return json.dumps(obj).encode(), JSON
    if not (rejected or message):
        return b"", PROTOBUF
    inner = (field_varint(1, rejected) if rejected else b"") + (
        field_bytes(2, message.encode()) if message else b""
    )
    return field_bytes(1, inner), PROTOBUF


def pb_resources(buf: bytes, request: str, read: Callable[[bytes, int, int], _R]) -> list[_R]:
    """Each ResourceLogs/ResourceMetrics (field 1 of the request message `request`), read by
    `read(buf, start, end)`; a framing error anywhere becomes one OtlpError naming `request`."""
    resources: list[_R] = []
    try:
        for num, wt, v in iter_fields(buf):
            if num != 1:
                continue
            want(request, num, wt, WIRE_LEN)
            resources.append(read(buf, v[0], v[1]))  # type: ignore[index]
    except ProtoError as exc:
        raise OtlpError(f"invalid protobuf {request}: {exc}") from None
    return resources


def pb_resource(
    buf: bytes,
    start: int,
    end: int,
    out: KeyValues,
    other: Callable[[bytes, int, int, Any], None] | None = None,
) -> None:
    """A Resource message: its attributes (field 1) appended to `out`; `other(buf, num, wt,
    value)` is shown every other field, for a receiver that checks more of the message."""
    for num, wt, v in iter_fields(buf, start, end):
        if num == 1:
            want("Resource", num, wt, WIRE_LEN)
            out.append(pb_kv(buf, v[0], v[1], 0))  # type: ignore[index]
        elif other is not None:
            other(buf, num, wt, v)


def json_resources(
    body: bytes, request: str, camel: str, snake: str
) -> Iterator[tuple[str, dict[str, Any], KeyValues]]:
    """Each resource of a JSON request (`resourceLogs`/`resourceMetrics`, in camel or snake
    case): its path for error messages, its object, and its resource's attributes."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise OtlpError(f"invalid JSON {request}: {str(exc)[:200]}") from None
    top = as_object(doc, "request")
    for i, item in enumerate(as_array(json_field(top, camel, snake), camel)):
        where = f"{camel}[{i}]"
        item = as_object(item, where)
        attributes = js_kvs(
            as_object(item.get("resource"), f"{where}.resource").get("attributes"),
            f"{where}.resource.attributes",
            0,
        )
        yield where, item, attributes
