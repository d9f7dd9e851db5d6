"""Kubernetes discovery against the fake API server, through the real lightkube client over HTTP."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from heron.collect.logs.kube import kube_client_factory
from heron.collect.metrics.discovery import TargetGroup
from heron.collect.metrics.kubesd import (
    KubernetesSD,
    connection_for,
    parse_field_selector,
    parse_label_selector,
    scrape_discoverers,
)
from heron.kubefake import FakeKubeAPI, make_endpointslice, make_node, make_pod, make_service
from heron.promconfig import Authorization, KubernetesSDConfig, KubernetesSelector, ScrapeConfig
from waiting import wait_for

DATA = Path(__file__).parent
CASES = yaml.safe_load((DATA / "kubesd_prometheus.yaml").read_text())


Factory = Callable[..., KubernetesSD]


@pytest.fixture
def discover(fake: FakeKubeAPI) -> Iterator[Factory]:
    started: list[KubernetesSD] = []

    def make(
        role: str, *, start_fake: bool = True, sd_options: dict[str, Any] | None = None, **cfg: Any
    ) -> KubernetesSD:
        if start_fake:
            fake.start()
        options: dict[str, Any] = {"backoff_initial": 0.02, "backoff_max": 0.1}
        options.update(sd_options or {})
        sd = KubernetesSD(
            KubernetesSDConfig(role=role, **cfg), kube_client_factory(fake.kubeconfig()), **options
        )
        sd.start()
        started.append(sd)
        return sd

    yield make
    for sd in started:
        sd.stop()


def by_source(sd: KubernetesSD) -> dict[str, TargetGroup]:
    return {g.source: g for g in sd.groups()}


def canonical(targets: Any) -> list[str]:
    return sorted(json.dumps(t, sort_keys=True) for t in targets)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_label_sets_equal_prometheus(case: dict[str, Any], fake: FakeKubeAPI, discover: Factory) -> None:
    for obj in case["objects"]:
        fake.add(obj)
    sd = discover(
        case["role"],
        namespaces_names=tuple(case.get("namespaces", ())),
        attach_metadata_node=case.get("attach_metadata_node", False),
    )
    wait_for(lambda: sd.version > 0)
    groups = by_source(sd)
    assert set(groups) == set(case["expected"]), case["from"]
    for source, want in case["expected"].items():
        group = groups[source]
        assert group.labels == want["labels"], source
        assert canonical(group.targets) == canonical(want["targets"]), source
    assert sd.last_error is None and sd.healthy


def test_pods_added_changed_deleted(fake: FakeKubeAPI, discover: Factory) -> None:
    sd = discover("pod")
    wait_for(lambda: sd.version > 0)
    assert sd.groups() == []
    v0 = sd.version
    fake.add_pod(make_pod("shop", "web-1", "n1", pod_ip="10.1.0.5", ports={"main": [("http", 8080)]}))
    wait_for(lambda: "pod/shop/web-1" in by_source(sd))
    assert sd.version > v0
    (target,) = by_source(sd)["pod/shop/web-1"].targets
    assert target["__address__"] == "10.1.0.5:8080"

    fake.modify_pod("shop", "web-1", lambda p: p["metadata"]["labels"].update(tier="front"))
    wait_for(
        lambda: by_source(sd)["pod/shop/web-1"].labels.get("__meta_kubernetes_pod_label_tier") == "front"
    )
    snapshot = sd.groups()
    fake.modify_pod("shop", "web-1", lambda p: p["status"].update(podIP="10.1.0.9"))
    wait_for(lambda: by_source(sd)["pod/shop/web-1"].targets[0]["__address__"] == "10.1.0.9:8080")
    assert (
        snapshot[0].targets[0]["__address__"] == "10.1.0.5:8080"
    )  # a snapshot never changes under its holder

    fake.delete_pod("shop", "web-1")
    wait_for(lambda: sd.groups() == [])
    assert len(fake.list_requests("pods")) == 1  # one list, then only the watch
    watch = fake.watch_requests("pods")[0]
    assert watch.path == "/api/v1/pods" and watch.params["allowWatchBookmarks"] == "true"


def test_unchanged_object_does_not_bump_version(fake: FakeKubeAPI, discover: Factory) -> None:
    fake.add_pod(make_pod("ns", "a", "n1", pod_ip="10.0.0.5"))
    sd = discover("pod")
    wait_for(lambda: sd.groups())
    v = sd.version
    # A change no label reflects (here: an unrelated spec field) publishes nothing new; the
    # watch delivers events in order, so once "b" is seen the change to "a" was applied.
    fake.modify_pod("ns", "a", lambda p: p["spec"].update(restartPolicy="Always"))
    fake.add_pod(make_pod("ns", "b", "n1", pod_ip="10.0.0.6"))
    wait_for(lambda: "pod/ns/b" in by_source(sd))
    assert sd.version == v + 1


def test_endpointslice_joins_service_and_pods(fake: FakeKubeAPI, discover: Factory) -> None:
    pod = make_pod("shop", "web-1", "n1", pod_ip="10.1.0.5", ports={"main": [("http", 8080)]})
    fake.add(make_endpointslice("shop", "web-abc", "web", pods=[pod], ports=[("http", 8080)]))
    sd = discover("endpointslice")
    wait_for(lambda: "endpointslice/shop/web-abc" in by_source(sd))
    group = by_source(sd)["endpointslice/shop/web-abc"]
    (target,) = group.targets
    assert target["__meta_kubernetes_endpointslice_address_target_name"] == "web-1"
    assert "__meta_kubernetes_pod_name" not in target  # the pod is not known yet
    assert "__meta_kubernetes_service_name" not in group.labels

    fake.add_pod(pod)  # the pod arrives after the slice that points at it: the slice is rebuilt
    wait_for(lambda: "__meta_kubernetes_pod_name" in by_source(sd)["endpointslice/shop/web-abc"].targets[0])
    target = by_source(sd)["endpointslice/shop/web-abc"].targets[0]
    assert target["__meta_kubernetes_pod_container_name"] == "main"

    fake.add(make_service("shop", "web", ports=[("http", 8080)], labels={"team": "a"}))
    wait_for(
        lambda: (
            by_source(sd)["endpointslice/shop/web-abc"].labels.get("__meta_kubernetes_service_name") == "web"
        )
    )
    fake.modify("services", "shop", "web", lambda s: s["metadata"]["labels"].update(team="b"))
    wait_for(
        lambda: (
            by_source(sd)["endpointslice/shop/web-abc"].labels.get("__meta_kubernetes_service_label_team")
            == "b"
        )
    )
    fake.modify_pod("shop", "web-1", lambda p: p["metadata"].setdefault("annotations", {}).update(x="1"))
    wait_for(
        lambda: (
            by_source(sd)["endpointslice/shop/web-abc"].targets[0].get("__meta_kubernetes_pod_annotation_x")
            == "1"
        )
    )
    fake.delete("services", "shop", "web")
    wait_for(
        lambda: "__meta_kubernetes_service_name" not in by_source(sd)["endpointslice/shop/web-abc"].labels
    )
    fake.delete("endpointslices", "shop", "web-abc")
    wait_for(lambda: sd.groups() == [])
    for resource in ("endpointslices", "services", "pods"):  # it watches all three, as Prometheus does
        assert fake.watch_requests(resource), resource
    assert fake.watch_requests("endpointslices")[0].path == "/apis/discovery.k8s.io/v1/endpointslices"


def test_410_gone_mid_watch_relists(
    fake: FakeKubeAPI, discover: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="heron.collect.metrics.kubesd")
    fake.add_pod(make_pod("ns", "a", "n1", pod_ip="10.0.0.1"))
    sd = discover("pod")
    wait_for(lambda: "pod/ns/a" in by_source(sd))
    wait_for(lambda: fake.watch_requests("pods"))
    fake.set_down(True)
    fake.delete_pod("ns", "a")  # its DELETED event is lost with the history
    fake.add_pod(make_pod("ns", "b", "n1", pod_ip="10.0.0.2"))
    fake.expire_history()
    fake.set_down(False)
    wait_for(lambda: set(by_source(sd)) == {"pod/ns/b"})
    assert len(fake.list_requests("pods")) == 2
    assert any(r.getMessage() == "kubernetes watch history expired, re-listing" for r in caplog.records)
    # The watch after the re-list resumes from the new list's version.
    wait_for(
        lambda: fake.watch_requests("pods")[-1].params.get("resourceVersion") == str(fake.resource_version)
    )


def test_410_on_a_live_stream(fake: FakeKubeAPI, discover: Factory) -> None:
    sd = discover("service")
    wait_for(lambda: fake.watch_requests("services"))
    fake.add(make_service("ns", "one"))
    wait_for(lambda: "svc/ns/one" in by_source(sd))
    fake.add(make_service("ns", "two"))
    fake.expire_history()  # too late for a watch that is streaming: only a resumed one sees 410
    fake.close_watches()
    wait_for(lambda: len(fake.list_requests("services")) >= 2)
    wait_for(lambda: set(by_source(sd)) == {"svc/ns/one", "svc/ns/two"})


def test_api_down_and_back(fake: FakeKubeAPI, discover: Factory, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="heron.collect.metrics.kubesd")
    fake.add(make_node("n1", address="10.0.0.1"))
    sd = discover("node")
    wait_for(lambda: "node/n1" in by_source(sd))
    fake.set_down(True)
    wait_for(lambda: sd.last_error is not None)
    assert not sd.healthy
    assert "node/n1" in by_source(sd)  # what was known stays published
    fake.add(make_node("n2", address="10.0.0.2"))
    fake.set_down(False)
    wait_for(lambda: "node/n2" in by_source(sd))
    wait_for(lambda: sd.last_error is None and sd.healthy)
    assert len(fake.list_requests("nodes")) == 1  # history was kept: the watch simply resumed
    warning = next(r for r in caplog.records if r.levelno == logging.WARNING)
    assert warning.fields["resource"] == "node"  # type: ignore[attr-defined]


def test_api_down_at_start(fake: FakeKubeAPI, discover: Factory) -> None:
    fake.start(down=True)
    fake.add_pod(make_pod("ns", "a", "n1", pod_ip="10.0.0.1"))
    sd = discover("pod", start_fake=False)
    wait_for(lambda: sd.last_error is not None)
    wait_for(lambda: sd.version > 0)  # a failed first list still publishes (an empty snapshot)
    assert sd.groups() == []
    fake.set_down(False)
    wait_for(lambda: "pod/ns/a" in by_source(sd))


def test_forbidden_then_fixed(fake: FakeKubeAPI, discover: Factory) -> None:
    fake.add(make_service("ns", "web"))
    fake.set_forbidden(True, resources={"services"})
    sd = discover("service")
    wait_for(lambda: sd.last_error is not None)
    assert "forbidden" in (sd.last_error or "")
    wait_for(lambda: len(fake.list_requests("services")) >= 3)  # keeps retrying
    fake.set_forbidden(False)
    wait_for(lambda: "svc/ns/web" in by_source(sd))
    wait_for(lambda: sd.last_error is None)


def test_namespaces_and_own_namespace_reach_the_api(
    fake: FakeKubeAPI, discover: Factory, tmp_path: Path
) -> None:
    own = tmp_path / "namespace"
    own.write_text("mine\n")
    for ns in ("a", "mine", "other"):
        fake.add(make_service(ns, "web"))
    sd = discover(
        "service",
        namespaces_names=("a",),
        namespaces_own_namespace=True,
        sd_options={"own_namespace_file": str(own)},
    )
    wait_for(lambda: set(by_source(sd)) == {"svc/a/web", "svc/mine/web"})
    paths = {r.path for r in fake.list_requests("services")}
    assert paths == {"/api/v1/namespaces/a/services", "/api/v1/namespaces/mine/services"}


def test_own_namespace_unreadable_is_a_clear_error(
    fake: FakeKubeAPI, discover: Factory, tmp_path: Path
) -> None:
    sd = discover(
        "pod", namespaces_own_namespace=True, sd_options={"own_namespace_file": str(tmp_path / "missing")}
    )
    assert sd.last_error is not None and "own_namespace" in sd.last_error
    assert sd.groups() == [] and not sd.healthy
    assert fake.requests == []  # nothing is guessed


def test_selectors_reach_the_api(fake: FakeKubeAPI, discover: Factory) -> None:
    fake.add_pod(make_pod("ns", "a", "n1", pod_ip="10.0.0.1", labels={"app": "web", "tier": "front"}))
    fake.add_pod(make_pod("ns", "b", "n1", pod_ip="10.0.0.2", labels={"app": "db"}))
    fake.add_pod(make_pod("ns", "c", "n2", pod_ip="10.0.0.3", labels={"app": "web"}))
    selector = KubernetesSelector(role="pod", label="app in (web, api),!canary", field="spec.nodeName=n1")
    sd = discover("pod", selectors=(selector,))
    wait_for(lambda: sd.version > 0)
    assert set(by_source(sd)) == {"pod/ns/a"}
    listed = fake.list_requests("pods")[0]
    assert listed.params["fieldSelector"] == "spec.nodeName=n1"
    assert listed.params["labelSelector"] == "app in (api,web),!canary"
    wait_for(lambda: fake.watch_requests("pods"))
    assert fake.watch_requests("pods")[0].params["fieldSelector"] == "spec.nodeName=n1"
    # Selector transitions: a pod that starts matching is added, one that stops is removed.
    fake.modify_pod("ns", "b", lambda p: p["metadata"]["labels"].update(app="api"))
    wait_for(lambda: set(by_source(sd)) == {"pod/ns/a", "pod/ns/b"})
    fake.modify_pod("ns", "a", lambda p: p["metadata"]["labels"].update(canary="yes"))
    wait_for(lambda: set(by_source(sd)) == {"pod/ns/b"})


def test_endpointslice_role_sends_each_resource_its_own_selector(
    fake: FakeKubeAPI, discover: Factory
) -> None:
    selectors = (
        KubernetesSelector(role="endpointslice", label="kubernetes.io/service-name=web"),
        KubernetesSelector(role="service", label="team=a"),
        KubernetesSelector(role="pod", field="spec.nodeName=n1"),
    )
    sd = discover("endpointslice", selectors=selectors)
    wait_for(lambda: sd.version > 0)
    sent = {r.resource: r.params for r in fake.list_requests()}
    assert sent["endpointslices"]["labelSelector"] == "kubernetes.io/service-name=web"
    assert sent["services"]["labelSelector"] == "team=a"
    assert sent["pods"]["fieldSelector"] == "spec.nodeName=n1"


def test_bad_config_is_a_clear_error() -> None:
    def never() -> Any:
        raise AssertionError("no connection may be made")

    with pytest.raises(ValueError, match="unknown Kubernetes SD role"):
        KubernetesSD(KubernetesSDConfig(role="ingress"), never)
    with pytest.raises(ValueError, match="pod role supports only pod selectors"):
        KubernetesSD(KubernetesSDConfig(role="pod", selectors=(KubernetesSelector(role="node"),)), never)
    with pytest.raises(ValueError, match="unbalanced"):
        KubernetesSD(
            KubernetesSDConfig(role="pod", selectors=(KubernetesSelector(role="pod", label="a in (b"),)),
            never,
        )
    with pytest.raises(ValueError, match="needs '='"):
        parse_field_selector("spec.nodeName")
    with pytest.raises(ValueError, match="invalid key"):
        parse_label_selector("=x")
    assert parse_label_selector("") == [] and parse_field_selector("") == []


def test_stop_is_prompt_while_watches_are_idle(fake: FakeKubeAPI, discover: Factory) -> None:
    sd = discover("endpointslice", attach_metadata_node=True)
    wait_for(lambda: len({r.resource for r in fake.watch_requests()}) == 4)
    t0 = time.monotonic()
    sd.stop()
    assert time.monotonic() - t0 < 2.0
    assert not any(inf.thread.is_alive() for inf in sd._informers)


def test_node_changes_reach_pods_with_attached_metadata(fake: FakeKubeAPI, discover: Factory) -> None:
    fake.add(make_node("n1", labels={"zone": "a"}))
    fake.add_pod(make_pod("ns", "p", "n1", pod_ip="10.0.0.1"))
    sd = discover("pod", attach_metadata_node=True)
    wait_for(lambda: by_source(sd).get("pod/ns/p") is not None)
    assert by_source(sd)["pod/ns/p"].labels["__meta_kubernetes_node_label_zone"] == "a"
    fake.modify("nodes", None, "n1", lambda n: n["metadata"]["labels"].update(zone="b"))
    wait_for(lambda: by_source(sd)["pod/ns/p"].labels["__meta_kubernetes_node_label_zone"] == "b")


def test_ipv6_pod_address_is_bracketed(fake: FakeKubeAPI, discover: Factory) -> None:
    fake.add_pod(make_pod("ns", "v6", "n1", pod_ip="fd00::5", ports={"main": [9100]}))
    sd = discover("pod")
    wait_for(lambda: "pod/ns/v6" in by_source(sd))
    assert by_source(sd)["pod/ns/v6"].targets[0]["__address__"] == "[fd00::5]:9100"


def test_identical_entries_share_one_watch(fake: FakeKubeAPI) -> None:
    fake.start()
    fake.add(make_node("n1"))
    entry = KubernetesSDConfig(role="node")
    make = scrape_discoverers(kube_client_factory(fake.kubeconfig()))
    jobs = [ScrapeConfig(job_name=name, kubernetes_sd_configs=(entry,)) for name in ("a", "b", "c")]
    discoverers = [d for job in jobs for d in make(job)]
    for d in discoverers:
        d.start()
    try:
        wait_for(lambda: all(d.groups() for d in discoverers))
        assert len(fake.list_requests("nodes")) == 1
    finally:
        for d in discoverers:
            d.stop()
    # After the last pool let go, a new pool gets a fresh discoverer (and a fresh list).
    (again,) = make(jobs[0])
    again.start()
    try:
        wait_for(lambda: again.groups())
        assert len(fake.list_requests("nodes")) == 2
    finally:
        again.stop()


def test_api_server_entry_brings_its_own_credentials(fake: FakeKubeAPI, tmp_path: Path) -> None:
    fake.start()
    fake.add(make_service("ns", "web"))
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    entry = KubernetesSDConfig(
        role="service", api_server=fake.url, authorization=Authorization(credentials_file=str(token))
    )
    sd = KubernetesSD(entry, connection_for(entry, None), backoff_initial=0.02, backoff_max=0.1)
    sd.start()
    try:
        wait_for(lambda: by_source(sd))
        assert fake.list_requests("services")[0].headers["authorization"] == "Bearer s3cret"
    finally:
        sd.stop()


def test_kubeconfig_file_entry(fake: FakeKubeAPI, tmp_path: Path) -> None:
    fake.start()
    fake.add(make_service("ns", "web"))
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": fake.url}}],
                "users": [{"name": "u", "user": {"token": "from-file"}}],
                "contexts": [{"name": "c", "context": {"cluster": "fake", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    entry = KubernetesSDConfig(role="service", kubeconfig_file=str(path))
    sd = KubernetesSD(entry, connection_for(entry, None), backoff_initial=0.02, backoff_max=0.1)
    sd.start()
    try:
        wait_for(lambda: by_source(sd))
        assert fake.list_requests("services")[0].headers["authorization"] == "Bearer from-file"
    finally:
        sd.stop()


def test_no_connection_is_a_clear_error_not_a_crash() -> None:
    entry = KubernetesSDConfig(role="pod")
    sd = KubernetesSD(entry, connection_for(entry, None), backoff_initial=0.02, backoff_max=0.1)
    sd.start()
    try:
        wait_for(lambda: sd.last_error is not None)
        assert "no Kubernetes API connection" in (sd.last_error or "")
        assert sd.groups() == []
    finally:
        sd.stop()


def test_slim_copies_keep_every_label() -> None:
    from lightkube.resources.core_v1 import Node, Pod

    from heron.collect.metrics.kubesd_labels import node_group, pod_group, slim_node, slim_pod

    objects = [o for case in CASES for o in case["objects"]]
    pods = [Pod.from_dict(o) for o in objects if o["kind"] == "Pod"]
    nodes = [Node.from_dict(o) for o in objects if o["kind"] == "Node"]
    fat = make_pod("ns", "fat", "n1", pod_ip="10.0.0.1", ports={"main": [9100]}, controller=("Job", "j"))
    fat["spec"]["containers"][0]["env"] = [{"name": "A", "value": "b"}]
    fat["metadata"]["ownerReferences"].insert(0, {"apiVersion": "v1", "kind": "X", "name": "x", "uid": "u"})
    pods.append(Pod.from_dict(fat))
    assert pods and nodes
    for pod in pods:
        assert pod_group(slim_pod(pod)) == pod_group(pod)
    for node in nodes:
        assert node_group(slim_node(node)) == node_group(node)
    assert slim_pod(pods[-1]).spec.containers[0].env is None
