"""The engine over a real `heron.storage.Database` in a temp dir: one snapshot per query,
staleness markers as storage keeps them, and parsed queries end to end."""

from __future__ import annotations

import time

import numpy as np
import pytest

from heron.model import STALE_NAN, labels_from
from heron.promql.engine import Engine
from heron.promql.value import ExecutionError
from heron.storage import Database, SampleBatch, StorageOptions

M = 60_000
# Ten minutes of samples ending a minute ago: inside retention and the out-of-order window.
T0 = (time.time_ns() // 1_000_000 // M) * M - 11 * M


@pytest.fixture
def db(tmp_path):
    d = Database.open(str(tmp_path / "data"), StorageOptions(), background=False)
    ts = T0 + np.arange(11) * M
    batches = [
        SampleBatch(
            labels_from({"__name__": "req_total", "job": "api", "code": "200"}), ts, np.arange(11) * 10.0
        ),
        SampleBatch(
            labels_from({"__name__": "req_total", "job": "api", "code": "500"}), ts, np.arange(11) * 1.0
        ),
        SampleBatch(labels_from({"__name__": "up", "job": "api"}), ts[:6], [1.0] * 5 + [STALE_NAN]),
    ]
    assert d.append(samples=batches).accepted == 28
    yield d
    d.close()


def vals(res) -> dict:
    return {
        dict(s.labels).get("code", dict(s.labels).get("__name__", "")): s.values.tolist() for s in res.series
    }


def test_selectors_and_staleness_from_storage(db):
    eng = Engine(db)
    res = eng.instant('req_total{code="500"}', T0 + 10 * M)
    assert [s.values.tolist() for s in res.series] == [[10.0]]
    res = eng.range("up", T0, T0 + 10 * M, M)
    assert [s.timestamps.tolist() for s in res.series] == [[T0 + i * M for i in range(5)]]


def test_parsed_binary_join_and_offset(db):
    eng = Engine(db)
    q = 'req_total{code="500"} / ignoring(code) group_left req_total{code="200"} offset 1m'
    res = eng.instant(q, T0 + 10 * M)
    assert [(dict(s.labels), s.values.tolist()) for s in res.series] == [
        ({"code": "500", "job": "api"}, [10 / 90])
    ]
    res = eng.range("req_total > bool 45", T0 + 4 * M, T0 + 6 * M, M)
    assert vals(res) == {"200": [0.0, 1.0, 1.0], "500": [0.0, 0.0, 0.0]}


def test_duplicate_one_side_from_storage(db):
    with pytest.raises(ExecutionError, match="many-to-many matching not allowed"):
        Engine(db).instant("up + on(job) req_total", T0 + 3 * M)


def test_subquery_over_storage(db):
    res = Engine(db).instant('req_total{code="200"}[4m:2m]', T0 + 10 * M)
    times = res.series[0].timestamps.tolist()
    assert all(t % (2 * M) == 0 for t in times) and times[-1] <= T0 + 10 * M
    assert res.series[0].values.tolist() == [float((t - T0) // M * 10) for t in times]


def test_instant_order_is_kept_only_where_prometheus_makes_one(db):
    eng = Engine(db)
    codes = lambda q: [dict(s.labels)["code"] for s in eng.instant(q, T0 + 10 * M).series]  # noqa: E731
    assert codes("sort_desc(req_total)") == ["200", "500"]
    assert codes("sort(req_total)") == ["500", "200"]
    assert codes("-(sort(req_total) * 2)") == ["500", "200"]
    assert codes("abs(sort(req_total))") == ["500", "200"]
    assert codes("sort(req_total) + on(code) req_total") == ["200", "500"]  # vector matching: by labels


def test_label_replace_collisions_fail_at_once_even_in_an_instant_query(db):
    eng = Engine(db)
    with pytest.raises(ExecutionError, match="vector cannot contain metrics with the same labelset"):
        eng.instant('sum(label_replace(req_total, "code", "x", "", ""))', T0 + 10 * M)
    # Without a rewrite the two series stay apart and sum.
    assert [s.values.tolist() for s in eng.instant("sum(req_total)", T0 + 10 * M).series] == [[110.0]]
