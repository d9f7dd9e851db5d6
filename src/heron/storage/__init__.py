"""Heron's storage engine: log streams and metric series in one WAL, head and block store.

The public interface is this module's `__all__`; other packages import nothing else from
`heron.storage`.
"""

from heron.storage.db import Counters, Database
from heron.storage.log_chunks import LogColumns, find_substring
from heron.storage.read import LogSource, SeriesRef, Snapshot
from heron.storage.types import (
    AppendResult,
    CorruptionError,
    Direction,
    DiskFullError,
    FsyncMode,
    LimitError,
    LogBatch,
    LogEntries,
    Rejection,
    RejectReason,
    SampleBatch,
    SampleColumns,
    SeriesInfo,
    StorageError,
    StorageOptions,
    StorageWriteError,
)

__all__ = [
    "AppendResult",
    "CorruptionError",
    "Counters",
    "Database",
    "Direction",
    "DiskFullError",
    "FsyncMode",
    "LimitError",
    "LogBatch",
    "LogColumns",
    "LogSource",
    "find_substring",
    "LogEntries",
    "RejectReason",
    "Rejection",
    "SampleBatch",
    "SampleColumns",
    "SeriesInfo",
    "SeriesRef",
    "Snapshot",
    "StorageError",
    "StorageOptions",
    "StorageWriteError",
]
