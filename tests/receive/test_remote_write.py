"""Remote write 1.0 and 2.0 decoding, checked against Google's protobuf runtime (`prompb_ref`)
and Heron's encoder; the content-type rules of the 2.0 spec; and each kind of bad body."""

from __future__ import annotations

import math

import numpy as np
import pytest

from heron.collect.metrics.metadata import MetricMetadata
from heron.receive.remote_write import (
    V1_PROTO,
    V2_PROTO,
    RemoteWriteError,
    RemoteWriteTooLarge,
    UnsupportedMediaType,
    decode_remote_write,
    decode_write_request,
    protocol_of,
)
from heron.ship.remote_write_encode import V2_CONTENT_TYPE, encode_v1, encode_v2, group_by_series, snappy
from prompb_ref import RequestV2, WriteRequest

V2 = V2_CONTENT_TYPE
LIMIT = 1 << 20


def _v1_request() -> bytes:
    w = WriteRequest()
    ts = w.timeseries.add()
    for name, value in (("job", "api"), ("__name__", "http_requests_total"), ("code", "200")):
        ts.labels.add(name=name, value=value)
    ts.samples.add(value=1.0, timestamp=1000)
    ts.samples.add(value=float("nan"), timestamp=2000)
    ts.exemplars.add(value=0.5, timestamp=1500)
    ts2 = w.timeseries.add()
    ts2.labels.add(name="__name__", value="up")
    ts2.labels.add(name="empty", value="")
    ts2.samples.add(value=-1.5e300, timestamp=-5)
    ts2.histograms.add(count_int=3, sum=1.0, timestamp=1000)
    w.metadata.add(type=1, metric_family_name="http_requests_total", help="Requests.", unit="")
    return w.SerializeToString()


def test_v1_decodes_labels_samples_and_metadata() -> None:
    d = decode_write_request(snappy(_v1_request()), "application/x-protobuf", "snappy", LIMIT)
    assert d.version == V1_PROTO
    api = (("__name__", "http_requests_total"), ("code", "200"), ("job", "api"))
    up = (("__name__", "up"),)  # an empty value is no label, as everywhere in Prometheus
    assert list(d.columns.labels) == [api, api, up]
    assert np.asarray(d.columns.timestamps).tolist() == [1000, 2000, -5]
    vals = np.asarray(d.columns.values).tolist()
    assert vals[0] == 1.0 and math.isnan(vals[1]) and vals[2] == -1.5e300
    assert d.metadata == {"http_requests_total": MetricMetadata("counter", "Requests.", "")}
    assert (d.histograms, d.exemplars) == (1, 1)  # counted, not stored


def _v2_request() -> bytes:
    r = RequestV2()
    r.symbols.extend(["", "__name__", "node_cpu_seconds_total", "cpu", "0", "Seconds.", "seconds", "up"])
    t = r.timeseries.add()
    t.labels_refs.extend([1, 2, 3, 4])
    t.samples.add(value=12.5, timestamp=10_000)
    t.samples.add(value=13.0, timestamp=11_000)
    t.metadata.type = 1
    t.metadata.help_ref = 5
    t.metadata.unit_ref = 6
    t.created_timestamp = 5
    t.exemplars.add(labels_refs=[3, 4], value=1.0, timestamp=10_000)
    t2 = r.timeseries.add()
    t2.labels_refs.extend([1, 7])
    t2.histograms.add(count_int=1, sum=2.0, timestamp=10_000)
    return r.SerializeToString()


def test_v2_resolves_symbols_and_metadata() -> None:
    d = decode_write_request(snappy(_v2_request()), V2, "snappy", LIMIT)
    assert d.version == V2_PROTO
    cpu = (("__name__", "node_cpu_seconds_total"), ("cpu", "0"))
    assert list(d.columns.labels) == [cpu, cpu]
    assert np.asarray(d.columns.timestamps).tolist() == [10_000, 11_000]
    assert np.asarray(d.columns.values).tolist() == [12.5, 13.0]
    assert d.metadata == {"node_cpu_seconds_total": MetricMetadata("counter", "Seconds.", "seconds")}
    assert (d.histograms, d.exemplars) == (1, 1)


@pytest.mark.parametrize("encode,ctype", [(encode_v1, "application/x-protobuf"), (encode_v2, V2)])
def test_heron_encoder_round_trip_and_reference_parse(encode: object, ctype: str) -> None:
    labels = [(("__name__", "a"), ("x", "1")), (("__name__", "b"),), (("__name__", "a"), ("x", "1"))]
    series = group_by_series(labels, [1, 2, 3], [0.5, 1.5, 2.5])
    raw = encode(series)  # type: ignore[operator]
    ref = (WriteRequest if ctype != V2 else RequestV2).FromString(raw)
    assert len(ref.timeseries) == 2  # grouped by series, in first-seen order
    cols, meta = decode_remote_write(snappy(raw), ctype, "snappy", LIMIT)
    assert list(cols.labels) == [labels[0], labels[0], labels[1]]
    assert np.asarray(cols.timestamps).tolist() == [1, 3, 2]
    assert meta == {}


@pytest.mark.parametrize(
    "ctype,want",
    [
        ("", V1_PROTO),
        ("application/x-protobuf", V1_PROTO),
        ("Application/X-Protobuf; proto=prometheus.WriteRequest", V1_PROTO),
        ("application/x-protobuf;proto=io.prometheus.write.v2.Request", V2_PROTO),
        ('application/x-protobuf; proto="io.prometheus.write.v2.Request"', V2_PROTO),
    ],
)
def test_content_type_chooses_the_message(ctype: str, want: str) -> None:
    assert protocol_of(ctype) == want


@pytest.mark.parametrize(
    "ctype,encoding",
    [
        ("application/json", "snappy"),
        ("text/plain", "snappy"),
        ("application/x-protobuf;proto=io.prometheus.write.v3.Request", "snappy"),
        ("application/x-protobuf", "gzip"),
        ("application/x-protobuf", "zstd"),
    ],
)
def test_unsupported_media_is_415_material(ctype: str, encoding: str) -> None:
    with pytest.raises(UnsupportedMediaType):
        decode_write_request(snappy(_v1_request()), ctype, encoding, LIMIT)


def _v1_with_labels(pairs: list[tuple[str, str]]) -> bytes:
    w = WriteRequest()
    ts = w.timeseries.add()
    for n, v in pairs:
        ts.labels.add(name=n, value=v)
    ts.samples.add(value=1.0, timestamp=1)
    return snappy(w.SerializeToString())


@pytest.mark.parametrize(
    "pairs,message",
    [
        ([("__name__", "1bad")], "invalid metric name"),
        ([("__name__", "ok"), ("bad-name", "x")], "invalid label name"),
        ([("__name__", "ok"), ("a", "1"), ("a", "2")], "duplicate label name"),
        ([("__name__", "ok"), ("a", "x" * 70_000)], "longer than"),
        ([("a", "")], "no labels"),
    ],
)
def test_invalid_labels_refuse_the_request(pairs: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(RemoteWriteError, match=message):
        decode_write_request(_v1_with_labels(pairs), "", "", LIMIT)


def _v2_raw(symbols: list[str], refs: list[int], help_ref: int = 0) -> bytes:
    r = RequestV2()
    r.symbols.extend(symbols)
    t = r.timeseries.add()
    t.labels_refs.extend(refs)
    t.samples.add(value=1.0, timestamp=1)
    if help_ref:
        t.metadata.help_ref = help_ref
    return snappy(r.SerializeToString())


@pytest.mark.parametrize(
    "body,message",
    [
        (_v2_raw(["", "__name__", "up"], [1, 2, 1]), "odd length"),
        (_v2_raw(["", "__name__", "up"], [1, 9]), "past the symbols table"),
        (_v2_raw(["x", "__name__", "up"], [1, 2]), "must start with the empty string"),
        (_v2_raw(["", "__name__", "up"], [1, 2], help_ref=40), "past the symbols table"),
    ],
)
def test_bad_v2_references(body: bytes, message: str) -> None:
    with pytest.raises(RemoteWriteError, match=message):
        decode_write_request(body, V2, "snappy", LIMIT)


@pytest.mark.parametrize(
    "raw,message",
    [
        (b"\x0a\x05\x0a\x03\x0a\x01\xff", "UTF-8"),  # a label name byte 0xff
        (b"\x0a\x10", "runs past"),  # TimeSeries claims more bytes than there are
        (b"\x08\x01", "wire type"),  # field 1 as a varint
        (b"\x0b\x00", "wire type"),  # a group start (wire type 3)
        (b"\x0a\x05\x12\x03\x09\x00\x00", "truncated"),  # a double cut short
    ],
)
def test_malformed_protobuf(raw: bytes, message: str) -> None:
    with pytest.raises(RemoteWriteError, match=message):
        decode_write_request(snappy(raw), "", "snappy", LIMIT)


def test_bodies_over_the_limit_before_and_after_snappy() -> None:
    big = snappy(b"\x00" * 10_000)
    with pytest.raises(RemoteWriteTooLarge):
        decode_write_request(big, "", "snappy", 5_000)  # decodes past the limit
    with pytest.raises(RemoteWriteTooLarge):
        decode_write_request(b"\x01" * 600, "", "snappy", 500)  # too large as sent
    with pytest.raises(RemoteWriteError, match="snappy"):
        decode_write_request(b"\xff\xff\xff", "", "snappy", LIMIT)
