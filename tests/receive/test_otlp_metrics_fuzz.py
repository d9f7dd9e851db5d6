"""Hypothesis against the OTLP metrics decoder: only a clean error or a correct result.

Requests are built with OpenTelemetry's generated classes. A valid request means the same in
protobuf and in protobuf's JSON rendering, with the sample count each kind implies; mutated
or random bytes either raise OtlpError or are bytes the protobuf runtime also reads, meaning
the same as the runtime's own re-serialization of them.
"""

from __future__ import annotations

import numpy as np
from google.protobuf.json_format import MessageToJson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from heron.receive.otlp_metrics import OtlpError, decode_otlp_metrics

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PB = "application/x-protobuf"

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)
_keys = st.sampled_from(["a", "b.c", "b_c", "1x", "_y", "service.name", "host", "é"])
_attrs = st.lists(st.tuples(_keys, _text), max_size=3, unique_by=lambda kv: kv[0])
_time = st.integers(0, (1 << 63) - 1)
_float = st.floats(allow_nan=True, allow_infinity=True)


@st.composite
def _requests(draw: st.DrawFn) -> ExportMetricsServiceRequest:
    req = ExportMetricsServiceRequest()
    for _ in range(draw(st.integers(0, 2))):
        rm = req.resource_metrics.add()
        for k, v in draw(_attrs):
            rm.resource.attributes.append(KeyValue(key=k, value=AnyValue(string_value=v)))
        sm = rm.scope_metrics.add()
        for _ in range(draw(st.integers(0, 3))):
            m = sm.metrics.add(name=draw(st.sampled_from(["m", "a.b", "x_total", "%", "9"])))
            m.unit = draw(st.sampled_from(["", "s", "1", "By/s", "{x}"]))
            kind = draw(st.sampled_from(["gauge", "sum", "histogram", "summary"]))
            attrs = [KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in draw(_attrs)]
            for _ in range(draw(st.integers(0, 2))):
                t, flags = draw(_time), draw(st.sampled_from([0, 0, 1]))
                if kind in ("gauge", "sum"):
                    data = m.gauge if kind == "gauge" else m.sum
                    if kind == "sum":
                        m.sum.is_monotonic = draw(st.booleans())
                        m.sum.aggregation_temporality = draw(st.sampled_from([1, 2, 2]))
                    p = data.data_points.add(time_unix_nano=t, flags=flags, attributes=attrs)
                    if draw(st.booleans()):
                        p.as_int = draw(st.integers(-(1 << 63), (1 << 63) - 1))
                    else:
                        p.as_double = draw(_float)
                elif kind == "histogram":
                    m.histogram.aggregation_temporality = draw(st.sampled_from([1, 2, 2]))
                    counts = draw(st.lists(st.integers(0, 1 << 40), max_size=4))
                    p = m.histogram.data_points.add(
                        time_unix_nano=t,
                        flags=flags,
                        attributes=attrs,
                        count=sum(counts),
                        bucket_counts=counts,
                        explicit_bounds=sorted(draw(st.lists(st.floats(-1e9, 1e9), max_size=3))),
                    )
                    if draw(st.booleans()):
                        p.sum = draw(_float)
                else:
                    p = m.summary.data_points.add(
                        time_unix_nano=t, flags=flags, attributes=attrs, count=7, sum=1.0
                    )
                    for q in draw(st.lists(st.floats(0, 1), max_size=2, unique=True)):
                        p.quantile_values.add(quantile=q, value=draw(_float))
    return req


def _meaning(body: bytes, ctype: str, any_nan: bool = False) -> tuple[list[tuple[object, int, int]], int]:
    """Samples as (labels, ms, value bits); `any_nan` makes every NaN one, as JSON's "NaN" does."""
    out = decode_otlp_metrics(body, ctype)
    values = np.asarray(out.columns.values, dtype=np.float64)
    if any_nan:
        values = np.where(np.isnan(values), np.nan, values)
    bits = values.view(np.uint64).tolist()
    return sorted(zip(out.columns.labels, np.asarray(out.columns.timestamps).tolist(), bits)), out.rejected


@SETTINGS
@given(_requests())
def test_valid_requests_mean_the_same_in_protobuf_and_json(req: ExportMetricsServiceRequest) -> None:
    samples, rejected = _meaning(req.SerializeToString(), PB, any_nan=True)
    assert (samples, rejected) == _meaning(MessageToJson(req).encode(), "application/json", any_nan=True)
    assert all(t >= 0 for _, t, _ in samples)


def _check_clean(raw: bytes) -> None:
    try:
        got = _meaning(raw, PB)
    except OtlpError:
        return
    canonical = ExportMetricsServiceRequest.FromString(raw).SerializeToString()
    assert _meaning(canonical, PB) == got


@SETTINGS
@given(_requests(), st.data())
def test_mutated_requests_error_cleanly_or_mean_what_protobuf_reads(
    req: ExportMetricsServiceRequest, data: st.DataObject
) -> None:
    raw = bytearray(req.SerializeToString())
    for _ in range(data.draw(st.integers(1, 4))):
        if not raw:
            break
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        i = data.draw(st.integers(0, len(raw) - 1))
        if op == "flip":
            raw[i] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del raw[i:]
        else:
            raw[i:i] = data.draw(st.binary(min_size=1, max_size=4))
    _check_clean(bytes(raw))


@SETTINGS
@given(st.binary(max_size=200))
def test_random_bytes_error_cleanly_or_mean_what_protobuf_reads(raw: bytes) -> None:
    _check_clean(raw)


@SETTINGS
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(
                        st.sampled_from(["resourceMetrics", "scopeMetrics", "metrics", "gauge", "sum",
                                         "dataPoints", "asDouble", "asInt", "timeUnixNano", "name",
                                         "histogram", "bucketCounts", "attributes", "key", "value"]),
                        kids, max_size=3),
                    max_leaves=20))  # fmt: skip
def test_random_json_errors_cleanly(doc: object) -> None:
    import json

    try:
        decode_otlp_metrics(json.dumps(doc).encode(), "application/json")
    except OtlpError:
        pass
