"""The scrape manager: pools per `scrape_configs` job, one scheduler, a bounded worker pool.

Prometheus runs a goroutine per target. A Python process on a small node cannot: here one
scheduler thread keeps every target's next slot in a heap and hands due scrapes to a fixed
pool of worker threads (`max_concurrency`), so a thousand targets cost a heap entry each, and a
slow target holds at most one worker for at most its timeout. A target whose previous scrape is
still queued or running skips its slot, as Go's ticker drops ticks.

Slots are Prometheus': a target's first scrape comes at a stable offset inside its interval
(the target's hash, xor a seed from the external labels, modulo the interval), and every later
one an interval after the previous slot, so targets spread evenly over time and keep their
phase across restarts.

Discovery is polled: every second the scheduler compares each pool's discoverers' `version`s
and re-syncs a pool whose targets changed. A vanished target gets staleness markers for all
its series at once (Prometheus waits two intervals first, because a reload may recreate it;
Heron keeps a surviving target's loop across reloads instead). `stop()` writes staleness
markers for every target too: Prometheus skips them on shutdown, but Heron's agent may not come
back on this node, and a series that ends in a marker stops at once in queries instead of
lingering for the five-minute lookback.

The public interface is this module's `__all__`.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import socket
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from heron.collect.metrics.discovery import Discoverer, StaticDiscoverer, TargetGroup
from heron.collect.metrics.metadata import MetadataStore
from heron.collect.metrics.scrapeloop import ScrapeLoop, ScrapeMetrics
from heron.collect.metrics.scrapepool import ScrapePool
from heron.logsetup import log_fields
from heron.model import Labels
from heron.promconfig import ScrapeConfig
from heron.selfmetrics import Gauge, Registry
from heron.storage import SampleColumns

__all__ = ["ScrapeManager", "TargetStatus", "default_discoverers", "static_groups"]

log = logging.getLogger("heron.scrape")

DISCOVERY_POLL_SECONDS = 1.0
DEFAULT_CONCURRENCY = 8


@dataclass(frozen=True)
class TargetStatus:
    """One active target as `/api/v1/targets` renders it. `last_scrape_ns` is 0 before the
    first scrape; `labels` are the public ones (no `__` names)."""

    scrape_pool: str
    discovered_labels: dict[str, str]
    labels: dict[str, str]
    scrape_url: str
    last_error: str
    last_scrape_ns: int
    last_scrape_duration: float
    health: str
    scrape_interval: str
    scrape_timeout: str


def static_groups(cfg: ScrapeConfig) -> list[TargetGroup]:
    """`static_configs` as target groups; sources are the entries' indexes, as Prometheus'."""
    return [
        TargetGroup(
            source=str(i),
            targets=tuple({"__address__": t} for t in sc.targets),
            labels=dict(sc.labels),
        )
        for i, sc in enumerate(cfg.static_configs)
    ]


def default_discoverers(cfg: ScrapeConfig, base_dir: str = ".") -> list[Discoverer]:
    """Static and file discovery; Kubernetes discovery is the caller's to add (it needs a
    connection to the API server)."""
    out: list[Discoverer] = []
    if cfg.static_configs:
        out.append(StaticDiscoverer(static_groups(cfg)))
    if cfg.file_sd_configs:
        from heron.collect.metrics.filesd import FileSD

        out.extend(FileSD(f, base_dir) for f in cfg.file_sd_configs)
    return out


class _RegistryMetrics:
    """The scrape metrics of one registry, shared by every manager that reports to it (a
    family registered twice would render twice, which Prometheus refuses)."""

    def __init__(self, registry: Registry) -> None:
        self.metrics = ScrapeMetrics(registry)
        self.managers: weakref.WeakSet[ScrapeManager] = weakref.WeakSet()
        registry.register(
            Gauge(
                "heron_scrape_targets",
                "Active scrape targets by scrape pool and health (up, down, unknown).",
                self._target_counts,
                ("pool", "health"),
            )
        )

    def _target_counts(self) -> list[tuple[tuple[str, ...], float]]:
        counts: dict[tuple[str, str], int] = {}
        for manager in list(self.managers):
            for key, n in manager._target_counts().items():
                counts[key] = counts.get(key, 0) + n
        return [(k, float(v)) for k, v in sorted(counts.items())]


_BY_REGISTRY: weakref.WeakKeyDictionary[Registry, _RegistryMetrics] = weakref.WeakKeyDictionary()
_BY_REGISTRY_LOCK = threading.Lock()


def _registered(registry: Registry, manager: ScrapeManager) -> ScrapeMetrics:
    with _BY_REGISTRY_LOCK:
        shared = _BY_REGISTRY.get(registry)
        if shared is None:
            shared = _BY_REGISTRY[registry] = _RegistryMetrics(registry)
        shared.managers.add(manager)
        return shared.metrics


def _offset_seed(external_labels: Mapping[str, str]) -> int:
    """Prometheus' offset seed: this host's name and the external labels, so two servers
    scraping the same target (an HA pair) do so at different moments."""
    h = hashlib.blake2b(digest_size=8)
    h.update(socket.gethostname().encode() + b"\xff")
    for k in sorted(external_labels):
        h.update(f"{k}\xff{external_labels[k]}\xff".encode())
    return int.from_bytes(h.digest(), "little")


class ScrapeManager:
    """Scrapes every target of `configs` and hands each scrape to `sink` as one
    `SampleColumns` (the server appends it to storage; the agent queues it for remote write).

    `discoverers(cfg)` gives a config's discoverers (default: static and file_sd, with relative
    file globs resolved from `base_dir`). `registry` gets the `heron_scrape_*` metrics,
    `metadata` every target's HELP/TYPE/UNIT. `series_refs` is the storage's
    `Database.series_refs` when the sink appends to that database: each scrape then carries
    `SampleColumns.refs` kept in the scrape cache, and the append skips hashing label sets.
    """

    def __init__(
        self,
        configs: Sequence[ScrapeConfig],
        sink: Callable[[SampleColumns], None],
        *,
        discoverers: Callable[[ScrapeConfig], list[Discoverer]] | None = None,
        registry: Registry | None = None,
        metadata: MetadataStore | None = None,
        external_labels: Mapping[str, str] = {},
        base_dir: str = ".",
        max_concurrency: int = DEFAULT_CONCURRENCY,
        series_refs: Callable[[Sequence[Labels]], np.ndarray] | None = None,
    ) -> None:
        self._configs = list(configs)
        self._sink = sink
        self._discoverers = discoverers or (lambda cfg: default_discoverers(cfg, base_dir))
        self._metadata = metadata
        self._series_refs = series_refs
        self._seed = _offset_seed(external_labels)
        self._max_concurrency = max(1, max_concurrency)
        self._metrics = _registered(registry if registry is not None else Registry(), self)
        self._lock = threading.RLock()
        self._pools: dict[str, ScrapePool] = {}
        self._heap: list[tuple[float, int, int, ScrapeLoop]] = []
        self._seq = 0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._retiring: set[ScrapeLoop] = set()
        self._started = False

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start discovery and scraping; returns at once (the first scrapes come at their
        offsets within each interval)."""
        with self._lock:
            if self._started:
                return
            self._started = True
            self._executor = ThreadPoolExecutor(self._max_concurrency, thread_name_prefix="heron-scrape")
            configs, self._configs = self._configs, []
        self.apply(configs)
        self._thread = threading.Thread(target=self._run, name="heron-scrape-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop scraping; in-flight scrapes finish (each within its timeout), then every
        target's series get staleness markers through the sink, then this returns."""
        with self._lock:
            if not self._started or self._stopping.is_set():
                return
            self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
            loops = [loop for p in pools for loop in p.stop_loops()] + list(self._retiring)
            self._retiring.clear()
            self._heap.clear()
        for loop in loops:
            self._stale(loop)
        for p in pools:
            p.stop_discovery()

    # -- configuration -----------------------------------------------------------------------

    def apply(self, configs: Sequence[ScrapeConfig]) -> None:
        """Reload: new jobs start, removed ones stop (their targets go stale), changed ones are
        reconfigured in place; a target that survives keeps its loop and scrape cache."""
        wanted = {c.job_name: c for c in configs}
        stop_discovery: list[ScrapePool] = []
        old_discoverers: list[Discoverer] = []
        with self._lock:
            if not self._started:
                self._configs = list(configs)
                return
            if self._stopping.is_set():
                return
            for name in [n for n in self._pools if n not in wanted]:
                pool = self._pools.pop(name)
                self._retire(pool.stop_loops())
                stop_discovery.append(pool)
            for name, cfg in wanted.items():
                pool = self._pools.get(name)
                if pool is not None and pool.cfg == cfg:
                    continue
                if pool is not None:
                    if not pool.reusable(cfg):
                        old_discoverers.extend(pool.replace_discoverers(self._discoverers(cfg)))
                    started, removed = pool.reconfigure(cfg, pool.groups())
                    self._retire(removed)
                    self._schedule(started)
                    continue
                pool = ScrapePool(
                    cfg, self._discoverers(cfg), self._sink, self._metrics, self._metadata, self._series_refs
                )
                self._pools[name] = pool
                pool.start()
                started, removed = pool.sync(pool.groups())
                self._retire(removed)
                self._schedule(started)
            self._configs = list(configs)
        for pool in stop_discovery:
            pool.stop_discovery()
        for d in old_discoverers:
            try:
                d.stop()
            except Exception:
                log.exception("a discoverer failed to stop")
        self._wake.set()

    # -- scheduling --------------------------------------------------------------------------

    def _first_due(self, loop: ScrapeLoop, now: float) -> float:
        """Prometheus' Target.offset: a stable phase within the interval, from the hash."""
        interval_ns = max(1, int(loop.target.interval * 1e9))
        now_ns = int(now * 1e9)
        base = interval_ns - now_ns % interval_ns
        offset = (loop.target.hash ^ self._seed) % interval_ns
        nxt = base + offset
        if nxt > interval_ns:
            nxt -= interval_ns
        return (now_ns + nxt) / 1e9

    def _schedule(self, loops: Sequence[ScrapeLoop]) -> None:
        now = time.time()
        for loop in loops:
            loop.sched_token += 1
            self._push(self._first_due(loop, now), loop)

    def _push(self, due: float, loop: ScrapeLoop) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, loop.sched_token, loop))

    def _retire(self, loops: Sequence[ScrapeLoop]) -> None:
        """Stop scheduling `loops` and write their staleness markers on a worker (a loop in
        the middle of a scrape finishes it first)."""
        for loop in loops:
            loop.sched_token += 1
            self._retiring.add(loop)
            assert self._executor is not None
            self._executor.submit(self._stale, loop)

    def _stale(self, loop: ScrapeLoop) -> None:
        try:
            loop.stale()
        except Exception:
            log.exception("writing staleness markers failed", extra=log_fields(url=loop.target.url))
        finally:
            with self._lock:
                self._retiring.discard(loop)

    def _run(self) -> None:
        next_poll = time.time() + DISCOVERY_POLL_SECONDS
        while not self._stopping.is_set():
            now = time.time()
            if now >= next_poll:
                self._poll_discovery()
                next_poll = now + DISCOVERY_POLL_SECONDS
            with self._lock:
                self._dispatch(now)
                wait = next_poll - now
                if self._heap:
                    wait = min(wait, self._heap[0][0] - now)
            self._wake.wait(max(0.0, wait))
            self._wake.clear()

    def _dispatch(self, now: float) -> None:
        assert self._executor is not None
        while self._heap and self._heap[0][0] <= now:
            due, _, token, loop = heapq.heappop(self._heap)
            if token != loop.sched_token or loop.stopped:
                continue
            if not loop.busy:
                loop.busy = True
                self._executor.submit(self._scrape, loop, due)
            interval = loop.target.interval
            nxt = due + interval
            if nxt <= now:  # far behind (a suspended process): skip missed slots, keep the phase
                nxt += ((now - nxt) // interval + 1) * interval
            self._push(nxt, loop)

    @staticmethod
    def _scrape(loop: ScrapeLoop, due: float) -> None:
        try:
            loop.scrape(due)
        except Exception:  # a bug must not kill the worker thread or the target's schedule
            log.exception("scrape failed unexpectedly", extra=log_fields(url=loop.target.url))
        finally:
            loop.busy = False

    def _poll_discovery(self) -> None:
        with self._lock:
            for pool in self._pools.values():
                try:
                    if not pool.changed():
                        continue
                    started, removed = pool.sync(pool.groups())
                except Exception:
                    log.exception("syncing discovered targets failed", extra=log_fields(pool=pool.name))
                    continue
                self._retire(removed)
                self._schedule(started)

    # -- reading -----------------------------------------------------------------------------

    def _loops(self, pool: str | None = None) -> list[ScrapeLoop]:
        with self._lock:
            pools = [self._pools[n] for n in sorted(self._pools) if pool is None or n == pool]
            loops: list[ScrapeLoop] = []
            for p in pools:
                loops.extend(
                    sorted(p.loops.values(), key=lambda lp: (lp.target.url, lp.target.public_labels))
                )
            return loops

    def active_targets(self, pool: str | None = None) -> list[TargetStatus]:
        """Every active target, by pool name then URL (the targets API's order)."""
        out = []
        for loop in self._loops(pool):
            t = loop.target
            out.append(
                TargetStatus(
                    scrape_pool=t.pool,
                    discovered_labels=dict(t.discovered_labels),
                    labels=dict(t.public_labels),
                    scrape_url=t.url,
                    last_error=loop.last_error,
                    last_scrape_ns=loop.last_scrape_ns,
                    last_scrape_duration=loop.last_duration,
                    health=loop.health,
                    scrape_interval=t.interval_text,
                    scrape_timeout=t.timeout_text,
                )
            )
        return out

    def dropped_targets(self, pool: str | None = None) -> list[dict[str, str]]:
        """discoveredLabels of the targets relabeling dropped, by pool name."""
        with self._lock:
            out: list[dict[str, str]] = []
            for name in sorted(self._pools):
                if pool is None or name == pool:
                    out.extend(dict(d) for d in self._pools[name].dropped)
            return out

    def pools(self) -> list[str]:
        with self._lock:
            return sorted(self._pools)

    def target_metadata(
        self,
        match: Callable[[Labels], bool] | None = None,
        metric: str | None = None,
        limit: int = -1,
    ) -> list[dict[str, Any]]:
        """`/api/v1/targets/metadata`'s data, as Prometheus computes it: per active target
        matching `match` (on its public labels), its metadata for `metric` or for all; the
        limit is checked per target, so the answer may run a little past it, as there."""
        res: list[dict[str, Any]] = []
        for loop in self._loops():
            if 0 <= limit <= len(res):
                break
            labels = loop.target.public_labels
            if match is not None and not match(labels):
                continue
            meta = loop.metadata
            target = dict(labels)
            if metric is None:
                for name in sorted(meta):
                    m = meta[name]
                    res.append(
                        {"target": target, "metric": name, "type": m.type, "help": m.help, "unit": m.unit}
                    )
            elif metric in meta:
                m = meta[metric]
                res.append({"target": target, "type": m.type, "help": m.help, "unit": m.unit})
        return res

    def _target_counts(self) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        with self._lock:
            for name, pool in self._pools.items():
                for h in ("up", "down", "unknown"):
                    counts[(name, h)] = 0
                for loop in pool.loops.values():
                    counts[(name, loop.health)] += 1
        return counts
