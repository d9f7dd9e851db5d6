"""The zero-configuration scrape jobs: from a fake cluster to the targets and labels they scrape.

Discovery runs against the fake API server through the real lightkube client; each discovered
target goes through `populate_labels` (relabeling) and `target_url`, as the scraper does.
"""

from __future__ import annotations

import pytest
from lightkube.resources.core_v1 import Pod

from heron.collect.logs.kube import kube_client_factory, pod_info
from heron.collect.metrics.defaults import (
    KUBELET_PATHS,
    agent_scrape_configs,
    server_scrape_configs,
)
from heron.collect.metrics.kubesd import KubernetesSD
from heron.kubefake import FakeKubeAPI, make_endpointslice, make_node, make_pod, make_service
from heron.promconfig import GlobalConfig, ScrapeConfig, populate_labels, target_url
from waiting import wait_for

NODE = "n1"
SCRAPE = {"prometheus.io/scrape": "true"}


def cluster(api: FakeKubeAPI) -> dict[str, dict]:
    """Two nodes; pods on both, annotated in every way that matters; a scraped service."""
    api.add(make_node(NODE, address="10.0.0.1", kubelet_port=10250))
    api.add(make_node("n2", address="10.0.0.2", kubelet_port=10255))
    pods = {
        # the annotated port is declared by one container: only that one is scraped
        "web": make_pod(
            "shop",
            "web-1",
            NODE,
            pod_ip="10.1.0.5",
            containers=("main", "proxy"),
            ports={"main": [("http", 8080), ("metrics", 9102)], "proxy": [("admin", 15000)]},
            annotations={**SCRAPE, "prometheus.io/port": "9102", "prometheus.io/path": "/stats"},
        ),
        # no port annotation: every declared port; scheme and a param from annotations
        "api": make_pod(
            "shop",
            "api-1",
            NODE,
            pod_ip="10.1.0.6",
            ports={"main": [("http", 8443)]},
            annotations={**SCRAPE, "prometheus.io/scheme": "https", "prometheus.io/param_format": "text"},
        ),
        # annotated port that no container declares: not scraped (documented)
        "undeclared": make_pod(
            "shop", "legacy-1", NODE, pod_ip="10.1.0.7", annotations={**SCRAPE, "prometheus.io/port": "9000"}
        ),
        "unannotated": make_pod("shop", "quiet-1", NODE, pod_ip="10.1.0.8", ports={"main": [9100]}),
        "pending": make_pod(
            "shop",
            "new-1",
            NODE,
            pod_ip="10.1.0.9",
            phase="Pending",
            ports={"main": [9100]},
            annotations=SCRAPE,
        ),
        "init": make_pod(
            "shop",
            "job-1",
            NODE,
            pod_ip="10.1.0.10",
            init_containers=("setup",),
            ports={"main": [9100], "setup": [9100]},
            annotations=SCRAPE,
        ),
        "elsewhere": make_pod(
            "shop", "web-2", "n2", pod_ip="10.2.0.5", ports={"main": [("metrics", 9102)]}, annotations=SCRAPE
        ),
    }
    for pod in pods.values():
        api.add(pod)
    api.add(
        make_service(
            "shop", "web", ports=[("http", 8080)], annotations={**SCRAPE, "prometheus.io/port": "9102"}
        )
    )
    api.add(
        make_endpointslice(
            "shop", "web-x1", "web", pods=[pods["web"], pods["elsewhere"]], ports=[("http", 8080)]
        )
    )
    api.add(make_service("shop", "api", ports=[("https", 8443)], annotations=SCRAPE))
    api.add(make_endpointslice("shop", "api-x1", "api", pods=[pods["api"]], ports=[("https", 8443)]))
    api.add(make_service("shop", "quiet", ports=[("http", 9100)]))
    api.add(
        make_endpointslice("shop", "quiet-x1", "quiet", pods=[pods["unannotated"]], ports=[("http", 9100)])
    )
    return pods


@pytest.fixture
def api(fake: FakeKubeAPI) -> FakeKubeAPI:
    return fake.start()  # the conftest's fake, stopped after the test


def scrape_targets(api: FakeKubeAPI, cfg: ScrapeConfig) -> dict[str, dict[str, str]]:
    """scrape URL -> public labels (no `__` names), for every target the job keeps."""
    (sd_cfg,) = cfg.kubernetes_sd_configs
    sd = KubernetesSD(sd_cfg, kube_client_factory(api.kubeconfig()), backoff_initial=0.02, backoff_max=0.1)
    sd.start()
    try:
        wait_for(lambda: sd.version > 0)
        out: dict[str, dict[str, str]] = {}
        for group in sd.groups():
            for target in group.targets:
                labels, _, error = populate_labels(group.labels, target, cfg)
                assert error is None
                if labels is not None:
                    url = target_url(labels, cfg.params)
                    assert url not in out, f"{url} scraped twice"
                    out[url] = {k: v for k, v in labels.items() if not k.startswith("__")}
        return out
    finally:
        sd.stop()


def test_agent_scrapes_its_kubelet(api: FakeKubeAPI) -> None:
    cluster(api)
    configs = {c.job_name: c for c in agent_scrape_configs(NODE, token_file="/sa/token")}
    assert set(configs) == {"kubelet", "kubelet-cadvisor", "kubelet-resource", "kubernetes-pods"}
    for job_name, path in KUBELET_PATHS:
        cfg = configs[job_name]
        assert cfg.authorization is not None and cfg.authorization.credentials_file == "/sa/token"
        assert cfg.tls_config.ca_file == "/sa/ca.crt"
        assert scrape_targets(api, cfg) == {
            f"https://10.0.0.1:10250{path}": {
                "job": "kubelet",
                "instance": NODE,
                "node": NODE,
                "metrics_path": path,
            }
        }
    # Only this node's object was asked for.
    assert {r.params.get("fieldSelector") for r in api.list_requests("nodes")} == {f"metadata.name={NODE}"}


def test_agent_scrapes_annotated_pods_on_its_node(api: FakeKubeAPI) -> None:
    cluster(api)
    (cfg,) = [c for c in agent_scrape_configs(NODE) if c.job_name == "kubernetes-pods"]
    targets = scrape_targets(api, cfg)
    pod = {"job": "kubernetes-pods", "namespace": "shop", "node": NODE}
    assert targets == {
        "http://10.1.0.5:9102/stats": {
            **pod,
            "pod": "web-1",
            "container": "main",
            "instance": "10.1.0.5:9102",
        },
        "https://10.1.0.6:8443/metrics?format=text": {
            **pod,
            "pod": "api-1",
            "container": "main",
            "instance": "10.1.0.6:8443",
        },
        "http://10.1.0.10:9100/metrics": {
            **pod,
            "pod": "job-1",
            "container": "main",
            "instance": "10.1.0.10:9100",
        },
    }
    # The node filter went to the API server: no other node's pod ever reached the agent.
    lists = api.list_requests("pods")
    assert lists and all(r.params["fieldSelector"] == f"spec.nodeName={NODE}" for r in lists)


def test_server_scrapes_annotated_services_endpoints(api: FakeKubeAPI) -> None:
    cluster(api)
    (cfg,) = server_scrape_configs()
    targets = scrape_targets(api, cfg)
    svc = {"job": "kubernetes-service-endpoints", "namespace": "shop"}
    assert targets == {
        # prometheus.io/port picks the pods' metrics port, which the service does not expose
        "http://10.1.0.5:9102/metrics": {
            **svc,
            "service": "web",
            "pod": "web-1",
            "container": "main",
            "node": NODE,
            "instance": "10.1.0.5:9102",
        },
        "http://10.2.0.5:9102/metrics": {
            **svc,
            "service": "web",
            "pod": "web-2",
            "container": "main",
            "node": "n2",
            "instance": "10.2.0.5:9102",
        },
        # no port annotation: the service's own endpoint port
        "http://10.1.0.6:8443/metrics": {
            **svc,
            "service": "api",
            "pod": "api-1",
            "container": "main",
            "node": NODE,
            "instance": "10.1.0.6:8443",
        },
    }


def test_metric_labels_equal_the_log_streams_labels(api: FakeKubeAPI) -> None:
    pods = cluster(api)
    (cfg,) = [c for c in agent_scrape_configs(NODE) if c.job_name == "kubernetes-pods"]
    labels = scrape_targets(api, cfg)["http://10.1.0.5:9102/stats"]
    stored = api.objects("pods")
    web = next(p for p in stored if p["metadata"]["name"] == pods["web"]["metadata"]["name"])
    info = pod_info(Pod.from_dict(web), NODE, label_allow=None, label_deny=())
    # The log tailer labels a stream with these plus `container` from the log path
    # (/var/log/pods/<namespace>_<pod>_<uid>/<container>/), which is the container's name.
    for name in ("namespace", "pod", "node"):
        assert labels[name] == info.labels[name], name
    assert labels["container"] in info.containers


def test_intervals_follow_global_and_configs_are_plain_prometheus_jobs() -> None:
    glob = GlobalConfig(scrape_interval=15.0, scrape_timeout=5.0)
    for cfg in agent_scrape_configs(NODE, global_=glob) + server_scrape_configs(global_=glob):
        assert (cfg.scrape_interval, cfg.scrape_timeout) == (15.0, 5.0)
        assert cfg.kubernetes_sd_configs and not cfg.static_configs
    (kubelet, *_) = agent_scrape_configs(NODE, kubelet_scheme="http", token_file="/demo/token")
    assert kubelet.scheme == "http" and kubelet.tls_config.ca_file == ""
    assert kubelet.authorization is not None and kubelet.authorization.credentials_file == "/demo/token"
    (kubelet, *_) = agent_scrape_configs(NODE, token_file="", kubelet_insecure_skip_verify=True)
    assert kubelet.authorization is None and kubelet.tls_config.insecure_skip_verify
    assert kubelet.tls_config.ca_file == "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
    with pytest.raises(ValueError, match="node"):
        agent_scrape_configs("")
    with pytest.raises(ValueError, match="kubelet_scheme"):
        agent_scrape_configs(NODE, kubelet_scheme="ftp")
