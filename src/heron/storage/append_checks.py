"""The checks an append makes before anything is written: labels, limits, time order and
duplicates, for log entries and for samples one series at a time.

Each check refuses entries one by one with a reason (Loki's and Prometheus' wording), so the
rest of a batch is kept. A mixin of `Database`, whose write lock the caller holds; the WAL
records each accepted part needs are queued in the append's `_Txn`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

import numpy as np

from heron.model import METRIC_NAME_RE, Labels, SeriesKind, fingerprint, format_labels, label_name_problem
from heron.storage import wal as walmod
from heron.storage.head import HeadSeries, MetricSeries
from heron.storage.types import (
    AppendResult,
    LogBatch,
    Rejection,
    RejectReason,
    SampleBatch,
    StorageError,
    StorageOptions,
)

if TYPE_CHECKING:
    from heron.storage.head import Head

__all__ = ["AppendChecks"]

_INT64_MIN = int(np.iinfo(np.int64).min)
_INT64_MAX = int(np.iinfo(np.int64).max)


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


class AppendChecks:
    """`Database`'s checks; every method runs under the caller's write lock."""

    options: StorageOptions
    _head: "Head"
    _wal: "walmod.WAL | None"
    _label_cache: dict[tuple[SeriesKind, Labels], tuple[int, Labels]]
    _names_ok: dict[SeriesKind, set[str]]
    _series_labels: dict[int, tuple[SeriesKind, Labels]]
    _series_max: dict[int, int]

    if TYPE_CHECKING:  # provided by MetricSlots

        def _metric_slot(self, labels: Labels) -> tuple[int, Labels, tuple[RejectReason, str] | None]: ...

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
