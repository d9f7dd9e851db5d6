"""ScrapeManager: scheduling on Prometheus' slots, discovery updates, reloads and shutdown,
against real HTTP targets on 127.0.0.1. Waits are bounded polls, never timed assertions."""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from heron.collect.metrics.discovery import TargetGroup
from heron.collect.metrics.metadata import MetadataStore
from heron.collect.metrics.scrape import ScrapeManager
from heron.model import is_stale_nan
from heron.promconfig import FileSDConfig, RelabelConfig, ScrapeConfig, StaticConfig
from heron.selfmetrics import Registry
from heron.storage import SampleColumns
from scrapetarget import Response, Target

BODY = b"# TYPE jobs_total counter\njobs_total 7\n# TYPE queue gauge\nqueue 3\n"


class Sink:
    def __init__(self) -> None:
        self.calls: list[SampleColumns] = []
        self.lock = threading.Lock()

    def __call__(self, columns: SampleColumns) -> None:
        with self.lock:
            self.calls.append(columns)

    def rows(self) -> list[tuple[dict[str, str], int, float]]:
        with self.lock:
            calls = list(self.calls)
        return [
            (dict(lab), int(t), float(v))
            for c in calls
            for lab, t, v in zip(c.labels, c.timestamps, c.values)
        ]

    def ups(self, instance: str) -> list[tuple[int, float]]:
        return [
            (t, v) for lab, t, v in self.rows() if lab["__name__"] == "up" and lab["instance"] == instance
        ]


def wait_for(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


@pytest.fixture
def targets() -> Iterator[list[Target]]:
    ts = [Target(Response(BODY)) for _ in range(3)]
    yield ts
    for t in ts:
        t.close()


def job(name: str, addresses: list[str], **kw: object) -> ScrapeConfig:
    kw.setdefault("scrape_interval", 1.0)
    kw.setdefault("scrape_timeout", 1.0)
    return ScrapeConfig(job_name=name, static_configs=(StaticConfig(targets=tuple(addresses)),), **kw)  # type: ignore[arg-type]


def test_targets_are_scraped_on_their_slots_and_stop_marks_everything_stale(targets: list[Target]) -> None:
    sink = Sink()
    registry = Registry()
    manager = ScrapeManager([job("a", [t.address for t in targets])], sink, registry=registry)
    manager.start()
    try:
        wait_for(lambda: all(len(sink.ups(t.address)) >= 3 for t in targets))
        status = {s.labels["instance"]: s for s in manager.active_targets()}
        assert set(status) == {t.address for t in targets}
        for s in status.values():
            assert s.health == "up" and s.scrape_pool == "a" and s.scrape_interval == "1s"
            assert s.last_scrape_ns > 0 and s.last_error == ""
        assert 'heron_scrape_targets{pool="a",health="up"} 3' in registry.render()
    finally:
        manager.stop()
    for t in targets:
        ups = sink.ups(t.address)
        assert is_stale_nan(ups[-1][1]), "stop() ends every series with a staleness marker"
        times = [ts for ts, v in ups if not math.isnan(v)]
        # One slot per interval: consecutive scrapes are an interval apart (never two in one).
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert all(g >= 900 for g in gaps), gaps
    stale_names = {lab["__name__"] for lab, _, v in sink.rows() if is_stale_nan(v)}
    assert stale_names == {
        "jobs_total",
        "queue",
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    }


def test_offsets_spread_targets_and_are_stable(targets: list[Target]) -> None:
    manager = ScrapeManager(
        [job("a", [t.address for t in targets], scrape_interval=60.0, scrape_timeout=10.0)], Sink()
    )
    manager.start()
    try:
        loops = [loop for pool in manager._pools.values() for loop in pool.loops.values()]
        now = 1_700_000_000.0
        phases = set()
        for loop in loops:
            due = manager._first_due(loop, now)
            assert now <= due <= now + 60
            # The same phase whenever asked: the slot depends on the target, not on the start time.
            assert math.isclose(manager._first_due(loop, now + 12.345) % 60, due % 60, abs_tol=1e-6)
            phases.add(round(due % 60, 3))
        assert len(phases) == len(loops)
    finally:
        manager.stop()


def test_apply_adds_removes_and_keeps_targets(targets: list[Target]) -> None:
    sink = Sink()
    a, b, c = (t.address for t in targets)
    manager = ScrapeManager([job("one", [a, b])], sink)
    manager.start()
    try:
        wait_for(lambda: sink.ups(a) and sink.ups(b))
        loop_a = next(
            lp for p in manager._pools.values() for lp in p.loops.values() if lp.target.url.find(a) > 0
        )
        # b leaves job one, c arrives in a new job two; a's loop (and cache) survives.
        manager.apply([job("one", [a]), job("two", [c])])
        wait_for(lambda: bool(sink.ups(b)) and is_stale_nan(sink.ups(b)[-1][1]))
        wait_for(lambda: bool(sink.ups(c)))
        assert loop_a in [lp for p in manager._pools.values() for lp in p.loops.values()]
        assert [s.labels["instance"] for s in manager.active_targets()] == [a, c]
        assert [s.scrape_pool for s in manager.active_targets("two")] == ["two"]
        # A changed metric_relabel_configs rebuilds the cache: relabeled series from then on.
        rule = RelabelConfig(target_label="tier", replacement="gold")
        manager.apply([job("one", [a], metric_relabel_configs=(rule,)), job("two", [c])])
        wait_for(lambda: any(lab.get("tier") == "gold" for lab, _, _ in sink.rows()))
        # Removing every job marks everything stale.
        manager.apply([])
        wait_for(lambda: is_stale_nan(sink.ups(a)[-1][1]) and is_stale_nan(sink.ups(c)[-1][1]))
        assert manager.active_targets() == []
    finally:
        manager.stop()


class ListDiscoverer:
    """A discoverer whose groups the test sets; `version` grows on every change."""

    def __init__(self) -> None:
        self._groups: list[TargetGroup] = []
        self._version = 0

    def set(self, groups: list[TargetGroup]) -> None:
        self._groups = groups
        self._version += 1

    @property
    def version(self) -> int:
        return self._version

    def groups(self) -> list[TargetGroup]:
        return list(self._groups)

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None


def test_discovery_updates_are_polled(targets: list[Target]) -> None:
    sink = Sink()
    disc = ListDiscoverer()
    a, b, _ = (t.address for t in targets)
    cfg = ScrapeConfig(job_name="sd", scrape_interval=1.0, scrape_timeout=1.0)
    rule = RelabelConfig(source_labels=("__meta_keep",), regex="no", action="drop")
    cfg = ScrapeConfig(job_name="sd", scrape_interval=1.0, scrape_timeout=1.0, relabel_configs=(rule,))
    manager = ScrapeManager([cfg], sink, discoverers=lambda c: [disc])
    manager.start()
    try:
        disc.set(
            [TargetGroup("g", ({"__address__": a}, {"__address__": b, "__meta_keep": "no"}), {"team": "x"})]
        )
        wait_for(lambda: bool(sink.ups(a)))
        assert sink.ups(a) and not sink.ups(b)
        assert [d["__address__"] for d in manager.dropped_targets()] == [b]
        assert manager.active_targets()[0].discovered_labels["team"] == "x"
        disc.set([])
        wait_for(lambda: is_stale_nan(sink.ups(a)[-1][1]))
        assert manager.active_targets() == [] and manager.dropped_targets() == []
    finally:
        manager.stop()


def test_file_sd_targets_with_a_relative_path(targets: list[Target], tmp_path: Path) -> None:
    a = targets[0].address
    (tmp_path / "targets.yaml").write_text(f"- targets: ['{a}']\n  labels:\n    env: test\n")
    sink = Sink()
    cfg = ScrapeConfig(
        job_name="files",
        scrape_interval=1.0,
        scrape_timeout=1.0,
        file_sd_configs=(FileSDConfig(files=("targets.yaml",), refresh_interval=1.0),),
    )
    manager = ScrapeManager([cfg], sink, base_dir=str(tmp_path))
    manager.start()
    try:
        wait_for(lambda: bool(sink.ups(a)))
        (s,) = manager.active_targets()
        assert s.labels["env"] == "test"
        assert s.discovered_labels["__meta_filepath"].endswith("targets.yaml")
    finally:
        manager.stop()


def test_target_limit_fails_every_target(targets: list[Target]) -> None:
    sink = Sink()
    manager = ScrapeManager([job("lim", [t.address for t in targets], target_limit=2)], sink)
    manager.start()
    try:
        wait_for(lambda: all(sink.ups(t.address) for t in targets))
        for s in manager.active_targets():
            assert s.last_error == "target_limit exceeded (number of targets: 3, limit: 2)"
            assert s.health == "down"
    finally:
        manager.stop()


def test_target_metadata(targets: list[Target]) -> None:
    store = MetadataStore()
    manager = ScrapeManager([job("m", [targets[0].address])], Sink(), metadata=store)
    manager.start()
    try:
        wait_for(lambda: bool(manager.target_metadata()))
        rows = manager.target_metadata()
        assert {r["metric"]: r["type"] for r in rows} == {"jobs_total": "counter", "queue": "gauge"}
        assert rows[0]["target"] == {"instance": targets[0].address, "job": "m"}
        only = manager.target_metadata(metric="queue")
        assert only == [{"target": rows[0]["target"], "type": "gauge", "help": "", "unit": ""}]
        assert manager.target_metadata(match=lambda labels: dict(labels)["job"] == "other") == []
        assert manager.target_metadata(limit=0) == []
        assert set(store.query()) == {"jobs_total", "queue"}
    finally:
        manager.stop()


def test_concurrency_is_bounded_and_a_slow_target_skips_its_slots() -> None:
    """12 slow targets (each answer takes 0.4 s), 3 workers: never more than 3 scrapes at once,
    every target still gets scraped, and no target has two scrapes in flight."""
    slow = [Target(Response(BODY, delay=0.4)) for _ in range(12)]
    sink = Sink()
    manager = ScrapeManager([job("slow", [t.address for t in slow])], sink, max_concurrency=3)
    manager.start()
    try:
        wait_for(lambda: all(len(sink.ups(t.address)) >= 2 for t in slow), timeout=60)
    finally:
        manager.stop()
        for t in slow:
            t.close()
    spans = sorted((r.start, r.end) for t in slow for r in t.requests if r.end)
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda x: (x[0], x[1]))
    in_flight = peak = 0
    for _, step in events:
        in_flight += step
        peak = max(peak, in_flight)
    assert 1 <= peak <= 3
    for t in slow:
        own = sorted((r.start, r.end) for r in t.requests if r.end)
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(own, own[1:]))


def test_two_managers_on_one_registry_render_each_family_once(targets: list[Target]) -> None:
    registry = Registry()
    one = ScrapeManager([job("one", [targets[0].address])], Sink(), registry=registry)
    two = ScrapeManager([job("two", [targets[1].address])], Sink(), registry=registry)
    one.start()
    two.start()
    try:
        wait_for(lambda: 'heron_scrapes_total{pool="two"}' in registry.render())
        text = registry.render()
        assert text.count("# TYPE heron_scrape_targets gauge") == 1
        assert text.count("# TYPE heron_scrapes_total counter") == 1
        assert 'heron_scrape_targets{pool="one",health="up"}' in text
        assert 'heron_scrape_targets{pool="two",health="up"}' in text
    finally:
        one.stop()
        two.stop()
