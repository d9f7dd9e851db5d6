"""Log chunks: the on-disk unit of one log series' entries (~256 KiB of raw lines).

A chunk is a 44-byte header followed by TWO zstd frames: the index frame (timestamp deltas,
line lengths, metadata lengths) and the data frame (line bytes, metadata bytes). Keeping them
apart lets count/rate/bytes queries decode timestamps and lengths without decompressing lines.
The byte layout, what the CRC covers and the versioning rule are in docs/format/log-chunk.md.

Everything is columnar (`LogColumns`): one `bytes` object with every line concatenated plus an
int64 array of end offsets. That keeps encode/decode to a handful of C calls (zstd, numpy,
`bytes.join`) instead of a Python object per entry, and it lets `find_substring` scan a whole
chunk at memchr speed with `bytes.find`.
"""

from __future__ import annotations

import bisect
import struct
import zlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import zstandard

from heron.storage._zstd import codecs
from heron.storage.types import CorruptionError

__all__ = [
    "TARGET_CHUNK_BYTES",
    "HEADER_SIZE",
    "LogColumns",
    "encode_log_chunk",
    "decode_log_chunk",
    "decode_log_chunk_times",
    "log_chunk_has_metadata",
    "chunk_time_range",
    "chunk_raw_size",
    "encoded_size",
    "find_substring",
]

TARGET_CHUNK_BYTES = 256 * 1024
"""Raw line bytes after which a writer should cut a chunk: big enough for zstd to find the
repetition in log lines, small enough that a query reading one entry decompresses little."""

MAGIC = b"HLOG"
VERSION = 1

# magic, version, flags, reserved, count, min_t, max_t, raw (decompressed) size, zstd size of
# both frames, zstd size of the index frame, crc32
_HEADER = struct.Struct("<4sBBHIqqIIII")
HEADER_SIZE = _HEADER.size  # 44
_CRC_OFFSET = HEADER_SIZE - 4

_FLAG_WIDTH_MASK = 0x03  # bits 0-1: timestamp delta width code (1, 2, 4, 8 bytes)
_FLAG_HAS_META = 0x04  # bit 2: metadata lengths + bytes are present
_FLAG_KNOWN = _FLAG_WIDTH_MASK | _FLAG_HAS_META

_DELTA_DTYPES = (np.dtype("<u1"), np.dtype("<u2"), np.dtype("<u4"), np.dtype("<u8"))
_LEN_DTYPE = np.dtype("<u4")
_U32_MAX = (1 << 32) - 1
_EMPTY_I64 = np.zeros(0, dtype=np.int64)


@dataclass
class LogColumns:
    """Columnar log entries of one series, sorted by timestamp (stable).

    Line i is `data[ends[i-1] : ends[i]]` (with `ends[-1]` taken as 0 for i = 0); metadata uses
    the same scheme with `meta_ends` and `meta`. Lines are arbitrary bytes: empty, non-UTF-8 and
    up to 256 KiB are all fine, because nothing here ever splits on a separator.
    """

    timestamps: np.ndarray  # int64 ns, shape (n,)
    ends: np.ndarray  # int64, shape (n,)
    data: bytes
    meta_ends: np.ndarray  # int64, shape (n,)
    meta: bytes

    def __len__(self) -> int:
        return int(self.timestamps.shape[0])

    def line(self, i: int) -> bytes:
        i = range(len(self))[i]  # bounds check and negative indexes, like a list
        start = int(self.ends[i - 1]) if i else 0
        return self.data[start : int(self.ends[i])]

    def lines(self) -> list[bytes]:
        return _slices(self.data, self.ends)

    def metadata(self, i: int) -> bytes:
        i = range(len(self))[i]
        start = int(self.meta_ends[i - 1]) if i else 0
        return self.meta[start : int(self.meta_ends[i])]

    def all_metadata(self) -> list[bytes]:
        if not self.meta:  # the usual case: no entry has metadata
            return [b""] * len(self)
        return _slices(self.meta, self.meta_ends)

    def take(self, idx: np.ndarray) -> LogColumns:
        """New columns with rows `idx` in that order (any order, repeats allowed).

        Byte ranges of consecutive selected rows are copied as one run, so the common cases (a
        contiguous range, a filtered subset, a merge of two sorted runs) cost one slice per run
        rather than one per line.
        """
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        data, ends = _gather(self.data, self.ends, idx)
        if self.meta:
            meta, meta_ends = _gather(self.meta, self.meta_ends, idx)
        else:
            meta, meta_ends = b"", np.zeros(idx.shape[0], dtype=np.int64)
        return LogColumns(self.timestamps[idx], ends, data, meta_ends, meta)

    @classmethod
    def empty(cls) -> LogColumns:
        return cls(_EMPTY_I64.copy(), _EMPTY_I64.copy(), b"", _EMPTY_I64.copy(), b"")

    @classmethod
    def from_lists(
        cls,
        timestamps: Sequence[int] | np.ndarray,
        lines: Sequence[bytes],
        metadata: Sequence[bytes] | None = None,
    ) -> LogColumns:
        """Build columns from per-entry lists, stable-sorting by timestamp if needed."""
        ts = np.array(timestamps, dtype=np.int64).reshape(-1)
        n = ts.shape[0]
        if len(lines) != n:
            raise ValueError(f"{n} timestamps but {len(lines)} lines")
        ends = _ends_of(lines, n)
        data = b"".join(lines)
        if metadata is not None and len(metadata) != n:
            raise ValueError(f"{n} timestamps but {len(metadata)} metadata entries")
        if metadata is not None and any(metadata):
            meta_ends, meta = _ends_of(metadata, n), b"".join(metadata)
        else:
            meta_ends, meta = np.zeros(n, dtype=np.int64), b""
        cols = cls(ts, ends, data, meta_ends, meta)
        return cols._sorted()

    @classmethod
    def concat(cls, parts: Sequence[LogColumns]) -> LogColumns:
        """All rows of `parts` in order, then stable-sorted by timestamp if they overlap (so on
        equal timestamps earlier parts come first)."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            p = parts[0]
            return cls(p.timestamps.copy(), p.ends.copy(), p.data, p.meta_ends.copy(), p.meta)
        ts = np.concatenate([p.timestamps for p in parts]).astype(np.int64, copy=False)
        ends = _concat_ends([p.ends for p in parts], [len(p.data) for p in parts])
        data = b"".join(p.data for p in parts)
        if any(p.meta for p in parts):
            meta_ends = _concat_ends([p.meta_ends for p in parts], [len(p.meta) for p in parts])
            meta = b"".join(p.meta for p in parts)
        else:
            meta_ends, meta = np.zeros(ts.shape[0], dtype=np.int64), b""
        return cls(ts, ends, data, meta_ends, meta)._sorted()

    def _sorted(self) -> LogColumns:
        ts = self.timestamps
        if ts.shape[0] < 2 or bool((ts[1:] >= ts[:-1]).all()):
            return self
        return self.take(np.argsort(ts, kind="stable"))


def _starts_of(ends: np.ndarray) -> np.ndarray:
    starts = np.empty_like(ends)
    if ends.shape[0]:
        starts[0] = 0
        starts[1:] = ends[:-1]
    return starts


def _ends_of(items: Sequence[bytes], n: int) -> np.ndarray:
    # map(len) runs in C; np.fromiter avoids building an intermediate list
    return np.cumsum(np.fromiter(map(len, items), dtype=np.int64, count=n), dtype=np.int64)


def _slices(buf: bytes, ends: np.ndarray) -> list[bytes]:
    e = ends.tolist()
    return [buf[s:t] for s, t in zip([0, *e[:-1]], e)]


def _concat_ends(ends_list: list[np.ndarray], sizes: list[int]) -> np.ndarray:
    offsets = np.cumsum([0, *sizes[:-1]], dtype=np.int64)
    return np.concatenate([e + off for e, off in zip(ends_list, offsets.tolist())])


def _gather(buf: bytes, ends: np.ndarray, idx: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Bytes of rows `idx` concatenated, and their new end offsets."""
    if idx.shape[0] == 0:
        return b"", np.zeros(0, dtype=np.int64)
    starts = _starts_of(ends)
    s, e = starts[idx], ends[idx]
    new_ends = np.cumsum(e - s, dtype=np.int64)
    # runs of rows that are adjacent in `buf` are copied with one slice each
    brk = np.flatnonzero(idx[1:] != idx[:-1] + 1) + 1
    run_first = np.concatenate(([0], brk))
    run_last = np.concatenate((brk - 1, [idx.shape[0] - 1]))
    rs, re_ = s[run_first], e[run_last]
    if rs.shape[0] == 1:
        return buf[int(rs[0]) : int(re_[0])], new_ends
    mv = memoryview(buf)
    return b"".join([mv[a:b] for a, b in zip(rs.tolist(), re_.tolist())]), new_ends


def encode_log_chunk(cols: LogColumns, level: int = 3) -> bytes:
    """Serialise `cols` (which must be sorted by timestamp) into one self-checking chunk."""
    n = len(cols)
    ts = np.ascontiguousarray(cols.timestamps, dtype=np.int64)
    ends = np.asarray(cols.ends, dtype=np.int64)
    meta_ends = np.asarray(cols.meta_ends, dtype=np.int64)
    if ends.shape != (n,) or meta_ends.shape != (n,):
        raise ValueError("timestamps, ends and meta_ends must have the same length")
    if n > _U32_MAX:
        raise ValueError("too many entries for one chunk")
    line_lens = _lengths(ends, len(cols.data), "line")
    has_meta = bool(cols.meta)
    meta_lens = _lengths(meta_ends, len(cols.meta), "metadata") if has_meta else None

    wcode = 0
    delta_bytes = b""
    if n > 1:
        if not bool((ts[1:] >= ts[:-1]).all()):
            raise ValueError("log chunk timestamps must be sorted ascending")
        # Sorted, so every true delta is in [0, 2^64); the uint64 view of the wrapped int64
        # difference is exactly that delta, even across the whole int64 range.
        deltas = np.diff(ts).view(np.uint64)
        biggest = int(deltas.max())
        wcode = 0 if biggest <= 0xFF else 1 if biggest <= 0xFFFF else 2 if biggest <= _U32_MAX else 3
        delta_bytes = deltas.astype(_DELTA_DTYPES[wcode]).tobytes()

    index_parts: list[bytes] = [delta_bytes, line_lens.tobytes()]
    if meta_lens is not None:
        index_parts.append(meta_lens.tobytes())
    index_raw = b"".join(index_parts)
    data_raw = cols.data + cols.meta if has_meta else cols.data
    raw_size = len(index_raw) + len(data_raw)
    if raw_size > _U32_MAX:
        raise ValueError("log chunk too large (raw size must fit in 32 bits)")
    compressor = codecs.compressor(level)
    zindex = compressor.compress(index_raw)
    payload = zindex + compressor.compress(data_raw)
    if len(payload) > _U32_MAX:
        raise ValueError("log chunk too large (compressed size must fit in 32 bits)")

    flags = wcode | (_FLAG_HAS_META if has_meta else 0)
    min_t, max_t = (int(ts[0]), int(ts[-1])) if n else (0, 0)
    head = _HEADER.pack(MAGIC, VERSION, flags, 0, n, min_t, max_t, raw_size, len(payload), len(zindex), 0)
    crc = zlib.crc32(payload, zlib.crc32(head[:_CRC_OFFSET]))
    return b"".join((head[:_CRC_OFFSET], crc.to_bytes(4, "little"), payload))


def _lengths(ends: np.ndarray, total: int, what: str) -> np.ndarray:
    if ends.shape[0] == 0:
        if total:
            raise ValueError(f"{what} bytes present but no entries")
        return np.zeros(0, dtype=_LEN_DTYPE)
    lens = np.diff(ends, prepend=0)
    if int(ends[-1]) != total or (lens.shape[0] and int(lens.min()) < 0):
        raise ValueError(f"{what} end offsets are inconsistent with the data")
    if int(lens.max()) > _U32_MAX:
        raise ValueError(f"a {what} is longer than 4 GiB")
    return lens.astype(_LEN_DTYPE)


def _read_header(buf: bytes | memoryview) -> tuple[int, int, int, int, int, int, int, int, int]:
    """Validate the fixed header (not the CRC) and return its fields."""
    if len(buf) < HEADER_SIZE:
        raise CorruptionError(f"log chunk truncated: {len(buf)} bytes, header needs {HEADER_SIZE}")
    magic, version, flags, reserved, count, min_t, max_t, raw_size, zsize, izsize, crc = _HEADER.unpack_from(
        buf
    )
    if magic != MAGIC:
        raise CorruptionError(f"not a log chunk (magic {bytes(magic)!r})")
    if version != VERSION:
        raise CorruptionError(f"unsupported log chunk version {version}")
    if flags & ~_FLAG_KNOWN or reserved:
        raise CorruptionError("log chunk header has unknown flag bits set")
    if min_t > max_t:
        raise CorruptionError("log chunk header min_t > max_t")
    if izsize > zsize:
        raise CorruptionError("log chunk index frame is larger than the payload")
    return flags, count, min_t, max_t, raw_size, zsize, crc, HEADER_SIZE + zsize, izsize


def log_chunk_has_metadata(header: bytes | memoryview) -> bool:
    """Whether a log chunk holds structured metadata, from its fixed header alone (the first
    HEADER_SIZE bytes are enough), so a query can tell without decompressing anything."""
    return bool(_read_header(header)[0] & _FLAG_HAS_META)


def encoded_size(buf: bytes | memoryview) -> int:
    """Total size of the chunk that starts at `buf[0]`, from its header alone (for readers that
    know where a chunk starts but not how long it is)."""
    return _read_header(buf)[7]


def chunk_raw_size(buf: bytes | memoryview) -> int:
    """Uncompressed payload size (timestamps, lengths, lines, metadata) from the header alone."""
    return _read_header(buf)[4]


def chunk_time_range(buf: bytes | memoryview) -> tuple[int, int, int]:
    """(min_t, max_t, count) from the header alone: no CRC check, no decompression."""
    _, count, min_t, max_t, *_ = _read_header(buf)
    return min_t, max_t, count


def _checked_payload(buf: bytes | memoryview) -> tuple[memoryview, tuple[int, ...]]:
    """The payload after the header, once the CRC proved it intact."""
    header = _read_header(buf)
    crc, total = header[6], header[7]
    if len(buf) != total:
        raise CorruptionError(f"log chunk is {len(buf)} bytes, header says {total}")
    mv = memoryview(buf)
    payload = mv[HEADER_SIZE:total]
    if zlib.crc32(payload, zlib.crc32(mv[:_CRC_OFFSET])) != crc:
        raise CorruptionError("log chunk CRC mismatch")
    return payload, header


def decode_log_chunk(buf: bytes | memoryview) -> LogColumns:
    """Parse a chunk written by `encode_log_chunk`.

    The CRC is checked before zstd sees a byte, so damaged input raises CorruptionError and
    never decodes into plausible-looking wrong lines.
    """
    payload, (flags, n, min_t, max_t, raw_size, _, _, _, izsize) = _checked_payload(buf)
    try:
        timestamps, ends, meta_ends, index_size = _decode_index(
            payload[:izsize], flags, n, min_t, max_t, raw_size
        )
        data_size = raw_size - index_size
        line_total = int(ends[-1]) if n else 0
        meta_total = int(meta_ends[-1]) if n else 0
        if line_total + meta_total != data_size:
            raise CorruptionError("log chunk lengths disagree with the payload size")
        raw = codecs.decompressor.decompress(payload[izsize:], max_output_size=max(data_size, 1))
        if len(raw) != data_size:
            raise CorruptionError("log chunk data frame decompressed to the wrong size")
        if meta_total:
            return LogColumns(timestamps, ends, raw[:line_total], meta_ends, raw[line_total:])
        return LogColumns(timestamps, ends, raw, meta_ends, b"")
    except CorruptionError:
        raise
    except (zstandard.ZstdError, ValueError, IndexError, OverflowError, TypeError) as exc:
        raise CorruptionError(f"malformed log chunk: {exc}") from exc


def decode_log_chunk_times(buf: bytes | memoryview) -> tuple[np.ndarray, np.ndarray]:
    """(timestamps, line lengths) only: what count, rate and bytes queries need. The data
    frame, which holds nearly all the bytes, is never decompressed."""
    payload, (flags, n, min_t, max_t, raw_size, _, _, _, izsize) = _checked_payload(buf)
    try:
        timestamps, ends, _, _ = _decode_index(payload[:izsize], flags, n, min_t, max_t, raw_size)
    except CorruptionError:
        raise
    except (zstandard.ZstdError, ValueError, IndexError, OverflowError, TypeError) as exc:
        raise CorruptionError(f"malformed log chunk: {exc}") from exc
    return timestamps, np.diff(ends, prepend=0)


def _decode_index(
    zindex: memoryview, flags: int, n: int, min_t: int, max_t: int, raw_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Timestamps, line ends and metadata ends from the index frame, plus its raw size."""
    if n == 0:
        if raw_size or min_t or max_t:
            raise CorruptionError("empty log chunk with a payload")
        return _EMPTY_I64.copy(), _EMPTY_I64.copy(), _EMPTY_I64.copy(), 0
    dt = _DELTA_DTYPES[flags & _FLAG_WIDTH_MASK]
    has_meta = bool(flags & _FLAG_HAS_META)
    index_size = (n - 1) * dt.itemsize + n * 4 * (2 if has_meta else 1)
    if index_size > raw_size:
        raise CorruptionError("log chunk payload too short for its entry count")
    raw = codecs.decompressor.decompress(zindex, max_output_size=index_size)
    if len(raw) != index_size:
        raise CorruptionError("log chunk index frame decompressed to the wrong size")
    ts = np.empty(n, dtype=np.uint64)
    ts[0] = 0
    np.cumsum(np.frombuffer(raw, dtype=dt, count=n - 1), dtype=np.uint64, out=ts[1:])
    ts += np.uint64(min_t & 0xFFFF_FFFF_FFFF_FFFF)  # two's complement add, wraps like the encoder
    timestamps = ts.view(np.int64)
    if int(timestamps[-1]) != max_t:
        raise CorruptionError("log chunk timestamps disagree with the header")
    off = (n - 1) * dt.itemsize
    ends = np.cumsum(np.frombuffer(raw, dtype=_LEN_DTYPE, count=n, offset=off), dtype=np.int64)
    off += 4 * n
    if has_meta:
        meta_ends = np.cumsum(np.frombuffer(raw, dtype=_LEN_DTYPE, count=n, offset=off), dtype=np.int64)
    else:
        meta_ends = np.zeros(n, dtype=np.int64)
    return timestamps, ends, meta_ends, index_size


_SWITCH_TO_BISECT = 8  # hits after which a Python list of ends beats np.searchsorted per hit


def find_substring(cols: LogColumns, needle: bytes) -> np.ndarray:
    """Indexes (int64, ascending) of the lines that contain `needle`.

    One `bytes.find` scan over the whole concatenated buffer: after a hit the search jumps to
    the start of the next line, so a line is reported once, and a hit that runs past its line's
    end (i.e. spans two lines in `data`) is not a match. The cost is memchr speed plus a little
    Python per matching line, never per line scanned.
    """
    n = len(cols)
    if not needle:
        return np.arange(n, dtype=np.int64)
    data, ends = cols.data, cols.ends
    if n == 0 or len(needle) > len(data):
        return _EMPTY_I64.copy()
    find = data.find
    m = len(needle)
    hits: list[int] = []
    ends_list: list[int] | None = None
    pos = find(needle)
    while pos >= 0:
        if ends_list is None:
            i = int(np.searchsorted(ends, pos, side="right"))
            if len(hits) >= _SWITCH_TO_BISECT:
                ends_list = ends.tolist()
        else:
            i = bisect.bisect_right(ends_list, pos)
        end = int(ends[i]) if ends_list is None else ends_list[i]
        if pos + m <= end:
            hits.append(i)
            pos = find(needle, end)
        else:  # the occurrence crosses into the next line; a real one may still start later
            pos = find(needle, pos + 1)
    return np.array(hits, dtype=np.int64)
