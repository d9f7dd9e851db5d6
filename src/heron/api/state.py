"""Everything the HTTP handlers share: storage, query engine, limits and Heron's own metrics."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from heron.selfmetrics import Counter, Gauge, Histogram, Registry

if TYPE_CHECKING:
    from heron.logql.engine import Engine
    from heron.storage import Database
    from heron.workers import QueryPool

__all__ = ["ApiLimits", "AppState"]


@dataclass(frozen=True)
class ApiLimits:
    max_push_body_bytes: int = 64 * 1024 * 1024
    ingestion_rate_bytes: float = 64 * 1024 * 1024  # per second, token bucket
    ingestion_burst_bytes: float = 128 * 1024 * 1024
    max_entries_per_query: int = 5000
    max_series_per_query: int = 500
    query_timeout_seconds: float = 120.0
    query_memory_bytes: int = 256 * 1024 * 1024
    query_workers: int = 0  # 0 = evaluate in the server process
    request_read_timeout_seconds: float = 30.0
    max_concurrent_tails: int = 10


class TokenBucket:
    """Ingestion rate limit: pushes beyond the sustained rate plus burst get 429, as in Loki."""

    def __init__(self, rate: float, burst: float):
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updated = time.monotonic()
        self._lock = threading.Lock()

    def take(self, n: float) -> bool:
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if n > self.tokens:
                return False
            self.tokens -= n
            return True


@dataclass
class AppState:
    limits: ApiLimits = field(default_factory=ApiLimits)
    db: "Database | None" = None
    engine: "Engine | None" = None
    query_pool: "QueryPool | None" = None  # LogQL queries go to worker processes when set
    ready: bool = False
    active_tails: int = 0  # WebSocket tails open now (event loop only, so no lock)
    registry: Registry = field(default_factory=Registry)
    ui_dir: Path | None = None  # serve the UI from here instead of the package's build

    def __post_init__(self) -> None:
        r = self.registry
        self.bucket = TokenBucket(self.limits.ingestion_rate_bytes, self.limits.ingestion_burst_bytes)
        self.push_requests: Counter = r.counter(
            "heron_push_requests_total", "Push requests by API and HTTP status code.", ("api", "code")
        )
        self.queries: Counter = r.counter(
            "heron_queries_total", "Queries by endpoint and outcome.", ("endpoint", "outcome")
        )
        self.query_seconds: Histogram = r.histogram(
            "heron_query_duration_seconds", "Query execution time by endpoint.", ("endpoint",)
        )
        r.register(
            Gauge(
                "heron_ingested_log_entries_total",
                "Log entries stored.",
                lambda: self._c("log_entries"),
                kind="counter",
            )
        )
        r.register(
            Gauge(
                "heron_ingested_log_bytes_total",
                "Log line bytes stored.",
                lambda: self._c("log_bytes"),
                kind="counter",
            )
        )
        r.register(
            Gauge(
                "heron_ingested_samples_total",
                "Metric samples stored.",
                lambda: self._c("samples"),
                kind="counter",
            )
        )
        r.register(
            Gauge(
                "heron_duplicate_entries_total",
                "Entries acknowledged but already stored.",
                lambda: self._c("duplicates"),
                kind="counter",
            )
        )
        r.register(
            Gauge(
                "heron_rejected_entries_total",
                "Entries refused by storage, by reason.",
                self._rejections,
                ("reason",),
                kind="counter",
            )
        )
        for key, name, help in (
            ("head_series", "heron_head_series", "Series in the in-memory head."),
            ("head_bytes", "heron_head_bytes", "Approximate bytes held by the head."),
            ("blocks", "heron_blocks", "Blocks on disk."),
            ("blocks_bytes", "heron_blocks_bytes", "Bytes of blocks on disk."),
            ("wal_bytes", "heron_wal_bytes", "Bytes of WAL segments on disk."),
        ):
            r.register(Gauge(name, help, lambda k=key: self._stat(k)))
        r.register(
            Gauge(
                "heron_wal_fsync_seconds_total",
                "Time spent in WAL fsync.",
                lambda: self._stat("wal_fsync_seconds_total"),
                kind="counter",
            )
        )
        r.register(
            Gauge(
                "heron_wal_fsyncs_total",
                "WAL fsync calls.",
                lambda: self._stat("wal_fsyncs_total"),
                kind="counter",
            )
        )
        r.register(
            Gauge(
                "heron_wal_write_failures_total",
                "WAL writes, fsyncs and segment creations that failed (a full or failing disk).",
                lambda: self._stat("wal_write_failures_total"),
                kind="counter",
            )
        )
        r.register(
            Gauge(
                "heron_data_dir_free_bytes",
                "Free bytes of the filesystem holding the data dir.",
                lambda: self._stat("data_dir_free_bytes"),
            )
        )
        for attr, name, help in (
            ("head_cuts", "heron_head_cuts_total", "Heads persisted into blocks."),
            ("compactions", "heron_compactions_total", "Block merges."),
            (
                "retention_dropped_blocks",
                "heron_retention_dropped_blocks_total",
                "Blocks deleted by retention.",
            ),
            (
                "quarantined_blocks",
                "heron_quarantined_blocks_total",
                "Blocks moved to quarantine after a checksum failure.",
            ),
            (
                "head_cut_failures",
                "heron_head_cut_failures_total",
                "Head cuts that failed (a full disk); the head stays in memory and is cut later.",
            ),
            (
                "compaction_failures",
                "heron_compaction_failures_total",
                "Compactions that failed (a full disk); their blocks stay as they are.",
            ),
        ):
            r.register(Gauge(name, help, lambda a=attr: self._c(a), kind="counter"))
        r.register(
            Gauge(
                "heron_active_tails", "Live tail WebSockets open.", lambda: [((), float(self.active_tails))]
            ),
        )
        r.register(
            Gauge(
                "heron_ready",
                "1 once storage is open and the WAL replayed.",
                lambda: [((), 1.0 if self.ready else 0.0)],
            )
        )

    def _c(self, attr: str) -> list[tuple[tuple[str, ...], float]]:
        if self.db is None:
            return []
        return [((), float(getattr(self.db.counters, attr)))]

    def _rejections(self) -> list[tuple[tuple[str, ...], float]]:
        if self.db is None:
            return []
        return [((reason,), float(n)) for reason, n in sorted(self.db.counters.rejected.items())]

    def _stat(self, key: str) -> list[tuple[tuple[str, ...], float]]:
        if self.db is None:
            return []
        return [((), float(self.db.stats()[key]))]
