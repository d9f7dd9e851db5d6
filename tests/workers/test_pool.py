"""QueryPool: real worker processes over a real data directory."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import anyio
import pytest

from heron.api.querying import execute_query
from heron.api.state import ApiLimits
from heron.logql.engine import Engine
from heron.storage import Database, LogBatch, StorageOptions
from heron.workers import QueryPool, WorkerSpec

QUERY = '{app="a"} |= "line"'


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    d = Database.open(str(tmp_path / "data"), StorageOptions(), background=False)
    yield d
    d.close()


def _pool(
    db: Database,
    corrupt: list[tuple[str, str]] | None = None,
    *,
    size: int = 1,
    timeout: float = 30.0,
    grace: float = 10.0,
    **kw: Any,
) -> QueryPool:
    spec = WorkerSpec(db.path, ApiLimits(query_timeout_seconds=timeout))
    reports = corrupt if corrupt is not None else []
    return QueryPool(
        spec, size, db.wal_position, lambda b, r: reports.append((b, r)), grace_seconds=grace, **kw
    )


def _params(**extra: str) -> dict[str, Any]:
    now = time.time_ns()
    return {"query": QUERY, "start": str(now - 3600 * 10**9), "end": str(now), "limit": "1000", **extra}


def _ask(pool: QueryPool, params: dict[str, Any]) -> Any:
    async def go() -> Any:
        return await pool.run(params, instant=False, categorize=False)

    return anyio.run(go)


def _push(db: Database, n: int, first: int = 0) -> None:
    base = time.time_ns() - 60 * 10**9
    ts = [base + i for i in range(first, first + n)]
    db.append([LogBatch((("app", "a"),), ts, [f"line {i}".encode() for i in range(first, first + n)])])


def _worker_pids(pool: QueryPool) -> list[int]:
    return [w.proc.pid for w in pool._all if w.proc.pid is not None]


def test_a_worker_answers_what_the_server_process_would(db: Database) -> None:
    _push(db, 500)
    pool = _pool(db)
    try:
        params = _params()
        got = _ask(pool, params)
        want = execute_query(Engine(db), ApiLimits(), params, instant=False, categorize=False)
        assert got.status == want.status == 200
        strip = lambda body: {k: v for k, v in json.loads(body)["data"].items() if k != "stats"}  # noqa: E731
        assert strip(got.body) == strip(want.body)
        assert len(json.loads(got.body)["data"]["result"][0]["values"]) == 500
        _push(db, 10, 500)  # acked after the first query: the next one sees it
        assert len(json.loads(_ask(pool, params).body)["data"]["result"][0]["values"]) == 510
    finally:
        pool.close()


def test_a_worker_past_its_timeout_is_killed_and_replaced(db: Database) -> None:
    _push(db, 10)
    pool = _pool(db, timeout=0.5, grace=0.5)
    try:
        assert _ask(pool, _params()).status == 200
        [pid] = _worker_pids(pool)
        os.kill(pid, signal.SIGSTOP)  # a worker stuck in a query that never checks its deadline
        t0 = time.monotonic()
        answer = _ask(pool, _params())
        assert answer.status == 504 and b"timed out" in answer.body
        assert time.monotonic() - t0 < 10
        assert pool.restarts == 1
        assert _ask(pool, _params()).status == 200
        assert _worker_pids(pool) != [pid]
    finally:
        pool.close()


def test_a_worker_that_died_while_idle_is_replaced_unnoticed(db: Database) -> None:
    _push(db, 10)
    pool = _pool(db)
    try:
        assert _ask(pool, _params()).status == 200
        [pid] = _worker_pids(pool)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(w.proc.is_alive() for w in pool._all):
            time.sleep(0.05)
        assert _ask(pool, _params()).status == 200
        assert pool.restarts == 1
    finally:
        pool.close()


def test_queries_past_the_queue_bound_are_refused_with_429(db: Database) -> None:
    _push(db, 10)
    pool = _pool(db, timeout=1.0, grace=0.5, max_queued=1)
    try:
        assert _ask(pool, _params()).status == 200
        [pid] = _worker_pids(pool)
        os.kill(pid, signal.SIGSTOP)
        answers: list[int] = []
        busy = threading.Thread(target=lambda: answers.append(_ask(pool, _params()).status))
        busy.start()
        time.sleep(0.2)
        queued = threading.Thread(target=lambda: answers.append(_ask(pool, _params()).status))
        queued.start()
        deadline = time.monotonic() + 5
        while pool._waiting < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        refused = _ask(pool, _params())
        assert refused.status == 429 and b"too many outstanding queries" in refused.body
        busy.join(30)
        queued.join(30)
        assert sorted(answers) == [200, 504]  # the stuck one times out; the queued one is answered
    finally:
        pool.close()


def test_a_corrupt_block_met_by_a_worker_is_reported_for_quarantine(db: Database) -> None:
    _push(db, 200)
    db.flush()
    [block] = db.snapshot().blocks
    chunks = Path(block.path) / "chunks"
    raw = bytearray(chunks.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    chunks.write_bytes(bytes(raw))
    reports: list[tuple[str, str]] = []
    pool = _pool(db, reports)
    try:
        answer = _ask(pool, _params())
        assert answer.status == 200
        assert [b for b, _ in reports] == [block.id]
    finally:
        pool.close()


def test_closing_the_pool_stops_every_worker(db: Database) -> None:
    pool = _pool(db, size=2)
    _push(db, 10)
    threads = [threading.Thread(target=_ask, args=(pool, _params())) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    procs = [w.proc for w in pool._all]
    assert procs
    pool.close()
    assert all(not p.is_alive() for p in procs)
    assert _ask(pool, _params()).status == 503
