"""Immutable blocks: a directory per time range with meta.json, an index and a chunks file.

Blocks are written into `<id>.tmp`, fsynced and renamed, so a crash never leaves a half block
under a real name. A write that fails (a full disk) removes what it wrote, so the space comes
back and nothing half-written is ever opened as a block. Readers keep the chunks file open and
use `pread`, so a block that compaction or retention deletes stays readable by snapshots that
still hold it.
The byte layouts are in docs/format/block.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import struct
import threading
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import zstandard

from heron.model import Labels, SeriesKind
from heron.storage.index import Postings
from heron.storage.log_chunks import (
    HEADER_SIZE,
    LogColumns,
    chunk_raw_size,
    decode_log_chunk,
    decode_log_chunk_times,
    log_chunk_has_metadata,
)
from heron.storage.metric_chunks import decode_frame, encode_frame
from heron.storage.types import CorruptionError

__all__ = ["Block", "BlockWriter", "ChunkRef", "BlockSeries", "new_block_id", "FRAME_SERIES"]

FORMAT_VERSION = 1
INDEX_MAGIC = b"HERONIX1"
FRAME_SERIES = 64  # metric series compressed together in one zstd frame
_INDEX_HEADER = struct.Struct("<8sII")  # magic, crc32 of the compressed body, body length
_FRAME_CACHE = 32


def new_block_id() -> str:
    """Time-sortable and unique: 12 hex digits of Unix ms, then 8 random hex digits."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(4)}"


@dataclass(frozen=True)
class ChunkRef:
    offset: int
    length: int
    slot: int  # index of the series inside a metric frame; -1 for a log chunk
    min_t: int
    max_t: int
    count: int
    raw_bytes: int = 0  # uncompressed payload of a log chunk (0 for metric frames)


@dataclass(frozen=True)
class BlockSeries:
    fp: int
    kind: SeriesKind
    labels: Labels
    chunks: tuple[ChunkRef, ...]

    @property
    def min_t(self) -> int:
        return min(c.min_t for c in self.chunks)

    @property
    def max_t(self) -> int:
        return max(c.max_t for c in self.chunks)


def _ns(kind: SeriesKind, t: int) -> int:
    return t if kind is SeriesKind.LOG else t * 1_000_000


def _meta_crc(meta: dict[str, Any]) -> int:
    body = {k: v for k, v in meta.items() if k != "crc32"}
    return zlib.crc32(json.dumps(body, sort_keys=True).encode())


class BlockWriter:
    """Builds one block. Log chunks arrive encoded; metric samples are grouped into frames."""

    def __init__(self, blocks_dir: str, *, level: int, wal_upto: int, sources: list[str] | None = None):
        self.blocks_dir = blocks_dir
        self.id = new_block_id()
        self.tmp = os.path.join(blocks_dir, self.id + ".tmp")
        self._final: str | None = None  # set once the block is renamed into place
        os.makedirs(self.tmp)
        try:
            self._chunks = open(os.path.join(self.tmp, "chunks"), "wb")
        except BaseException:
            _remove_tree(self.tmp)
            raise
        self._offset = 0
        self._series: list[list[Any]] = []
        self._pending: list[tuple[int, Labels, np.ndarray, np.ndarray]] = []
        self.level = level
        self.wal_upto = wal_upto
        self.sources = sources or []
        self.min_ns = np.iinfo(np.int64).max
        self.max_ns = np.iinfo(np.int64).min
        self.stats = {"series": 0, "log_entries": 0, "samples": 0, "log_raw_bytes": 0}

    def _write(self, data: bytes) -> int:
        off = self._offset
        self._chunks.write(data)
        self._offset += len(data)
        return off

    def add_log_series(self, fp: int, labels: Labels, chunks: list[tuple[int, int, int, bytes]]) -> None:
        """chunks: (min_t, max_t, count, encoded log chunk) in time order."""
        refs = []
        for min_t, max_t, count, data in chunks:
            off = self._write(data)
            refs.append([off, len(data), -1, min_t, max_t, count, chunk_raw_size(data)])
            self.stats["log_entries"] += count
            self.min_ns = min(self.min_ns, min_t)
            self.max_ns = max(self.max_ns, max_t)
        if refs:
            self._series.append([fp, int(SeriesKind.LOG), [list(p) for p in labels], refs])

    def add_log_raw_bytes(self, n: int) -> None:
        self.stats["log_raw_bytes"] += n

    def add_metric_series(self, fp: int, labels: Labels, ts: np.ndarray, vals: np.ndarray) -> None:
        if len(ts) == 0:
            return
        self._pending.append((fp, labels, ts, vals))
        if len(self._pending) >= FRAME_SERIES:
            self._flush_frame()

    def _flush_frame(self) -> None:
        if not self._pending:
            return
        frame = encode_frame([(ts, vals) for _, _, ts, vals in self._pending])
        off = self._write(frame)
        for slot, (fp, labels, ts, _vals) in enumerate(self._pending):
            ref = [off, len(frame), slot, int(ts[0]), int(ts[-1]), len(ts)]
            self._series.append([fp, int(SeriesKind.METRIC), [list(p) for p in labels], [ref]])
            self.stats["samples"] += len(ts)
            self.min_ns = min(self.min_ns, int(ts[0]) * 1_000_000)
            self.max_ns = max(self.max_ns, int(ts[-1]) * 1_000_000)
        self._pending = []

    def finish(self) -> "Block | None":
        """Write index and meta, fsync, rename into place. Returns None for an empty block."""
        self._flush_frame()
        self._chunks.flush()
        os.fsync(self._chunks.fileno())
        self._chunks.close()
        if not self._series:
            _remove_tree(self.tmp)
            return None
        self.stats["series"] = len(self._series)
        body = zstandard.ZstdCompressor(level=3).compress(
            json.dumps({"series": self._series}, separators=(",", ":")).encode()
        )
        index = _INDEX_HEADER.pack(INDEX_MAGIC, zlib.crc32(body), len(body)) + body
        _write_file(os.path.join(self.tmp, "index"), index)
        meta: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "id": self.id,
            "min_ns": int(self.min_ns),
            "max_ns": int(self.max_ns),
            "level": self.level,
            "wal_upto": self.wal_upto,
            "sources": self.sources,
            "stats": self.stats,
            "files": {"index": len(index), "chunks": self._offset},
        }
        meta["crc32"] = _meta_crc(meta)
        _write_file(os.path.join(self.tmp, "meta.json"), json.dumps(meta, indent=1).encode())
        _fsync_path(self.tmp)
        final = os.path.join(self.blocks_dir, self.id)
        os.rename(self.tmp, final)
        self._final = final
        _fsync_path(self.blocks_dir)
        return Block.open(final)

    def abort(self) -> None:
        """Remove everything this writer made. Also the renamed block if `finish` failed after
        the rename: its caller keeps the data (the head, or the source blocks) and writes it
        again, and a second copy would only be read twice until compaction merged it."""
        if not self._chunks.closed:
            with contextlib.suppress(OSError):  # a failed flush of a file about to be deleted
                self._chunks.close()
        _remove_tree(self.tmp)
        if self._final is not None:
            _remove_tree(self._final)


class Block:
    """A read-only block. Opening checks meta and index checksums; chunk checksums are checked
    on every read, and a failure raises CorruptionError for the caller to quarantine."""

    def __init__(self, path: str, meta: dict[str, Any], series: dict[int, BlockSeries]):
        self.path = path
        self.id: str = meta["id"]
        self.meta = meta
        self.min_ns: int = meta["min_ns"]
        self.max_ns: int = meta["max_ns"]
        self.level: int = meta["level"]
        self.wal_upto: int = meta["wal_upto"]
        self.series = series
        self.postings = {SeriesKind.LOG: Postings(), SeriesKind.METRIC: Postings()}
        for s in series.values():
            self.postings[s.kind].add(s.fp, s.labels)
        self.size_bytes = sum(meta["files"].values()) + len(json.dumps(meta, indent=1))
        # A raw descriptor, closed by close() or when the last snapshot drops the block, so a
        # block deleted by compaction or retention stays readable for snapshots that hold it.
        self._fd: int | None = os.open(os.path.join(path, "chunks"), os.O_RDONLY)
        self._frames: OrderedDict[int, list[tuple[np.ndarray, np.ndarray]]] = OrderedDict()
        self._frames_lock = threading.Lock()

    @classmethod
    def open(cls, path: str) -> "Block":
        try:
            with open(os.path.join(path, "meta.json"), "rb") as f:
                meta = json.loads(f.read())
            if not isinstance(meta, dict) or meta.get("crc32") != _meta_crc(meta):
                raise CorruptionError(f"block {path}: meta.json checksum mismatch")
            if meta.get("version") != FORMAT_VERSION:
                raise CorruptionError(f"block {path}: unsupported format version {meta.get('version')}")
            with open(os.path.join(path, "index"), "rb") as f:
                raw = f.read()
            if len(raw) != meta["files"]["index"]:
                raise CorruptionError(f"block {path}: index size {len(raw)} != {meta['files']['index']}")
            chunks_size = os.path.getsize(os.path.join(path, "chunks"))
            if chunks_size != meta["files"]["chunks"]:
                raise CorruptionError(f"block {path}: chunks size {chunks_size} != {meta['files']['chunks']}")
            magic, crc, length = _INDEX_HEADER.unpack_from(raw, 0)
            body = raw[_INDEX_HEADER.size :]
            if magic != INDEX_MAGIC or length != len(body) or zlib.crc32(body) != crc:
                raise CorruptionError(f"block {path}: index checksum mismatch")
            doc = json.loads(zstandard.ZstdDecompressor().decompress(body))
            series: dict[int, BlockSeries] = {}
            for fp, kind, labels, refs in doc["series"]:
                series[fp] = BlockSeries(
                    fp,
                    SeriesKind(kind),
                    tuple((n, v) for n, v in labels),
                    tuple(ChunkRef(*r) for r in refs),
                )
        except CorruptionError:
            raise
        except (OSError, ValueError, KeyError, TypeError, struct.error, zstandard.ZstdError) as exc:
            raise CorruptionError(f"block {path}: {exc}") from exc
        return cls(path, meta, series)

    def overlaps(self, lo_ns: int, hi_ns: int) -> bool:
        return self.max_ns >= lo_ns and self.min_ns <= hi_ns

    def read_raw(self, ref: ChunkRef) -> bytes:
        if self._fd is None:
            raise CorruptionError(f"block {self.path} is closed")
        data = os.pread(self._fd, ref.length, ref.offset)
        if len(data) != ref.length:
            raise CorruptionError(f"block {self.path}: short read at offset {ref.offset}")
        return data

    def read_log_chunk(self, ref: ChunkRef) -> LogColumns:
        try:
            return decode_log_chunk(self.read_raw(ref))
        except CorruptionError as exc:
            raise CorruptionError(f"block {self.path}: log chunk at {ref.offset}: {exc}") from exc

    def log_chunk_has_metadata(self, ref: ChunkRef) -> bool:
        """From the chunk's header only: one small read, nothing decompressed."""
        if self._fd is None:
            raise CorruptionError(f"block {self.path} is closed")
        try:
            return log_chunk_has_metadata(os.pread(self._fd, min(HEADER_SIZE, ref.length), ref.offset))
        except CorruptionError as exc:
            raise CorruptionError(f"block {self.path}: log chunk at {ref.offset}: {exc}") from exc

    def read_log_times(self, ref: ChunkRef) -> tuple[np.ndarray, np.ndarray]:
        """Timestamps and line lengths of a log chunk, without decompressing its lines."""
        try:
            return decode_log_chunk_times(self.read_raw(ref))
        except CorruptionError as exc:
            raise CorruptionError(f"block {self.path}: log chunk at {ref.offset}: {exc}") from exc

    def read_samples(self, ref: ChunkRef) -> tuple[np.ndarray, np.ndarray]:
        with self._frames_lock:
            frame = self._frames.get(ref.offset)
            if frame is not None:
                self._frames.move_to_end(ref.offset)
        if frame is None:
            try:
                frame = decode_frame(self.read_raw(ref))
            except CorruptionError as exc:
                raise CorruptionError(f"block {self.path}: metric frame at {ref.offset}: {exc}") from exc
            with self._frames_lock:
                self._frames[ref.offset] = frame
                while len(self._frames) > _FRAME_CACHE:
                    self._frames.popitem(last=False)
        if ref.slot >= len(frame):
            raise CorruptionError(f"block {self.path}: frame at {ref.offset} has no slot {ref.slot}")
        return frame[ref.slot]

    def verify(self) -> None:
        """Read and check every chunk; raises CorruptionError on the first bad one."""
        seen_frames: set[int] = set()
        for s in self.series.values():
            for ref in s.chunks:
                if ref.slot < 0:
                    self.read_log_chunk(ref)
                elif ref.offset not in seen_frames:
                    seen_frames.add(ref.offset)
                    decode_frame(self.read_raw(ref))

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __del__(self) -> None:
        self.close()


def series_time_ns(s: BlockSeries) -> tuple[int, int]:
    return _ns(s.kind, s.min_t), _ns(s.kind, s.max_t)


def _write_file(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_tree(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
