"""A full or failing disk under the storage engine: refused writes leave nothing half-written,
acknowledged ones are never lost, and writing resumes on its own when room comes back.

Faults come two ways: injected at the WAL's `os.write` (short writes, ENOSPC, EIO, a zero
return) and from a real small tmpfs that fills up.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections import Counter
from pathlib import Path
from typing import Callable

import pytest

from heron.model import Matcher, MatchOp, SeriesKind, fingerprint, labels_from
from heron.storage import (
    Database,
    Direction,
    DiskFullError,
    FsyncMode,
    LogBatch,
    StorageOptions,
    StorageWriteError,
)
from heron.storage import block as blockmod
from heron.storage import db as dbmod
from heron.storage import wal as walmod
from tmpfs import fill, resize, small_tmpfs

NOW_NS = time.time_ns() - 3600 * 10**9
FOREVER = 100 * 365 * 86400.0
REAL_WRITE = os.write


def opts(**kw: object) -> StorageOptions:
    base: dict[str, object] = {"retention_seconds": FOREVER, "ooo_window_seconds": FOREVER}
    base.update(kw)
    return StorageOptions(**base)  # type: ignore[arg-type]


def push(db: Database, i: int, stream: str = "a", size: int = 40, noise: bool = False) -> list[bytes]:
    """Append one batch of three unique lines; returns them (acknowledged if no error).
    With `noise` the lines do not compress, so blocks take as much room as the WAL."""
    lines = [
        b"%s-%06d-%d-" % (stream.encode(), i, k)
        + (os.urandom(size // 2).hex().encode() if noise else b"x" * size)
        for k in range(3)
    ]
    db.append(logs=[LogBatch(labels_from({"app": stream}), [NOW_NS + i * 10 + k for k in range(3)], lines)])
    return lines


def stored(db: Database) -> Counter[bytes]:
    page = db.query_logs([Matcher("app", MatchOp.RE, ".+")], 0, 2**62, direction=Direction.FORWARD, limit=0)
    return Counter(page.lines)


def reopen_and_check(path: str, acked: list[bytes], refused: list[bytes] = ()) -> Database:
    db = Database.open(path, opts(), background=False)
    got = stored(db)
    assert [line for line in acked if got[line] != 1] == []
    assert [line for line in refused if got[line]] == []
    return db


class FaultyWrite:
    """Replaces os.write for the WAL's descriptor only. `plan` holds one step per call: an
    int n writes the first n bytes and returns n, an errno raises it (writing nothing)."""

    def __init__(self, wal: walmod.WAL, plan: list[int | OSError]):
        self.wal = wal
        self.plan = list(plan)

    def __call__(self, fd: int, data: bytes | memoryview) -> int:
        if fd != self.wal._fd or not self.plan:
            return REAL_WRITE(fd, data)
        step = self.plan.pop(0)
        if isinstance(step, OSError):
            raise step
        return REAL_WRITE(fd, bytes(data[:step])) if step else 0


def enospc() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def wal_of(db: Database) -> walmod.WAL:
    assert db._wal is not None
    return db._wal


def segment_sizes(path: str) -> dict[int, int]:
    wdir = os.path.join(path, "wal")
    return {int(n): os.path.getsize(os.path.join(wdir, n)) for n in os.listdir(wdir)}


def test_enospc_after_a_short_write_cuts_the_record_and_later_writes_survive_replay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = str(tmp_path / "data")
    db = Database.open(path, opts(), background=False)
    acked = push(db, 0) + push(db, 1)
    wal = wal_of(db)
    before = wal.committed
    assert before == (wal.current_segment, os.path.getsize(os.path.join(path, "wal", f"{before[0]:08d}")))
    monkeypatch.setattr(walmod.os, "write", FaultyWrite(wal, [17, enospc()]))
    with pytest.raises(DiskFullError) as info:
        push(db, 2)
    assert path in str(info.value) and "bytes free" in str(info.value)
    refused = [b"a-000002-%d-" % k + b"x" * 40 for k in range(3)]
    # The failed segment holds exactly the committed bytes: the 17 torn bytes were cut away.
    assert db.wal_position() == before
    assert segment_sizes(path)[before[0]] == before[1]
    acked += push(db, 3) + push(db, 4)
    seg, size = db.wal_position()
    assert seg == before[0] + 1 and size == segment_sizes(path)[seg]
    assert wal.write_failures == 1 and db.stats()["wal_write_failures_total"] == 1
    db.close()
    with caplog.at_level(logging.WARNING, logger="heron.storage"):
        db = reopen_and_check(path, acked, refused)
    db.close()
    assert "damaged" not in caplog.text


def test_eio_is_a_write_error_not_disk_full_and_nothing_is_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "data")
    db = Database.open(path, opts(), background=False)
    acked = push(db, 0)
    monkeypatch.setattr(walmod.os, "write", FaultyWrite(wal_of(db), [OSError(errno.EIO, "I/O error")]))
    with pytest.raises(StorageWriteError) as info:
        push(db, 1)
    assert not isinstance(info.value, DiskFullError)
    assert info.value.retry_after_seconds > 0 and info.value.path == db.path
    acked += push(db, 1)  # the retry of the same batch succeeds, into a fresh segment
    db.close()
    reopen_and_check(path, acked).close()


def test_short_writes_that_complete_keep_the_record_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "data")
    db = Database.open(path, opts(), background=False)
    acked = push(db, 0)
    seg = db.wal_position()[0]
    # Four short writes and then the rest, followed by a write(2) that stored nothing.
    monkeypatch.setattr(walmod.os, "write", FaultyWrite(wal_of(db), [5, 9, 1, 30]))
    acked += push(db, 1)
    assert db.wal_position()[0] == seg  # no failure, so no new segment
    # A zero return would loop forever if taken for progress; the ENOSPC only bounds that.
    monkeypatch.setattr(walmod.os, "write", FaultyWrite(wal_of(db), [3, 0, enospc()]))
    with pytest.raises(StorageWriteError, match="returned 0"):
        push(db, 2)
    monkeypatch.setattr(walmod.os, "write", REAL_WRITE)
    acked += push(db, 3)
    db.close()
    reopen_and_check(path, acked).close()


def test_the_fresh_segment_repeats_its_series_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "data")
    db = Database.open(path, opts(), background=False)
    acked = push(db, 0, "a") + push(db, 0, "b")
    first = db.wal_position()[0]
    # The batch carries no series record (both are in the segment); the write fails.
    monkeypatch.setattr(walmod.os, "write", FaultyWrite(wal_of(db), [enospc()]))
    with pytest.raises(DiskFullError):
        push(db, 1, "a")
    acked += push(db, 2, "a") + push(db, 2, "b")
    seg = db.wal_position()[0]
    assert seg == first + 1
    records, _, problem = walmod.read_segment(os.path.join(path, "wal", f"{seg:08d}"))
    assert problem is None
    kinds = [type(r).__name__ for r in records]
    assert kinds == ["WalSeries", "WalLogs", "WalSeries", "WalLogs"]
    db.close()
    # The fresh segment is self-contained: replay finds everything even without the first one.
    os.unlink(os.path.join(path, "wal", f"{first:08d}"))
    db = Database.open(path, opts(), background=False)
    assert set(stored(db)) == set(acked[6:])
    db.close()


def test_a_series_record_in_a_failed_write_does_not_count_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "data")
    db = Database.open(path, opts(), background=False)
    acked = push(db, 0, "a")
    # A new series: its series record is written in full, its data record is cut short.
    monkeypatch.setattr(walmod.os, "write", FaultyWrite(wal_of(db), [40, enospc()]))
    with pytest.raises(DiskFullError):
        push(db, 1, "new")
    assert wal_of(db).needs_series(fingerprint(labels_from({"app": "new"}), SeriesKind.LOG))
    acked += push(db, 2, "new")
    db.close()
    reopen_and_check(path, acked).close()


def test_a_failed_cut_back_closes_the_segment_and_replay_cuts_its_torn_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "data")
    db = Database.open(path, opts(), background=False)
    acked = push(db, 0)
    seg, size = db.wal_position()
    real_ftruncate = os.ftruncate

    def no_truncate(fd: int, length: int) -> None:
        raise enospc()

    monkeypatch.setattr(walmod.os, "write", FaultyWrite(wal_of(db), [25, enospc()]))
    monkeypatch.setattr(walmod.os, "ftruncate", no_truncate)
    with pytest.raises(DiskFullError):
        push(db, 1)
    monkeypatch.setattr(walmod.os, "ftruncate", real_ftruncate)
    assert segment_sizes(path)[seg] == size + 25  # the torn tail is still there ...
    acked += push(db, 2)
    assert db.wal_position()[0] == seg + 1  # ... but nothing was written after it
    assert segment_sizes(path)[seg] == size + 25
    db.close()
    reopen_and_check(path, acked).close()
    assert segment_sizes(path)[seg] == size  # replay cut it


def test_a_failed_fsync_under_fsync_always_is_not_acknowledged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "data")
    db = Database.open(path, opts(fsync=FsyncMode.ALWAYS), background=False)
    acked = push(db, 0)
    before = db.wal_position()
    real_fsync = os.fsync
    wal = wal_of(db)

    def failing_fsync(fd: int) -> None:
        if fd == wal._fd:
            raise OSError(errno.EIO, "I/O error")
        real_fsync(fd)

    monkeypatch.setattr(walmod.os, "fsync", failing_fsync)
    with pytest.raises(StorageWriteError):
        push(db, 1)
    monkeypatch.setattr(walmod.os, "fsync", real_fsync)
    assert db.wal_position() == before and segment_sizes(path)[before[0]] == before[1]
    acked += push(db, 2)
    db.close()
    refused = [b"a-000001-%d-" % k + b"x" * 40 for k in range(3)]
    reopen_and_check(path, acked, refused).close()


def test_a_failed_background_fsync_moves_the_next_append_to_a_fresh_segment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "data")
    db = Database.open(path, opts(fsync_interval=0.02), background=False)
    wal = wal_of(db)
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        if fd == wal._fd:
            raise OSError(errno.EIO, "I/O error")
        real_fsync(fd)

    monkeypatch.setattr(walmod.os, "fsync", failing_fsync)
    acked = push(db, 0)  # acknowledged: the data is in the page cache, the fsync comes later
    seg = db.wal_position()[0]
    deadline = time.monotonic() + 5
    while wal.write_failures == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert wal.write_failures >= 1  # the fsync thread logged and counted it, and lives on
    monkeypatch.setattr(walmod.os, "fsync", real_fsync)
    acked += push(db, 1)
    assert db.wal_position()[0] == seg + 1
    assert wal._thread is not None and wal._thread.is_alive()
    db.close()
    reopen_and_check(path, acked).close()


def test_a_segment_that_cannot_be_created_is_retried_by_the_next_append(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "data")
    db = Database.open(path, opts(), background=False)
    acked = push(db, 0)
    real_open = os.open
    fails = [1]

    def open_once_failing(p: str, flags: int, mode: int = 0o777) -> int:
        if fails and os.path.dirname(p) == os.path.join(path, "wal") and flags & os.O_CREAT:
            fails.pop()
            raise enospc()
        return real_open(p, flags, mode)

    monkeypatch.setattr(walmod.os, "write", FaultyWrite(wal_of(db), [enospc()]))
    with pytest.raises(DiskFullError):
        push(db, 1)
    monkeypatch.setattr(walmod.os, "open", open_once_failing)
    with pytest.raises(DiskFullError, match="opening a WAL segment"):
        push(db, 1)
    acked += push(db, 1)
    db.close()
    reopen_and_check(path, acked).close()


def test_committed_starts_at_the_newest_replayed_segment(tmp_path: Path) -> None:
    path = str(tmp_path / "data")
    db = Database.open(path, opts(), background=False)
    assert db.wal_position() == (0, 0)  # a new directory: nothing committed yet
    push(db, 0)
    seg, size = db.wal_position()
    db.close()
    db = Database.open(path, opts(), background=False)
    assert db.wal_position() == (seg, size)  # what a reader must read; the new segment is empty
    push(db, 1)
    assert db.wal_position()[0] == seg + 1
    db.close()


def _fail_block_writes_at(monkeypatch: pytest.MonkeyPatch, where: str) -> Callable[[], None]:
    """Make block writing fail at one point; returns the undo."""
    if where == "chunks":
        target, name = blockmod.BlockWriter, "_write"

        def broken(self: object, data: bytes) -> int:
            raise enospc()

    elif where == "index":
        target, name = blockmod, "_write_file"

        def broken(path: str, data: bytes) -> None:  # type: ignore[misc]
            with open(path, "wb") as f:
                f.write(data[: len(data) // 2])
            raise enospc()

    else:  # after the rename: the fsync of blocks/
        target, name = blockmod, "_fsync_path"
        real = blockmod._fsync_path

        def broken(path: str) -> None:  # type: ignore[misc]
            if path.endswith("blocks"):
                raise OSError(errno.EIO, "I/O error")
            real(path)

    original = getattr(target, name)
    monkeypatch.setattr(target, name, broken)
    return lambda: monkeypatch.setattr(target, name, original)


@pytest.mark.parametrize("where", ["chunks", "index", "after_rename"])
def test_a_failed_head_cut_keeps_the_head_and_its_wal_and_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    path = str(tmp_path / "data")
    monkeypatch.setattr(dbmod, "_CUT_RETRY_SECONDS", 0.0)
    db = Database.open(path, opts(head_max_bytes=4000), background=False)
    undo = _fail_block_writes_at(monkeypatch, where)
    acked: list[bytes] = []
    for i in range(30):
        acked += push(db, i, size=200)  # past head_max_bytes: every append tries a cut
    assert db.counters.head_cut_failures > 0 and db.counters.head_cuts == 0
    blocks_dir = os.path.join(path, "blocks")
    assert os.listdir(blocks_dir) == []  # no .tmp and no half block left behind
    assert set(stored(db)) == set(acked)  # the head still answers queries
    undo()
    acked += push(db, 30, size=200)
    assert db.counters.head_cuts == 1 and len(os.listdir(blocks_dir)) == 1
    got = stored(db)
    assert all(got[line] == 1 for line in acked)
    db.close()
    reopen_and_check(path, acked).close()


def test_a_failed_compaction_keeps_its_sources_and_removes_its_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "data")
    db = Database.open(path, opts(compaction_min_blocks=2), background=False)
    acked: list[bytes] = []
    for i in range(3):
        acked += push(db, i)
        db.flush()
    blocks_dir = os.path.join(path, "blocks")
    sources = sorted(os.listdir(blocks_dir))
    undo = _fail_block_writes_at(monkeypatch, "chunks")
    assert db.compact() == 0
    assert db.counters.compaction_failures == 1
    assert sorted(os.listdir(blocks_dir)) == sources
    assert Counter(stored(db)) == Counter(acked)
    undo()
    assert db.compact() >= 1
    db.close()
    reopen_and_check(path, acked).close()


def test_full_tmpfs_refuses_cleanly_answers_queries_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dbmod, "_CUT_RETRY_SECONDS", 0.0)
    with small_tmpfs(tmp_path / "mnt", "4m") as mnt:
        path = str(mnt / "data")
        db = Database.open(path, opts(head_max_bytes=256 * 1024), background=False)
        acked: list[bytes] = []
        refused = 0
        for i in range(20_000):
            try:
                acked += push(db, i, size=1000, noise=True)
            except DiskFullError as exc:
                assert exc.free_bytes is not None and path in str(exc)
                refused += 1
                if refused == 5:
                    break
        assert refused == 5, "the disk never filled"
        assert db.stats()["data_dir_free_bytes"] < 64 * 1024
        assert not [n for n in os.listdir(os.path.join(path, "blocks")) if n.endswith(".tmp")]
        assert Counter(stored(db)) == Counter(acked)  # reads go on
        resize(mnt, "16m")
        for j in range(i + 1, i + 40):
            acked += push(db, j, size=1000, noise=True)
        db.flush()
        db.close()
        db = reopen_and_check(path, acked)
        assert Counter(stored(db)) == Counter(acked)
        db.close()


def test_a_database_opens_and_answers_on_a_full_disk(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "mnt", "2m") as mnt:
        path = str(mnt / "data")
        db = Database.open(path, opts(), background=False)
        acked = push(db, 0)
        db.close()
        filler = fill(mnt)
        db = Database.open(path, opts(), background=False)  # replay needs no room
        assert Counter(stored(db)) == Counter(acked)
        with pytest.raises(DiskFullError):
            push(db, 1, size=10_000)
        filler.unlink()
        acked += push(db, 1, size=10_000)
        db.close()
        reopen_and_check(path, acked).close()
