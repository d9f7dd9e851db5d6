"""Metric series creation in the head: label sets to head slots, made in bulk when new.

A scrape hands over the same label tuples every time; this part of the writer finds their head
slots (by object identity, then by value), and creates the new ones, checking, hashing and
indexing them together when a new target's first scrape brings thousands at once. It is a
mixin of `Database` (the writer's state lives there, behind its write lock), kept apart so
the facade stays readable.
"""

from __future__ import annotations

import hashlib
from itertools import repeat
from typing import TYPE_CHECKING, Sequence

import numpy as np

from heron.model import Labels, SeriesKind, fingerprint, format_labels, label_name_problem
from heron.storage.bulk_series import BulkText, plain_new_series
from heron.storage.metric_head import SERIES_OVERHEAD, MetricStore
from heron.storage.types import RejectReason, StorageOptions

if TYPE_CHECKING:
    from heron.storage.db import _State
    from heron.storage.head import Head

__all__ = ["MetricSlots", "metric_fingerprint"]

_INT64_MIN = int(np.iinfo(np.int64).min)


class MetricSlots:
    """`Database`'s metric-series half: every method runs under the caller's write lock."""

    options: StorageOptions
    _head: "Head"
    _state: "_State"
    _metric_prev: "_Newest"
    _names_ok: dict[SeriesKind, set[str]]

    if TYPE_CHECKING:  # provided by AppendChecks

        def _check_labels(self, labels: Labels, kind: SeriesKind) -> tuple[RejectReason, str] | None: ...

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
