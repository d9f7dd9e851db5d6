"""Queries through the worker processes of a real `heron server`, and with them turned off."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from serverproc import start_server


def _push(client: httpx.Client, line: str) -> None:
    body = {"streams": [{"stream": {"app": "w"}, "values": [[str(time.time_ns()), line]]}]}
    assert client.post("/loki/api/v1/push", json=body).status_code == 204


def _lines(client: httpx.Client, query: str = '{app="w"}') -> list[str]:
    r = client.get("/loki/api/v1/query_range", params={"query": query, "limit": 1000, "since": "5m"})
    assert r.status_code == 200, r.text
    return [v[1] for s in r.json()["data"]["result"] for v in s["values"]]


@pytest.mark.parametrize("workers", ["2", "0"])
def test_every_acked_push_is_in_the_next_query(tmp_path: Path, workers: str) -> None:
    server = start_server(tmp_path / "data", "--query-workers", workers)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for i in range(40):
                _push(client, f"push {i}")
                assert f"push {i}" in _lines(client)
            assert sorted(_lines(client)) == sorted(f"push {i}" for i in range(40))
            metrics = client.get("/metrics").text
    finally:
        assert server.stop() == 0, server.log()
    running = [line for line in metrics.splitlines() if line.startswith("heron_query_workers ")]
    if workers == "0":
        assert running == []
    else:
        assert running and float(running[0].split()[1]) >= 1
        assert 'msg="query worker started"' in server.log()


def test_workers_see_data_across_a_head_cut_and_a_restart(tmp_path: Path) -> None:
    # A tiny head makes the server cut blocks (and delete WAL segments) while we query.
    server = start_server(tmp_path / "data", "--head-max-size", "4KiB")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for i in range(60):
            _push(client, f"entry {i:03d} " + "x" * 200)
            if i % 7 == 0:
                assert len(_lines(client)) == i + 1
        assert len(_lines(client)) == 60
    assert server.stop() == 0, server.log()
    assert "head persisted" in server.log()
    server = start_server(tmp_path / "data")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            got = _lines(client)
            assert sorted(got) == sorted(f"entry {i:03d} " + "x" * 200 for i in range(60))
    finally:
        assert server.stop() == 0, server.log()
