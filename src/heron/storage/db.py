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
import hashlib
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from itertools import repeat
from typing import Sequence

import numpy as np

from heron.logsetup import log_fields
from heron.model import (
    METRIC_NAME_RE,
    Labels,
    Matcher,
    SeriesKind,
    fingerprint,
    format_labels,
    label_name_problem,
)
from heron.storage import wal as walmod
from heron.storage.block import Block
from heron.storage.bulk_series import BulkText, plain_new_series
from heron.storage.compact import merge_blocks, plan_compaction, write_head
from heron.storage.head import Head, HeadSeries, MetricSeries
from heron.storage.metric_head import SERIES_OVERHEAD, MetricStore, _unique
from heron.storage.read import Snapshot
from heron.storage.types import (
    AppendResult,
    CorruptionError,
    Direction,
    DiskFullError,
    FsyncMode,
    LogBatch,
    LogEntries,
    Rejection,
    RejectReason,
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
_INT64_MAX = int(np.iinfo(np.int64).max)
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


class Database:
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

    def _slots_for(self, labels: Sequence[Labels], refs: np.ndarray | None, store: MetricStore) -> np.ndarray:
        """Head slots for label sets (made when new), -1 where refused. Valid refs skip the
        label-set lookup; only the rest are looked up, and only new ones hashed."""
        n = len(labels)
        if refs is not None:
            r = np.asarray(refs, dtype=np.int64)
            good = (r >= 0) & ((r >> 32) == store.generation) & ((r & 0xFFFF_FFFF) < store.n)
            slots = np.where(good, r & 0xFFFF_FFFF, -1)
            if bool(good.all()):
                return slots
            miss = np.nonzero(~good)[0].tolist()
        else:
            # A scraper hands over the same label tuples every scrape: matched by identity,
            # they cost no hashing at all.
            ids = np.fromiter(map(id, labels), dtype=np.int64, count=n) if n >= _ID_CACHE_MIN else None
            if ids is not None:
                got = store.slots_by_identity(ids)
                if got is not None:
                    return got
            get = store.by_labels.get
            try:
                slots = np.fromiter(map(get, labels, repeat(-1)), dtype=np.int64, count=n)
            except TypeError:  # an unhashable label set (lists): look each up on its own
                slots = np.full(n, -1, dtype=np.int64)
            miss = np.nonzero(slots < 0)[0].tolist()
            if ids is not None and not miss:
                store.remember_identity(labels, ids, slots)
        if len(miss) > 8:
            self._make_slots(labels, miss, slots)
        else:
            for i in miss:
                slots[i] = self._metric_slot(labels[i])[0]
        return slots

    def _make_slots(self, labels: Sequence[Labels], miss: list[int], slots: np.ndarray) -> None:
        """`_metric_slot` for many label sets at once (a new target's first scrape): checks and
        hashing stay per series, the index lookups and column writes are done in bulk. Refused
        label sets keep -1; the general path that takes them reports why."""
        store = self._head.metrics
        new: dict[Labels, list[int]] = {}  # normalised labels -> positions asking for them
        fps: list[int] = []
        text: BulkText | None = None  # the new label sets' text, when all of them are plain
        if len(miss) >= _BULK_MIN:
            miss, text = self._plain_new(labels, miss, slots, new, fps)
        for i in miss:
            lab = labels[i]
            key, norm, slot = self._find_metric(lab)
            if slot is not None:
                slots[i] = slot
                continue
            waiting = new.get(norm)
            if waiting is not None:
                waiting.append(i)
                continue
            if self._check_labels(norm, SeriesKind.METRIC) is not None:
                continue
            new[norm] = [i]
            fps.append(_fingerprint_encoded([s.encode() for pair in norm for s in pair]))
        if not new:
            return
        norms = list(new)
        fpa = np.array(fps, dtype=np.uint64)
        ok = store.fp_index.lookup(fpa) < 0  # a hit is another label set: a collision
        if len(np.unique(fpa)) != len(fpa):
            _, first = np.unique(fpa, return_index=True)
            dup = np.ones(len(fpa), dtype=bool)
            dup[first] = False
            ok &= ~dup
        if self._state.blocks or len(self._state.heads) > 1:
            for j in np.nonzero(ok)[0].tolist():
                other = self._metric_labels_of(fps[j])
                if other is not None and other != norms[j]:
                    ok[j] = False
        room = self.options.max_active_series - len(self._head.logs) - store.n
        take = np.nonzero(ok)[0][: max(room, 0)]
        if not len(take):
            return
        made = store.add_many(
            fpa[take], [norms[j] for j in take.tolist()], self._metric_prev.lookup(fpa[take])
        )
        self._head.bytes += SERIES_OVERHEAD * len(take)
        if text is not None and len(take) == len(norms):
            store.pending_text = (int(made[0]), len(made), text[0], text[1])
        for j, slot in zip(take.tolist(), made.tolist()):
            for i in new[norms[j]]:
                slots[i] = slot
                lab = labels[i]
                if lab is not norms[j] and isinstance(lab, tuple):
                    self._alias(store, lab, slot)

    def _plain_new(
        self,
        labels: Sequence[Labels],
        miss: list[int],
        slots: np.ndarray,
        new: dict[Labels, list[int]],
        fps: list[int],
    ) -> tuple[list[int], BulkText | None]:
        """The bulk part of `_make_slots`: label sets found in the head get their slot, plain
        new ones (`bulk_series.plain_new_series`) go into `new` and `fps` as the per-series
        loop would put them. Returns the positions left for that loop, and when every label
        set was new, plain and different, their text in `new`'s order for the WAL."""
        store = self._head.metrics
        labs = [labels[i] for i in miss]
        try:
            found = list(map(store.by_labels.get, labs))
        except TypeError:  # unhashable label sets: all of them go the general way
            return miss, None
        names_ok = self._names_ok[SeriesKind.METRIC]

        def name_ok(name: str) -> bool:
            if name in names_ok:
                return True
            if label_name_problem(name, SeriesKind.METRIC) is not None:
                return False
            if len(names_ok) < 4096:
                names_ok.add(name)
            return True

        o = self.options
        ok, got_fps, text = plain_new_series(labs, name_ok, o.max_labels_per_series, o.max_label_value_bytes)
        if not new and found.count(None) == len(found) and bool(ok.all()):
            # The usual first scrape: every label set new and plain.
            new.update(zip(labs, ([i] for i in miss)))
            if len(new) == len(labs):
                fps.extend(got_fps)
                return [], text
            new.clear()  # some label set came twice: the loop below keeps every position
        rest: list[int] = []
        it = iter(got_fps)
        for i, lab, slot, good in zip(miss, labs, found, ok.tolist()):
            fp = next(it) if good else None  # one fingerprint per passing label set, in order
            if slot is not None:
                slots[i] = slot
            elif fp is None:
                rest.append(i)
            else:
                waiting = new.get(lab)
                if waiting is None:
                    new[lab] = [i]
                    fps.append(fp)
                else:
                    waiting.append(i)
        return rest, None

    def _find_metric(self, labels: Labels) -> tuple[Labels | None, Labels, int | None]:
        """(hashable key of the caller's labels or None, normalised labels, slot if known)."""
        store = self._head.metrics
        try:
            key = labels if isinstance(labels, tuple) else tuple(labels)
            slot = store.by_labels.get(key)
        except TypeError:
            key, slot = None, None
        if slot is not None:
            return key, store.labels[slot], slot
        # The caller's tuples are kept as they are (a scraper's cache holds the same objects).
        if isinstance(labels, tuple) and all(type(p) is tuple and len(p) == 2 for p in labels):
            norm: Labels = labels
        else:
            norm = tuple((k, v) for k, v in labels)
        if any(norm[i][0] >= norm[i + 1][0] for i in range(len(norm) - 1)):
            norm = tuple(sorted(norm))
        slot = store.by_labels.get(norm)
        if slot is not None and key is not None and key != norm:
            self._alias(store, key, slot)
        return key, norm, slot

    def _alias(self, store: MetricStore, key: Labels, slot: int) -> None:
        """Let the caller's spelling of a label set (unsorted) find its slot next time."""
        if len(store.by_labels) < 2 * self.options.max_active_series:
            store.by_labels[key] = slot

    def _metric_slot(self, labels: Labels) -> tuple[int, Labels, tuple[RejectReason, str] | None]:
        """(slot, normalised labels, None), or (-1, labels, (reason, message)) when refused."""
        store = self._head.metrics
        key, norm, slot = self._find_metric(labels)
        if slot is None:
            problem = self._check_labels(norm, SeriesKind.METRIC)
            if problem is not None:
                return -1, norm, problem
            fp = fingerprint(norm, SeriesKind.METRIC)
            other = self._metric_labels_of(fp)
            if other is not None and other != norm:
                msg = f"fingerprint collision between {format_labels(norm)} and {format_labels(other)}"
                return -1, norm, (RejectReason.INVALID_LABELS, msg)
            if len(self._head.logs) + store.n >= self.options.max_active_series:
                msg = f"maximum active series limit ({self.options.max_active_series}) reached"
                return -1, norm, (RejectReason.SERIES_LIMIT, msg)
            slot = store.add_series(fp, norm, self._metric_prev.get(fp))
            self._head.bytes += SERIES_OVERHEAD
            if key is not None and key != norm:
                self._alias(store, key, slot)
        return slot, norm, None

    def _metric_labels_of(self, fp: int) -> Labels | None:
        """Labels stored under a metric fingerprint in any head or block, for collision checks."""
        st = self._state
        for h in (self._head, *st.heads):
            slot = h.metrics.slot_of_fp(fp)
            if slot >= 0:
                return h.metrics.labels[slot]
        for b in st.blocks:
            bs = b.series.get(fp)
            if bs is not None and bs.kind is SeriesKind.METRIC:
                return bs.labels
        return None

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

    def _check_labels(self, labels: Labels, kind: SeriesKind) -> tuple[RejectReason, str] | None:
        o = self.options
        if not labels:
            return RejectReason.INVALID_LABELS, "series has no labels"
        if len(labels) > o.max_labels_per_series:
            return (
                RejectReason.TOO_MANY_LABELS,
                f"series {format_labels(labels)} has {len(labels)} labels, more than the limit "
                f"of {o.max_labels_per_series}",
            )
        names = [n for n, _ in labels]
        if len(set(names)) != len(names):
            return RejectReason.INVALID_LABELS, f"series {format_labels(labels)} repeats a label name"
        names_ok = self._names_ok[kind]
        max_value = o.max_label_value_bytes
        for name, value in labels:
            if name in names_ok and len(value) * 4 <= max_value:
                continue  # a name checked before, a value too short to be too long in UTF-8
            problem = label_name_problem(name, kind)
            if problem is None and len(names_ok) < 4096:
                names_ok.add(name)
            if problem is not None:
                shown = format_labels(labels)  # not when long: the problem quotes the name already
                return RejectReason.INVALID_LABELS, problem + (f" in {shown}" if len(shown) <= 200 else "")
            if len(value.encode()) > o.max_label_value_bytes:
                return (
                    RejectReason.INVALID_LABELS,
                    f"label {name} value is longer than the limit of {o.max_label_value_bytes} bytes",
                )
        if kind is SeriesKind.METRIC:
            name = dict(labels).get("__name__")
            if name is None or not METRIC_NAME_RE.fullmatch(name):
                return (
                    RejectReason.INVALID_LABELS,
                    f"invalid or missing metric name in {format_labels(labels)}",
                )
        return None

    def _series_for(
        self, labels: Labels, kind: SeriesKind, n: int, txn: "_Txn"
    ) -> HeadSeries | MetricSeries | None:
        """Find or make the head series, queueing its WAL series record once per segment.

        Label sets seen before skip sorting, validation and hashing through a cache keyed by
        the caller's tuple, as Prometheus' series refs let scrapes skip them.
        """
        if kind is SeriesKind.METRIC:
            return self._metric_series_for(labels, n, txn)
        key = (kind, labels if isinstance(labels, tuple) else tuple(labels))
        cached = self._label_cache.get(key)
        if cached is not None:
            fp, labels = cached
        else:
            labels = tuple(labels)
            if any(labels[i][0] >= labels[i + 1][0] for i in range(len(labels) - 1)):
                labels = tuple(sorted(labels))
            problem = self._check_labels(labels, kind)
            if problem is not None:
                txn.result.rejected.append(Rejection(labels, kind, -1, n, problem[0], problem[1]))
                return None
            fp = fingerprint(labels, kind)
            known = self._series_labels.get(fp)
            if known is not None and known != (kind, labels):
                msg = f"fingerprint collision between {format_labels(labels)} and {format_labels(known[1])}"
                txn.result.rejected.append(Rejection(labels, kind, -1, n, RejectReason.INVALID_LABELS, msg))
                return None
            if len(self._label_cache) > 2 * self.options.max_active_series:
                self._label_cache.clear()
            self._label_cache[key] = (fp, labels)
        series = self._head.logs.get(fp) or txn.created.get(fp)
        if series is None:
            if len(self._head.series) + len(txn.created) >= self.options.max_active_series:
                msg = f"maximum active series limit ({self.options.max_active_series}) reached"
                txn.result.rejected.append(Rejection(labels, kind, -1, n, RejectReason.SERIES_LIMIT, msg))
                return None
            series = HeadSeries(fp, labels, kind)
            txn.created[fp] = series
        assert self._wal is not None
        if self._wal.needs_series(fp) and fp not in txn.wal_series:
            txn.blobs.append(walmod.encode_series(fp, kind, labels))
            txn.n_series += 1
            txn.wal_series.add(fp)
            txn.wal_log_series.add(fp)
        return series

    def _metric_series_for(self, labels: Labels, n: int, txn: "_Txn") -> MetricSeries | None:
        slot, norm, problem = self._metric_slot(labels)
        if problem is not None:
            txn.result.rejected.append(Rejection(norm, SeriesKind.METRIC, -1, n, problem[0], problem[1]))
            return None
        store = self._head.metrics
        assert self._wal is not None
        if int(store.cols.wal_epoch[slot]) != self._wal.epoch:
            fp = int(store.cols.fps[slot])
            if fp not in txn.wal_series:
                txn.blobs.append(walmod.encode_series(fp, SeriesKind.METRIC, norm))
                store.cols.wal_ord[slot] = self._wal.series_count + txn.n_series
                txn.n_series += 1
                txn.wal_series.add(fp)
                txn.wal_metric_slots.append(slot)
        return MetricSeries(store, slot)

    def _time_checks(
        self,
        newest: int,
        ts: np.ndarray,
        window: int,
        oldest: int,
        labels: Labels,
        kind: SeriesKind,
        txn: "_Txn",
        latest: int = _INT64_MAX,
    ) -> tuple[np.ndarray, np.ndarray, bool]:
        """Returns (keep mask, mask of entries not newer than everything before them, whether
        the batch is sorted and newer than the series, so every entry is kept).

        Entries after `latest` are refused (Loki's creation grace period): stored, one entry
        from the far future would put every current entry of its stream too far behind."""
        n = len(ts)
        first = int(ts[0])
        if first > newest and first >= oldest and int(ts[-1]) <= latest:
            # The common case: an in-order batch newer than the series. Only equal neighbours
            # can be duplicates, and nothing is too old (or, being in order, too new).
            if n == 1:
                return np.ones(1, dtype=bool), np.zeros(1, dtype=bool), True
            step = ts[1:] - ts[:-1]
            smallest = int(step.min())
            if smallest > 0:
                return np.ones(n, dtype=bool), np.zeros(n, dtype=bool), True
            if smallest == 0:
                cand = np.zeros(n, dtype=bool)
                cand[1:] = step == 0
                return np.ones(n, dtype=bool), cand, True
        too_new = ts > latest
        # A refused entry must not count as the newest for the entries after it.
        valid = np.where(too_new, _INT64_MIN, ts) if bool(too_new.any()) else ts
        before = np.empty(n, dtype=np.int64)
        before[0] = newest
        if n > 1:
            np.maximum.accumulate(valid[:-1], out=before[1:])
            np.maximum(before[1:], newest, out=before[1:])
        limit = np.where(before == _INT64_MIN, _INT64_MIN, before - window)
        refused = (ts < limit) | (ts < oldest) | too_new
        keep = ~refused
        if bool(refused.any()):
            for i in np.nonzero(refused)[0].tolist():
                t = int(ts[i])
                if too_new[i]:
                    reason = RejectReason.TOO_NEW
                    why = (
                        f"is too far in the future: more than {self.options.future_skew_seconds:g}s "
                        f"ahead of the server's clock (future_skew)"
                    )
                elif t < oldest:
                    reason, why = RejectReason.RETENTION, "is older than the retention period"
                else:
                    reason = RejectReason.TOO_OLD
                    why = f"is too far behind the newest entry ({int(before[i])}) of its series"
                txn.reject(
                    labels, kind, i, reason, f"entry with timestamp {t} for {format_labels(labels)} {why}"
                )
        return keep, keep & (ts <= before), False

    def _prepare_logs(self, b: LogBatch, txn: "_Txn") -> None:
        n = len(b.lines)
        if len(b.timestamps) != n or (b.metadata is not None and len(b.metadata) != n):
            raise StorageError("log batch columns differ in length")
        if n == 0:
            return
        series = self._series_for(b.labels, SeriesKind.LOG, n, txn)
        if series is None:
            return
        o = self.options
        ts = np.asarray(b.timestamps, dtype=np.int64)
        lens = np.fromiter(map(len, b.lines), dtype=np.int64, count=n)
        now = time.time_ns()
        oldest = now - int(o.retention_seconds * 1e9)
        latest = min(now + int(o.future_skew_seconds * 1e9), _INT64_MAX)
        assert isinstance(series, HeadSeries)
        keep, candidates, in_order = self._time_checks(
            self._series_max.get(series.fp, _INT64_MIN),
            ts,
            int(o.ooo_window_seconds * 1e9),
            oldest,
            series.labels,
            SeriesKind.LOG,
            txn,
            latest,
        )
        too_long = lens > o.max_line_bytes
        if bool(too_long.any()):
            for i in np.nonzero(too_long & keep)[0].tolist():
                msg = (
                    f"line of {int(lens[i])} bytes for {format_labels(series.labels)} is longer than "
                    f"the limit of {o.max_line_bytes} bytes"
                )
                txn.reject(series.labels, SeriesKind.LOG, i, RejectReason.LINE_TOO_LONG, msg)
            keep &= ~too_long
        candidates &= keep
        if bool(candidates.any()):
            keep &= ~self._log_duplicates(series, ts, b.lines, candidates, keep, txn)
        if not bool(keep.any()):
            return
        if bool(keep.all()):
            lines, metas, kts, klens = b.lines, b.metadata, ts, lens
        else:
            idx = np.nonzero(keep)[0]
            lines = [b.lines[i] for i in idx.tolist()]
            metas = [b.metadata[i] for i in idx.tolist()] if b.metadata is not None else None
            kts, klens = ts[idx], lens[idx]
        data = b"".join(lines)
        if metas is None:
            mlens, meta = np.zeros(len(kts), dtype=np.int64), b""
        else:
            mlens, meta = np.fromiter(map(len, metas), dtype=np.int64, count=len(metas)), b"".join(metas)
        txn.blobs.append(walmod.encode_logs(series.fp, kts, klens, mlens, data, meta))
        sorted_range = (int(kts[0]), int(kts[-1])) if in_order else None
        txn.applies.append((series, (kts, klens, data, mlens, meta, sorted_range)))
        txn.result.accepted += len(kts)

    def _log_duplicates(
        self,
        series: HeadSeries,
        ts: np.ndarray,
        lines: Sequence[bytes],
        candidates: np.ndarray,
        keep: np.ndarray,
        txn: "_Txn",
    ) -> np.ndarray:
        """Entries of this batch identical to one already stored in the head or earlier in it."""
        lo = int(ts[candidates].min())
        hi = int(ts[candidates].max())
        seen: set[tuple[int, bytes]] = set()
        for cols in series.log_columns(lo, hi):
            seen.update(zip(cols.timestamps.tolist(), cols.lines()))
        for pending, args in txn.applies:
            if pending is series:
                pts, plens, pdata = args[0], args[1], args[2]
                ends = np.cumsum(plens)
                for t, e, ln in zip(pts.tolist(), ends.tolist(), plens.tolist()):
                    seen.add((t, pdata[e - ln : e]))
        dup = np.zeros(len(ts), dtype=bool)
        in_range = np.nonzero(keep & (ts >= lo) & (ts <= hi))[0]
        for i in in_range.tolist():
            key = (int(ts[i]), bytes(lines[i]))
            if key in seen:
                if candidates[i]:
                    dup[i] = True
            else:
                seen.add(key)
        ndup = int(dup.sum())
        txn.result.duplicates += ndup
        txn.result.accepted += ndup
        return dup

    def _prepare_samples(self, b: SampleBatch, txn: "_Txn") -> None:
        n = len(b.timestamps)
        if len(b.values) != n:
            raise StorageError("sample batch columns differ in length")
        if n == 0:
            return
        series = self._series_for(b.labels, SeriesKind.METRIC, n, txn)
        if series is None:
            return
        o = self.options
        ts = np.asarray(b.timestamps, dtype=np.int64)
        vals = np.asarray(b.values, dtype=np.float64)
        oldest = int(time.time() * 1000) - int(o.retention_seconds * 1000)
        assert isinstance(series, MetricSeries)
        keep, candidates, _ = self._time_checks(
            series.newest, ts, int(o.ooo_window_seconds * 1000), oldest, series.labels, SeriesKind.METRIC, txn
        )
        if bool(candidates.any()):
            keep &= ~self._sample_duplicates(series, ts, vals, candidates, keep, txn)
        if not bool(keep.any()):
            return
        if not bool(keep.all()):
            ts, vals = ts[keep], vals[keep]
        txn.blobs.append(walmod.encode_samples(series.fp, ts, vals))
        txn.applies.append((series, (ts, vals)))
        txn.result.accepted += len(ts)

    def _sample_duplicates(
        self,
        series: MetricSeries,
        ts: np.ndarray,
        vals: np.ndarray,
        candidates: np.ndarray,
        keep: np.ndarray,
        txn: "_Txn",
    ) -> np.ndarray:
        """Samples to drop: identical ones (acknowledged) and same-timestamp-other-value (refused)."""
        lo = int(ts[candidates].min())
        hi = int(ts[candidates].max())
        seen: dict[int, int] = {}
        for pts, pvals in series.sample_arrays(lo, hi):
            seen.update(zip(pts.tolist(), pvals.view(np.uint64).tolist()))
        for pending, args in txn.applies:
            if pending == series:
                seen.update(zip(args[0].tolist(), args[1].view(np.uint64).tolist()))
        drop = np.zeros(len(ts), dtype=bool)
        bits = vals.view(np.uint64)
        for i in np.nonzero(keep & (ts >= lo) & (ts <= hi))[0].tolist():
            t = int(ts[i])
            have = seen.get(t)
            if have is None:
                seen[t] = int(bits[i])
            elif have == int(bits[i]):
                drop[i] = True
                txn.result.duplicates += 1
                txn.result.accepted += 1
            else:
                drop[i] = True
                msg = f"sample at {t} for {format_labels(series.labels)} already has a different value"
                txn.reject(series.labels, SeriesKind.METRIC, i, RejectReason.DUPLICATE_TIMESTAMP, msg)
        return drop

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


@dataclass
class _Txn:
    """What one append call has prepared but not yet applied."""

    result: AppendResult = field(default_factory=AppendResult)
    blobs: list[bytes] = field(default_factory=list)
    wal_series: set[int] = field(default_factory=set)  # fingerprints whose series record is queued
    wal_log_series: set[int] = field(default_factory=set)  # ... of log streams (the WAL tracks them)
    wal_metric_slots: list[int] = field(default_factory=list)  # ... of metric slots (the head does)
    n_series: int = 0  # series definitions queued in `blobs`: the WAL's ordinals advance by it
    created: dict[int, HeadSeries] = field(default_factory=dict)
    applies: list[tuple[HeadSeries | MetricSeries, tuple]] = field(default_factory=list)

    def reject(self, labels: Labels, kind: SeriesKind, index: int, reason: RejectReason, msg: str) -> None:
        self.result.rejected.append(Rejection(labels, kind, index, 1, reason, msg))


_ID_CACHE_MIN = 64  # label lists shorter than this are looked up by value
_BULK_MIN = 64  # new label sets checked and hashed together from this many on
_METRIC_KIND_BYTE = bytes((int(SeriesKind.METRIC),))


def metric_fingerprint(labels: Labels) -> int:
    """`heron.model.fingerprint(labels, SeriesKind.METRIC)`, with one hash update in place of
    four per label: series creation is per-series Python, and this is a third of it."""
    return _fingerprint_encoded([s.encode() for pair in labels for s in pair])


def _fingerprint_encoded(enc: list[bytes]) -> int:
    """`metric_fingerprint` of labels whose names and values are already encoded, in order."""
    h = hashlib.blake2b(_METRIC_KIND_BYTE, digest_size=8)
    h.update(b"\xff".join(enc))
    if enc:
        h.update(b"\xff")
    return int.from_bytes(h.digest(), "little")


class _Newest:
    """Newest timestamp of metric series that are (or were) in blocks or an earlier head, as
    sorted columns: 16 B a series, where a dict would cost ~100."""

    def __init__(self, fps: np.ndarray | None = None, newest: np.ndarray | None = None):
        self.fps = fps if fps is not None else np.empty(0, dtype=np.uint64)
        self.newest = newest if newest is not None else np.empty(0, dtype=np.int64)

    def get(self, fp: int) -> int:
        i = int(np.searchsorted(self.fps, np.uint64(fp)))
        if i < len(self.fps) and int(self.fps[i]) == fp:
            return int(self.newest[i])
        return _INT64_MIN

    def lookup(self, fps: np.ndarray) -> np.ndarray:
        out = np.full(len(fps), _INT64_MIN, dtype=np.int64)
        if len(self.fps):
            i = np.searchsorted(self.fps, fps)
            i[i >= len(self.fps)] = 0
            hit = self.fps[i] == fps
            out[hit] = self.newest[i[hit]]
        return out

    def merged(self, fps: np.ndarray, newest: np.ndarray, horizon: int) -> "_Newest":
        """A copy with (fps, newest) folded in, keeping the larger timestamp per series and
        forgetting series whose newest is before `horizon` (out of the out-of-order window)."""
        allf = np.concatenate([self.fps, fps.astype(np.uint64, copy=False)])
        alln = np.concatenate([self.newest, newest.astype(np.int64, copy=False)])
        keep = alln >= horizon
        allf, alln = allf[keep], alln[keep]
        if not len(allf):
            return _Newest()
        order = np.lexsort((alln, allf))
        allf, alln = allf[order], alln[order]
        last = np.ones(len(allf), dtype=bool)
        last[:-1] = allf[1:] != allf[:-1]  # the largest timestamp sorts last per fingerprint
        return _Newest(allf[last], alln[last])
