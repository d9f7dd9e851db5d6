"""The contract between target discovery and the scraper: target groups, as Prometheus has them.

A discoverer (static, file, Kubernetes) turns a `*_sd_configs` entry into target groups. Each
group has a `source` that names it uniquely within its discoverer (a file path and index, or a
Kubernetes object's `role/namespace/name`), a list of targets (each a label set holding at least
`__address__`, plus `__meta_*` labels), and labels common to all of its targets. The scraper
merges group labels under each target's own, applies `relabel_configs`, and scrapes what is left.

Discoverers run their own threads and publish whole snapshots: `groups()` returns the current
list, and `version` grows whenever it changes, so the scraper can poll cheaply without callbacks
crossing threads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["TargetGroup", "Discoverer", "StaticDiscoverer"]


@dataclass(frozen=True)
class TargetGroup:
    source: str
    targets: tuple[dict[str, str], ...]
    labels: dict[str, str] = field(default_factory=dict)


class Discoverer(Protocol):
    """What the scraper needs from one `*_sd_configs` entry."""

    @property
    def version(self) -> int:
        """Grows by at least one each time `groups()` would answer something different."""
        ...

    def groups(self) -> list[TargetGroup]:
        """The current target groups (a snapshot; the caller may keep it)."""
        ...

    def start(self) -> None:
        """Begin discovering (threads, watches). Must not block on the network."""
        ...

    def stop(self) -> None:
        """Stop and release everything `start` took; returns within a few seconds."""
        ...


class StaticDiscoverer:
    """`static_configs`: the groups never change."""

    def __init__(self, groups: list[TargetGroup]) -> None:
        self._groups = list(groups)

    @property
    def version(self) -> int:
        return 1

    def groups(self) -> list[TargetGroup]:
        return list(self._groups)

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None
