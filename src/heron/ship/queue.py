"""A durable, bounded, on-disk FIFO queue between the agent's log readers and its shipper.

The agent reads log lines faster than the network may take them, and it can be killed at any
moment. Everything read is therefore put into this queue first; the shipper sends the oldest
record and acknowledges it only after the server accepted it. Delivery is at-least-once: after a
crash every record after the last persisted acknowledgement is delivered again (the storage's
duplicate check removes the repeats), and nothing that `put` returned for is ever lost.

Records are opaque bytes (the caller stores an encoded push body together with the checkpoint
advance it implies) framed with a length, a CRC-32 and a sequence number, appended to segment
files. Acknowledgement is cumulative and kept in a small `ack` file replaced atomically; segments
whose records are all acknowledged are deleted. Nothing but the segment list and one peeked
record is held in memory, so the queue may be far larger than RAM allows.

The queue is bounded by `max_bytes` of unacknowledged record bytes, but softly: `put` never
refuses (refusing would drop data the reader already holds), and `full` tells the reader to
stop reading until acknowledgements make room (backpressure). The byte layout is in
docs/format/agent-state.md.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import struct
import threading
import zlib
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

from heron.logsetup import log_fields

__all__ = ["DurableQueue", "FsyncPolicy", "MAX_PAYLOAD", "HEADER_SIZE"]

log = logging.getLogger("heron.agent.queue")

FsyncPolicy = Literal["never", "always"]

# Record header: payload length, crc32(seq bytes + payload), seq. The seq inside each record
# catches a segment file renamed or copied to the wrong place, not only bit flips.
_HEADER = struct.Struct("<IIQ")
HEADER_SIZE = _HEADER.size
MAX_PAYLOAD = 1 << 30

# The ack file: magic, last acknowledged seq, crc32 of the first 12 bytes.
_ACK = struct.Struct("<4sQI")
_ACK_MAGIC = b"HQA1"
_ACK_NAME = "ack"
_ACK_TMP = "ack.tmp"
_SEGMENT_RE = re.compile(r"^(\d{20})\.seg$")


def _segment_name(base: int) -> str:
    return f"{base:020d}.seg"


@dataclass(eq=False)
class _Segment:
    """One segment file: records with consecutive seqs starting at `base`."""

    base: int
    path: str
    size: int  # bytes of valid records: the read limit
    next_seq: int  # the seq after the last valid record; == base when empty


class _BadRecord(Exception):
    """A record that cannot be trusted; the message says why."""


def _pread_exact(fd: int, size: int, offset: int) -> bytes:
    chunks: list[bytes] = []
    got = 0
    while got < size:
        chunk = os.pread(fd, size - got, offset + got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _read_record(fd: int, offset: int, limit: int, expect_seq: int) -> tuple[int, bytes, int]:
    """The record at `offset` as (seq, payload, record size), or `_BadRecord`."""
    if offset + HEADER_SIZE > limit:
        raise _BadRecord("header runs past the end")
    header = _pread_exact(fd, HEADER_SIZE, offset)
    if len(header) < HEADER_SIZE:
        raise _BadRecord("header runs past the end of the file")
    length, crc, seq = _HEADER.unpack(header)
    if length > MAX_PAYLOAD:
        raise _BadRecord(f"length {length} exceeds 2^30")
    if offset + HEADER_SIZE + length > limit:
        raise _BadRecord("payload runs past the end")
    payload = _pread_exact(fd, length, offset + HEADER_SIZE)
    if len(payload) < length:
        raise _BadRecord("payload runs past the end of the file")
    if zlib.crc32(payload, zlib.crc32(header[8:])) != crc:
        raise _BadRecord("CRC mismatch")
    if seq != expect_seq:
        raise _BadRecord(f"sequence {seq}, expected {expect_seq}")
    return seq, payload, HEADER_SIZE + length


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(errno.EIO, f"write(2) returned {n} with {len(view)} bytes left")
        view = view[n:]


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DurableQueue:
    """FIFO of opaque byte records in `directory`, bounded (softly) by `max_bytes` unacknowledged.

    - `put(payload) -> seq` appends a record and returns once it is written to the OS: a
      `kill -9` after that loses nothing. With `fsync="always"` it is also fsynced, so power
      loss loses nothing either; with `"never"` (the default) power loss may lose recent puts.
    - `peek()` is the oldest unacknowledged record, the same one until it is acknowledged.
    - `ack(seq)` acknowledges every record up to and including `seq` and persists that
      atomically before returning; a reopened queue starts after it. Records after it are
      delivered again (at-least-once).

    Damage found on open (a torn tail from a crash mid-`put`, a bit flip) cuts the segment at
    the first bad record with a warning, and the rest of that segment is skipped: framing after
    a bad length cannot be trusted, and later segments are self-contained. Damage found while
    reading skips the rest of the segment the same way. A new process never appends to a
    segment it found on disk; it starts a fresh one.

    Safe to share between a reader thread (`put`, `full`) and a shipper thread (`peek`, `ack`).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        max_bytes: int,
        *,
        segment_bytes: int = 8 << 20,
        fsync: FsyncPolicy = "never",
    ) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        if segment_bytes <= 0:
            raise ValueError(f"segment_bytes must be positive, got {segment_bytes}")
        if fsync not in ("never", "always"):
            raise ValueError(f"fsync must be 'never' or 'always', got {fsync!r}")
        self.directory = os.fspath(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.fsync: FsyncPolicy = fsync
        self._lock = threading.Lock()
        self._closed = False
        # Segments in seq order. The read cursor is always inside _segments[0]: earlier ones are
        # deleted as soon as the cursor leaves them.
        self._segments: list[_Segment] = []
        self._active: _Segment | None = None  # the segment put() appends to: _segments[-1] or None
        self._wfd: int | None = None
        self._rfd: int | None = None
        self._rfd_segment: _Segment | None = None
        self._cur_off = 0  # byte offset of the first unacknowledged record in _segments[0]
        self._cur_seq = 0  # its seq
        self._peeked: tuple[int, bytes, int] | None = None  # (seq, payload, size) at the cursor
        self._acked = 0
        self._next_seq = 1
        self._unacked_bytes = 0
        os.makedirs(self.directory, exist_ok=True)
        self._open()

    # -- public API ---------------------------------------------------------------------------

    @property
    def full(self) -> bool:
        """True while unacknowledged record bytes reach `max_bytes`: the reader should pause."""
        with self._lock:
            return self._unacked_bytes >= self.max_bytes

    @property
    def unacked_bytes(self) -> int:
        """Bytes (headers included) of records put and not yet acknowledged or skipped."""
        with self._lock:
            return self._unacked_bytes

    @property
    def acked_seq(self) -> int:
        """The last acknowledged seq (0 before any); persisted, so it survives a reopen."""
        with self._lock:
            return self._acked

    def put(self, payload: bytes) -> int:
        """Append `payload` and return its seq (1, 2, 3, ... and never reused within a directory).

        Never refuses because the queue is full: the caller already holds the data, and
        dropping it is the one thing the queue must not do. Check `full` before reading more.
        """
        if len(payload) > MAX_PAYLOAD:
            raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
        with self._lock:
            self._check_open()
            if self._active is not None and self._active.size >= self.segment_bytes:
                self._seal()
                self._settle()
            if self._active is None:
                self._start_segment()
            active, wfd = self._active, self._wfd
            assert active is not None and wfd is not None
            seq = self._next_seq
            header = _HEADER.pack(
                len(payload), zlib.crc32(payload, zlib.crc32(seq.to_bytes(8, "little"))), seq
            )
            try:
                _write_all(wfd, header + payload)
                if self.fsync == "always":
                    os.fsync(wfd)
            except OSError:
                # Cut the partial record so the segment stays well-framed; if even that fails,
                # stop appending to this segment (open() would cut it as a torn tail).
                try:
                    os.ftruncate(wfd, active.size)
                except OSError:
                    self._seal()
                raise
            size = HEADER_SIZE + len(payload)
            active.size += size
            active.next_seq = seq + 1
            self._next_seq = seq + 1
            self._unacked_bytes += size
            return seq

    def peek(self) -> tuple[int, bytes] | None:
        """The oldest unacknowledged record as (seq, payload), or None when all are acknowledged."""
        with self._lock:
            self._check_open()
            while True:
                self._settle()
                if not self._segments:
                    return None
                if self._peeked is not None:
                    return self._peeked[0], self._peeked[1]
                segment = self._segments[0]
                if self._cur_off >= segment.size:
                    return None  # the cursor is at the end of the active segment
                try:
                    self._peeked = _read_record(
                        self._read_fd(segment), self._cur_off, segment.size, self._cur_seq
                    )
                except _BadRecord as e:
                    self._skip_rest(segment, str(e))

    def ack(self, seq: int) -> None:
        """Acknowledge every record up to and including `seq`, durably, and delete spent segments.

        Acknowledging a seq at or below the last acknowledged one does nothing. The ack file is
        replaced before anything is deleted, so a crash in between re-delivers nothing acked.
        """
        with self._lock:
            self._check_open()
            if seq <= self._acked:
                return
            if seq >= self._next_seq:
                raise ValueError(f"cannot acknowledge seq {seq}: the last put was {self._next_seq - 1}")
            self._write_ack(seq)
            self._acked = seq
            self._advance_past(seq)

    def close(self) -> None:
        """Release file descriptors. Everything put is already in the OS; nothing else to flush."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._seal()
            self._close_read_fd()

    def __enter__(self) -> DurableQueue:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- opening --------------------------------------------------------------------------------

    def _open(self) -> None:
        acked = self._read_ack()
        found: list[tuple[int, str]] = []
        for name in sorted(os.listdir(self.directory)):
            match = _SEGMENT_RE.match(name)
            if match:
                found.append((int(match[1]), os.path.join(self.directory, name)))
            elif name == _ACK_TMP:
                os.unlink(os.path.join(self.directory, name))  # a crash mid-ack; the old ack stands
            elif name != _ACK_NAME:
                log.warning(
                    "ignoring unexpected file in queue dir", extra=log_fields(dir=self.directory, file=name)
                )
        for base, path in found:
            if self._segments and base < self._segments[-1].next_seq:
                log.warning(
                    "ignoring queue segment that overlaps the previous one",
                    extra=log_fields(segment=path, base=base, previous_end=self._segments[-1].next_seq),
                )
                continue
            self._segments.append(self._scan(base, path))
        if acked is None:
            # No (valid) ack file: everything still on disk counts as unacknowledged.
            acked = self._segments[0].base - 1 if self._segments else 0
        self._acked = acked
        self._next_seq = max(self._segments[-1].next_seq if self._segments else 1, acked + 1)
        self._unacked_bytes = sum(s.size for s in self._segments)
        if self._segments:
            self._cur_off, self._cur_seq = 0, self._segments[0].base
        self._advance_past(acked)
        if self._segments or acked:
            log.info(
                "queue opened",
                extra=log_fields(
                    dir=self.directory,
                    segments=len(self._segments),
                    acked_seq=acked,
                    next_seq=self._next_seq,
                    unacked_bytes=self._unacked_bytes,
                ),
            )

    def _scan(self, base: int, path: str) -> _Segment:
        """Validate every record of a segment found on disk; cut it at the first bad one."""
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            file_size = os.fstat(fd).st_size
            offset, seq = 0, base
            reason = ""
            while offset < file_size:
                try:
                    _, _, size = _read_record(fd, offset, file_size, seq)
                except _BadRecord as e:
                    reason = str(e)
                    break
                offset += size
                seq += 1
        finally:
            os.close(fd)
        if offset < file_size:
            log.warning(
                "queue segment damaged; cutting it at the first bad record, the rest of it is lost",
                extra=log_fields(
                    segment=path, offset=offset, seq=seq, reason=reason, cut_bytes=file_size - offset
                ),
            )
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.ftruncate(fd, offset)
                os.fsync(fd)
            finally:
                os.close(fd)
        return _Segment(base, path, offset, seq)

    # -- the ack file ---------------------------------------------------------------------------

    def _read_ack(self) -> int | None:
        path = os.path.join(self.directory, _ACK_NAME)
        try:
            with open(path, "rb") as f:
                raw = f.read(_ACK.size + 1)
        except FileNotFoundError:
            return None
        if len(raw) == _ACK.size:
            magic, seq, crc = _ACK.unpack(raw)
            if magic == _ACK_MAGIC and zlib.crc32(raw[:12]) == crc:
                return int(seq)
        log.warning(
            "queue ack file is corrupt; re-delivering every record still on disk",
            extra=log_fields(path=path, bytes=len(raw)),
        )
        return None

    def _write_ack(self, seq: int) -> None:
        head = struct.pack("<4sQ", _ACK_MAGIC, seq)
        data = head + zlib.crc32(head).to_bytes(4, "little")
        tmp = os.path.join(self.directory, _ACK_TMP)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            try:
                _write_all(fd, data)
                if self.fsync == "always":
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, os.path.join(self.directory, _ACK_NAME))
        except BaseException:
            # A full disk: the old ack stands (the caller raises, nothing is deleted) and the
            # partial temp file goes, so its space comes back for the next try.
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        if self.fsync == "always":
            _fsync_dir(self.directory)

    # -- cursor and segments --------------------------------------------------------------------

    def _advance_past(self, seq: int) -> None:
        """Move the cursor past every record <= `seq` (already persisted as acknowledged)."""
        while self._segments:
            segment = self._segments[0]
            if segment is not self._active and segment.next_seq - 1 <= seq:
                self._unacked_bytes -= segment.size - self._cur_off
                self._cur_off = segment.size
                self._pop_front()
                continue
            while self._cur_off < segment.size and self._cur_seq <= seq:
                if self._peeked is not None:
                    size = self._peeked[2]
                else:
                    try:
                        _, _, size = _read_record(
                            self._read_fd(segment), self._cur_off, segment.size, self._cur_seq
                        )
                    except _BadRecord as e:
                        self._skip_rest(segment, str(e))
                        break
                self._peeked = None
                self._cur_off += size
                self._cur_seq += 1
                self._unacked_bytes -= size
            if self._cur_off >= segment.size and segment is not self._active:
                self._pop_front()
                continue
            return

    def _settle(self) -> None:
        """Delete sealed segments the cursor has reached the end of: all their records are spent."""
        while self._segments and self._segments[0] is not self._active:
            if self._cur_off < self._segments[0].size:
                return
            self._pop_front()

    def _pop_front(self) -> None:
        segment = self._segments.pop(0)
        if self._rfd_segment is segment:
            self._close_read_fd()
        try:
            os.unlink(segment.path)
        except FileNotFoundError:
            pass
        self._peeked = None
        self._cur_off = 0
        if self._segments:
            self._cur_seq = self._segments[0].base

    def _skip_rest(self, segment: _Segment, reason: str) -> None:
        """Give up on the records from the cursor to the end of `segment` (it is damaged)."""
        log.warning(
            "queue record damaged; skipping the rest of its segment",
            extra=log_fields(
                segment=segment.path,
                offset=self._cur_off,
                seq=self._cur_seq,
                reason=reason,
                skipped_bytes=segment.size - self._cur_off,
            ),
        )
        self._unacked_bytes -= segment.size - self._cur_off
        segment.size = self._cur_off
        segment.next_seq = self._cur_seq
        self._peeked = None
        if segment is self._active:
            self._seal()  # appending after a cut would misplace the file's real end

    def _start_segment(self) -> None:
        base = self._next_seq
        path = os.path.join(self.directory, _segment_name(base))
        # O_TRUNC, not O_EXCL: a leftover file of this name holds no valid records (or open()
        # would have counted them into _next_seq).
        wfd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC, 0o644)
        if self.fsync == "always":
            try:
                _fsync_dir(self.directory)
            except OSError:
                os.close(wfd)
                with contextlib.suppress(OSError):
                    os.unlink(path)
                raise
        self._wfd = wfd
        segment = _Segment(base, path, 0, base)
        if not self._segments:
            self._cur_off, self._cur_seq = 0, base
        self._segments.append(segment)
        self._active = segment

    def _seal(self) -> None:
        if self._wfd is not None:
            os.close(self._wfd)
        self._wfd = None
        self._active = None

    def _read_fd(self, segment: _Segment) -> int:
        if self._rfd_segment is not segment:
            self._close_read_fd()
            self._rfd = os.open(segment.path, os.O_RDONLY | os.O_CLOEXEC)
            self._rfd_segment = segment
        assert self._rfd is not None
        return self._rfd

    def _close_read_fd(self) -> None:
        if self._rfd is not None:
            os.close(self._rfd)
        self._rfd = None
        self._rfd_segment = None

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("queue is closed")
