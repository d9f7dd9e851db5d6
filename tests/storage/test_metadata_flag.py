"""Snapshot.series_has_log_metadata reads chunk headers only, so a count that needs no line can
skip decompression when no entry has structured metadata, and must not when one has."""

from __future__ import annotations

import time
from pathlib import Path

from heron.model import Matcher, MatchOp, SeriesKind, labels_from
from heron.storage import Database, LogBatch, StorageOptions
from heron.storage.log_chunks import LogColumns, encode_log_chunk, log_chunk_has_metadata

T0 = (time.time_ns() // 10**9 - 600) * 10**9


def test_the_header_says_whether_a_chunk_has_metadata() -> None:
    plain = encode_log_chunk(LogColumns.from_lists([1, 2], [b"a", b"b"]))
    with_meta = encode_log_chunk(LogColumns.from_lists([1, 2], [b"a", b"b"], [b"", b'{"k":"v"}']))
    assert not log_chunk_has_metadata(plain)
    assert log_chunk_has_metadata(with_meta)
    assert log_chunk_has_metadata(with_meta[:44])  # the fixed header is enough


def _has(db: Database, app: str) -> bool:
    snap = db.snapshot()
    (ref,) = snap.select([Matcher("app", MatchOp.EQ, app)], SeriesKind.LOG, T0, T0 + 10**12)
    return snap.series_has_log_metadata(ref, T0, T0 + 10**12)


def test_head_and_blocks_answer_per_series(tmp_path: Path) -> None:
    db = Database.open(str(tmp_path / "data"), StorageOptions(), background=False)
    ts = [T0 + i for i in range(100)]
    lines = [b"x"] * 100
    db.append([LogBatch(labels_from({"app": "plain"}), ts, lines)])
    db.append([LogBatch(labels_from({"app": "meta"}), ts, lines, [b'{"detected_level":"info"}'] * 100)])
    assert not _has(db, "plain")
    assert _has(db, "meta")
    db.flush()  # the head becomes a block: the same answers from block chunk headers
    assert not _has(db, "plain")
    assert _has(db, "meta")
    db.close()
