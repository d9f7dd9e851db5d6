"""Everything the HTTP handlers share: storage, query engine, limits and Heron's own metrics."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from heron.collect.metrics.metadata import MetadataStore
from heron.selfmetrics import Counter, Gauge, Histogram, Registry

if TYPE_CHECKING:
    from heron.collect.metrics.scrape import ScrapeManager
    from heron.config import Settings
    from heron.logql.engine import Engine
    from heron.promconfig import PromConfig
    from heron.promql.engine import Engine as PromEngine
    from heron.ship.remote_write import RemoteWriteFanout
    from heron.storage import Counters, Database, LogBatch
    from heron.workers import QueryPool

__all__ = ["AgentTracker", "ApiLimits", "AppState", "IngestHistory"]


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
    lookback_delta_seconds: float = 300.0  # PromQL: how far back an instant selector looks
    query_max_samples: int = 50_000_000  # PromQL: samples one query may hold at once
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


class IngestHistory:
    """Storage's ingest counters sampled every `interval` seconds over the last `span`: a ring
    of at most span/interval + 1 samples, so the status page's rate chart costs fixed memory."""

    def __init__(self, interval: float = 10.0, span: float = 900.0, clock: Callable[[], float] = time.time):
        self.interval = interval
        self.span = span
        self._clock = clock
        self._samples: deque[tuple[float, int, int, int]] = deque(maxlen=int(span // interval) + 1)
        self._lock = threading.Lock()

    def sample(self, counters: "Counters") -> None:
        with self._lock:
            self._samples.append((self._clock(), counters.log_entries, counters.log_bytes, counters.samples))

    def rates(self, counters: "Counters", since: float) -> list[dict[str, float]]:
        """One point per interval ending after `since` (seconds ago): entries, bytes and samples
        per second between two samples; the last interval ends now, at the live counters."""
        now = self._clock()
        with self._lock:
            points = list(self._samples)
        points.append((now, counters.log_entries, counters.log_bytes, counters.samples))
        out: list[dict[str, float]] = []
        for (t0, e0, b0, s0), (t1, e1, b1, s1) in zip(points, points[1:]):
            dt = t1 - t0
            if dt <= 0 or t1 < now - since:
                continue
            out.append(
                {
                    "start": t0,
                    "end": t1,
                    "entriesPerSecond": max(0, e1 - e0) / dt,
                    "bytesPerSecond": max(0, b1 - b0) / dt,
                    "samplesPerSecond": max(0, s1 - s0) / dt,
                }
            )
        return out


class _Agent:
    __slots__ = ("node", "user_agent", "remote", "first_seen", "last_contact", "pushes", "recent")

    def __init__(self, node: str, user_agent: str, remote: str, now: float):
        self.node, self.user_agent, self.remote = node, user_agent, remote
        self.first_seen = self.last_contact = now
        self.pushes = 0
        self.recent: deque[list[int]] = deque()  # [second, lines, bytes], oldest first


class AgentTracker:
    """Who pushed lately: one row per (node label, User-Agent, remote host), kept for
    `keep_seconds` after its last push, at most `max_agents` (the least recent evicted), each
    with per-second line and byte counts over the last `window_seconds`."""

    def __init__(
        self,
        max_agents: int = 1000,
        keep_seconds: float = 900.0,
        window_seconds: int = 60,
        clock: Callable[[], float] = time.time,
    ):
        self.max_agents = max_agents
        self.keep_seconds = keep_seconds
        self.window_seconds = window_seconds
        self._clock = clock
        self._agents: OrderedDict[tuple[str, str, str], _Agent] = OrderedDict()  # least recent first
        self._lock = threading.Lock()

    def record(self, batches: Sequence["LogBatch"], user_agent: str, remote: str) -> None:
        """A push that storage took: its lines and line bytes, by each stream's `node` label."""
        per_node: dict[str, list[int]] = {}
        for b in batches:
            node = next((v for k, v in b.labels if k == "node"), "")
            counts = per_node.setdefault(node, [0, 0])
            counts[0] += len(b.lines)
            counts[1] += sum(map(len, b.lines))  # map keeps the per-line loop in C
        if not per_node:
            return
        now = self._clock()
        second = int(now)
        with self._lock:
            for node, (lines, nbytes) in per_node.items():
                key = (node, user_agent, remote)
                agent = self._agents.pop(key, None) or _Agent(node, user_agent, remote, now)
                agent.last_contact = now
                agent.pushes += 1
                if agent.recent and agent.recent[-1][0] == second:
                    agent.recent[-1][1] += lines
                    agent.recent[-1][2] += nbytes
                else:
                    agent.recent.append([second, lines, nbytes])
                while agent.recent and agent.recent[0][0] <= second - self.window_seconds:
                    agent.recent.popleft()
                self._agents[key] = agent
            while len(self._agents) > self.max_agents:
                self._agents.popitem(last=False)

    def snapshot(self) -> list[dict[str, Any]]:
        """Agents heard from within keep_seconds, most recent first; rates are the window's
        lines and bytes divided by the window (a new agent's rate climbs to its real one)."""
        now = self._clock()
        horizon = int(now) - self.window_seconds
        with self._lock:
            while self._agents:
                oldest = next(iter(self._agents.values()))
                if oldest.last_contact >= now - self.keep_seconds:
                    break
                self._agents.popitem(last=False)
            agents = list(self._agents.values())
            rows = []
            for a in reversed(agents):
                lines = sum(r[1] for r in a.recent if r[0] > horizon)
                nbytes = sum(r[2] for r in a.recent if r[0] > horizon)
                rows.append(
                    {
                        "node": a.node,
                        "userAgent": a.user_agent,
                        "remoteAddr": a.remote,
                        "firstSeen": a.first_seen,
                        "lastContact": a.last_contact,
                        "pushes": a.pushes,
                        "linesPerSecond": lines / self.window_seconds,
                        "bytesPerSecond": nbytes / self.window_seconds,
                    }
                )
        return rows


@dataclass
class AppState:
    limits: ApiLimits = field(default_factory=ApiLimits)
    db: "Database | None" = None
    engine: "Engine | None" = None
    query_pool: "QueryPool | None" = None  # LogQL and PromQL queries go to worker processes when set
    prom_engine: "PromEngine | None" = None  # PromQL in the server process (query_workers = 0)
    prom_config: "PromConfig | None" = None  # the Prometheus sections, for /api/v1/status/config
    ready: bool = False
    active_tails: int = 0  # WebSocket tails open now (event loop only, so no lock)
    registry: Registry = field(default_factory=Registry)
    ui_dir: Path | None = None  # serve the UI from here instead of the package's build
    settings: "Settings | None" = None  # the effective settings, for /api/v1/status/flags
    started_at: float = field(default_factory=time.time)  # Unix seconds
    ingest: IngestHistory = field(default_factory=IngestHistory)
    agents: AgentTracker = field(default_factory=AgentTracker)
    metadata: MetadataStore = field(default_factory=MetadataStore)  # HELP/TYPE/UNIT by metric
    scrapes: "ScrapeManager | None" = None  # the server's own scraping, for /api/v1/targets
    # `remote_write:` entries: every sample the server ingests (scraped, remote-written, OTLP)
    # is also handed to these senders, which forward it to Mimir, VictoriaMetrics or Prometheus.
    forward: "RemoteWriteFanout | None" = None

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
