"""Prometheus-shaped configuration: `global`, `scrape_configs` and `remote_write`, and relabeling.

The public interface is this module's `__all__`.
"""

from heron.promconfig.types import (
    Authorization,
    BasicAuth,
    FileSDConfig,
    GlobalConfig,
    KubernetesSDConfig,
    KubernetesSelector,
    PromConfig,
    QueueConfig,
    RelabelConfig,
    RemoteWriteConfig,
    ScrapeConfig,
    StaticConfig,
    TLSConfig,
)

__all__ = [
    "Authorization",
    "BasicAuth",
    "FileSDConfig",
    "GlobalConfig",
    "KubernetesSDConfig",
    "KubernetesSelector",
    "PromConfig",
    "QueueConfig",
    "RelabelConfig",
    "RemoteWriteConfig",
    "ScrapeConfig",
    "StaticConfig",
    "TLSConfig",
]
