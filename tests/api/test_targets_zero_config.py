"""Zero configuration: a real `heron server` with no `scrape_configs`, pointed at the fake
Kubernetes API (`--kube kubeconfig`), discovers an annotated service's endpointslice through
the real lightkube client and scrapes the pod behind it, a real HTTP target on 127.0.0.1; the
targets API lists it under `kubernetes-service-endpoints` with the shared labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from heron.kubefake import FakeKubeAPI, make_endpointslice, make_pod, make_service
from scrapetarget import Response, Target
from serverproc import start_server
from waiting import wait_for

WAIT = 30.0  # discovery, then the first scrapes; a loaded machine may need many periods


@pytest.fixture
def api() -> Iterator[FakeKubeAPI]:
    fake = FakeKubeAPI().start()
    yield fake
    fake.stop()


@pytest.fixture
def target() -> Iterator[Target]:
    t = Target(Response(b"# TYPE shop_orders_total counter\nshop_orders_total 12\n"))
    yield t
    t.close()


def test_a_server_in_a_cluster_scrapes_annotated_services(
    api: FakeKubeAPI, target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = int(target.address.rsplit(":", 1)[1])
    pod = make_pod("shop", "web-1", "n1", pod_ip="127.0.0.1", ports={"main": [("metrics", port)]})
    api.add(pod)
    api.add(
        make_service("shop", "web", ports=[("metrics", port)], annotations={"prometheus.io/scrape": "true"})
    )
    api.add(make_endpointslice("shop", "web-x1", "web", pods=[pod], ports=[("metrics", port)]))
    api.add(make_service("shop", "quiet", ports=[("http", 1)]))  # not annotated: not scraped
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: fake, cluster: {{server: '{api.url}'}}}}]\n"
        "users: [{name: nobody, user: {}}]\n"
        "contexts: [{name: fake, context: {cluster: fake, user: nobody}}]\n"
        "current-context: fake\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    config = tmp_path / "heron.yaml"  # no scrape_configs: only the interval the defaults inherit
    config.write_text("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n")
    server = start_server(tmp_path / "data", "--kube", "kubeconfig", "--config", str(config))
    try:

        def scraped() -> list[dict[str, Any]] | None:
            active = httpx.get(server.url + "/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
            return active if active and all(t["health"] == "up" for t in active) else None

        (t,) = wait_for(scraped, timeout=WAIT)
        assert t["scrapePool"] == "kubernetes-service-endpoints" and t["scrapeInterval"] == "1s"
        assert t["scrapeUrl"] == f"http://127.0.0.1:{port}/metrics"
        labels = t["labels"]
        assert labels["job"] == "kubernetes-service-endpoints"
        assert labels["namespace"] == "shop" and labels["pod"] == "web-1" and labels["service"] == "web"
        assert labels["container"] == "main" and labels["node"] == "n1"
        assert t["discoveredLabels"]["__meta_kubernetes_service_annotation_prometheus_io_scrape"] == "true"
        assert target.requests, "the pod behind the service was scraped"
    finally:
        assert server.stop() == 0, server.log()
