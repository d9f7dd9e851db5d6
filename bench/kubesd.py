"""Kubernetes discovery: time to the first snapshot, change rate, and memory per pod.

A fake API server (`heron.kubefake`) holds `--pods` pods (two declared ports each, labels,
annotations, a controller, and the env, mounts, resources and probes a real pod carries, which
discovery does not keep), spread over 20 namespaces, with 100 services and one endpointslice
each. For the pod and endpointslice roles it measures, through the real lightkube client over
HTTP: seconds until the first published snapshot (list + build), seconds to apply 200 pod
changes (watch events to published versions), and the memory the discoverer holds (tracemalloc,
in a second pass, since tracing slows Python down).

    .venv/bin/python bench/kubesd.py [--pods 5000]
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc

from heron.collect.logs.kube import kube_client_factory
from heron.collect.metrics.kubesd import KubernetesSD
from heron.kubefake import FakeKubeAPI, make_endpointslice, make_pod, make_service
from heron.promconfig import KubernetesSDConfig

CHANGES = 200


def fatten(pod: dict) -> None:
    """What a real pod carries beside what discovery reads: env, mounts, resources, probes."""
    main = pod["spec"]["containers"][0]
    main["env"] = [{"name": f"SETTING_{k}", "value": f"value-{k:04d}-" + "x" * 24} for k in range(20)]
    main["volumeMounts"] = [{"name": f"vol{k}", "mountPath": f"/mnt/vol{k}"} for k in range(4)]
    main["resources"] = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}
    main["readinessProbe"] = {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 5}
    pod["spec"]["volumes"] = [{"name": f"vol{k}", "emptyDir": {}} for k in range(4)]


def cluster(api: FakeKubeAPI, n: int) -> None:
    by_app: dict[tuple[str, str], list[dict]] = {}
    for i in range(n):
        ns, app = f"ns{i % 20}", f"app{i % 100}"
        pod = make_pod(
            ns,
            f"pod-{i}",
            f"node-{i % 50}",
            pod_ip=f"10.{i // 65536}.{(i // 256) % 256}.{i % 256}",
            ports={"main": [("http", 8080), ("metrics", 9090)]},
            labels={"app": app, "team": "x"},
            annotations={"prometheus.io/scrape": "true"},
            ready=True,
            controller=("ReplicaSet", f"rs-{app}"),
        )
        fatten(pod)
        by_app.setdefault((ns, app), []).append(api.add(pod))
    for (ns, app), members in by_app.items():
        api.add(make_service(ns, app, ports=[("http", 8080)]))
        api.add(make_endpointslice(ns, f"{app}-x", app, pods=members, ports=[("http", 8080)]))


def measure(api: FakeKubeAPI, role: str, n: int, trace: bool, tag: str) -> dict[str, float]:
    gc.collect()
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    sd = KubernetesSD(KubernetesSDConfig(role=role), kube_client_factory(api.kubeconfig()))
    sd.start()
    try:
        while sd.version == 0:
            time.sleep(0.002)
        first = time.perf_counter() - t0
        held = tracemalloc.get_traced_memory()[0] if trace else 0
        v = sd.version
        t0 = time.perf_counter()
        for i in range(CHANGES):
            api.modify_pod(f"ns{i % 20}", f"pod-{i}", lambda p: p["metadata"]["labels"].update(rev=tag))
        while sd.version < v + CHANGES:
            time.sleep(0.002)
        changes = time.perf_counter() - t0
        targets = sum(len(g.targets) for g in sd.groups())
    finally:
        sd.stop()
        if trace:
            tracemalloc.stop()
    return {"first": first, "changes": changes, "held": held, "targets": targets}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=5000)
    args = parser.parse_args()
    api = FakeKubeAPI().start()
    try:
        cluster(api, args.pods)
        print(f"{args.pods} pods, 100 services and endpointslices; {CHANGES} pod changes")
        print(f"{'role':<14} {'targets':>8} {'first snapshot s':>17} {'changes/s':>10} {'KiB held/pod':>13}")
        for role in ("pod", "endpointslice"):
            timed = measure(api, role, args.pods, False, f"{role}-timed")
            traced = measure(api, role, args.pods, True, f"{role}-traced")
            print(
                f"{role:<14} {timed['targets']:>8.0f} {timed['first']:>17.2f} "
                f"{CHANGES / timed['changes']:>10.0f} {traced['held'] / 1024 / args.pods:>13.1f}"
            )
    finally:
        api.stop()


if __name__ == "__main__":
    main()
