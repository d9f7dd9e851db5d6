"""The head: recent data in memory, per series, in compact buffers.

Log series keep an open buffer (array of timestamps, array of end offsets, one bytearray of
line bytes) and cut it into a zstd chunk at ~256 KiB, so the head holds compressed bytes for
all but the newest data. Metric series keep an open pair of arrays and cut them into
`encode_samples` chunks every 120 samples.

Concurrency: one writer appends; readers never lock. Each series publishes its state as one
immutable tuple (closed chunks, open buffer) swapped in a single attribute store, and the
writer appends to an open buffer's line bytes before its timestamps, so a reader that first
reads the timestamp count always finds the bytes for those entries.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from heron.model import Labels, SeriesKind
from heron.storage.index import Postings
from heron.storage.log_chunks import (
    TARGET_CHUNK_BYTES,
    LogColumns,
    decode_log_chunk,
    decode_log_chunk_times,
    encode_log_chunk,
    log_chunk_has_metadata,
)
from heron.storage.metric_chunks import decode_samples, encode_samples

__all__ = ["Head", "HeadSeries", "ClosedChunk", "SAMPLES_PER_CHUNK"]

SAMPLES_PER_CHUNK = 120
_INT64_MIN = np.iinfo(np.int64).min
_INT64_MAX = np.iinfo(np.int64).max


@dataclass(frozen=True, slots=True)
class ClosedChunk:
    min_t: int
    max_t: int
    count: int
    data: bytes


class _OpenLog:
    __slots__ = ("ts", "ends", "data", "mends", "meta", "in_order", "max_t")

    def __init__(self) -> None:
        self.ts = array("q")
        self.ends = array("q")
        self.data = bytearray()
        self.mends = array("q")
        self.meta = bytearray()
        self.in_order = True
        self.max_t = _INT64_MIN


class _OpenSamples:
    __slots__ = ("ts", "vals", "in_order", "max_t")

    def __init__(self) -> None:
        self.ts = array("q")
        self.vals = array("d")
        self.in_order = True
        self.max_t = _INT64_MIN


class HeadSeries:
    """One series in the head. `state` is (closed chunks tuple, open buffer), replaced whole."""

    __slots__ = ("fp", "labels", "kind", "state", "min_t", "max_t", "raw_bytes", "closed_bytes")

    def __init__(self, fp: int, labels: Labels, kind: SeriesKind):
        self.fp = fp
        self.labels = labels
        self.kind = kind
        self.state: tuple[tuple[ClosedChunk, ...], _OpenLog | _OpenSamples] = (
            (),
            _OpenLog() if kind is SeriesKind.LOG else _OpenSamples(),
        )
        self.min_t = _INT64_MAX
        self.max_t = _INT64_MIN
        self.raw_bytes = 0
        self.closed_bytes = 0  # encoded size of closed chunks

    def nbytes(self) -> int:
        """Memory the series' data holds: encoded chunks plus the open buffer's raw columns."""
        _, op = self.state
        if isinstance(op, _OpenLog):
            return self.closed_bytes + len(op.data) + len(op.meta) + 24 * len(op.ts)
        return self.closed_bytes + 16 * len(op.ts)

    # -- writer side -----------------------------------------------------------------------
    def append_logs(
        self,
        ts: np.ndarray,
        lens: np.ndarray,
        data: bytes,
        mlens: np.ndarray,
        meta: bytes,
        sorted_range: tuple[int, int] | None = None,
    ) -> int:
        """Append entries (already validated). Returns the change in the head's memory.

        `sorted_range` = (first, last) when the caller already knows the batch is sorted; it
        saves the reductions that dominate small batches.
        """
        closed, op = self.state
        assert isinstance(op, _OpenLog)
        n = len(ts)
        if n == 0:
            return 0
        before = self.closed_bytes + len(op.data) + len(op.meta) + 24 * len(op.ts)
        ts = np.ascontiguousarray(ts, dtype=np.int64)
        base = len(op.data)
        mbase = len(op.meta)
        op.data += data
        op.ends.frombytes((np.cumsum(lens, dtype=np.int64) + base).tobytes())
        op.meta += meta
        op.mends.frombytes((np.cumsum(mlens, dtype=np.int64) + mbase).tobytes())
        if sorted_range is not None:
            tmin, tmax = sorted_range
            if tmin < op.max_t:
                op.in_order = False
        else:
            tmin, tmax = int(ts.min()), int(ts.max())
            if op.in_order and (tmin < op.max_t or (n > 1 and bool(np.any(ts[1:] < ts[:-1])))):
                op.in_order = False
        op.max_t = max(op.max_t, tmax)
        op.ts.frombytes(ts.tobytes())  # last: publishes the entries to readers
        self.min_t = min(self.min_t, tmin)
        self.max_t = max(self.max_t, tmax)
        self.raw_bytes += len(data)
        if len(op.data) >= TARGET_CHUNK_BYTES:
            self.cut()
        return self.nbytes() - before

    def append_samples(self, ts: np.ndarray, vals: np.ndarray) -> int:
        before = self.nbytes()
        closed, op = self.state
        assert isinstance(op, _OpenSamples)
        n = len(ts)
        if n == 0:
            return 0
        ts = np.ascontiguousarray(ts, dtype=np.int64)
        # Fill the open chunk up to SAMPLES_PER_CHUNK, cutting as it fills.
        i = 0
        while i < n:
            closed, op = self.state
            assert isinstance(op, _OpenSamples)
            room = SAMPLES_PER_CHUNK - len(op.ts)
            part_ts = ts[i : i + room]
            part_v = np.ascontiguousarray(vals[i : i + room], dtype=np.float64)
            if op.in_order and (
                int(part_ts[0]) <= op.max_t
                or (len(part_ts) > 1 and bool(np.any(part_ts[1:] <= part_ts[:-1])))
            ):
                op.in_order = False
            op.max_t = max(op.max_t, int(part_ts.max()))
            op.vals.frombytes(part_v.tobytes())
            op.ts.frombytes(part_ts.tobytes())
            i += len(part_ts)
            if len(op.ts) >= SAMPLES_PER_CHUNK:
                self.cut()
        self.min_t = min(self.min_t, int(ts.min()))
        self.max_t = max(self.max_t, int(ts.max()))
        return self.nbytes() - before

    def append_one(self, t: int, v: float) -> int:
        """One sample newer than everything in the series: the scrape path, no numpy.
        Returns the change in the head's memory."""
        op = self.state[1]
        assert isinstance(op, _OpenSamples)
        op.vals.append(v)
        op.ts.append(t)  # last: publishes the sample to readers
        op.max_t = t
        if t < self.min_t:
            self.min_t = t
        self.max_t = t
        if len(op.ts) >= SAMPLES_PER_CHUNK:
            before = self.closed_bytes
            self.cut()
            return self.closed_bytes - before - 16 * (SAMPLES_PER_CHUNK - 1)
        return 16

    def cut(self) -> None:
        """Turn the open buffer into a closed chunk and publish a fresh open buffer."""
        closed, op = self.state
        if len(op.ts) == 0:
            return
        if isinstance(op, _OpenLog):
            cols = _open_log_columns(op)
            chunk = ClosedChunk(
                int(cols.timestamps[0]), int(cols.timestamps[-1]), len(cols), encode_log_chunk(cols)
            )
            self.closed_bytes += len(chunk.data) + 64
            self.state = (closed + (chunk,), _OpenLog())
        else:
            ts, vals = _open_samples(op)
            chunk = ClosedChunk(int(ts[0]), int(ts[-1]), len(ts), encode_samples(ts, vals))
            self.closed_bytes += len(chunk.data) + 64
            self.state = (closed + (chunk,), _OpenSamples())

    # -- reader side -----------------------------------------------------------------------
    def log_columns(self, start: int, end: int) -> Iterator[LogColumns]:
        """Sorted columns per chunk overlapping [start, end], clipped to it."""
        closed, op = self.state
        for c in closed:
            if c.max_t >= start and c.min_t <= end:
                yield clip_log_columns(decode_log_chunk(c.data), start, end)
        if isinstance(op, _OpenLog) and len(op.ts):
            cols = _open_log_columns(op)
            if len(cols):
                yield clip_log_columns(cols, start, end)

    def has_log_metadata(self, start: int, end: int) -> bool:
        """Whether any entry overlapping [start, end] may carry structured metadata (chunk
        headers, and the open buffer as a whole: a cheap, conservative answer)."""
        closed, op = self.state
        for c in closed:
            if c.max_t >= start and c.min_t <= end and log_chunk_has_metadata(c.data):
                return True
        return isinstance(op, _OpenLog) and len(op.meta) > 0

    def log_times(self, start: int, end: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(timestamps, line lengths) per chunk overlapping [start, end], clipped to it."""
        closed, op = self.state
        for c in closed:
            if c.max_t >= start and c.min_t <= end:
                ts, lens = decode_log_chunk_times(c.data)
                lo = int(np.searchsorted(ts, start, side="left"))
                hi = int(np.searchsorted(ts, end, side="right"))
                yield ts[lo:hi], lens[lo:hi]
        if isinstance(op, _OpenLog) and len(op.ts):
            cols = clip_log_columns(_open_log_columns(op), start, end)
            yield cols.timestamps, np.diff(cols.ends, prepend=0) if len(cols) else cols.ends

    def sample_arrays(self, start: int, end: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        closed, op = self.state
        for c in closed:
            if c.max_t >= start and c.min_t <= end:
                ts, vals = decode_samples(c.data)
                yield clip_samples(ts, vals, start, end)
        if isinstance(op, _OpenSamples) and len(op.ts):
            ts, vals = _open_samples(op)
            yield clip_samples(ts, vals, start, end)

    def all_log_columns(self) -> LogColumns:
        parts = list(self.log_columns(_INT64_MIN, _INT64_MAX))
        return sort_log_columns(LogColumns.concat(parts)) if parts else LogColumns.from_lists([], [])

    def all_samples(self) -> tuple[np.ndarray, np.ndarray]:
        parts = list(self.sample_arrays(_INT64_MIN, _INT64_MAX))
        return merge_samples(parts)


def _open_log_columns(op: _OpenLog) -> LogColumns:
    ts_copy = op.ts[:]  # read the count first: entries up to it are complete
    n = len(ts_copy)
    ts = np.frombuffer(ts_copy, dtype=np.int64)
    ends = np.frombuffer(op.ends[:n], dtype=np.int64)
    mends = np.frombuffer(op.mends[:n], dtype=np.int64)
    data = bytes(op.data[: int(ends[-1])]) if n else b""
    meta = bytes(op.meta[: int(mends[-1])]) if n else b""
    cols = LogColumns(ts, ends, data, mends, meta)
    if not op.in_order:
        cols = sort_log_columns(cols)
    return cols


def _open_samples(op: _OpenSamples) -> tuple[np.ndarray, np.ndarray]:
    ts_copy = op.ts[:]
    n = len(ts_copy)
    ts = np.frombuffer(ts_copy, dtype=np.int64)
    vals = np.frombuffer(op.vals[:n], dtype=np.float64)
    if not op.in_order:
        order = np.argsort(ts, kind="stable")
        ts, vals = ts[order], vals[order]
    return ts, vals


def sort_log_columns(cols: LogColumns) -> LogColumns:
    ts = cols.timestamps
    if len(ts) < 2 or bool(np.all(ts[1:] >= ts[:-1])):
        return cols
    return cols.take(np.argsort(ts, kind="stable"))


def clip_log_columns(cols: LogColumns, start: int, end: int) -> LogColumns:
    ts = cols.timestamps
    lo = int(np.searchsorted(ts, start, side="left"))
    hi = int(np.searchsorted(ts, end, side="right"))
    if lo == 0 and hi == len(ts):
        return cols
    return cols.take(np.arange(lo, hi))


def clip_samples(ts: np.ndarray, vals: np.ndarray, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    lo = int(np.searchsorted(ts, start, side="left"))
    hi = int(np.searchsorted(ts, end, side="right"))
    return ts[lo:hi], vals[lo:hi]


def merge_samples(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Merge sorted runs into one sorted run; for equal timestamps the later run wins."""
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return np.empty(0, np.int64), np.empty(0, np.float64)
    if len(parts) == 1:
        return parts[0]
    ts = np.concatenate([p[0] for p in parts])
    vals = np.concatenate([p[1] for p in parts])
    order = np.argsort(ts, kind="stable")
    ts, vals = ts[order], vals[order]
    keep = np.ones(len(ts), dtype=bool)
    keep[:-1] = ts[1:] != ts[:-1]  # keep the last of equal timestamps
    return ts[keep], vals[keep]


class Head:
    """All series written since the last cut, with their postings."""

    def __init__(self) -> None:
        self.series: dict[int, HeadSeries] = {}
        self.postings = {SeriesKind.LOG: Postings(), SeriesKind.METRIC: Postings()}
        self.bytes = 0
        self.min_ns = _INT64_MAX  # time range across kinds, in nanoseconds
        self.max_ns = _INT64_MIN
        self.entries = 0

    def get_or_create(self, fp: int, labels: Labels, kind: SeriesKind) -> HeadSeries:
        s = self.series.get(fp)
        if s is None:
            s = HeadSeries(fp, labels, kind)
            self.series[fp] = s
            self.postings[kind].add(fp, labels)
            self.bytes += 200 + sum(len(k) + len(v) for k, v in labels)
        return s

    def note_range(self, lo_ns: int, hi_ns: int, n: int) -> None:
        self.min_ns = min(self.min_ns, lo_ns)
        self.max_ns = max(self.max_ns, hi_ns)
        self.entries += n

    def cut_all(self) -> None:
        for s in self.series.values():
            s.cut()
