"""Metric metadata (HELP, TYPE, UNIT) as `/api/v1/metadata` serves it.

Prometheus keeps metadata per target in its scrape cache and answers the API from the union;
Heron does the same for scraped targets and adds what remote-write and OTLP senders declare.
Memory is bounded: one entry per distinct (metric, type, help, unit), capped in count.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["MetricMetadata", "MetadataStore"]


@dataclass(frozen=True)
class MetricMetadata:
    """One metric family's declared metadata. `type` is Prometheus' word for it: counter,
    gauge, histogram, gaugehistogram, summary, info, stateset or unknown."""

    type: str = "unknown"
    help: str = ""
    unit: str = ""


class MetadataStore:
    """Metadata by metric name, from every source, bounded to `max_entries` distinct entries
    (the oldest source's entries are not evicted: past the cap, new ones are ignored)."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._by_metric: dict[str, set[MetricMetadata]] = {}
        self._count = 0
        self._lock = threading.Lock()

    def update(self, items: dict[str, MetricMetadata]) -> None:
        with self._lock:
            for name, meta in items.items():
                have = self._by_metric.get(name)
                if have is not None and meta in have:
                    continue
                if self._count >= self.max_entries:
                    return
                if have is None:
                    have = self._by_metric[name] = set()
                have.add(meta)
                self._count += 1

    def query(self, metric: str | None = None, limit: int | None = None) -> dict[str, list[MetricMetadata]]:
        """The API's answer: metric -> its distinct metadata, sorted by name (Prometheus' map
        has no order; a stable one makes pages and tests deterministic)."""
        with self._lock:
            names = [metric] if metric is not None else sorted(self._by_metric)
            out: dict[str, list[MetricMetadata]] = {}
            for name in names:
                have = self._by_metric.get(name)
                if not have:
                    continue
                out[name] = sorted(have, key=lambda m: (m.type, m.help, m.unit))
                if limit is not None and len(out) >= limit:
                    break
            return out
