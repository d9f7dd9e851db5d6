"""A log query reads a long chunk in windows from its end and stops once the answer is full
(engine._windows). The answer must be exactly what reading every entry gives: checked against a
brute-force reference over streams long enough to need many windows, with filters that keep
few lines (windows that grow), in both directions and at several limits."""

from __future__ import annotations

import time

import pytest

from heron.logql.engine import Engine
from heron.logql.result import ResultType
from heron.model import labels_from
from heron.storage import Database, Direction, LogBatch, StorageOptions

T0 = (time.time_ns() // 10**9 - 3600) * 10**9  # within retention: an hour ago
PER_STREAM = 20_000
STREAMS = 3


def _line(s: int, i: int) -> str:
    rare = " rare" if i % 997 == 0 else ""
    return f"level=info stream={s} n={i}{rare}"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    db = Database.open(str(tmp_path_factory.mktemp("windows") / "data"), StorageOptions(), background=False)
    for s in range(STREAMS):
        # Unique timestamps across streams (s ns apart), so the reference order is total.
        ts = [T0 + i * 1_000_000 + s for i in range(PER_STREAM)]
        lines = [_line(s, i).encode() for i in range(PER_STREAM)]
        result = db.append([LogBatch(labels_from({"app": "w", "s": str(s)}), ts, lines)])
        assert not result.rejected, result.rejected[:1]
    return Engine(db, max_entries=5000)


def _reference(pred, limit: int, backward: bool) -> list[tuple[int, str]]:
    every = [
        (T0 + i * 1_000_000 + s, _line(s, i)) for s in range(STREAMS) for i in range(PER_STREAM) if pred(s, i)
    ]
    return sorted(every, reverse=backward)[:limit]


CASES = [
    ('{app="w"}', lambda s, i: True),
    ('{app="w"} |= "rare"', lambda s, i: i % 997 == 0),
    ('{app="w"} | logfmt | n < 150', lambda s, i: i < 150),
    ('{app="w", s="1"} != "n=19999"', lambda s, i: s == 1 and i != 19999),
]


@pytest.mark.parametrize("query,pred", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("limit", [1, 7, 1000, 5000])
@pytest.mark.parametrize("direction", [Direction.BACKWARD, Direction.FORWARD], ids=["backward", "forward"])
def test_windowed_log_query_equals_reading_every_entry(engine, query, pred, limit, direction) -> None:
    end = T0 + PER_STREAM * 1_000_000 + 10
    res = engine.query_range(query, T0, end, 1_000_000_000, limit=limit, direction=direction)
    assert res.result_type is ResultType.STREAMS
    got = sorted(
        ((t, line) for st in res.streams for t, line in zip(st.timestamps, st.lines)),
        reverse=direction is Direction.BACKWARD,
    )
    assert got == _reference(pred, limit, direction is Direction.BACKWARD)


def test_a_limited_query_reads_only_the_windows_it_needs(engine) -> None:
    res = engine.query_range('{app="w"}', T0, T0 + PER_STREAM * 1_000_000 + 10, 1_000_000_000, limit=100)
    # Three streams of 20,000: the first window of each (2 x limit, at least 1,024 lines).
    assert res.stats.lines_processed <= STREAMS * 1024
    assert res.stats.entries_returned == 100
