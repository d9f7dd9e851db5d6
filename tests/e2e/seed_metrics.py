"""Demo-like metrics for the browser tests, remote-written into the shared e2e server: cAdvisor's
container CPU, memory and start time for the pods the log seed (seed.py) writes as, and `up`
for one target that answers and one that does not. Every series has `job="e2e-metrics"`.

The samples are a function of time alone (counters grow at a fixed rate per pod, the postgres
container restarted 20 minutes before the first seed), so a later call only appends what is
new since the last one: any test module can call `seed_metrics` first, in any order, and the
series read the same.
"""

from __future__ import annotations

import time

import httpx
from seed import STREAMS

from heron.collect.metrics.metadata import MetricMetadata
from heron.model import Labels, labels_from
from heron.ship.remote_write_encode import V1_CONTENT_TYPE, encode_v1, snappy

__all__ = ["CPU_CORES", "INTERVAL_MS", "JOB", "MEMORY_BYTES", "RESTARTED_POD", "seed_metrics"]

JOB = "e2e-metrics"
INTERVAL_MS = 15_000
SPAN_MS = 3_600_000
# Cores each pod uses, and its working set: what the overview and the explorer show.
CPU_CORES = {
    "checkout-7d9f-abcde": 0.25,
    "payments-5c4b-fghij": 0.125,
    "frontend-6f8d-klmno": 0.5,
    "postgres-0": 1.0,
}
MEMORY_BYTES = {
    "checkout-7d9f-abcde": 128 * 2**20,
    "payments-5c4b-fghij": 96 * 2**20,
    "frontend-6f8d-klmno": 64 * 2**20,
    "postgres-0": 512 * 2**20,
}
RESTARTED_POD = "postgres-0"

METADATA = {
    "container_cpu_usage_seconds_total": MetricMetadata("counter", "Cumulative cpu time consumed."),
    "container_memory_working_set_bytes": MetricMetadata("gauge", "Current working set in bytes."),
    "container_start_time_seconds": MetricMetadata("gauge", "Start time of the container, Unix seconds."),
    "up": MetricMetadata("gauge", "1 if the target answered its last scrape, else 0."),
}

# Per server: (the first sample's time, the last sample pushed).
_seeded: dict[str, tuple[int, int]] = {}


def _series(origin: int, t: int) -> dict[Labels, float]:
    restart = origin + SPAN_MS - 20 * 60_000
    out: dict[Labels, float] = {}
    for s in STREAMS:
        base = {"job": JOB, "namespace": s["namespace"], "pod": s["pod"], "container": s["container"]}
        cadvisor = {**base, "image": f"registry.example/{s['app']}:1", "instance": f"{s['node']}:10250"}
        cpu = labels_from({"__name__": "container_cpu_usage_seconds_total", **cadvisor})
        out[cpu] = CPU_CORES[s["pod"]] * (t - origin) / 1000
        memory = labels_from({"__name__": "container_memory_working_set_bytes", **cadvisor})
        out[memory] = float(MEMORY_BYTES[s["pod"]])
        # As the kubelet's resource endpoint has it: one series per container (no image, no
        # container id), whose value moves when the container restarts.
        started = restart if s["pod"] == RESTARTED_POD and t >= restart else origin - 86_400_000
        out[labels_from({"__name__": "container_start_time_seconds", **base})] = started / 1000
    out[labels_from({"__name__": "up", "job": JOB, "instance": "e2e-up:9100"})] = 1.0
    out[labels_from({"__name__": "up", "job": JOB, "instance": "e2e-down:9100"})] = 0.0
    return out


def seed_metrics(base_url: str) -> None:
    """The last hour of samples, every 15 s, up to now (only the new ones after the first call)."""
    now = int(time.time() * 1000) // INTERVAL_MS * INTERVAL_MS
    origin, last = _seeded.get(base_url, (now - SPAN_MS, now - SPAN_MS - INTERVAL_MS))
    stamps = range(last + INTERVAL_MS, now + 1, INTERVAL_MS)
    if len(stamps) == 0:
        return
    samples: dict[Labels, list[tuple[int, float]]] = {}
    for t in stamps:
        for labels, value in _series(origin, t).items():
            samples.setdefault(labels, []).append((t, value))
    r = httpx.post(
        f"{base_url}/api/v1/write",
        content=snappy(encode_v1(samples, METADATA)),
        headers={"Content-Type": V1_CONTENT_TYPE, "Content-Encoding": "snappy"},
        timeout=30,
    )
    r.raise_for_status()
    _seeded[base_url] = (origin, now)
