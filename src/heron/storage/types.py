"""The storage engine's public value types: what goes in, what comes out, what can go wrong.

Batches are columnar (one stream or series with many entries) because every per-entry Python
object costs more than the work the engine does for that entry.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from heron.model import Labels, SeriesKind

__all__ = [
    "StorageOptions",
    "LogBatch",
    "SampleBatch",
    "SampleColumns",
    "RejectReason",
    "Rejection",
    "AppendResult",
    "LogEntries",
    "SeriesInfo",
    "StorageError",
    "LimitError",
    "CorruptionError",
    "StorageWriteError",
    "DiskFullError",
    "Direction",
    "FsyncMode",
]


class FsyncMode(enum.Enum):
    ALWAYS = "always"  # fsync before every append returns
    INTERVAL = "interval"  # a background fsync every `fsync_interval` seconds


class Direction(enum.Enum):
    FORWARD = "forward"
    BACKWARD = "backward"


@dataclass(frozen=True)
class StorageOptions:
    """Every knob of the engine, with the defaults a cluster needs."""

    fsync: FsyncMode = FsyncMode.INTERVAL
    fsync_interval: float = 1.0
    retention_seconds: float = 15 * 86400.0
    retention_bytes: int = 0  # 0 = no disk budget
    ooo_window_seconds: float = 3600.0  # accept out-of-order entries this far behind a series' newest
    future_skew_seconds: float = 600.0  # refuse entries this far ahead of the clock (Loki's grace period)
    max_line_bytes: int = 256 * 1024
    max_labels_per_series: int = 30
    max_label_value_bytes: int = 2048
    max_active_series: int = 500_000
    head_max_bytes: int = 64 * 1024 * 1024  # cut the head into a block past this many bytes
    block_duration_seconds: float = 2 * 3600.0  # cut the head when it spans this much time
    wal_segment_bytes: int = 128 * 1024 * 1024
    compaction_min_blocks: int = 4  # merge when this many small blocks share a time window


@dataclass
class LogBatch:
    """Entries for one log stream. `timestamps` are Unix nanoseconds; `metadata` carries
    optional per-entry structured metadata (Loki's third push element) as opaque bytes."""

    labels: Labels
    timestamps: Sequence[int] | np.ndarray
    lines: Sequence[bytes]
    metadata: Sequence[bytes] | None = None


@dataclass
class SampleBatch:
    """Samples for one metric series; `timestamps` are Unix milliseconds."""

    labels: Labels
    timestamps: Sequence[int] | np.ndarray
    values: Sequence[float] | np.ndarray


@dataclass
class SampleColumns:
    """Many series with a few samples each, column-wise: the shape of a scrape or a
    remote-write request (one sample per series). `labels[i]` owns `timestamps[i]` (ms) and
    `values[i]`; a series may appear more than once, in time order.

    `refs`, when given, holds `Database.series_refs(labels)` from the same database, in the
    same order: the append then skips looking label sets up (a scrape cache keeps them, as
    Prometheus' scrape cache keeps series refs). Stale refs, from before a head cut, are
    noticed and resolved from `labels` again; a ref that belongs to other labels is not
    noticed, so pass refs only beside the labels they were made for.
    """

    labels: Sequence[Labels]
    timestamps: Sequence[int] | np.ndarray
    values: Sequence[float] | np.ndarray
    refs: Sequence[int] | np.ndarray | None = None


class RejectReason(enum.Enum):
    TOO_OLD = "too_far_behind"  # older than the out-of-order window
    LINE_TOO_LONG = "line_too_long"
    DUPLICATE_TIMESTAMP = "duplicate_sample_for_timestamp"  # same ts, different value
    INVALID_LABELS = "invalid_labels"
    TOO_MANY_LABELS = "too_many_labels"
    SERIES_LIMIT = "series_limit"
    RETENTION = "older_than_retention"
    TOO_NEW = "too_far_in_future"  # further ahead of the clock than future_skew


@dataclass(frozen=True)
class Rejection:
    labels: Labels
    kind: SeriesKind
    index: int  # position of the entry in its batch; -1 when the whole batch was refused
    count: int  # entries this rejection covers (1 per entry, or the batch length)
    reason: RejectReason
    message: str


@dataclass
class AppendResult:
    """What happened to a call to `Database.append`. Accepted entries include duplicates that
    were already stored (they are acknowledged, stored once)."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def rejected_count(self) -> int:
        return sum(r.count for r in self.rejected)


@dataclass
class LogEntries:
    """A page of log entries, merged across series, in the requested direction."""

    series: list[Labels]  # indexed by `series_index`
    series_index: np.ndarray  # int32, one per entry
    timestamps: np.ndarray  # int64 ns, one per entry
    lines: list[bytes]
    metadata: list[bytes]
    next_cursor: "bytes | None"  # pass back to continue after the last entry; None when done

    def __len__(self) -> int:
        return len(self.lines)


@dataclass(frozen=True)
class SeriesInfo:
    labels: Labels
    kind: SeriesKind
    min_time: int
    max_time: int


class StorageError(Exception):
    """Base of every error the engine raises on purpose."""


class LimitError(StorageError):
    """A configured limit was hit; the message names it."""


class CorruptionError(StorageError):
    """A checksum or structural check failed on data read back from disk."""


class StorageWriteError(StorageError):
    """Writing to the data directory failed (EIO and the like). Nothing of the failed call was
    acknowledged or applied, and whatever it wrote was cut back, so the caller may retry it.

    `path` is the data directory and `free_bytes` what its filesystem had left when it failed,
    so an operator reading the message knows where to look.
    """

    retry_after_seconds = 5

    def __init__(self, message: str, *, path: str, free_bytes: int | None):
        super().__init__(message)
        self.path = path
        self.free_bytes = free_bytes


class DiskFullError(StorageWriteError):
    """The data directory's filesystem is full (ENOSPC) or over quota (EDQUOT). Writing resumes
    on its own once there is room again; until then reads keep working."""

    retry_after_seconds = 10
