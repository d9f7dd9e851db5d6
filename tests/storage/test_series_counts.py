"""Database.series_counts: distinct series of each kind across the head and the blocks."""

from __future__ import annotations

import time

from heron.model import SeriesKind, labels_from
from heron.storage import Database, LogBatch, SampleBatch, StorageOptions

NOW_NS = time.time_ns() - 600 * 10**9


def test_a_series_in_the_head_and_in_a_block_counts_once(tmp_path) -> None:
    with Database.open(str(tmp_path / "d"), StorageOptions(), background=False) as db:
        assert db.series_counts() == {SeriesKind.LOG: 0, SeriesKind.METRIC: 0}
        a, b = labels_from({"app": "a"}), labels_from({"app": "b"})
        db.append(logs=[LogBatch(a, [NOW_NS], [b"one"]), LogBatch(b, [NOW_NS], [b"two"])])
        db.append(samples=[SampleBatch(labels_from({"__name__": "up"}), [NOW_NS // 10**6], [1.0])])
        assert db.series_counts() == {SeriesKind.LOG: 2, SeriesKind.METRIC: 1}
        db.flush()  # both log streams now live in a block
        assert db.stats()["blocks"] == 1
        db.append(logs=[LogBatch(a, [NOW_NS + 1], [b"three"])])  # and one in the new head too
        assert db.series_counts() == {SeriesKind.LOG: 2, SeriesKind.METRIC: 1}
        db.append(logs=[LogBatch(labels_from({"app": "c"}), [NOW_NS], [b"four"])])
        assert db.series_counts() == {SeriesKind.LOG: 3, SeriesKind.METRIC: 1}
