"""Run `heron all` over a simulated node in a temporary directory, until SIGTERM/SIGINT."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
import webbrowser
from pathlib import Path

from heron.collect.logs.kube import PodMetadata, kube_client_factory
from heron.collect.metrics.defaults import agent_scrape_configs
from heron.config import Settings
from heron.demo.node import SimulatedNode
from heron.promconfig import GlobalConfig, PromConfig
from heron.server import run_server

__all__ = ["run_demo", "ui_url", "demo_prom_config", "SCRAPE_INTERVAL_SECONDS"]

# Shorter than Prometheus' default minute, so a first look has targets up and samples stored
# within seconds.
SCRAPE_INTERVAL_SECONDS = 5.0


def ui_url(host: str, port: int) -> str:
    """The address a browser on this machine opens: a wildcard listen address means localhost."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def open_when_lines_arrive(url: str, timeout: float = 15.0) -> None:
    """Open the UI once storage holds the demo's first lines (the status API says so), so the
    first page a user sees has logs on it; after `timeout` it opens anyway."""
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # our own server: no proxy
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with direct.open(url + "api/v1/status/storage", timeout=2) as resp:
                if json.load(resp)["data"]["logEntriesTotal"] > 0:
                    break
        except (OSError, ValueError, KeyError):
            pass  # not ready yet
        time.sleep(0.2)
    webbrowser.open(url)


def demo_prom_config(node: SimulatedNode) -> PromConfig:
    """The zero-configuration jobs an agent on the demo's node runs (its kubelet's three
    endpoints and the annotated pods, all found through the fake API), with the kubelet over
    plain http (the simulated one has no certificate) with the node's service-account token."""
    glob = GlobalConfig(scrape_interval=SCRAPE_INTERVAL_SECONDS, scrape_timeout=SCRAPE_INTERVAL_SECONDS)
    jobs = agent_scrape_configs(
        node.node_name, kubelet_scheme="http", token_file=node.token_file, global_=glob
    )
    return PromConfig(global_=glob, scrape_configs=tuple(jobs))


def run_demo(settings: Settings, open_browser: bool = False) -> int:
    """`heron demo`; with `open_browser` the UI opens in the user's browser (Python's
    `webbrowser`, which honours $BROWSER) once the server is ready."""
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
    url = ui_url(host, port)

    def ready() -> None:
        print(
            f"Heron UI: {url}\n"
            f"heron demo: a simulated node with {len(node.containers)} pods in 3 namespaces "
            "is writing logs.\n"
            f"  Loki API: {url.rstrip('/')}\n"
            f"  Targets: {url}targets (the pods' /metrics and the kubelet's, scraped every "
            f"{SCRAPE_INTERVAL_SECONDS:g} s)\n"
            f"  try: curl -s {url}loki/api/v1/query_range "
            "--data-urlencode 'query=sum by (namespace) (count_over_time({node=\"demo-node\"}[1m]))'\n"
            f"  files under {root}; Ctrl-C stops the demo",
            file=sys.stdout,
            flush=True,
        )
        if open_browser:  # in a thread: the server's event loop must not wait for a browser
            opener = threading.Thread(target=open_when_lines_arrive, args=(url,), daemon=True)
            opener.start()

    try:
        return run_server(
            demo, with_agent=True, agent_metadata=meta, on_ready=ready, prom_config=demo_prom_config(node)
        )
    finally:
        node.stop()
        shutil.rmtree(root, ignore_errors=True)
