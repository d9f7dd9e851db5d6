"""Writing heads into blocks and merging blocks: the two places that rewrite chunks.

Both go through `write_log_series`, which keeps a series' chunks byte-for-byte when they are
already in order and disjoint, and otherwise decodes, sorts, removes duplicate entries and
re-cuts them at the target chunk size.
"""

from __future__ import annotations

import numpy as np

from heron.model import Labels, SeriesKind
from heron.storage.block import Block, BlockWriter
from heron.storage.head import Head, merge_samples, sort_log_columns
from heron.storage.log_chunks import TARGET_CHUNK_BYTES, LogColumns, decode_log_chunk, encode_log_chunk

__all__ = ["write_head", "merge_blocks", "dedup_log_columns", "split_log_columns", "plan_compaction"]


def dedup_log_columns(cols: LogColumns) -> LogColumns:
    """Drop repeated (timestamp, line) entries from sorted columns, keeping the first."""
    ts = cols.timestamps
    if len(ts) < 2:
        return cols
    same = ts[1:] == ts[:-1]
    if not bool(same.any()):
        return cols
    keep = np.ones(len(ts), dtype=bool)
    # Only runs of equal timestamps can hold duplicates; look at those few in Python.
    idx = np.nonzero(same)[0]
    run_seen: set[bytes] = set()
    prev = -2
    for i in idx.tolist():
        if i != prev + 1:
            run_seen = {cols.line(i)}
        line = cols.line(i + 1)
        if line in run_seen:
            keep[i + 1] = False
        else:
            run_seen.add(line)
        prev = i
    if bool(keep.all()):
        return cols
    return cols.take(np.nonzero(keep)[0])


def split_log_columns(cols: LogColumns) -> list[LogColumns]:
    """Cut sorted columns into pieces of about TARGET_CHUNK_BYTES of line bytes."""
    n = len(cols)
    if n == 0:
        return []
    total = int(cols.ends[-1])
    if total <= TARGET_CHUNK_BYTES:
        return [cols]
    marks = np.arange(TARGET_CHUNK_BYTES, total, TARGET_CHUNK_BYTES)
    cuts = np.unique(np.searchsorted(cols.ends, marks, side="left") + 1)
    cuts = cuts[(cuts > 0) & (cuts < n)]
    bounds = [0, *cuts.tolist(), n]
    return [cols.take(np.arange(a, b)) for a, b in zip(bounds, bounds[1:]) if b > a]


def _encode_all(cols: LogColumns) -> list[tuple[int, int, int, bytes]]:
    out = []
    for part in split_log_columns(cols):
        ts = part.timestamps
        out.append((int(ts[0]), int(ts[-1]), len(part), encode_log_chunk(part)))
    return out


def write_log_series(
    w: BlockWriter, fp: int, labels: Labels, chunks: list[tuple[int, int, int, bytes]]
) -> None:
    """chunks: (min_t, max_t, count, encoded). Kept as-is when disjoint and ordered."""
    chunks = sorted(chunks, key=lambda c: (c[0], c[1]))
    disjoint = all(b[0] > a[1] for a, b in zip(chunks, chunks[1:]))
    if not disjoint:
        merged = LogColumns.concat([decode_log_chunk(c[3]) for c in chunks])
        chunks = _encode_all(dedup_log_columns(sort_log_columns(merged)))
    w.add_log_series(fp, labels, chunks)


def write_head(head: Head, blocks_dir: str, wal_upto: int) -> Block | None:
    """Persist a frozen head as a level-0 block; on any failure nothing of it stays on disk."""
    w = BlockWriter(blocks_dir, level=0, wal_upto=wal_upto)
    try:
        for fp in sorted(head.logs):
            s = head.logs[fp]
            s.cut()
            closed, _ = s.state
            chunks = [(c.min_t, c.max_t, c.count, c.data) for c in closed]
            w.add_log_raw_bytes(s.raw_bytes)
            write_log_series(w, fp, s.labels, chunks)
        for fp, labels, ts, vals in head.metrics.export():
            w.add_metric_series(fp, labels, ts, vals)
        return w.finish()
    except BaseException:
        w.abort()
        raise


def merge_blocks(blocks: list[Block], blocks_dir: str, level: int) -> Block | None:
    """Merge blocks into one, removing duplicate entries that retries left across them.

    On any failure the partial output is removed and the sources are untouched."""
    w = BlockWriter(
        blocks_dir, level=level, wal_upto=max(b.wal_upto for b in blocks), sources=[b.id for b in blocks]
    )
    try:
        w.add_log_raw_bytes(sum(b.meta["stats"]["log_raw_bytes"] for b in blocks))
        fps: dict[int, list[Block]] = {}
        for b in blocks:
            for fp in b.series:
                fps.setdefault(fp, []).append(b)
        for fp in sorted(fps):
            owners = fps[fp]
            first = owners[0].series[fp]
            if first.kind is SeriesKind.LOG:
                chunks = []
                for b in owners:
                    for ref in b.series[fp].chunks:
                        raw = b.read_raw(ref)
                        chunks.append((ref.min_t, ref.max_t, ref.count, raw))
                write_log_series(w, fp, first.labels, chunks)
            else:
                parts = [b.read_samples(ref) for b in owners for ref in b.series[fp].chunks]
                ts, vals = merge_samples(parts)
                w.add_metric_series(fp, first.labels, ts, vals)
        return w.finish()
    except BaseException:
        w.abort()
        raise


COMPACTION_WINDOW_NS = 86400 * 1_000_000_000
MAX_LEVEL = 3


def plan_compaction(blocks: list[Block], min_blocks: int) -> tuple[list[Block], int] | None:
    """Pick one group of same-level blocks in the same day window to merge, oldest first."""
    groups: dict[tuple[int, int], list[Block]] = {}
    for b in blocks:
        groups.setdefault((b.level, b.min_ns // COMPACTION_WINDOW_NS), []).append(b)
    for (level, _window), group in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if len(group) >= min_blocks:
            return sorted(group, key=lambda b: b.min_ns), min(level + 1, MAX_LEVEL)
    return None
