"""The fake API server's resources beyond pods, through the real lightkube client (the pods'
own behaviour is pinned by tests/collect/test_kube.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from lightkube import ApiError, Client
from lightkube.resources.core_v1 import Namespace, Node, Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from heron.kubefake import (
    FakeKubeAPI,
    make_endpointslice,
    make_namespace,
    make_node,
    make_pod,
    make_service,
)


@pytest.fixture
def fake() -> Iterator[FakeKubeAPI]:
    api = FakeKubeAPI().start()
    yield api
    api.stop()


@pytest.fixture
def client(fake: FakeKubeAPI) -> Iterator[Client]:
    c = Client(config=fake.kubeconfig(), trust_env=False)
    yield c
    c.close()


def test_every_resource_lists_and_gets(fake: FakeKubeAPI, client: Client) -> None:
    pod = fake.add(make_pod("shop", "web-1", "n1", pod_ip="10.1.0.5", ports={"main": [("http", 8080)]}))
    fake.add(make_node("n1", labels={"zone": "a"}, kubelet_port=10250))
    fake.add(make_namespace("shop"))
    fake.add(make_service("shop", "web", ports=[("http", 8080)], selector={"app": "web"}))
    fake.add(make_endpointslice("shop", "web-x", "web", pods=[pod], ports=[("http", 8080)]))

    (node,) = client.list(Node)
    assert node.status.daemonEndpoints.kubeletEndpoint.Port == 10250
    assert node.status.addresses[0].type == "InternalIP"
    assert [n.metadata.name for n in client.list(Namespace)] == ["shop"]
    (svc,) = client.list(Service, namespace="shop")
    assert svc.spec.ports[0].port == 8080 and svc.spec.ports[0].targetPort == 8080
    (eps,) = client.list(EndpointSlice, namespace="*")
    assert eps.metadata.labels["kubernetes.io/service-name"] == "web"
    (endpoint,) = eps.endpoints
    assert endpoint.addresses == ["10.1.0.5"] and endpoint.targetRef.name == "web-1"
    assert endpoint.nodeName == "n1" and endpoint.conditions.ready
    got = client.get(Pod, "web-1", namespace="shop")
    assert got.status.podIP == "10.1.0.5" and got.spec.containers[0].ports[0].containerPort == 8080
    assert client.get(Node, "n1").metadata.labels == {"zone": "a"}
    with pytest.raises(ApiError) as info:
        client.get(Service, "nope", namespace="shop")
    assert info.value.status.code == 404
    assert {r.path for r in fake.list_requests("endpointslices")} == {
        "/apis/discovery.k8s.io/v1/endpointslices"
    }


def test_one_resource_version_for_all_kinds(fake: FakeKubeAPI, client: Client) -> None:
    fake.add(make_service("ns", "a"))
    rv = fake.resource_version
    fake.add(make_node("n1"))
    assert fake.resource_version == rv + 1
    events = client.watch(Service, namespace="*", resource_version=str(rv), server_timeout=1)
    fake.add(make_service("ns", "b"))
    kind, obj = next(iter(events))  # the node's event is not a service's: the watch skips it
    assert (kind, obj.metadata.name) == ("ADDED", "b")


def test_endpointslice_watch_bookmarks_decode(fake: FakeKubeAPI, client: Client) -> None:
    fake.add(make_endpointslice("ns", "s", "svc"))
    events = iter(
        client.watch(
            EndpointSlice, namespace="*", resource_version=str(fake.resource_version), server_timeout=5
        )
    )
    fake.add(make_pod("ns", "p", "n1"))  # moves the version on without a slice event
    # lightkube's watch has no bookmark parameter; ask as heron's transport does.
    with httpx.Client(base_url=fake.url) as raw:
        with raw.stream(
            "GET",
            "/apis/discovery.k8s.io/v1/endpointslices",
            params={
                "watch": "true",
                "resourceVersion": str(fake.resource_version),
                "allowWatchBookmarks": "true",
            },
        ) as resp:
            fake.emit_bookmark()
            line = next(resp.iter_lines())
    event = json.loads(line)
    assert event["type"] == "BOOKMARK"
    # It carries what a real server's does (Go's non-omitempty fields), so lightkube decodes it.
    bookmark = EndpointSlice.from_dict(event["object"])
    assert bookmark.metadata.resourceVersion == str(fake.resource_version)
    fake.modify("endpointslices", "ns", "s", lambda o: o["endpoints"].append({"addresses": ["10.0.0.9"]}))
    kind, obj = next(events)
    assert kind == "MODIFIED" and obj.endpoints[0].addresses == ["10.0.0.9"]


def test_selectors_per_resource(fake: FakeKubeAPI, client: Client) -> None:
    fake.add(make_node("a", labels={"role": "worker", "zone": "x"}))
    fake.add(make_node("b", labels={"role": "control"}))
    fake.add(make_service("ns", "lb", type="LoadBalancer", labels={"tier": "edge"}))
    fake.add(make_service("ns", "int", labels={"tier": "core"}))
    assert [n.metadata.name for n in client.list(Node, fields={"metadata.name": "b"})] == ["b"]
    assert [n.metadata.name for n in client.list(Node, labels={"role": ("worker", "gpu")})] == ["a"]
    assert [n.metadata.name for n in client.list(Node, labels=[("zone", None)])] == ["a"]
    assert [
        s.metadata.name for s in client.list(Service, namespace="ns", fields={"spec.type": "LoadBalancer"})
    ] == ["lb"]
    with httpx.Client(base_url=fake.url) as raw:
        r = raw.get("/api/v1/nodes", params={"labelSelector": "!zone,role notin (gpu)"})
        assert [i["metadata"]["name"] for i in r.json()["items"]] == ["b"]
        r = raw.get("/api/v1/nodes", params={"fieldSelector": "spec.nodeName=a"})  # a pod field
        assert r.status_code == 400 and "spec.unschedulable" in r.json()["message"]
        r = raw.get("/api/v1/nodes", params={"labelSelector": "role in worker"})
        assert r.status_code == 400


def test_forbidden_for_some_resources_only(fake: FakeKubeAPI, client: Client) -> None:
    fake.add(make_pod("ns", "p", "n1"))
    fake.set_forbidden(True, resources={"endpointslices"})
    assert len(list(client.list(Pod, namespace="*"))) == 1
    with pytest.raises(ApiError) as info:
        list(client.list(EndpointSlice, namespace="ns"))
    assert info.value.status.code == 403
    assert 'in API group "discovery.k8s.io" at the namespace "ns"' in (info.value.status.message or "")
    fake.set_forbidden(False)
    assert list(client.list(EndpointSlice, namespace="ns")) == []


def test_cluster_scoped_objects_have_no_namespace_and_unknown_kinds_are_refused(fake: FakeKubeAPI) -> None:
    node = make_node("n1")
    node["metadata"]["namespace"] = "default"
    stored = fake.add(node)
    assert "namespace" not in stored["metadata"]
    with pytest.raises(ValueError, match="already exists"):
        fake.add(make_node("n1"))
    with pytest.raises(ValueError, match="does not serve kind"):
        fake.add({"kind": "Ingress", "metadata": {"name": "x"}})
    with pytest.raises(ValueError, match="unknown resource"):
        fake.objects("ingresses")
    fake.delete("nodes", None, "n1")
    assert fake.objects("nodes") == []


def test_version_endpoint(fake: FakeKubeAPI) -> None:
    r = httpx.get(fake.url + "/version")
    assert r.status_code == 200 and r.json()["gitVersion"].startswith("v1.")
