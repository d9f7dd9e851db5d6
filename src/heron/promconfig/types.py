"""The Prometheus-shaped configuration sections of `heron.yaml`, typed.

Field names are the YAML keys, so a reader of Prometheus' configuration docs finds each one.
Durations are float seconds, sizes are int bytes; 0 means "no limit" where Prometheus says so.
`heron.promconfig.sections` builds these from YAML and is the only place that validates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Authorization",
    "BasicAuth",
    "FileSDConfig",
    "GlobalConfig",
    "KubernetesSDConfig",
    "KubernetesSelector",
    "MetadataConfig",
    "PromConfig",
    "QueueConfig",
    "RelabelConfig",
    "RemoteWriteConfig",
    "ScrapeConfig",
    "StaticConfig",
    "TLSConfig",
]


@dataclass(frozen=True)
class RelabelConfig:
    """One `relabel_configs` entry. `regex` is the user's pattern; matching anchors it
    (`^(?:regex)$`) as Prometheus does."""

    source_labels: tuple[str, ...] = ()
    separator: str = ";"
    regex: str = "(.*)"
    modulus: int = 0
    target_label: str = ""
    replacement: str = "$1"
    action: str = "replace"


@dataclass(frozen=True)
class BasicAuth:
    username: str = ""
    password: str = ""
    password_file: str = ""


@dataclass(frozen=True)
class Authorization:
    type: str = "Bearer"
    credentials: str = ""
    credentials_file: str = ""


@dataclass(frozen=True)
class TLSConfig:
    ca_file: str = ""
    ca: str = ""
    cert_file: str = ""
    key_file: str = ""
    server_name: str = ""
    insecure_skip_verify: bool = False
    min_version: str = ""  # "" (Go's default, TLS 1.2), or TLS10 | TLS11 | TLS12 | TLS13
    max_version: str = ""


@dataclass(frozen=True)
class StaticConfig:
    targets: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FileSDConfig:
    files: tuple[str, ...] = ()
    refresh_interval: float = 300.0


@dataclass(frozen=True)
class KubernetesSelector:
    role: str = ""
    label: str = ""
    field: str = ""


@dataclass(frozen=True)
class KubernetesSDConfig:
    """`kubernetes_sd_configs` entry. `api_server` empty means in-cluster (or the process's
    own Kubernetes connection, e.g. the demo's fake API)."""

    role: str = ""
    api_server: str = ""
    kubeconfig_file: str = ""
    namespaces_names: tuple[str, ...] = ()
    namespaces_own_namespace: bool = False
    selectors: tuple[KubernetesSelector, ...] = ()
    attach_metadata_node: bool = False
    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None
    tls_config: TLSConfig = field(default_factory=TLSConfig)
    follow_redirects: bool = True
    enable_http2: bool = True


@dataclass(frozen=True)
class GlobalConfig:
    scrape_interval: float = 60.0
    scrape_timeout: float = 10.0
    evaluation_interval: float = 60.0
    query_log_file: str = ""  # accepted for Prometheus compatibility; Heron keeps no query log
    external_labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ScrapeConfig:
    job_name: str
    scrape_interval: float = 60.0  # the global value when the job does not set one
    scrape_timeout: float = 10.0
    metrics_path: str = "/metrics"
    scheme: str = "http"
    params: dict[str, tuple[str, ...]] = field(default_factory=dict)
    honor_labels: bool = False
    honor_timestamps: bool = True
    track_timestamps_staleness: bool = False
    sample_limit: int = 0
    label_limit: int = 0
    label_name_length_limit: int = 0
    label_value_length_limit: int = 0
    target_limit: int = 0
    body_size_limit: int = 0
    enable_compression: bool = True
    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None
    tls_config: TLSConfig = field(default_factory=TLSConfig)
    follow_redirects: bool = True
    enable_http2: bool = True
    static_configs: tuple[StaticConfig, ...] = ()
    file_sd_configs: tuple[FileSDConfig, ...] = ()
    kubernetes_sd_configs: tuple[KubernetesSDConfig, ...] = ()
    relabel_configs: tuple[RelabelConfig, ...] = ()
    metric_relabel_configs: tuple[RelabelConfig, ...] = ()


@dataclass(frozen=True)
class QueueConfig:
    """Prometheus 2.42's defaults (later versions raised capacity and batch size)."""

    capacity: int = 2500
    max_shards: int = 200
    min_shards: int = 1
    max_samples_per_send: int = 500
    batch_send_deadline: float = 5.0
    min_backoff: float = 0.03
    max_backoff: float = 5.0
    retry_on_http_429: bool = False


@dataclass(frozen=True)
class MetadataConfig:
    send: bool = True
    send_interval: float = 60.0
    max_samples_per_send: int = 500


@dataclass(frozen=True)
class RemoteWriteConfig:
    url: str
    name: str = ""
    remote_timeout: float = 30.0
    headers: dict[str, str] = field(default_factory=dict)
    write_relabel_configs: tuple[RelabelConfig, ...] = ()
    protobuf_message: str = "prometheus.WriteRequest"  # or "io.prometheus.write.v2.Request"
    send_exemplars: bool = False
    send_native_histograms: bool = False
    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None
    tls_config: TLSConfig = field(default_factory=TLSConfig)
    follow_redirects: bool = True
    enable_http2: bool = True
    queue_config: QueueConfig = field(default_factory=QueueConfig)
    metadata_config: MetadataConfig = field(default_factory=MetadataConfig)


@dataclass(frozen=True)
class PromConfig:
    """Everything Prometheus-shaped in one file; empty when the file has none of it."""

    global_: GlobalConfig = field(default_factory=GlobalConfig)
    scrape_configs: tuple[ScrapeConfig, ...] = ()
    remote_write: tuple[RemoteWriteConfig, ...] = ()
