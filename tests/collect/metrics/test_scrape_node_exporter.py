"""Heron and a real Prometheus (Debian's 2.42) scrape the same real `prometheus-node-exporter`
(Debian's 1.5, text format) and a `prometheus_client` exporter (which answers Prometheus'
Accept header in OpenMetrics: counters, histograms, summaries, info, a stateset) with the same
`scrape_configs`. The set of series each stores (names and labels) must be equal: same parser
outcome, same synthetic series, same target labels.

Prometheus' set comes from its `/api/v1/series`; heron's from its storage, opened after it
stopped (PromQL is not built yet). Node-exporter runs only collectors whose series set does
not change between two scrapes."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import httpx
import pytest

from heron.model import Matcher, MatchOp
from heron.storage import Database, StorageOptions
from peers import start_node_exporter, start_prometheus, wait_for
from serverproc import free_port, start_server

COLLECTORS = ("cpu", "loadavg", "meminfo", "stat", "uname", "vmstat", "time", "filefd", "os")
SCRAPES = 3  # each side scrapes at least this often before the sets are compared


@pytest.fixture
def node_exporter(tmp_path: Path) -> Iterator[str]:
    peer = start_node_exporter(tmp_path, COLLECTORS)
    try:
        yield peer.address
    finally:
        peer.stop()


@pytest.fixture
def python_exporter() -> Iterator[str]:
    """prometheus_client's own HTTP server over a registry of every metric kind it has."""
    from prometheus_client import (
        CollectorRegistry,
        Counter,
        Enum,
        Gauge,
        Histogram,
        Info,
        Summary,
        start_http_server,
    )

    registry = CollectorRegistry()
    Counter("shop_orders", "Orders.", ["code"], registry=registry).labels("200").inc(3)
    Gauge("shop_temperature_celsius", "Degrees.", unit="celsius", registry=registry).set(21.5)
    Histogram("shop_latency_seconds", "Latency.", registry=registry, buckets=(0.1, 1.0)).observe(0.3)
    Summary("shop_size_bytes", "Sizes.", registry=registry).observe(512)
    Info("shop_build", "Build.", registry=registry).info({"version": "1.2"})
    Enum("shop_state", "State.", states=["open", "closed"], registry=registry).state("open")
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _scrape_config(node: str, python: str) -> str:
    job = (
        "  - job_name: {name}\n"
        "    scrape_interval: 1s\n"
        "    scrape_timeout: 1s\n"
        "    static_configs:\n"
        "      - targets: ['{address}']\n"
        "        labels: {{role: peer-test}}\n"
    )
    return (
        "scrape_configs:\n"
        + job.format(name="node", address=node)
        + job.format(name="python", address=python)
    )


@pytest.fixture
def prometheus(tmp_path: Path, node_exporter: str, python_exporter: str) -> Iterator[str]:
    peer = start_prometheus(tmp_path, _scrape_config(node_exporter, python_exporter))
    try:
        yield peer.url
    finally:
        peer.stop()


def _series(labels: dict[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset(labels.items())


def test_heron_stores_the_same_series_as_prometheus(
    tmp_path: Path, node_exporter: str, python_exporter: str, prometheus: str
) -> None:
    config = tmp_path / "heron.yaml"
    config.write_text(_scrape_config(node_exporter, python_exporter))
    heron = start_server(tmp_path / "data", "--config", str(config))
    try:

        def prom_scrapes() -> bool:
            query = {"query": "count_over_time(up[1m])"}
            r = httpx.get(prometheus + "/api/v1/query", params=query, timeout=5)
            result = r.json()["data"]["result"] if r.status_code == 200 else []
            return len(result) == 2 and all(float(x["value"][1]) >= SCRAPES for x in result)

        def heron_scrapes() -> bool:
            text = httpx.get(heron.url + "/metrics", timeout=5).text
            pools = ('heron_scrapes_total{pool="node"}', 'heron_scrapes_total{pool="python"}')
            counts = [float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines() if ln.startswith(pools)]
            return len(counts) == 2 and min(counts) >= SCRAPES + 1

        wait_for(prom_scrapes, 60, "prometheus to scrape both targets")
        wait_for(heron_scrapes, 60, "heron to scrape both targets")
        targets = httpx.get(heron.url + "/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        assert [t["health"] for t in targets] == ["up", "up"], targets
        prom_targets = httpx.get(prometheus + "/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        assert [t["health"] for t in prom_targets] == ["up", "up"], prom_targets
        by_pool = {t["scrapePool"]: t for t in prom_targets}
        for t in targets:
            assert t["labels"] == by_pool[t["scrapePool"]]["labels"]
            assert t["discoveredLabels"] == by_pool[t["scrapePool"]]["discoveredLabels"]
            assert t["scrapeUrl"] == by_pool[t["scrapePool"]]["scrapeUrl"]
        r = httpx.get(prometheus + "/api/v1/series", params={"match[]": '{__name__=~".+"}'}, timeout=10)
        assert r.status_code == 200, r.text
        prom = {_series(s) for s in r.json()["data"]}
    finally:
        assert heron.stop() == 0, heron.log()
    db = Database.open(str(heron.data_dir), StorageOptions(), background=False)
    try:
        stored = db.query_samples([Matcher("__name__", MatchOp.RE, ".+")], 0, 2**62)
    finally:
        db.close()
    ours = {_series(dict(labels)) for labels, _, _ in stored}
    assert len(prom) > 100  # node-exporter's families, not just `up`
    only_prom = sorted(sorted(s) for s in prom - ours)
    only_heron = sorted(sorted(s) for s in ours - prom)
    assert not only_prom and not only_heron, (only_prom[:10], only_heron[:10])
