"""The head: recent data in memory, per series, in compact buffers.

Log series keep an open buffer (array of timestamps, array of end offsets, one bytearray of
line bytes) and cut it into a zstd chunk at ~256 KiB, so the head holds compressed bytes for
all but the newest data. Metric series live in one `MetricStore` (metric_head.py): columns
indexed by slot and group chunks, because 100k scraped series cannot each afford objects.

Concurrency: one writer appends; readers never lock. Each series publishes its state as one
immutable tuple (closed chunks, open buffer) swapped in a single attribute store, and the
writer appends to an open buffer's line bytes before its timestamps, so a reader that first
reads the timestamp count always finds the bytes for those entries.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Callable, Iterator

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
from heron.storage.metric_head import SERIES_OVERHEAD, MetricSeries, MetricStore, merge_sorted_parts

__all__ = ["Head", "HeadSeries", "ClosedChunk", "MetricSeries"]

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


class HeadSeries:
    """One log stream in the head. `state` is (closed chunks tuple, open buffer), replaced whole."""

    __slots__ = ("fp", "labels", "kind", "state", "min_t", "max_t", "raw_bytes", "closed_bytes")

    def __init__(self, fp: int, labels: Labels, kind: SeriesKind = SeriesKind.LOG):
        assert kind is SeriesKind.LOG, "metric series live in the head's MetricStore"
        self.fp = fp
        self.labels = labels
        self.kind = kind
        self.state: tuple[tuple[ClosedChunk, ...], _OpenLog] = ((), _OpenLog())
        self.min_t = _INT64_MAX
        self.max_t = _INT64_MIN
        self.raw_bytes = 0
        self.closed_bytes = 0  # encoded size of closed chunks

    def nbytes(self) -> int:
        """Memory the series' data holds: encoded chunks plus the open buffer's raw columns."""
        _, op = self.state
        return self.closed_bytes + len(op.data) + len(op.meta) + 24 * len(op.ts)

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

    def cut(self) -> None:
        """Turn the open buffer into a closed chunk and publish a fresh open buffer."""
        closed, op = self.state
        if len(op.ts) == 0:
            return
        cols = _open_log_columns(op)
        chunk = ClosedChunk(
            int(cols.timestamps[0]), int(cols.timestamps[-1]), len(cols), encode_log_chunk(cols)
        )
        self.closed_bytes += len(chunk.data) + 64
        self.state = (closed + (chunk,), _OpenLog())

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

    def all_log_columns(self) -> LogColumns:
        parts = list(self.log_columns(_INT64_MIN, _INT64_MAX))
        return sort_log_columns(LogColumns.concat(parts)) if parts else LogColumns.from_lists([], [])


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
    return merge_sorted_parts(parts)


class _AllSeries(Mapping[int, "HeadSeries | MetricSeries"]):
    """The head's series of both kinds by fingerprint, as one read-only mapping. Metric series
    come as views made on demand, so iterating them costs no per-series state in the head."""

    def __init__(self, head: "Head"):
        self._head = head

    def __getitem__(self, fp: int) -> "HeadSeries | MetricSeries":
        s = self._head.get(fp)
        if s is None:
            raise KeyError(fp)
        return s

    def __iter__(self) -> Iterator[int]:
        yield from list(self._head.logs)
        m = self._head.metrics
        yield from m.cols.fps[: m.n].tolist()

    def __len__(self) -> int:
        return len(self._head.logs) + self._head.metrics.n


class Head:
    """All series written since the last cut, with their postings. `generation` numbers heads
    within a process, so a series ref (generation, slot) can tell that it is stale."""

    def __init__(self, generation: int = 0) -> None:
        self.logs: dict[int, HeadSeries] = {}
        self.metrics = MetricStore(generation)
        self.series = _AllSeries(self)
        self.postings = {SeriesKind.LOG: Postings(), SeriesKind.METRIC: self.metrics.postings}
        self.bytes = 0
        self.min_ns = _INT64_MAX  # time range across kinds, in nanoseconds
        self.max_ns = _INT64_MIN
        self.entries = 0

    def get(self, fp: int) -> "HeadSeries | MetricSeries | None":
        s = self.logs.get(fp)
        if s is not None:
            return s
        slot = self.metrics.slot_of_fp(fp)
        return MetricSeries(self.metrics, slot) if slot >= 0 else None

    def get_or_create(self, fp: int, labels: Labels, kind: SeriesKind) -> "HeadSeries | MetricSeries":
        """The series for a WAL record (replay): found by fingerprint, or made."""
        if kind is SeriesKind.METRIC:
            slot = self.metrics.slot_of_fp(fp)
            if slot < 0:
                slot = self.metrics.add_series(fp, labels, _INT64_MIN)
                self.bytes += SERIES_OVERHEAD
            return MetricSeries(self.metrics, slot)
        s = self.logs.get(fp)
        if s is None:
            s = HeadSeries(fp, labels, kind)
            self.logs[fp] = s
            self.postings[kind].add(fp, labels)
            self.bytes += 200 + sum(len(k) + len(v) for k, v in labels)
        return s

    def append_columns(
        self,
        fps: np.ndarray,
        ts: np.ndarray,
        vals: np.ndarray,
        known: Mapping[int, tuple[SeriesKind, Labels]],
        newest_of: Callable[[int], int] | None = None,
    ) -> int:
        """A WAL sample-columns record (replay): series found by fingerprint or made from
        `known` (fingerprint -> series record), samples staged in bulk. Returns how many
        samples had no series record and were skipped."""
        store = self.metrics
        slots = store.fp_index.lookup(np.asarray(fps, dtype=np.uint64))
        for i in np.nonzero(slots < 0)[0].tolist():
            fp = int(fps[i])
            got = store.slot_of_fp(fp)  # made for an earlier entry of this record
            if got < 0:
                kl = known.get(fp)
                if kl is None or kl[0] is not SeriesKind.METRIC:
                    continue
                got = store.add_series(fp, kl[1], newest_of(fp) if newest_of else _INT64_MIN)
                self.bytes += SERIES_OVERHEAD
            slots[i] = got
        ok = slots >= 0
        skipped = int(len(slots) - ok.sum())
        if skipped:
            slots, ts, vals = slots[ok], ts[ok], vals[ok]
        if len(slots):
            self.bytes += store.stage(slots, ts, vals)
            self.note_range(int(ts.min()) * 1_000_000, int(ts.max()) * 1_000_000, len(ts))
        return skipped

    def note_range(self, lo_ns: int, hi_ns: int, n: int) -> None:
        self.min_ns = min(self.min_ns, lo_ns)
        self.max_ns = max(self.max_ns, hi_ns)
        self.entries += n

    def cut_all(self) -> None:
        for s in self.logs.values():
            s.cut()
        self.bytes += self.metrics.fold()
