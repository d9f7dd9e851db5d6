"""Remote write and OTLP metrics codecs: samples per second on one core.

Decodes a Prometheus-shaped request (2,000 samples of six-label series, the batch size a
Prometheus remote_write sends) in 1.0 and 2.0, encodes the same batch as the sender does
(label blocks cached, as between scrapes), and decodes an OTLP request of the same samples as
gauges. Medians of `--runs` runs of `--loops` iterations each, in CPU time of this process.

    .venv/bin/python bench/remote_write.py
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import numpy as np
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from heron.receive.otlp_metrics import decode_otlp_metrics
from heron.receive.remote_write import decode_write_request
from heron.ship.remote_write_encode import (
    V1_CONTENT_TYPE,
    V2_CONTENT_TYPE,
    LabelCache,
    encode_v1,
    encode_v2,
    group_by_series,
    snappy,
)

N = 2000


def _rate(fn: Callable[[], object], loops: int, runs: int) -> float:
    rates = []
    for _ in range(runs):
        start = time.process_time()  # CPU time: the VM is shared, wall time is noisy
        for _ in range(loops):
            fn()
        rates.append(N * loops / (time.process_time() - start))
    return statistics.median(rates)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loops", type=int, default=20)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    labels = [
        (
            ("__name__", "http_requests_total"),
            ("code", "200"),
            ("instance", f"10.0.0.{i % 250}:9100"),
            ("job", "node"),
            ("method", "GET"),
            ("pod", f"pod-{i}"),
        )
        for i in range(N)
    ]
    ts = [1_700_000_000_000] * N
    vals = np.arange(N, dtype=np.float64).tolist()
    series = group_by_series(labels, ts, vals)
    v1 = snappy(encode_v1(series))
    v2 = snappy(encode_v2(series))
    cache = LabelCache()
    req = ExportMetricsServiceRequest()
    metrics = req.resource_metrics.add().scope_metrics.add().metrics.add(name="http.requests")
    for lab, v in zip(labels, vals):
        attrs = [KeyValue(key=k, value=AnyValue(string_value=val)) for k, val in lab[1:]]
        metrics.gauge.data_points.add(time_unix_nano=ts[0] * 1_000_000, as_double=v, attributes=attrs)
    otlp = req.SerializeToString()
    rows = [
        ("remote write 1.0 decode", lambda: decode_write_request(v1, V1_CONTENT_TYPE, "snappy", 1 << 26)),
        ("remote write 2.0 decode", lambda: decode_write_request(v2, V2_CONTENT_TYPE, "snappy", 1 << 26)),
        (
            "remote write 1.0 encode + snappy",
            lambda: snappy(encode_v1(group_by_series(labels, ts, vals), cache=cache)),
        ),
        ("remote write 2.0 encode + snappy", lambda: snappy(encode_v2(group_by_series(labels, ts, vals)))),
        ("OTLP metrics decode (protobuf)", lambda: decode_otlp_metrics(otlp, "application/x-protobuf")),
    ]
    print(f"{N} samples a request; body sizes: 1.0 {len(v1)} B, 2.0 {len(v2)} B, OTLP {len(otlp)} B")
    for name, fn in rows:
        print(f"{name:36s} {_rate(fn, args.loops, args.runs):>12,.0f} samples/s")


if __name__ == "__main__":
    main()
