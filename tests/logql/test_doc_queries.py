"""Every complete query in Loki's query documentation parses and runs in Heron.

The queries are collected in tests/logql/conformance/doc_queries.yaml (how they were chosen is
written at its top). Each runs over a small real Database through the real Engine: a valid query
must succeed, one the docs call invalid must be refused with a clean ParseError/QueryError, and
no query may raise anything else.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from heron.logql.engine import Engine
from heron.logql.result import QueryError
from heron.logql.syntax import ParseError
from heron.model import labels_from
from heron.storage import Database, LogBatch, StorageOptions

S = 1_000_000_000
QUERIES = yaml.safe_load((Path(__file__).parent / "conformance" / "doc_queries.yaml").read_text())
T0 = (time.time_ns() // S - 1200) * S


def _lines(i: int) -> list[bytes]:
    rec = {"level": "error" if i % 3 == 0 else "info", "status": 200 + i % 5, "duration": f"{i}ms"}
    rec |= {"method": "GET", "path": "/api", "user": f"u{i % 4}", "bytes": 100 + i, "addr": f"10.0.0.{i}"}
    logfmt = " ".join(f"{k}={v}" for k, v in rec.items())
    return [json.dumps(rec).encode(), logfmt.encode()]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    db = Database.open(str(tmp_path_factory.mktemp("docq") / "data"), StorageOptions(), background=False)
    streams = [
        {"job": "mysql", "app": "foo", "namespace": "prod", "container": "query-frontend"},
        {"job": "varlogs", "app": "bar", "namespace": "dev", "cluster": "us-central1"},
    ]
    batches = []
    for si, st in enumerate(streams):
        ts, lines = [], []
        for i in range(60):
            ts.append(T0 + i * 10 * S)
            lines.append(_lines(i)[si])
        batches.append(LogBatch(labels_from(st), ts, lines))
    db.append(logs=batches)
    yield Engine(db, max_series=500, max_entries=5000)
    db.close()


def _ids() -> list[str]:
    return [f"{q['source'].removeprefix('docs/sources/query/')}#{i}" for i, q in enumerate(QUERIES)]


def test_doc_queries_were_collected() -> None:
    assert len(QUERIES) >= 50 and any(q.get("invalid") for q in QUERIES)


@pytest.mark.parametrize("case", QUERIES, ids=_ids())
def test_doc_query_runs(engine: Engine, case: dict) -> None:
    end = T0 + 600 * S
    try:
        engine.query_range(case["query"], T0, end, 60 * S, limit=1000)
    except (ParseError, QueryError) as e:
        assert case.get("invalid"), f"{case['source']}: {case['query']!r} refused: {e}"
        return
    assert not case.get("invalid"), f"{case['source']}: the docs call {case['query']!r} invalid, Heron ran it"
