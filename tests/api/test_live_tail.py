"""The live tail's lifetime: it ends when its client leaves, is bounded, and lets shutdown go."""

from __future__ import annotations

import signal
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from serverproc import ServerProc

QUERY = "query=%7Bapp%3D%22t%22%7D"


def _active_tails(client: httpx.Client) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("heron_active_tails "):
            return float(line.split()[1])
    raise AssertionError("heron_active_tails missing from /metrics")


def _wait_for(client: httpx.Client, want: float) -> float:
    deadline = time.monotonic() + 15
    got = _active_tails(client)
    while got != want and time.monotonic() < deadline:
        time.sleep(0.1)
        got = _active_tails(client)
    return got


def _ws(server: ServerProc) -> str:
    return server.url.replace("http://", "ws://") + "/loki/api/v1/tail?" + QUERY


def test_a_tail_whose_client_left_ends_even_with_nothing_to_send(
    server: ServerProc, client: httpx.Client
) -> None:
    with connect(_ws(server), open_timeout=10):
        assert _wait_for(client, 1) == 1
    assert _wait_for(client, 0) == 0


def test_tails_past_the_concurrency_limit_are_refused(server: ServerProc, client: httpx.Client) -> None:
    open_ = [connect(_ws(server), open_timeout=10) for _ in range(10)]
    try:
        assert _wait_for(client, 10) == 10
        with connect(_ws(server), open_timeout=10) as extra:
            with pytest.raises(ConnectionClosed) as info:
                extra.recv(timeout=10)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1013
        assert "max concurrent tail requests limit exceeded" in info.value.rcvd.reason
    finally:
        for ws in open_:
            ws.close()
    assert _wait_for(client, 0) == 0


def test_shutdown_closes_open_tails(server: ServerProc) -> None:
    with connect(_ws(server), open_timeout=10) as ws:
        server.proc.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as info:
            while True:
                ws.recv(timeout=20)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1012  # uvicorn: service restart
    assert server.proc.wait(timeout=60) == 0
