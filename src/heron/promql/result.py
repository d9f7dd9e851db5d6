"""What a PromQL query answers: the contract between the engine and its callers (the HTTP
API, the rules manager, the conformance runner and the benchmark).

A range query always answers a matrix (a scalar expression becomes one series with no
labels, as Prometheus answers). An instant query answers the type of its expression: a vector
(one point per series, at the evaluation time), a matrix (a range selector or subquery), a
scalar or a string. Series come in Prometheus' order: sorted by labels, except the result of
a sort function (`sort`, `sort_desc`, `sort_by_label`, `sort_by_label_desc`), whose order is
kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from heron.model import Labels
from heron.promql.syntax.ast import ValueType

__all__ = ["ResultSeries", "QueryResult", "QueryStats"]


@dataclass
class ResultSeries:
    labels: Labels  # `__name__` first when present
    timestamps: np.ndarray  # int64 ms, ascending
    values: np.ndarray  # float64, same length


@dataclass
class QueryStats:
    """Prometheus' `stats=all` figures, in the units it reports."""

    total_samples: int = 0  # samples read from storage
    peak_samples: int = 0  # samples held at once
    exec_seconds: float = 0.0


@dataclass
class QueryResult:
    type: ValueType
    series: list[ResultSeries] = field(default_factory=list)  # vector and matrix
    scalar: tuple[int, float] | None = None  # (ms, value) of a scalar instant query
    string: tuple[int, str] | None = None  # (ms, value) of a string instant query
    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)
    stats: QueryStats = field(default_factory=QueryStats)
