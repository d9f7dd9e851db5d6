"""Prometheus-shaped configuration: `global`, `scrape_configs` and `remote_write`, and relabeling.

The public interface is this module's `__all__`: the typed sections (`types`), the parser that
builds them from YAML (`parse_prom_config`), relabeling (`relabel`), and what turns a discovered
target into its final labels and URL (`populate_labels`, `target_url`).
"""

from heron.promconfig.relabel import relabel
from heron.promconfig.sections import KUBERNETES_ROLES, SECTION_KEYS, parse_prom_config
from heron.promconfig.targets import format_duration, populate_labels, target_url
from heron.promconfig.types import (
    Authorization,
    BasicAuth,
    FileSDConfig,
    GlobalConfig,
    KubernetesSDConfig,
    KubernetesSelector,
    MetadataConfig,
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
    "KUBERNETES_ROLES",
    "KubernetesSDConfig",
    "KubernetesSelector",
    "MetadataConfig",
    "PromConfig",
    "QueueConfig",
    "RelabelConfig",
    "RemoteWriteConfig",
    "SECTION_KEYS",
    "ScrapeConfig",
    "StaticConfig",
    "TLSConfig",
    "format_duration",
    "parse_prom_config",
    "populate_labels",
    "relabel",
    "target_url",
]
