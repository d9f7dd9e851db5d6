"""`global`, `scrape_configs` and `remote_write` from a whole `heron.yaml` mapping, validated.

The rules are Prometheus 2.42's (`config/config.go`, `discovery/file`, `discovery/kubernetes`,
`model/relabel`, and `prometheus/common` v0.39's HTTP client config), plus the checks promtool
adds (client certificate files, static targets), so a file `promtool check config` refuses is
refused here with one line naming the key path, and nothing starts.

Where Heron does less than Prometheus it says so instead of quietly ignoring a key: service
discovery other than static, file and Kubernetes (pod, node, service, endpointslice); OAuth 2;
proxies; SigV4. Keys from later Prometheus versions that Heron implements are accepted too
(`enable_compression`, `track_timestamps_staleness`, `protobuf_message`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from heron.promconfig.fields import Fields, fail, index, join, scalar_text, type_name
from heron.promconfig.httpclient import (
    HTTP_CLIENT_KEYS,
    HTTPClient,
    check_tls_files,
    join_dir,
    parse_http_client,
)
from heron.promconfig.kubeselectors import check_field_selector, check_label_selector
from heron.promconfig.relabel import is_label_name, parse_relabel_configs
from heron.promconfig.targets import populate_labels
from heron.promconfig.types import (
    FileSDConfig,
    GlobalConfig,
    KubernetesSDConfig,
    KubernetesSelector,
    MetadataConfig,
    PromConfig,
    QueueConfig,
    RemoteWriteConfig,
    ScrapeConfig,
    StaticConfig,
)

__all__ = ["SECTION_KEYS", "KUBERNETES_ROLES", "parse_prom_config"]

SECTION_KEYS = ("global", "scrape_configs", "remote_write")

# Roles Prometheus accepts, and the ones Heron discovers.
PROMETHEUS_ROLES = ("pod", "service", "endpoints", "endpointslice", "node", "ingress")
KUBERNETES_ROLES = ("pod", "node", "service", "endpointslice")

_GLOBAL_KEYS = (
    "scrape_interval",
    "scrape_timeout",
    "evaluation_interval",
    "query_log_file",
    "external_labels",
)
_SCRAPE_KEYS = (
    "job_name",
    "honor_labels",
    "honor_timestamps",
    "params",
    "scrape_interval",
    "scrape_timeout",
    "metrics_path",
    "scheme",
    "body_size_limit",
    "sample_limit",
    "target_limit",
    "label_limit",
    "label_name_length_limit",
    "label_value_length_limit",
    "relabel_configs",
    "metric_relabel_configs",
    # Later Prometheus versions; Heron implements them.
    "enable_compression",
    "track_timestamps_staleness",
)
_SUPPORTED_SD = ("static_configs", "file_sd_configs", "kubernetes_sd_configs")
# Every other service discovery Prometheus 2.42 registers (discovery/install).
_UNSUPPORTED_SD = tuple(
    f"{name}_sd_configs"
    for name in (
        "azure",
        "consul",
        "digitalocean",
        "dns",
        "docker",
        "dockerswarm",
        "ec2",
        "eureka",
        "gce",
        "hetzner",
        "http",
        "ionos",
        "kuma",
        "lightsail",
        "linode",
        "marathon",
        "nerve",
        "nomad",
        "openstack",
        "ovhcloud",
        "puppetdb",
        "scaleway",
        "serverset",
        "triton",
        "uyuni",
        "vultr",
    )
)
_KUBE_KEYS = ("api_server", "role", "kubeconfig_file", "namespaces", "selectors", "attach_metadata")
_REMOTE_WRITE_KEYS = (
    "url",
    "remote_timeout",
    "headers",
    "write_relabel_configs",
    "name",
    "send_exemplars",
    "send_native_histograms",
    "queue_config",
    "metadata_config",
    "sigv4",
    # Later Prometheus versions: remote write 2.0.
    "protobuf_message",
)
_QUEUE_KEYS = (
    "capacity",
    "max_shards",
    "min_shards",
    "max_samples_per_send",
    "batch_send_deadline",
    "min_backoff",
    "max_backoff",
    "retry_on_http_429",
)
_PROTOBUF_MESSAGES = ("prometheus.WriteRequest", "io.prometheus.write.v2.Request")
_RESERVED_HEADERS = frozenset(
    (
        "host",
        "content-encoding",
        "content-length",
        "content-type",
        "user-agent",
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "www-authenticate",
        "accept-encoding",
        "x-prometheus-remote-write-version",
        "x-prometheus-remote-read-version",
        "x-amz-date",
        "x-amz-security-token",
        "x-amz-content-sha256",
    )
)
# file.go's patFileSDName: a path, at most one `*` in its last element, a JSON or YAML extension.
_FILE_SD_NAME_RE = re.compile(r"[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)")


def parse_prom_config(data: Mapping[str, object], source: str, base_dir: str | None = None) -> PromConfig:
    """Build a `PromConfig` from the whole YAML mapping of `heron.yaml`.

    Reads only `global`, `scrape_configs` and `remote_write` (the flat settings are
    `heron.config`'s). Relative file paths are resolved against `base_dir`, by default the
    directory of `source` (the file's path), as Prometheus does; heron makes that directory
    absolute, so a path means the same to every part that later opens it. Raises `ConfigError`.
    """
    if base_dir is None:
        base_dir = os.path.dirname(os.path.abspath(source))
    glob = _parse_global(data.get("global"), source)
    scrape_configs: list[ScrapeConfig] = []
    jobs: set[str] = set()
    raw_scrape = data.get("scrape_configs")
    if raw_scrape is not None and not isinstance(raw_scrape, list):
        fail("scrape_configs", f"want a list of scrape configs, got a {type_name(raw_scrape)}", source)
    for i, item in enumerate(raw_scrape or ()):
        path = index("scrape_configs", i)
        if item is None:
            fail(path, "empty or null scrape config section", source)
        cfg = _parse_scrape(item, path, source, glob, base_dir)
        if cfg.job_name in jobs:
            fail(
                join(path, "job_name"),
                f'found multiple scrape configs with job name "{cfg.job_name}"',
                source,
            )
        jobs.add(cfg.job_name)
        scrape_configs.append(cfg)
    remote_write: list[RemoteWriteConfig] = []
    names: set[str] = set()
    raw_rw = data.get("remote_write")
    if raw_rw is not None and not isinstance(raw_rw, list):
        fail("remote_write", f"want a list of remote write configs, got a {type_name(raw_rw)}", source)
    for i, item in enumerate(raw_rw or ()):
        path = index("remote_write", i)
        if item is None:
            fail(path, "empty or null remote write config section", source)
        rw = _parse_remote_write(item, path, source, base_dir)
        if rw.name and rw.name in names:
            fail(join(path, "name"), f'found multiple remote write configs with job name "{rw.name}"', source)
        names.add(rw.name)
        remote_write.append(rw)
    return PromConfig(global_=glob, scrape_configs=tuple(scrape_configs), remote_write=tuple(remote_write))


def _label_set(f: Fields, key: str) -> dict[str, str]:
    labels = f.string_map(key)
    for name in labels:
        if not is_label_name(name):
            fail(join(f.at(key), name), f'"{name}" is not a valid label name', f.source)
    return labels


def _parse_global(value: object, source: str) -> GlobalConfig:
    default = GlobalConfig()
    if value is None:
        return default
    f = Fields(value, "global", source, _GLOBAL_KEYS)
    interval = f.duration("scrape_interval") or default.scrape_interval
    timeout = f.duration("scrape_timeout")
    if timeout > interval:
        f.fail("scrape_timeout", "global scrape timeout greater than scrape interval")
    if timeout == 0:
        timeout = min(default.scrape_timeout, interval)
    return GlobalConfig(
        scrape_interval=interval,
        scrape_timeout=timeout,
        evaluation_interval=f.duration("evaluation_interval") or default.evaluation_interval,
        query_log_file=f.string("query_log_file"),
        external_labels=_label_set(f, "external_labels"),
    )


def _parse_params(f: Fields) -> dict[str, tuple[str, ...]]:
    raw = f.raw("params")
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        f.fail("params", f"want a mapping of parameter names to lists, got a {type_name(raw)}")
    out: dict[str, tuple[str, ...]] = {}
    for key, values in raw.items():
        name = scalar_text(key)
        if name is None:
            fail(join(f.at("params"), str(key)), "keys must be strings", f.source)
        out[name] = Fields({name: values}, f.at("params"), f.source, (name,)).string_list(name)
    return out


def _parse_scrape(item: object, path: str, source: str, glob: GlobalConfig, base_dir: str) -> ScrapeConfig:
    f = Fields(item, path, source, _SCRAPE_KEYS + HTTP_CLIENT_KEYS + _SUPPORTED_SD + _UNSUPPORTED_SD)
    job_name = f.string("job_name")
    if not job_name:
        f.fail("job_name", "job_name is empty")
    http = parse_http_client(f, base_dir)
    if http.authorization is not None and http.authorization.credentials_file:
        if not os.path.isfile(http.authorization.credentials_file):
            key = "bearer_token_file" if f.has("bearer_token_file") else "authorization.credentials_file"
            f.fail(
                key,
                "error checking authorization credentials or bearer token file "
                f'"{http.authorization.credentials_file}": no such file',
            )
    check_tls_files(f, http.tls_config)
    for key in _UNSUPPORTED_SD:
        if f.has(key):
            f.fail(
                key,
                f"{key} is not supported by Heron; "
                "use static_configs, file_sd_configs or kubernetes_sd_configs",
            )
    scheme = f.string("scheme", "http")
    if scheme not in ("http", "https"):
        f.fail("scheme", f'invalid scheme "{scheme}": want http or https')

    interval = f.duration("scrape_interval") or glob.scrape_interval
    timeout = f.duration("scrape_timeout")
    if timeout > interval:
        f.fail(
            "scrape_timeout",
            f'scrape timeout greater than scrape interval for scrape config with job name "{job_name}"',
        )
    if timeout == 0:
        timeout = interval if glob.scrape_timeout > interval else glob.scrape_timeout

    relabel_configs = parse_relabel_configs(f, "relabel_configs", "target")
    static_configs = _parse_static(f)
    if not relabel_configs:
        for j, group in enumerate(static_configs):
            for k, target in enumerate(group.targets):
                if "/" in target:
                    fail(
                        index(join(index(f.at("static_configs"), j), "targets"), k),
                        f'"{target}" is not a valid hostname',
                        source,
                    )
    cfg = ScrapeConfig(
        job_name=job_name,
        scrape_interval=interval,
        scrape_timeout=timeout,
        metrics_path=f.string("metrics_path", "/metrics"),
        scheme=scheme,
        params=_parse_params(f),
        honor_labels=f.boolean("honor_labels"),
        honor_timestamps=f.boolean("honor_timestamps", True),
        track_timestamps_staleness=f.boolean("track_timestamps_staleness"),
        sample_limit=f.uint("sample_limit"),
        label_limit=f.uint("label_limit"),
        label_name_length_limit=f.uint("label_name_length_limit"),
        label_value_length_limit=f.uint("label_value_length_limit"),
        target_limit=f.uint("target_limit"),
        body_size_limit=f.size("body_size_limit"),
        enable_compression=f.boolean("enable_compression", True),
        basic_auth=http.basic_auth,
        authorization=http.authorization,
        tls_config=http.tls_config,
        follow_redirects=http.follow_redirects,
        enable_http2=http.enable_http2,
        static_configs=static_configs,
        file_sd_configs=_parse_file_sd(f, base_dir),
        kubernetes_sd_configs=_parse_kubernetes_sd(f, base_dir),
        relabel_configs=relabel_configs,
        metric_relabel_configs=parse_relabel_configs(f, "metric_relabel_configs", "metric"),
    )
    _check_static_targets(cfg, f)
    return cfg


def _check_static_targets(cfg: ScrapeConfig, f: Fields) -> None:
    """promtool builds every static target; one that fails (e.g. relabeled into a bad
    interval) fails the check."""
    for j, group in enumerate(cfg.static_configs):
        for k, target in enumerate(group.targets):
            _, _, error = populate_labels(group.labels, {"__address__": target}, cfg)
            if error is not None:
                fail(index(join(index(f.at("static_configs"), j), "targets"), k), error, f.source)


def _parse_static(f: Fields) -> tuple[StaticConfig, ...]:
    out = []
    for path, item in f.items("static_configs"):
        if item is None:
            fail(path, "empty or null section in static_configs", f.source)
        g = Fields(item, path, f.source, ("targets", "labels"))
        out.append(StaticConfig(targets=g.string_list("targets"), labels=_label_set(g, "labels")))
    return tuple(out)


def _parse_file_sd(f: Fields, base_dir: str) -> tuple[FileSDConfig, ...]:
    out = []
    for path, item in f.items("file_sd_configs"):
        if item is None:
            fail(path, "empty or null section in file_sd_configs", f.source)
        s = Fields(item, path, f.source, ("files", "refresh_interval"))
        files = s.string_list("files")
        if not files:
            s.fail("files", "file service discovery config must contain at least one path name")
        for k, name in enumerate(files):
            if not _FILE_SD_NAME_RE.fullmatch(name):
                fail(index(s.at("files"), k), f'path name "{name}" is not valid for file discovery', f.source)
        refresh = s.duration("refresh_interval", 300.0)
        out.append(FileSDConfig(files=tuple(join_dir(base_dir, n) for n in files), refresh_interval=refresh))
    return tuple(out)


def _parse_kubernetes_sd(f: Fields, base_dir: str) -> tuple[KubernetesSDConfig, ...]:
    out = []
    for path, item in f.items("kubernetes_sd_configs"):
        if item is None:
            fail(path, "empty or null section in kubernetes_sd_configs", f.source)
        k = Fields(item, path, f.source, _KUBE_KEYS + HTTP_CLIENT_KEYS)
        role = k.string("role")
        if not role:
            k.fail("role", "role missing (one of: pod, service, endpoints, endpointslice, node, ingress)")
        if role not in PROMETHEUS_ROLES:
            k.fail("role", f'unknown Kubernetes SD role "{role}"')
        http = parse_http_client(k, base_dir)
        api_server = k.string("api_server")
        has_api_server = k.raw("api_server") is not None
        kubeconfig = join_dir(base_dir, k.string("kubeconfig_file"))
        if has_api_server:
            parts = urlsplit(api_server)
            if api_server and (parts.scheme not in ("http", "https") or not parts.netloc):
                k.fail("api_server", f'invalid URL "{api_server}": want http(s)://host:port')
        custom_http = http != HTTPClient()
        if has_api_server and kubeconfig:
            k.fail("kubeconfig_file", "cannot use 'kubeconfig_file' and 'api_server' simultaneously")
        if kubeconfig and custom_http:
            k.fail(
                "kubeconfig_file",
                "cannot use a custom HTTP client configuration together with 'kubeconfig_file'",
            )
        if not has_api_server and custom_http:
            k.fail(
                "api_server",
                "to use custom HTTP client configuration please provide the 'api_server' URL explicitly",
            )
        names: tuple[str, ...] = ()
        own = False
        if k.raw("namespaces") is not None:
            n = Fields(k.raw("namespaces"), k.at("namespaces"), f.source, ("own_namespace", "names"))
            names = n.string_list("names")
            own = n.boolean("own_namespace")
        if has_api_server and own:
            k.fail("namespaces", "cannot use 'api_server' and 'namespaces.own_namespace' simultaneously")
        if kubeconfig and own:
            k.fail("namespaces", "cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously")
        selectors = _parse_selectors(k, role)
        attach_node = False
        if k.raw("attach_metadata") is not None:
            a = Fields(k.raw("attach_metadata"), k.at("attach_metadata"), f.source, ("node",))
            attach_node = a.boolean("node")
        if role not in KUBERNETES_ROLES:
            k.fail(
                "role",
                f'role "{role}" is valid in Prometheus but Heron discovers only pod, node, service and '
                "endpointslice" + (" (use endpointslice)" if role == "endpoints" else ""),
            )
        check_tls_files(k, http.tls_config)  # promtool checks the SD's client certificate too
        out.append(
            KubernetesSDConfig(
                role=role,
                api_server=api_server,
                kubeconfig_file=kubeconfig,
                namespaces_names=names,
                namespaces_own_namespace=own,
                selectors=selectors,
                attach_metadata_node=attach_node,
                basic_auth=http.basic_auth,
                authorization=http.authorization,
                tls_config=http.tls_config,
                follow_redirects=http.follow_redirects,
                enable_http2=http.enable_http2,
            )
        )
    return tuple(out)


_ALLOWED_SELECTORS = {
    "pod": ("pod",),
    "service": ("service",),
    "endpointslice": ("pod", "service", "endpointslice"),
    "endpoints": ("pod", "service", "endpoints"),
    "node": ("node",),
    "ingress": ("ingress",),
}


def _parse_selectors(k: Fields, role: str) -> tuple[KubernetesSelector, ...]:
    out = []
    seen: set[str] = set()
    for path, item in k.items("selectors"):
        s = Fields(item if item is not None else {}, path, k.source, ("role", "label", "field"))
        sel_role = s.string("role")
        if sel_role and sel_role not in PROMETHEUS_ROLES:
            s.fail("role", f'unknown Kubernetes SD role "{sel_role}"')
        if sel_role in seen:
            s.fail("role", f"duplicated selector role: {sel_role}")
        seen.add(sel_role)
        allowed = _ALLOWED_SELECTORS[role]
        if sel_role not in allowed:
            s.fail("role", f"{role} role supports only {', '.join(allowed)} selectors")
        label = s.string("label")
        field = s.string("field")
        try:
            check_field_selector(field)
        except ValueError as exc:
            s.fail("field", str(exc))
        try:
            check_label_selector(label)
        except ValueError as exc:
            s.fail("label", str(exc))
        out.append(KubernetesSelector(role=sel_role, label=label, field=field))
    return tuple(out)


def _parse_remote_write(item: object, path: str, source: str, base_dir: str) -> RemoteWriteConfig:
    f = Fields(item, path, source, _REMOTE_WRITE_KEYS + HTTP_CLIENT_KEYS)
    if f.raw("url") is None:
        f.fail("url", "url for remote_write is empty")
    url = f.string("url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        f.fail("url", f'invalid URL "{url}": want http(s)://host:port/path')
    write_relabel = parse_relabel_configs(f, "write_relabel_configs", "remote write")
    headers = f.string_map("headers")
    for name in headers:
        lower = name.lower()
        if lower == "authorization":
            fail(
                join(f.at("headers"), name),
                "authorization header must be changed via the basic_auth, authorization, oauth2, "
                "or sigv4 parameter",
                source,
            )
        if lower in _RESERVED_HEADERS:
            fail(join(f.at("headers"), name), f"{name} is a reserved header. It must not be changed", source)
    http = parse_http_client(f, base_dir)
    if f.raw("sigv4") is not None:
        if http.basic_auth is not None or http.authorization is not None:
            f.fail("sigv4", "at most one of basic_auth, authorization, oauth2, & sigv4 must be configured")
        f.fail("sigv4", "AWS SigV4 signing is not supported by Heron")
    message = f.string("protobuf_message", _PROTOBUF_MESSAGES[0])
    if message not in _PROTOBUF_MESSAGES:
        f.fail(
            "protobuf_message",
            f'unknown remote write protobuf message "{message}"; want one of {", ".join(_PROTOBUF_MESSAGES)}',
        )
    return RemoteWriteConfig(
        url=url,
        name=f.string("name"),
        remote_timeout=f.duration("remote_timeout", 30.0),
        headers=headers,
        write_relabel_configs=write_relabel,
        protobuf_message=message,
        send_exemplars=f.boolean("send_exemplars"),
        send_native_histograms=f.boolean("send_native_histograms"),
        basic_auth=http.basic_auth,
        authorization=http.authorization,
        tls_config=http.tls_config,
        follow_redirects=http.follow_redirects,
        enable_http2=http.enable_http2,
        queue_config=_parse_queue(f),
        metadata_config=_parse_metadata(f),
    )


def _parse_queue(f: Fields) -> QueueConfig:
    d = QueueConfig()
    raw = f.raw("queue_config")
    if raw is None:
        return d
    q = Fields(raw, f.at("queue_config"), f.source, _QUEUE_KEYS)
    return QueueConfig(
        capacity=q.integer("capacity", d.capacity),
        max_shards=q.integer("max_shards", d.max_shards),
        min_shards=q.integer("min_shards", d.min_shards),
        max_samples_per_send=q.integer("max_samples_per_send", d.max_samples_per_send),
        batch_send_deadline=q.duration("batch_send_deadline", d.batch_send_deadline),
        min_backoff=q.duration("min_backoff", d.min_backoff),
        max_backoff=q.duration("max_backoff", d.max_backoff),
        retry_on_http_429=q.boolean("retry_on_http_429"),
    )


def _parse_metadata(f: Fields) -> MetadataConfig:
    d = MetadataConfig()
    raw = f.raw("metadata_config")
    if raw is None:
        return d
    m = Fields(raw, f.at("metadata_config"), f.source, ("send", "send_interval", "max_samples_per_send"))
    return MetadataConfig(
        send=m.boolean("send", d.send),
        send_interval=m.duration("send_interval", d.send_interval),
        max_samples_per_send=m.integer("max_samples_per_send", d.max_samples_per_send),
    )
