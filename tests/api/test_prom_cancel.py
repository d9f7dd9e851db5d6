"""A PromQL query whose client goes away stops, on a real `heron server`: in a query worker
(which must then be free for the next query) and in the server process (`query_workers = 0`).

The slow query is a heavy subquery over many series (tens of seconds of work, a few hundred MB
at most); the client gives up after two seconds. Everything after is a bounded wait: the
`canceled` outcome appears in heron_queries_total, and with one worker the next query is
answered well before the slow one could have finished on its own."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from heron.ship.remote_write_encode import V1_CONTENT_TYPE, encode_v1, snappy
from serverproc import start_server
from waiting import wait_for

NOW_S = int(time.time()) // 60 * 60
SERIES = 300
SLOW = {
    "query": "quantile_over_time(0.5, heavy[2h:500ms])",
    "start": str(NOW_S - 3600),
    "end": str(NOW_S),
    "step": "15",
}


def _push(client: httpx.Client) -> None:
    times = [(NOW_S - 3600) * 1000 + i * 15_000 for i in range(241)]
    series = {
        (("__name__", "heavy"), ("i", str(i))): [(t, float((i * 7 + k) % 13)) for k, t in enumerate(times)]
        for i in range(SERIES)
    }
    r = client.post(
        "/api/v1/write",
        content=snappy(encode_v1(series)),
        headers={"Content-Type": V1_CONTENT_TYPE, "Content-Encoding": "snappy"},
    )
    assert r.status_code == 204, r.text


def _canceled(client: httpx.Client) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("heron_queries_total{") and 'endpoint="prometheus_query_range"' in line:
            if 'outcome="canceled"' in line:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.parametrize("workers", ["1", "0"])
def test_a_query_whose_client_left_stops_and_frees_its_worker(tmp_path: Path, workers: str) -> None:
    server = start_server(tmp_path / "data", "--query-workers", workers, "--query-timeout", "5m")
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            _push(client)
            # Warm up: the worker starts (seconds of imports) and reads the WAL once.
            r = client.get("/api/v1/query", params={"query": "count(heavy)", "time": str(NOW_S)})
            assert r.json()["data"]["result"][0]["value"][1] == str(SERIES), r.text
            with httpx.Client(base_url=server.url, timeout=2) as impatient:
                with pytest.raises(httpx.ReadTimeout):
                    impatient.get("/api/v1/query_range", params=SLOW)
            # The client is gone: its query must be counted as canceled, not run to its end.
            wait_for(lambda: _canceled(client) >= 1, timeout=15, interval=0.1)
            # With one worker, the next query needs the worker the slow query held.
            with httpx.Client(base_url=server.url, timeout=15) as next_client:
                r = next_client.get("/api/v1/query", params={"query": "1 + 1", "time": str(NOW_S)})
            assert r.status_code == 200 and r.json()["data"]["result"][1] == "2", r.text
    finally:
        assert server.stop() == 0, server.log()
