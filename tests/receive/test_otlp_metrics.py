"""OTLP metrics -> Prometheus samples: the naming table transcribed from otlptranslator, each
metric kind in both encodings (requests built with OpenTelemetry's own generated classes and
rendered to JSON by protobuf's json_format), and the points that are reported, not stored."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from google.protobuf.json_format import MessageToJson
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb

from heron.collect.metrics.metadata import MetricMetadata
from heron.model import is_stale_nan
from heron.receive.otlp_metrics import OtlpError, decode_otlp_metrics, metrics_response
from heron.receive.otlp_naming import metric_name, prom_unit

CASES = yaml.safe_load((Path(__file__).parent / "otlp_metric_names.yaml").read_text())
T = 1_700_000_000_123_456_789  # ns
T_MS = 1_700_000_000_123
CUM = pb.AGGREGATION_TEMPORALITY_CUMULATIVE


@pytest.mark.parametrize("case", CASES, ids=[f"{c['name']}|{c['unit']}|{c['kind']}" for c in CASES])
def test_metric_names(case: dict[str, str]) -> None:
    assert metric_name(case["name"], case["unit"], case["kind"]) == case["want"]
    if "want_unit" in case:
        assert prom_unit(case["unit"]) == case["want_unit"]


def _kv(key: str, value: Any) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _request() -> ExportMetricsServiceRequest:
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.extend(
        [
            _kv("service.name", "cart"),
            _kv("service.instance.id", "i-1"),
            _kv("host.name", "h"),
            _kv("k8s.pod.uid", 7),
        ]
    )
    sm = rm.scope_metrics.add()
    sm.scope.name = "lib"

    g = sm.metrics.add(name="queue.depth", unit="{item}", description="Items waiting.")
    g.gauge.data_points.add(time_unix_nano=T, as_int=5, attributes=[_kv("queue", "a"), _kv("ok", True)])
    g.gauge.data_points.add(time_unix_nano=T, as_double=1.5, attributes=[_kv("queue", "b")], flags=1)

    s = sm.metrics.add(name="http.requests", unit="1")
    s.sum.aggregation_temporality = CUM
    s.sum.is_monotonic = True
    s.sum.data_points.add(time_unix_nano=T, as_double=10.0, attributes=[_kv("http.method", "GET")])

    ud = sm.metrics.add(name="pool.size")
    ud.sum.aggregation_temporality = CUM
    ud.sum.data_points.add(time_unix_nano=T, as_int=-3)

    h = sm.metrics.add(name="rpc.duration", unit="ms")
    h.histogram.aggregation_temporality = CUM
    h.histogram.data_points.add(
        time_unix_nano=T, count=6, sum=123.5, bucket_counts=[1, 2, 3], explicit_bounds=[0.5, 10]
    )

    q = sm.metrics.add(name="gc.pause", unit="s")
    q.summary.data_points.add(
        time_unix_nano=T,
        count=4,
        sum=0.8,
        quantile_values=[pb.SummaryDataPoint.ValueAtQuantile(quantile=0.99, value=0.4)],
    )

    d = sm.metrics.add(name="delta.requests")
    d.sum.aggregation_temporality = pb.AGGREGATION_TEMPORALITY_DELTA
    d.sum.is_monotonic = True
    d.sum.data_points.add(time_unix_nano=T, as_int=1)
    d.sum.data_points.add(time_unix_nano=T, as_int=2)

    e = sm.metrics.add(name="exp.latency")
    e.exponential_histogram.aggregation_temporality = CUM
    e.exponential_histogram.data_points.add(time_unix_nano=T, count=1, scale=2)
    return req


def _decoded(encoding: str) -> tuple[dict[tuple[tuple[str, str], ...], float], Any]:
    req = _request()
    if encoding == "json":
        out = decode_otlp_metrics(MessageToJson(req).encode(), "application/json")
    else:
        out = decode_otlp_metrics(req.SerializeToString(), "application/x-protobuf")
    assert set(np.asarray(out.columns.timestamps).tolist()) == {T_MS}
    values = dict(zip(out.columns.labels, np.asarray(out.columns.values).tolist()))
    assert len(values) == len(out.columns.labels)  # no series twice
    return values, out


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_each_kind_maps_by_the_rules(encoding: str) -> None:
    values, out = _decoded(encoding)
    ident = (("instance", "i-1"), ("job", "cart"))

    def get(name: str, *labels: tuple[str, str]) -> float:
        return values[tuple(sorted((("__name__", name), *ident, *labels)))]

    assert get("queue_depth", ("ok", "true"), ("queue", "a")) == 5.0
    assert is_stale_nan(get("queue_depth", ("queue", "b")))  # NO_RECORDED_VALUE
    assert get("http_requests_total", ("http_method", "GET")) == 10.0
    assert get("pool_size") == -3.0
    assert get("rpc_duration_milliseconds_bucket", ("le", "0.5")) == 1.0
    assert get("rpc_duration_milliseconds_bucket", ("le", "10")) == 3.0
    assert get("rpc_duration_milliseconds_bucket", ("le", "+Inf")) == 6.0
    assert get("rpc_duration_milliseconds_sum") == 123.5
    assert get("rpc_duration_milliseconds_count") == 6.0
    assert get("gc_pause_seconds", ("quantile", "0.99")) == 0.4
    assert math.isclose(get("gc_pause_seconds_sum"), 0.8)
    assert get("gc_pause_seconds_count") == 4.0
    assert get("target_info", ("host_name", "h"), ("k8s_pod_uid", "7")) == 1.0
    assert len(values) == 13
    assert out.rejected == 3  # two delta points and one exponential histogram point
    assert any("temporality" in m for m in out.messages)
    assert any("exponential histograms" in m for m in out.messages)
    assert out.metadata["queue_depth"] == MetricMetadata("gauge", "Items waiting.", "")
    assert out.metadata["http_requests_total"] == MetricMetadata("counter", "", "")
    assert out.metadata["pool_size"].type == "gauge"
    assert out.metadata["rpc_duration_milliseconds"] == MetricMetadata("histogram", "", "milliseconds")
    assert out.metadata["gc_pause_seconds"].type == "summary"


def test_attribute_collisions_join_values_and_namespace_joins_job() -> None:
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.extend([_kv("service.name", "api"), _kv("service.namespace", "shop")])
    m = rm.scope_metrics.add().metrics.add(name="x")
    m.gauge.data_points.add(
        time_unix_nano=T, as_double=1, attributes=[_kv("a.b", "2"), _kv("a_b", "1"), _kv("9z", "n")]
    )
    out = decode_otlp_metrics(req.SerializeToString(), "application/x-protobuf")
    # Only the identifying attributes: no target_info.
    assert list(out.columns.labels) == [
        (("__name__", "x"), ("a_b", "2;1"), ("job", "shop/api"), ("key_9z", "n"))
    ]


def _one(metric: str) -> bytes:
    return ('{"resourceMetrics": [{"scopeMetrics": [{"metrics": [' + metric + "]}]}]}").encode()


@pytest.mark.parametrize(
    "body,ctype",
    [
        (b"\x0a\x05\x0a", "application/x-protobuf"),
        (b"\x08\x01", "application/x-protobuf"),
        (b"{", "application/json"),
        (b"[]", "application/json"),
        (_one('{"gauge": {"dataPoints": [{"asDouble": "x"}]}}'), "application/json"),
        (_one('{"gauge": {"dataPoints": [{"asDouble": "1_000"}]}}'), "application/json"),
        (_one('{"sum": {"isMonotonic": "yes"}}'), "application/json"),
        (_one('{"histogram": {"dataPoints": [{"bucketCounts": ["-1"]}]}}'), "application/json"),
        (_one('{"name": "x", "description": "\\udfff"}'), "application/json"),
        (_one('{"name": "x", "gauge": {"dataPoints": [{"attributes": [{"key": "a", '
              '"value": {"stringValue": "\\ud800"}}]}]}}'), "application/json"),
    ],
)  # fmt: skip
def test_bad_bodies(body: bytes, ctype: str) -> None:
    with pytest.raises(OtlpError):
        decode_otlp_metrics(body, ctype)


def test_unknown_content_type() -> None:
    with pytest.raises(LookupError):
        decode_otlp_metrics(b"", "text/plain")


def test_response_shapes() -> None:
    assert metrics_response("application/x-protobuf") == (b"", "application/x-protobuf")
    body, media = metrics_response("application/x-protobuf", 3, "no")
    parsed = ExportMetricsServiceResponse.FromString(body)
    assert parsed.partial_success.rejected_data_points == 3 and parsed.partial_success.error_message == "no"
    assert metrics_response("application/json", 2, "x")[0] == (
        b'{"partialSuccess": {"rejectedDataPoints": "2", "errorMessage": "x"}}'
    )
