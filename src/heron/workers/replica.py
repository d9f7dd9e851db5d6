"""A read-only copy of the storage, kept in a query worker by following the WAL on disk.

Blocks are immutable files, so a worker opens them itself. What is not in a block yet is in
the WAL, so the worker rebuilds the head from it the way a restart would, but incrementally:
before each query it reads the segments from where it stopped up to the position the writer
had committed when the query was sent. The writer never changes committed bytes (a failed
write is cut back and the WAL moves to a fresh segment, docs/format/wal.md), so what the
worker read once stays true, and every push acknowledged before the query is in its answer.

The replica keeps one head per segment. A block records the last segment it covers
(`wal_upto`); once such a block appears, the heads of the segments it covers are dropped, so
no entry is ever seen twice, and segments the writer deleted are never needed again.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field

from heron.logsetup import log_fields
from heron.model import Labels, SeriesKind
from heron.storage import wal as walmod
from heron.storage.block import Block
from heron.storage.head import Head
from heron.storage.read import Snapshot
from heron.storage.types import CorruptionError

__all__ = ["WalReplica", "WalPosition"]

log = logging.getLogger("heron.workers.replica")

WalPosition = tuple[int, int]  # (segment number, committed bytes in it)

_SEGMENT_RE = re.compile(r"^\d{8}$")
_BLOCK_RE = re.compile(r"^[0-9a-f]{20}$")
_SYNC_ATTEMPTS = 8


@dataclass
class _Segment:
    """What the replica has read of one WAL segment."""

    head: Head = field(default_factory=Head)
    offset: int = 0
    known: dict[int, tuple[SeriesKind, Labels]] = field(default_factory=dict)
    # Later records name series by their ordinal in the segment, so one decoder reads it all.
    decoder: walmod.SegmentDecoder = field(default_factory=walmod.SegmentDecoder)
    damaged: bool = False


class WalReplica:
    """Blocks and a WAL-built head of one data directory, for reading only.

    `sync(position)` brings it up to a committed WAL position, `snapshot()` gives what the
    engine reads. Corrupt blocks met on the way are collected in `corrupt` (block id, reason)
    for the writer process, which alone may move them to quarantine.
    """

    def __init__(self, data_dir: str):
        self.data_dir = os.path.abspath(data_dir)
        self._blocks_dir = os.path.join(self.data_dir, "blocks")
        self._wal_dir = os.path.join(self.data_dir, "wal")
        self._blocks: dict[str, Block] = {}
        self._bad_blocks: set[str] = set()
        self._segments: dict[int, _Segment] = {}
        self._upto = 0  # every segment up to this one is covered by blocks
        self.corrupt: list[tuple[str, str]] = []

    # -- catching up -----------------------------------------------------------------------
    def sync(self, position: WalPosition) -> None:
        """Read blocks and WAL up to `position`, the writer's committed end at query time."""
        for _ in range(_SYNC_ATTEMPTS):
            self._load_blocks()
            try:
                self._read_wal(position)
                return
            except FileNotFoundError:
                # The writer cut its head into a block and removed the segments it covers
                # between our listing and our read; the new block has that data.
                continue
        log.warning("wal replica could not catch up; answering from what it has", extra=log_fields())

    def _load_blocks(self) -> None:
        try:
            names = {n for n in os.listdir(self._blocks_dir) if _BLOCK_RE.match(n)}
        except FileNotFoundError:
            names = set()
        for gone in [bid for bid in self._blocks if bid not in names]:
            self._blocks.pop(gone).close()
        for name in sorted(names - self._blocks.keys() - self._bad_blocks):
            try:
                self._blocks[name] = Block.open(os.path.join(self._blocks_dir, name))
            except FileNotFoundError:
                continue  # deleted by compaction or retention after the listing
            except CorruptionError as exc:
                self._bad_blocks.add(name)
                self.corrupt.append((name, str(exc)))
        # A compaction publishes its result before deleting its sources.
        replaced = {src for b in self._blocks.values() for src in b.meta.get("sources", [])}
        for bid in [bid for bid in self._blocks if bid in replaced]:
            self._blocks.pop(bid).close()
        upto = max((b.wal_upto for b in self._blocks.values()), default=0)
        if upto > self._upto:
            self._upto = upto
        for seg in [s for s in self._segments if s <= self._upto]:
            del self._segments[seg]

    def _read_wal(self, position: WalPosition) -> None:
        last_seg, last_size = position
        try:
            names = os.listdir(self._wal_dir)
        except FileNotFoundError:
            return
        segs = sorted(int(n) for n in names if _SEGMENT_RE.match(n))
        for seg in segs:
            if seg <= self._upto or seg > last_seg:
                continue
            state = self._segments.get(seg)
            if state is None:
                state = self._segments[seg] = _Segment()
            self._read_segment(seg, state, last_size if seg == last_seg else None)

    def _read_segment(self, seg: int, state: _Segment, end: int | None) -> None:
        """Apply the records between what was read and `end` (None: the whole closed file)."""
        if state.damaged or (end is not None and state.offset >= end):
            return
        with open(os.path.join(self._wal_dir, f"{seg:08d}"), "rb") as f:
            f.seek(state.offset)
            buf = f.read() if end is None else f.read(end - state.offset)
        if not buf:
            return
        records, used, problem = state.decoder.decode(buf)
        for rec in records:
            _apply(state, rec)
        state.offset += used
        if problem is not None:
            # Nothing past the committed end is read, so this is real damage, or the tail of
            # a write that failed and could not be cut back: stop reading this segment.
            state.damaged = True
            log.warning(
                "wal replica stopped at a damaged record",
                extra=log_fields(segment=seg, offset=state.offset, problem=problem),
            )

    # -- reading ---------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """Blocks plus the heads of uncovered segments, newest head first (as Snapshot wants)."""
        heads = tuple(self._segments[s].head for s in sorted(self._segments, reverse=True))
        blocks = tuple(self._blocks[b] for b in sorted(self._blocks))
        return Snapshot(heads, blocks, on_corrupt=self._on_corrupt)

    def _on_corrupt(self, block: Block, reason: str) -> None:
        bid = os.path.basename(block.path)
        self._bad_blocks.add(bid)
        self._blocks.pop(bid, None)
        self.corrupt.append((bid, reason))

    def take_corrupt(self) -> list[tuple[str, str]]:
        out, self.corrupt = self.corrupt, []
        return out

    def close(self) -> None:
        for b in self._blocks.values():
            b.close()
        self._blocks.clear()
        self._segments.clear()

    @property
    def head_bytes(self) -> int:
        return sum(s.head.bytes for s in self._segments.values())


def _apply(state: _Segment, rec: walmod.WalRecord) -> None:
    """One WAL record into the segment's head, as `Database` replays it at start-up."""
    head = state.head
    if isinstance(rec, walmod.WalSeries):
        state.known[rec.fp] = (rec.kind, rec.labels)
        return
    if isinstance(rec, walmod.WalSampleColumns):
        head.append_columns(rec.fps, rec.timestamps, rec.values, state.known)
        return
    kl = state.known.get(rec.fp)
    if kl is None:
        return
    s = head.get_or_create(rec.fp, kl[1], kl[0])
    lo, hi = int(rec.timestamps.min()), int(rec.timestamps.max())
    if isinstance(rec, walmod.WalLogs):
        head.bytes += s.append_logs(rec.timestamps, rec.lens, rec.data, rec.meta_lens, rec.meta)
        head.note_range(lo, hi, len(rec.timestamps))
    else:
        head.bytes += s.append_samples(rec.timestamps, rec.values)
        head.note_range(lo * 1_000_000, hi * 1_000_000, len(rec.timestamps))
