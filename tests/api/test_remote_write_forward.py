"""`remote_write:` in heron.yaml: the server forwards what it ingests to an external engine.

A real Prometheus with its remote-write receiver on plays the external engine (Mimir and
VictoriaMetrics take the same protocol). Heron scrapes a real target and receives a remote
write itself; both reach Prometheus with the global external labels and the entry's
write_relabel_configs applied.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from heron.ship.remote_write_encode import encode_v1, snappy
from peers import Peer, instant_query, start_prometheus, wait_for
from scrapetarget import Response, Target
from serverproc import start_server


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Peer]:
    peer = start_prometheus(tmp_path, "global: {}\n", "--web.enable-remote-write-receiver")
    yield peer
    peer.stop()


def test_server_forwards_scraped_and_received_samples(tmp_path: Path, receiver: Peer) -> None:
    target = Target(Response(b"# TYPE jobs_done_total counter\njobs_done_total 7\nsecret_thing 1\n"))
    config = tmp_path / "heron.yaml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  external_labels: {cluster: c1}\n"
        "scrape_configs:\n"
        f"  - job_name: app\n    static_configs: [{{targets: ['{target.address}']}}]\n"
        "remote_write:\n"
        f"  - url: {receiver.url}/api/v1/write\n"
        "    write_relabel_configs:\n"
        "      - {source_labels: [__name__], regex: secret_.*, action: drop}\n"
        "    queue_config: {batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 500ms}\n"
    )
    heron = start_server(tmp_path / "data", "--config", str(config))
    try:
        pushed = {(("__name__", "pushed_metric"), ("src", "rw")): [(int(time.time() * 1000), 42.0)]}
        r = httpx.post(
            heron.url + "/api/v1/write",
            content=snappy(encode_v1(pushed)),
            headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"},
        )
        assert r.status_code == 204, r.text

        def arrived() -> bool:
            return bool(instant_query(receiver.url, 'jobs_done_total{job="app"}')) and bool(
                instant_query(receiver.url, "pushed_metric")
            )

        wait_for(arrived, 30, "heron's samples to reach prometheus", receiver)
        (scraped,) = instant_query(receiver.url, 'jobs_done_total{job="app"}')
        assert scraped["metric"] == {
            "__name__": "jobs_done_total",
            "job": "app",
            "instance": f"{target.address}",
            "cluster": "c1",
        }
        assert scraped["value"][1] == "7"
        (up,) = instant_query(receiver.url, 'up{job="app"}')
        assert up["value"][1] == "1"
        (received,) = instant_query(receiver.url, "pushed_metric")
        assert received["metric"] == {"__name__": "pushed_metric", "src": "rw", "cluster": "c1"}
        assert received["value"][1] == "42"
        assert instant_query(receiver.url, "secret_thing") == []
        metrics = httpx.get(heron.url + "/metrics").text
        assert "heron_remote_write_samples_total{" in metrics
    finally:
        heron.stop()
        target.close()
