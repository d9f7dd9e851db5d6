"""The compressed WAL records (series batch, sample refs): round trips, damage, old formats.

Scrape-shaped appends write a type-5 series batch for series new to the segment and a type-6
sample-refs record naming series by their ordinal in the segment. These tests check that
the records decode to exactly what was encoded, that a torn or damaged record cuts the
segment there and nothing else, that a WAL written with the previous record types (1, 3 and
4 only) still replays, and that replay and a query worker's replica see every sample.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from heron.model import STALE_NAN, Matcher, MatchOp, SeriesKind, fingerprint
from heron.storage import Database, SampleBatch, SampleColumns, StorageOptions
from heron.storage import wal as walmod
from heron.workers.replica import WalReplica

ALL = [Matcher("__name__", MatchOp.RE, ".+")]
NOW_MS = (int(time.time() * 1000) // 15_000) * 15_000 - 3_600_000


def _labels(i: int, target: str = "t0") -> tuple[tuple[str, str], ...]:
    return (("__name__", f"m_{i % 7}"), ("instance", target), ("job", "node"), ("k", f"v{i}"))


def _batch(n: int, extra: str = "") -> tuple[np.ndarray, np.ndarray, list]:
    labels = [_labels(i, "t" + extra) for i in range(n)]
    fps = np.array([fingerprint(lab, SeriesKind.METRIC) for lab in labels], dtype=np.uint64)
    return fps, np.full(n, int(SeriesKind.METRIC), dtype=np.uint8), labels


def _reframe(rtype: int, payload: bytes) -> bytes:
    """A record with a valid CRC around any payload: damage the checksum cannot catch."""
    crc = zlib.crc32(payload, zlib.crc32(bytes((rtype,))))
    return struct.pack("<IIB", len(payload), crc, rtype) + payload


def _all_samples(snap_or_db: object) -> dict[tuple, tuple[list[int], list[int]]]:
    """Series -> (timestamps, values as raw bits), so NaN payloads compare exactly."""
    out = {}
    for labels, ts, vals in snap_or_db.samples(ALL, 0, 2**62):  # type: ignore[attr-defined]
        out[labels] = (ts.tolist(), np.asarray(vals, dtype=np.float64).view(np.uint64).tolist())
    return out


# -- records on their own ------------------------------------------------------------------


def test_series_batch_round_trips_ascii_and_utf8_labels() -> None:
    fps, kinds, labels = _batch(50)
    labels[3] = (("__name__", "m"), ("city", "Zürich"), ("emoji", "🦆"))
    labels[4] = (("__name__", "m"), ("empty", ""))
    kinds[5] = int(SeriesKind.LOG)
    blob = walmod.encode_series_batch(fps, kinds, labels)
    records, used, problem = walmod.decode_records(blob)
    assert problem is None and used == len(blob)
    assert [(r.fp, r.kind, r.labels) for r in records] == [
        (int(f), SeriesKind(int(k)), lab) for f, k, lab in zip(fps, kinds, labels)
    ]


def test_sample_refs_round_trip_shared_and_varying_timestamps_and_nan_bits() -> None:
    fps, kinds, labels = _batch(6)
    vals = np.array([1.5, -0.0, np.inf, STALE_NAN, 1e300, 7.0])
    shared = np.full(6, NOW_MS, dtype=np.int64)
    varying = NOW_MS + np.array([5, -3, 0, 1000, 2**40, -(2**40)], dtype=np.int64)
    ords = np.array([5, 0, 1, 1, 4, 2])
    blob = walmod.encode_series_batch(fps, kinds, labels)
    blob += walmod.encode_sample_refs(ords, shared, vals)
    blob += walmod.encode_sample_refs(ords[::-1], varying, vals[::-1])
    blob += walmod.encode_sample_refs(np.array([], dtype=np.int64), np.array([]), np.array([]))
    records, used, problem = walmod.decode_records(blob)
    assert problem is None and used == len(blob)
    a, b, empty = records[6:]
    assert a.fps.tolist() == fps[ords].tolist() and a.timestamps.tolist() == shared.tolist()
    assert a.values.view(np.uint64).tolist() == vals.view(np.uint64).tolist()
    assert b.fps.tolist() == fps[ords[::-1]].tolist() and b.timestamps.tolist() == varying.tolist()
    assert b.values.view(np.uint64).tolist() == vals[::-1].view(np.uint64).tolist()
    assert len(empty.fps) == 0


def test_ordinals_count_type_1_and_batched_series_in_segment_order() -> None:
    fps, kinds, labels = _batch(3)
    blob = walmod.encode_series(int(fps[0]), SeriesKind.METRIC, labels[0])
    blob += walmod.encode_series_batch(fps[1:], kinds[1:], labels[1:])
    blob += walmod.encode_sample_refs(np.array([2, 1, 0]), np.full(3, NOW_MS), np.array([1.0, 2.0, 3.0]))
    records, _, problem = walmod.decode_records(blob)
    assert problem is None
    assert records[-1].fps.tolist() == [int(fps[2]), int(fps[1]), int(fps[0])]


def test_a_decoder_fed_in_pieces_keeps_its_ordinals() -> None:
    """A query worker reads a live segment a committed piece at a time."""
    fps, kinds, labels = _batch(4)
    first = walmod.encode_series_batch(fps, kinds, labels)
    second = walmod.encode_sample_refs(np.array([3, 2]), np.full(2, NOW_MS), np.array([1.0, 2.0]))
    dec = walmod.SegmentDecoder()
    assert dec.decode(first)[2] is None
    records, used, problem = dec.decode(second)
    assert problem is None and used == len(second)
    assert records[0].fps.tolist() == [int(fps[3]), int(fps[2])]
    # A fresh decoder (another segment) does not know them: that is damage, not a guess.
    assert "not defined" in (walmod.decode_records(second)[2] or "")


def test_every_torn_tail_of_a_compressed_record_is_cut_at_its_start() -> None:
    fps, kinds, labels = _batch(40)
    head = walmod.encode_series_batch(fps, kinds, labels)
    tail = walmod.encode_sample_refs(np.arange(40), np.full(40, NOW_MS), np.arange(40.0))
    for cut in range(len(tail)):
        records, used, problem = walmod.decode_records(head + tail[:cut])
        assert used == len(head) and len(records) == 40
        assert (problem is None) == (cut == 0)
    for cut in range(1, len(head)):
        records, used, problem = walmod.decode_records(head[:cut])
        assert records == [] and used == 0 and problem is not None


@pytest.mark.parametrize(
    "payload",
    [
        struct.pack("<BI", 0, 2) + struct.pack("<I", 1 << 30) + b"junk",  # announces too much
        struct.pack("<BI", 0, 1) + struct.pack("<I", 20) + b"not zstd at all!",
        struct.pack("<BI", 0x80, 1) + struct.pack("<I", 20) + b"",  # unknown flag
        struct.pack("<BI", 1, 1),  # truncated before the raw length
    ],
)
def test_malformed_sample_refs_with_a_valid_crc_are_refused(payload: bytes) -> None:
    fps, kinds, labels = _batch(2)
    good = walmod.encode_series_batch(fps, kinds, labels)
    records, used, problem = walmod.decode_records(good + _reframe(walmod.REC_SAMPLE_REFS, payload))
    assert len(records) == 2 and used == len(good) and problem and "malformed" in problem


def test_a_series_batch_whose_counts_disagree_is_refused() -> None:
    fps, kinds, labels = _batch(3)
    blob = walmod.encode_series_batch(fps, kinds, labels)
    payload = bytearray(blob[9:])
    payload[4:8] = struct.pack("<I", 2 * 4 * 3 + 2)  # two strings more than the labels have
    records, used, problem = walmod.decode_records(_reframe(walmod.REC_SERIES_BATCH, bytes(payload)))
    assert records == [] and used == 0 and problem and "malformed" in problem


# -- through the database ------------------------------------------------------------------


def _scrapes(db: Database, rounds: int, start: int = 0) -> None:
    """Scrapes of two targets; the second grows by 10 series a round; round 3 repeats a series
    and sends one sample out of order, which go the general path beside the fast one."""
    for r in range(start, start + rounds):
        ts = NOW_MS + r * 15_000
        a = [_labels(i, "a") for i in range(200)]
        b = [_labels(i, "b") for i in range(20 + 10 * r)]
        for tl in (a, b):
            vals = np.arange(len(tl), dtype=np.float64) * (r + 1)
            if r == 3:
                vals[5] = STALE_NAN
            db.append(columns=SampleColumns(tl, np.full(len(tl), ts, dtype=np.int64), vals))
        if r == 3:
            dup = [a[0], a[0], a[1]]
            db.append(columns=SampleColumns(dup, np.array([ts + 1, ts + 2, ts - 30_000]), np.ones(3)))
            db.append(samples=[SampleBatch(_labels(999, "c"), [ts], [1.0])])


def test_restart_and_replica_see_every_scrape_across_segments(tmp_path: Path) -> None:
    opts = StorageOptions(wal_segment_bytes=1_500)  # a few scrapes a segment
    path = str(tmp_path / "data")
    db = Database.open(path, opts, background=False)
    try:
        _scrapes(db, 8)
        want = _all_samples(db.snapshot())
        assert len(os.listdir(os.path.join(path, "wal"))) > 2
        replica = WalReplica(path)
        replica.sync(db.wal_position())
        assert _all_samples(replica.snapshot()) == want
        replica.close()
    finally:
        db.close()
    assert len(want) == 200 + 90 + 1
    assert len(want[_labels(0, "a")][0]) == 10  # 8 rounds plus the duplicate's two
    db = Database.open(path, opts, background=False)
    try:
        assert _all_samples(db.snapshot()) == want
    finally:
        db.close()


def test_a_replica_synced_after_every_scrape_sees_what_the_writer_has(tmp_path: Path) -> None:
    """Each sync reads a live segment from where the last one stopped, ordinals and all."""
    path = str(tmp_path / "data")
    db = Database.open(path, StorageOptions(wal_segment_bytes=3_000), background=False)
    replica = WalReplica(path)
    try:
        for r in range(6):
            _scrapes(db, 1, start=r)
            replica.sync(db.wal_position())
            assert _all_samples(replica.snapshot()) == _all_samples(db.snapshot())
    finally:
        replica.close()
        db.close()


def test_a_wal_of_the_previous_record_types_replays_and_takes_new_appends(tmp_path: Path) -> None:
    """Type 1 series, type 3 samples and type 4 sample columns, as the previous version wrote."""
    path = tmp_path / "data"
    (path / "wal").mkdir(parents=True)
    fps, _, labels = _batch(5, "old")
    old = b"".join(walmod.encode_series(int(f), SeriesKind.METRIC, lab) for f, lab in zip(fps, labels))
    old += walmod.encode_sample_columns(fps, np.full(5, NOW_MS), np.arange(5.0))
    old += walmod.encode_samples(int(fps[0]), np.array([NOW_MS + 1, NOW_MS + 2]), np.array([9.0, STALE_NAN]))
    (path / "wal" / "00000001").write_bytes(old)
    db = Database.open(str(path), StorageOptions(), background=False)
    try:
        got = _all_samples(db.snapshot())
        assert got[labels[0]][0] == [NOW_MS, NOW_MS + 1, NOW_MS + 2]
        assert got[labels[0]][1][2] == np.array([STALE_NAN]).view(np.uint64)[0]
        assert [got[lab][1] for lab in labels[1:]] == [
            np.array([float(i)]).view(np.uint64).tolist() for i in range(1, 5)
        ]
        db.append(columns=SampleColumns(labels, np.full(5, NOW_MS + 15_000), np.arange(5.0) + 10))
        want = _all_samples(db.snapshot())
        replica = WalReplica(str(path))
        replica.sync(db.wal_position())
        assert _all_samples(replica.snapshot()) == want
        replica.close()
    finally:
        db.close()
    assert sorted(os.listdir(path / "wal")) == ["00000001", "00000002"]
    db = Database.open(str(path), StorageOptions(), background=False)
    try:
        assert _all_samples(db.snapshot()) == want
    finally:
        db.close()


def test_torn_tail_of_a_scrape_record_on_disk_keeps_every_earlier_scrape(tmp_path: Path) -> None:
    path = str(tmp_path / "data")
    db = Database.open(path, StorageOptions(), background=False)
    labels = [_labels(i) for i in range(100)]
    try:
        for r in range(3):
            db.append(
                columns=SampleColumns(labels, np.full(100, NOW_MS + r * 15_000), np.full(100, float(r)))
            )
            if r == 1:
                keep = db.wal_position()
        seg, size = db.wal_position()
    finally:
        db.close()
    seg_path = os.path.join(path, "wal", f"{seg:08d}")
    with open(seg_path, "r+b") as f:
        f.truncate(keep[1] + (size - keep[1]) // 2)
    db = Database.open(path, StorageOptions(), background=False)
    try:
        got = _all_samples(db.snapshot())
        assert all(ts == [NOW_MS, NOW_MS + 15_000] for ts, _ in got.values()) and len(got) == 100
    finally:
        db.close()
    assert os.path.getsize(seg_path) == keep[1]


_CHILD = """
import sys, numpy as np
from heron.storage import Database, SampleColumns, StorageOptions
sys.path.insert(0, sys.argv[3])
from test_wal_records import _labels
NOW_MS = int(sys.argv[4])  # the parent's: an import there and here may straddle a 15 s step
db = Database.open(sys.argv[1], StorageOptions(wal_segment_bytes=20_000), background=False)
for r in range(int(sys.argv[2])):
    tl = [_labels(i, "k") for i in range(50 + 3 * r)]
    db.append(columns=SampleColumns(tl, np.full(len(tl), NOW_MS + r * 1000), np.full(len(tl), float(r))))
    print(r, flush=True)
import time
time.sleep(60)
"""


def test_every_acknowledged_scrape_survives_kill_9(tmp_path: Path) -> None:
    path = str(tmp_path / "data")
    rounds = 40
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, path, str(rounds), os.path.dirname(__file__), str(NOW_MS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    acked = -1
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        while acked < rounds // 2 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acked = int(line)
    finally:
        proc.kill()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
    assert acked >= rounds // 2
    db = Database.open(path, StorageOptions(), background=False)
    try:
        got = _all_samples(db.snapshot())
    finally:
        db.close()
    for r in range(acked + 1):
        for i in range(50 + 3 * r):
            ts, bits = got[_labels(i, "k")]
            assert NOW_MS + r * 1000 in ts
            assert bits[ts.index(NOW_MS + r * 1000)] == np.array([float(r)]).view(np.uint64)[0]
    # Nothing that was never written shows up; a round past the last ack appears whole or not at all.
    rounds_seen = {t for ts, _ in got.values() for t in ts}
    assert rounds_seen <= {NOW_MS + r * 1000 for r in range(rounds)}
    for t in rounds_seen:
        r = (t - NOW_MS) // 1000
        assert all(t in got[_labels(i, "k")][0] for i in range(50 + 3 * r))


def _mixed_label_sets() -> list:
    good = [_labels(i, "bulk") for i in range(100)]
    odd = [
        (("instance", "x"), ("__name__", "unsorted")),
        (("__name__", "dup"), ("a", "1"), ("a", "2")),
        (("job", "no-name"),),
        (("__name__", "1bad"), ("job", "x")),
        (("__name__", "m"), ("bad-name", "x")),
        (("__name__", "m"), ("city", "Zürich")),
        (("__name__", "m"), ("long", "x" * 5000)),
    ]
    return good[:50] + odd + good[50:]


@pytest.mark.parametrize("mixed", [False, True])
def test_bulk_series_creation_accepts_and_refuses_as_one_at_a_time(tmp_path: Path, mixed: bool) -> None:
    """A first scrape of many series is checked and hashed in bulk; the outcome must be the one
    the per-series path gives (batches under 64 new series take it)."""
    sets = _mixed_label_sets() if mixed else [_labels(i, "bulk") for i in range(100)]
    ts = np.full(len(sets), NOW_MS, dtype=np.int64)
    vals = np.arange(len(sets), dtype=np.float64)
    bulk = Database.open(str(tmp_path / "bulk"), StorageOptions(), background=False)
    single = Database.open(str(tmp_path / "single"), StorageOptions(), background=False)
    try:
        got = bulk.append(columns=SampleColumns(sets, ts, vals))
        want_acc, want_rej = 0, []
        for i in range(len(sets)):
            r = single.append(columns=SampleColumns(sets[i : i + 1], ts[i : i + 1], vals[i : i + 1]))
            want_acc += r.accepted
            want_rej += [(x.reason, x.message) for x in r.rejected]
        assert got.accepted == want_acc
        assert sorted((x.reason, x.message) for x in got.rejected) == sorted(want_rej)
        assert _all_samples(bulk.snapshot()) == _all_samples(single.snapshot())
        refs = bulk.series_refs(sets)
        assert [r >= 0 for r in refs.tolist()] == [r >= 0 for r in single.series_refs(sets).tolist()]
    finally:
        bulk.close()
        single.close()
    reopened = Database.open(str(tmp_path / "bulk"), StorageOptions(), background=False)
    try:
        assert {lab: fingerprint(lab, SeriesKind.METRIC) for lab in _all_samples(reopened.snapshot())}
    finally:
        reopened.close()


def test_series_made_by_series_refs_are_defined_right_in_the_wal(tmp_path: Path) -> None:
    """`series_refs` keeps the new series' text for the append that follows; a second call
    in between, or an append of other series, must not make it define the wrong labels."""
    path = str(tmp_path / "data")
    first = [_labels(i, "r1") for i in range(100)]
    second = [_labels(i, "r2") for i in range(80)]
    db = Database.open(path, StorageOptions(), background=False)
    try:
        refs1 = db.series_refs(first)
        refs2 = db.series_refs(second)
        db.append(columns=SampleColumns(second, np.full(80, NOW_MS), np.ones(80), refs=refs2))
        db.append(columns=SampleColumns(first, np.full(100, NOW_MS), np.zeros(100), refs=refs1))
        third = [_labels(i, "r3") for i in range(70)]
        db.series_refs(third)
        db.append(columns=SampleColumns(third[::-1], np.full(70, NOW_MS), np.full(70, 3.0)))
        want = _all_samples(db.snapshot())
    finally:
        db.close()
    assert len(want) == 250
    db = Database.open(path, StorageOptions(), background=False)
    try:
        assert _all_samples(db.snapshot()) == want
    finally:
        db.close()
