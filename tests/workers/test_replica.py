"""WalReplica: a read-only copy that follows the WAL must see exactly what the writer acked."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import numpy as np
import pytest

from heron.model import Matcher, MatchOp, SeriesKind
from heron.storage import (
    Database,
    Direction,
    DiskFullError,
    LogBatch,
    SampleBatch,
    SampleColumns,
    StorageOptions,
)
from heron.storage import wal as walmod
from heron.workers.replica import WalReplica

APP = [Matcher("app", MatchOp.EQ, "a")]


def _lines(snapshot: object, start: int = 0, end: int = 2**62) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    cursor = None
    while True:
        page = snapshot.logs(APP, start, end, direction=Direction.FORWARD, limit=1000, cursor=cursor)  # type: ignore[attr-defined]
        out += list(zip(page.timestamps.tolist(), page.lines))
        cursor = page.next_cursor
        if cursor is None:
            return out


def _push(db: Database, first: int, n: int, base_ns: int) -> None:
    ts = [base_ns + i for i in range(first, first + n)]
    db.append([LogBatch((("app", "a"),), ts, [f"line {i}".encode() for i in range(first, first + n)])])


@pytest.fixture
def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    d = Database.open(str(tmp_path / "data"), StorageOptions(), background=False)
    yield d
    d.close()


def test_replica_sees_every_acked_entry_and_no_more_than_the_position(db: Database) -> None:
    base = time.time_ns() - 10**12
    replica = WalReplica(db.path)
    _push(db, 0, 100, base)
    pos = db.wal_position()
    _push(db, 100, 50, base)  # written after the position the query was sent with
    replica.sync(pos)
    assert _lines(replica.snapshot()) == [(base + i, f"line {i}".encode()) for i in range(100)]
    replica.sync(db.wal_position())
    assert _lines(replica.snapshot()) == _lines(db.snapshot())
    assert len(_lines(replica.snapshot())) == 150


def test_replica_follows_head_cuts_and_compaction_without_duplicates(db: Database) -> None:
    base = time.time_ns() - 10**12
    replica = WalReplica(db.path)
    n = 0
    for _ in range(5):
        _push(db, n, 40, base)
        n += 40
        replica.sync(db.wal_position())
        db.flush()  # head -> block; the segments it covered are deleted
    _push(db, n, 40, base)
    n += 40
    replica.sync(db.wal_position())
    assert _lines(replica.snapshot()) == [(base + i, f"line {i}".encode()) for i in range(n)]
    assert db.compact() >= 1
    replica.sync(db.wal_position())
    assert _lines(replica.snapshot()) == _lines(db.snapshot())
    assert len(replica.snapshot().blocks) == len(db.snapshot().blocks)


def test_replica_that_missed_deleted_segments_reads_their_block(db: Database) -> None:
    base = time.time_ns() - 10**12
    replica = WalReplica(db.path)
    _push(db, 0, 30, base)
    replica.sync(db.wal_position())
    _push(db, 30, 30, base)
    db.flush()  # segment holding lines 30..59 is gone before the replica read it
    _push(db, 60, 30, base)
    replica.sync(db.wal_position())
    assert [line for _, line in _lines(replica.snapshot())] == [f"line {i}".encode() for i in range(90)]


def test_replica_follows_samples_and_scrape_columns(db: Database) -> None:
    now_ms = int(time.time() * 1000) - 60_000
    labels = (("__name__", "up"), ("job", "x"))
    db.append(samples=[SampleBatch(labels, [now_ms, now_ms + 1000], [1.0, 2.0])])
    db.append(columns=SampleColumns([labels], np.array([now_ms + 2000]), np.array([3.0])))
    db.append(columns=SampleColumns([labels], np.array([now_ms + 3000]), np.array([4.0])))
    replica = WalReplica(db.path)
    replica.sync(db.wal_position())
    matchers = [Matcher("job", MatchOp.EQ, "x")]
    [(_, ts, vals)] = replica.snapshot().samples(matchers, now_ms, now_ms + 10_000)
    assert ts.tolist() == [now_ms, now_ms + 1000, now_ms + 2000, now_ms + 3000]
    assert vals.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert replica.snapshot().series_info(matchers, SeriesKind.METRIC, now_ms, now_ms + 10_000)


def test_replica_stops_at_a_damaged_record_and_keeps_what_came_before(db: Database) -> None:
    base = time.time_ns() - 10**12
    _push(db, 0, 20, base)
    good = db.wal_position()
    _push(db, 20, 20, base)
    seg, size = db.wal_position()
    path = Path(db.path) / "wal" / f"{seg:08d}"
    raw = bytearray(path.read_bytes())
    raw[good[1] + 20] ^= 0xFF  # corrupt the second push's record
    path.write_bytes(bytes(raw))
    replica = WalReplica(db.path)
    replica.sync((seg, size))
    assert len(_lines(replica.snapshot())) == 20


def test_replica_reading_between_a_failed_write_and_the_fresh_segment_sees_only_acked_entries(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = time.time_ns() - 10**12
    replica = WalReplica(db.path)
    _push(db, 0, 10, base)
    real_write = walmod.os.write
    wal = db._wal
    calls = {"n": 0}

    def torn(fd: int, data: bytes | memoryview) -> int:
        if wal is None or fd != wal._fd:
            return real_write(fd, data)
        calls["n"] += 1
        if calls["n"] == 1:
            return real_write(fd, bytes(data[:25]))  # a partial record reaches the file...
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # ...then the disk is full

    monkeypatch.setattr(walmod.os, "write", torn)
    with pytest.raises(DiskFullError):
        _push(db, 10, 10, base)
    replica.sync(db.wal_position())  # between the failure and the next write
    monkeypatch.setattr(walmod.os, "write", real_write)
    _push(db, 20, 10, base)
    replica.sync(db.wal_position())
    want = [(base + i, f"line {i}".encode()) for i in [*range(10), *range(20, 30)]]
    assert _lines(replica.snapshot()) == want == _lines(db.snapshot())
