"""Structured metadata is part of every entry's labels in a metric query, with stages or
without, as in Loki (its sample extractors add it to the labels builder for each entry)."""

from __future__ import annotations

import json
import time

from heron.logql.engine import Engine
from heron.model import labels_from
from heron.storage import Database, LogBatch, StorageOptions

T0 = (time.time_ns() // 10**9 - 3600) * 10**9  # within retention: an hour ago


def test_structured_metadata_labels_metric_queries_without_stages(tmp_path) -> None:
    """`sum by (detected_level)` over a bare selector splits by it (the UI's volume histogram
    asks exactly this), and a bare count keeps it in each series' labels."""
    db = Database.open(str(tmp_path / "data"), StorageOptions(), background=False)
    n = 3000  # long enough for grouping many entries at once
    ts = [T0 + i * 1_000_000 for i in range(n)]
    levels = ["error" if i % 10 == 0 else "info" for i in range(n)]
    meta = [json.dumps({"detected_level": lv}).encode() for lv in levels]
    lines = [f"line {i}".encode() for i in range(n)]
    assert not db.append([LogBatch(labels_from({"app": "m"}), ts, lines, meta)]).rejected
    engine = Engine(db)
    at = T0 + n * 1_000_000
    for q in (
        'sum by (detected_level) (count_over_time({app="m"}[1h]))',
        'sum by (detected_level) (count_over_time({app="m"} |= "line" [1h]))',
        'sum by (detected_level) (count_over_time({app="m"} | drop __error__ [1h]))',
    ):
        res = engine.query_range(q, at, at, 1_000_000_000)
        got = {s.labels["detected_level"]: float(s.values[-1]) for s in res.matrix}
        assert got == {"error": n / 10, "info": n - n / 10}, q
    res = engine.query_range('count_over_time({app="m"}[1h])', at, at, 1_000_000_000)
    assert sorted(sorted(s.labels.items()) for s in res.matrix) == [
        [("app", "m"), ("detected_level", "error")],
        [("app", "m"), ("detected_level", "info")],
    ]
