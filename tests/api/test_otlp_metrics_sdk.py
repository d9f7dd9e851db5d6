"""OTLP metrics through a client nobody here wrote: the OpenTelemetry Python SDK's OTLP/HTTP
metric exporter (protobuf, then gzip) pushes counters, up-down counters, gauges and histograms
into a real `heron server`; storage, opened after the server stops, holds them under the names
the OpenTelemetry -> Prometheus rules give, with job, instance and target_info."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import numpy as np
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from heron.model import Labels, Matcher, MatchOp
from heron.storage import Database, StorageOptions
from serverproc import start_server


def _stored(data_dir: Path) -> dict[Labels, list[tuple[int, float]]]:
    db = Database.open(str(data_dir), StorageOptions(), background=False)
    try:
        now = int(time.time() * 1000)
        rows = db.query_samples([Matcher("__name__", MatchOp.RE, ".+")], now - 3_600_000, now + 60_000)
    finally:
        db.close()
    return {lab: list(zip(ts.tolist(), vals.tolist())) for lab, ts, vals in rows}


def _push(url: str, compression: Compression) -> None:
    resource = Resource.create(
        {
            "service.name": "shop",
            "service.namespace": "prod",
            "service.instance.id": "pod-1",
            "deployment.environment": "test",
        }
    )
    exporter = OTLPMetricExporter(endpoint=url + "/otlp/v1/metrics", compression=compression)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=resource, metric_readers=[reader])
    meter = provider.get_meter("heron-otlp-metrics-test", "1.0")
    try:
        requests = meter.create_counter("http.server.requests", unit="{request}", description="Requests.")
        requests.add(3, {"http.method": "GET", "http.route": "/cart"})
        requests.add(2, {"http.method": "POST", "http.route": "/cart"})
        meter.create_up_down_counter("queue.size").add(7)
        meter.create_gauge("memory.usage", unit="By").set(1024.5, {"area": "heap"})
        meter.create_gauge("cpu.utilization", unit="1").set(0.25)
        latency = meter.create_histogram("http.server.duration", unit="s")
        for v in (0.3, 7.0, 7.5, 400.0):
            latency.record(v, {"http.route": "/cart"})
        assert provider.force_flush(10_000)
    finally:
        provider.shutdown()


def _by_name(stored: dict[Labels, list[tuple[int, float]]]) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for lab, samples in stored.items():
        d = dict(lab)
        out.setdefault(d.pop("__name__"), []).append((d, samples[-1][1]))
    return out


def test_sdk_exporter_pushes_under_prometheus_names(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        _push(server.url, Compression.NoCompression)
        meta = httpx.get(server.url + "/metrics", timeout=10).text
        assert 'heron_push_requests_total{api="otlp_metrics",code="200"}' in meta, meta[:3000]
    finally:
        assert server.stop() == 0, server.log()
    got = _by_name(_stored(tmp_path / "data"))
    ident = {"job": "prod/shop", "instance": "pod-1"}

    counters = {(d["http_method"], d["http_route"]): v for d, v in got["http_server_requests_total"]}
    assert counters == {("GET", "/cart"): 3.0, ("POST", "/cart"): 2.0}
    assert all({k: d[k] for k in ident} == ident for d, _ in got["http_server_requests_total"])
    assert got["queue_size"] == [(ident, 7.0)]  # an up-down counter is a gauge: no _total
    assert got["memory_usage_bytes"] == [({**ident, "area": "heap"}, 1024.5)]
    assert got["cpu_utilization_ratio"] == [(ident, 0.25)]

    buckets = {d["le"]: v for d, v in got["http_server_duration_seconds_bucket"]}
    # The SDK's default boundaries 0, 5, 10, 25, ..., 10000, cumulative, and +Inf = count.
    assert buckets["0"] == 0.0 and buckets["5"] == 1.0 and buckets["10"] == 3.0
    assert buckets["250"] == 3.0 and buckets["500"] == 4.0 and buckets["+Inf"] == 4.0
    assert np.isclose(got["http_server_duration_seconds_sum"][0][1], 0.3 + 7.0 + 7.5 + 400.0)
    assert got["http_server_duration_seconds_count"][0][1] == 4.0

    [(info, value)] = got["target_info"]
    assert value == 1.0
    assert info["job"] == "prod/shop" and info["instance"] == "pod-1"
    assert info["deployment_environment"] == "test"
    assert info["telemetry_sdk_language"] == "python"
    assert "service_name" not in info  # identifying attributes become job and instance only


def test_gzip_push_and_the_response_message(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        _push(server.url, Compression.Gzip)
        r = httpx.post(
            server.url + "/otlp/v1/metrics",
            content=b"",
            headers={"Content-Type": "application/x-protobuf"},
            timeout=10,
        )
        assert r.status_code == 200
        parsed = ExportMetricsServiceResponse.FromString(r.content)
        assert not parsed.HasField("partial_success")
    finally:
        assert server.stop() == 0, server.log()
    got = _by_name(_stored(tmp_path / "data"))
    assert sorted(v for _, v in got["http_server_requests_total"]) == [2.0, 3.0]
