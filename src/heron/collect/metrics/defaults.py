"""The zero-configuration scrape jobs inside a cluster, as ordinary `ScrapeConfig`s.

Used when `heron.yaml` has no `scrape_configs` and a Kubernetes connection exists. They are
plain Prometheus jobs (Kubernetes discovery plus `relabel_configs`, in the style of
Prometheus' example Kubernetes config and its Helm chart), so they show in `/api/v1/targets`
like user jobs, and a user who wants to change one can paste it into `heron.yaml` and edit it.

The agent, on its own node (`agent_scrape_configs`):
- `kubelet`, `kubelet-cadvisor`, `kubelet-resource`: the kubelet's `/metrics`,
  `/metrics/cadvisor` and `/metrics/resource`, found through the node object (`role: node`,
  narrowed to this node by a field selector, so the port is the node's kubelet endpoint), over
  HTTPS with the service account's token and CA (settings `kubelet_scheme`,
  `kubelet_token_file`, `kubelet_insecure_skip_verify`). All three carry `job="kubelet"` and a
  `metrics_path` label, as kube-prometheus labels them, so the kubernetes-mixin dashboards work.
- `kubernetes-pods`: pods on this node (`spec.nodeName=<node>`, sent to the API server) that are
  annotated `prometheus.io/scrape: "true"`, honouring `prometheus.io/port`, `/path`, `/scheme`
  and `prometheus.io/param_<name>`.

The server (`server_scrape_configs`):
- `kubernetes-service-endpoints`: the endpointslices of services annotated the same way.

Which target a `prometheus.io/port` picks: the container port (pod job) or endpoint port
(service job) equal to it, so the series carry the `container` that serves them. Unlike the
Helm chart, which rewrites every target's address to the annotated port and lets duplicates
collapse, a port that no container declares is not scraped: declare metrics ports in the pod
spec (`containerPort`). Without the annotation, every declared port of the pod (pod job) or
every service port (service job) is scraped. Init containers and pods that are not running
(Pending, Succeeded, Failed) are skipped.

Every series gets `job`, `instance`, and, where they apply, `namespace`, `pod`, `container` and
`node` with the names and values the log streams use (`docs/metrics-labels.md`).
"""

from __future__ import annotations

import os
from dataclasses import replace

from heron.promconfig.types import (
    Authorization,
    GlobalConfig,
    KubernetesSDConfig,
    KubernetesSelector,
    RelabelConfig,
    ScrapeConfig,
    TLSConfig,
)

__all__ = [
    "ANNOTATION_PREFIX",
    "KUBELET_JOB",
    "KUBELET_PATHS",
    "PODS_JOB",
    "SERVICE_ACCOUNT_TOKEN",
    "SERVICE_ENDPOINTS_JOB",
    "agent_scrape_configs",
    "server_scrape_configs",
]

SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
ANNOTATION_PREFIX = "prometheus.io/"
KUBELET_JOB = "kubelet"
PODS_JOB = "kubernetes-pods"
SERVICE_ENDPOINTS_JOB = "kubernetes-service-endpoints"
# (job_name, metrics_path): one scrape pool per kubelet endpoint, all labelled job="kubelet".
KUBELET_PATHS: tuple[tuple[str, str], ...] = (
    ("kubelet", "/metrics"),
    ("kubelet-cadvisor", "/metrics/cadvisor"),
    ("kubelet-resource", "/metrics/resource"),
)

_M = "__meta_kubernetes_"


def _copy(source: str, target: str) -> RelabelConfig:
    """`target = source` (an empty source leaves `target` unset, as Prometheus' replace does)."""
    return RelabelConfig(source_labels=(source,), target_label=target)


def _annotation(kind: str, name: str) -> str:
    return f"{_M}{kind}_annotation_prometheus_io_{name}"


def _annotation_rules(kind: str) -> tuple[RelabelConfig, ...]:
    """keep `scrape: "true"`; `scheme`, `path` and `param_<name>` from the annotations."""
    return (
        RelabelConfig(source_labels=(_annotation(kind, "scrape"),), regex="true", action="keep"),
        RelabelConfig(
            source_labels=(_annotation(kind, "scheme"),), regex="(https?)", target_label="__scheme__"
        ),
        RelabelConfig(
            source_labels=(_annotation(kind, "path"),), regex="(.+)", target_label="__metrics_path__"
        ),
        RelabelConfig(
            regex=f"{_M}{kind}_annotation_prometheus_io_param_(.+)",
            replacement="__param_$1",
            action="labelmap",
        ),
    )


def _port_rules(kind: str, have: tuple[str, ...], default: str) -> tuple[RelabelConfig, ...]:
    """Keep the target whose port equals `prometheus.io/port`, or, without the annotation, the
    targets that have a `default` port.

    `__tmp_port` is the target's port: the last non-empty of `have`. `__tmp_want` is the
    annotation when it is a number, else the target's `default` label. `keepequal` compares them.
    """
    rules = [RelabelConfig(source_labels=(have[0],), target_label="__tmp_port")]
    rules.extend(RelabelConfig(source_labels=(h,), regex="(.+)", target_label="__tmp_port") for h in have[1:])
    rules.append(RelabelConfig(source_labels=(default,), target_label="__tmp_want"))
    rules.append(
        RelabelConfig(source_labels=(_annotation(kind, "port"),), regex=r"(\d+)", target_label="__tmp_want")
    )
    rules.append(RelabelConfig(source_labels=("__tmp_port",), target_label="__tmp_want", action="keepequal"))
    return tuple(rules)


def _pod_labels() -> tuple[RelabelConfig, ...]:
    """namespace, pod, container, node: the log streams' labels (see docs/metrics-labels.md)."""
    return (
        _copy(_M + "namespace", "namespace"),
        _copy(_M + "pod_name", "pod"),
        _copy(_M + "pod_container_name", "container"),
        _copy(_M + "pod_node_name", "node"),
    )


def _with_global(cfg: ScrapeConfig, glob: GlobalConfig) -> ScrapeConfig:
    return replace(cfg, scrape_interval=glob.scrape_interval, scrape_timeout=glob.scrape_timeout)


def agent_scrape_configs(
    node: str,
    *,
    kubelet_scheme: str = "https",
    token_file: str = SERVICE_ACCOUNT_TOKEN,
    global_: GlobalConfig | None = None,
    kubelet_insecure_skip_verify: bool = False,
) -> list[ScrapeConfig]:
    """The agent's jobs on `node`: its kubelet (three endpoints) and its annotated pods.

    The kubelet gets the bearer token in `token_file` (read at each scrape; "" sends none),
    and over https is verified with the CA in `ca.crt` beside it (the service account mount
    has both).
    `global_` gives the scrape interval and timeout (Prometheus' defaults without it).
    `kubelet_insecure_skip_verify` is for clusters whose kubelets serve self-signed certificates
    (kubeadm's default unless `serverTLSBootstrap` is on).
    """
    if not node:
        raise ValueError("agent_scrape_configs needs the node's name")
    if kubelet_scheme not in ("http", "https"):
        raise ValueError(f"kubelet_scheme must be http or https, not {kubelet_scheme!r}")
    glob = global_ or GlobalConfig()
    ca_file = os.path.join(os.path.dirname(token_file or SERVICE_ACCOUNT_TOKEN), "ca.crt")
    https = kubelet_scheme == "https"
    tls = (
        TLSConfig(ca_file=ca_file, insecure_skip_verify=kubelet_insecure_skip_verify)
        if https
        else TLSConfig()
    )
    auth = Authorization(type="Bearer", credentials_file=token_file) if token_file else None
    this_node = KubernetesSDConfig(
        role="node", selectors=(KubernetesSelector(role="node", field=f"metadata.name={node}"),)
    )
    out: list[ScrapeConfig] = []
    for job_name, path in KUBELET_PATHS:
        cfg = ScrapeConfig(
            job_name=job_name,
            metrics_path=path,
            scheme=kubelet_scheme,
            authorization=auth,
            tls_config=tls,
            kubernetes_sd_configs=(this_node,),
            relabel_configs=(
                RelabelConfig(target_label="job", replacement=KUBELET_JOB),
                _copy("__metrics_path__", "metrics_path"),
                _copy(_M + "node_name", "node"),
            ),
        )
        out.append(_with_global(cfg, glob))

    pods_here = KubernetesSDConfig(
        role="pod", selectors=(KubernetesSelector(role="pod", field=f"spec.nodeName={node}"),)
    )
    pods = ScrapeConfig(
        job_name=PODS_JOB,
        kubernetes_sd_configs=(pods_here,),
        relabel_configs=(
            *_annotation_rules("pod"),
            RelabelConfig(
                source_labels=(_M + "pod_phase",), regex="Pending|Succeeded|Failed|Completed", action="drop"
            ),
            RelabelConfig(source_labels=(_M + "pod_container_init",), regex="true", action="drop"),
            *_port_rules("pod", (_M + "pod_container_port_number",), _M + "pod_container_port_number"),
            *_pod_labels(),
        ),
    )
    out.append(_with_global(pods, glob))
    return out


def server_scrape_configs(*, global_: GlobalConfig | None = None) -> list[ScrapeConfig]:
    """The server's job: endpoints of services annotated `prometheus.io/scrape: "true"`.

    Targets carry the service's name as `service`, and the pod's labels when the endpoint is a pod.
    """
    cfg = ScrapeConfig(
        job_name=SERVICE_ENDPOINTS_JOB,
        kubernetes_sd_configs=(KubernetesSDConfig(role="endpointslice"),),
        relabel_configs=(
            *_annotation_rules("service"),
            *_port_rules(
                "service",
                (_M + "pod_container_port_number", _M + "endpointslice_port"),
                _M + "endpointslice_port",
            ),
            _copy(_M + "service_name", "service"),
            *_pod_labels(),
        ),
    )
    return [_with_global(cfg, global_ or GlobalConfig())]
