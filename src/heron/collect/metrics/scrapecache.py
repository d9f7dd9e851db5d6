"""One target's scrape cache: exposition series text -> the labels stored, and staleness.

Prometheus keeps, per target, a map from each series' text as exposed to its final label set
(target labels merged per `honor_labels`, then `metric_relabel_configs`), or a mark that the
series is dropped. Heron does the same, so a steady-state scrape does no label work in Python:
each series text maps to a slot number with one `map` over the dict (in C), and everything
else (dropped series, storage refs, staleness) is numpy over slot arrays. Only a series never
seen before costs a parse of its labels and a relabeling.

The same cache tracks which slots the previous scrape had, to write staleness markers
(`STALE_NAN`) for those that vanished. Series with an explicit timestamp are not tracked, as
in Prometheus (their staleness is the exposer's business).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from sys import intern
from typing import Callable, Container, Mapping, Sequence

import numpy as np

from heron.model import (
    LABEL_NAME_RE,
    METRIC_NAME_RE,
    STALE_NAN,
    STALE_NAN_BITS,
    Labels,
    format_labels,
)
from heron.promconfig import RelabelConfig

__all__ = [
    "CacheSettings",
    "LabelError",
    "ScrapeCache",
    "ProcessedScrape",
    "SampleLimitError",
    "merge_target_labels",
]

_DROPPED: Labels = ()
EXPORTED_PREFIX = "exported_"


class LabelError(Exception):
    """A series whose final labels break a rule (limits, missing or invalid names): the
    whole scrape fails, as in Prometheus. `reason` is the `/metrics` counter's label."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


class SampleLimitError(Exception):
    """More samples than `sample_limit` after metric relabeling: the scrape fails, but its
    counts are still reported (`scrape_samples_scraped` etc.), as Prometheus reports them."""

    def __init__(self, total: int, added: int, series_added: int):
        super().__init__("sample limit exceeded")
        self.reason = "sample_limit"
        self.total = total
        self.added = added
        self.series_added = series_added


@dataclass(frozen=True)
class CacheSettings:
    honor_labels: bool = False
    honor_timestamps: bool = True
    sample_limit: int = 0
    label_limit: int = 0
    label_name_length_limit: int = 0
    label_value_length_limit: int = 0
    metric_relabel_configs: tuple[RelabelConfig, ...] = ()


@dataclass
class ProcessedScrape:
    """What one successful scrape stores: the kept samples and the staleness markers, plus
    the counts the synthetic series report."""

    labels: list[Labels]
    timestamps: np.ndarray
    values: np.ndarray
    total: int
    added: int
    series_added: int
    refs: np.ndarray | None = None  # storage refs beside `labels` (-1: look the labels up)


def merge_target_labels(exposed: Mapping[str, str], target: Labels, honor_labels: bool) -> dict[str, str]:
    """Prometheus' mutateSampleLabels before relabeling: with honor_labels the exposed value
    wins; otherwise the target's wins and a clashing exposed label moves to `exported_<name>`
    (more `exported_` prefixes until the name is free, shortest names first)."""
    out = dict(exposed)
    if honor_labels:
        for name, value in target:
            if name not in out:
                out[name] = value
        return out
    conflicts = [(name, out[name]) for name, _ in target if out.get(name)]
    for name, value in target:
        out[name] = value
    for name, value in sorted(conflicts, key=lambda c: len(c[0])):
        new = name
        while True:
            new = EXPORTED_PREFIX + new
            if not out.get(new):
                out[new] = value
                break
    return out


class ScrapeCache:
    """Not thread-safe: one scrape loop uses it, one scrape at a time.

    Per slot: the final labels (`()` when dropped), whether it is dropped, its storage ref
    (-1 when unknown) and whether the last successful scrape had it (for staleness)."""

    evict_slack = 1024  # the cache is cut back to one scrape's series past 2 x that + this

    def __init__(
        self,
        settings: CacheSettings,
        target_labels: Labels,
        series_labels: Callable[[bytes], Labels],
        relabel: Callable[[dict[str, str], Sequence[RelabelConfig]], dict[str, str] | None],
        series_refs: Callable[[Sequence[Labels]], np.ndarray] | None = None,
    ):
        self.settings = settings
        self._series_refs = series_refs
        self.target_labels = target_labels
        self._series_labels = series_labels
        self._relabel = relabel
        self._clear()

    def _clear(self) -> None:
        self._pairs: dict[tuple[str, str], tuple[str, str]] = {}  # one object per label pair
        self._index: dict[bytes, int] = {}
        self._labels: list[Labels] = []
        self._dropped = np.zeros(0, dtype=bool)
        self._refs = np.zeros(0, dtype=np.int64)
        self._prev = np.zeros(0, dtype=bool)  # slots of the last successful scrape
        self._ref_probe = -1  # a slot whose ref is checked each scrape (a head cut renews refs)

    def __len__(self) -> int:
        return len(self._index)

    @property
    def known(self) -> Container[bytes]:
        """Series texts this target exposed before (the parser validated them then, so it may
        skip them now: `parse_exposition(..., known=)`)."""
        return self._index

    def _final(self, key: bytes) -> Labels:
        s = self.settings
        merged = merge_target_labels(dict(self._series_labels(key)), self.target_labels, s.honor_labels)
        if s.metric_relabel_configs:
            relabeled = self._relabel(merged, s.metric_relabel_configs)
            if relabeled is None:
                return _DROPPED
            merged = relabeled
        # labels_from, inlined, with each (name, value) pair shared: a target's series share
        # most of them (`mode="user"`, the job and instance), and the cache (and storage) keep
        # them for as long as the series lives. Halves the cache's bytes per series.
        pairs = self._pairs
        labels = tuple(
            sorted(
                pairs.get(item) or pairs.setdefault(item, (intern(item[0]), intern(item[1])))
                for item in merged.items()
                if item[1]
            )
        )
        if not labels:
            return _DROPPED
        name = merged.get("__name__", "")
        if not name:
            raise LabelError("missing metric name (__name__ label)", "invalid_labels")
        # The parser checked the exposed names and populate_labels the target's; only metric
        # relabeling can make an invalid one (a replace into __name__, a labelmap).
        if s.metric_relabel_configs and (
            METRIC_NAME_RE.fullmatch(name) is None
            or any(LABEL_NAME_RE.fullmatch(k) is None for k, _ in labels if k != "__name__")
        ):
            raise LabelError(f"invalid metric name or label names: {format_labels(labels)}", "invalid_labels")
        self._check_limits(labels, name)
        return labels

    def _check_limits(self, labels: Labels, name: str) -> None:
        """Prometheus' verifyLabelLimits, with its messages (lengths in bytes)."""
        s = self.settings
        if s.label_limit > 0 and len(labels) > s.label_limit:
            raise LabelError(
                f"label_limit exceeded (metric: {name[:50]}, number of labels: {len(labels)}, "
                f"limit: {s.label_limit})",
                "label_limit",
            )
        if s.label_name_length_limit <= 0 and s.label_value_length_limit <= 0:
            return
        for k, v in labels:
            if s.label_name_length_limit > 0 and len(k.encode()) > s.label_name_length_limit:
                raise LabelError(
                    f"label_name_length_limit exceeded (metric: {name[:50]}, label name: {k[:50]}, "
                    f"length: {len(k.encode())}, limit: {s.label_name_length_limit})",
                    "label_limit",
                )
            if s.label_value_length_limit > 0 and len(v.encode()) > s.label_value_length_limit:
                raise LabelError(
                    f"label_value_length_limit exceeded (metric: {name[:50]}, label name: {k[:50]}, "
                    f'value: "{v[:50]}", length: {len(v.encode())}, limit: {s.label_value_length_limit})',
                    "label_limit",
                )

    def _grow(self, n: int) -> None:
        """Room for `n` more slots (the arrays double, so adding is amortised O(1))."""
        need = len(self._labels) + n
        if need <= len(self._dropped):
            return
        size = max(need, 2 * len(self._dropped), 64)
        for name, fill in (("_dropped", False), ("_refs", -1), ("_prev", False)):
            old = getattr(self, name)
            new = np.full(size, fill, dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def _add_misses(self, series: list[bytes], idx: np.ndarray) -> int:
        """Slots for the series this cache has not seen (Python work for these only): fills
        `idx` in place; returns how many new series are kept (not dropped)."""
        miss_pos = np.flatnonzero(idx < 0).tolist()
        if not miss_pos:
            return 0
        index = self._index
        new_keys = list(dict.fromkeys([series[i] for i in miss_pos]))
        self._grow(len(new_keys))
        added = 0
        for key in new_keys:
            final = self._final(key)  # may raise; the slots made so far stay valid
            slot = len(self._labels)
            self._labels.append(final)
            index[key] = slot
            if final:
                added += 1
            else:
                self._dropped[slot] = True
        idx[miss_pos] = [index[series[i]] for i in miss_pos]
        return added

    def process(
        self, series: list[bytes], values: np.ndarray, timestamps: np.ndarray, ts_ms: int, no_timestamp: int
    ) -> ProcessedScrape:
        """One parsed body at scrape time `ts_ms` -> the columns to store. Raises LabelError
        or SampleLimitError (nothing of the body is to be stored then; `fail()` gives the
        staleness markers a failed scrape writes)."""
        total = len(series)
        idx = np.fromiter(map(self._index.get, series, itertools.repeat(-1)), dtype=np.int64, count=total)
        series_added = self._add_misses(series, idx)
        vals = np.asarray(values, dtype=np.float64)
        explicit: np.ndarray | None = None
        if self.settings.honor_timestamps:
            ts = np.asarray(timestamps, dtype=np.int64)
            explicit = ts != no_timestamp
            if explicit.any():
                ts = np.where(explicit, ts, np.int64(ts_ms))
            else:
                explicit = None
                ts = np.full(total, ts_ms, dtype=np.int64)
        else:
            ts = np.full(total, ts_ms, dtype=np.int64)
        dropped = self._dropped[idx]
        if dropped.any():
            keep = ~dropped
            idx, vals, ts = idx[keep], vals[keep], ts[keep]
            if explicit is not None:
                explicit = explicit[keep]
        added = len(idx)
        limit = self.settings.sample_limit
        if limit > 0 and added > limit:
            stale_in = int(np.count_nonzero(vals.view(np.uint64) == np.uint64(STALE_NAN_BITS)))
            if added - stale_in > limit:
                raise SampleLimitError(total, added, min(series_added, limit))
        slots = idx.tolist()
        labels = list(map(self._labels.__getitem__, slots))
        refs = self._refs_for(idx) if self._series_refs is not None else None
        current = np.zeros(len(self._prev), dtype=bool)
        current[idx if explicit is None else idx[~explicit]] = True
        stale = np.flatnonzero(self._prev & ~current)
        if len(stale):
            stale_labels = [self._labels[i] for i in stale.tolist()]
            labels.extend(stale_labels)
            ts = np.concatenate([ts, np.full(len(stale), ts_ms, dtype=np.int64)])
            vals = np.concatenate([vals, np.full(len(stale), STALE_NAN, dtype=np.float64)])
            if refs is not None:
                refs = np.concatenate([refs, self._refs[stale]])
        self._prev = current
        if len(self._index) > 2 * total + self.evict_slack:
            self._evict(series)
        return ProcessedScrape(labels, ts, vals, total, added, series_added, refs)

    def _refs_for(self, idx: np.ndarray) -> np.ndarray | None:
        """Storage refs for the kept samples (`SampleColumns.refs`), so the append skips
        hashing label sets. Series without one (new, or refused before) ask for theirs; one
        probe per scrape notices when storage cut its head (refs changed), and then every
        slot's ref is made again, once. None (the labels path) if storage refuses."""
        assert self._series_refs is not None
        try:
            need = np.unique(idx[self._refs[idx] < 0]).tolist()  # new series, or refused before
            if need:
                self._refs[need] = self._series_refs([self._labels[i] for i in need])
            probe = self._ref_probe
            if probe < 0 or probe >= len(self._labels) or not self._labels[probe]:
                probe = self._ref_probe = int(idx[0]) if len(idx) else -1
            if probe >= 0 and int(self._series_refs([self._labels[probe]])[0]) != int(self._refs[probe]):
                live = [i for i, lab in enumerate(self._labels) if lab]
                if live:
                    self._refs[live] = self._series_refs([self._labels[i] for i in live])
        except Exception:  # a closed or failing database: the append reports it, by labels
            return None
        return self._refs[idx]

    def _evict(self, series: list[bytes]) -> None:
        """Bounded memory: forget series that neither this scrape had nor staleness needs
        (after this scrape, staleness needs only this scrape's slots)."""
        seen = np.zeros(len(self._labels), dtype=bool)
        seen[[self._index[k] for k in dict.fromkeys(series)]] = True
        keep = np.flatnonzero(seen)
        remap = np.full(len(self._labels), -1, dtype=np.int64)
        remap[keep] = np.arange(len(keep))
        self._labels = [self._labels[i] for i in keep.tolist()]
        self._dropped = self._dropped[keep].copy()
        self._refs = self._refs[keep].copy()
        self._prev = self._prev[keep].copy()
        self._index = {k: int(remap[v]) for k, v in self._index.items() if seen[v]}
        self._ref_probe = -1
        self._pairs = {}  # bounded too: pairs of forgotten series go with them

    def fail(self) -> list[Labels]:
        """A failed scrape is an empty one (Prometheus): every series of the last successful
        scrape goes stale now. Returns their labels; the cache keeps its entries."""
        stale = [self._labels[i] for i in np.flatnonzero(self._prev).tolist()]
        self._prev[:] = False
        return stale

    def reset(self) -> list[Labels]:
        """Forget everything (a config change that alters final labels); returns the labels
        that must be marked stale first."""
        stale = self.fail()
        self._clear()
        return stale
