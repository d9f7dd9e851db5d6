"""The agent's zero-configuration scraping end to end: discovery through the fake API server
(real lightkube client), real HTTP targets, remote write through the durable queue into a real
`heron server`, and the series stored under the labels the log streams use."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from heron.agent import make_agent
from heron.collect.logs.kube import PodMetadata, kube_client_factory
from heron.config import Settings, load_settings
from heron.kubefake import FakeKubeAPI, make_node, make_pod
from heron.model import Matcher, MatchOp
from heron.promconfig import GlobalConfig, PromConfig
from heron.selfmetrics import Registry
from heron.ship.loki_client import LokiPushClient, PushResult
from heron.storage import Database, SampleColumns, StorageOptions
from serverproc import ServerProc, start_server

NODE = "n1"
WAIT = 30.0
BODIES = {
    "/metrics": b"# TYPE kubelet_running_pods gauge\nkubelet_running_pods 2\n",
    "/metrics/cadvisor": (
        b"# TYPE container_cpu_usage_seconds_total counter\n"
        b'container_cpu_usage_seconds_total{container="app",namespace="shop",pod="web-1"} 12.5\n'
    ),
    "/metrics/resource": (
        b"# TYPE pod_memory_working_set_bytes gauge\n"
        b'pod_memory_working_set_bytes{namespace="shop",pod="web-1"} 1e6\n'
    ),
    "/pod-metrics": b"# TYPE shop_requests_total counter\nshop_requests_total 7\n",
}


def wait_for(predicate: Callable[[], object], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.05)


class _Targets(ThreadingHTTPServer):
    """A kubelet and a pod on 127.0.0.1: serves BODIES, counts scrapes, keeps auth headers by path."""

    daemon_threads = True

    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.auth: dict[str, set[str | None]] = {}
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Targets

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        path = self.path.split("?")[0]
        body = BODIES.get(path)
        self.server.hits[path] = self.server.hits.get(path, 0) + 1
        self.server.auth.setdefault(path, set()).add(self.headers.get("Authorization"))
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        """Quiet."""


@pytest.fixture
def targets() -> Iterator[_Targets]:
    srv = _Targets()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join()


@pytest.fixture
def fake(targets: _Targets) -> Iterator[FakeKubeAPI]:
    api = FakeKubeAPI().start()
    port = targets.server_address[1]
    api.add(make_node(NODE, address="127.0.0.1", kubelet_port=port))
    api.add(
        make_pod(
            "shop",
            "web-1",
            NODE,
            containers=("app",),
            pod_ip="127.0.0.1",
            ports={"app": [("metrics", port)]},
            annotations={"prometheus.io/scrape": "true", "prometheus.io/path": "/pod-metrics"},
        )
    )
    yield api
    api.stop()


@pytest.fixture
def metadata(fake: FakeKubeAPI) -> Iterator[PodMetadata]:
    meta = PodMetadata(NODE, kube_client_factory(fake.kubeconfig()), backoff_initial=0.02, backoff_max=0.1)
    meta.start()
    yield meta
    meta.stop()


def agent_settings(tmp_path: Path, server_url: str) -> Settings:
    token = tmp_path / "serviceaccount" / "token"
    token.parent.mkdir(exist_ok=True)
    token.write_text("t0ken\n")
    return load_settings(
        None,
        {},
        {
            "pods_dir": str(tmp_path / "pods"),
            "state_dir": str(tmp_path / "state"),
            "server": server_url,
            "node_name": NODE,
            "kube": "none",
            "kubelet_scheme": "http",
            "kubelet_token_file": str(token),
        },
    )


def no_push(body: bytes) -> PushResult:
    """The log side is not run in these tests: nothing is ever pushed."""
    raise AssertionError("no log push expected")


FAST = PromConfig(global_=GlobalConfig(scrape_interval=0.5, scrape_timeout=0.4))


def test_agent_scrapes_its_node_and_remote_writes_to_the_server(
    tmp_path: Path, targets: _Targets, metadata: PodMetadata
) -> None:
    (tmp_path / "pods").mkdir()
    server: ServerProc = start_server(tmp_path / "data")
    registry = Registry()
    settings = agent_settings(tmp_path, server.url)
    client = LokiPushClient(settings.server)
    try:
        agent, release = make_agent(settings, client.push, metadata, registry=registry, prom_config=FAST)
        try:
            wait_for(lambda: all(targets.hits.get(p, 0) >= 2 for p in BODIES))
        finally:
            release()  # staleness markers, then the queue drains to the server
        # The kubelet gets the service account's token; a pod gets none.
        assert all(targets.auth[p] == {"Bearer t0ken"} for p in BODIES if p.startswith("/metrics"))
        assert targets.auth["/pod-metrics"] == {None}
        assert (tmp_path / "state" / "remote-write").is_dir()
        text = registry.render()
        assert "heron_scrape_targets" in text and "heron_remote_write_samples_total" in text
    finally:
        client.close()
        assert server.stop() == 0, server.log()

    db = Database.open(str(tmp_path / "data"), StorageOptions(), background=False)
    try:
        now = int(time.time() * 1000)
        rows = db.query_samples([Matcher("__name__", MatchOp.RE, ".+")], now - 600_000, now + 60_000)
    finally:
        db.close()
    series = {dict(labels)["__name__"]: dict(labels) for labels, ts, _ in rows if len(ts)}
    port = str(targets.server_address[1])
    kubelet = {"job": "kubelet", "instance": NODE, "node": NODE}
    assert series["kubelet_running_pods"] == {
        **kubelet,
        "__name__": "kubelet_running_pods",
        "metrics_path": "/metrics",
    }
    # cAdvisor's own namespace/pod/container labels come through: they are the logs' values too
    assert series["container_cpu_usage_seconds_total"] == {
        **kubelet,
        "__name__": "container_cpu_usage_seconds_total",
        "metrics_path": "/metrics/cadvisor",
        "namespace": "shop",
        "pod": "web-1",
        "container": "app",
    }
    assert series["pod_memory_working_set_bytes"]["metrics_path"] == "/metrics/resource"
    assert series["shop_requests_total"] == {
        "__name__": "shop_requests_total",
        "job": "kubernetes-pods",
        "instance": f"127.0.0.1:{port}",
        "namespace": "shop",
        "pod": "web-1",
        "container": "app",
        "node": NODE,
    }
    up = [dict(labels) for labels, _, _ in rows if dict(labels)["__name__"] == "up"]
    assert {(u["job"], u.get("metrics_path", "")) for u in up} == {
        ("kubelet", "/metrics"),
        ("kubelet", "/metrics/cadvisor"),
        ("kubelet", "/metrics/resource"),
        ("kubernetes-pods", ""),
    }


def test_heron_all_style_sink_is_a_function_call(
    tmp_path: Path, targets: _Targets, metadata: PodMetadata
) -> None:
    (tmp_path / "pods").mkdir()
    got: list[SampleColumns] = []
    settings = agent_settings(tmp_path, "http://127.0.0.1:1")  # never contacted
    agent, release = make_agent(settings, no_push, metadata, prom_config=FAST, metric_sink=got.append)

    def names() -> set[str]:
        return {dict(lab)["__name__"] for c in list(got) for lab in c.labels}

    try:
        wait_for(
            lambda: (
                {"up", "kubelet_running_pods", "container_cpu_usage_seconds_total", "shop_requests_total"}
                <= names()
            )
        )
    finally:
        release()
    assert not (tmp_path / "state" / "remote-write").exists()


def test_no_kubernetes_and_no_scrape_configs_means_no_scraping(tmp_path: Path, targets: _Targets) -> None:
    (tmp_path / "pods").mkdir()
    got: list[SampleColumns] = []
    settings = agent_settings(tmp_path, "http://127.0.0.1:1")
    agent, release = make_agent(settings, no_push, None, prom_config=FAST, metric_sink=got.append)
    time.sleep(1.0)  # two scrape intervals: nothing may be scraped in them
    release()
    assert got == [] and targets.hits == {}


def test_heron_agent_command_scrapes_the_files_scrape_configs(tmp_path: Path, targets: _Targets) -> None:
    """`heron agent --config heron.yaml` with a `scrape_configs` section (no Kubernetes): the
    file's jobs replace the zero-configuration ones and reach the server by remote write."""
    (tmp_path / "pods").mkdir()
    port = targets.server_address[1]
    config = tmp_path / "heron.yaml"
    config.write_text(
        "global: {scrape_interval: 500ms, scrape_timeout: 400ms, external_labels: {cluster: c1}}\n"
        "scrape_configs:\n"
        "  - job_name: static\n"
        "    metrics_path: /pod-metrics\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{port}'], labels: {{team: a}}}}]\n"
    )
    server = start_server(tmp_path / "data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERON_")}
    log = tmp_path / "agent.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "heron", "agent", "--config", str(config)]
            + ["--pods-dir", str(tmp_path / "pods"), "--state-dir", str(tmp_path / "state")]
            + ["--server", server.url, "--kube", "none", "--agent-listen", ""],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
        )
    try:
        wait_for(lambda: targets.hits.get("/pod-metrics", 0) >= 3 or proc.poll() is not None)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        assert server.stop() == 0, server.log()
    assert code == 0, log.read_text()
    db = Database.open(str(tmp_path / "data"), StorageOptions(), background=False)
    try:
        now = int(time.time() * 1000)
        rows = db.query_samples([Matcher("job", MatchOp.EQ, "static")], now - 600_000, now + 60_000)
    finally:
        db.close()
    series = {dict(labels)["__name__"]: dict(labels) for labels, ts, _ in rows if len(ts)}
    assert series["shop_requests_total"] == {
        "__name__": "shop_requests_total",
        "job": "static",
        "instance": f"127.0.0.1:{port}",
        "team": "a",
        "cluster": "c1",  # the agent's external labels go on before remote write
    }
    assert "up" in series
