"""Run `heron all` over a simulated node in a temporary directory, until SIGTERM/SIGINT."""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import tempfile
from pathlib import Path

from heron.collect.logs.kube import PodMetadata, kube_client_factory
from heron.config import Settings
from heron.demo.node import SimulatedNode
from heron.server import run_server

__all__ = ["run_demo"]


def run_demo(settings: Settings) -> int:
    root = tempfile.mkdtemp(prefix="heron-demo-")
    node = SimulatedNode(root, rate=settings.demo_rate)
    node.start()
    meta = PodMetadata(
        node.node_name,
        kube_client_factory(node.api.kubeconfig()),
        label_allow=list(settings.pod_label_allow),
        label_deny=list(settings.pod_label_deny),
    )
    meta.start()
    demo = dataclasses.replace(
        settings,
        data_dir=Path(root) / "data",  # the demo's data is as temporary as its node
        pods_dir=node.pods_dir,
        state_dir=os.path.join(root, "agent-state"),
        node_name=node.node_name,
        kube="none",
    )
    host, port = demo.listen_address

    def ready() -> None:
        print(
            f"heron demo: a simulated node with {len(node.containers)} pods in 3 namespaces "
            "is writing logs.\n"
            f"  Loki API: http://{host or '127.0.0.1'}:{port}\n"
            f"  try: curl -s http://{host or '127.0.0.1'}:{port}/loki/api/v1/query_range "
            "--data-urlencode 'query=sum by (namespace) (count_over_time({node=\"demo-node\"}[1m]))'\n"
            f"  files under {root}; Ctrl-C stops the demo",
            file=sys.stdout,
            flush=True,
        )

    try:
        return run_server(demo, with_agent=True, agent_metadata=meta, on_ready=ready)
    finally:
        node.stop()
        shutil.rmtree(root, ignore_errors=True)
