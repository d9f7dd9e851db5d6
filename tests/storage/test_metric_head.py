"""The head's metric columns: group-chunk codec, scrape-shaped appends through folds, series
refs, replay and head cuts, checked against a plain dict of what was written."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from heron.model import STALE_NAN, Matcher, MatchOp, SeriesKind, fingerprint, labels_from
from heron.storage import Database, RejectReason, SampleBatch, SampleColumns, StorageOptions
from heron.storage.head_chunks import pack_group, unpack_group
from heron.storage.metric_head import FOLD_SAMPLES_PER_SERIES
from heron.storage.series_slots import metric_fingerprint

NOW_MS = int(time.time() * 1000) - 3600_000  # an hour ago: inside retention and the OOO window
HERE = os.path.dirname(os.path.abspath(__file__))


def L(**kw: str):
    return labels_from(kw)


def everything(db: Database) -> dict[tuple, tuple[list[int], list[int]]]:
    """Every metric series as labels -> (timestamps, float64 bit patterns)."""
    out = {}
    for lab, ts, vals in db.query_samples([Matcher("__name__", MatchOp.RE, ".+")], 0, 2**62):
        out[lab] = (ts.tolist(), vals.view(np.uint64).tolist())
    return out


def bits(values: list[float]) -> list[int]:
    return np.array(values, dtype=np.float64).view(np.uint64).tolist()


def test_group_codec_round_trips_every_shape_bit_for_bit():
    rng = np.random.default_rng(7)
    specials = np.array([np.nan, STALE_NAN, -0.0, 0.0, np.inf, -np.inf, 1e308, 5e-324], dtype=np.float64)
    for trial in range(300):
        counts = rng.integers(0, 12, rng.integers(1, 40))
        counts[0] = max(counts[0], 1)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        ts = np.concatenate(
            [np.sort(rng.choice(10**9, c, replace=False)) + rng.integers(-(2**40), 2**42) for c in counts]
        ).astype(np.int64)
        kind = trial % 4
        if kind == 0:
            vals = rng.choice(specials, len(ts))
        elif kind == 1:
            vals = np.round(rng.random(len(ts)) * 1000, 2)
        elif kind == 2:
            vals = np.full(len(ts), 42.0)
        else:
            vals = rng.integers(0, 2**63, len(ts)).astype(np.uint64).view(np.float64)  # any bit pattern
        got_ts, got_vals = unpack_group(pack_group(ts, vals, offsets), offsets)
        assert got_ts.tolist() == ts.tolist()
        assert got_vals.view(np.uint64).tolist() == vals.view(np.uint64).tolist()


def test_metric_fingerprint_matches_the_model():
    for lab in [(), L(__name__="a"), L(__name__="ü", x="\xff", y=""), L(__name__="m", job="j", z="1" * 300)]:
        assert metric_fingerprint(lab) == fingerprint(lab, SeriesKind.METRIC)


def test_scrapes_through_many_folds_read_back_exactly(tmp_path):
    """Enough scrapes that the staging folds several times, with a stale marker, NaNs and a
    target that skips scrapes; reads in the middle of the staging and after a restart."""
    n = 700
    names = [L(__name__=f"m{i % 7}", i=str(i), job="j") for i in range(n)]
    want: dict[tuple, tuple[list[int], list[float]]] = {lab: ([], []) for lab in names}
    path = str(tmp_path / "d")
    scrapes = 3 * FOLD_SAMPLES_PER_SERIES * max(1, (1 << 16) // (FOLD_SAMPLES_PER_SERIES * n)) + 5
    with Database.open(path, StorageOptions(), background=False) as db:
        refs = db.series_refs(names)
        assert (refs >= 0).all() and len(set(refs.tolist())) == n
        for k in range(scrapes):
            part = names if k % 5 else names[::2]  # every fifth scrape, half the series
            t = NOW_MS + k * 15_000 + (k % 3)  # timestamps jitter by a few ms
            vals = [
                STALE_NAN if (k == 40 and j == 3) else math.nan if j == 5 else float(k * j) + 0.25
                for j in range(len(part))
            ]
            use_refs = k % 2 == 0
            cols = SampleColumns(
                part,
                [t] * len(part),
                vals,
                refs=(refs if part is names else refs[::2]) if use_refs else None,
            )
            res = db.append(columns=cols)
            assert res.accepted == len(part) and not res.rejected
            for lab, v in zip(part, vals):
                want[lab][0].append(t)
                want[lab][1].append(v)
            if k == scrapes // 2:
                check(db, want)
        check(db, want)
    with Database.open(path, StorageOptions(), background=False) as db:
        check(db, want)


def check(db: Database, want: dict[tuple, tuple[list[int], list[float]]]) -> None:
    got = everything(db)
    assert set(got) == set(want)
    for lab, (ts, vals) in want.items():
        assert got[lab] == (ts, bits(vals)), lab


def test_columns_path_keeps_the_general_rules(tmp_path):
    """Repeated series in one call, out-of-order samples, duplicates and conflicts, bad label
    sets and lists of pairs: what the fast path cannot take, the general path decides."""
    a, b = L(__name__="a"), L(__name__="b")
    with Database.open(str(tmp_path / "d"), StorageOptions(), background=False) as db:
        assert db.append(columns=SampleColumns([a, b], [NOW_MS, NOW_MS], [1.0, 1.0])).accepted == 2
        # a twice in one call, in time order; b older than its newest (inside the OOO window)
        res = db.append(
            columns=SampleColumns([a, a, b], [NOW_MS + 10, NOW_MS + 20, NOW_MS - 5], [2.0, 3.0, 0.5])
        )
        assert res.accepted == 3 and not res.rejected
        # a retry (same value) is acknowledged once; another value at the same time is refused
        res = db.append(columns=SampleColumns([a, b], [NOW_MS + 20, NOW_MS - 5], [3.0, 9.0]))
        assert res.duplicates == 1 and [r.reason for r in res.rejected] == [RejectReason.DUPLICATE_TIMESTAMP]
        # too old for the window, an invalid name, and an unsorted list of pairs
        old = NOW_MS - 2 * 3600_000
        res = db.append(
            columns=SampleColumns(
                [a, L(x="no-name"), [("z", "1"), ("__name__", "c")]], [old, NOW_MS, NOW_MS], [1.0, 1.0, 7.0]
            )
        )
        reasons = sorted(r.reason.value for r in res.rejected)
        assert res.accepted == 1 and reasons == sorted(["too_far_behind", "invalid_labels"])
        got = everything(db)
        assert got[a] == ([NOW_MS, NOW_MS + 10, NOW_MS + 20], bits([1.0, 2.0, 3.0]))
        assert got[b] == ([NOW_MS - 5, NOW_MS], bits([0.5, 1.0]))
        assert got[L(__name__="c", z="1")] == ([NOW_MS], bits([7.0]))
        refs = db.series_refs([a, L(x="no-name")])
        assert refs[0] >= 0 and refs[1] == -1


def test_refs_survive_a_head_cut_and_the_series_limit_holds(tmp_path):
    names = [L(__name__="m", i=str(i)) for i in range(30)]
    opts = StorageOptions(max_active_series=40)
    with Database.open(str(tmp_path / "d"), opts, background=False) as db:
        refs = db.series_refs(names)
        db.append(columns=SampleColumns(names, [NOW_MS] * 30, [1.0] * 30, refs=refs))
        db.flush()  # a new head: these refs are stale now and are resolved from the labels
        res = db.append(columns=SampleColumns(names, [NOW_MS + 1000] * 30, [2.0] * 30, refs=refs))
        assert res.accepted == 30 and not res.rejected
        # the newest timestamp crossed the cut: the out-of-order window still counts from it
        res = db.append(columns=SampleColumns(names[:1], [NOW_MS + 1000 - 2 * 3600_000], [5.0]))
        assert [r.reason for r in res.rejected] == [RejectReason.TOO_OLD]
        more = [L(__name__="n", i=str(i)) for i in range(20)]
        res = db.append(columns=SampleColumns(more, [NOW_MS] * 20, [1.0] * 20))
        assert res.accepted == 10
        assert {r.reason for r in res.rejected} == {RejectReason.SERIES_LIMIT}
        got = everything(db)
        assert got[names[4]][0] == [NOW_MS, NOW_MS + 1000]


def test_general_batches_and_scrapes_mix_in_one_series(tmp_path):
    lab = L(__name__="mix")
    path = str(tmp_path / "d")
    with Database.open(path, StorageOptions(), background=False) as db:
        db.append(
            samples=[SampleBatch(lab, [NOW_MS + i for i in range(0, 100, 2)], [float(i) for i in range(50)])]
        )
        for k in range(50):
            db.append(columns=SampleColumns([lab], [NOW_MS + 1000 + k], [float(k)]))
        db.append(
            samples=[SampleBatch(lab, [NOW_MS + i for i in range(1, 100, 2)], [-1.0] * 50)]
        )  # fills gaps
        [(_, ts, _)] = db.query_samples([Matcher("__name__", MatchOp.EQ, "mix")], 0, 2**62)
        assert ts.tolist() == list(range(NOW_MS, NOW_MS + 100)) + list(range(NOW_MS + 1000, NOW_MS + 1050))
        db.flush()
        [(_, ts2, _)] = db.query_samples([Matcher("__name__", MatchOp.EQ, "mix")], 0, 2**62)
        assert ts2.tolist() == ts.tolist()
    with Database.open(path, StorageOptions(), background=False) as db:
        [(_, ts3, _)] = db.query_samples([Matcher("__name__", MatchOp.EQ, "mix")], 0, 2**62)
        assert ts3.tolist() == ts.tolist()


SCRAPER = r"""
import sys, time
import numpy as np
from heron.model import labels_from
from heron.storage import Database, FsyncMode, SampleColumns, StorageOptions
path, n = sys.argv[1], int(sys.argv[2])
names = [labels_from({"__name__": "crash_scrape", "i": str(i)}) for i in range(n)]
opts = StorageOptions(fsync=FsyncMode.ALWAYS, head_max_bytes=600_000)
db = Database.open(path, opts, background=False)
refs = db.series_refs(names)
start, t0 = int(sys.argv[3]), int(sys.argv[4])
k = start
while True:
    db.append(columns=SampleColumns(names, np.full(n, t0 + k * 15_000), np.full(n, float(k)), refs=refs))
    print(k, flush=True)
    k += 1
"""


def test_scrapes_survive_kill_9(tmp_path):
    """Every acknowledged scrape is there after SIGKILL, with all of its series, through
    folds and head cuts; nothing half-written appears."""
    path = str(tmp_path / "d")
    n = 3000
    acked = -1
    start = 0
    for _round in range(3):
        p = subprocess.Popen(
            [sys.executable, "-c", SCRAPER, path, str(n), str(start), str(NOW_MS)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert p.stdout is not None
            deadline = time.monotonic() + 60
            target = start + 40
            while time.monotonic() < deadline:
                line = p.stdout.readline()
                if not line:
                    break
                acked = int(line)
                if acked >= target:
                    break
            os.kill(p.pid, signal.SIGKILL)
        finally:
            p.kill()
            p.wait(timeout=30)
            if p.stdout is not None:
                p.stdout.close()
        assert acked >= start, "the writer acknowledged nothing"
        with Database.open(path, StorageOptions(), background=False) as db:
            series = db.query_samples([Matcher("__name__", MatchOp.EQ, "crash_scrape")], 0, 2**62)
            assert len(series) == n
            lengths = {len(ts) for _, ts, _ in series}
            assert len(lengths) == 1  # every scrape is whole or absent
            (count,) = lengths
            assert count >= acked + 1
            _, ts, vals = series[0]
            assert vals.tolist() == [float(k) for k in range(count)]
            assert (np.diff(ts) == 15_000).all()
            assert len(os.listdir(os.path.join(path, "blocks"))) >= (1 if _round else 0)
        start = count


@pytest.mark.parametrize("n", [1, 513, 2000])
def test_export_into_a_block_equals_the_head(tmp_path, n):
    """A head cut writes what readers saw in the head, for groups of every size."""
    names = [L(__name__="e", i=str(i)) for i in range(n)]
    with Database.open(str(tmp_path / "d"), StorageOptions(), background=False) as db:
        for k in range(40):
            db.append(columns=SampleColumns(names, [NOW_MS + k * 1000] * n, [float(k * 3 + 1)] * n))
        db.append(samples=[SampleBatch(names[0], [NOW_MS - 7], [0.5])])
        before = everything(db)
        db.flush()
        assert db.stats()["head_series"] == 0
        assert everything(db) == before


def test_label_lists_matched_by_identity_stay_right_when_reordered_or_rebuilt(tmp_path):
    """The same tuples in another order, or equal tuples that are new objects, land on their
    own series: identity only ever short-cuts a lookup that would give the same answer."""
    names = [L(__name__="id", i=str(i)) for i in range(200)]
    with Database.open(str(tmp_path / "d"), StorageOptions(), background=False) as db:
        db.append(columns=SampleColumns(names, [NOW_MS] * 200, [float(i) for i in range(200)]))
        db.append(columns=SampleColumns(names, [NOW_MS + 1] * 200, [float(i) for i in range(200)]))
        back = names[::-1]
        db.append(columns=SampleColumns(back, [NOW_MS + 2] * 200, [float(199 - i) for i in range(200)]))
        fresh = [tuple((k, v + "") for k, v in lab) for lab in names]
        db.append(columns=SampleColumns(fresh, [NOW_MS + 3] * 200, [float(i) for i in range(200)]))
        for lab, (ts, vals) in everything(db).items():
            i = float(dict(lab)["i"])
            assert ts == [NOW_MS, NOW_MS + 1, NOW_MS + 2, NOW_MS + 3]
            assert vals == bits([i] * 4)


def test_bulk_reads_equal_one_series_at_a_time(tmp_path):
    names = [L(__name__="b", i=str(i)) for i in range(1500)]
    with Database.open(str(tmp_path / "d"), StorageOptions(), background=False) as db:
        for k in range(60):
            part = names if k % 3 else names[100:900]
            db.append(columns=SampleColumns(part, [NOW_MS + k * 1000] * len(part), [k + 0.5] * len(part)))
        db.append(samples=[SampleBatch(names[7], [NOW_MS - 3, NOW_MS + 1], [1.0, 2.0])])
        lo, hi = NOW_MS + 5_000, NOW_MS + 40_000
        bulk = {
            lab: (ts.tolist(), vals.tolist())
            for lab, ts, vals in db.query_samples([Matcher("__name__", MatchOp.EQ, "b")], lo, hi)
        }
        snap = db.snapshot()
        one = {}
        for ref in snap.select([Matcher("__name__", MatchOp.EQ, "b")], SeriesKind.METRIC, lo, hi):
            ts, vals = snap.series_samples(ref, lo, hi)
            one[ref.labels] = (ts.tolist(), vals.tolist())
        assert bulk == one and len(bulk) == 1500
        assert bulk[names[150]][0] == [NOW_MS + k * 1000 for k in range(5, 41)]


def test_in_order_batches_around_a_scrape_reach_the_block_sorted(tmp_path):
    """Every sample newer than the last, but a batch, a scrape and a batch again: one fold
    packs the batches' samples apart from the scrape's, and the block must still be sorted."""
    lab = L(__name__="order")
    with Database.open(str(tmp_path / "d"), StorageOptions(), background=False) as db:
        db.append(samples=[SampleBatch(lab, [NOW_MS + 1, NOW_MS + 2], [1.0, 2.0])])
        db.append(columns=SampleColumns([lab], [NOW_MS + 3], [3.0]))
        db.append(samples=[SampleBatch(lab, [NOW_MS + 4], [4.0])])
        db.flush()
        assert everything(db)[lab] == ([NOW_MS + k for k in range(1, 5)], bits([1.0, 2.0, 3.0, 4.0]))
