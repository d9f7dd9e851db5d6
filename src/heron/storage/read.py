"""Snapshot readers: series selection, merged log pages and per-series samples.

A snapshot holds the heads and blocks that were current when it was taken and takes no lock.
Chunks are visited lazily, newest first for backward reads and oldest first for forward ones,
and the walk stops as soon as no unread chunk can reach the page, so "the last 1000 lines"
decodes a chunk or two however much history there is.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np

from heron.logsetup import log_fields
from heron.model import Labels, Matcher, SeriesKind
from heron.storage.block import Block, BlockSeries, ChunkRef
from heron.storage.compact import dedup_log_columns
from heron.storage.head import (
    Head,
    HeadSeries,
    MetricSeries,
    clip_log_columns,
    clip_samples,
    merge_samples,
    sort_log_columns,
)
from heron.storage.index import select
from heron.storage.log_chunks import LogColumns
from heron.storage.types import CorruptionError, Direction, LogEntries, SeriesInfo, StorageError

__all__ = ["Snapshot", "SeriesRef", "LogSource", "encode_cursor", "decode_cursor"]

log = logging.getLogger("heron.storage.read")
_NS = 1_000_000


@dataclass
class SeriesRef:
    """A selected series and where its data lives in this snapshot (blocks first, then heads)."""

    fp: int
    labels: Labels
    kind: SeriesKind
    parts: list[tuple[Block | Head, BlockSeries | HeadSeries | MetricSeries]] = field(default_factory=list)

    @property
    def min_time(self) -> int:
        return min(p[1].min_t for p in self.parts)

    @property
    def max_time(self) -> int:
        return max(p[1].max_t for p in self.parts)


_CURSOR = struct.Struct("<qQ")


def encode_cursor(ts: int, fp: int, line: bytes) -> bytes:
    return _CURSOR.pack(ts, fp) + line


def decode_cursor(cursor: bytes) -> tuple[int, int, bytes]:
    if len(cursor) < _CURSOR.size:
        raise StorageError("invalid cursor")
    ts, fp = _CURSOR.unpack_from(cursor, 0)
    return ts, fp, cursor[_CURSOR.size :]


@dataclass
class LogSource:
    """One chunk (or head buffer) of one series, loaded on demand, clipped to the query range."""

    min_t: int
    max_t: int
    sidx: int
    load: Callable[[], Iterator[LogColumns]]


class Snapshot:
    def __init__(
        self,
        heads: tuple[Head, ...],
        blocks: tuple[Block, ...],
        on_corrupt: Callable[[Block, str], None] | None = None,
    ):
        self.heads = heads
        self.blocks = blocks
        self._on_corrupt = on_corrupt

    # -- selection -------------------------------------------------------------------------
    def select(self, matchers: Sequence[Matcher], kind: SeriesKind, start: int, end: int) -> list[SeriesRef]:
        """Series matching all matchers with data in [start, end] (the kind's time unit)."""
        scale = 1 if kind is SeriesKind.LOG else _NS
        lo_ns, hi_ns = start * scale, end * scale
        refs: dict[int, SeriesRef] = {}
        for b in self.blocks:
            if not b.overlaps(lo_ns, hi_ns):
                continue
            for fp in select(b.postings[kind], matchers):
                bs = b.series[fp]
                if bs.max_t < start or bs.min_t > end:
                    continue
                ref = refs.get(fp)
                if ref is None:
                    ref = refs[fp] = SeriesRef(fp, bs.labels, kind)
                ref.parts.append((b, bs))
        for h in reversed(self.heads):  # older (frozen) head first
            if kind is SeriesKind.METRIC:
                self._select_metrics(h, matchers, start, end, refs)
                continue
            for fp in select(h.postings[kind], matchers):
                hs = h.logs.get(fp)
                if hs is None or hs.max_t < start or hs.min_t > end:
                    continue
                ref = refs.get(fp)
                if ref is None:
                    ref = refs[fp] = SeriesRef(fp, hs.labels, kind)
                ref.parts.append((h, hs))
        return sorted(refs.values(), key=lambda r: r.labels)

    @staticmethod
    def _select_metrics(
        h: Head, matchers: Sequence[Matcher], start: int, end: int, refs: dict[int, SeriesRef]
    ) -> None:
        """Head metric series by slot; the data-range test runs over the columns at once."""
        store = h.metrics
        slots = np.fromiter(store.select(matchers), dtype=np.int64)
        if not len(slots):
            return
        cols = store.cols
        slots = slots[(cols.max_t[slots] >= start) & (cols.min_t[slots] <= end)]
        for slot, fp in zip(slots.tolist(), cols.fps[slots].tolist()):
            ref = refs.get(fp)
            if ref is None:
                ref = refs[fp] = SeriesRef(fp, store.labels[slot], SeriesKind.METRIC)
            ref.parts.append((h, MetricSeries(store, slot)))

    def series_info(
        self, matchers: Sequence[Matcher], kind: SeriesKind, start: int, end: int
    ) -> list[SeriesInfo]:
        return [
            SeriesInfo(r.labels, r.kind, r.min_time, r.max_time)
            for r in self.select(matchers, kind, start, end)
        ]

    def label_names(
        self, kind: SeriesKind, start: int, end: int, matchers: Sequence[Matcher] = ()
    ) -> list[str]:
        names: set[str] = set()
        if matchers:
            for r in self.select(matchers, kind, start, end):
                names.update(n for n, _ in r.labels)
        else:
            scale = 1 if kind is SeriesKind.LOG else _NS
            for b in self.blocks:
                if b.overlaps(start * scale, end * scale):
                    names.update(b.postings[kind].label_names())
            for h in self.heads:
                if h.max_ns >= start * scale and h.min_ns <= end * scale:
                    names.update(h.postings[kind].label_names())
        return sorted(names)

    def label_values(
        self, name: str, kind: SeriesKind, start: int, end: int, matchers: Sequence[Matcher] = ()
    ) -> list[str]:
        values: set[str] = set()
        if matchers:
            for r in self.select(matchers, kind, start, end):
                v = dict(r.labels).get(name)
                if v is not None:
                    values.add(v)
        else:
            scale = 1 if kind is SeriesKind.LOG else _NS
            for b in self.blocks:
                if b.overlaps(start * scale, end * scale):
                    values.update(b.postings[kind].label_values(name))
            for h in self.heads:
                if h.max_ns >= start * scale and h.min_ns <= end * scale:
                    values.update(h.postings[kind].label_values(name))
        return sorted(values)

    # -- raw access for the query engines --------------------------------------------------
    @staticmethod
    def _chunks(
        ref: SeriesRef, start: int, end: int
    ) -> Iterator[tuple[Block, ChunkRef] | tuple[None, HeadSeries | MetricSeries]]:
        """Where a series' data in [start, end] lives: block chunks, then head series."""
        for owner, part in ref.parts:
            if isinstance(owner, Block):
                assert isinstance(part, BlockSeries)
                for cref in part.chunks:
                    if cref.max_t >= start and cref.min_t <= end:
                        yield owner, cref
            else:
                assert isinstance(part, (HeadSeries, MetricSeries))
                yield None, part

    def log_columns(self, ref: SeriesRef, start: int, end: int) -> Iterator[LogColumns]:
        """Sorted, clipped columns chunk by chunk; chunks may overlap and hold duplicates."""
        for block, where in self._chunks(ref, start, end):
            if block is None:
                assert isinstance(where, HeadSeries)
                yield from where.log_columns(start, end)
                continue
            cols = self._read_block(block, lambda b=block, c=where: b.read_log_chunk(c))
            if cols is not None:
                yield clip_log_columns(cols, start, end)

    def log_sources(self, ref: SeriesRef, sidx: int, start: int, end: int) -> list[LogSource]:
        """The series' chunks overlapping [start, end] ns, each loadable on its own, so a
        limited query can visit them newest (or oldest) first and stop early."""
        out: list[LogSource] = []
        for block, where in self._chunks(ref, start, end):
            if block is None:
                assert isinstance(where, HeadSeries)
                load = lambda h=where: h.log_columns(start, end)  # noqa: E731
                out.append(LogSource(where.min_t, where.max_t, sidx, load))
            else:
                assert isinstance(where, ChunkRef)
                out.append(
                    LogSource(where.min_t, where.max_t, sidx, self._block_loader(block, where, start, end))
                )
        return out

    def series_log_columns(self, ref: SeriesRef, start: int, end: int) -> LogColumns:
        """Every entry of a series in [start, end] ns: sorted, duplicates removed."""
        parts = [c for c in self.log_columns(ref, start, end) if len(c)]
        if not parts:
            return LogColumns.from_lists([], [])
        cols = parts[0] if len(parts) == 1 else sort_log_columns(LogColumns.concat(parts))
        return dedup_log_columns(cols)

    def series_has_log_metadata(self, ref: SeriesRef, start: int, end: int) -> bool:
        """Whether any of the series' entries in [start, end] may carry structured metadata,
        read from chunk headers only (so `series_log_times` can be trusted to be the whole
        story for a query that needs no line). A corrupt block answers True, and the read that
        follows takes it out of service as any read does."""
        for block, where in self._chunks(ref, start, end):
            if block is None:
                assert isinstance(where, HeadSeries)
                if where.has_log_metadata(start, end):
                    return True
            else:
                assert isinstance(where, ChunkRef)
                got = self._read_block(block, lambda b=block, c=where: b.log_chunk_has_metadata(c))
                if got is None or got:
                    return True
        return False

    def series_log_times(self, ref: SeriesRef, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """Sorted timestamps and line lengths of a series in [start, end] ns, one per entry.

        Reads only the chunks' index frames. Duplicates can only hide where chunks overlap in
        time (a retry that crossed a head cut, before compaction); then the lines are needed to
        tell them apart, so that case decodes whole chunks.
        """
        where_list = list(self._chunks(ref, start, end))
        ranges = sorted((w.min_t, w.max_t) for _, w in where_list)
        if any(b[0] <= a[1] for a, b in zip(ranges, ranges[1:])):
            cols = self.series_log_columns(ref, start, end)
            return cols.timestamps, np.diff(cols.ends, prepend=0) if len(cols) else cols.ends
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        for block, where in where_list:
            if block is None:
                assert isinstance(where, HeadSeries)
                parts.extend(where.log_times(start, end))
                continue
            got = self._read_block(block, lambda b=block, c=where: b.read_log_times(c))
            if got is not None:
                ts, lens = got
                lo = int(np.searchsorted(ts, start, side="left"))
                hi = int(np.searchsorted(ts, end, side="right"))
                parts.append((ts[lo:hi], lens[lo:hi]))
        parts = [p for p in parts if len(p[0])]
        if not parts:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        ts = np.concatenate([p[0] for p in parts])
        lens = np.concatenate([p[1] for p in parts])
        if len(parts) > 1 and not bool(np.all(ts[1:] >= ts[:-1])):
            order = np.argsort(ts, kind="stable")
            ts, lens = ts[order], lens[order]
        return ts, lens

    def series_samples(self, ref: SeriesRef, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """All samples of a series in [start, end] ms, sorted, one per timestamp."""
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        for block, where in self._chunks(ref, start, end):
            if block is None:
                assert isinstance(where, MetricSeries)
                parts.extend(where.sample_arrays(start, end))
                continue
            got = self._read_block(block, lambda b=block, c=where: b.read_samples(c))
            if got is not None:
                parts.append(clip_samples(got[0], got[1], start, end))
        return merge_samples(parts)

    def index_stats(self, matchers: Sequence[Matcher], start: int, end: int) -> dict[str, int]:
        """Loki's /index/stats for log streams overlapping [start, end] ns."""
        return _index_stats(self, matchers, start, end)

    def samples(
        self, matchers: Sequence[Matcher], start: int, end: int
    ) -> list[tuple[Labels, np.ndarray, np.ndarray]]:
        """Every selected series' samples in [start, end] ms. Head parts are read in bulk per
        head, so each of the head's group chunks is decoded once for the whole answer."""
        refs = self.select(matchers, SeriesKind.METRIC, start, end)
        wanted: dict[int, tuple[Head, list[int]]] = {}
        for ref in refs:
            for owner, part in ref.parts:
                if isinstance(part, MetricSeries):
                    assert isinstance(owner, Head)
                    wanted.setdefault(id(owner), (owner, []))[1].append(part.slot)
        from_heads = {hid: h.metrics.samples_for(slots, start, end) for hid, (h, slots) in wanted.items()}
        out = []
        for ref in refs:
            parts: list[tuple[np.ndarray, np.ndarray]] = []
            for owner, part in ref.parts:
                if isinstance(part, MetricSeries):
                    parts.extend(from_heads[id(owner)][part.slot])
                    continue
                assert isinstance(owner, Block) and isinstance(part, BlockSeries)
                for cref in part.chunks:
                    if cref.max_t >= start and cref.min_t <= end:
                        got = self._read_block(owner, lambda b=owner, c=cref: b.read_samples(c))
                        if got is not None:
                            parts.append(clip_samples(got[0], got[1], start, end))
            ts, vals = merge_samples(parts)
            if len(ts):
                out.append((ref.labels, ts, vals))
        return out

    def _read_block(self, block: Block, read: Callable[[], object]):  # type: ignore[no-untyped-def]
        try:
            return read()
        except CorruptionError as exc:
            log.error("corrupt chunk; block taken out of service", extra=log_fields(error=str(exc)))
            if self._on_corrupt is not None:
                self._on_corrupt(block, str(exc))
            return None

    # -- log pages -------------------------------------------------------------------------
    def logs(
        self,
        matchers: Sequence[Matcher],
        start: int,
        end: int,
        *,
        direction: Direction = Direction.BACKWARD,
        limit: int = 1000,
        cursor: bytes | None = None,
    ) -> LogEntries:
        """A page of entries in [start, end] ns merged across series, deduplicated.

        Entries are totally ordered by (timestamp, series fingerprint, line); the cursor is
        the last entry's key, so paging neither repeats nor skips entries with equal times.
        """
        refs = self.select(matchers, SeriesKind.LOG, start, end)
        cur = decode_cursor(cursor) if cursor else None
        if cur is not None:
            if direction is Direction.FORWARD:
                start = max(start, cur[0])
            else:
                end = min(end, cur[0])
        fps = np.array([r.fp for r in refs], dtype=np.uint64)
        sources: list[LogSource] = []
        for sidx, ref in enumerate(refs):
            sources += self.log_sources(ref, sidx, start, end)
        forward = direction is Direction.FORWARD
        sources.sort(key=(lambda s: s.min_t) if forward else (lambda s: -s.max_t))
        got_ts: list[np.ndarray] = []
        got_cols: list[tuple[int, LogColumns]] = []
        count = 0
        bound: int | None = None
        for src in sources:
            if bound is not None and (src.min_t > bound if forward else src.max_t < bound):
                break
            for cols in src.load():
                cols = clip_log_columns(cols, start, end)
                if len(cols) == 0:
                    continue
                got_ts.append(cols.timestamps)
                got_cols.append((src.sidx, cols))
                count += len(cols)
            if count >= limit and limit > 0:
                all_ts = np.concatenate(got_ts)
                k = limit - 1
                bound = int(np.partition(all_ts, k)[k]) if forward else int(-np.partition(-all_ts, k)[k])
        return self._page(refs, fps, got_cols, forward, limit, cur)

    def _block_loader(
        self, block: Block, cref: ChunkRef, start: int | None = None, end: int | None = None
    ) -> Callable[[], Iterator[LogColumns]]:
        def load() -> Iterator[LogColumns]:
            cols = self._read_block(block, lambda: block.read_log_chunk(cref))
            if cols is not None:
                yield cols if start is None or end is None else clip_log_columns(cols, start, end)

        return load

    def _page(
        self,
        refs: list[SeriesRef],
        fps: np.ndarray,
        got: list[tuple[int, LogColumns]],
        forward: bool,
        limit: int,
        cur: tuple[int, int, bytes] | None,
    ) -> LogEntries:
        if not got:
            return LogEntries(
                [r.labels for r in refs], np.empty(0, np.int32), np.empty(0, np.int64), [], [], None
            )
        ts = np.concatenate([c.timestamps for _, c in got])
        sidx = np.concatenate([np.full(len(c), s, dtype=np.int32) for s, c in got])
        part = np.concatenate([np.full(len(c), i, dtype=np.int32) for i, (_, c) in enumerate(got)])
        row = np.concatenate([np.arange(len(c), dtype=np.int64) for _, c in got])
        fp = fps[sidx]
        order = np.lexsort((fp, ts))  # by ts, then fp
        if not forward:
            order = order[::-1]
        ts, sidx, part, row, fp = ts[order], sidx[order], part[order], row[order], fp[order]

        def line_of(i: int) -> bytes:
            return got[int(part[i])][1].line(int(row[i]))

        # Resolve ties (same ts and series) by line bytes, drop duplicates, apply the cursor.
        out_idx: list[int] = []
        n = len(ts)
        i = 0
        same_next = np.zeros(n, dtype=bool)
        if n > 1:
            same_next[:-1] = (ts[1:] == ts[:-1]) & (fp[1:] == fp[:-1])
        target = limit if limit > 0 else n
        while i < n and len(out_idx) < target:
            j = i
            while same_next[j]:
                j += 1
            if j == i:
                if cur is None or _after(int(ts[i]), int(fp[i]), None, cur, forward, line_of, i):
                    out_idx.append(i)
            else:
                group = {}
                for k in range(i, j + 1):
                    group.setdefault(line_of(k), k)
                keys = sorted(group, reverse=not forward)
                for line in keys:
                    k = group[line]
                    if cur is None or _after(int(ts[k]), int(fp[k]), line, cur, forward, line_of, k):
                        out_idx.append(k)
                        if len(out_idx) >= target:
                            break
            i = j + 1
        sel = np.array(out_idx, dtype=np.int64)
        lines = [line_of(k) for k in out_idx]
        metas = [got[int(part[k])][1].metadata(int(row[k])) for k in out_idx]
        more = limit > 0 and len(out_idx) >= limit
        next_cursor = None
        if more and out_idx:
            k = out_idx[-1]
            next_cursor = encode_cursor(int(ts[k]), int(fp[k]), lines[-1])
        return LogEntries(
            [r.labels for r in refs],
            sidx[sel] if len(sel) else np.empty(0, np.int32),
            ts[sel] if len(sel) else np.empty(0, np.int64),
            lines,
            metas,
            next_cursor,
        )


def _after(
    ts: int,
    fp: int,
    line: bytes | None,
    cur: tuple[int, int, bytes],
    forward: bool,
    line_of: Callable[[int], bytes],
    i: int,
) -> bool:
    """Whether the entry comes strictly after the cursor in the page's direction."""
    if line is None:
        line = line_of(i)
    key = (ts, fp, line)
    return key > cur if forward else key < cur


def _index_stats(snapshot: Snapshot, matchers: Sequence[Matcher], start: int, end: int) -> dict[str, int]:
    """Loki's /index/stats: streams, chunks, entries and raw bytes overlapping [start, end] ns."""
    refs = snapshot.select(matchers, SeriesKind.LOG, start, end)
    chunks = entries = nbytes = 0
    for ref in refs:
        for block, where in Snapshot._chunks(ref, start, end):
            if block is None:
                assert isinstance(where, HeadSeries)
                for cols in where.log_columns(start, end):
                    chunks += 1
                    entries += len(cols)
                    nbytes += int(cols.ends[-1]) if len(cols) else 0
            else:
                assert isinstance(where, ChunkRef)
                chunks += 1
                entries += where.count
                nbytes += where.raw_bytes
    return {"streams": len(refs), "chunks": chunks, "entries": entries, "bytes": nbytes}
