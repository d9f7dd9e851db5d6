"""A query's deadline and memory budget, checked inside the engine's loops (issue 18)."""

from __future__ import annotations

import time
from typing import Iterator

import numpy as np
import pytest

from heron.logql import rangeagg, vectorops
from heron.logql.budget import LINE_BATCH, QueryBudget, labels_bytes
from heron.logql.engine import Engine
from heron.logql.pipeline import Pipeline
from heron.logql.result import QueryError, QueryMemoryError, QueryTimeoutError
from heron.logql.syntax import parse_expr
from heron.model import labels_from
from heron.storage import Database, Direction, LogBatch, LogColumns, StorageOptions

S = 1_000_000_000
T0 = (time.time_ns() // S - 1800) * S
STREAMS = 60
PER_STREAM = 200
T_END = T0 + 500 * S


def stamps(s: int) -> list[int]:
    """Every stream starts at T0 and ends at T_END; in between the streams interleave. So a
    limited query cannot skip any stream's chunk: each one might hold the first or last entry."""
    return [T0] + [T0 + (i * STREAMS + s + 1) * 10_000_000 for i in range(PER_STREAM - 2)] + [T_END]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    db = Database.open(str(tmp_path_factory.mktemp("budget") / "data"), StorageOptions(), background=False)
    batches = [
        LogBatch(
            labels_from({"job": "b", "s": str(s)}),
            stamps(s),
            [f"level=info n={i} s={s}".encode() for i in range(PER_STREAM)],
        )
        for s in range(STREAMS)
    ]
    db.append(logs=batches)
    yield Engine(db, max_series=1000, max_entries=5000)
    db.close()


def window() -> tuple[int, int]:
    return T0 - 60 * S, T0 + 600 * S


def test_budget_charges_releases_and_names_its_setting() -> None:
    b = QueryBudget(time.monotonic() + 60, 1000)
    b.charge(600)
    b.release(200)
    b.charge(600)
    assert (b.held, b.peak) == (1000, 1000)
    with pytest.raises(QueryMemoryError, match=r"memory budget of 1000 bytes \(query_memory_budget\)"):
        b.charge(1)
    late = QueryBudget(time.monotonic() - 1, 1000)
    with pytest.raises(QueryTimeoutError):
        late.charge(1)  # every charge also looks at the clock


def test_labels_bytes_measures_names_and_values() -> None:
    small = labels_bytes([{"a": "b"}])
    assert labels_bytes([{"a": "b" * 1001}]) == small + 1000
    assert labels_bytes([{"a" * 1001: "b"}]) == small + 1000
    assert labels_bytes([{"a": "b"}], text=0) == small - 2


def test_log_query_past_its_budget_is_a_memory_error(engine: Engine) -> None:
    start, end = window()
    query = '{job="b"} | line_format `{{ repeat 2000 "x" }}`'
    with pytest.raises(QueryMemoryError, match="query_memory_budget"):
        engine.query_range(query, start, end, S, limit=5000, memory_bytes=4 * 1024 * 1024)
    got = engine.query_range(query, start, end, S, limit=10, memory_bytes=256 * 1024 * 1024)
    assert sum(len(s.lines) for s in got.streams) == 10


def test_log_query_keeps_only_what_its_limit_can_use(engine: Engine) -> None:
    """12,000 entries in 60 streams, limit 10, every stream visited: held rows are trimmed to
    the first 10 as sources are visited, so a budget far below all entries suffices."""
    start, end = window()
    budget = 1_500_000  # all 12,000 entries cost about 2.2 MB here
    for direction, edge in ((Direction.BACKWARD, T_END), (Direction.FORWARD, T0)):
        got = engine.query_range(
            '{job="b"}', start, end, S, limit=10, direction=direction, memory_bytes=budget
        )
        assert got.stats.chunks_decoded == STREAMS
        assert [t for st in got.streams for t in st.timestamps] == [edge] * 10
    with pytest.raises(QueryMemoryError):
        engine.query_range('{job="b"} | __error__=""', start, end, S, limit=5000, memory_bytes=budget)


def test_metric_query_past_its_budget_is_a_memory_error(engine: Engine) -> None:
    start, end = window()
    query = 'sum by (s) (count_over_time({job="b"}[1m]))'
    steps = (end - start) // S  # 660 steps, 60 series: 316,800 bytes of step matrix
    got = engine.query_range(query, start, end, S, memory_bytes=64 * 1024 * 1024)
    assert len(got.matrix) == STREAMS and steps <= rangeagg.MAX_POINTS
    with pytest.raises(QueryMemoryError):
        engine.query_range(query, start, end, S, memory_bytes=200_000)
    with pytest.raises(QueryMemoryError):  # the instant vector is charged for rendering too
        engine.query_instant('count_over_time({job="b"}[10m])', end, memory_bytes=10_000)


def test_zero_range_and_too_many_steps_are_query_errors(engine: Engine) -> None:
    start, end = window()
    with pytest.raises(QueryError, match=r"invalid range \[0s\] in rate"):
        engine.query_range('rate({job="b"}[0s])', start, end, S)
    with pytest.raises(QueryError, match="exceeded maximum resolution of 11,000 points per timeseries"):
        engine.query_range('rate({job="b"}[1m])', 0, end, S)
    with pytest.raises(ValueError, match="11,000 points"):
        rangeagg.step_times(0, 11_001, 1)
    assert len(rangeagg.step_times(0, 11_000, 1)) == 11_001
    with pytest.raises(ValueError, match="int64"):
        rangeagg.step_times(2**63 - 10, 2**63 + 10, 5)
    assert rangeagg.step_times(-(2**63), -(2**63) + 10, 5).tolist() == [-(2**63), -(2**63) + 5, -(2**63) + 10]


class CountingBudget(QueryBudget):
    """A budget that counts how often its deadline is looked at."""

    def __init__(self, deadline: float) -> None:
        super().__init__(deadline)
        self.checks = 0

    def check(self) -> None:
        self.checks += 1
        super().check()


def test_pipeline_checks_the_deadline_within_a_chunk() -> None:
    lines = [f"n={i}".encode() for i in range(10 * LINE_BATCH)]
    cols = LogColumns.from_lists(list(range(len(lines))), lines)
    stages = parse_expr('{a="b"} | logfmt').stages  # type: ignore[attr-defined]
    budget = CountingBudget(time.monotonic() + 60)
    out = Pipeline(stages, budget=budget).process({"a": "b"}, cols)
    assert len(out.index) == len(lines) and budget.checks >= 10  # once a batch, not once a chunk
    assert out.charged > 0 and budget.held == out.charged
    with pytest.raises(QueryTimeoutError):
        Pipeline(stages, budget=QueryBudget(time.monotonic() - 1)).process({"a": "b"}, cols)


def test_bad_parser_parameters_fail_when_the_pipeline_is_built() -> None:
    for query in ('{a="b"} | logfmt \ufffd', '{a="b"} | logfmt x="a b"', '{a="b"} | json x="a[b"'):
        stages = parse_expr(query).stages  # type: ignore[attr-defined]
        with pytest.raises(ValueError):
            Pipeline(stages)


def test_vector_matching_reserves_its_pair_arrays_first() -> None:
    n_steps = 100
    lhs = vectorops.StepMatrix([{"a": str(i), "g": "x"} for i in range(50)], np.ones((50, n_steps)))
    rhs = vectorops.StepMatrix([{"g": "x"}], np.ones((1, n_steps)))
    reserved: list[int] = []
    out = vectorops.binary_op("+", lhs, rhs, on=["g"], group_left=[], reserve=reserved.append)
    assert isinstance(out, vectorops.StepMatrix) and len(out.labels) == 50
    assert reserved and reserved[0] >= 50 * n_steps * 8

    def refuse(nbytes: int) -> None:
        raise QueryMemoryError(f"{nbytes}")

    with pytest.raises(QueryMemoryError):
        vectorops.binary_op("+", lhs, rhs, on=["g"], group_left=[], reserve=refuse)
