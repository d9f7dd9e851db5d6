"""One scrape pool (a `scrape_configs` job): its discoverers, targets and their loops.

A pool turns its discoverers' target groups into targets as Prometheus' scrapePool.Sync does:
`populate_labels` for each discovered target (relabel_configs, defaults, instance), targets
dropped by relabeling kept aside for the targets API, duplicates (same labels and URL) merged,
and `target_limit` enforced by failing every target's scrape with Prometheus' message.

The pool only decides *what* to scrape; `ScrapeManager` decides when, on its scheduler.
"""

from __future__ import annotations

import logging
import ssl
from typing import Callable, Sequence

import numpy as np

from heron.collect.metrics.discovery import Discoverer, TargetGroup
from heron.collect.metrics.exposition import ACCEPT_HEADER, NO_TIMESTAMP, parse_exposition, series_labels
from heron.collect.metrics.httpclient import HttpSettings, ScrapeClient, build_ssl_context
from heron.collect.metrics.metadata import MetadataStore
from heron.collect.metrics.scrapecache import CacheSettings, ScrapeCache
from heron.collect.metrics.scrapeloop import (
    ScrapeLoop,
    ScrapeMetrics,
    ScrapeTarget,
    parse_prom_duration,
    target_hash,
)
from heron.logsetup import log_fields
from heron.model import Labels
from heron.promconfig import ScrapeConfig, populate_labels, relabel, target_url
from heron.storage import SampleColumns

__all__ = ["ScrapePool", "cache_settings", "http_settings"]

log = logging.getLogger("heron.scrape")


def http_settings(cfg: ScrapeConfig) -> HttpSettings:
    return HttpSettings(
        accept=ACCEPT_HEADER,
        basic_auth=cfg.basic_auth,
        authorization=cfg.authorization,
        tls_config=cfg.tls_config,
        follow_redirects=cfg.follow_redirects,
        enable_compression=cfg.enable_compression,
        body_size_limit=cfg.body_size_limit,
    )


def cache_settings(cfg: ScrapeConfig) -> CacheSettings:
    return CacheSettings(
        honor_labels=cfg.honor_labels,
        honor_timestamps=cfg.honor_timestamps,
        sample_limit=cfg.sample_limit,
        label_limit=cfg.label_limit,
        label_name_length_limit=cfg.label_name_length_limit,
        label_value_length_limit=cfg.label_value_length_limit,
        metric_relabel_configs=tuple(cfg.metric_relabel_configs),
    )


def _sd_part(cfg: ScrapeConfig) -> tuple[object, ...]:
    """The parts of a config that decide its discoverers: equal means keep them running."""
    return (cfg.static_configs, cfg.file_sd_configs, cfg.kubernetes_sd_configs)


class ScrapePool:
    """Not thread-safe by itself: the manager calls it under its own lock."""

    def __init__(
        self,
        cfg: ScrapeConfig,
        discoverers: list[Discoverer],
        sink: Callable[[SampleColumns], None],
        metrics: ScrapeMetrics,
        metadata: MetadataStore | None,
        series_refs: Callable[[Sequence[Labels]], np.ndarray] | None = None,
    ):
        self.cfg = cfg
        self._series_refs = series_refs
        self.discoverers = discoverers
        self._sink = sink
        self._metrics = metrics
        self._metadata = metadata
        self.loops: dict[int, ScrapeLoop] = {}
        self.dropped: list[dict[str, str]] = []
        self.versions: tuple[int, ...] = ()
        self.limit_error: str | None = None
        self._configure(cfg)

    @property
    def name(self) -> str:
        return self.cfg.job_name

    def _configure(self, cfg: ScrapeConfig) -> None:
        self.cfg = cfg
        self._http = http_settings(cfg)
        self._cache_settings = cache_settings(cfg)
        self.config_error: str | None = None
        self._ssl: ssl.SSLContext | None = None
        try:
            self._ssl = build_ssl_context(cfg.tls_config)
        except (OSError, ssl.SSLError, ValueError) as exc:
            # Every https target of the pool fails with this until the files are fixed.
            self.config_error = f"error creating HTTP client: unable to load TLS configuration: {exc}"

    def start(self) -> None:
        for d in self.discoverers:
            d.start()

    def stop_discovery(self) -> None:
        for d in self.discoverers:
            try:
                d.stop()
            except Exception:
                log.exception("a discoverer failed to stop", extra=log_fields(pool=self.name))

    def changed(self) -> bool:
        return tuple(d.version for d in self.discoverers) != self.versions

    def groups(self) -> list[TargetGroup]:
        self.versions = tuple(d.version for d in self.discoverers)
        out: list[TargetGroup] = []
        for d in self.discoverers:
            out.extend(d.groups())
        return out

    def reusable(self, cfg: ScrapeConfig) -> bool:
        """Whether `cfg` can take over this pool's discoverers (same sd configs)."""
        return _sd_part(cfg) == _sd_part(self.cfg)

    def replace_discoverers(self, discoverers: list[Discoverer]) -> list[Discoverer]:
        """Start `discoverers` in place of the current ones; returns the old ones, for the
        caller to stop (outside its lock: stopping may wait on a thread)."""
        old, self.discoverers = self.discoverers, discoverers
        self.versions = ()
        self.start()
        return old

    def _build_targets(
        self, groups: Sequence[TargetGroup]
    ) -> tuple[dict[int, ScrapeTarget], list[dict[str, str]]]:
        active: dict[int, ScrapeTarget] = {}
        dropped: list[dict[str, str]] = []
        cfg = self.cfg
        for group in groups:
            for raw in group.targets:
                try:
                    labels, discovered, error = populate_labels(dict(group.labels), dict(raw), cfg)
                except ValueError as exc:
                    labels, discovered, error = None, dict(raw), str(exc)
                if error is not None:
                    log.warning(
                        "creating target failed",
                        extra=log_fields(pool=self.name, source=group.source, error=error),
                    )
                    continue
                if labels is None:
                    dropped.append(discovered)
                    continue
                url = target_url(labels, cfg.params)
                forced: str | None = None
                interval_text = labels.get("__scrape_interval__", "")
                timeout_text = labels.get("__scrape_timeout__", "")
                interval, timeout = cfg.scrape_interval, cfg.scrape_timeout
                try:
                    interval = parse_prom_duration(interval_text)
                except ValueError as exc:
                    forced = f'Error parsing interval label "{interval_text}": {exc}'
                if forced is None:
                    try:
                        timeout = parse_prom_duration(timeout_text)
                    except ValueError as exc:
                        forced = f'Error parsing timeout label "{timeout_text}": {exc}'
                if interval <= 0:
                    interval = cfg.scrape_interval
                if self.config_error and url.startswith("https:"):
                    forced = self.config_error
                h = target_hash(labels, url)
                if h in active:
                    continue  # the same target from two groups: scraped once
                active[h] = ScrapeTarget(
                    pool=self.name,
                    labels=labels,
                    discovered_labels=discovered,
                    url=url,
                    interval=interval,
                    timeout=min(timeout, interval) if timeout > 0 else interval,
                    hash=h,
                    interval_text=interval_text,
                    timeout_text=timeout_text,
                    error=forced,
                )
        return active, dropped

    def _new_loop(self, target: ScrapeTarget) -> ScrapeLoop:
        cache = ScrapeCache(
            self._cache_settings, target.public_labels, series_labels, relabel, self._series_refs
        )
        return ScrapeLoop(
            target,
            ScrapeClient(self._http, self._ssl),
            cache,
            self._sink,
            parse_exposition,
            NO_TIMESTAMP,
            self._metrics,
            self._metadata,
            forced_error=lambda: self.limit_error,
        )

    def sync(self, groups: Sequence[TargetGroup]) -> tuple[list[ScrapeLoop], list[ScrapeLoop]]:
        """Apply discovered groups: returns (loops to schedule, loops to mark stale)."""
        active, self.dropped = self._build_targets(groups)
        started: list[ScrapeLoop] = []
        removed: list[ScrapeLoop] = []
        for h in list(self.loops):
            if h not in active:
                removed.append(self.loops.pop(h))
        for h, target in active.items():
            loop = self.loops.get(h)
            if loop is None:
                loop = self.loops[h] = self._new_loop(target)
                started.append(loop)
            elif loop.target != target:
                reschedule = loop.target.interval != target.interval
                loop.retarget(target)
                if reschedule:
                    started.append(loop)
        limit = self.cfg.target_limit
        if limit > 0 and len(self.loops) > limit:
            self.limit_error = f"target_limit exceeded (number of targets: {len(self.loops)}, limit: {limit})"
        else:
            self.limit_error = None
        return started, removed

    def reconfigure(
        self, cfg: ScrapeConfig, groups: Sequence[TargetGroup]
    ) -> tuple[list[ScrapeLoop], list[ScrapeLoop]]:
        """A reload with a changed config: targets whose identity survives keep their loop,
        unless the final labels of their series or the client may change; then every loop is
        replaced (the old ones go stale first)."""
        old_cache = self._cache_settings
        old_http = self._http
        self._configure(cfg)
        retired: list[ScrapeLoop] = []
        if old_cache != self._cache_settings or old_http != self._http:
            # New loops with fresh caches and clients; the old ones go stale.
            retired = list(self.loops.values())
            self.loops.clear()
        started, removed = self.sync(groups)
        return started, retired + removed

    def stop_loops(self) -> list[ScrapeLoop]:
        loops = list(self.loops.values())
        self.loops.clear()
        return loops
