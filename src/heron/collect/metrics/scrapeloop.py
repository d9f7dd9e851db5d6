"""One target's scrape: fetch, parse, map through the scrape cache, report, hand to the sink.

The loop does not keep time itself; `ScrapeManager`'s scheduler calls `scrape(due)` at the
target's slots and this module turns one call into exactly one sink call holding the body's
samples, the staleness markers of vanished series and the five synthetic series Prometheus
writes (`up`, `scrape_duration_seconds`, `scrape_samples_scraped`,
`scrape_samples_post_metric_relabeling`, `scrape_series_added`).

Timestamps follow Prometheus' alignment: a scrape that starts within 2 ms of its slot is
stamped with the slot itself, so a series' timestamps are exact multiples of the interval and
its chunks compress to almost nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Container, Mapping

import numpy as np

from heron.collect.metrics.httpclient import FetchError, ScrapeClient
from heron.collect.metrics.metadata import MetadataStore, MetricMetadata
from heron.collect.metrics.scrapecache import LabelError, SampleLimitError, ScrapeCache
from heron.logsetup import log_fields
from heron.model import STALE_NAN, Labels, labels_from
from heron.selfmetrics import Registry
from heron.storage import SampleColumns

__all__ = [
    "REPORT_NAMES",
    "SCRAPE_TIMESTAMP_TOLERANCE",
    "ScrapeLoop",
    "ScrapeMetrics",
    "ScrapeTarget",
    "parse_prom_duration",
    "target_hash",
]

log = logging.getLogger("heron.scrape")

SCRAPE_TIMESTAMP_TOLERANCE = 0.002  # seconds; Prometheus' ScrapeTimestampTolerance
REPORT_NAMES = (
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
)

_DURATION_RE = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_DURATION_UNITS = (365 * 86400.0, 7 * 86400.0, 86400.0, 3600.0, 60.0, 1.0, 0.001)


def parse_prom_duration(text: str) -> float:
    """Prometheus' model.ParseDuration (`1m30s`, `500ms`, `0`) in seconds; ValueError else."""
    if text == "0":
        return 0.0
    m = _DURATION_RE.match(text)
    if not text or m is None:
        raise ValueError(f'not a valid duration string: "{text}"')
    return sum(float(g) * unit for g, unit in zip(m.groups(), _DURATION_UNITS) if g)


def target_hash(labels: Mapping[str, str], url: str) -> int:
    """Stable 64-bit identity of a target (all final labels and its URL), as Prometheus'
    Target.hash: it names the target across discovery updates and sets its scrape offset."""
    h = hashlib.blake2b(digest_size=8)
    for name in sorted(labels):
        h.update(name.encode())
        h.update(b"\xff")
        h.update(labels[name].encode())
        h.update(b"\xff")
    h.update(url.encode())
    return int.from_bytes(h.digest(), "little")


@dataclass(frozen=True)
class ScrapeTarget:
    """A target as discovery and relabeling left it. `labels` are the final labels including
    the `__`-prefixed ones (`__address__`, `__scheme__`...); `public_labels` are those the
    series get and the targets API shows."""

    pool: str
    labels: dict[str, str]
    discovered_labels: dict[str, str]
    url: str
    interval: float
    timeout: float
    hash: int
    interval_text: str
    timeout_text: str
    error: str | None = None  # a forced error (bad interval label): every scrape fails with it
    public_labels: Labels = field(default=())

    def __post_init__(self) -> None:
        if not self.public_labels:
            public = labels_from({k: v for k, v in self.labels.items() if not k.startswith("__")})
            object.__setattr__(self, "public_labels", public)


class ScrapeMetrics:
    """The `heron_scrape_*` counters the managers of one registry share among their loops."""

    def __init__(self, registry: Registry) -> None:
        self.samples = registry.counter(
            "heron_scrape_samples_scraped_total",
            "Samples read from scrape bodies, by scrape pool.",
            ("pool",),
        )
        self.scrapes = registry.counter(
            "heron_scrapes_total", "Scrapes attempted, by scrape pool.", ("pool",)
        )
        self.errors = registry.counter(
            "heron_scrape_errors_total", "Scrapes that failed, by scrape pool and reason.", ("pool", "reason")
        )
        self.sink_errors = registry.counter(
            "heron_scrape_sink_errors_total",
            "Scrapes whose samples could not be handed on (storage or queue refused them).",
            ("pool",),
        )
        self.duration = registry.histogram(
            "heron_scrape_duration_seconds",
            "Scrape time (fetch, parse and append), by scrape pool.",
            ("pool",),
        )


class ScrapeLoop:
    """One target's scrape state. `scrape()` and `stale()` take the loop's lock, so a target
    removed while it is being scraped gets its staleness markers after that scrape."""

    def __init__(
        self,
        target: ScrapeTarget,
        client: ScrapeClient,
        cache: ScrapeCache,
        sink: Callable[[SampleColumns], None],
        parse: Callable[[bytes, str | None, Container[bytes] | None], object],
        no_timestamp: int,
        metrics: ScrapeMetrics,
        metadata: MetadataStore | None,
        forced_error: Callable[[], str | None] = lambda: None,
    ):
        self.target = target
        self.client = client
        self.cache = cache
        self._sink = sink
        self._parse = parse
        self._no_timestamp = no_timestamp
        self._metrics = metrics
        self._metadata_store = metadata
        self._forced_error = forced_error
        self.lock = threading.Lock()
        self.stopped = False
        self.busy = False  # queued or running (the scheduler's flag: one pending scrape per target)
        self.sched_token = 0  # the scheduler's: heap entries with an older token are ignored
        self.health = "unknown"
        self.last_error = ""
        self.last_scrape_ns = 0  # wall-clock start of the last scrape, 0 = never
        self.last_duration = 0.0
        self.metadata: dict[str, MetricMetadata] = {}
        self._aligned: float | None = None
        self._report_labels = [
            labels_from({**dict(target.public_labels), "__name__": n}) for n in REPORT_NAMES
        ]
        self._reported = False
        self._last_ts_ms = 0  # the last scrape's timestamp: staleness markers come after it

    def retarget(self, target: ScrapeTarget) -> None:
        """Same target identity, new discovered labels (a discovery update or a reload). No
        lock: the scheduler calls this and must not wait out a scrape in progress; swapping
        the immutable target is atomic, and a scrape under way finishes with the old one."""
        if target.interval != self.target.interval:
            self._aligned = None
        self.target = target

    def _timestamp(self, due: float, now: float) -> float:
        """Prometheus' alignment: the slot time if we start within the tolerance of it."""
        interval = self.target.interval
        if self._aligned is None:
            self._aligned = due
        if interval > 100 * SCRAPE_TIMESTAMP_TOLERANCE:
            while now - self._aligned >= interval:
                self._aligned += interval
            if 0 <= now - self._aligned <= SCRAPE_TIMESTAMP_TOLERANCE:
                return self._aligned
        return now

    def scrape(self, due: float) -> None:
        """One scrape at slot `due` (Unix seconds). Never raises: every failure is the
        target's lastError, `up` 0 and a counter."""
        with self.lock:
            if self.stopped:
                return
            self._scrape(due)

    def _scrape(self, due: float) -> None:
        t = self.target
        pool = t.pool
        start_ns = time.time_ns()
        start_mono = time.monotonic()
        ts_ms = int(self._timestamp(due, start_ns / 1e9) * 1000)
        self._metrics.scrapes.inc(1, pool)
        error: str | None = None
        reason = ""
        processed = None
        total = added = series_added = 0
        forced = t.error or self._forced_error()
        if forced:
            error, reason = forced, "forced"
        else:
            try:
                body, content_type = self.client.fetch(t.url, t.timeout)
                exposition = self._parse(body, content_type, self.cache.known)
                series = exposition.series  # type: ignore[attr-defined]
                total = len(series)
                processed = self.cache.process(
                    series,
                    exposition.values,  # type: ignore[attr-defined]
                    exposition.timestamps,  # type: ignore[attr-defined]
                    ts_ms,
                    self._no_timestamp,
                )
                self._update_metadata(exposition.metadata)  # type: ignore[attr-defined]
            except FetchError as exc:
                error, reason = str(exc), exc.reason
            except (LabelError, SampleLimitError) as exc:
                error, reason = str(exc), exc.reason
                if isinstance(exc, SampleLimitError):
                    total, added, series_added = exc.total, exc.added, exc.series_added
            except ValueError as exc:  # ExpositionError is a ValueError
                error, reason = str(exc), "parse"
            except Exception as exc:  # a bug: the target shows it as down, the loop goes on
                log.exception("scrape failed unexpectedly", extra=log_fields(pool=pool, url=t.url))
                error, reason = f"internal error: {type(exc).__name__}: {exc}", "internal"
        duration = time.monotonic() - start_mono
        refs = None
        if processed is not None:
            labels = processed.labels
            ts, vals, refs = processed.timestamps, processed.values, processed.refs
            total, added, series_added = processed.total, processed.added, processed.series_added
        else:
            labels = self.cache.fail()
            ts = np.full(len(labels), ts_ms, dtype=np.int64)
            vals = np.full(len(labels), STALE_NAN, dtype=np.float64)
        report = np.array(
            [0.0 if error else 1.0, duration, float(total), float(added), float(series_added)],
            dtype=np.float64,
        )
        columns = SampleColumns(
            labels=labels + self._report_labels,
            timestamps=np.concatenate([ts, np.full(len(REPORT_NAMES), ts_ms, dtype=np.int64)]),
            values=np.concatenate([vals, report]),
            refs=None
            if refs is None
            else np.concatenate([refs, np.full(len(REPORT_NAMES), -1, dtype=np.int64)]),
        )
        self._reported = True
        self._last_ts_ms = ts_ms
        self.health = "down" if error else "up"
        self.last_error = error or ""
        self.last_scrape_ns = start_ns
        self.last_duration = duration
        self._metrics.duration.observe(duration, pool)
        if error:
            self._metrics.errors.inc(1, pool, reason)
            log.debug("scrape failed", extra=log_fields(pool=pool, url=t.url, error=error))
        else:
            self._metrics.samples.inc(total, pool)
        self._deliver(columns)

    def _update_metadata(self, metadata: dict[str, MetricMetadata]) -> None:
        if metadata != self.metadata:
            self.metadata = dict(metadata)
            if self._metadata_store is not None:
                self._metadata_store.update(self.metadata)

    def _deliver(self, columns: SampleColumns) -> None:
        try:
            self._sink(columns)
        except Exception as exc:  # storage full, queue closed: counted, the loop goes on
            self._metrics.sink_errors.inc(1, self.target.pool)
            log.warning(
                "scraped samples could not be stored",
                extra=log_fields(pool=self.target.pool, url=self.target.url, error=str(exc)),
            )

    def stale(self) -> None:
        """The target is gone (or the manager stops): stale markers for all its series and
        its synthetic ones, at the current time; afterwards the loop never scrapes again."""
        with self.lock:
            if self.stopped:
                return
            self.stopped = True
            labels = self.cache.reset()
            if self._reported:
                labels = labels + self._report_labels
            self.client.close()
            if not labels:
                return
            now_ms = max(time.time_ns() // 1_000_000, self._last_ts_ms + 1)
            n = len(labels)
            self._deliver(
                SampleColumns(
                    labels=labels,
                    timestamps=np.full(n, now_ms, dtype=np.int64),
                    values=np.full(n, STALE_NAN, dtype=np.float64),
                )
            )

    def stop_quietly(self) -> None:
        """Stop without staleness markers (the cache moved to a successor loop)."""
        with self.lock:
            self.stopped = True
            self.client.close()
