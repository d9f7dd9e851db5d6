"""Heron's own metrics, rendered in the Prometheus text exposition format (version 0.0.4).

A few counters and histograms don't justify a client library; what matters is that names,
types and bucket semantics match what Prometheus expects when it scrapes `/metrics`.
"""

from __future__ import annotations

import bisect
import math
import threading
from typing import Callable, Iterable

from heron.model import format_labels

__all__ = ["Registry", "Counter", "Histogram", "Gauge", "format_value"]

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


def format_value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(float(v))


def _labels_text(
    names: tuple[str, ...], values: tuple[str, ...], extra: tuple[tuple[str, str], ...] = ()
) -> str:
    pairs = tuple(zip(names, values)) + extra
    return format_labels(pairs).replace(", ", ",") if pairs else ""


class _Metric:
    kind = "untyped"

    def __init__(self, name: str, help: str, labelnames: tuple[str, ...] = ()):
        self.name = name
        self.help = help
        self.labelnames = labelnames
        self._lock = threading.Lock()

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    def render(self) -> list[str]:
        raise RuntimeError("subclasses render themselves")


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name: str, help: str, labelnames: tuple[str, ...] = ()):
        super().__init__(name, help, labelnames)
        self._values: dict[tuple[str, ...], float] = {}

    def inc(self, amount: float = 1.0, *labelvalues: str) -> None:
        with self._lock:
            self._values[labelvalues] = self._values.get(labelvalues, 0.0) + amount

    def render(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return [f"{self.name}{_labels_text(self.labelnames, k)} {format_value(v)}" for k, v in items]


class Gauge(_Metric):
    """A gauge or counter read from a callback at scrape time (state owned elsewhere)."""

    def __init__(
        self,
        name: str,
        help: str,
        read: Callable[[], Iterable[tuple[tuple[str, ...], float]]],
        labelnames: tuple[str, ...] = (),
        kind: str = "gauge",
    ):
        super().__init__(name, help, labelnames)
        self._read = read
        self.kind = kind

    def render(self) -> list[str]:
        return [f"{self.name}{_labels_text(self.labelnames, k)} {format_value(v)}" for k, v in self._read()]


class Histogram(_Metric):
    kind = "histogram"

    def __init__(
        self,
        name: str,
        help: str,
        labelnames: tuple[str, ...] = (),
        buckets: tuple[float, ...] = DEFAULT_BUCKETS,
    ):
        super().__init__(name, help, labelnames)
        self.buckets = tuple(sorted(buckets))
        self._data: dict[tuple[str, ...], list[float]] = {}  # counts per bucket + [sum, count]

    def observe(self, value: float, *labelvalues: str) -> None:
        with self._lock:
            d = self._data.get(labelvalues)
            if d is None:
                d = self._data[labelvalues] = [0.0] * (len(self.buckets) + 2)
            i = bisect.bisect_left(self.buckets, value)
            if i < len(self.buckets):
                d[i] += 1
            d[-2] += value
            d[-1] += 1

    def render(self) -> list[str]:
        out: list[str] = []
        with self._lock:
            items = sorted((k, list(v)) for k, v in self._data.items())
        for key, d in items:
            cum = 0.0
            for ub, c in zip(self.buckets, d):
                cum += c
                le = (("le", format_value(ub)),)
                out.append(f"{self.name}_bucket{_labels_text(self.labelnames, key, le)} {format_value(cum)}")
            inf = (("le", "+Inf"),)
            out.append(f"{self.name}_bucket{_labels_text(self.labelnames, key, inf)} {format_value(d[-1])}")
            out.append(f"{self.name}_sum{_labels_text(self.labelnames, key)} {format_value(d[-2])}")
            out.append(f"{self.name}_count{_labels_text(self.labelnames, key)} {format_value(d[-1])}")
        return out


class Registry:
    def __init__(self) -> None:
        self._metrics: list[_Metric] = []

    def register(self, metric: _Metric) -> _Metric:
        self._metrics.append(metric)
        return metric

    def counter(self, name: str, help: str, labelnames: tuple[str, ...] = ()) -> Counter:
        m = Counter(name, help, labelnames)
        self.register(m)
        return m

    def histogram(self, name: str, help: str, labelnames: tuple[str, ...] = ()) -> Histogram:
        m = Histogram(name, help, labelnames)
        self.register(m)
        return m

    def render(self) -> str:
        lines: list[str] = []
        for m in self._metrics:
            lines += m.header()
            lines += m.render()
        return "\n".join(lines) + "\n"
