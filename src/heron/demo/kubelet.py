"""The simulated node's kubelet metrics: `/metrics`, `/metrics/cadvisor` and `/metrics/resource`.

The series are the ones a real kubelet serves, with cAdvisor's real label names (`container`,
`pod`, `namespace`, `id`, `image`, `name`, `interface`, `device`, `cpu`), so dashboards and
queries written for a cluster work on the demo unchanged. Their values come from what the
demo's containers do: CPU time grows with the requests a container handled (and a little
while idle), memory with its traffic, network bytes with requests, and a restart starts a
new container id with fresh counters, as the kubelet's cgroups do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from heron.demo.serve import MetricsServer

__all__ = ["ContainerStats", "SimulatedKubelet", "PAUSE_IMAGE"]

PAUSE_IMAGE = "registry.k8s.io/pause:3.9"
MACHINE_CORES = 4
MACHINE_MEMORY = 8 * 1024**3
_IDLE_CPU = 0.002  # core-seconds per second a container burns doing nothing
_BUSY_CPU = 0.05  # of each request's latency, spent on a CPU (the rest is waiting)


@dataclass(frozen=True)
class ContainerStats:
    """One running container as the kubelet sees it (a snapshot; the node owns the truth)."""

    namespace: str
    pod: str
    pod_uid: str
    container: str
    image: str
    container_id: str  # changes on every restart
    sandbox_id: str  # the pod's pause container: network is counted there
    started: float  # Unix seconds this container (restart) started
    pod_started: float
    requests: int  # since this container started
    busy_seconds: float  # sum of its requests' latencies since it started


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _series(name: str, labels: dict[str, str], value: float) -> str:
    inner = ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items())
    v = f"{value:.6f}".rstrip("0").rstrip(".") if not float(value).is_integer() else str(int(value))
    return f"{name}{{{inner}}} {v}" if inner else f"{name} {v}"


class _Text:
    """A Prometheus text body, one family at a time."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_: str) -> None:
        self.lines.append(f"# HELP {name} {help_}")
        self.lines.append(f"# TYPE {name} {kind}")

    def add(self, name: str, labels: dict[str, str], value: float) -> None:
        self.lines.append(_series(name, labels, value))

    def body(self) -> bytes:
        return ("\n".join(self.lines) + "\n").encode()


def _cpu(c: ContainerStats, now: float) -> float:
    return _IDLE_CPU * max(0.0, now - c.started) + _BUSY_CPU * c.busy_seconds


def _working_set(c: ContainerStats) -> int:
    return 24 * 1024**2 + 4096 * min(c.requests, 20_000)


class SimulatedKubelet:
    """Serves the three kubelet metric paths for the containers `stats()` returns; with
    `bearer_token`, only to scrapes that send it, as a kubelet wants the service account's."""

    def __init__(
        self, node: str, stats: Callable[[], list[ContainerStats]], *, bearer_token: str | None = None
    ) -> None:
        self.node = node
        self.stats = stats
        self.started = time.time()
        self._server = MetricsServer(
            {
                "/metrics": self.render_kubelet,
                "/metrics/cadvisor": self.render_cadvisor,
                "/metrics/resource": self.render_resource,
            },
            bearer_token=bearer_token,
        )

    @property
    def port(self) -> int:
        return self._server.port

    def start(self) -> SimulatedKubelet:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def render_cadvisor(self) -> bytes:
        now = time.time()
        cs = sorted(self.stats(), key=lambda c: (c.namespace, c.pod, c.container))
        t = _Text()

        def cgroup(c: ContainerStats, **extra: str) -> dict[str, str]:
            return {
                "container": c.container,
                "id": f"/kubepods/burstable/pod{c.pod_uid}/{c.container_id}",
                "image": c.image,
                "name": c.container_id,
                "namespace": c.namespace,
                "pod": c.pod,
                **extra,
            }

        def pod_cgroup(c: ContainerStats, **extra: str) -> dict[str, str]:
            # The pod's own cgroup, as cAdvisor reports it: no container, image or name.
            return {
                "container": "",
                "id": f"/kubepods/burstable/pod{c.pod_uid}",
                "image": "",
                "name": "",
                "namespace": c.namespace,
                "pod": c.pod,
                **extra,
            }

        cpu = "container_cpu_usage_seconds_total"
        t.family(cpu, "counter", "Cumulative cpu time consumed in seconds.")
        for c in cs:
            t.add(cpu, cgroup(c, cpu="total"), _cpu(c, now))
            t.add(cpu, pod_cgroup(c, cpu="total"), _cpu(c, now))
        wss = "container_memory_working_set_bytes"
        t.family(wss, "gauge", "Current working set in bytes.")
        for c in cs:
            t.add(wss, cgroup(c), _working_set(c))
            t.add(wss, pod_cgroup(c), _working_set(c) + 512 * 1024)
        t.family("container_memory_rss", "gauge", "Size of RSS in bytes.")
        for c in cs:
            t.add("container_memory_rss", cgroup(c), _working_set(c) * 3 // 4)
        t.family(
            "container_memory_usage_bytes",
            "gauge",
            "Current memory usage in bytes, including all memory regardless of when it was accessed",
        )
        for c in cs:
            t.add("container_memory_usage_bytes", cgroup(c), _working_set(c) + 8 * 1024**2)
        for name, per_request, help_ in (
            ("container_network_receive_bytes_total", 640, "Cumulative count of bytes received"),
            ("container_network_transmit_bytes_total", 2900, "Cumulative count of bytes transmitted"),
        ):
            # Network is counted on the pod's sandbox (pause) container, once per pod.
            t.family(name, "counter", help_)
            seen: set[tuple[str, str]] = set()
            for c in cs:
                if (c.namespace, c.pod) in seen:
                    continue
                seen.add((c.namespace, c.pod))
                labels = {
                    "container": "",
                    "id": f"/kubepods/burstable/pod{c.pod_uid}/{c.sandbox_id}",
                    "image": PAUSE_IMAGE,
                    "interface": "eth0",
                    "name": c.sandbox_id,
                    "namespace": c.namespace,
                    "pod": c.pod,
                }
                t.add(name, labels, per_request * c.requests + 40 * int(now - c.pod_started))
        fs = "container_fs_usage_bytes"
        t.family(fs, "gauge", "Number of bytes that are consumed by the container on this filesystem.")
        for c in cs:
            t.add(fs, cgroup(c, device="/dev/vda1"), 4 * 1024**2 + 64 * c.requests)
        start = "container_start_time_seconds"
        t.family(start, "gauge", "Start time of the container since unix epoch in seconds.")
        for c in cs:
            t.add(start, cgroup(c), int(c.started))
        machine = {"boot_id": "demo", "machine_id": "demo", "system_uuid": "demo"}
        t.family("machine_cpu_cores", "gauge", "Number of logical CPU cores.")
        t.add("machine_cpu_cores", machine, MACHINE_CORES)
        t.family("machine_memory_bytes", "gauge", "Amount of memory installed on the machine.")
        t.add("machine_memory_bytes", machine, MACHINE_MEMORY)
        return t.body()

    def render_resource(self) -> bytes:
        now = time.time()
        cs = sorted(self.stats(), key=lambda c: (c.namespace, c.pod, c.container))
        t = _Text()

        def own(c: ContainerStats) -> dict[str, str]:
            return {"container": c.container, "namespace": c.namespace, "pod": c.pod}

        def pod(c: ContainerStats) -> dict[str, str]:
            return {"namespace": c.namespace, "pod": c.pod}

        stable = "[STABLE] "
        t.family(
            "container_cpu_usage_seconds_total",
            "counter",
            stable + "Cumulative cpu time consumed by the container in core-seconds",
        )
        for c in cs:
            t.add("container_cpu_usage_seconds_total", own(c), _cpu(c, now))
        t.family(
            "container_memory_working_set_bytes",
            "gauge",
            stable + "Current working set of the container in bytes",
        )
        for c in cs:
            t.add("container_memory_working_set_bytes", own(c), _working_set(c))
        t.family(
            "container_start_time_seconds",
            "gauge",
            stable + "Start time of the container since unix epoch in seconds",
        )
        for c in cs:
            t.add("container_start_time_seconds", own(c), int(c.started))
        t.family(
            "pod_cpu_usage_seconds_total",
            "counter",
            stable + "Cumulative cpu time consumed by the pod in core-seconds",
        )
        for c in cs:
            t.add("pod_cpu_usage_seconds_total", pod(c), _cpu(c, now))
        t.family("pod_memory_working_set_bytes", "gauge", stable + "Current working set of the pod in bytes")
        for c in cs:
            t.add("pod_memory_working_set_bytes", pod(c), _working_set(c) + 512 * 1024)
        t.family(
            "node_cpu_usage_seconds_total",
            "counter",
            stable + "Cumulative cpu time consumed by the node in core-seconds",
        )
        t.add(
            "node_cpu_usage_seconds_total",
            {},
            30.0 + sum(_cpu(c, now) for c in cs) + 0.05 * (now - self.started),
        )
        t.family(
            "node_memory_working_set_bytes", "gauge", stable + "Current working set of the node in bytes"
        )
        t.add("node_memory_working_set_bytes", {}, 900 * 1024**2 + sum(_working_set(c) for c in cs))
        t.family(
            "resource_scrape_error",
            "gauge",
            stable + "1 if there was an error while getting container metrics, 0 otherwise",
        )
        t.add("resource_scrape_error", {}, 0)
        return t.body()

    def render_kubelet(self) -> bytes:
        cs = self.stats()
        t = _Text()
        t.family("kubelet_node_name", "gauge", "[ALPHA] The node's name. The count is always 1.")
        t.add("kubelet_node_name", {"node": self.node}, 1)
        t.family("kubelet_running_pods", "gauge", "[ALPHA] Number of pods that have a running pod sandbox")
        t.add("kubelet_running_pods", {}, len({(c.namespace, c.pod) for c in cs}))
        t.family("kubelet_running_containers", "gauge", "[ALPHA] Number of containers currently running")
        t.add("kubelet_running_containers", {"container_state": "running"}, len(cs))
        t.family(
            "process_start_time_seconds",
            "gauge",
            "[ALPHA] Start time of the process since unix epoch in seconds.",
        )
        t.add("process_start_time_seconds", {}, round(self.started, 2))
        return t.body()
