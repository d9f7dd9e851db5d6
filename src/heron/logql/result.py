"""What a LogQL evaluation returns, independent of how the HTTP layer renders it.

Streams carry entries column-wise and matrices carry numpy arrays, so a result with thousands
of points never becomes thousands of small Python objects before it is serialised.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "ResultType",
    "Stream",
    "Series",
    "Sample",
    "QueryStats",
    "QueryResult",
    "QueryError",
    "QueryLimitError",
    "QueryMemoryError",
    "QueryTimeoutError",
]


class ResultType(enum.Enum):
    STREAMS = "streams"
    MATRIX = "matrix"
    VECTOR = "vector"
    SCALAR = "scalar"


@dataclass
class Stream:
    """Entries of one output stream (labels after the pipeline), in the query's direction."""

    labels: dict[str, str]
    timestamps: list[int]  # ns
    lines: list[str]
    metadata: list[dict[str, str]] | None = None  # structured metadata per entry
    parsed: list[dict[str, str]] | None = None  # labels the pipeline extracted, per entry


@dataclass
class Series:
    labels: dict[str, str]
    timestamps: np.ndarray  # int64 ns
    values: np.ndarray  # float64


@dataclass
class Sample:
    labels: dict[str, str]
    timestamp: int  # ns
    value: float


@dataclass
class QueryStats:
    """Work done, reported in Loki's `stats` object."""

    bytes_processed: int = 0
    lines_processed: int = 0
    post_filter_lines: int = 0
    entries_returned: int = 0
    chunks_decoded: int = 0
    exec_seconds: float = 0.0
    structured_metadata_bytes: int = 0


@dataclass
class QueryResult:
    result_type: ResultType
    streams: list[Stream] = field(default_factory=list)
    matrix: list[Series] = field(default_factory=list)
    vector: list[Sample] = field(default_factory=list)
    scalar: tuple[int, float] | None = None  # (ts ns, value)
    stats: QueryStats = field(default_factory=QueryStats)
    forward: bool = True  # streams' entries run oldest first (a log query's direction)


class QueryError(Exception):
    """A query that cannot run as asked (bad parameters, unsupported use); HTTP 400."""


class QueryLimitError(QueryError):
    """A configured query limit was hit; the message names it."""


class QueryMemoryError(QueryLimitError):
    """The query needed more memory than its budget (query_memory_budget); HTTP 422, the
    status Loki gives a query refused for its size."""


class QueryTimeoutError(Exception):
    """The query ran past its timeout and was cancelled."""
