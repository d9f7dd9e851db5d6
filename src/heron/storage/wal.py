"""Write-ahead log: append-only segment files of CRC-checked records.

An append is acknowledged once its records are written to the segment file, which is what
makes it survive `kill -9` (the page cache outlives the process). Power-loss durability comes
from fsync, either on every append or from a background thread on an interval.

Replay tolerates damage: a torn or corrupt record cuts its segment off at that point with a
warning, and replay goes on with the next segment, because every segment is self-contained
(a series record precedes that series' first data record in each segment).
The byte layout is in docs/format/wal.md.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np
import zstandard

from heron.logsetup import log_fields
from heron.model import Labels, SeriesKind
from heron.storage._zstd import codecs

__all__ = [
    "WAL",
    "WalSeries",
    "WalLogs",
    "WalSamples",
    "WalSampleColumns",
    "encode_sample_columns",
    "WalRecord",
    "encode_series",
    "encode_logs",
    "encode_samples",
    "encode_series_batch",
    "encode_sample_refs",
    "SegmentDecoder",
    "read_segment",
    "decode_records",
]

log = logging.getLogger("heron.storage.wal")

REC_SERIES = 1
REC_LOGS = 2
REC_SAMPLES = 3
REC_SAMPLE_COLUMNS = 4
REC_SERIES_BATCH = 5
REC_SAMPLE_REFS = 6

_HEADER = struct.Struct("<IIB")  # payload length, crc32(type byte + payload), type
_MAX_RECORD = 1 << 30
_SEGMENT_RE = re.compile(r"^\d{8}$")
_ZSTD_LEVEL = 3  # a scrape's record compresses in ~1 ms at this level; higher buys little
_SAME_TS = 1  # sample refs flag: one timestamp for every sample


@dataclass(frozen=True)
class WalSeries:
    fp: int
    kind: SeriesKind
    labels: Labels


@dataclass(frozen=True)
class WalLogs:
    fp: int
    timestamps: np.ndarray  # int64 ns
    lens: np.ndarray  # uint32 line lengths
    meta_lens: np.ndarray  # uint32 metadata lengths
    data: bytes
    meta: bytes


@dataclass(frozen=True)
class WalSamples:
    fp: int
    timestamps: np.ndarray  # int64 ms
    values: np.ndarray  # float64


@dataclass(frozen=True)
class WalSampleColumns:
    """One sample each for many series (a scrape), already validated."""

    fps: np.ndarray  # uint64
    timestamps: np.ndarray  # int64 ms
    values: np.ndarray  # float64


WalRecord = WalSeries | WalLogs | WalSamples | WalSampleColumns


def _frame(rtype: int, payload: bytes) -> bytes:
    crc = zlib.crc32(payload, zlib.crc32(bytes((rtype,))))
    return _HEADER.pack(len(payload), crc, rtype) + payload


def encode_series(fp: int, kind: SeriesKind, labels: Labels, encoded: list[bytes] | None = None) -> bytes:
    """`encoded`: the names and values already UTF-8 encoded, in order, when the caller has them."""
    enc = encoded if encoded is not None else [s.encode() for pair in labels for s in pair]
    lens = struct.pack("<" + "HI" * len(labels), *map(len, enc))
    parts = [struct.pack("<QBH", fp, int(kind), len(labels))]
    for i in range(0, len(enc), 2):
        parts += (lens[3 * i : 3 * i + 6], enc[i], enc[i + 1])
    return _frame(REC_SERIES, b"".join(parts))


def encode_logs(
    fp: int, timestamps: np.ndarray, lens: np.ndarray, meta_lens: np.ndarray, data: bytes, meta: bytes
) -> bytes:
    n = len(timestamps)
    payload = b"".join(
        (
            struct.pack("<QI", fp, n),
            np.ascontiguousarray(timestamps, dtype="<i8").tobytes(),
            np.ascontiguousarray(lens, dtype="<u4").tobytes(),
            np.ascontiguousarray(meta_lens, dtype="<u4").tobytes(),
            data,
            meta,
        )
    )
    return _frame(REC_LOGS, payload)


def encode_samples(fp: int, timestamps: np.ndarray, values: np.ndarray) -> bytes:
    n = len(timestamps)
    payload = b"".join(
        (
            struct.pack("<QI", fp, n),
            np.ascontiguousarray(timestamps, dtype="<i8").tobytes(),
            np.ascontiguousarray(values, dtype="<f8").tobytes(),
        )
    )
    return _frame(REC_SAMPLES, payload)


def encode_sample_columns(fps: np.ndarray, timestamps: np.ndarray, values: np.ndarray) -> bytes:
    n = len(fps)
    payload = b"".join(
        (
            struct.pack("<I", n),
            np.ascontiguousarray(fps, dtype="<u8").tobytes(),
            np.ascontiguousarray(timestamps, dtype="<i8").tobytes(),
            np.ascontiguousarray(values, dtype="<f8").tobytes(),
        )
    )
    return _frame(REC_SAMPLE_COLUMNS, payload)


def _planes(a: np.ndarray, dtype: str) -> bytes:
    """The array's bytes grouped by byte position (all first bytes, then all second bytes, ...):
    similar numbers then give zstd long runs (the high bytes of small deltas are all zero)."""
    a = np.ascontiguousarray(a, dtype=dtype)
    return a.view(np.uint8).reshape(len(a), a.itemsize).T.tobytes()


def _unplanes(p: memoryview, off: int, n: int, dtype: str) -> np.ndarray:
    width = np.dtype(dtype).itemsize
    raw = np.frombuffer(p, dtype=np.uint8, count=n * width, offset=off)
    return raw.reshape(width, n).T.copy().view(dtype).reshape(n)


def _compressed(rtype: int, head: bytes, raw: bytes) -> bytes:
    """`head` stays plain (counts a reader checks before inflating); `raw` is one zstd frame
    after its own length, so a damaged record can never inflate past what it announced."""
    z = codecs.compressor(_ZSTD_LEVEL).compress(raw)
    return _frame(rtype, head + struct.pack("<I", len(raw)) + z)


def _inflate(p: memoryview, off: int, limit: int) -> bytes:
    (raw_len,) = struct.unpack_from("<I", p, off)
    if raw_len > limit:
        raise _BadRecord(f"compressed record announces {raw_len} bytes, more than its counts allow")
    try:
        raw = codecs.decompressor.decompress(bytes(p[off + 4 :]), max_output_size=raw_len)
    except zstandard.ZstdError as exc:
        raise _BadRecord(f"bad zstd frame: {exc}") from None
    if len(raw) != raw_len:
        raise _BadRecord("compressed record inflates to the wrong size")
    return raw


def _label_text(labels: list[Labels]) -> tuple[bytes, np.ndarray]:
    """Every name and value of `labels` in order, concatenated in UTF-8, and their byte lengths."""
    strs = [s for lab in labels for pair in lab for s in pair]
    joined = "".join(strs)
    if joined.isascii():  # the usual case: one encode, and characters are bytes
        return joined.encode("ascii"), np.fromiter(map(len, strs), dtype="<u4", count=len(strs))
    enc = [s.encode() for s in strs]
    return b"".join(enc), np.fromiter(map(len, enc), dtype="<u4", count=len(enc))


def encode_series_batch(
    fps: np.ndarray, kinds: np.ndarray, labels: list[Labels], text: tuple[bytes, np.ndarray] | None = None
) -> bytes:
    """Many series definitions in one zstd-compressed record (type 5).

    A new target's first scrape defines thousands of series whose label names and values
    repeat; compressed together they cost ~10-20 B a series instead of ~200 B. Each series takes
    the next ordinal of its segment, as a type-1 record does (see `SegmentDecoder`).
    `text`: the names and values concatenated in UTF-8 and their byte lengths, when the caller
    has them already (`bulk_series`); they must be exactly those of `labels`.
    """
    k = len(labels)
    data, lens = text if text is not None else _label_text(labels)
    counts = np.fromiter(map(len, labels), dtype="<u2", count=k)
    raw = b"".join(
        (
            np.ascontiguousarray(fps, dtype="<u8").tobytes(),
            np.ascontiguousarray(kinds, dtype="u1").tobytes(),
            _planes(counts, "<u2"),
            _planes(lens, "<u4"),
            data,
        )
    )
    return _compressed(REC_SERIES_BATCH, struct.pack("<II", k, len(lens)), raw)


def encode_sample_refs(ords: np.ndarray, timestamps: np.ndarray, values: np.ndarray) -> bytes:
    """One sample each for many series (type 6), the series named by their ordinal in the
    segment rather than by fingerprint.

    A scrape names its series in the same order every time and they were defined in that
    order, so the ordinals' deltas are almost all 1; one timestamp stands for all when they
    are equal (aligned scrapes); values are byte-planed. zstd over that costs a few bytes a
    sample where the plain columns (type 4) cost 24.
    """
    n = len(ords)
    o = np.ascontiguousarray(ords, dtype=np.int64)
    d = np.empty(n, dtype=np.int64)
    if n:
        d[0] = o[0]
        np.subtract(o[1:], o[:-1], out=d[1:])
    ts = np.ascontiguousarray(timestamps, dtype=np.int64)
    same = n > 0 and bool((ts == ts[0]).all())
    if same:
        tpart = struct.pack("<q", int(ts[0]))
    else:
        td = np.empty(n, dtype=np.int64)
        if n:
            td[0] = ts[0]
            np.subtract(ts[1:], ts[:-1], out=td[1:])
        tpart = _planes(td, "<i8")
    raw = b"".join((_planes(d.astype(np.int32), "<i4"), tpart, _planes(values, "<f8")))
    return _compressed(REC_SAMPLE_REFS, struct.pack("<BI", _SAME_TS if same else 0, n), raw)


class _BadRecord(Exception):
    """A record whose payload disagrees with its own counts; replay cuts the segment there."""


def _decode(rtype: int, p: memoryview) -> WalRecord:
    if rtype == REC_SERIES:
        fp, kind, n = struct.unpack_from("<QBH", p, 0)
        off = 11
        labels = []
        for _ in range(n):
            ln, lv = struct.unpack_from("<HI", p, off)
            off += 6
            name = bytes(p[off : off + ln]).decode()
            off += ln
            value = bytes(p[off : off + lv]).decode()
            off += lv
            labels.append((name, value))
        if off != len(p):
            raise _BadRecord("series record length mismatch")
        return WalSeries(fp, SeriesKind(kind), tuple(labels))
    if rtype == REC_LOGS:
        fp, n = struct.unpack_from("<QI", p, 0)
        off = 12
        ts = np.frombuffer(p, dtype="<i8", count=n, offset=off).astype(np.int64)
        off += 8 * n
        lens = np.frombuffer(p, dtype="<u4", count=n, offset=off)
        off += 4 * n
        mlens = np.frombuffer(p, dtype="<u4", count=n, offset=off)
        off += 4 * n
        dlen, mlen = int(lens.sum(dtype=np.int64)), int(mlens.sum(dtype=np.int64))
        if off + dlen + mlen != len(p):
            raise _BadRecord("log record length mismatch")
        data = bytes(p[off : off + dlen])
        meta = bytes(p[off + dlen : off + dlen + mlen])
        return WalLogs(fp, ts, lens.copy(), mlens.copy(), data, meta)
    if rtype == REC_SAMPLES:
        fp, n = struct.unpack_from("<QI", p, 0)
        if 12 + 16 * n != len(p):
            raise _BadRecord("sample record length mismatch")
        ts = np.frombuffer(p, dtype="<i8", count=n, offset=12).astype(np.int64)
        vals = np.frombuffer(p, dtype="<f8", count=n, offset=12 + 8 * n).astype(np.float64)
        return WalSamples(fp, ts, vals)
    if rtype == REC_SAMPLE_COLUMNS:
        (n,) = struct.unpack_from("<I", p, 0)
        if 4 + 24 * n != len(p):
            raise _BadRecord("sample columns record length mismatch")
        fps = np.frombuffer(p, dtype="<u8", count=n, offset=4).astype(np.uint64)
        ts = np.frombuffer(p, dtype="<i8", count=n, offset=4 + 8 * n).astype(np.int64)
        vals = np.frombuffer(p, dtype="<f8", count=n, offset=4 + 16 * n).astype(np.float64)
        return WalSampleColumns(fps, ts, vals)
    raise _BadRecord(f"unknown record type {rtype}")


def _decode_series_batch(p: memoryview) -> list[WalSeries]:
    k, m = struct.unpack_from("<II", p, 0)
    raw = memoryview(_inflate(p, 8, _MAX_RECORD))
    fixed = 11 * k + 4 * m
    if len(raw) < fixed:
        raise _BadRecord("series batch shorter than its counts")
    fps = np.frombuffer(raw, dtype="<u8", count=k, offset=0).tolist()
    kinds = [SeriesKind(x) for x in raw[8 * k : 9 * k].tolist()]
    counts = _unplanes(raw, 9 * k, k, "<u2").astype(np.int64)
    lens = _unplanes(raw, 11 * k, m, "<u4").astype(np.int64)
    if int(counts.sum()) * 2 != m:
        raise _BadRecord("series batch label counts disagree with its string count")
    ends = np.cumsum(lens)
    if (int(ends[-1]) if m else 0) != len(raw) - fixed:
        raise _BadRecord("series batch length mismatch")
    data = bytes(raw[fixed:])
    bounds = np.concatenate(([0], ends)).tolist()
    if data.isascii():  # characters are bytes: decode once and slice
        text = data.decode("ascii")
        strs = [text[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    else:
        strs = [data[a:b].decode() for a, b in zip(bounds[:-1], bounds[1:])]
    it = iter(strs)
    pairs = list(zip(it, it))
    out = []
    off = 0
    for fp, kind, c in zip(fps, kinds, counts.tolist()):
        out.append(WalSeries(fp, kind, tuple(pairs[off : off + c])))
        off += c
    return out


class SegmentDecoder:
    """Decodes one segment's records in order, keeping what later records refer back to.

    Every series definition (type 1, or each series of a type 5) takes the next ordinal of
    its segment, counting from 0; sample refs records (type 6) name series by ordinal, and
    come back as `WalSampleColumns` with fingerprints, so appliers never see ordinals. Feed a
    segment's bytes in order (whole records, from its start); one decoder per segment.
    """

    def __init__(self) -> None:
        self._fps = np.empty(1024, dtype=np.uint64)
        self._n = 0

    @property
    def series_count(self) -> int:
        return self._n

    def _define(self, fps: list[int]) -> None:
        need = self._n + len(fps)
        if need > len(self._fps):
            grown = np.empty(max(need, 2 * len(self._fps)), dtype=np.uint64)
            grown[: self._n] = self._fps[: self._n]
            self._fps = grown
        self._fps[self._n : need] = fps
        self._n = need

    def _sample_refs(self, p: memoryview) -> WalSampleColumns:
        flags, n = struct.unpack_from("<BI", p, 0)
        if flags & ~_SAME_TS:
            raise _BadRecord(f"unknown sample refs flags {flags:#x}")
        same = bool(flags & _SAME_TS)
        size = 4 * n + (8 if same else 8 * n) + 8 * n
        raw = memoryview(_inflate(p, 5, size))
        if len(raw) != size:
            raise _BadRecord("sample refs length mismatch")
        ords = np.cumsum(_unplanes(raw, 0, n, "<i4"), dtype=np.int64)
        if n and (int(ords.min()) < 0 or int(ords.max()) >= self._n):
            raise _BadRecord("sample refs name a series not defined earlier in the segment")
        if same:
            ts = np.full(n, struct.unpack_from("<q", raw, 4 * n)[0], dtype=np.int64)
            voff = 4 * n + 8
        else:
            ts = np.cumsum(_unplanes(raw, 4 * n, n, "<i8"), dtype=np.int64)
            voff = 12 * n
        vals = _unplanes(raw, voff, n, "<f8").astype(np.float64)
        return WalSampleColumns(self._fps[ords], ts, vals)

    def decode(self, buf: bytes | memoryview) -> tuple[list[WalRecord], int, str | None]:
        """Decode whole records from the start of `buf`: (records, bytes they span, problem or None).

        A record cut off at the end of `buf` is a problem here; a reader following a live segment
        (heron.workers.replica) reads only up to the writer's committed position, so for it the
        buffer always ends on a record boundary. After a problem the decoder keeps the state
        of the records before it.
        """
        mv = memoryview(buf)
        records: list[WalRecord] = []
        off = 0
        size = len(mv)
        while off < size:
            if size - off < _HEADER.size:
                return records, off, f"torn record header at offset {off}"
            length, crc, rtype = _HEADER.unpack_from(mv, off)
            if length > _MAX_RECORD or off + _HEADER.size + length > size:
                return records, off, f"torn or oversized record at offset {off}"
            payload = mv[off + _HEADER.size : off + _HEADER.size + length]
            if zlib.crc32(payload, zlib.crc32(bytes((rtype,)))) != crc:
                return records, off, f"checksum mismatch at offset {off}"
            try:
                if rtype == REC_SERIES_BATCH:
                    batch = _decode_series_batch(payload)
                    self._define([s.fp for s in batch])
                    records.extend(batch)
                elif rtype == REC_SAMPLE_REFS:
                    records.append(self._sample_refs(payload))
                else:
                    rec = _decode(rtype, payload)
                    if isinstance(rec, WalSeries):
                        self._define([rec.fp])
                    records.append(rec)
            except (_BadRecord, struct.error, ValueError, UnicodeDecodeError) as exc:
                return records, off, f"malformed record at offset {off}: {exc}"
            off += _HEADER.size + length
        return records, off, None


def read_segment(path: str) -> tuple[list[WalRecord], int, str | None]:
    """Decode a segment. Returns (records, bytes of valid prefix, problem or None)."""
    with open(path, "rb") as f:
        buf = f.read()
    return SegmentDecoder().decode(buf)


def decode_records(buf: bytes | memoryview) -> tuple[list[WalRecord], int, str | None]:
    """`SegmentDecoder().decode(buf)`: whole records from the start of a segment."""
    return SegmentDecoder().decode(buf)


class WAL:
    """The segment directory. One writer (the Database's write lock serialises callers).

    A failed write never leaves a partial record in front of later ones: the segment is cut back
    to the end of its last whole record and never written again; the next append starts a fresh
    segment (`prepare`), which repeats the series records it needs. So bytes below `committed`
    never change, which is what lets query workers follow the WAL read-only.
    """

    def __init__(self, directory: str, *, segment_bytes: int, fsync_always: bool, fsync_interval: float):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.segment_bytes = segment_bytes
        self.fsync_always = fsync_always
        self.fsync_interval = fsync_interval
        self._lock = threading.Lock()  # guards the fd against the fsync thread
        self._fd: int | None = None
        self._seg = 0  # the segment being written, or the last one that was (then _fd is None)
        self._size = 0  # bytes of whole, successfully written records in _seg
        self._committed = (0, 0)
        self._fresh_needed = False  # _seg must not be written again: the next append opens another
        self._dirty = False
        self._written_series: set[int] = set()
        self._series_count = 0  # series definitions in whole records of _seg: the next ordinal
        # Bumped whenever the written-series set starts over: callers that track series
        # records themselves (the head's metric columns) compare epochs instead of asking.
        self.epoch = 0
        self.fsync_seconds_total = 0.0
        self.fsync_count = 0
        self.write_failures = 0  # failed writes, fsyncs and segment creations
        self._failing = False  # since the last failure, no write succeeded (logs once per episode)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- reading ---------------------------------------------------------------------------
    def segments(self) -> list[int]:
        out = []
        for name in os.listdir(self.dir):
            if _SEGMENT_RE.match(name):
                out.append(int(name))
            else:
                log.warning("ignoring foreign file in wal directory", extra=log_fields(name=name))
        return sorted(out)

    def _path(self, seg: int) -> str:
        return os.path.join(self.dir, f"{seg:08d}")

    def replay(self, after: int) -> Iterator[WalRecord]:
        """Yield every intact record of segments numbered above `after`, repairing damage."""
        for seg in self.segments():
            if seg <= after:
                continue
            path = self._path(seg)
            records, valid, problem = read_segment(path)
            if problem is not None:
                log.warning(
                    "wal segment damaged; cut off at last good record",
                    extra=log_fields(segment=seg, problem=problem, kept_bytes=valid, records=len(records)),
                )
                with open(path, "r+b") as f:
                    f.truncate(valid)
                    os.fsync(f.fileno())
            yield from records

    # -- writing ---------------------------------------------------------------------------
    @property
    def committed(self) -> tuple[int, int]:
        """(segment number, byte size): the end of the last write that fully succeeded.

        Every segment below the number is complete, and the named one holds exactly that many
        bytes of whole records. Bytes below a committed position never change afterwards (they
        are only ever deleted with their whole segment, once a block holds their data).
        """
        return self._committed

    def open_for_append(self) -> None:
        """Start a fresh segment after the newest one; replayed segments are never appended to.

        A full disk must not keep the server from starting and answering queries, so failing
        to create the segment is logged and retried by the first append (`prepare`).
        """
        segs = self.segments()
        newest = segs[-1] if segs else 0
        self._seg = newest
        self._committed = (newest, os.path.getsize(self._path(newest)) if segs else 0)
        try:
            self._open_segment(newest + 1)
        except OSError as exc:
            self.write_failures += 1
            self._fresh_needed = True
            log.error(
                "cannot create a wal segment; retrying on the next append", extra=log_fields(error=str(exc))
            )
        if not self.fsync_always:
            self._thread = threading.Thread(target=self._fsync_loop, name="heron-wal-fsync", daemon=True)
            self._thread.start()

    def _open_segment(self, seg: int) -> None:
        """Create segment `seg` and make it the current one; on failure nothing changes."""
        path = self._path(seg)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        try:
            _fsync_dir(self.dir)
        except OSError:
            os.close(fd)
            _unlink_quietly(path)
            raise
        self._fd = fd
        self._seg = seg
        self._size = 0
        self._written_series = set()
        self._series_count = 0
        self.epoch += 1
        self._fresh_needed = False

    def prepare(self) -> bool:
        """Make sure there is a segment that may be written; call before encoding an append.

        Returns True when a fresh segment was opened (every series record is needed again).
        Raises OSError when none can be created (the disk is still full); then nothing changed
        and the next call tries again.
        """
        if not self._fresh_needed and self._fd is not None:
            return False  # the common case, without waiting for a background fsync's lock
        with self._lock:
            self._close_locked()
            try:
                self._open_segment(self._seg + 1)
            except OSError:
                self.write_failures += 1
                raise
            return True

    @property
    def current_segment(self) -> int:
        return self._seg

    @property
    def current_size(self) -> int:
        return self._size

    @property
    def series_count(self) -> int:
        """Series defined so far in the current segment: the ordinal the next definition takes
        (`SegmentDecoder`). Valid for the segment of the current epoch only."""
        return self._series_count

    def needs_series(self, fp: int) -> bool:
        return fp not in self._written_series

    def write(self, blob: bytes, series: Iterable[int] = (), series_records: int = 0) -> None:
        """Write a batch of framed records with one system call; returns once the OS has them.

        `series` are the fingerprints whose series records `blob` carries; they count as written
        in this segment only once the write succeeded; `series_records` is how many series
        definitions `blob` holds (of any kind), which advances `series_count`. On any failure
        (ENOSPC, EIO, a short write, a failed fsync) the segment is cut back to its last whole
        record, closed, and the OSError is raised; `committed` stays where it was.
        """
        if not blob:
            return
        with self._lock:
            if self._fd is None or self._fresh_needed:
                raise OSError(errno.EIO, "the wal segment was abandoned after a failed write; retry")
            try:
                view = memoryview(blob)
                while view:
                    n = os.write(self._fd, view)
                    if n <= 0:
                        raise OSError(errno.EIO, f"write(2) returned {n} with {len(view)} bytes left")
                    view = view[n:]
                self._dirty = True
                if self.fsync_always:
                    self._fsync_locked()
            except OSError as exc:
                self._abandon_locked(exc)
                raise
            self._size += len(blob)
            self._committed = (self._seg, self._size)
            self._written_series.update(series)
            self._series_count += series_records
            if self._failing:
                self._failing = False
                log.info("wal writes succeed again", extra=log_fields(segment=self._seg))

    def _abandon_locked(self, exc: OSError) -> None:
        """Cut the current segment back to its last whole record and stop writing to it."""
        self.write_failures += 1
        self._fresh_needed = True
        self._written_series = set()
        self.epoch += 1
        fd, self._fd = self._fd, None
        assert fd is not None
        seg = self._seg
        try:
            os.ftruncate(fd, self._size)
            cut = True
        except OSError as exc2:
            # The torn tail stays; nothing is written after it, so replay cuts it there.
            log.error(
                "cannot cut back a failed wal write",
                extra=log_fields(segment=seg, size=self._size, error=str(exc2)),
            )
            cut = False
        try:
            os.fsync(fd)  # the cut, and what was acknowledged before the failure
        except OSError as exc3:
            log.error("wal fsync failed", extra=log_fields(segment=seg, error=str(exc3)))
        finally:
            os.close(fd)
        self._dirty = False
        if cut and self._size == 0:
            # Nothing was ever committed in it, so no reader depends on it: delete it, and
            # a disk that stays full does not pile up one empty segment per refused append.
            try:
                os.unlink(self._path(seg))
                self._seg = seg - 1
            except OSError:
                self._seg = seg
        log.log(
            logging.DEBUG if self._failing else logging.ERROR,
            "wal write failed; the segment was closed and the next append starts a fresh one",
            extra=log_fields(segment=seg, kept_bytes=self._size, cut_back=cut, error=str(exc)),
        )
        self._failing = True

    def rotate(self) -> int:
        """Close the current segment and open the next; returns the closed segment's number.

        When the next one cannot be created, the WAL waits for `prepare` to retry it; what was
        written is in segments up to the returned number either way.
        """
        with self._lock:
            closed = self._seg
            self._close_locked()
            try:
                self._open_segment(closed + 1)
            except OSError as exc:
                self.write_failures += 1
                self._fresh_needed = True
                log.error(
                    "cannot create a wal segment; retrying on the next append",
                    extra=log_fields(error=str(exc)),
                )
            return closed

    def _close_locked(self) -> None:
        """fsync and close the current segment, if open. A failed fsync is counted and logged:
        what it covered was acknowledged already, and its segment is never written again."""
        if self._fd is None:
            return
        try:
            self._fsync_locked()
        except OSError as exc:
            self.write_failures += 1
            log.error("wal fsync failed", extra=log_fields(segment=self._seg, error=str(exc)))
        os.close(self._fd)
        self._fd = None
        self._dirty = False
        self._fresh_needed = True
        self._written_series = set()
        self.epoch += 1

    def remove_upto(self, seg: int) -> None:
        for s in self.segments():
            if s <= seg and not (s == self._seg and self._fd is not None):
                os.unlink(self._path(s))
        _fsync_dir(self.dir)

    def size_bytes(self) -> int:
        total = 0
        for s in self.segments():
            try:
                total += os.path.getsize(self._path(s))
            except FileNotFoundError:
                continue
        return total

    def _fsync_locked(self) -> None:
        if self._fd is None or not self._dirty:
            return
        t0 = time.perf_counter()
        os.fsync(self._fd)
        self.fsync_seconds_total += time.perf_counter() - t0
        self.fsync_count += 1
        self._dirty = False

    def _fsync_loop(self) -> None:
        while not self._stop.wait(self.fsync_interval):
            with self._lock:
                try:
                    self._fsync_locked()
                except OSError as exc:
                    # Acknowledged data may not be durable; stop writing into this segment so
                    # the next append starts a fresh one, as after a failed write.
                    self.write_failures += 1
                    self._fresh_needed = True
                    log.error("wal fsync failed", extra=log_fields(segment=self._seg, error=str(exc)))

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._dirty = True
            self._close_locked()


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        return
