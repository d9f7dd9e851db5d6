"""`heron demo` as a real process: pods write, rotate and restart; everything is queryable."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from heron.demo.node import PODS, SimulatedNode
from heron.demo.run import ui_url
from serverproc import free_port


def test_demo_serves_logs_from_every_namespace_with_metadata() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "heron", "demo", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first == f"Heron UI: {url}/\n"  # the UI's address first, ready to click
        assert "heron demo" in proc.stdout.readline()
        namespaces: set[str] = set()
        apps: set[str] = set()
        deadline = started + 30  # what a first look promises: live lines within 30 s
        while (len(namespaces) < 3 or "orders" not in apps) and time.monotonic() < deadline:
            time.sleep(0.5)
            params = {"match[]": '{node="demo-node"}', "since": "10m"}
            r = httpx.get(url + "/loki/api/v1/series", params=params)
            if r.status_code == 200:
                for s in r.json()["data"]:
                    namespaces.add(s["namespace"])
                    if "app" in s:
                        apps.add(s["app"])
        assert namespaces == {"web", "api", "worker"}
        assert "orders" in apps  # labels from the fake API's pod metadata, through lightkube
        r = httpx.get(
            url + "/loki/api/v1/query",
            params={"query": 'sum by (namespace) (count_over_time({node="demo-node"}[5m]))'},
        )
        assert r.status_code == 200 and len(r.json()["data"]["result"]) == 3
        # live lines, as the UI's logs view asks for them: written in the last 30 s
        now = time.time_ns()
        r = httpx.get(
            url + "/loki/api/v1/query_range",
            params={
                "query": '{node="demo-node"}',
                "start": str(now - 30 * 10**9),
                "end": str(now),
                "limit": "10",
            },
        )
        assert r.status_code == 200 and r.json()["data"]["result"], r.text
        # the in-process agent is on the status page's agents list
        agents = httpx.get(url + "/api/v1/status/agents").json()["data"]["agents"]
        (demo,) = [a for a in agents if a["node"] == "demo-node"]
        assert demo["userAgent"] == "heron-agent (in-process)" and demo["linesPerSecond"] > 0
        _check_the_demo_scrapes_its_pods_and_kubelet(url)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert proc.stdout is not None
        proc.stdout.close()


def _check_the_demo_scrapes_its_pods_and_kubelet(url: str) -> None:
    """The agent found every pod and the kubelet through the fake API, scrapes them all, and
    the samples are stored under the labels the pods' log streams carry."""
    pods = {(ns, pod) for ns, pod, app, *_ in PODS if app != "batch"}
    deadline = time.monotonic() + 60
    while True:
        active = httpx.get(url + "/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        up = [t for t in active if t["health"] == "up"]
        pod_targets = {(t["labels"].get("namespace"), t["labels"].get("pod")) for t in up}
        kubelet = {t["scrapeUrl"].split("/", 3)[3] for t in up if "pod" not in t["labels"]}
        if pods <= pod_targets and {"metrics", "metrics/cadvisor", "metrics/resource"} <= kubelet:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"not every demo target is up: {active}")
        time.sleep(0.5)
    for t in up:
        if (t["labels"].get("namespace"), t["labels"].get("pod")) in pods:
            assert t["labels"]["node"] == "demo-node" and t["scrapeUrl"].startswith("http://127.0.0.1:")
    # samples are stored: the pods' request counters and cAdvisor's series, under their labels
    deadline = time.monotonic() + 30
    while True:
        storage = httpx.get(url + "/api/v1/status/storage", timeout=10).json()["data"]
        if storage["samplesTotal"] > 0 and storage["metricSeries"] > 0:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"no metric samples stored: {storage}")
        time.sleep(0.5)


def test_demo_open_starts_the_browser_on_the_ui_url_once_lines_are_stored(tmp_path: Path) -> None:
    """`--open` goes through Python's webbrowser, which runs $BROWSER with the URL as its
    argument; this one notes the URL and how many lines storage held when it was started."""
    opened = tmp_path / "opened"
    browser = tmp_path / "browser"
    browser.write_text(
        f"#!{sys.executable}\n"
        "import json, sys, urllib.request\n"
        "url = sys.argv[1]\n"
        "direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))\n"
        'total = json.load(direct.open(url + "api/v1/status/storage"))["data"]["logEntriesTotal"]\n'
        f'open({str(opened)!r}, "w").write(f"{{url}} {{total}}")\n'
    )
    browser.chmod(0o755)
    port = free_port()
    env = {**os.environ, "BROWSER": str(browser)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "heron", "demo", "--open", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == f"Heron UI: http://127.0.0.1:{port}/\n"
        deadline = time.monotonic() + 30
        while not (opened.exists() and opened.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        url, total = opened.read_text().split()
        assert url == f"http://127.0.0.1:{port}/"
        assert int(total) > 0  # the first page the user sees has logs on it
        assert httpx.get(url, timeout=10).status_code == 200  # the UI answers there
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert proc.stdout is not None
        proc.stdout.close()


def test_ui_url_of_a_listen_address() -> None:
    assert ui_url("", 9500) == "http://127.0.0.1:9500/"
    assert ui_url("0.0.0.0", 9500) == "http://127.0.0.1:9500/"
    assert ui_url("::1", 9500) == "http://[::1]:9500/"
    assert ui_url("heron.local", 80) == "http://heron.local:80/"


# ---- the simulated node's metrics, in-process ----------------------------------------------

# A pod whose lines say their status, and how to read one line's status.
STATUS_OF = {
    ("web", "frontend-7d9f8-abcde"): lambda line: int(re.search(r'HTTP/1.1" (\d{3}) ', line)[1]),  # type: ignore[index]
    ("api", "orders-5c6b7-klmno"): lambda line: json.loads(line)["status"],
    ("api", "users-6d7e8-pqrst"): lambda line: int(re.search(r" status=(\d{3}) ", line)[1]),  # type: ignore[index]
}


def _logged_statuses(node: SimulatedNode, key: tuple[str, str]) -> list[int]:
    """The status of every request a pod logged, read back from its log files."""
    c = node.containers[key]
    out = []
    for name in sorted(os.listdir(c.dir)):
        with open(os.path.join(c.dir, name)) as f:
            partial = ""
            for raw in f.read().splitlines():
                if c.fmt == "docker":
                    line = json.loads(raw)["log"].rstrip("\n")
                else:  # CRI: `<time> <stream> <P|F> <content>`, a long line in P pieces
                    _, _, tag, content = raw.split(" ", 3)
                    if tag == "P":
                        partial += content
                        continue
                    line, partial = partial + content, ""
                out.append(STATUS_OF[key](line))
    return out


@pytest.fixture
def node(tmp_path: Path) -> Iterator[SimulatedNode]:
    n = SimulatedNode(str(tmp_path), rate=200, rotate_bytes=1 << 30)
    n.start(writing=False)  # the test drives the clock: what it reads back is all there is
    yield n
    n.stop()


def _families(url: str, token_file: str | None = None) -> dict[str, list[Sample]]:
    headers = {"Authorization": f"Bearer {Path(token_file).read_text()}"} if token_file else {}
    r = httpx.get(url, headers=headers, timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {f.name: f.samples for f in text_string_to_metric_families(r.text)}


def test_pod_metrics_count_exactly_the_requests_the_pod_logged(node: SimulatedNode) -> None:
    for _ in range(150):  # 15 s of the node, well short of its first restart (at 30 s)
        node.tick()
    for key in STATUS_OF:
        port = node.containers[key].server.port
        fams = _families(f"http://127.0.0.1:{port}/metrics")
        statuses = _logged_statuses(node, key)
        assert len(statuses) > 50, key
        by_code: dict[str, float] = {}
        for s in fams["http_requests"]:  # the parser drops the counter's _total suffix
            by_code[s.labels["code"]] = by_code.get(s.labels["code"], 0) + s.value
        logged = {str(code): float(statuses.count(code)) for code in set(statuses)}
        assert by_code == logged, key
        assert by_code.get("500", 0) == statuses.count(500)
        hist = fams["http_request_duration_seconds"]
        count = sum(s.value for s in hist if s.name.endswith("_count"))
        assert count == len(statuses)  # one observation per logged request
        inf = sum(s.value for s in hist if s.name.endswith("_bucket") and s.labels["le"] == "+Inf")
        assert inf == count
        assert fams["log_lines_written"][0].value == len(statuses)  # one line per request here


def test_pods_carry_scrape_annotations_and_their_own_metrics_port(node: SimulatedNode) -> None:
    pods = node.api.pods()
    assert len(pods) == len(node.containers) >= 8
    ports = set()
    for pod in pods:
        meta, status = pod["metadata"], pod["status"]
        assert meta["annotations"]["prometheus.io/scrape"] == "true"
        port = int(meta["annotations"]["prometheus.io/port"])
        assert status["podIP"] == "127.0.0.1"
        (container,) = pod["spec"]["containers"]
        assert container["ports"] == [{"name": "metrics", "containerPort": port, "protocol": "TCP"}]
        ports.add(port)
        r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert r.status_code == 200 and "http_requests_total" in r.text
    assert len(ports) == len(pods)  # each pod its own port
    (kube_node,) = node.api.objects("nodes")
    assert kube_node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == node.kubelet.port
    assert {"type": "InternalIP", "address": "127.0.0.1"} in kube_node["status"]["addresses"]


def test_kubelet_serves_cadvisor_resource_and_its_own_metrics_with_real_label_names(
    node: SimulatedNode,
) -> None:
    for _ in range(20):
        node.tick()
    base = f"http://127.0.0.1:{node.kubelet.port}"
    # like a kubelet, it wants the service account's token
    assert httpx.get(base + "/metrics/cadvisor", timeout=10).status_code == 401
    bad = httpx.get(base + "/metrics", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert bad.status_code == 401
    cadvisor = _families(base + "/metrics/cadvisor", node.token_file)
    pods = {(ns, pod) for ns, pod in node.containers}
    cpu = [s for s in cadvisor["container_cpu_usage_seconds"] if s.labels["container"]]
    assert {(s.labels["namespace"], s.labels["pod"]) for s in cpu} == pods
    for s in cpu:
        assert set(s.labels) == {"container", "cpu", "id", "image", "name", "namespace", "pod"}
        assert s.labels["id"].startswith("/kubepods/") and s.labels["id"].endswith(s.labels["name"])
        assert s.value > 0
    for name in ("container_memory_working_set_bytes", "container_memory_rss", "container_fs_usage_bytes"):
        assert {(s.labels["namespace"], s.labels["pod"]) for s in cadvisor[name]} == pods, name
    rx = cadvisor["container_network_receive_bytes"]
    assert {s.labels["interface"] for s in rx} == {"eth0"} and len(rx) == len(pods)
    resource = _families(base + "/metrics/resource", node.token_file)
    assert {tuple(sorted(s.labels)) for s in resource["container_cpu_usage_seconds"]} == {
        ("container", "namespace", "pod")
    }
    assert resource["resource_scrape_error"][0].value == 0
    kubelet = _families(base + "/metrics", node.token_file)
    assert kubelet["kubelet_node_name"][0].labels == {"node": "demo-node"}
    assert kubelet["kubelet_running_pods"][0].value == len(pods)
    token = {"Authorization": f"Bearer {Path(node.token_file).read_text()}"}
    assert httpx.get(base + "/metrics/nope", headers=token, timeout=10).status_code == 404


def test_a_restart_starts_fresh_counters_and_a_new_container_id(node: SimulatedNode) -> None:
    for _ in range(299):
        node.tick()
    before = {c.namespace + "/" + c.pod: c.container_id for c in node.container_stats()}
    node.tick()  # the 300th tick restarts one container
    after = {c.namespace + "/" + c.pod: c for c in node.container_stats()}
    (restarted,) = [k for k, c in after.items() if k in before and c.container_id != before[k]]
    ns, pod = restarted.split("/")
    assert node.pod_metrics(ns, pod).requests_total() == 0 == after[restarted].requests
    fams = _families(f"http://127.0.0.1:{node.containers[(ns, pod)].server.port}/metrics")
    assert fams["http_requests"] == []
