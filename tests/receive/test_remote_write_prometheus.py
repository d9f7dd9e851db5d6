"""A real Prometheus (Debian's package) scrapes a small target and remote-writes into a real
`heron server`. Every sample Prometheus returns through its own API (a range selector gives
the raw samples) must be in heron's storage with the same timestamp and value, and heron must
hold nothing else for that job over the same range. Heron is read through storage after it
stops, since PromQL is not built yet."""

from __future__ import annotations

import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from heron.model import Labels, Matcher, MatchOp
from heron.storage import Database, StorageOptions
from peers import Peer, start_prometheus, wait_for
from serverproc import start_server


class _Target(BaseHTTPRequestHandler):
    """Counters that grow, a gauge with fractions, a histogram, and a NaN: each scrape differs."""

    scrapes = 0
    lock = threading.Lock()

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        with _Target.lock:
            _Target.scrapes += 1
            n = _Target.scrapes
        body = (
            "# HELP shop_orders_total Orders.\n# TYPE shop_orders_total counter\n"
            f'shop_orders_total{{method="GET",code="200"}} {n * 3}\n'
            f'shop_orders_total{{method="POST",code="500"}} {n // 2}\n'
            "# TYPE shop_temperature gauge\n"
            f"shop_temperature {20 + n * 0.1:.17g}\n"
            f"shop_tiny {1e-300 * n!r}\n"
            "shop_nan NaN\n"
            "# TYPE shop_latency_seconds histogram\n"
            f'shop_latency_seconds_bucket{{le="0.1"}} {n}\n'
            f'shop_latency_seconds_bucket{{le="+Inf"}} {2 * n}\n'
            f"shop_latency_seconds_sum {n * 0.37:.17g}\n"
            f"shop_latency_seconds_count {2 * n}\n"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def target() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Target)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(10)


def _start_prometheus(tmp: Path, target: str, write_url: str) -> Peer:
    return start_prometheus(
        tmp,
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n"
        f"  - job_name: x\n    static_configs:\n      - targets: ['{target}']\n"
        "remote_write:\n"
        f"  - url: {write_url}\n"
        "    queue_config: {batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 1s}\n"
        "    metadata_config: {send_interval: 1s}\n",
        timeout=60,
    )


def _prom_query(url: str, query: str, at: float) -> list[dict[str, object]]:
    r = httpx.get(url + "/api/v1/query", params={"query": query, "time": f"{at:.3f}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["data"]["result"]


def _highest_sent(url: str) -> float:
    text = httpx.get(url + "/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith("prometheus_remote_storage_queue_highest_sent_timestamp_seconds"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_prometheus_remote_writes_every_sample(tmp_path: Path, target: str) -> None:
    heron = start_server(tmp_path / "data")
    prom = _start_prometheus(tmp_path, target, heron.url + "/api/v1/write")
    prom_url, prom_log = prom.url, prom.log
    try:
        deadline = time.monotonic() + 60
        wait_for(lambda: _Target.scrapes >= 10, 60, "prometheus to scrape", prom)
        at = time.time() - 3.0  # every scrape stamped before this is committed by now
        result = _prom_query(prom_url, '{job="x"}[10m]', at)
        while _highest_sent(prom_url) < at + 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _highest_sent(prom_url) >= at + 1, "prometheus did not send in time:\n" + prom_log.read_text()
        # Metadata rides along every second (metadata_config.send_interval): the same as Prometheus'.
        prom_meta = httpx.get(prom_url + "/api/v1/metadata", timeout=10).json()["data"]
        want_meta = {k: v for k, v in prom_meta.items() if k.startswith("shop_")}
        assert set(want_meta) == {"shop_orders_total", "shop_temperature", "shop_latency_seconds"}
        while time.monotonic() < deadline:
            got_meta = httpx.get(heron.url + "/api/v1/metadata", timeout=10).json()["data"]
            if all(k in got_meta for k in want_meta):
                break
            time.sleep(0.2)
        assert {k: got_meta.get(k) for k in want_meta} == want_meta
    finally:
        prom.stop()
        assert heron.stop() == 0, heron.log()

    want: dict[Labels, list[tuple[int, float]]] = {}
    for series in result:
        labels = tuple(sorted(series["metric"].items()))  # type: ignore[union-attr]
        want[labels] = [(round(float(t) * 1000), float(v)) for t, v in series["values"]]  # type: ignore[union-attr]
    names = {dict(lab)["__name__"] for lab in want}
    assert {"up", "scrape_duration_seconds", "shop_orders_total", "shop_latency_seconds_bucket"} <= names
    assert sum(len(v) for v in want.values()) >= 4 * len(want)

    end_ms = int(at * 1000)
    db = Database.open(str(tmp_path / "data"), StorageOptions(), background=False)
    try:
        rows = db.query_samples([Matcher("job", MatchOp.EQ, "x")], end_ms - 600_000 + 1, end_ms)
    finally:
        db.close()
    got = {lab: list(zip(ts.tolist(), vals.tolist())) for lab, ts, vals in rows}
    assert set(got) == set(want)
    for labels, samples in want.items():
        have = got[labels]
        assert [t for t, _ in have] == [t for t, _ in samples], labels
        assert all(_same(a, b) for (_, a), (_, b) in zip(have, samples)), labels
