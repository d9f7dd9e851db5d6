"""Well-formed Kubernetes manifests for the fake API server (`heron.kubefake`), as dicts.

Each helper writes what the real API server would store for a typical object — the fields a
client reads, with the server's defaults filled in where lightkube's models require them — so
tests and `heron demo` describe a cluster in one line per object.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["Port", "make_endpointslice", "make_namespace", "make_node", "make_pod", "make_service"]

Obj = dict[str, Any]
Pod = Obj
Port = int | tuple[str, int] | tuple[str, int, str]


def _port(spec: Port, key: str) -> dict[str, Any]:
    """`9000`, `("metrics", 9000)` or `("dns", 53, "UDP")` as a Kubernetes port dict."""
    if isinstance(spec, int):
        return {key: spec, "protocol": "TCP"}
    name, number, *rest = spec
    return {"name": name, key: number, "protocol": rest[0] if rest else "TCP"}


def make_pod(
    namespace: str,
    name: str,
    node: str,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    containers: tuple[str, ...] = ("main",),
    init_containers: tuple[str, ...] = (),
    uid: str | None = None,
    ports: Mapping[str, Sequence[Port]] | None = None,
    pod_ip: str | None = None,
    host_ip: str | None = None,
    phase: str = "Running",
    ready: bool | None = None,
    controller: tuple[str, str] | None = None,
) -> Pod:
    """A minimal but well-formed v1 Pod manifest, scheduled on `node`.

    `ports` maps a container name to its declared ports; `pod_ip` is `status.podIP` (a pod
    without one is still starting, and metric discovery skips it, as Prometheus does); `ready`
    adds the Ready condition; `controller` is the `(kind, name)` of its controlling owner.
    """
    ports = ports or {}

    def container(c: str) -> dict[str, Any]:
        out: dict[str, Any] = {"name": c, "image": f"example/{c}:1"}
        if ports.get(c):
            out["ports"] = [_port(p, "containerPort") for p in ports[c]]
        return out

    spec: dict[str, Any] = {"nodeName": node, "containers": [container(c) for c in containers]}
    if init_containers:
        spec["initContainers"] = [container(c) for c in init_containers]
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(labels or {})}
    if annotations:
        metadata["annotations"] = dict(annotations)
    if uid is not None:
        metadata["uid"] = uid
    if controller is not None:
        metadata["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": controller[0],
                "name": controller[1],
                "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{namespace}/{controller[0]}/{controller[1]}")),
                "controller": True,
            }
        ]
    status: dict[str, Any] = {"phase": phase}
    if pod_ip is not None:
        status["podIP"] = pod_ip
    if host_ip is not None:
        status["hostIP"] = host_ip
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": status}


def make_node(
    name: str,
    *,
    address: str | None = "10.0.0.1",
    addresses: Sequence[tuple[str, str]] | None = None,
    kubelet_port: int = 10250,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    provider_id: str | None = None,
) -> Obj:
    """A v1 Node whose kubelet listens on `kubelet_port`; `address` is its InternalIP, or give
    every `(type, address)` pair in `addresses` (e.g. `("Hostname", "node-1")`)."""
    pairs = list(addresses) if addresses is not None else ([("InternalIP", address)] if address else [])
    metadata: dict[str, Any] = {"name": name, "labels": dict(labels or {})}
    if annotations:
        metadata["annotations"] = dict(annotations)
    spec: dict[str, Any] = {}
    if provider_id is not None:
        spec["providerID"] = provider_id
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": metadata,
        "spec": spec,
        "status": {
            "addresses": [{"type": t, "address": a} for t, a in pairs],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
        },
    }


def make_namespace(name: str, *, labels: dict[str, str] | None = None) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name, **(labels or {})}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def make_service(
    namespace: str,
    name: str,
    *,
    ports: Sequence[Port] = (("http", 80),),
    selector: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    type: str = "ClusterIP",  # noqa: A002 - the manifest's own field name
    cluster_ip: str | None = "10.96.0.10",
    external_name: str | None = None,
    load_balancer_ip: str | None = None,
) -> Obj:
    """A v1 Service. `ports` are its service ports (the target port is the same number)."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(labels or {})}
    if annotations:
        metadata["annotations"] = dict(annotations)
    spec: dict[str, Any] = {"type": type, "ports": [_port(p, "port") for p in ports]}
    for p in spec["ports"]:
        p["targetPort"] = p["port"]
    if selector:
        spec["selector"] = dict(selector)
    if cluster_ip is not None and type != "ExternalName":
        spec["clusterIP"] = cluster_ip
    if external_name is not None:
        spec["externalName"] = external_name
    if load_balancer_ip is not None:
        spec["loadBalancerIP"] = load_balancer_ip
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}


def make_endpointslice(
    namespace: str,
    name: str,
    service: str | None,
    *,
    pods: Sequence[Pod] = (),
    endpoints: Sequence[dict[str, Any]] = (),
    ports: Sequence[Port] = (("http", 80),),
    address_type: str = "IPv4",
) -> Obj:
    """A discovery.k8s.io/v1 EndpointSlice of `service` (its `kubernetes.io/service-name` label).

    Each of `pods` becomes a ready endpoint at its `status.podIP` that points back at it
    (`targetRef`, `nodeName`), as the endpointslice controller writes them; `endpoints` are added
    as given, for endpoints that are not pods.
    """
    eps: list[dict[str, Any]] = []
    for pod in pods:
        meta = pod["metadata"]
        ref: dict[str, Any] = {
            "kind": "Pod",
            "namespace": meta.get("namespace", namespace),
            "name": meta["name"],
        }
        if meta.get("uid"):
            ref["uid"] = meta["uid"]
        endpoint: dict[str, Any] = {
            "addresses": [pod.get("status", {}).get("podIP", "")],
            "conditions": {"ready": True, "serving": True, "terminating": False},
            "targetRef": ref,
        }
        if pod.get("spec", {}).get("nodeName"):
            endpoint["nodeName"] = pod["spec"]["nodeName"]
        eps.append(endpoint)
    eps.extend(copy.deepcopy(dict(e)) for e in endpoints)
    labels = {"kubernetes.io/service-name": service} if service else {}
    labels["endpointslice.kubernetes.io/managed-by"] = "endpointslice-controller.k8s.io"
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "addressType": address_type,
        "endpoints": eps,
        "ports": [_port(p, "port") for p in ports],
    }
