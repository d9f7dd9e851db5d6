"""One target's scrape cache: exposition series text -> the labels stored, and staleness.

Prometheus keeps, per target, a map from each series' text as exposed to its final label set
(target labels merged per `honor_labels`, then `metric_relabel_configs`), or a mark that the
series is dropped. Heron does the same, so a steady-state scrape does no label work in Python:
the lookups are `map` and set operations that run in C, and only a series never seen before
costs a parse of its labels and a relabeling.

The same cache tracks which series the previous scrape had, to write staleness markers
(`STALE_NAN`) for those that vanished. Series with an explicit timestamp are not tracked, as
in Prometheus (their staleness is the exposer's business).
"""

from __future__ import annotations

import itertools
import operator
from dataclasses import dataclass
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
    """Not thread-safe: one scrape loop uses it, one scrape at a time."""

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
        self._entries: dict[bytes, Labels] = {}
        self._dropped: set[bytes] = set()
        self._prev: set[bytes] = set()  # series of the last successful scrape, for staleness
        self._ref_of: dict[bytes, int] = {}  # storage's series refs, when the sink has them

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def known(self) -> Container[bytes]:
        """Series texts this target exposed before (the parser validated them then, so it may
        skip them now: `parse_exposition(..., known=)`)."""
        return self._entries

    def _final(self, key: bytes) -> Labels:
        s = self.settings
        merged = merge_target_labels(dict(self._series_labels(key)), self.target_labels, s.honor_labels)
        if s.metric_relabel_configs:
            relabeled = self._relabel(merged, s.metric_relabel_configs)
            if relabeled is None:
                return _DROPPED
            merged = relabeled
        labels = tuple(sorted(item for item in merged.items() if item[1]))  # labels_from, inlined
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

    def process(
        self, series: list[bytes], values: np.ndarray, timestamps: np.ndarray, ts_ms: int, no_timestamp: int
    ) -> ProcessedScrape:
        """One parsed body at scrape time `ts_ms` -> the columns to store. Raises LabelError
        or SampleLimitError (nothing of the body is to be stored then; `fail()` gives the
        staleness markers a failed scrape writes)."""
        entries = self._entries
        seen = set(series)
        misses = seen.difference(entries)
        series_added = 0
        new_keys: list[bytes] = []
        for key in misses:  # only series never seen before (or evicted) cost Python work
            final = self._final(key)
            entries[key] = final
            if final:
                series_added += 1
                new_keys.append(key)
            else:
                self._dropped.add(key)
        total = len(series)
        labels = list(map(entries.__getitem__, series))
        vals = np.asarray(values, dtype=np.float64)
        if self.settings.honor_timestamps:
            ts = np.asarray(timestamps, dtype=np.int64)
            explicit = ts != no_timestamp
            any_explicit = bool(explicit.any())
            ts = np.where(explicit, ts, np.int64(ts_ms)) if any_explicit else np.full(total, ts_ms, np.int64)
        else:
            explicit = None
            any_explicit = False
            ts = np.full(total, ts_ms, dtype=np.int64)
        keep: np.ndarray | None = None
        if self._dropped and not self._dropped.isdisjoint(seen):
            keep = np.fromiter(map(operator.truth, labels), dtype=bool, count=total)
            labels = list(itertools.compress(labels, keep))
            vals, ts = vals[keep], ts[keep]
        added = len(labels)
        limit = self.settings.sample_limit
        if limit > 0 and added > limit:
            stale_in = int(np.count_nonzero(vals.view(np.uint64) == np.uint64(STALE_NAN_BITS)))
            if added - stale_in > limit:
                raise SampleLimitError(total, added, min(series_added, limit))
        if any_explicit:
            assert explicit is not None
            tracked = set(itertools.compress(series, ~explicit)) - self._dropped
        else:
            tracked = seen - self._dropped if self._dropped else seen
        refs = None
        if self._series_refs is not None:
            refs = self._refs(series if keep is None else list(itertools.compress(series, keep)), new_keys)
        stale = self._prev - tracked
        if stale:
            stale_labels = [entries[k] for k in stale if entries.get(k)]
            labels.extend(stale_labels)
            ts = np.concatenate([ts, np.full(len(stale_labels), ts_ms, dtype=np.int64)])
            vals = np.concatenate([vals, np.full(len(stale_labels), STALE_NAN, dtype=np.float64)])
            if refs is not None:
                refs = np.concatenate([refs, np.full(len(stale_labels), -1, dtype=np.int64)])
        self._prev = tracked
        if len(entries) > 2 * len(seen) + 1024:
            # Bounded memory: forget series neither in this scrape nor needed for staleness.
            self._entries = {k: entries[k] for k in seen}
            self._dropped &= seen
            self._ref_of = {k: r for k, r in self._ref_of.items() if k in seen}
        return ProcessedScrape(labels, ts, vals, total, added, series_added, refs)

    def _refs(self, keys: list[bytes], new_keys: list[bytes]) -> np.ndarray | None:
        """Storage refs for the kept samples' series (`SampleColumns.refs`), so the append
        skips hashing label sets. New series get theirs at once; a probe of one known series
        per scrape notices when the storage's head was cut (its refs changed), and then this
        scrape's refs are made again, once. None (the labels path) if storage refuses."""
        assert self._series_refs is not None
        entries, ref_of = self._entries, self._ref_of
        try:
            if new_keys:
                made = self._series_refs([entries[k] for k in new_keys])
                ref_of.update(zip(new_keys, made.tolist()))
            if keys:
                probe = keys[0]
                if int(self._series_refs([entries[probe]])[0]) != ref_of.get(probe):
                    unique = list(dict.fromkeys(keys))
                    made = self._series_refs([entries[k] for k in unique])
                    self._ref_of = ref_of = dict(zip(unique, made.tolist()))
        except Exception:  # a closed or failing database: the append reports it, by labels
            return None
        return np.fromiter(map(ref_of.get, keys, itertools.repeat(-1)), dtype=np.int64, count=len(keys))

    def fail(self) -> list[Labels]:
        """A failed scrape is an empty one (Prometheus): every series of the last successful
        scrape goes stale now. Returns their labels; the cache keeps its entries."""
        stale = [self._entries[k] for k in self._prev if self._entries.get(k)]
        self._prev = set()
        return stale

    def reset(self) -> list[Labels]:
        """Forget everything (a config change that alters final labels); returns the labels
        that must be marked stale first."""
        stale = self.fail()
        self._entries.clear()
        self._dropped.clear()
        self._ref_of.clear()
        return stale
