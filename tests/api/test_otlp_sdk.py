"""OTLP logs through clients nobody here wrote: the OpenTelemetry Python SDK's OTLP/HTTP log
exporter (protobuf, gzip) pushes to a real `heron server`; query_range reads them back with
Loki's labels and structured metadata. Plus the route's answers for bad requests."""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import httpx
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource

from serverproc import ServerProc


def _read_back(client: httpx.Client, query: str, want: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        r = client.get("/loki/api/v1/query_range", params={"query": query, "since": "10m"})
        assert r.status_code == 200, r.text
        result = r.json()["data"]["result"]
        if sum(len(s["values"]) for s in result) >= want or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_opentelemetry_sdk_exporter_roundtrip(server: ServerProc, client: httpx.Client) -> None:
    resource = Resource.create({"service.name": "checkout", "k8s.namespace.name": "shop", "host.name": "h1"})
    provider = LoggerProvider(resource=resource)
    exporter = OTLPLogExporter(endpoint=server.url + "/otlp/v1/logs", compression=Compression.Gzip)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("heron-otlp-sdk-test", "1.2")
    try:
        logger.emit(
            timestamp=time.time_ns(),
            severity_number=SeverityNumber.ERROR,
            severity_text="ERROR",
            body="payment failed",
            attributes={"order.id": "A17"},
        )
        logger.emit(severity_number=SeverityNumber.WARN, severity_text="WARN", body="stock low")
    finally:
        provider.shutdown()
    result = _read_back(client, '{service_name="checkout"}', 2)
    by_line = {v[1]: s["stream"] for s in result for v in s["values"]}
    assert set(by_line) == {"payment failed", "stock low"}
    failed = by_line["payment failed"]
    assert failed["service_name"] == "checkout"
    assert failed["k8s_namespace_name"] == "shop"
    assert failed["host_name"] == "h1"  # a resource attribute outside Loki's list: metadata
    assert failed["order_id"] == "A17"
    assert failed["severity_text"] == "ERROR"
    assert failed["severity_number"] == str(SeverityNumber.ERROR.value)
    assert failed["scope_name"] == "heron-otlp-sdk-test"
    assert failed["scope_version"] == "1.2"
    assert failed["detected_level"] == "error"  # discovery, from severity_text
    assert by_line["stock low"]["severity_text"] == "WARN"
    assert by_line["stock low"]["detected_level"] == "warn"
    labels = client.get("/loki/api/v1/labels", params={"since": "10m"}).json()["data"]
    assert "host_name" not in labels and "service_name" in labels  # metadata is not indexed


def _request(line: str, service: str) -> dict[str, Any]:
    return {
        "resourceLogs": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "timeUnixNano": str(time.time_ns()),
                                "body": {"stringValue": line},
                                "traceId": "0102030405060708090a0b0c0d0e0f10",
                            }
                        ]
                    }
                ],
            }
        ]
    }


def test_json_push_answers_an_export_response(client: httpx.Client) -> None:
    r = client.post(
        "/otlp/v1/logs",
        content=gzip.compress(json.dumps(_request("hello json", "j")).encode()),
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {}
    result = _read_back(client, '{service_name="j"}', 1)
    assert [v[1] for s in result for v in s["values"]] == ["hello json"]
    assert result[0]["stream"]["trace_id"] == "0102030405060708090a0b0c0d0e0f10"


def test_protobuf_push_answers_an_empty_export_response(client: httpx.Client) -> None:
    r = client.post("/otlp/v1/logs", content=b"", headers={"content-type": "application/x-protobuf"})
    assert r.status_code == 200, r.text
    assert ExportLogsServiceResponse.FromString(r.content) == ExportLogsServiceResponse()


def test_bad_requests_are_refused_and_store_nothing(client: httpx.Client) -> None:
    good = json.dumps(_request("never stored", "bad")).encode()
    cases = [
        (good[:-3], {"content-type": "application/json"}, 400),
        (b'{"resourceLogs": 3}', {"content-type": "application/json"}, 400),
        (b"\x0a\x05\x12", {"content-type": "application/x-protobuf"}, 400),
        (good, {"content-type": "application/json", "content-encoding": "gzip"}, 400),
        (good, {"content-type": "application/json", "content-encoding": "br"}, 400),
        (good, {"content-type": "text/plain"}, 415),
    ]
    for body, headers, status in cases:
        r = client.post("/otlp/v1/logs", content=body, headers=headers)
        assert r.status_code == status, (headers, r.text)
        assert r.text.strip()
    r = client.get("/loki/api/v1/query_range", params={"query": '{service_name="bad"}', "since": "10m"})
    assert r.json()["data"]["result"] == []


def test_over_max_push_size_after_gzip_is_413(tmp_path: Any) -> None:
    from serverproc import start_server

    s = start_server(tmp_path / "data", "--max-push-size", "2000")
    try:
        body = gzip.compress(json.dumps(_request("x" * 5000, "big")).encode())
        assert len(body) < 2000
        with httpx.Client(base_url=s.url, timeout=30) as c:
            r = c.post(
                "/otlp/v1/logs",
                content=body,
                headers={"content-type": "application/json", "content-encoding": "gzip"},
            )
            assert r.status_code == 413, r.text
    finally:
        assert s.stop() == 0, s.log()
