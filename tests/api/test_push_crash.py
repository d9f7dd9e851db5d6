"""Pushes answered 204, then SIGKILL and restart: every acknowledged line comes back once."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter

import httpx

from serverproc import start_server

NOW = time.time_ns() - 600 * 10**9


def _pusher(url: str, acked: list[str], stop: threading.Event, start: int) -> None:
    with httpx.Client(base_url=url, timeout=10) as c:
        i = start
        while not stop.is_set() and i < start + 100_000:
            lines = [f"push-{i:07d}-{k}" for k in range(20)]
            body = {
                "streams": [
                    {"stream": {"app": "crash", "part": str(k % 2)}, "values": [[str(NOW + i * 100 + k), ln]]}
                    for k, ln in enumerate(lines)
                ]
            }
            try:
                r = c.post("/loki/api/v1/push", json=body)
            except httpx.TransportError:
                return
            if r.status_code == 204:
                acked.extend(lines)
            i += 1


def test_acknowledged_pushes_survive_sigkill(tmp_path) -> None:
    data = tmp_path / "data"
    acked: list[str] = []
    start = 0
    for round_ in range(3):
        server = start_server(data, "--head-max-size", "200KiB")
        stop = threading.Event()
        mine: list[str] = []
        t = threading.Thread(target=_pusher, args=(server.url, mine, stop, start))
        t.start()
        time.sleep(0.8 + 0.4 * round_)
        server.stop(signal.SIGKILL)
        stop.set()
        t.join()
        assert mine, server.log()
        acked += mine
        start += 100_000
    server = start_server(data)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            got: Counter[str] = Counter()
            end = time.time_ns()
            begin = NOW - 10**9
            # page backwards through everything with the Loki API itself
            while True:
                r = c.get(
                    "/loki/api/v1/query_range",
                    params={"query": '{app="crash"}', "start": str(begin), "end": str(end), "limit": "5000"},
                )
                assert r.status_code == 200, r.text
                values = [v for s in r.json()["data"]["result"] for v in s["values"]]
                if not values:
                    break
                got.update(line for _, line in values)
                oldest = min(int(ts) for ts, _ in values)
                if len(values) < 5000:
                    break
                end = oldest + 1  # Loki's end is exclusive; entries at `oldest` are deduped below
            missing = [line for line in acked if got[line] == 0]
            assert not missing, missing[:5]
            # A line at the page boundary can be seen by two pages; the store holds it once.
            stats = c.get(
                "/loki/api/v1/index/stats", params={"query": '{app="crash"}', "start": str(begin)}
            ).json()
            assert stats["entries"] >= len(acked)
            assert stats["entries"] == len(set(got))
    finally:
        assert server.stop() == 0
