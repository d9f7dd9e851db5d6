"""OTLP logs decoding and Loki's mapping, from the cases in otlp_cases.yaml (both encodings),
plus malformed bodies, which must raise OtlpError (the route's 400)."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf.json_format import ParseDict
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from heron.protowire import field_bytes, field_varint
from heron.receive.discovery import Discovery, discover
from heron.receive.otlp_logs import OtlpError, decode_otlp_logs, export_response, normalize_label

CASES = yaml.safe_load((Path(__file__).parent / "otlp_cases.yaml").read_text())
NOW = 1_700_000_000_123_456_789


def _to_protobuf(request: dict[str, Any]) -> bytes:
    """OTLP JSON uses hex ids where protobuf's JSON mapping uses base64: convert, then encode."""
    req = copy.deepcopy(request)
    for rl in req.get("resourceLogs", []):
        for sl in rl.get("scopeLogs", []):
            for rec in sl.get("logRecords", []):
                for key in ("traceId", "spanId"):
                    if key in rec:
                        rec[key] = base64.b64encode(bytes.fromhex(rec[key])).decode()
    return ParseDict(req, ExportLogsServiceRequest()).SerializeToString()


def _streams(batches: list[Any]) -> list[dict[str, Any]]:
    out = []
    for b in sorted(batches, key=lambda b: b.labels):
        entries = [
            {
                "ts": "now" if ts == NOW else ts,
                "line": line.decode(),
                "metadata": json.loads(meta) if meta else {},
            }
            for ts, line, meta in zip(b.timestamps, b.lines, b.metadata or [b""] * len(b.lines))
        ]
        out.append({"labels": dict(b.labels), "entries": entries})
    return out


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
@pytest.mark.parametrize("encoding", ["json", "protobuf"])
def test_loki_mapping(case: dict[str, Any], encoding: str) -> None:
    if encoding == "json":
        body, ctype = json.dumps(case["request"]).encode(), "application/json"
    else:
        body, ctype = _to_protobuf(case["request"]), "application/x-protobuf"
    # Every push path runs discovery after decoding; service_name comes from it (levels are
    # tested in test_discovery.py).
    got = _streams(discover(decode_otlp_logs(body, ctype, now_ns=NOW), Discovery(log_levels=False)))
    want = sorted(case["streams"], key=lambda s: sorted(s["labels"].items()))
    assert got == want


BAD_JSON = [
    b"{",
    b"[]",
    b'{"resourceLogs": {}}',
    b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": "soon"}]}]}]}',
    b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": "-1"}]}]}]}',
    b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": "xyz"}]}]}]}',
    b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"spanId": "0102"}]}]}]}',
    b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"intValue": "9223372036854775808"}}]}]}]}',
    b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"boolValue": "yes"}}]}]}]}',
    b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": "\\ud800"}}]}]}]}',
    b'{"resourceLogs": [{"resource": {"attributes": [{"key": 1}]}}]}',
    b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": '
    + b'{"arrayValue": {"values": [' * 80
    + b"]}}" * 80
    + b"}]}]}]}",
]


@pytest.mark.parametrize("body", BAD_JSON, ids=range(len(BAD_JSON)))
def test_bad_json_is_refused(body: bytes) -> None:
    with pytest.raises(OtlpError):
        decode_otlp_logs(body, "application/json")


def test_bad_protobuf_is_refused() -> None:
    good = _to_protobuf(CASES[1]["request"])
    for cut in (1, len(good) // 2, len(good) - 1):
        with pytest.raises(OtlpError):
            decode_otlp_logs(good[:cut], "application/x-protobuf")
    wrong_wire = field_varint(1, 5)  # resource_logs must be length-delimited
    with pytest.raises(OtlpError):
        decode_otlp_logs(wrong_wire, "application/x-protobuf")
    bad_utf8 = field_bytes(1, field_bytes(2, field_bytes(2, field_bytes(3, b"\xff"))))
    with pytest.raises(OtlpError):
        decode_otlp_logs(bad_utf8, "application/x-protobuf")


def test_other_content_types_are_a_lookup_error() -> None:
    with pytest.raises(LookupError):
        decode_otlp_logs(b"{}", "text/plain")


def test_export_response_in_the_request_encoding() -> None:
    assert export_response("application/json") == (b"{}", "application/json")
    body, media = export_response("application/json", 2, "too old")
    assert json.loads(body) == {"partialSuccess": {"rejectedLogRecords": "2", "errorMessage": "too old"}}
    body, media = export_response("application/x-protobuf", 2, "too old")
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

    resp = ExportLogsServiceResponse.FromString(body)
    assert (resp.partial_success.rejected_log_records, resp.partial_success.error_message) == (2, "too old")


def test_normalize_label() -> None:
    assert [normalize_label(n) for n in ("a.b", "_x", "__x", "9", "")] == ["a_b", "key_x", "__x", "key_9", ""]
