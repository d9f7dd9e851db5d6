"""Evaluated PromQL values, as whole arrays over the steps of one evaluation.

An evaluation runs at `n` step times at once (`EvalContext.times`, int64 ms; an instant query
is a range query of one step). Every value covers all of them:

* `Vector`: an instant vector at every step. Row `i` is one series (`labels[i]`), column `j`
  one step; `present[i, j]` says whether the series has a sample there, and `values[i, j]` is
  meaningful only where it does. A function of an instant vector is one numpy expression
  over `values`, never a loop over samples.
* `Scalar`: one float per step.
* `String`: a string literal.
* `RangeVector`: what a matrix selector or subquery hands a range function: each series' raw
  samples (sorted, staleness markers already removed) and the window of every step,
  `(ends[j] - range_ms, ends[j]]` (left-open, as in Prometheus 3). A range function finds
  each window's bounds with one `searchsorted` per series.

Labels are `heron.model.Labels` (sorted tuples including `__name__`). Prometheus 3 removes
the metric name lazily: a function that drops it sets `drop_name[i]` and keeps the label, so
`label_replace(rate(x[5m]), "n", "$1", "__name__", "(.+)")` still sees it; the engine strips
flagged names when the value leaves the evaluation, or when identity needs it (matching,
grouping, duplicate checks; `Vector.without_dropped_names`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np

from heron.model import Labels
from heron.promql.syntax.errors import PosRange, position_of

__all__ = [
    "Vector",
    "Scalar",
    "String",
    "RangeVector",
    "Value",
    "EvalContext",
    "PromQLError",
    "ExecutionError",
    "QueryTimeoutError",
    "QueryCanceledError",
    "TooManySamplesError",
    "drop_metric_name",
]


def drop_metric_name(labels: Labels) -> Labels:
    """Labels without `__name__` (a tuple sorted by name, so it is the first entry if any)."""
    if labels and labels[0][0] == "__name__":
        return labels[1:]
    return labels


@dataclass
class Vector:
    labels: list[Labels]
    values: np.ndarray  # float64, shape (len(labels), n)
    present: np.ndarray  # bool, same shape
    drop_name: np.ndarray | None = None  # bool per row: `__name__` is to be removed; None = none
    # Sample timestamps (int64 ms, same shape), kept only by selectors for `timestamp()`.
    sample_ts: np.ndarray | None = None

    @classmethod
    def empty(cls, n: int) -> "Vector":
        return cls([], np.empty((0, n)), np.zeros((0, n), dtype=bool))

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def steps(self) -> int:
        return int(self.values.shape[1])

    def without_dropped_names(self) -> "Vector":
        """The same vector with flagged names removed (rows may then share a label set)."""
        if self.drop_name is None or not bool(self.drop_name.any()):
            return Vector(self.labels, self.values, self.present, None, self.sample_ts)
        labels = [drop_metric_name(ls) if d else ls for ls, d in zip(self.labels, self.drop_name.tolist())]
        return Vector(labels, self.values, self.present, None, self.sample_ts)


@dataclass
class Scalar:
    values: np.ndarray  # float64, shape (n,)


@dataclass
class String:
    value: str


@dataclass
class RangeVector:
    labels: list[Labels]
    samples: list[tuple[np.ndarray, np.ndarray]]  # per series: (int64 ms, float64), sorted
    ends: np.ndarray  # int64 ms, shape (n,): each step's window end, after offset and @
    range_ms: int
    drop_name: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)


Value: TypeAlias = Vector | Scalar | String | RangeVector


class PromQLError(Exception):
    """Base of the errors evaluation raises; the API maps each to Prometheus' error type."""


class ExecutionError(PromQLError):
    """A query that parsed but cannot be evaluated (Prometheus' `execution` error type, 422):
    many-to-many matching, duplicate series, a NaN `topk` parameter..."""


class TooManySamplesError(ExecutionError):
    """Past `max_samples` (Prometheus' `query.max-samples`): 422 execution."""

    def __init__(self) -> None:
        super().__init__("query processing would load too many samples into memory in query execution")


class QueryTimeoutError(PromQLError):
    """Past the query's deadline (503 timeout in Prometheus' API)."""

    def __init__(self, where: str = "query execution") -> None:
        super().__init__(f"query timed out in {where}")


class QueryCanceledError(PromQLError):
    """The client went away (Prometheus answers 499-style `canceled`; nobody reads it)."""

    def __init__(self, where: str = "query execution") -> None:
        super().__init__(f"query was canceled in {where}")


@dataclass
class EvalContext:
    """What function and aggregation implementations may use from the evaluation.

    `times` are the step times of the evaluation in progress (a subquery's inner steps while
    inside one). `warn`/`info` record Prometheus annotations with the node's position, worded
    `PromQL warning: <msg> (<line>:<col>)`. `check()` is called between units of work and
    raises when the deadline passed or the query was cancelled; `add_samples(k)` counts
    samples held at once against `max_samples`.
    """

    times: np.ndarray
    query: str = ""
    deadline: float | None = None  # time.monotonic() value
    max_samples: int = 50_000_000
    cancelled: "object | None" = None  # anything with is_set() (threading.Event)
    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)
    samples: int = 0  # counted on the root context; subquery contexts delegate to it
    parent: "EvalContext | None" = None
    # The whole query's (start, end, step) in ms, for start()/end()/range()/step(); set on
    # the root context. None: taken from the root's times (exact unless end is off-step).
    query_bounds: tuple[int, int, int] | None = None

    def _annotate(self, out: list[str], kind: str, msg: str, pos: PosRange | None) -> None:
        text = f"PromQL {kind}: {msg}"
        if pos is not None:
            text += f" ({position_of(self.query, pos.start)})"
        if text not in out:
            out.append(text)

    def warn(self, msg: str, pos: PosRange | None = None) -> None:
        self._annotate(self.warnings, "warning", msg, pos)

    def info(self, msg: str, pos: PosRange | None = None) -> None:
        self._annotate(self.infos, "info", msg, pos)

    def check(self) -> None:
        if self.cancelled is not None and self.cancelled.is_set():  # type: ignore[attr-defined]
            raise QueryCanceledError()
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise QueryTimeoutError()

    def _root(self) -> "EvalContext":
        ctx = self
        while ctx.parent is not None:
            ctx = ctx.parent
        return ctx

    def add_samples(self, k: int) -> None:
        root = self._root()
        root.samples += k
        if root.samples > root.max_samples:
            raise TooManySamplesError()

    def release_samples(self, k: int) -> None:
        root = self._root()
        root.samples = max(0, root.samples - k)

    def with_times(self, times: np.ndarray) -> "EvalContext":
        """A context for a subquery's inner steps that shares annotations and accounting."""
        return EvalContext(
            times,
            self.query,
            self.deadline,
            self.max_samples,
            self.cancelled,
            warnings=self.warnings,
            infos=self.infos,
            parent=self,
        )
