"""An in-memory sample source for the conformance runner, shaped like `heron.storage`.

Prometheus' test files load their samples at the Unix epoch (time 0 is 1970-01-01). Heron's
storage refuses samples that old (they are far past any retention), so loading the files into
a real `Database` would silently keep nothing. This source holds the loaded series in memory
instead and answers `snapshot().samples(matchers, start_ms, end_ms)` exactly as
`heron.storage.Snapshot.samples` does: every matching series that has at least one sample in
[start, end], sorted by labels, each with its sorted int64 ms timestamps and float64 values,
staleness markers kept as `heron.model.STALE_NAN`. The engine cannot tell it from storage.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from heron.model import Labels, Matcher

__all__ = ["MemDB", "MemSnapshot"]


class MemSnapshot:
    """A read view of the series loaded so far; later loads do not change it."""

    def __init__(self, series: dict[Labels, tuple[np.ndarray, np.ndarray]]) -> None:
        self._series = sorted(series.items())

    def samples(
        self, matchers: Sequence[Matcher], start: int, end: int
    ) -> list[tuple[Labels, np.ndarray, np.ndarray]]:
        out: list[tuple[Labels, np.ndarray, np.ndarray]] = []
        for labels, (ts, vals) in self._series:
            names = dict(labels)
            if not all(m.matches(names.get(m.name, "")) for m in matchers):
                continue
            lo, hi = np.searchsorted(ts, [start, end + 1])
            if hi > lo:
                out.append((labels, ts[lo:hi].copy(), vals[lo:hi].copy()))
        return out


class MemDB:
    """What a test file's `load` commands build and `clear` empties."""

    def __init__(self) -> None:
        self._series: dict[Labels, tuple[np.ndarray, np.ndarray]] = {}

    def add(self, labels: Labels, ts: np.ndarray, vals: np.ndarray) -> None:
        """Append one series' samples. A later load of the same series adds to it; where a
        timestamp is already present the first sample stays, as TSDB keeps the first one."""
        ts = np.asarray(ts, dtype=np.int64)
        vals = np.asarray(vals, dtype=np.float64)
        if labels in self._series:
            old_ts, old_vals = self._series[labels]
            ts = np.concatenate([old_ts, ts])
            vals = np.concatenate([old_vals, vals])
        order = np.argsort(ts, kind="stable")
        ts, vals = ts[order], vals[order]
        keep = np.ones(len(ts), dtype=bool)
        keep[1:] = ts[1:] != ts[:-1]
        if len(ts):
            self._series[labels] = (ts[keep], vals[keep])

    def clear(self) -> None:
        self._series = {}

    def snapshot(self) -> MemSnapshot:
        return MemSnapshot(dict(self._series))

    def __len__(self) -> int:
        return len(self._series)
