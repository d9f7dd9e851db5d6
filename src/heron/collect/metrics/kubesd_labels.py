"""Kubernetes objects -> target groups with the `__meta_kubernetes_*` labels Prometheus 2.42 builds.

Pure functions, one per role, over lightkube's models; the watch machinery lives in `kubesd`.
They follow Prometheus' `discovery/kubernetes/{pod,node,service,endpointslice}.go` label for label,
including its quirks, because users paste relabel rules written against those exact names and
values: a missing string field is the empty string (Go's zero value), `pod_ready` is `unknown`
without a Ready condition, label and annotation keys are sanitised by replacing every character
outside `[a-zA-Z0-9_]` with `_` (no prefix for a leading digit), and a container without ports
still yields one target, at the bare pod IP.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from heron.collect.metrics.discovery import TargetGroup

__all__ = [
    "META",
    "endpointslice_group",
    "join_host_port",
    "node_group",
    "node_meta_labels",
    "pod_group",
    "pod_labels",
    "sanitize",
    "service_group",
    "service_labels",
    "slim_node",
    "slim_pod",
]

META = "__meta_kubernetes_"
NAMESPACE = META + "namespace"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"  # every EndpointSlice names its Service here
_INVALID = re.compile(r"[^a-zA-Z0-9_]")

Labels = dict[str, str]
PodLookup = Callable[[str, str], Any]  # (namespace, name) -> Pod | None
NodeLookup = Callable[[str], Any]  # name -> Node | None


def _intern(name: str) -> str:
    """One string object per label name across every target: names repeat on every pod, and
    a group snapshot holds thousands of dicts."""
    return sys.intern(name)


def sanitize(name: str) -> str:
    """Prometheus' `strutil.SanitizeLabelName`."""
    return _INVALID.sub("_", name)


def join_host_port(host: str, port: int | str) -> str:
    """Go's `net.JoinHostPort`: brackets around a host containing a colon (IPv6)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _s(value: object) -> str:
    return "" if value is None else str(value)


def _map_labels(out: Labels, prefix: str, present: str, items: Mapping[str, str] | None) -> None:
    for key, value in (items or {}).items():
        name = sanitize(key)
        out[_intern(prefix + name)] = value
        out[_intern(present + name)] = "true"


def _object_labels(kind: str, meta: Any) -> Labels:
    """`<kind>_label_*`, `<kind>_labelpresent_*`, `<kind>_annotation_*`, `<kind>_annotationpresent_*`."""
    out: Labels = {}
    _map_labels(out, f"{META}{kind}_label_", f"{META}{kind}_labelpresent_", meta.labels if meta else None)
    _map_labels(
        out,
        f"{META}{kind}_annotation_",
        f"{META}{kind}_annotationpresent_",
        meta.annotations if meta else None,
    )
    return out


def node_meta_labels(name: str, node: Any) -> Labels:
    """What `attach_metadata: {node: true}` adds: the node's name and labels (not annotations)."""
    out: Labels = {"__meta_kubernetes_node_name": name}
    labels = node.metadata.labels if node is not None and node.metadata is not None else None
    _map_labels(out, "__meta_kubernetes_node_label_", "__meta_kubernetes_node_labelpresent_", labels)
    return out


def _attach_node(labels: Labels, name: str | None, lookup: NodeLookup | None) -> None:
    if lookup is None or name is None:
        return
    node = lookup(name)
    if node is not None:
        labels.update(node_meta_labels(name, node))


# ---- pod --------------------------------------------------------------------------------------


def _pod_ready(pod: Any) -> str:
    for cond in (pod.status.conditions if pod.status else None) or ():
        if cond.type == "Ready":
            return cond.status.lower()
    return "unknown"


def pod_labels(pod: Any) -> Labels:
    """Prometheus' `podLabels`: the labels every target of a pod carries."""
    meta, spec, status = pod.metadata, pod.spec, pod.status
    out: Labels = {
        "__meta_kubernetes_pod_name": _s(meta.name),
        "__meta_kubernetes_pod_ip": _s(status.podIP if status else None),
        "__meta_kubernetes_pod_ready": _pod_ready(pod),
        "__meta_kubernetes_pod_phase": _s(status.phase if status else None),
        "__meta_kubernetes_pod_node_name": _s(spec.nodeName if spec else None),
        "__meta_kubernetes_pod_host_ip": _s(status.hostIP if status else None),
        "__meta_kubernetes_pod_uid": _s(meta.uid),
    }
    for ref in meta.ownerReferences or ():
        if ref.controller:
            if ref.kind:
                out["__meta_kubernetes_pod_controller_kind"] = ref.kind
            if ref.name:
                out["__meta_kubernetes_pod_controller_name"] = ref.name
            break
    out.update(_object_labels("pod", meta))
    return out


def _container_id(statuses: Iterable[Any] | None, name: str) -> str:
    for st in statuses or ():
        if st.name == name:
            return _s(st.containerID)
    return ""


def pod_group(pod: Any, nodes: NodeLookup | None = None) -> TargetGroup:
    """One target per container port, and one at the bare pod IP per container without ports.

    A pod without an IP (still starting, or evicted) is an empty group, as in Prometheus.
    `nodes` is given when `attach_metadata.node` is on.
    """
    meta, spec, status = pod.metadata, pod.spec, pod.status
    source = f"pod/{meta.namespace}/{meta.name}"
    ip = status.podIP if status else None
    if not ip:
        return TargetGroup(source, ())
    labels = pod_labels(pod)
    labels[NAMESPACE] = _s(meta.namespace)
    _attach_node(labels, _s(spec.nodeName if spec else None), nodes)
    containers = list((spec.containers if spec else None) or ())
    inits = list((spec.initContainers if spec else None) or ())
    targets: list[Labels] = []
    for i, c in enumerate(containers + inits):
        is_init = i >= len(containers)
        statuses = (status.initContainerStatuses if is_init else status.containerStatuses) if status else None
        base = {
            "__meta_kubernetes_pod_container_name": _s(c.name),
            "__meta_kubernetes_pod_container_id": _container_id(statuses, c.name),
            "__meta_kubernetes_pod_container_image": _s(c.image),
            "__meta_kubernetes_pod_container_init": "true" if is_init else "false",
        }
        if not c.ports:
            targets.append({"__address__": ip, **base})
            continue
        for port in c.ports:
            number = str(port.containerPort)
            targets.append(
                {
                    "__address__": join_host_port(ip, number),
                    **base,
                    "__meta_kubernetes_pod_container_port_number": number,
                    "__meta_kubernetes_pod_container_port_name": _s(port.name),
                    "__meta_kubernetes_pod_container_port_protocol": _s(port.protocol),
                }
            )
    return TargetGroup(source, tuple(targets), labels)


# ---- node -------------------------------------------------------------------------------------

_ADDRESS_PRIORITY = ("InternalIP", "InternalDNS", "ExternalIP", "ExternalDNS", "LegacyHostIP", "Hostname")


def node_group(node: Any) -> TargetGroup | None:
    """The kubelet's endpoint: `<address>:<kubelet port>`, `instance` = the node's name.

    None when the node has no address at all (Prometheus sends no group then).
    """
    meta, spec, status = node.metadata, node.spec, node.status
    by_type: dict[str, list[str]] = {}
    for a in (status.addresses if status else None) or ():
        by_type.setdefault(a.type, []).append(a.address)
    address = next((by_type[t][0] for t in _ADDRESS_PRIORITY if t in by_type), None)
    if address is None:
        return None
    labels: Labels = {
        "__meta_kubernetes_node_name": _s(meta.name),
        "__meta_kubernetes_node_provider_id": _s(spec.providerID if spec else None),
    }
    labels.update(_object_labels("node", meta))
    endpoints = status.daemonEndpoints if status else None
    kubelet = endpoints.kubeletEndpoint if endpoints else None
    port = kubelet.Port if kubelet else 0
    target: Labels = {"__address__": join_host_port(address, port), "instance": _s(meta.name)}
    for kind, addresses in by_type.items():
        target[_intern(sanitize(META + "node_address_" + kind))] = addresses[0]
    return TargetGroup(f"node/{meta.name}", (target,), labels)


# ---- service ----------------------------------------------------------------------------------


def service_labels(svc: Any) -> Labels:
    """Prometheus' `serviceLabels`: name, namespace, labels and annotations."""
    meta = svc.metadata
    out: Labels = {"__meta_kubernetes_service_name": _s(meta.name), NAMESPACE: _s(meta.namespace)}
    out.update(_object_labels("service", meta))
    return out


def service_group(svc: Any) -> TargetGroup:
    """One target per service port, at `<name>.<namespace>.svc:<port>`."""
    meta, spec = svc.metadata, svc.spec
    kind = _s(spec.type if spec else None)
    targets: list[Labels] = []
    for port in (spec.ports if spec else None) or ():
        target: Labels = {
            "__address__": join_host_port(f"{meta.name}.{meta.namespace}.svc", port.port),
            "__meta_kubernetes_service_port_name": _s(port.name),
            "__meta_kubernetes_service_port_number": str(port.port),
            "__meta_kubernetes_service_port_protocol": _s(port.protocol),
            "__meta_kubernetes_service_type": kind,
        }
        if kind == "ExternalName":
            target["__meta_kubernetes_service_external_name"] = _s(spec.externalName)
        else:
            target["__meta_kubernetes_service_cluster_ip"] = _s(spec.clusterIP)
        if kind == "LoadBalancer":
            target["__meta_kubernetes_service_loadbalancer_ip"] = _s(spec.loadBalancerIP)
        targets.append(target)
    return TargetGroup(f"svc/{meta.namespace}/{meta.name}", tuple(targets), service_labels(svc))


# ---- endpointslice ----------------------------------------------------------------------------

_EPS = "__meta_kubernetes_endpointslice_"


def endpointslice_group(
    eps: Any,
    services: Callable[[str, str], Any],
    pods: PodLookup,
    nodes: NodeLookup | None = None,
    *,
    pod_meta: Callable[[Any], Labels] | None = None,
) -> TargetGroup:
    """One target per endpoint address and port, joined with its Service's and Pod's labels.

    Container ports of the endpoints' pods that no slice port covers get a target of their own,
    as Prometheus does. `pod_meta` gives a pod's `pod_labels` (a caller may cache them).
    """
    labels_of = pod_meta or pod_labels
    meta = eps.metadata
    namespace = _s(meta.namespace)
    labels: Labels = {
        NAMESPACE: namespace,
        "__meta_kubernetes_endpointslice_name": _s(meta.name),
        "__meta_kubernetes_endpointslice_address_type": _s(eps.addressType),
    }
    service_name = (meta.labels or {}).get(SERVICE_NAME_LABEL)
    if service_name is not None:
        svc = services(namespace, service_name)
        if svc is not None:
            labels.update(service_labels(svc))

    targets: list[Labels] = []
    seen: dict[tuple[str, str], tuple[Any, list[int | None]]] = {}  # pod key -> (pod, slice ports)
    ports = list(eps.ports or ())
    for ep in eps.endpoints or ():
        for port in ports:
            for addr in ep.addresses or ():
                targets.append(_endpoint_target(addr, ep, port, pods, nodes, seen, labels_of))

    for pod, covered in seen.values():
        for c in (pod.spec.containers if pod.spec else None) or ():
            for cport in c.ports or ():
                if cport.containerPort in covered:
                    continue
                number = str(cport.containerPort)
                ip = _s(pod.status.podIP if pod.status else None)
                target = {
                    "__address__": join_host_port(ip, number),
                    "__meta_kubernetes_pod_container_name": _s(c.name),
                    "__meta_kubernetes_pod_container_image": _s(c.image),
                    "__meta_kubernetes_pod_container_port_name": _s(cport.name),
                    "__meta_kubernetes_pod_container_port_number": number,
                    "__meta_kubernetes_pod_container_port_protocol": _s(cport.protocol),
                }
                target.update(labels_of(pod))
                targets.append(target)
    return TargetGroup(f"endpointslice/{namespace}/{meta.name}", tuple(targets), labels)


def _endpoint_target(
    addr: str,
    ep: Any,
    port: Any,
    pods: PodLookup,
    nodes: NodeLookup | None,
    seen: dict[tuple[str, str], tuple[Any, list[int | None]]],
    labels_of: Callable[[Any], Labels],
) -> Labels:
    target: Labels = {"__address__": join_host_port(addr, port.port) if port.port is not None else addr}
    if port.name is not None:
        target["__meta_kubernetes_endpointslice_port_name"] = port.name
    if port.protocol is not None:
        target["__meta_kubernetes_endpointslice_port_protocol"] = port.protocol
    if port.port is not None:
        target["__meta_kubernetes_endpointslice_port"] = str(port.port)
    if port.appProtocol is not None:
        target["__meta_kubernetes_endpointslice_port_app_protocol"] = port.appProtocol
    cond = ep.conditions
    for field in ("ready", "serving", "terminating"):
        value = getattr(cond, field) if cond is not None else None
        if value is not None:
            target[_intern(_EPS + "endpoint_conditions_" + field)] = "true" if value else "false"
    if ep.hostname is not None:
        target["__meta_kubernetes_endpointslice_endpoint_hostname"] = ep.hostname
    ref = ep.targetRef
    if ref is not None:
        target["__meta_kubernetes_endpointslice_address_target_kind"] = _s(ref.kind)
        target["__meta_kubernetes_endpointslice_address_target_name"] = _s(ref.name)
    for key, value in (ep.deprecatedTopology or {}).items():
        name = sanitize(key)
        target[_intern(_EPS + "endpoint_topology_" + name)] = value
        target[_intern(_EPS + "endpoint_topology_present_" + name)] = "true"
    _attach_node(target, ep.nodeName, nodes)

    pod = pods(_s(ref.namespace), _s(ref.name)) if ref is not None and ref.kind == "Pod" else None
    if pod is None:
        return target
    key = (_s(pod.metadata.namespace), _s(pod.metadata.name))
    entry = seen.setdefault(key, (pod, []))
    target.update(labels_of(pod))
    if port.port is not None:
        for c in (pod.spec.containers if pod.spec else None) or ():
            for cport in c.ports or ():
                if cport.containerPort == port.port:
                    number = str(port.port)
                    target["__meta_kubernetes_pod_container_name"] = _s(c.name)
                    target["__meta_kubernetes_pod_container_image"] = _s(c.image)
                    target["__meta_kubernetes_pod_container_port_name"] = _s(cport.name)
                    target["__meta_kubernetes_pod_container_port_number"] = number
                    target["__meta_kubernetes_pod_container_port_protocol"] = _s(cport.protocol)
                    break
    entry[1].append(port.port)
    return target


# ---- slim copies ------------------------------------------------------------------------------


def _slim_meta(meta: Any, *, owners: bool = False) -> Any:
    from lightkube.models.meta_v1 import ObjectMeta

    refs = [r for r in meta.ownerReferences or () if r.controller][:1] if owners else None
    return ObjectMeta(
        name=meta.name,
        namespace=meta.namespace,
        uid=meta.uid,
        resourceVersion=meta.resourceVersion,
        labels=meta.labels,
        annotations=meta.annotations,
        ownerReferences=refs or None,
    )


def slim_pod(pod: Any) -> Any:
    """A copy of a Pod with only what the labels above read.

    Why: the server's endpointslice discovery keeps every pod of the cluster, and a real pod
    (env, volumes, probes, managed fields, resources...) is several times the size of what
    discovery needs; the agent keeps the pods of its node.
    """
    from lightkube.models.core_v1 import Container, ContainerStatus, PodCondition, PodSpec, PodStatus
    from lightkube.resources.core_v1 import Pod

    def containers(items: Any) -> list[Any] | None:
        if items is None:
            return None
        return [Container(name=c.name, image=c.image, ports=c.ports) for c in items]

    def statuses(items: Any) -> list[Any] | None:
        if items is None:
            return None
        return [
            ContainerStatus(
                image="", imageID="", name=s.name, ready=s.ready, restartCount=0, containerID=s.containerID
            )
            for s in items
        ]

    spec, status = pod.spec, pod.status
    return Pod(
        metadata=_slim_meta(pod.metadata, owners=True),
        spec=PodSpec(
            containers=containers(spec.containers) or [],
            initContainers=containers(spec.initContainers),
            nodeName=spec.nodeName,
        )
        if spec is not None
        else None,
        status=PodStatus(
            podIP=status.podIP,
            hostIP=status.hostIP,
            phase=status.phase,
            conditions=[
                PodCondition(status=c.status, type=c.type)
                for c in status.conditions or ()
                if c.type == "Ready"
            ]
            or None,
            containerStatuses=statuses(status.containerStatuses),
            initContainerStatuses=statuses(status.initContainerStatuses),
        )
        if status is not None
        else None,
    )


def slim_node(node: Any) -> Any:
    """A copy of a Node with only what the labels above read (a node's status lists every image
    it holds, often tens of kilobytes)."""
    from lightkube.models.core_v1 import NodeSpec, NodeStatus
    from lightkube.resources.core_v1 import Node

    spec, status = node.spec, node.status
    return Node(
        metadata=_slim_meta(node.metadata),
        spec=NodeSpec(providerID=spec.providerID) if spec is not None else None,
        status=NodeStatus(addresses=status.addresses, daemonEndpoints=status.daemonEndpoints)
        if status is not None
        else None,
    )
