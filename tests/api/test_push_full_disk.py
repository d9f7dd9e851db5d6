"""A real `heron server` whose data dir is a small tmpfs that fills up: pushes get 507 with
Retry-After, queries keep working, writing resumes when room comes back, and after kill -9
every acknowledged line is there exactly once."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections import Counter
from pathlib import Path

import httpx

from heron.api.app import create_app
from heron.api.state import AppState
from heron.model import labels_from
from heron.server import _in_process_sink
from heron.ship.loki_client import PushOutcome
from heron.ship.loki_encode import encode_push_request
from heron.storage import DiskFullError, LogBatch, StorageWriteError
from serverproc import ServerProc, start_server
from tmpfs import resize, small_tmpfs

NOW = time.time_ns() - 600 * 10**9


def _push(c: httpx.Client, i: int) -> tuple[httpx.Response, list[str]]:
    """20 lines of 2 KB that do not compress, so blocks fill the disk as fast as the WAL."""
    lines = [f"full-{i:05d}-{k:02d}-{os.urandom(1000).hex()}" for k in range(20)]
    values = [[str(NOW + i * 100 + k), line] for k, line in enumerate(lines)]
    r = c.post("/loki/api/v1/push", json={"streams": [{"stream": {"app": "full"}, "values": values}]})
    return r, lines


def _metric(text: str, name: str) -> float:
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    assert m, f"{name} missing from /metrics"
    return float(m.group(1))


def _all_lines(c: httpx.Client) -> Counter[str]:
    got: Counter[str] = Counter()
    end = time.time_ns()
    for _ in range(100):
        r = c.get(
            "/loki/api/v1/query_range",
            params={"query": '{app="full"}', "start": str(NOW - 10**9), "end": str(end), "limit": "5000"},
        )
        assert r.status_code == 200, r.text
        values = [v for s in r.json()["data"]["result"] for v in s["values"]]
        got.update(line for _, line in values)
        if len(values) < 5000:
            break
        end = min(int(ts) for ts, _ in values)  # end is exclusive: the page before the oldest
    return got


def test_full_data_dir_is_507_queries_go_on_and_acked_lines_survive_kill(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "mnt", "16m") as data:
        server: ServerProc | None = start_server(data, "--head-max-size", "1MiB")
        try:
            acked: list[str] = []
            full: list[httpx.Response] = []
            with httpx.Client(base_url=server.url, timeout=30) as c:
                i = 0
                while len(full) < 3 and i < 2000:
                    r, lines = _push(c, i)
                    i += 1
                    assert r.status_code in (204, 507), r.text
                    if r.status_code == 204:
                        acked += lines
                    else:
                        full.append(r)
                assert full, "the disk never filled"
                for r in full:
                    assert int(r.headers["Retry-After"]) > 0
                    assert str(data) in r.text and "bytes free" in r.text, r.text
                # Reads go on while nothing can be written.
                r = c.get(
                    "/loki/api/v1/query",
                    params={"query": 'count_over_time({app="full"}[1h])', "time": str(time.time_ns())},
                )
                assert r.status_code == 200, r.text
                r = c.get("/loki/api/v1/labels")
                assert r.status_code == 200 and "app" in r.json()["data"]
                metrics = c.get("/metrics").text
                assert _metric(metrics, "heron_wal_write_failures_total") >= len(full)
                assert _metric(metrics, "heron_data_dir_free_bytes") < 1024 * 1024
                assert 'heron_push_requests_total{api="loki",code="507"}' in metrics
                assert _metric(metrics, "heron_head_cut_failures_total") >= 0
                resize(data, "64m")
                for j in range(i, i + 5):
                    r, lines = _push(c, j)
                    assert r.status_code == 204, r.text  # the same process writes again at once
                    acked += lines
                assert _metric(c.get("/metrics").text, "heron_data_dir_free_bytes") > 32 * 1024 * 1024
            server.stop(signal.SIGKILL)
            server = start_server(data)
            with httpx.Client(base_url=server.url, timeout=60) as c:
                got = _all_lines(c)
            assert [line for line in acked if got[line] != 1] == []
            assert "damaged" not in server.log()
            assert server.stop() == 0
            server = None
        finally:
            if server is not None:
                server.stop(signal.SIGKILL)


class _FailingDb:
    """Stands in for a Database whose disk fails: every append raises `error`."""

    def __init__(self, error: Exception):
        self.error = error

    def append(self, *args: object, **kw: object) -> None:
        raise self.error


def test_a_failing_disk_is_503_with_retry_after_not_500() -> None:
    state = AppState(ready=True)
    state.db = _FailingDb(StorageWriteError("writing the WAL failed: EIO", path="/d", free_bytes=7))  # type: ignore[assignment]
    body = {"streams": [{"stream": {"a": "b"}, "values": [[str(NOW), "x"]]}]}

    async def push() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(state))
        async with httpx.AsyncClient(transport=transport, base_url="http://heron") as c:
            return await c.post("/loki/api/v1/push", json=body)

    r = asyncio.run(push())
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    assert "writing the WAL failed" in r.text


def test_heron_all_sink_treats_a_full_disk_as_retry() -> None:
    body = encode_push_request([LogBatch(labels_from({"app": "x"}), [NOW], [b"line"])])
    sink = _in_process_sink(_FailingDb(DiskFullError("disk full", path="/d", free_bytes=0)))  # type: ignore[arg-type]
    result = sink(body)
    assert result.outcome is PushOutcome.RETRY
    assert result.retry_after == 10 and "disk full" in result.message
