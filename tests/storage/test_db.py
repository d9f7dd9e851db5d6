"""The storage facade over real files: write, read back, restart, flush, compact, retain."""

from __future__ import annotations

import os
import random
import threading
import time

import numpy as np
import pytest

from heron.model import Matcher, MatchOp, SeriesKind, labels_from
from heron.storage import (
    Database,
    Direction,
    FsyncMode,
    LogBatch,
    RejectReason,
    SampleBatch,
    StorageError,
    StorageOptions,
)

NOW_NS = time.time_ns() - 3600 * 10**9  # an hour ago: inside retention and the OOO window
NOW_MS = NOW_NS // 1_000_000


def L(**kw: str):
    return labels_from(kw)


def eq(name: str, value: str) -> Matcher:
    return Matcher(name, MatchOp.EQ, value)


def opts(**kw) -> StorageOptions:
    return StorageOptions(**kw)


@pytest.fixture
def db(tmp_path):
    d = Database.open(str(tmp_path / "data"), opts(), background=False)
    yield d
    d.close()


def all_logs(db: Database, *matchers: Matcher, direction=Direction.FORWARD):
    page = db.query_logs(list(matchers), 0, 2**62, direction=direction, limit=0)
    return [
        (page.series[s], int(t), line) for s, t, line in zip(page.series_index, page.timestamps, page.lines)
    ]


def test_append_and_read_logs_forward_and_backward(db):
    a, b = L(app="a", namespace="x"), L(app="b", namespace="x")
    ts = [NOW_NS + i for i in range(5)]
    res = db.append(
        logs=[
            LogBatch(a, ts, [b"a%d" % i for i in range(5)]),
            LogBatch(b, ts, [b"b%d" % i for i in range(5)]),
        ]
    )
    assert res.accepted == 10 and not res.rejected
    fwd = all_logs(db, eq("namespace", "x"))
    assert [t for _, t, _ in fwd] == sorted(t for _, t, _ in fwd)
    assert sorted(line for *_, line in fwd) == sorted(
        [b"a%d" % i for i in range(5)] + [b"b%d" % i for i in range(5)]
    )
    back = db.query_logs([eq("app", "a")], 0, 2**62, direction=Direction.BACKWARD, limit=3)
    assert back.lines == [b"a4", b"a3", b"a2"]
    assert back.next_cursor is not None


def test_paging_with_cursor_never_repeats_or_skips(db):
    lab = L(app="p")
    # many equal timestamps to exercise tie-breaking across page boundaries
    ts = [NOW_NS + i // 7 for i in range(300)]
    lines = [b"line-%03d" % i for i in range(300)]
    db.append(logs=[LogBatch(lab, ts, lines), LogBatch(L(app="q"), ts, lines)])
    for direction in (Direction.FORWARD, Direction.BACKWARD):
        seen = []
        cursor = None
        while True:
            page = db.query_logs(
                [Matcher("app", MatchOp.RE, "p|q")], 0, 2**62, direction=direction, limit=37, cursor=cursor
            )
            seen += [
                (page.series[s], t, line)
                for s, t, line in zip(page.series_index, page.timestamps, page.lines)
            ]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert len(seen) == 600
        assert len(set(seen)) == 600
        tss = [t for _, t, _ in seen]
        assert tss == sorted(tss, reverse=direction is Direction.BACKWARD)


def test_duplicates_are_stored_once_and_acknowledged(tmp_path):
    db = Database.open(str(tmp_path / "d"), opts(compaction_min_blocks=2), background=False)
    lab = L(app="d")
    batch = LogBatch(lab, [NOW_NS, NOW_NS + 1, NOW_NS + 1], [b"x", b"y", b"y"])
    r1 = db.append(logs=[batch])
    assert r1.accepted == 3 and r1.duplicates == 1
    r2 = db.append(logs=[batch])  # a client retry
    assert r2.accepted == 3 and r2.duplicates == 3
    assert [line for *_, line in all_logs(db, eq("app", "d"))] == [b"x", b"y"]
    # the same after a head cut: the retry lands in a new head, reads still dedup
    db.flush()
    db.append(logs=[batch])
    assert [line for *_, line in all_logs(db, eq("app", "d"))] == [b"x", b"y"]
    # and compaction removes the physical duplicate
    db.flush()
    assert db.compact() == 1
    [block] = db.snapshot().blocks
    assert block.meta["stats"]["log_entries"] == 2
    assert [line for *_, line in all_logs(db, eq("app", "d"))] == [b"x", b"y"]
    db.close()


def test_same_timestamp_different_line_is_kept(db):
    lab = L(app="t")
    db.append(logs=[LogBatch(lab, [NOW_NS, NOW_NS], [b"one", b"two"])])
    db.append(logs=[LogBatch(lab, [NOW_NS], [b"three"])])
    assert sorted(line for *_, line in all_logs(db, eq("app", "t"))) == [b"one", b"three", b"two"]


def test_out_of_order_window_rejects_per_entry_and_keeps_rest(tmp_path):
    with Database.open(str(tmp_path / "d"), opts(ooo_window_seconds=60), background=False) as db:
        lab = L(app="o")
        db.append(logs=[LogBatch(lab, [NOW_NS], [b"newest"])])
        old = NOW_NS - 120 * 10**9
        ok = NOW_NS - 30 * 10**9
        res = db.append(logs=[LogBatch(lab, [old, ok, old + 1], [b"old", b"ok", b"old2"])])
        assert res.accepted == 1
        assert [r.reason for r in res.rejected] == [RejectReason.TOO_OLD, RejectReason.TOO_OLD]
        assert [r.index for r in res.rejected] == [0, 2]
        assert "too far behind" in res.rejected[0].message
        assert [line for *_, line in all_logs(db, eq("app", "o"))] == [b"ok", b"newest"]
        assert db.counters.rejected["too_far_behind"] == 2


def test_limits_give_clear_rejections(tmp_path):
    o = opts(max_line_bytes=10, max_labels_per_series=2, max_active_series=2)
    with Database.open(str(tmp_path / "d"), o, background=False) as db:
        res = db.append(
            logs=[
                LogBatch(L(a="1"), [NOW_NS, NOW_NS + 1], [b"short", b"x" * 11]),
                LogBatch(L(a="1", b="2", c="3"), [NOW_NS], [b"z"]),
                LogBatch((("bad-name", "v"),), [NOW_NS], [b"z"]),
                LogBatch(L(a="2"), [NOW_NS], [b"z"]),
                LogBatch(L(a="3"), [NOW_NS], [b"z"]),
            ]
        )
        reasons = [r.reason for r in res.rejected]
        assert reasons == [
            RejectReason.LINE_TOO_LONG,
            RejectReason.TOO_MANY_LABELS,
            RejectReason.INVALID_LABELS,
            RejectReason.SERIES_LIMIT,
        ]
        assert res.accepted == 2
        assert "longer than the limit of 10 bytes" in res.rejected[0].message
        assert "bad-name" in res.rejected[2].message
        assert "active series" in res.rejected[3].message
        with pytest.raises(StorageError):
            db.append(logs=[LogBatch(L(a="1"), [1, 2], [b"x"])])


def test_metrics_roundtrip_dedup_and_conflicts(db):
    lab = L(__name__="up", job="node")
    ts = NOW_MS + np.arange(0, 200 * 15_000, 15_000, dtype=np.int64)
    vals = np.arange(200, dtype=np.float64)
    assert db.append(samples=[SampleBatch(lab, ts, vals)]).accepted == 200
    res = db.append(samples=[SampleBatch(lab, ts[:10], vals[:10])])
    assert res.duplicates == 10 and not res.rejected
    res = db.append(samples=[SampleBatch(lab, ts[:1], [42.0])])
    assert res.rejected[0].reason is RejectReason.DUPLICATE_TIMESTAMP
    [(labels, got_ts, got_vals)] = db.query_samples([eq("__name__", "up")], 0, 2**62)
    assert labels == lab
    np.testing.assert_array_equal(got_ts, ts)
    np.testing.assert_array_equal(got_vals, vals)
    db.flush()
    [(_, got_ts, got_vals)] = db.query_samples([eq("job", "node")], int(ts[10]), int(ts[19]))
    np.testing.assert_array_equal(got_ts, ts[10:20])
    res = db.append(samples=[SampleBatch(L(job="x"), [NOW_MS], [1.0])])
    assert res.rejected[0].reason is RejectReason.INVALID_LABELS


def test_label_names_values_and_series(db):
    db.append(
        logs=[
            LogBatch(L(app="a", env="prod"), [NOW_NS], [b"x"]),
            LogBatch(L(app="b"), [NOW_NS + 10], [b"y"]),
        ],
        samples=[SampleBatch(L(__name__="m", instance="i"), [NOW_MS], [1.0])],
    )
    assert db.label_names(SeriesKind.LOG, 0, 2**62) == ["app", "env"]
    assert db.label_values("app", SeriesKind.LOG, 0, 2**62) == ["a", "b"]
    assert db.label_values("app", SeriesKind.LOG, 0, 2**62, [eq("env", "prod")]) == ["a"]
    assert db.label_names(SeriesKind.METRIC, 0, 2**62) == ["__name__", "instance"]
    infos = db.select_series([Matcher("app", MatchOp.RE, ".+")], SeriesKind.LOG, NOW_NS + 5, 2**62)
    assert [i.labels for i in infos] == [L(app="b")]
    assert db.select_series([eq("env", "")], SeriesKind.LOG, 0, 2**62)[0].labels == L(app="b")
    assert [
        i.labels for i in db.select_series([Matcher("app", MatchOp.NRE, "a")], SeriesKind.LOG, 0, 2**62)
    ] == [L(app="b")]


def test_restart_replays_wal_and_keeps_blocks(tmp_path):
    path = str(tmp_path / "d")
    with Database.open(path, opts(fsync=FsyncMode.ALWAYS), background=False) as db:
        db.append(
            logs=[LogBatch(L(app="r"), [NOW_NS + i for i in range(100)], [b"%d" % i for i in range(100)])]
        )
        db.flush()
        db.append(
            logs=[
                LogBatch(L(app="r"), [NOW_NS + 100 + i for i in range(50)], [b"w%d" % i for i in range(50)])
            ]
        )
        db.append(samples=[SampleBatch(L(__name__="m"), [NOW_MS], [3.5])])
    with Database.open(path, opts(), background=False) as db:
        got = all_logs(db, eq("app", "r"))
        assert len(got) == 150
        assert db.query_samples([eq("__name__", "m")], 0, 2**62)[0][2].tolist() == [3.5]
        # the OOO window survives a restart: the newest entry is known from WAL and blocks
        res = db.append(logs=[LogBatch(L(app="r"), [NOW_NS - 2 * 3600 * 10**9], [b"ancient"])])
        assert res.rejected and res.rejected[0].reason is RejectReason.TOO_OLD


def test_second_process_cannot_open_same_directory(tmp_path):
    path = str(tmp_path / "d")
    with Database.open(path, opts(), background=False):
        with pytest.raises(StorageError, match="in use"):
            Database.open(path, opts(), background=False)


def test_torn_wal_tail_is_cut_with_warning(tmp_path, caplog):
    path = str(tmp_path / "d")
    with Database.open(path, opts(), background=False) as db:
        for i in range(5):
            db.append(logs=[LogBatch(L(app="t"), [NOW_NS + i], [b"line%d" % i])])
    seg = sorted(os.listdir(os.path.join(path, "wal")))[-1]
    p = os.path.join(path, "wal", seg)
    size = os.path.getsize(p)
    with open(p, "r+b") as f:
        f.truncate(size - 3)
    with Database.open(path, opts(), background=False) as db:
        assert [line for *_, line in all_logs(db, eq("app", "t"))] == [b"line%d" % i for i in range(4)]
    assert "cut off" in caplog.text


def test_wal_bit_flip_drops_only_the_damaged_tail(tmp_path):
    path = str(tmp_path / "d")
    with Database.open(path, opts(), background=False) as db:
        for i in range(10):
            db.append(logs=[LogBatch(L(app="t"), [NOW_NS + i], [b"line%d" % i])])
    seg = sorted(os.listdir(os.path.join(path, "wal")))[-1]
    p = os.path.join(path, "wal", seg)
    flip_bit(p, 0.6, 0x10)
    with Database.open(path, opts(), background=False) as db:
        got = [line for *_, line in all_logs(db, eq("app", "t"))]
        assert 0 < len(got) < 10
        assert got == [b"line%d" % i for i in range(len(got))]
        # and the database keeps working afterwards
        db.append(logs=[LogBatch(L(app="t"), [NOW_NS + 100], [b"after"])])
    with Database.open(path, opts(), background=False) as db:
        assert all_logs(db, eq("app", "t"))[-1][2] == b"after"


def flip_bit(path: str, pos_fraction: float, mask: int = 0x01) -> None:
    with open(path, "rb") as f:
        data = bytearray(f.read())
    data[int(len(data) * pos_fraction)] ^= mask
    with open(path, "wb") as f:
        f.write(bytes(data))


def _one_block(path: str) -> str:
    blocks = [b for b in os.listdir(os.path.join(path, "blocks"))]
    assert len(blocks) == 1
    return os.path.join(path, "blocks", blocks[0])


def test_chunk_bit_flip_quarantines_block_and_serves_the_rest(tmp_path):
    path = str(tmp_path / "d")
    with Database.open(path, opts(), background=False) as db:
        db.append(
            logs=[
                LogBatch(L(app="old"), [NOW_NS + i for i in range(1000)], [b"o%d" % i for i in range(1000)])
            ]
        )
        db.flush()
        db.append(logs=[LogBatch(L(app="new"), [NOW_NS], [b"fresh"])])
    block = _one_block(path)
    chunks = os.path.join(block, "chunks")
    flip_bit(chunks, 0.5)
    with Database.open(path, opts(), background=False) as db:
        assert all_logs(db, eq("app", "old")) == []  # the bad chunk is reported, not returned wrong
        assert os.path.isdir(os.path.join(path, "quarantine", os.path.basename(block)))
        assert [line for *_, line in all_logs(db, eq("app", "new"))] == [b"fresh"]
        assert db.counters.quarantined_blocks == 1


@pytest.mark.parametrize("victim", ["index", "meta.json"])
def test_index_or_meta_bit_flip_quarantines_on_open(tmp_path, victim):
    path = str(tmp_path / "d")
    with Database.open(path, opts(), background=False) as db:
        db.append(logs=[LogBatch(L(app="a"), [NOW_NS], [b"x"])])
        db.flush()
        db.append(logs=[LogBatch(L(app="b"), [NOW_NS], [b"y"])])
    block = _one_block(path)
    p = os.path.join(block, victim)
    flip_bit(p, 0.5, 0x04)
    with Database.open(path, opts(), background=False) as db:
        assert os.listdir(os.path.join(path, "blocks")) == []
        assert os.listdir(os.path.join(path, "quarantine")) == [os.path.basename(block)]
        assert [line for *_, line in all_logs(db, eq("app", "b"))] == [b"y"]


def test_foreign_entries_are_ignored(tmp_path, caplog):
    path = tmp_path / "d"
    (path / "lost+found").mkdir(parents=True)
    (path / "blocks").mkdir()
    (path / "blocks" / "README").write_text("hi")
    (path / "blocks" / "0123456789abcdef0123.tmp").mkdir()
    with Database.open(str(path), opts(), background=False) as db:
        db.append(logs=[LogBatch(L(app="a"), [NOW_NS], [b"x"])])
        db.flush()
        assert len(all_logs(db, eq("app", "a"))) == 1
    assert any(getattr(r, "fields", {}).get("name") == "lost+found" for r in caplog.records)
    assert (path / "lost+found").is_dir()
    assert not (path / "blocks" / "0123456789abcdef0123.tmp").exists()


def test_retention_by_age_and_by_size(tmp_path):
    path = str(tmp_path / "d")
    day = 86400 * 10**9
    o = opts(retention_seconds=3 * 86400, ooo_window_seconds=10 * 86400)
    with Database.open(path, o, background=False) as db:
        now = time.time_ns()
        for age_days in (2.5, 1.5, 0.5):
            t = now - int(age_days * day)
            db.append(
                logs=[
                    LogBatch(L(app="r"), [t + i for i in range(2000)], [os.urandom(50) for _ in range(2000)])
                ]
            )
            db.flush()
        assert len(db.snapshot().blocks) == 3
        assert db.apply_retention(now + 1 * day) == 1  # the 2.5-day-old block is now 3.5 days old
        assert len(all_logs(db, eq("app", "r"))) == 4000
        res = db.append(logs=[LogBatch(L(app="r"), [now - 4 * day], [b"too old"])])
        assert res.rejected[0].reason is RejectReason.RETENTION
    sizes = None
    with Database.open(
        path, opts(retention_seconds=3 * 86400, ooo_window_seconds=10 * 86400), background=False
    ) as db:
        sizes = [b.size_bytes for b in db.snapshot().blocks]
    budget = sizes[-1] + 100_000  # room for the newest block and the WAL only
    with Database.open(
        path, opts(retention_seconds=3 * 86400, retention_bytes=budget), background=False
    ) as db:
        assert db.apply_retention() == 1
        left = all_logs(db, eq("app", "r"))
        assert len(left) == 2000 and min(t for _, t, _ in left) > time.time_ns() - day


def test_compaction_merges_blocks_and_keeps_every_entry(tmp_path):
    path = str(tmp_path / "d")
    rng = random.Random(1)
    expected = []
    with Database.open(path, opts(compaction_min_blocks=4), background=False) as db:
        for blk in range(8):
            batches = []
            for s in range(3):
                ts = sorted(NOW_NS + blk * 10**9 + rng.randrange(10**9) for _ in range(200))
                lines = [b"b%d-s%d-%d" % (blk, s, i) for i in range(200)]
                batches.append(LogBatch(L(app="c", s=str(s)), ts, lines))
                expected += list(zip(ts, lines))
            samples = [
                SampleBatch(
                    L(__name__="g"),
                    [NOW_MS + blk * 1000 + i for i in range(100)],
                    [float(blk * 100 + i) for i in range(100)],
                )
            ]
            db.append(logs=batches, samples=samples)
            db.flush()
        assert len(db.snapshot().blocks) == 8
        assert db.compact() == 1
        blocks = db.snapshot().blocks
        assert len(blocks) == 1 and all(b.level == 1 for b in blocks)
        got = [(t, line) for _, t, line in all_logs(db, eq("app", "c"))]
        assert sorted(got) == sorted(expected)
        [(_, ts, vals)] = db.query_samples([eq("__name__", "g")], 0, 2**62)
        assert len(ts) == 800 and vals.tolist() == [float(v) for v in range(800)]
    assert len(os.listdir(os.path.join(path, "blocks"))) == 1
    with Database.open(path, opts(), background=False) as db:
        assert len(all_logs(db, eq("app", "c"))) == len(expected)


def test_reads_during_writes_see_consistent_prefixes(tmp_path):
    """A reader never sees a torn entry or an entry twice while the writer appends and cuts."""
    path = str(tmp_path / "d")
    o = opts(head_max_bytes=300_000)  # force head cuts while reading
    with Database.open(path, o, background=False) as db:
        stop = threading.Event()
        errors: list[str] = []
        written = [0]

        def reader() -> None:
            while not stop.is_set():
                got = all_logs(db, eq("app", "rw"))
                lines = [line for *_, line in got]
                n = len(lines)
                if lines != [b"entry-%06d-" % i + b"x" * 100 for i in range(n)]:
                    errors.append(f"inconsistent read of {n} lines")
                    return
                if n > written[0]:
                    errors.append("read more than was acknowledged")
                    return

        t = threading.Thread(target=reader)
        t.start()
        i = 0
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and i < 20000:
            batch = [b"entry-%06d-" % (i + k) + b"x" * 100 for k in range(200)]
            written[0] = i + 200  # an upper bound while the append is in flight
            db.append(logs=[LogBatch(L(app="rw"), [NOW_NS + i + k for k in range(200)], batch)])
            i += 200
        stop.set()
        t.join()
        assert not errors, errors
        assert len(all_logs(db, eq("app", "rw"))) == i
        assert db.counters.head_cuts >= 1


def test_scrape_columns_fast_path_and_replay(tmp_path):
    from heron.storage import SampleColumns

    path = str(tmp_path / "d")
    names = [L(__name__="m", i=str(i)) for i in range(50)]
    with Database.open(path, opts(), background=False) as db:
        for k in range(300):  # crosses the 120-sample chunk cut twice
            res = db.append(
                columns=SampleColumns(names, [NOW_MS + k * 15_000] * 50, [float(k + i) for i in range(50)])
            )
            assert res.accepted == 50 and not res.rejected
        # a retry of the last scrape is acknowledged and stored once; a conflicting value is refused
        res = db.append(columns=SampleColumns(names[:2], [NOW_MS + 299 * 15_000] * 2, [299.0, 0.5]))
        assert res.duplicates == 1 and [r.reason for r in res.rejected] == [RejectReason.DUPLICATE_TIMESTAMP]
        # invalid and new series take the general path inside the same call
        res = db.append(
            columns=SampleColumns([L(i="no-name"), L(__name__="new")], [NOW_MS, NOW_MS], [1.0, 2.0])
        )
        assert res.accepted == 1 and res.rejected[0].reason is RejectReason.INVALID_LABELS
    with Database.open(path, opts(), background=False) as db:
        got = {
            dict(lab)["i"]: (ts, vals) for lab, ts, vals in db.query_samples([eq("__name__", "m")], 0, 2**62)
        }
        assert len(got) == 50
        ts, vals = got["7"]
        assert ts.tolist() == [NOW_MS + k * 15_000 for k in range(300)]
        assert vals.tolist() == [float(k + 7) for k in range(300)]
        assert db.query_samples([eq("__name__", "new")], 0, 2**62)[0][2].tolist() == [2.0]
        # after the restart the first scrape writes series records again, then the fast path resumes
        db.append(columns=SampleColumns(names, [NOW_MS + 300 * 15_000] * 50, [1.0] * 50))
        db.append(columns=SampleColumns(names, [NOW_MS + 301 * 15_000] * 50, [2.0] * 50))
    with Database.open(path, opts(), background=False) as db:
        [(_, ts, vals)] = db.query_samples([eq("i", "3")], NOW_MS + 300 * 15_000, 2**62)
        assert vals.tolist() == [1.0, 2.0]


def test_wal_segments_rotate_by_size_and_all_replay(tmp_path):
    from heron.storage import SampleColumns

    path = str(tmp_path / "d")
    names = [L(__name__="m", i=str(i)) for i in range(20)]
    with Database.open(path, opts(wal_segment_bytes=4096), background=False) as db:
        for k in range(50):
            db.append(logs=[LogBatch(L(app="seg"), [NOW_NS + k], [b"line %d " % k + b"x" * 200])])
            db.append(columns=SampleColumns(names, [NOW_MS + k * 1000] * 20, [float(k)] * 20))
        assert len(os.listdir(os.path.join(path, "wal"))) > 3
    with Database.open(path, opts(), background=False) as db:
        assert len(all_logs(db, eq("app", "seg"))) == 50
        series = db.query_samples([eq("__name__", "m")], 0, 2**62)
        assert len(series) == 20 and all(len(ts) == 50 for _, ts, _ in series)


def test_entries_past_the_future_skew_are_refused_and_do_not_block_their_stream(tmp_path):
    """Issue 18: one entry at 4900000000000000000 (year 2125) was stored, and from then on every
    current entry of its stream was `too far behind the newest entry`."""
    with Database.open(str(tmp_path / "d"), opts(future_skew_seconds=600), background=False) as db:
        lab = L(app="f")
        now = time.time_ns()
        far, near = 4_900_000_000_000_000_000, now + 300 * 10**9  # near: inside the 10 minutes
        res = db.append(logs=[LogBatch(lab, [far], [b"from the future"])])
        assert res.accepted == 0 and [r.reason for r in res.rejected] == [RejectReason.TOO_NEW]
        assert "too far in the future" in res.rejected[0].message and "600s" in res.rejected[0].message
        # in one batch, out of order: the refused entry must not count as the stream's newest
        res = db.append(logs=[LogBatch(lab, [now, far, now - 10**9, near], [b"a", b"b", b"c", b"d"])])
        assert res.accepted == 3
        assert [(r.index, r.reason) for r in res.rejected] == [(1, RejectReason.TOO_NEW)]
        assert db.append(logs=[LogBatch(lab, [now + 1], [b"e"])]).accepted == 1
        assert [line for *_, line in all_logs(db, eq("app", "f"))] == [b"c", b"a", b"e", b"d"]
        assert db.counters.rejected["too_far_in_future"] == 2
    with Database.open(str(tmp_path / "z"), opts(future_skew_seconds=0), background=False) as db:
        assert db.append(logs=[LogBatch(L(app="z"), [time.time_ns() + 10**9], [b"x"])]).rejected


def test_label_names_are_at_most_1024_bytes_and_log_streams_refuse_reserved_names(db):
    res = db.append(
        logs=[
            LogBatch(L(**{"a" * 10_000: "v"}), [NOW_NS], [b"x"]),
            LogBatch(L(**{"b" * 1024: "v"}), [NOW_NS], [b"x"]),
            LogBatch(L(__name__="up", app="x"), [NOW_NS], [b"x"]),
            LogBatch(L(__stream_shard__="1"), [NOW_NS], [b"x"]),
        ],
        samples=[SampleBatch(L(__name__="up", **{"c" * 1025: "v"}), [NOW_MS], [1.0])],
    )
    assert res.accepted == 1 and [r.reason for r in res.rejected] == [RejectReason.INVALID_LABELS] * 4
    long_name, reserved, shard, metric = (r.message for r in res.rejected)
    assert "(10000 characters) is longer than the limit of 1024 bytes" in long_name
    assert len(long_name) < 300  # the 10,000 characters are not echoed back
    assert "'__name__' is reserved" in reserved and "not allowed on log streams" in reserved
    assert "'__stream_shard__' is reserved" in shard
    assert "longer than the limit of 1024 bytes" in metric
    assert db.label_names(SeriesKind.LOG, 0, 2**62) == ["b" * 1024]
    assert db.append(samples=[SampleBatch(L(__name__="up"), [NOW_MS], [1.0])]).accepted == 1
