"""`heron agent`: the node agent process: tail this node's container logs and ship them.

Wires the collect and ship parts together from settings. Pod metadata is optional: without an
API server (`--kube none`, or `auto` outside a cluster) streams are labelled from the log path
alone, and with one, a metadata outage never blocks reading.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from typing import Callable

from heron.collect.logs.agent import AgentOptions, LogAgent
from heron.collect.logs.tail import PodLogPath
from heron.config import Settings
from heron.logsetup import log_fields
from heron.ship.loki_client import LokiPushClient, PushResult

__all__ = ["run_agent", "make_agent", "node_name", "SHUTDOWN_GRACE_SECONDS"]

SHUTDOWN_GRACE_SECONDS = 10.0

log = logging.getLogger("heron.agent")


def node_name(settings: Settings) -> str:
    return settings.node_name or os.environ.get("NODE_NAME", "") or socket.gethostname()


def _metadata(settings: Settings, node: str):  # type: ignore[no-untyped-def]
    """The pod metadata watcher for the `kube` setting, or None when there is none to use."""
    if settings.kube == "none":
        return None
    from heron.collect.logs.kube import PodMetadata, kube_client_factory

    in_cluster = os.path.exists("/var/run/secrets/kubernetes.io/serviceaccount/token")
    if settings.kube == "auto" and not in_cluster and not os.environ.get("KUBECONFIG"):
        log.warning("no Kubernetes API configured; labelling streams from log paths only")
        return None
    meta = PodMetadata(node, kube_client_factory)
    meta.start()
    return meta


def make_agent(
    settings: Settings, send: Callable[[bytes], PushResult], metadata: object | None = None
) -> tuple[LogAgent, Callable[[], None]]:
    """The agent for these settings, pushing through `send`; call the second value to release
    what it started (the metadata watch). `metadata` replaces the `kube` setting with a
    started PodMetadata (the demo's fake API)."""
    node = node_name(settings)
    meta = metadata if metadata is not None else _metadata(settings, node)

    def labels_for(info: PodLogPath) -> dict[str, str] | None:
        if meta is None:
            return {}
        pod = meta.lookup(info.namespace, info.pod, info.uid)  # type: ignore[attr-defined]
        if pod is None:
            return {}
        if pod.excluded:
            return None
        return {k: v for k, v in pod.labels.items() if k not in ("namespace", "pod", "node")}

    opts = AgentOptions(
        pods_dir=str(settings.pods_dir),
        state_dir=str(settings.state_dir),
        node_name=node,
        queue_bytes=settings.agent_queue_size,
    )
    log.info(
        "agent started",
        extra=log_fields(pods_dir=opts.pods_dir, state_dir=opts.state_dir, server=settings.server, node=node),
    )
    return LogAgent(opts, send, labels_for), (lambda: meta.stop() if meta is not None else None)  # type: ignore[attr-defined]


def run_agent(settings: Settings) -> int:
    token = None
    if settings.bearer_token_file:
        with open(settings.bearer_token_file) as f:
            token = f.read().strip()
    client = LokiPushClient(settings.server, bearer_token=token)
    agent, release = make_agent(settings, client.push)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        log.info("stopping", extra=log_fields(signal=signal.Signals(signum).name))
        stop.set()
        # Queued batches get a grace period to ship; after it, retries stop and what is left
        # stays in the durable queue for the next start.
        timer = threading.Timer(SHUTDOWN_GRACE_SECONDS, client.stop_retrying)
        timer.daemon = True
        timer.start()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    try:
        agent.run(stop)
    finally:
        client.close()
        release()
    log.info("agent stopped", extra=log_fields(lines=agent.lines_read, batches=agent.batches_shipped))
    return 0
