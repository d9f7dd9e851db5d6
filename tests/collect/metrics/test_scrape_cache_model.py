"""The scrape cache against a naive model, on hypothesis-generated scrape sequences.

The cache does its work with slot numbers and numpy masks; the model does the same job with
Python sets, one sample at a time, as Prometheus' scrape loop describes it: kept samples with
their final labels and timestamps, staleness markers for tracked series that vanished, series
with explicit timestamps never tracked, relabel-dropped series never stored or marked,
`scrape_series_added` for series new to the cache, and a failed scrape marking everything of
the last successful one stale. Duplicates in one body and the cache's eviction are included
(the eviction slack is lowered so short sequences reach it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heron.collect.metrics.exposition import NO_TIMESTAMP, series_labels
from heron.collect.metrics.scrapecache import CacheSettings, ScrapeCache
from heron.model import STALE_NAN_BITS, Labels, labels_from
from heron.promconfig import RelabelConfig, relabel

TARGET: Labels = (("instance", "10.0.0.1:9100"), ("job", "node"))
DROP = RelabelConfig(source_labels=("__name__",), regex="dropped_.*", action="drop")
NAMES = [f"m_{i}" for i in range(12)] + ["dropped_a", "dropped_b"]


@dataclass
class Model:
    cache: set[bytes]
    prev: set[bytes]
    slack: int

    def final(self, key: bytes) -> Labels | None:
        name = key.decode()
        if name.startswith("dropped_"):
            return None
        return labels_from({"__name__": name, **dict(TARGET)})

    def scrape(self, keys: list[bytes], explicit: list[int | None], ts_ms: int) -> tuple[list, list, int]:
        added = len({k for k in keys if k not in self.cache and self.final(k) is not None})
        self.cache |= set(keys)
        kept = [
            (self.final(k), t if t is not None else ts_ms)
            for k, t in zip(keys, explicit)
            if self.final(k) is not None
        ]
        tracked = {k for k, t in zip(keys, explicit) if t is None and self.final(k) is not None}
        stale = [(self.final(k), ts_ms) for k in self.prev - tracked]
        self.prev = tracked
        if len(self.cache) > 2 * len(keys) + self.slack:
            self.cache = set(keys)
        return kept, stale, added

    def fail(self) -> list:
        stale = [self.final(k) for k in self.prev]
        self.prev = set()
        return stale


scrape = st.lists(
    st.tuples(st.sampled_from(NAMES), st.one_of(st.none(), st.integers(1_000, 2_000))),
    min_size=0,
    max_size=20,
)
step = st.one_of(scrape, st.just("fail"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=12), st.booleans(), st.integers(0, 8))
def test_the_cache_agrees_with_the_model(steps: list, honor_timestamps: bool, slack: int) -> None:
    cache = ScrapeCache(
        CacheSettings(honor_timestamps=honor_timestamps, metric_relabel_configs=(DROP,)),
        TARGET,
        series_labels,
        relabel,
    )
    cache.evict_slack = slack
    model = Model(set(), set(), slack)
    for n, s in enumerate(steps):
        ts_ms = 1_000_000 + n * 15_000
        if s == "fail":
            assert sorted(cache.fail()) == sorted(model.fail())
            continue
        keys = [name.encode() for name, _ in s]
        explicit = [t if honor_timestamps else None for _, t in s]
        stamps = np.array([NO_TIMESTAMP if t is None else t for _, t in s], dtype=np.int64)
        values = np.arange(len(s), dtype=np.float64)
        got = cache.process(keys, values, stamps, ts_ms, NO_TIMESTAMP)
        kept, stale, added = model.scrape(keys, explicit, ts_ms)
        bits = got.values.view(np.uint64) == np.uint64(STALE_NAN_BITS)
        rows = list(zip(got.labels, got.timestamps.tolist(), bits.tolist()))
        assert [(lab, t) for lab, t, is_stale in rows if not is_stale] == kept
        assert sorted((lab, t) for lab, t, is_stale in rows if is_stale) == sorted(stale)
        assert got.total == len(s) and got.added == len(kept) and got.series_added == added
        assert len(got.labels) == len(got.timestamps) == len(got.values)
