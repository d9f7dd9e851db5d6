"""The head's metric series: columns indexed by a dense slot number, not an object per series.

A scrape of 100k series has to cost a few numpy operations, and an active series well under a
KiB, so nothing here is per-series Python except the label tuple and its dict entry:

* `labels[slot]` and `by_labels` (label set -> slot) find a series; `postings` index slots.
* numpy columns hold each series' fingerprint, data range (`min_t`, `max_t`), the newest
  timestamp the out-of-order check compares with (`newest`, which also remembers data already
  in blocks), and the WAL epoch its series record was last written in (`wal_epoch`) with its
  ordinal in that segment (`wal_ord`, which the WAL's sample records name it by).
* New samples are *staged*: a scrape-shaped append keeps its slot array and value column as
  they came (one "matrix run" per repeated slot set, one timestamp per row when the scrape had
  one), anything else goes to a loose list of (slots, ts, values) triples. Once enough samples
  are staged, a *fold* packs them into group chunks (`head_chunks`), one zstd frame per 512
  consecutive slots, and drops the staging.

Concurrency: one writer (under the database's write lock); readers take no lock. The writer
publishes (chunks by group, runs) as one tuple, appends rows to a run before readers can know
them (a reader copies a run's row list once), and swaps grown columns whole.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import operator
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np

from heron.model import Labels, Matcher, SeriesKind
from heron.storage.head_chunks import GROUP_SLOTS, pack_group, unpack_group
from heron.storage.index import Postings, select

__all__ = ["MetricStore", "MetricSeries", "GroupChunk"]

_INT64_MIN = int(np.iinfo(np.int64).min)
_INT64_MAX = int(np.iinfo(np.int64).max)
FOLD_SAMPLES_PER_SERIES = 16
"""Fold once the staging holds this many samples per series (at least _FOLD_MIN): staged
samples cost 8-20 B each, packed ones ~3 B, and a bigger fold packs a little tighter."""
_FOLD_MIN = 1 << 16
_RUN_ROWS = 8  # rows a new run has room for before it doubles
_DECODE_CACHE = 64  # decoded group chunks kept for readers that walk many series of a group
SERIES_OVERHEAD = 256
"""Bytes an active series costs beside its samples (dict entry and list slot for its labels,
postings slots, columns, fingerprint index; measured by bench/headmem.py with tracemalloc),
for the head's size accounting."""


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None elsewhere. A fold frees the staging's matrices and its own
    temporaries between long-lived chunks; trimming hands those pages back to the kernel
    instead of leaving them in the process' RSS as heap fragments (~150 B a series at 100k)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_TRIM = _malloc_trim()


@dataclass(frozen=True, slots=True)
class GroupChunk:
    """Packed samples of `count` series of one slot group. Their slots are `slots` (sorted),
    or `lo`, `lo + 1`, ... when None (the common case: series made together); series i has
    samples [offsets[i], offsets[i+1]) of the decoded columns, or `per` each when offsets is
    None (a scrape-shaped fold). The common case thus costs nothing per series."""

    cid: int
    count: int
    lo: int
    slots: np.ndarray | None
    per: int
    offsets: np.ndarray | None
    min_t: int
    max_t: int
    data: bytes

    @classmethod
    def make(
        cls, cid: int, slots: np.ndarray, offsets: np.ndarray, ts: np.ndarray, vals: np.ndarray
    ) -> "GroupChunk":
        count = len(slots)
        lo = int(slots[0])
        dense = int(slots[-1]) - lo + 1 == count
        per = int(offsets[1] - offsets[0])
        uniform = bool((np.diff(offsets) == per).all())
        return cls(
            cid,
            count,
            lo,
            None if dense else slots.astype(np.int32),
            per,
            None if uniform else offsets.astype(np.int32),
            int(ts.min()),
            int(ts.max()),
            pack_group(ts, vals, offsets),
        )

    def position(self, slot: int) -> int:
        if self.slots is None:
            i = slot - self.lo
            return i if 0 <= i < self.count else -1
        i = int(np.searchsorted(self.slots, slot))
        return i if i < self.count and int(self.slots[i]) == slot else -1

    def offsets_array(self) -> np.ndarray:
        if self.offsets is None:
            return np.arange(0, (self.count + 1) * self.per, self.per, dtype=np.int64)
        return self.offsets.astype(np.int64)

    def span(self, i: int) -> tuple[int, int]:
        if self.offsets is None:
            return i * self.per, (i + 1) * self.per
        return int(self.offsets[i]), int(self.offsets[i + 1])

    def slot_list(self) -> list[int]:
        if self.slots is None:
            return list(range(self.lo, self.lo + self.count))
        return self.slots.tolist()

    def nbytes(self) -> int:
        extra = (0 if self.slots is None else 4 * self.count) + (
            0 if self.offsets is None else 4 * self.count
        )
        return len(self.data) + extra + 200


class _Run:
    """Staged scrape-shaped appends that shared one slot array, as a matrix: row r holds one
    value per slot. The matrix is allocated for a few rows and doubled as needed, so a scrape
    allocates nothing that outlives it (per-scrape arrays kept until a fold fragment the heap).
    Row timestamps are one int per row while every sample of a row shared it; the first row
    that does not makes a timestamp matrix beside the values.

    Readers read `count` first: rows below it are complete in whichever buffers they see."""

    __slots__ = ("slots", "lo", "hi", "vals", "ts", "row_ts", "count", "_pos")

    def __init__(self, slots: np.ndarray, rows: int):
        self.slots = slots
        self.lo = int(slots.min())
        self.hi = int(slots.max())
        self.vals = np.empty((rows, len(slots)), dtype=np.float64)
        self.ts: np.ndarray | None = None
        self.row_ts: list[int] = []
        self.count = 0
        self._pos: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, t0: int, ts: np.ndarray | None, vals: np.ndarray) -> int:
        """Append a row (ts None: every sample at t0). Returns bytes newly allocated."""
        k = self.count
        grown = 0
        if k == len(self.vals):
            bigger = np.empty((2 * k, len(self.slots)), dtype=np.float64)
            bigger[:k] = self.vals
            grown += self.vals.nbytes
            self.vals = bigger
            if self.ts is not None:
                tb = np.empty((2 * k, len(self.slots)), dtype=np.int64)
                tb[:k] = self.ts
                grown += self.ts.nbytes
                self.ts = tb
        if ts is not None and self.ts is None:
            tb = np.empty(self.vals.shape, dtype=np.int64)
            tb[:k] = np.array(self.row_ts, dtype=np.int64)[:, None]
            self.ts = tb
            grown += tb.nbytes
        self.vals[k] = vals
        if self.ts is not None:
            self.ts[k] = t0 if ts is None else ts
        self.row_ts.append(t0)
        self.count = k + 1
        return grown

    def nbytes(self) -> int:
        return self.vals.nbytes + (self.ts.nbytes if self.ts is not None else 0)

    def matrices(self) -> tuple[np.ndarray, np.ndarray | None, list[int]]:
        """(values k x m, timestamps k x m or None, row timestamps) of the complete rows."""
        k = self.count
        ts = self.ts
        return self.vals[:k], (ts[:k] if ts is not None and len(ts) >= k else None), self.row_ts[:k]

    def position(self, slot: int) -> int:
        if slot < self.lo or slot > self.hi:
            return -1
        pos = self._pos
        if pos is None:
            order = np.argsort(self.slots, kind="stable")
            pos = self._pos = (self.slots[order], order)
        i = int(np.searchsorted(pos[0], slot))
        return int(pos[1][i]) if i < len(pos[0]) and int(pos[0][i]) == slot else -1


class _Loose:
    """Staged samples of any shape (out of order, several per series, single samples), in
    three columns grown by doubling: 24 B a sample, however small the appends. Readers read
    `count` first, as with runs."""

    __slots__ = ("slots", "ts", "vals", "count")

    def __init__(self, cap: int = 256) -> None:
        self.slots = np.empty(cap, dtype=np.int64)
        self.ts = np.empty(cap, dtype=np.int64)
        self.vals = np.empty(cap, dtype=np.float64)
        self.count = 0

    def add(self, slots: np.ndarray, ts: np.ndarray, vals: np.ndarray) -> int:
        """Append; returns bytes newly allocated."""
        k, n = self.count, len(slots)
        grown = 0
        if k + n > len(self.slots):
            cap = len(self.slots)
            while cap < k + n:
                cap *= 2
            for name in ("slots", "ts", "vals"):
                old = getattr(self, name)
                new = np.empty(cap, dtype=old.dtype)
                new[:k] = old[:k]
                setattr(self, name, new)
            grown = 24 * (cap - k)
        self.slots[k : k + n] = slots
        self.ts[k : k + n] = ts
        self.vals[k : k + n] = vals
        self.count = k + n
        return grown

    def columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k = self.count
        return self.slots[:k], self.ts[:k], self.vals[:k]


class _Columns:
    """Per-slot numpy columns, grown by doubling; replaced whole so readers see a consistent set."""

    __slots__ = ("fps", "min_t", "max_t", "newest", "wal_epoch", "wal_ord", "mark")

    def __init__(self, cap: int, old: "_Columns | None" = None, n: int = 0):
        self.fps = np.zeros(cap, dtype=np.uint64)
        self.min_t = np.full(cap, _INT64_MAX, dtype=np.int64)
        self.max_t = np.full(cap, _INT64_MIN, dtype=np.int64)
        self.newest = np.full(cap, _INT64_MIN, dtype=np.int64)
        self.wal_epoch = np.full(cap, -1, dtype=np.int64)
        self.wal_ord = np.zeros(cap, dtype=np.int32)  # its ordinal in that segment (valid with the epoch)
        self.mark = np.zeros(cap, dtype=np.int32)  # scratch for duplicate detection
        if old is not None:
            for name in self.__slots__:
                getattr(self, name)[:n] = getattr(old, name)[:n]


class _SlotPostings(Postings):
    """Postings over slot numbers; every slot below `count()` exists, so no set of all ids."""

    def __init__(self, count: Callable[[], int]):
        super().__init__(track_all=False)
        self._count = count

    def all_ids(self) -> set[int]:
        return set(range(self._count()))


class _FpIndex:
    """Fingerprint -> slot: a sorted array (16 B per series) plus a dict of recent additions,
    merged into the array when it grows past a quarter of it."""

    def __init__(self) -> None:
        self.fps = np.empty(0, dtype=np.uint64)
        self.slots = np.empty(0, dtype=np.int64)
        self.recent: dict[int, int] = {}

    def add(self, fp: int, slot: int) -> None:
        self.recent[fp] = slot
        if len(self.recent) > max(4096, len(self.fps) // 4):
            self._merge()

    def add_many(self, fps: np.ndarray, slots: np.ndarray) -> None:
        self._merge()
        allf = np.concatenate([self.fps, fps])
        alls = np.concatenate([self.slots, slots])
        order = np.argsort(allf, kind="stable")
        self.fps, self.slots = allf[order], alls[order]

    def _merge(self) -> None:
        if not self.recent:
            return
        rf = np.fromiter(self.recent.keys(), dtype=np.uint64, count=len(self.recent))
        rs = np.fromiter(self.recent.values(), dtype=np.int64, count=len(self.recent))
        self.recent = {}
        self.add_many(rf, rs)

    def get(self, fp: int) -> int:
        s = self.recent.get(fp)
        if s is not None:
            return s
        i = int(np.searchsorted(self.fps, np.uint64(fp)))
        if i < len(self.fps) and int(self.fps[i]) == fp:
            return int(self.slots[i])
        return -1

    def lookup(self, fps: np.ndarray) -> np.ndarray:
        """Slots of many fingerprints at once, -1 where unknown."""
        self._merge()
        out = np.full(len(fps), -1, dtype=np.int64)
        if len(self.fps):
            i = np.searchsorted(self.fps, fps)
            i[i >= len(self.fps)] = 0
            hit = self.fps[i] == fps
            out[hit] = self.slots[i[hit]]
        return out


class MetricStore:
    """All metric series of one head. Slots are dense, from 0, and never reused in a head."""

    def __init__(self, generation: int = 0) -> None:
        self.generation = generation  # which head: refs from another generation are stale
        self.n = 0
        self.labels: list[Labels] = []
        self.by_labels: dict[Labels, int] = {}
        self.cols = _Columns(1024)
        self.fp_index = _FpIndex()
        self.postings = _SlotPostings(lambda: self.n)
        self.state: tuple[dict[int, tuple[GroupChunk, ...]], tuple[_Run | _Loose, ...]] = ({}, ())
        self._runs: dict[tuple[int, int, int], _Run] = {}
        self._loose: _Loose | None = None
        self.staged = 0
        self.staged_bytes = 0  # allocated by the staging (runs' matrices, loose parts)
        self.chunk_bytes = 0
        self.samples = 0
        self._next_cid = 0
        self._cache: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        # (length, id of first, id of last) -> (ids of a label list, its slots): see remember_identity
        self._by_identity: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}
        self._identity_size = 0
        self._cache_lock = threading.Lock()
        # (first slot, count, strings, their lengths): the label text of slots that one bulk
        # creation made, already encoded for the WAL's series batch of the append that follows.
        self.pending_text: tuple[int, int, bytes, np.ndarray] | None = None

    # -- series ----------------------------------------------------------------------------
    def add_series(self, fp: int, labels: Labels, newest: int) -> int:
        """A new slot for a series known not to be here yet; `newest` is its newest timestamp
        before this head (from blocks or an earlier head), or INT64_MIN."""
        slot = self.n
        cols = self.cols
        if slot >= len(cols.fps):
            cols = self.cols = _Columns(2 * len(cols.fps), cols, slot)
        cols.fps[slot] = fp
        cols.newest[slot] = newest
        self.labels.append(labels)
        self.by_labels[labels] = slot
        self.fp_index.add(fp, slot)
        self.postings.add(slot, labels)
        self.n = slot + 1
        return slot

    def add_many(self, fps: np.ndarray, labels: list[Labels], newest: np.ndarray) -> np.ndarray:
        """`add_series` for many new series; returns their slots."""
        k = len(labels)
        first = self.n
        cols = self.cols
        if first + k > len(cols.fps):
            cap = len(cols.fps)
            while cap < first + k:
                cap *= 2
            cols = self.cols = _Columns(cap, cols, first)
        cols.fps[first : first + k] = fps
        cols.newest[first : first + k] = newest
        slots = np.arange(first, first + k, dtype=np.int64)
        self.labels.extend(labels)
        by_labels = self.by_labels
        add = self.postings.add
        for slot, lab in zip(range(first, first + k), labels):
            by_labels[lab] = slot
            add(slot, lab)
        self.fp_index.add_many(fps, slots)
        self.n = first + k
        return slots

    def slots_by_identity(self, ids: np.ndarray) -> np.ndarray | None:
        """Slots for a label list whose tuples are, by `id`, the ones of a list seen before."""
        hit = self._by_identity.get((len(ids), int(ids[0]), int(ids[-1])))
        if hit is not None and np.array_equal(hit[0], ids):
            return hit[1].copy()
        return None

    def remember_identity(self, labels: Sequence[Labels], ids: np.ndarray, slots: np.ndarray) -> None:
        """Remember a label list by the identity of its tuples, but only when every tuple is
        the very object this store holds for its slot: held here, no tuple can be freed and
        its id reused by another while the entry exists."""
        held = self.labels
        if not all(map(operator.is_, labels, map(held.__getitem__, slots.tolist()))):
            return
        if self._identity_size + len(ids) > 2 * self.n:
            self._by_identity = {}
            self._identity_size = 0
        self._by_identity[(len(ids), int(ids[0]), int(ids[-1]))] = (ids, slots.copy())
        self._identity_size += len(ids)

    def slot_of_fp(self, fp: int) -> int:
        return self.fp_index.get(fp)

    def view(self, slot: int) -> "MetricSeries":
        return MetricSeries(self, slot)

    def fps_of(self, slots: np.ndarray) -> np.ndarray:
        return self.cols.fps[slots]

    # -- writer ----------------------------------------------------------------------------
    def append_scrape(self, slots: np.ndarray, ts: np.ndarray, vals: np.ndarray) -> int:
        """Samples newer than each series' newest, each series at most once. Returns bytes."""
        n = len(slots)
        if n == 0:
            return 0
        cols = self.cols
        t0 = int(ts[0])
        uniform = bool((ts == t0).all())
        cols.newest[slots] = ts
        cols.max_t[slots] = ts
        cols.min_t[slots] = np.minimum(cols.min_t[slots], ts)  # each slot once: no .at needed
        key = (n, int(slots[0]), int(slots[-1]))
        run = self._runs.get(key)
        grown = 0
        if run is None or not (run.slots is slots or np.array_equal(run.slots, slots)):
            run = _Run(np.array(slots, dtype=np.int64), _RUN_ROWS)
            grown = run.nbytes()
            self._runs[key] = run
            chunks, runs = self.state
            self.state = (chunks, runs + (run,))
        grown += run.add(t0, None if uniform else ts, vals)
        self.staged += n
        self.samples += n
        self.staged_bytes += grown
        return grown

    def append_loose(self, slots: np.ndarray, ts: np.ndarray, vals: np.ndarray) -> int:
        """Samples of any order (already checked); `slots` may repeat. Returns bytes."""
        n = len(slots)
        if n == 0:
            return 0
        cols = self.cols
        np.maximum.at(cols.newest, slots, ts)
        np.maximum.at(cols.max_t, slots, ts)
        np.minimum.at(cols.min_t, slots, ts)
        grown = 0
        if self._loose is None:
            self._loose = _Loose()
            grown = 24 * len(self._loose.slots)
            chunks, runs = self.state
            self.state = (chunks, runs + (self._loose,))
        grown += self._loose.add(slots, ts, vals)
        self.staged += n
        self.samples += n
        self.staged_bytes += grown
        return grown

    def stage(self, slots: np.ndarray, ts: np.ndarray, vals: np.ndarray) -> int:
        """Stage checked samples: as a scrape when each series comes once and newer than its
        data, otherwise as loose samples. Folds when the staging is full. Returns bytes."""
        cols = self.cols
        if bool((ts > cols.max_t[slots]).all()) and _unique(cols.mark, slots):
            added = self.append_scrape(slots, ts, vals)
        else:
            added = self.append_loose(slots, ts, vals)
        if self.fold_due():
            added += self.fold()
        return added

    def fold_due(self) -> bool:
        return self.staged >= max(_FOLD_MIN, FOLD_SAMPLES_PER_SERIES * self.n)

    def fold(self) -> int:
        """Pack everything staged into group chunks. Returns the change in bytes held."""
        chunks, runs = self.state
        if not runs:
            return 0
        before = self.chunk_bytes
        staged_bytes = self.staged_bytes
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        for r in runs:
            if isinstance(r, _Run):
                if r.count:
                    parts.append(_matrix_series_major(r.slots, *r.matrices()))
            elif r.count:
                sl, ts, vs = r.columns()
                order = np.lexsort((ts, sl))
                sl, ts, vs = sl[order], ts[order], vs[order]
                uniq, first = np.unique(sl, return_index=True)
                offsets = np.append(first, len(sl)).astype(np.int64)
                parts.append((uniq, offsets, ts, vs))
        new = dict(chunks)
        for uniq, offsets, ts, vs in parts:
            groups = uniq // GROUP_SLOTS
            cuts = np.nonzero(np.diff(groups))[0] + 1
            bounds = [0, *cuts.tolist(), len(uniq)]
            for a, b in zip(bounds[:-1], bounds[1:]):
                lo, hi = int(offsets[a]), int(offsets[b])
                if hi == lo:
                    continue
                c = GroupChunk.make(self._next_cid, uniq[a:b], offsets[a : b + 1] - lo, ts[lo:hi], vs[lo:hi])
                self._next_cid += 1
                g = int(groups[a])
                new[g] = new.get(g, ()) + (c,)
                self.chunk_bytes += c.nbytes()
        self.state = (new, ())
        self._runs = {}
        self._loose = None
        self.staged = 0
        self.staged_bytes = 0
        del parts, runs
        if _TRIM is not None:
            _TRIM(0)
        return self.chunk_bytes - before - staged_bytes

    # -- readers ---------------------------------------------------------------------------
    def _decoded(self, c: GroupChunk) -> tuple[np.ndarray, np.ndarray]:
        with self._cache_lock:
            got = self._cache.get(c.cid)
            if got is not None:
                self._cache.move_to_end(c.cid)
                return got
        got = unpack_group(c.data, c.offsets_array())
        with self._cache_lock:
            self._cache[c.cid] = got
            while len(self._cache) > _DECODE_CACHE:
                self._cache.popitem(last=False)
        return got

    def sample_parts(self, slot: int, start: int, end: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """The series' samples in [start, end]: time-sorted runs (chunks, then staging)."""
        return self.samples_for([slot], start, end)[slot]

    def samples_for(
        self, slots: Sequence[int], start: int, end: int
    ) -> dict[int, list[tuple[np.ndarray, np.ndarray]]]:
        """`sample_parts` for many series at once: chunk by chunk, so a query over thousands
        of series decodes each group chunk once instead of once per series."""
        want = np.unique(np.asarray(slots, dtype=np.int64))
        out: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {s: [] for s in want.tolist()}
        if not len(want):
            return out
        chunks, runs = self.state
        groups = want // GROUP_SLOTS
        gids, gstart = np.unique(groups, return_index=True)
        gend = np.append(gstart[1:], len(want))
        for g, a, b in zip(gids.tolist(), gstart.tolist(), gend.tolist()):
            mine = want[a:b]
            for c in chunks.get(g, ()):
                if c.max_t < start or c.min_t > end:
                    continue
                hits = [(slot, i) for slot in mine.tolist() if (i := c.position(slot)) >= 0]
                if not hits:
                    continue
                ts, vs = self._decoded(c)
                for slot, i in hits:
                    lo, hi = c.span(i)
                    out[slot].append(_clip(ts[lo:hi], vs[lo:hi], start, end))
        for r in runs:
            if isinstance(r, _Run):
                vals, tsm, row_ts = r.matrices()
                if not len(row_ts):
                    continue
                lo_i, hi_i = np.searchsorted(want, [r.lo, r.hi + 1])
                for slot in want[lo_i:hi_i].tolist():
                    i = r.position(slot)
                    if i >= 0:
                        ts = tsm[:, i].copy() if tsm is not None else np.array(row_ts, dtype=np.int64)
                        out[slot].append(_clip(ts, vals[:, i].copy(), start, end))
            else:
                sl, ts, vs = r.columns()
                m = np.isin(sl, want)
                if not bool(m.any()):
                    continue
                sl, ts, vs = sl[m], ts[m], vs[m]
                order = np.lexsort((ts, sl))
                sl, ts, vs = sl[order], ts[order], vs[order]
                uniq, first = np.unique(sl, return_index=True)
                ends = np.append(first[1:], len(sl))
                for slot, a, b in zip(uniq.tolist(), first.tolist(), ends.tolist()):
                    out[slot].append(_clip(ts[a:b], vs[a:b], start, end))
        return out

    def select(self, matchers: Sequence[Matcher]) -> set[int]:
        return select(self.postings, matchers)

    def export(self) -> Iterator[tuple[int, Labels, np.ndarray, np.ndarray]]:
        """Every series with samples, slot by slot, for writing a block: (fp, labels, ts, vals).
        Folds first, then decodes each group's chunks once."""
        self.fold()
        chunks, _ = self.state
        fps = self.cols.fps
        for g in sorted(chunks):
            per_slot: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
            for c in chunks[g]:
                offsets = c.offsets_array()
                ts, vs = unpack_group(c.data, offsets)
                offs = offsets.tolist()
                for i, slot in enumerate(c.slot_list()):
                    per_slot.setdefault(slot, []).append(
                        (ts[offs[i] : offs[i + 1]], vs[offs[i] : offs[i + 1]])
                    )
            for slot in sorted(per_slot):
                # Parts are sorted each, but not always in order of one another: a fold packs
                # its loose samples apart from its scrape rows.
                t, v = merge_sorted_parts(per_slot[slot])
                yield int(fps[slot]), self.labels[slot], t, v

    def nbytes(self) -> int:
        return self.chunk_bytes + self.staged_bytes + SERIES_OVERHEAD * self.n


class MetricSeries:
    """A view of one slot with the interface the readers and the block writer expect of a head
    series. Views are made on demand; two views of one slot are interchangeable."""

    __slots__ = ("store", "slot")
    kind = SeriesKind.METRIC

    def __init__(self, store: MetricStore, slot: int):
        self.store = store
        self.slot = slot

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MetricSeries) and other.store is self.store and other.slot == self.slot

    def __hash__(self) -> int:
        return hash((id(self.store), self.slot))

    @property
    def fp(self) -> int:
        return int(self.store.cols.fps[self.slot])

    @property
    def labels(self) -> Labels:
        return self.store.labels[self.slot]

    @property
    def min_t(self) -> int:
        return int(self.store.cols.min_t[self.slot])

    @property
    def max_t(self) -> int:
        return int(self.store.cols.max_t[self.slot])

    @property
    def newest(self) -> int:
        return int(self.store.cols.newest[self.slot])

    def sample_arrays(self, start: int, end: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return iter(self.store.sample_parts(self.slot, start, end))

    def all_samples(self) -> tuple[np.ndarray, np.ndarray]:
        return merge_sorted_parts(list(self.sample_arrays(_INT64_MIN, _INT64_MAX)))

    def append_samples(self, ts: np.ndarray, vals: np.ndarray) -> int:
        """Checked samples of this series, any order (WAL replay and the general path)."""
        ts = np.asarray(ts, dtype=np.int64)
        slots = np.full(len(ts), self.slot, dtype=np.int64)
        return self.store.append_loose(slots, ts, np.asarray(vals, dtype=np.float64))


def merge_sorted_parts(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Merge sorted runs into one sorted run; for equal timestamps the later run wins."""
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return np.empty(0, np.int64), np.empty(0, np.float64)
    if len(parts) == 1:
        return parts[0]
    ts = np.concatenate([p[0] for p in parts])
    vals = np.concatenate([p[1] for p in parts])
    if bool((ts[1:] > ts[:-1]).all()):
        return ts, vals
    order = np.argsort(ts, kind="stable")
    ts, vals = ts[order], vals[order]
    keep = np.ones(len(ts), dtype=bool)
    keep[:-1] = ts[1:] != ts[:-1]
    return ts[keep], vals[keep]


def _clip(ts: np.ndarray, vals: np.ndarray, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    if len(ts) == 0 or (int(ts[0]) >= start and int(ts[-1]) <= end):
        return ts, vals
    lo = int(np.searchsorted(ts, start, side="left"))
    hi = int(np.searchsorted(ts, end, side="right"))
    return ts[lo:hi], vals[lo:hi]


def _unique(scratch: np.ndarray, slots: np.ndarray) -> bool:
    """Whether no slot repeats, using a per-slot scratch column (no sort)."""
    if len(slots) < 2:
        return True
    idx = np.arange(len(slots), dtype=np.int32)
    scratch[slots] = idx
    return bool((scratch[slots] == idx).all())


def _matrix_series_major(
    slots: np.ndarray, vals: np.ndarray, ts: np.ndarray | None, row_ts: list[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A run's rows as (sorted slots, offsets, ts, values), series-major: k samples per slot."""
    k, m = vals.shape
    if ts is None:
        ts = np.broadcast_to(np.array(row_ts, dtype=np.int64)[:, None], (k, m))
    if m > 1 and not bool((slots[1:] > slots[:-1]).all()):
        order = np.argsort(slots, kind="stable")
        slots, vals, ts = slots[order], vals[:, order], ts[:, order]
    offsets = np.arange(0, (m + 1) * k, k, dtype=np.int64)
    return slots, offsets, np.ascontiguousarray(ts.T).reshape(-1), np.ascontiguousarray(vals.T).reshape(-1)
