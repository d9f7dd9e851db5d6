"""The storage facade: one writer, snapshot readers, WAL -> head -> blocks, retention.

Layout of a data directory:
    LOCK          flock'd while a process has the database open
    wal/          segment files (docs/format/wal.md)
    blocks/<id>/  immutable blocks (docs/format/block.md)
    quarantine/   blocks that failed a checksum, moved aside for a human to inspect
Anything else there (e.g. `lost+found`) is left alone with a warning.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from heron.logsetup import log_fields
from heron.model import (
    Labels,
    Matcher,
    SeriesKind,
)
from heron.storage import wal as walmod
from heron.storage.append_checks import AppendChecks, _Txn
from heron.storage.block import Block
from heron.storage.compact import merge_blocks, plan_compaction, write_head
from heron.storage.head import Head, HeadSeries
from heron.storage.metric_head import _unique
from heron.storage.read import Snapshot
from heron.storage.series_slots import MetricSlots, _Newest
from heron.storage.types import (
    AppendResult,
    CorruptionError,
    Direction,
    DiskFullError,
    FsyncMode,
    LogBatch,
    LogEntries,
    SampleBatch,
    SampleColumns,
    SeriesInfo,
    StorageError,
    StorageOptions,
    StorageWriteError,
)

__all__ = ["Database"]

log = logging.getLogger("heron.storage")

_INT64_MIN = int(np.iinfo(np.int64).min)
_KNOWN_ENTRIES = {"LOCK", "wal", "blocks", "quarantine"}
# After a head cut failed (the disk is full), appends wait this long before trying again, so a
# full disk does not cost a block write attempt per push.
_CUT_RETRY_SECONDS = 10.0


@dataclass
class _State:
    """What a reader sees: immutable tuples swapped whole by the writer."""

    heads: tuple[Head, ...]
    blocks: tuple[Block, ...]


@dataclass
class Counters:
    """Monotonic counters exported by the server's /metrics."""

    log_entries: int = 0
    log_bytes: int = 0
    samples: int = 0
    duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    head_cuts: int = 0
    compactions: int = 0
    retention_dropped_blocks: int = 0
    quarantined_blocks: int = 0
    head_cut_failures: int = 0
    compaction_failures: int = 0


class Database(AppendChecks, MetricSlots):
    """Open with `Database.open(path, options)`; every method is thread-safe."""

    def __init__(self, path: str, options: StorageOptions, *, background: bool = True):
        self.path = os.path.abspath(path)
        self.options = options
        self.counters = Counters()
        self._write_lock = threading.Lock()
        self._maint_lock = threading.Lock()
        self._closed = False
        self._lock_fd: int | None = None
        # Log streams: newest timestamp across head and blocks, labels (fingerprint collisions),
        # and a cache of label sets already validated and hashed. Metric series keep the same
        # facts in the head's MetricStore columns, and in _metric_prev once they left the head.
        self._series_max: dict[int, int] = {}
        self._series_labels: dict[int, tuple[SeriesKind, Labels]] = {}
        self._label_cache: dict[tuple[SeriesKind, Labels], tuple[int, Labels]] = {}
        self._names_ok: dict[SeriesKind, set[str]] = {SeriesKind.LOG: set(), SeriesKind.METRIC: set()}
        self._metric_prev = _Newest()
        self._generation = 0  # of the current head; series refs carry it
        self._cut_retry_at = 0.0  # time.monotonic() before which a failed head cut is not retried
        self._head = Head()
        self._state = _State((self._head,), ())
        self._wal: walmod.WAL | None = None
        self._stop = threading.Event()
        self._maint_thread: threading.Thread | None = None
        self._background = background

    # ------------------------------------------------------------------------------------
    # opening and closing
    @classmethod
    def open(cls, path: str, options: StorageOptions | None = None, *, background: bool = True) -> "Database":
        db = cls(path, options or StorageOptions(), background=background)
        try:
            db._open()
        except BaseException:
            db._release_lock()
            raise
        return db

    def _open(self) -> None:
        os.makedirs(self.path, exist_ok=True)
        self._lock_fd = os.open(os.path.join(self.path, "LOCK"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StorageError(f"data directory {self.path} is in use by another process") from None
        for name in sorted(os.listdir(self.path)):
            if name not in _KNOWN_ENTRIES:
                log.warning("ignoring foreign entry in data directory", extra=log_fields(name=name))
        blocks_dir = os.path.join(self.path, "blocks")
        os.makedirs(blocks_dir, exist_ok=True)
        blocks = self._load_blocks(blocks_dir)
        mfps: list[int] = []
        mmax: list[int] = []
        for b in blocks:
            for s in b.series.values():
                if s.kind is SeriesKind.METRIC:
                    mfps.append(s.fp)
                    mmax.append(s.max_t)
                elif s.max_t > self._series_max.get(s.fp, _INT64_MIN):
                    self._series_max[s.fp] = s.max_t
        self._metric_prev = _Newest().merged(
            np.array(mfps, dtype=np.uint64), np.array(mmax, dtype=np.int64), _INT64_MIN
        )
        self._state = _State((self._head,), tuple(blocks))
        o = self.options
        self._wal = walmod.WAL(
            os.path.join(self.path, "wal"),
            segment_bytes=o.wal_segment_bytes,
            fsync_always=o.fsync is FsyncMode.ALWAYS,
            fsync_interval=o.fsync_interval,
        )
        self._replay(max((b.wal_upto for b in blocks), default=0))
        self._wal.open_for_append()
        if self._background:
            self._maint_thread = threading.Thread(target=self._maintain, name="heron-storage", daemon=True)
            self._maint_thread.start()

    def _load_blocks(self, blocks_dir: str) -> list[Block]:
        blocks: list[Block] = []
        for name in sorted(os.listdir(blocks_dir)):
            full = os.path.join(blocks_dir, name)
            if name.endswith(".tmp"):
                log.warning("removing incomplete block", extra=log_fields(block=name))
                shutil.rmtree(full, ignore_errors=True)
                continue
            if not (len(name) == 20 and all(c in "0123456789abcdef" for c in name)) or not os.path.isdir(
                full
            ):
                log.warning("ignoring foreign entry in blocks directory", extra=log_fields(name=name))
                continue
            try:
                blocks.append(Block.open(full))
            except CorruptionError as exc:
                self._move_to_quarantine(full, str(exc))
        # A compaction that crashed after publishing its result leaves its sources behind.
        replaced = {src for b in blocks for src in b.meta.get("sources", [])}
        kept = []
        for b in blocks:
            if b.id in replaced:
                log.info("removing block already merged by compaction", extra=log_fields(block=b.id))
                b.close()
                shutil.rmtree(b.path, ignore_errors=True)
            else:
                kept.append(b)
        return kept

    def _move_to_quarantine(self, block_path: str, reason: str) -> None:
        qdir = os.path.join(self.path, "quarantine")
        os.makedirs(qdir, exist_ok=True)
        dest = os.path.join(qdir, os.path.basename(block_path))
        if os.path.exists(dest):
            dest += f".{int(time.time())}"
        log.error(
            "block failed its checksum; moved to quarantine",
            extra=log_fields(block=os.path.basename(block_path), reason=reason, moved_to=dest),
        )
        os.rename(block_path, dest)
        self.counters.quarantined_blocks += 1

    def _replay(self, after_segment: int) -> None:
        assert self._wal is not None
        t0 = time.perf_counter()
        n_records = 0
        head = self._head
        known: dict[int, tuple[SeriesKind, Labels]] = {}
        for rec in self._wal.replay(after_segment):
            n_records += 1
            if isinstance(rec, walmod.WalSeries):
                known[rec.fp] = (rec.kind, rec.labels)
                continue
            if isinstance(rec, walmod.WalSampleColumns):
                self._replay_columns(rec, known)
                continue
            kl = known.get(rec.fp)
            if kl is None:
                log.warning("wal data record for unknown series skipped", extra=log_fields(fp=rec.fp))
                continue
            if isinstance(rec, walmod.WalLogs):
                s = head.get_or_create(rec.fp, kl[1], kl[0])
                assert isinstance(s, HeadSeries)
                self._series_labels[rec.fp] = kl
                head.bytes += s.append_logs(rec.timestamps, rec.lens, rec.data, rec.meta_lens, rec.meta)
                lo, hi = int(rec.timestamps.min()), int(rec.timestamps.max())
                head.note_range(lo, hi, len(rec.timestamps))
                if hi > self._series_max.get(rec.fp, _INT64_MIN):
                    self._series_max[rec.fp] = hi
            else:
                n = len(rec.timestamps)
                fps = np.full(n, rec.fp, dtype=np.uint64)
                if head.append_columns(fps, rec.timestamps, rec.values, known, self._metric_prev.get):
                    log.warning("wal data record for unknown series skipped", extra=log_fields(fp=rec.fp))
        head.bytes += head.metrics.fold()
        log.info(
            "wal replayed",
            extra=log_fields(
                records=n_records, series=len(head.series), seconds=round(time.perf_counter() - t0, 3)
            ),
        )

    def _replay_columns(
        self, rec: walmod.WalSampleColumns, known: dict[int, tuple[SeriesKind, Labels]]
    ) -> None:
        skipped = self._head.append_columns(rec.fps, rec.timestamps, rec.values, known, self._metric_prev.get)
        if skipped:
            log.warning("wal data records for unknown series skipped", extra=log_fields(samples=skipped))

    def close(self) -> None:
        """Stop background work and close the WAL; the head is rebuilt from it on next open."""
        if self._closed:
            return
        self._stop.set()
        if self._maint_thread is not None:
            self._maint_thread.join()
        with self._maint_lock, self._write_lock:
            self._closed = True
            if self._wal is not None:
                self._wal.close()
            for b in self._state.blocks:
                b.close()
        self._release_lock()

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------
    # writing
    def append(
        self,
        logs: Sequence[LogBatch] = (),
        samples: Sequence[SampleBatch] = (),
        columns: SampleColumns | None = None,
    ) -> AppendResult:
        """Store a batch across many series. Returns after the accepted part is in the WAL.

        Entries that break a limit are refused one by one and the rest is kept, as Loki does.
        An entry identical to one already in the head is acknowledged but stored once.
        Nothing reaches the head before the WAL write succeeded.
        """
        with self._write_lock:
            if self._closed:
                raise StorageError("database is closed")
            assert self._wal is not None
            try:
                # After a failed write the WAL needs a fresh segment before records are encoded,
                # because which series records an append carries depends on the segment.
                self._wal.prepare()
            except OSError as exc:
                raise self._write_error("opening a WAL segment", exc) from exc
            txn = _Txn()
            for lb in logs:
                self._prepare_logs(lb, txn)
            for sb in samples:
                self._prepare_samples(sb, txn)
            fast = self._prepare_columns(columns, txn) if columns is not None else None
            try:
                self._wal.write(b"".join(txn.blobs), txn.wal_log_series, txn.n_series)
            except OSError as exc:
                raise self._write_error("writing the WAL", exc) from exc
            if txn.wal_metric_slots:
                store = self._head.metrics
                store.cols.wal_epoch[np.array(txn.wal_metric_slots, dtype=np.int64)] = self._wal.epoch
            self._apply(txn)
            if fast is not None:
                self._apply_columns(*fast)
            if self._head_full() and time.monotonic() >= self._cut_retry_at:
                # The entries are in the WAL already: a cut that fails is retried later and
                # must not turn this acknowledged append into an error.
                self._cut_head_or_retry_later()
            elif self._wal.current_size >= self.options.wal_segment_bytes:
                # A long-lived head still gets bounded segment files; every segment starts
                # with fresh series records (the WAL's epoch tells the metric columns).
                self._wal.rotate()
        return txn.result

    def series_refs(self, labels: Sequence[Labels]) -> np.ndarray:
        """Refs (int64) for label sets, made in the head when new: pass them back as
        `SampleColumns.refs` beside the same labels and a scrape skips hashing its label sets.

        A ref stays usable across head cuts: a stale one is noticed and resolved from its
        labels again (at the labels path's cost), so callers may keep refs as long as they
        like and refresh them when `series_refs` is cheap for them. -1 marks a label set the
        database refuses (invalid, or over the series limit); appending it reports why.

        A series made here exists in the head before it has samples (its labels show in
        label-name and label-value lists); one that never gets any is gone after the next
        head cut, as in Prometheus' head.
        """
        with self._write_lock:
            if self._closed:
                raise StorageError("database is closed")
            store = self._head.metrics
            slots = self._slots_for(labels, None, store)
            return np.where(slots >= 0, (store.generation << 32) | slots, -1)

    def wal_position(self) -> tuple[int, int]:
        """The WAL's committed end (segment number, bytes): see `WAL.committed`."""
        assert self._wal is not None
        return self._wal.committed

    def _write_error(self, what: str, exc: OSError) -> StorageWriteError:
        """The named error for a failed write, with the data dir and its free space in the message."""
        free = free_bytes(self.path)
        room = "unknown" if free is None else str(free)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return DiskFullError(
                f"disk full: {what} failed ({exc.strerror}); data dir {self.path} has {room} bytes free",
                path=self.path,
                free_bytes=free,
            )
        return StorageWriteError(
            f"{what} failed: {exc}; data dir {self.path} has {room} bytes free",
            path=self.path,
            free_bytes=free,
        )

    def _prepare_columns(
        self, cols: SampleColumns, txn: "_Txn"
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Split a scrape into samples that can take the fast path (series that exist, each
        once, newer than its newest sample) and the rest, which go through the general checks
        one sample at a time. The fast part is a few numpy operations and one WAL record of
        three arrays; it returns (slots, ts, values) for `_apply_columns`."""
        n = len(cols.labels)
        if len(cols.timestamps) != n or len(cols.values) != n:
            raise StorageError("sample columns differ in length")
        if cols.refs is not None and len(cols.refs) != n:
            raise StorageError("sample columns: refs and labels differ in length")
        if n == 0:
            return None
        try:
            ts = np.ascontiguousarray(cols.timestamps, dtype=np.int64).reshape(n)
            vals = np.ascontiguousarray(cols.values, dtype=np.float64).reshape(n)
        except (TypeError, ValueError, OverflowError) as exc:
            raise StorageError(
                f"sample columns: timestamps must be integers and values floats ({exc})"
            ) from None
        assert self._wal is not None
        store = self._head.metrics
        slots = self._slots_for(cols.labels, cols.refs, store)
        c = store.cols
        oldest = int(time.time() * 1000) - int(self.options.retention_seconds * 1000)
        known = slots >= 0
        safe = np.where(known, slots, 0)
        fast = known & (ts > c.newest[safe]) & (ts >= oldest)
        fs = slots[fast]
        if not _unique(c.mark, fs):
            # A series given more than once goes the general way, all of its samples in order.
            c.mark[fs] = np.arange(len(fs), dtype=np.int32)
            first = c.mark[fs] == np.arange(len(fs), dtype=np.int32)
            fast &= ~np.isin(slots, fs[~first])
            fs = slots[fast]
        if len(fs) < n:
            for i in np.nonzero(~fast)[0].tolist():
                self._prepare_samples(SampleBatch(cols.labels[i], ts[i : i + 1], vals[i : i + 1]), txn)
        if not len(fs):
            return None
        fts, fvals = (ts, vals) if len(fs) == n else (ts[fast], vals[fast])
        c = store.cols  # the general path above may have grown the columns
        pending, store.pending_text = store.pending_text, None
        need = c.wal_epoch[fs] != self._wal.epoch
        if bool(need.any()):
            # Series not defined in this segment yet, minus those the general path just queued
            # (they have their ordinal): one compressed batch defines them all.
            new = fs[need]
            if txn.wal_series:
                queued = np.fromiter(txn.wal_series, dtype=np.uint64, count=len(txn.wal_series))
                new = new[~np.isin(c.fps[new], queued)]
            if len(new):
                ords = self._wal.series_count + txn.n_series + np.arange(len(new), dtype=np.int64)
                c.wal_ord[new] = ords
                kinds = np.full(len(new), int(SeriesKind.METRIC), dtype=np.uint8)
                labels = [store.labels[slot] for slot in new.tolist()]
                text = None
                if pending is not None and pending[:2] == (int(new[0]), len(new)):
                    if bool((new[1:] - new[:-1] == 1).all()):  # exactly the slots it was made for
                        text = (pending[2], pending[3])
                txn.blobs.append(walmod.encode_series_batch(c.fps[new], kinds, labels, text))
                txn.n_series += len(new)
                txn.wal_series.update(c.fps[new].tolist())
                txn.wal_metric_slots.extend(new.tolist())
        txn.blobs.append(walmod.encode_sample_refs(c.wal_ord[fs], fts, fvals))
        txn.result.accepted += len(fs)
        return fs, fts, fvals

    def _apply_columns(self, slots: np.ndarray, ts: np.ndarray, vals: np.ndarray) -> None:
        head = self._head
        head.bytes += head.metrics.stage(slots, ts, vals)
        head.note_range(int(ts.min()) * 1_000_000, int(ts.max()) * 1_000_000, len(ts))
        self.counters.samples += len(ts)

    def _apply(self, txn: "_Txn") -> None:
        head = self._head
        for fp, series in txn.created.items():
            head.logs[fp] = series
            head.postings[series.kind].add(fp, series.labels)
            head.bytes += 200 + sum(len(k) + len(v) for k, v in series.labels)
            self._series_labels[fp] = (series.kind, series.labels)
        c = self.counters
        for series, args in txn.applies:
            if isinstance(series, HeadSeries):
                ts, lens, data, mlens, meta, sorted_range = args
                head.bytes += series.append_logs(ts, lens, data, mlens, meta, sorted_range)
                lo, hi = sorted_range if sorted_range is not None else (int(ts.min()), int(ts.max()))
                head.note_range(lo, hi, len(ts))
                c.log_entries += len(ts)
                c.log_bytes += len(data)
                if hi > self._series_max.get(series.fp, _INT64_MIN):
                    self._series_max[series.fp] = hi
            else:
                ts, vals = args
                head.bytes += series.append_samples(ts, vals)
                lo, hi = int(ts.min()), int(ts.max())
                head.note_range(lo * 1_000_000, hi * 1_000_000, len(ts))
                c.samples += len(ts)
        if head.metrics.fold_due():
            head.bytes += head.metrics.fold()
        c.duplicates += txn.result.duplicates
        for r in txn.result.rejected:
            c.rejected[r.reason.value] = c.rejected.get(r.reason.value, 0) + r.count

    def _head_full(self) -> bool:
        h = self._head
        if h.bytes >= self.options.head_max_bytes:
            return True
        return h.entries > 0 and (h.max_ns - h.min_ns) >= self.options.block_duration_seconds * 1e9

    # ------------------------------------------------------------------------------------
    # head cut, compaction, retention
    def flush(self) -> None:
        """Persist the head into a block now (normally done when it is full or spans too long)."""
        with self._write_lock:
            if self._closed:
                raise StorageError("database is closed")
            if self._head.series:
                try:
                    self._cut_head_locked()
                except OSError as exc:
                    raise self._write_error("writing a block", exc) from exc

    def _cut_head_or_retry_later(self) -> None:
        """Cut the head; if that fails (a full disk), log it and let appends retry only after
        `_CUT_RETRY_SECONDS`, so a disk that stays full costs one block write attempt per
        interval, not one per push. The head and its WAL segments stay as they were."""
        try:
            self._cut_head_locked()
        except (OSError, StorageError) as exc:
            self.counters.head_cut_failures += 1
            self._cut_retry_at = time.monotonic() + _CUT_RETRY_SECONDS
            log.error(
                "persisting the head failed; it stays in memory and in the WAL, retrying later",
                extra=log_fields(
                    error=str(exc), retry_in=_CUT_RETRY_SECONDS, free_bytes=free_bytes(self.path)
                ),
            )

    def _cut_head_locked(self) -> None:
        """Persist the head into a block and drop the WAL segments it covers.

        If the block cannot be written, the head is put back as it was (nothing was appended
        meanwhile: the write lock is held) and its segments are kept, so nothing is lost; the
        next cut writes all of it, with a `wal_upto` that covers every segment it came from.
        """
        assert self._wal is not None
        t0 = time.perf_counter()
        seg = self._wal.rotate()
        frozen = self._head
        # Series that go on in the next head start from the newest timestamp this one saw.
        prev_before = self._metric_prev
        m = frozen.metrics
        horizon_ms = (time.time_ns() - int(self.options.ooo_window_seconds * 1e9) * 2) // 1_000_000
        self._metric_prev = prev_before.merged(m.cols.fps[: m.n], m.cols.newest[: m.n], horizon_ms)
        self._generation += 1
        self._head = Head(self._generation)
        self._state = _State((self._head, frozen), self._state.blocks)
        try:
            block = write_head(frozen, os.path.join(self.path, "blocks"), wal_upto=seg)
        except BaseException:
            self._head = frozen
            self._metric_prev = prev_before
            self._state = _State((frozen,), self._state.blocks)
            raise
        self._cut_retry_at = 0.0
        blocks = self._state.blocks + ((block,) if block is not None else ())
        self._state = _State((self._head,), blocks)
        try:
            self._wal.remove_upto(seg)
        except OSError as exc:
            # The block holds their data and its wal_upto makes replay skip them; the next
            # cut deletes them.
            log.warning("old wal segments not deleted yet", extra=log_fields(upto=seg, error=str(exc)))
        self.counters.head_cuts += 1
        # Forget the newest-timestamp of series that fell out of the out-of-order window.
        horizon_ns = time.time_ns() - int(self.options.ooo_window_seconds * 1e9) * 2
        for fp, (kind, _) in list(self._series_labels.items()):
            t = self._series_max.get(fp, _INT64_MIN)
            if (t if kind is SeriesKind.LOG else t * 1_000_000) < horizon_ns:
                self._series_labels.pop(fp, None)
                self._series_max.pop(fp, None)
        log.info(
            "head persisted",
            extra=log_fields(
                block=block.id if block else None,
                series=len(frozen.series),
                entries=frozen.entries,
                seconds=round(time.perf_counter() - t0, 3),
            ),
        )

    def compact(self) -> int:
        """Merge groups of small blocks; returns the number of merges done."""
        merges = 0
        with self._maint_lock:
            while not self._closed:
                plan = plan_compaction(list(self._state.blocks), self.options.compaction_min_blocks)
                if plan is None:
                    break
                group, level = plan
                try:
                    merged = merge_blocks(group, os.path.join(self.path, "blocks"), level)
                except CorruptionError as exc:
                    self._quarantine_from_error(group, exc)
                    continue
                except OSError as exc:
                    # The sources stay as they are and the partial output is gone; the next
                    # maintenance round tries again.
                    self.counters.compaction_failures += 1
                    log.error(
                        "compaction failed; its blocks are kept as they are",
                        extra=log_fields(error=str(exc), free_bytes=free_bytes(self.path)),
                    )
                    break
                with self._write_lock:
                    ids = {b.id for b in group}
                    kept = tuple(b for b in self._state.blocks if b.id not in ids)
                    self._state = _State(self._state.heads, kept + ((merged,) if merged else ()))
                for b in group:
                    shutil.rmtree(b.path, ignore_errors=True)
                merges += 1
                self.counters.compactions += 1
                log.info(
                    "blocks compacted",
                    extra=log_fields(sources=len(group), level=level, block=merged.id if merged else None),
                )
        return merges

    def apply_retention(self, now_ns: int | None = None) -> int:
        """Drop whole blocks past the age limit, then oldest-first past the disk budget."""
        now_ns = time.time_ns() if now_ns is None else now_ns
        o = self.options
        with self._maint_lock:
            blocks = sorted(self._state.blocks, key=lambda b: (b.max_ns, b.min_ns))
            cutoff = now_ns - int(o.retention_seconds * 1e9)
            drop = [b for b in blocks if b.max_ns < cutoff]
            if o.retention_bytes > 0:
                rest = [b for b in blocks if b not in drop]
                total = sum(b.size_bytes for b in rest) + (self._wal.size_bytes() if self._wal else 0)
                while rest and total > o.retention_bytes:
                    b = rest.pop(0)
                    drop.append(b)
                    total -= b.size_bytes
            if not drop:
                return 0
            ids = {b.id for b in drop}
            with self._write_lock:
                self._state = _State(
                    self._state.heads, tuple(b for b in self._state.blocks if b.id not in ids)
                )
            for b in drop:
                log.info("retention dropped block", extra=log_fields(block=b.id, max_ns=b.max_ns))
                shutil.rmtree(b.path, ignore_errors=True)
            self.counters.retention_dropped_blocks += len(drop)
            return len(drop)

    def _quarantine_from_error(self, candidates: Sequence[Block], exc: CorruptionError) -> None:
        bad = [b for b in candidates if b.path in str(exc)] or list(candidates)[:1]
        for b in bad:
            self.quarantine(b, str(exc))

    def quarantine(self, block: Block, reason: str) -> None:
        """Take a block out of service after a failed checksum; readers go on without it."""
        with self._write_lock:
            if block not in self._state.blocks:
                return
            self._state = _State(self._state.heads, tuple(b for b in self._state.blocks if b is not block))
        self._move_to_quarantine(block.path, reason)

    def _maintain(self) -> None:
        interval = min(60.0, max(1.0, self.options.block_duration_seconds / 60))
        while not self._stop.wait(interval):
            try:
                self.apply_retention()
                self.compact()
                with self._write_lock:
                    if not self._closed and self._head_full() and time.monotonic() >= self._cut_retry_at:
                        self._cut_head_or_retry_later()
            except Exception:
                log.exception("storage maintenance failed")

    # ------------------------------------------------------------------------------------
    # reading
    def snapshot(self) -> Snapshot:
        """A consistent view (heads + blocks) that later writes don't disturb."""
        st = self._state
        return Snapshot(st.heads, st.blocks, on_corrupt=self.quarantine)

    def select_series(
        self, matchers: Sequence[Matcher], kind: SeriesKind, start: int, end: int
    ) -> list[SeriesInfo]:
        return self.snapshot().series_info(matchers, kind, start, end)

    def query_logs(
        self,
        matchers: Sequence[Matcher],
        start: int,
        end: int,
        *,
        direction: Direction = Direction.BACKWARD,
        limit: int = 1000,
        cursor: bytes | None = None,
    ) -> LogEntries:
        return self.snapshot().logs(matchers, start, end, direction=direction, limit=limit, cursor=cursor)

    def query_samples(
        self, matchers: Sequence[Matcher], start: int, end: int
    ) -> list[tuple[Labels, np.ndarray, np.ndarray]]:
        return self.snapshot().samples(matchers, start, end)

    def label_names(
        self, kind: SeriesKind, start: int, end: int, matchers: Sequence[Matcher] = ()
    ) -> list[str]:
        return self.snapshot().label_names(kind, start, end, matchers)

    def label_values(
        self, name: str, kind: SeriesKind, start: int, end: int, matchers: Sequence[Matcher] = ()
    ) -> list[str]:
        return self.snapshot().label_values(name, kind, start, end, matchers)

    def stats(self) -> dict[str, float]:
        st = self._state
        head = st.heads[0]
        return {
            "head_series": len(head.series),
            "head_bytes": head.bytes,
            "blocks": len(st.blocks),
            "blocks_bytes": sum(b.size_bytes for b in st.blocks),
            "wal_bytes": self._wal.size_bytes() if self._wal else 0,
            "wal_fsync_seconds_total": self._wal.fsync_seconds_total if self._wal else 0.0,
            "wal_fsyncs_total": self._wal.fsync_count if self._wal else 0,
            "wal_write_failures_total": self._wal.write_failures if self._wal else 0,
            "data_dir_free_bytes": free_bytes(self.path) or 0,
        }

    def series_counts(self) -> dict[SeriesKind, int]:
        """Distinct series of each kind across the heads and the blocks on disk (a series in
        several blocks counts once): what the status page calls log streams and metric series."""
        snap = self.snapshot()
        seen: dict[SeriesKind, set[int]] = {SeriesKind.LOG: set(), SeriesKind.METRIC: set()}
        for h in snap.heads:
            seen[SeriesKind.LOG].update(h.logs)
            seen[SeriesKind.METRIC].update(h.metrics.cols.fps[: h.metrics.n].tolist())
        for b in snap.blocks:
            for fp, s in b.series.items():
                seen[s.kind].add(fp)
        return {kind: len(fps) for kind, fps in seen.items()}


def free_bytes(path: str) -> int | None:
    """Bytes an unprivileged writer may still use on the filesystem holding `path`."""
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize
