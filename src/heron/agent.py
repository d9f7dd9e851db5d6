"""`heron agent`: the node agent process: tail this node's container logs, scrape this node's
metric targets, and ship both.

Wires the collect and ship parts together from settings. Pod metadata is optional: without an
API server (`--kube none`, or `auto` outside a cluster) streams are labelled from the log path
alone, and with one, a metadata outage never blocks reading.

Metrics: with a Kubernetes connection (and no `scrape_configs` of its own) the agent scrapes the
zero-configuration jobs of its node (`heron.collect.metrics.defaults`: the kubelet and annotated
pods); with `scrape_configs` it scrapes those. Samples go to `<server>/api/v1/write` by remote
write through a durable, bounded queue under `state_dir/remote-write` (bounded by
`agent_queue_size`, as the log queue is), or, in `heron all`, to a function (`metric_sink`).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from typing import TYPE_CHECKING, Callable, Sequence

from heron.agent_http import AgentHTTP, register_agent_metrics
from heron.collect.logs.agent import AgentOptions, LogAgent
from heron.collect.logs.multiline import MultilineRule, parse_rule
from heron.collect.logs.tail import PodLogPath
from heron.config import Settings
from heron.logsetup import log_fields
from heron.memtune import limit_arenas
from heron.selfmetrics import Registry
from heron.ship.loki_client import LokiPushClient, PushResult

if TYPE_CHECKING:
    from heron.collect.logs.kube import ClientFactory
    from heron.promconfig import PromConfig, ScrapeConfig
    from heron.storage import SampleColumns

__all__ = [
    "AgentConfigError",
    "REMOTE_WRITE_PATH",
    "run_agent",
    "make_agent",
    "kube_connection",
    "node_name",
    "node_scrape_configs",
    "start_scraping",
    "SHUTDOWN_GRACE_SECONDS",
]

REMOTE_WRITE_PATH = "/api/v1/write"
AGENT_REMOTE_TIMEOUT_SECONDS = 10.0

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


def kube_connection(settings: Settings, metadata: object | None = None) -> ClientFactory | None:
    """This process's Kubernetes API connection factory: that of `metadata` (a started
    PodMetadata, e.g. over the demo's fake API) when given, else the `kube` setting's; None
    when there is none (`--kube none`, or `auto` outside a cluster)."""
    factory = getattr(metadata, "client_factory", None)
    if factory is not None:
        return factory  # type: ignore[no-any-return]
    if settings.kube == "none" or metadata is not None:
        return None
    from heron.collect.logs.kube import kube_client_factory

    config = _kube_config(settings.kube)
    if config is None:
        return None
    try:
        return kube_client_factory(config)
    except ValueError as e:
        raise AgentConfigError(f"kube={settings.kube}: {e}") from e


def _metadata(settings: Settings, node: str, factory: ClientFactory | None):  # type: ignore[no-untyped-def]
    """The started pod metadata watcher over `factory`, or None when there is no connection."""
    if factory is None:
        if settings.kube != "none":
            log.warning("no Kubernetes API configured; labelling streams from log paths only")
        return None
    from heron.collect.logs.kube import PodMetadata

    meta = PodMetadata(
        node,
        factory,
        label_allow=list(settings.pod_label_allow),
        label_deny=list(settings.pod_label_deny),
    )
    meta.start()
    return meta


def node_scrape_configs(
    settings: Settings, prom_config: PromConfig | None, kube_connect: ClientFactory | None
) -> list[ScrapeConfig]:
    """What the agent scrapes: the file's `scrape_configs` when it has some, else, with a
    Kubernetes connection, the zero-configuration jobs of this node; else nothing."""
    if prom_config is not None and prom_config.scrape_configs:
        return list(prom_config.scrape_configs)
    if kube_connect is None:
        return []
    from heron.collect.metrics.defaults import agent_scrape_configs
    from heron.promconfig import GlobalConfig

    return agent_scrape_configs(
        node_name(settings),
        kubelet_scheme=settings.kubelet_scheme,
        token_file=settings.kubelet_token_file,
        kubelet_insecure_skip_verify=settings.kubelet_insecure_skip_verify,
        global_=prom_config.global_ if prom_config else GlobalConfig(),
    )


def start_scraping(
    settings: Settings,
    configs: Sequence[ScrapeConfig],
    *,
    kube_connect: ClientFactory | None,
    prom_config: PromConfig | None = None,
    registry: Registry | None = None,
    metric_sink: Callable[[SampleColumns], None] | None = None,
    base_dir: str = ".",
) -> Callable[[], None]:
    """Start scraping `configs`; returns the function that stops it (staleness markers first,
    then the queue gets a grace period to drain; what is left stays on disk for the next start).

    Samples go to `metric_sink` when given (`heron all`: storage), else to a durable remote
    write sender for `<server>/api/v1/write` under `state_dir/remote-write`.
    """
    from heron.collect.metrics.kubesd import scrape_discoverers
    from heron.collect.metrics.scrape import ScrapeManager
    from heron.promconfig import Authorization, RemoteWriteConfig

    external = dict(prom_config.global_.external_labels) if prom_config is not None else {}
    sender = None
    sink = metric_sink
    if sink is None:
        from heron.ship.remote_write import RemoteWriteSender

        auth = (
            Authorization(type="Bearer", credentials_file=str(settings.bearer_token_file))
            if settings.bearer_token_file
            else None
        )
        url = settings.server.rstrip("/") + REMOTE_WRITE_PATH
        sender = RemoteWriteSender(
            # A request in flight may outlive stop()'s grace by this much: keep the agent's
            # shutdown inside a pod's default 30 s termination grace period.
            RemoteWriteConfig(url=url, authorization=auth, remote_timeout=AGENT_REMOTE_TIMEOUT_SECONDS),
            os.path.join(str(settings.state_dir), "remote-write"),
            registry=registry,
            # The server applies its own external labels; the agent's go on here.
            external_labels=external,
            max_queue_bytes=settings.agent_queue_size,
        )
        sender.start()
        sink = sender.submit
    manager = ScrapeManager(
        configs,
        sink,
        discoverers=scrape_discoverers(kube_connect, base_dir),
        registry=registry,
        external_labels=external,
        base_dir=base_dir,
    )
    manager.start()
    log.info(
        "scraping",
        extra=log_fields(jobs=len(configs), remote_write=sender.url if sender is not None else None),
    )

    def stop() -> None:
        manager.stop()  # its staleness markers go to the sink before the sender stops
        if sender is not None:
            sender.stop(SHUTDOWN_GRACE_SECONDS)

    return stop


def make_agent(
    settings: Settings,
    send: Callable[[bytes], PushResult],
    metadata: object | None = None,
    *,
    registry: Registry | None = None,
    client: LokiPushClient | None = None,
    prom_config: PromConfig | None = None,
    scrape_configs: Sequence[ScrapeConfig] | None = None,
    metric_sink: Callable[[SampleColumns], None] | None = None,
    base_dir: str = ".",
) -> tuple[LogAgent, Callable[[], None]]:
    """The agent for these settings, pushing through `send`; call the second value to release
    what it started (scraping, the metadata watch). `metadata` replaces the `kube` setting with
    a started PodMetadata (the demo's fake API). With `registry`, the agent's metrics (and
    `client`'s push counters, and the scrape and remote-write counters) are added to it.

    Scraping: `scrape_configs` when given (`[]`: none), else `node_scrape_configs` (the file's
    `scrape_configs` in `prom_config`, or this node's zero-configuration jobs when there is a
    Kubernetes connection). Samples go to `metric_sink` when given, else by remote write to
    the server (see `start_scraping`)."""
    node = node_name(settings)
    factory = kube_connection(settings, metadata)
    meta = metadata if metadata is not None else _metadata(settings, node, factory)
    configs = (
        list(scrape_configs)
        if scrape_configs is not None
        else node_scrape_configs(settings, prom_config, factory)
    )
    stop_scraping: Callable[[], None] | None = None
    if configs:
        try:
            stop_scraping = start_scraping(
                settings,
                configs,
                kube_connect=factory,
                prom_config=prom_config,
                registry=registry,
                metric_sink=metric_sink,
                base_dir=base_dir,
            )
        except BaseException:
            if metadata is None and meta is not None:
                meta.stop()
            raise

    def release() -> None:
        if stop_scraping is not None:
            stop_scraping()
        if meta is not None:
            meta.stop()  # type: ignore[attr-defined]

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
    return agent, release


def run_agent(settings: Settings, prom_config: PromConfig | None = None, config_dir: str = ".") -> int:
    """`heron agent`; `prom_config` holds the file's Prometheus sections (its `scrape_configs`,
    when it has some, replace the zero-configuration jobs; relative paths from `config_dir`)."""
    token = None
    if settings.bearer_token_file:
        with open(settings.bearer_token_file) as f:
            token = f.read().strip()
    limit_arenas(2)  # before the agent's threads start allocating
    client = LokiPushClient(settings.server, bearer_token=token)
    registry = Registry()
    agent, release = make_agent(
        settings, client.push, registry=registry, client=client, prom_config=prom_config, base_dir=config_dir
    )
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
