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

from heron.agent_http import AgentHTTP, register_agent_metrics
from heron.collect.logs.agent import AgentOptions, LogAgent
from heron.collect.logs.multiline import MultilineRule, parse_rule
from heron.collect.logs.tail import PodLogPath
from heron.config import Settings
from heron.logsetup import log_fields
from heron.memtune import limit_arenas
from heron.selfmetrics import Registry
from heron.ship.loki_client import LokiPushClient, PushResult

__all__ = ["AgentConfigError", "run_agent", "make_agent", "node_name", "SHUTDOWN_GRACE_SECONDS"]

SHUTDOWN_GRACE_SECONDS = 10.0
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

log = logging.getLogger("heron.agent")


def node_name(settings: Settings) -> str:
    return settings.node_name or os.environ.get("NODE_NAME", "") or socket.gethostname()


class AgentConfigError(ValueError):
    """The agent cannot start with these settings (the CLI exits 2 with this message)."""


def _kube_config(mode: str):  # type: ignore[no-untyped-def]
    """The lightkube config for `kube` = in-cluster, kubeconfig or auto; None when auto finds none."""
    from lightkube.config.kubeconfig import KubeConfig
    from lightkube.core.exceptions import ConfigError

    in_cluster = os.path.exists(os.path.join(SERVICE_ACCOUNT_DIR, "token"))
    kubeconfig = (os.environ.get("KUBECONFIG") or "").split(os.pathsep)[0] or os.path.expanduser(
        "~/.kube/config"
    )
    try:
        if mode == "in-cluster" or (mode == "auto" and in_cluster):
            return KubeConfig.from_service_account(SERVICE_ACCOUNT_DIR)
        if mode == "kubeconfig" or (mode == "auto" and os.environ.get("KUBECONFIG")):
            return KubeConfig.from_file(kubeconfig)
    except (ConfigError, OSError, ValueError, KeyError) as e:
        where = SERVICE_ACCOUNT_DIR if mode == "in-cluster" or in_cluster else kubeconfig
        raise AgentConfigError(f"kube={mode}: cannot load the Kubernetes config from {where}: {e}") from e
    return None


def _metadata(settings: Settings, node: str):  # type: ignore[no-untyped-def]
    """The started pod metadata watcher for the `kube` setting, or None when there is none."""
    if settings.kube == "none":
        return None
    from heron.collect.logs.kube import PodMetadata, kube_client_factory

    config = _kube_config(settings.kube)
    if config is None:
        log.warning("no Kubernetes API configured; labelling streams from log paths only")
        return None
    try:
        factory = kube_client_factory(config)
    except ValueError as e:
        raise AgentConfigError(f"kube={settings.kube}: {e}") from e
    meta = PodMetadata(
        node,
        factory,
        label_allow=list(settings.pod_label_allow),
        label_deny=list(settings.pod_label_deny),
    )
    meta.start()
    return meta


def make_agent(
    settings: Settings,
    send: Callable[[bytes], PushResult],
    metadata: object | None = None,
    *,
    registry: Registry | None = None,
    client: LokiPushClient | None = None,
) -> tuple[LogAgent, Callable[[], None]]:
    """The agent for these settings, pushing through `send`; call the second value to release
    what it started (the metadata watch). `metadata` replaces the `kube` setting with a
    started PodMetadata (the demo's fake API). With `registry`, the agent's metrics (and
    `client`'s push counters) are added to it."""
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

    rules: dict[str, MultilineRule | None] = {}

    def multiline_for(info: PodLogPath) -> MultilineRule | None:
        if meta is None:
            return None
        pod = meta.lookup(info.namespace, info.pod, info.uid)  # type: ignore[attr-defined]
        if pod is None or not pod.multiline:
            return None
        spec = pod.multiline
        if spec not in rules:
            try:
                rules[spec] = parse_rule(spec)
            except ValueError as e:
                rules[spec] = None
                log.warning(
                    "ignoring a bad heron.io/multiline annotation",
                    extra=log_fields(namespace=info.namespace, pod=info.pod, error=str(e)),
                )
        return rules[spec]

    opts = AgentOptions(
        pods_dir=str(settings.pods_dir),
        state_dir=str(settings.state_dir),
        node_name=node,
        queue_bytes=settings.agent_queue_size,
        start_at=settings.start_at,
        multiline_flush=settings.multiline_flush,
        multiline_max_bytes=settings.multiline_max_size,
    )
    log.info(
        "agent started",
        extra=log_fields(pods_dir=opts.pods_dir, state_dir=opts.state_dir, server=settings.server, node=node),
    )
    agent = LogAgent(opts, send, labels_for, multiline_for)
    if registry is not None:
        register_agent_metrics(registry, agent, client, meta)
    return agent, (lambda: meta.stop() if meta is not None else None)  # type: ignore[attr-defined]


def run_agent(settings: Settings) -> int:
    token = None
    if settings.bearer_token_file:
        with open(settings.bearer_token_file) as f:
            token = f.read().strip()
    limit_arenas(2)  # before the agent's threads start allocating
    client = LokiPushClient(settings.server, bearer_token=token)
    registry = Registry()
    agent, release = make_agent(settings, client.push, registry=registry, client=client)
    endpoints = None
    if settings.agent_listen:
        try:
            endpoints = AgentHTTP(settings.agent_listen, registry, lambda: agent.reading).start()
        except OSError as e:
            release()
            client.close()
            raise OSError(f"cannot serve the agent's endpoints on {settings.agent_listen}: {e}") from e
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
        if endpoints is not None:
            endpoints.stop()
    log.info("agent stopped", extra=log_fields(lines=agent.lines_read, batches=agent.batches_shipped))
    return 0
