"""Pod metadata through the node agent: real CRI files -> LogAgent -> a real `heron server`, with
labels from the fake Kubernetes API (real lightkube client over HTTP) while that API is up, down
from the start, forbidden (403), lost mid-run, and after a pod's deletion.

The stream labels are checked where they end up: in the server, through its Loki API. Every test
uses its own node name, so the tests can share one server and select their streams by `node`.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from heron.agent import make_agent
from heron.collect.logs.agent import LogAgent
from heron.collect.logs.kube import PodMetadata, kube_client_factory
from heron.config import load_settings
from heron.kubefake import FakeKubeAPI, make_pod
from heron.receive.discovery import DEFAULT_SERVICE_NAME_LABELS
from heron.ship.loki_client import Backoff, LokiPushClient
from serverproc import ServerProc, start_server

WAIT = 15.0
KUBE_LOGGER = "heron.collect.kube"
UNAVAILABLE = "kubernetes pod metadata unavailable, using log path labels"
RBAC_HINT = "check the ClusterRole allows list/watch pods"
SHOP_LABELS = {"app.kubernetes.io/name": "shop", "team": "pay", "pod-template-hash": "abc"}
PATH_LABEL_NAMES = {"namespace", "pod", "container", "node", "stream"}


def wait_for(predicate: Callable[[], object], timeout: float = WAIT, what: str = "condition") -> None:
    """Poll until `predicate()` is truthy; fail after a bounded wait."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        time.sleep(0.02)


# ---- log files ------------------------------------------------------------------------------


def cri(msg: str, stream: str = "stdout") -> bytes:
    ts_ns = time.time_ns()
    sec, ns = divmod(ts_ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{ns:09d}Z {stream} F {msg}\n".encode()


def container_dir(pods: Path, pod: dict, container: str = "app") -> Path:
    """`<pods>/<namespace>_<pod>_<uid>/<container>/`, the uid being the fake pod's own."""
    meta = pod["metadata"]
    d = pods / f"{meta['namespace']}_{meta['name']}_{meta['uid']}" / container
    d.mkdir(parents=True, exist_ok=True)
    (d / "0.log").touch()
    return d


def append(cdir: Path, prefix: str, n: int, stream: str = "stdout") -> list[str]:
    """Append `n` numbered lines to the container's 0.log; returns the messages written."""
    msgs = [f"{prefix} {i:03d}" for i in range(n)]
    with open(cdir / "0.log", "ab") as f:
        for m in msgs:
            f.write(cri(m, stream))
    return msgs


# ---- the server's view ----------------------------------------------------------------------


def lines_with_labels(url: str, selector: str) -> dict[str, list[dict[str, str]]]:
    """Each line in the server matching `selector`, with the label sets of every copy of it."""
    r = httpx.get(
        url + "/loki/api/v1/query_range",
        params={"query": selector, "since": "1h", "limit": "5000", "direction": "forward"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    out: dict[str, list[dict[str, str]]] = {}
    for s in r.json()["data"]["result"]:
        labels = dict(s["stream"])
        assert labels.pop("detected_level") == "unknown"
        labels = _without_discovered(labels)
        for _, line in s["values"]:
            out.setdefault(line, []).append(labels)
    return out


def _without_discovered(labels: dict[str, str]) -> dict[str, str]:
    """The server adds service_name at ingest as Loki 3 does (heron.receive.discovery); what is
    tested here is what the agent ships, so it is checked and set aside."""
    labels = dict(labels)
    assert labels.pop("service_name") == next(
        (labels[k] for k in DEFAULT_SERVICE_NAME_LABELS if labels.get(k)), "unknown_service"
    )
    return labels


def wait_lines(
    url: str, node: str, msgs: list[str], proc: subprocess.Popen | None = None
) -> dict[str, list[dict[str, str]]]:
    """Wait until every line in `msgs` is in the server; returns what the server holds for `node`.

    With `proc` (an agent process), fail at once if it exits while we wait.
    """
    selector = f'{{node="{node}"}}'
    got: dict[str, list[dict[str, str]]] = {}

    def arrived() -> bool:
        nonlocal got
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the agent exited early with {proc.returncode}")
        got = lines_with_labels(url, selector)
        return all(m in got for m in msgs)

    wait_for(arrived, what=f"{len(msgs)} lines in the server")
    return got


def series(url: str, selector: str) -> list[dict[str, str]]:
    r = httpx.get(url + "/loki/api/v1/series", params={"match[]": selector, "since": "1h"}, timeout=10)
    assert r.status_code == 200, r.text
    return [_without_discovered(labels) for labels in r.json()["data"]]


def path_labels(node: str, pod: dict, container: str = "app", stream: str = "stdout") -> dict[str, str]:
    meta = pod["metadata"]
    return {
        "namespace": meta["namespace"],
        "pod": meta["name"],
        "container": container,
        "node": node,
        "stream": stream,
    }


def shop_labels(node: str, pod: dict, container: str = "app", stream: str = "stdout") -> dict[str, str]:
    """What a pod labelled SHOP_LABELS should ship as: pod-template-hash is on the default deny list."""
    return {
        **path_labels(node, pod, container, stream),
        "app": "shop",
        "app_kubernetes_io_name": "shop",
        "team": "pay",
    }


def assert_labels(got: dict[str, list[dict[str, str]]], msgs: list[str], expected: dict[str, str]) -> None:
    for m in msgs:
        assert got[m] == [expected], f"{m!r} was stored as {got[m]}"


# ---- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    srv = start_server(tmp_path_factory.mktemp("heron") / "data")
    yield srv
    assert srv.stop() == 0, srv.log()


@pytest.fixture
def fake() -> Iterator[FakeKubeAPI]:
    api = FakeKubeAPI()
    yield api
    api.stop()


MetadataFactory = Callable[..., PodMetadata]


@pytest.fixture
def metadata(fake: FakeKubeAPI) -> Iterator[MetadataFactory]:
    """Start a PodMetadata on the fake (fast backoff); stopped after the test even if it fails."""
    started: list[PodMetadata] = []

    def make(node: str, **kwargs: object) -> PodMetadata:
        options: dict[str, object] = {"deleted_ttl": 60.0, "backoff_initial": 0.02, "backoff_max": 0.2}
        options.update(kwargs)
        pm = PodMetadata(node, kube_client_factory(fake.kubeconfig()), **options)  # type: ignore[arg-type]
        pm.start()
        started.append(pm)
        return pm

    yield make
    for pm in started:
        pm.stop()


class RunningAgent:
    def __init__(self, agent: LogAgent, release: Callable[[], None], client: LokiPushClient) -> None:
        self.agent = agent
        self.release = release
        self.client = client
        self.stop_event = threading.Event()
        self.stopped = False
        self.thread = threading.Thread(target=agent.run, args=(self.stop_event,), name="test-agent")
        self.thread.start()

    def stop(self) -> None:
        """Stop reading, drain the queue, then release the metadata watch (idempotent)."""
        if self.stopped:
            return
        self.stopped = True
        self.stop_event.set()
        self.thread.join(timeout=30)
        self.client.close()
        self.release()


AgentFactory = Callable[..., RunningAgent]


@pytest.fixture
def agent(tmp_path: Path, server: ServerProc) -> Iterator[AgentFactory]:
    """`heron.agent.make_agent` with our PodMetadata, shipping to the shared server."""
    running: list[RunningAgent] = []

    def start(node: str, meta: PodMetadata, **flags: str) -> RunningAgent:
        settings = load_settings(
            None,
            {},
            {
                "pods_dir": str(tmp_path / "pods"),
                "state_dir": str(tmp_path / "state"),
                "node_name": node,
                "server": server.url,
                "kube": "none",  # the metadata passed in replaces the setting
                **flags,
            },
        )
        client = LokiPushClient(server.url, backoff=Backoff(initial=0.01, maximum=0.2))
        agent, release = make_agent(settings, client.push, metadata=meta)
        ra = RunningAgent(agent, release, client)
        running.append(ra)
        return ra

    yield start
    for ra in running:
        ra.stop()
        assert not ra.thread.is_alive()


def unavailable_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == KUBE_LOGGER and r.levelno == logging.WARNING and r.getMessage() == UNAVAILABLE
    ]


# ---- tests ----------------------------------------------------------------------------------


def test_api_up_streams_carry_pod_labels_but_not_denied_ones(
    tmp_path: Path, server: ServerProc, fake: FakeKubeAPI, metadata: MetadataFactory, agent: AgentFactory
) -> None:
    node = "node-up"
    fake.start()
    pod = fake.add_pod(make_pod("shop", "web-1", node, labels=SHOP_LABELS, containers=("app",)))
    uid = pod["metadata"]["uid"]
    cdir = container_dir(tmp_path / "pods", pod)
    meta = metadata(node)
    wait_for(lambda: meta.lookup("shop", "web-1", uid) is not None, what="pod metadata")

    running = agent(node, meta)
    out = append(cdir, "web out", 3)
    err = append(cdir, "web err", 2, stream="stderr")
    got = wait_lines(server.url, node, out + err)
    running.stop()

    assert_labels(got, out, shop_labels(node, pod))
    assert_labels(got, err, shop_labels(node, pod, stream="stderr"))
    stored = series(server.url, f'{{node="{node}"}}')
    assert sorted(stored, key=lambda s: s["stream"]) == [
        shop_labels(node, pod, stream="stderr"),
        shop_labels(node, pod, stream="stdout"),
    ]
    assert all("pod_template_hash" not in s for s in stored)


def test_excluded_pod_ships_nothing_while_its_neighbour_ships(
    tmp_path: Path, server: ServerProc, fake: FakeKubeAPI, metadata: MetadataFactory, agent: AgentFactory
) -> None:
    node = "node-exclude"
    fake.start()
    secret = fake.add_pod(
        make_pod("shop", "secret", node, labels={"app": "vault"}, annotations={"heron.io/exclude": "true"})
    )
    public = fake.add_pod(make_pod("shop", "public", node, labels={"app": "web"}))
    pods = tmp_path / "pods"
    secret_dir = container_dir(pods, secret)
    public_dir = container_dir(pods, public)
    meta = metadata(node)
    wait_for(
        lambda: (
            meta.lookup("shop", "secret", secret["metadata"]["uid"]) is not None
            and meta.lookup("shop", "public", public["metadata"]["uid"]) is not None
        ),
        what="pod metadata",
    )
    info = meta.lookup("shop", "secret", secret["metadata"]["uid"])
    assert info is not None and info.excluded

    running = agent(node, meta)
    hidden = append(secret_dir, "secret", 20)
    shown = append(public_dir, "public", 5)
    got = wait_lines(server.url, node, shown)
    # The excluded file was read to its end (its checkpoint covers it), not merely skipped so far.
    secret_log = os.path.realpath(secret_dir / "0.log")
    size = os.path.getsize(secret_log)
    wait_for(
        lambda: any(
            cp.path == secret_log and cp.offset == size for cp in list(running.agent.checkpoints.values())
        ),
        what="the excluded file's checkpoint at its end",
    )
    running.stop()

    assert_labels(got, shown, {**path_labels(node, public), "app": "web"})
    assert not any(m in got for m in hidden)
    assert lines_with_labels(server.url, f'{{node="{node}", pod="secret"}}') == {}
    assert [s["pod"] for s in series(server.url, f'{{node="{node}"}}')] == ["public"]


def test_api_down_from_start_ships_path_labels_then_metadata_labels(
    tmp_path: Path,
    server: ServerProc,
    fake: FakeKubeAPI,
    metadata: MetadataFactory,
    agent: AgentFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=KUBE_LOGGER)
    node = "node-down"
    fake.start(down=True)
    pod = fake.add_pod(make_pod("shop", "web-1", node, labels=SHOP_LABELS))
    cdir = container_dir(tmp_path / "pods", pod)
    meta = metadata(node)
    running = agent(node, meta)

    before = append(cdir, "before api", 10)
    got = wait_lines(server.url, node, before)
    # Reading never waited for the API: every line shipped once, labelled from the log path.
    assert_labels(got, before, path_labels(node, pod))
    assert not meta.healthy and len(meta) == 0
    warnings = unavailable_warnings(caplog)
    assert warnings, "no warning about the unreachable API"
    fields = warnings[0].fields  # type: ignore[attr-defined]
    assert fields["node"] == node
    assert fields["status"] is None and fields["hint"] is None
    assert "ConnectError" in fields["error"]

    fake.set_down(False)
    wait_for(lambda: meta.lookup("shop", "web-1", pod["metadata"]["uid"]) is not None, what="pod metadata")
    after = append(cdir, "after api", 5)
    got = wait_lines(server.url, node, after)
    running.stop()

    assert_labels(got, after, shop_labels(node, pod))
    assert_labels(got, before, path_labels(node, pod))  # nothing relabelled or duplicated
    assert any(r.getMessage() == "pod metadata watch recovered" for r in caplog.records)


def test_api_forbidden_from_start_warns_with_rbac_hint_then_labels(
    tmp_path: Path,
    server: ServerProc,
    fake: FakeKubeAPI,
    metadata: MetadataFactory,
    agent: AgentFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=KUBE_LOGGER)
    node = "node-forbidden"
    fake.start()
    fake.set_forbidden(True)
    pod = fake.add_pod(make_pod("shop", "web-1", node, labels=SHOP_LABELS))
    cdir = container_dir(tmp_path / "pods", pod)
    meta = metadata(node)
    running = agent(node, meta)

    before = append(cdir, "before rbac", 10)
    got = wait_lines(server.url, node, before)
    assert_labels(got, before, path_labels(node, pod))
    assert not meta.healthy and len(meta) == 0
    assert fake.requests and all(r.status == 403 for r in fake.requests)  # the API really refused
    warnings = unavailable_warnings(caplog)
    assert warnings, "no warning about the 403"
    fields = warnings[0].fields  # type: ignore[attr-defined]
    assert fields["status"] == 403
    assert fields["hint"] == RBAC_HINT
    assert fields["node"] == node
    assert "forbidden" in fields["error"]

    fake.set_forbidden(False)
    wait_for(lambda: meta.lookup("shop", "web-1", pod["metadata"]["uid"]) is not None, what="pod metadata")
    after = append(cdir, "after rbac", 5)
    got = wait_lines(server.url, node, after)
    running.stop()

    assert_labels(got, after, shop_labels(node, pod))
    assert_labels(got, before, path_labels(node, pod))


def test_api_lost_mid_run_keeps_labelling_known_pods(
    tmp_path: Path,
    server: ServerProc,
    fake: FakeKubeAPI,
    metadata: MetadataFactory,
    agent: AgentFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    node = "node-lost"
    fake.start()
    pod = fake.add_pod(make_pod("shop", "web-1", node, labels=SHOP_LABELS))
    cdir = container_dir(tmp_path / "pods", pod)
    meta = metadata(node)
    wait_for(lambda: meta.lookup("shop", "web-1", pod["metadata"]["uid"]) is not None, what="pod metadata")
    running = agent(node, meta)
    up = append(cdir, "api up", 5)
    wait_lines(server.url, node, up)

    fake.set_down(True)
    wait_for(
        lambda: not meta.healthy and unavailable_warnings(caplog), what="the watcher noticing the outage"
    )
    down = append(cdir, "api down", 5)
    got = wait_lines(server.url, node, down)
    assert not meta.healthy  # still down: these lines were labelled from what was already known
    running.stop()

    assert_labels(got, up + down, shop_labels(node, pod))
    assert series(server.url, f'{{node="{node}"}}') == [shop_labels(node, pod)]  # no path-only stream


def test_deleted_pod_keeps_its_labels_for_the_ttl(
    tmp_path: Path, server: ServerProc, fake: FakeKubeAPI, metadata: MetadataFactory, agent: AgentFactory
) -> None:
    node = "node-deleted"
    fake.start()
    pod = fake.add_pod(make_pod("shop", "web-1", node, labels=SHOP_LABELS))
    uid = pod["metadata"]["uid"]
    cdir = container_dir(tmp_path / "pods", pod)
    meta = metadata(node, deleted_ttl=3.0)
    wait_for(lambda: meta.lookup("shop", "web-1", uid) is not None, what="pod metadata")
    running = agent(node, meta)
    alive = append(cdir, "alive", 3)
    wait_lines(server.url, node, alive)

    fake.delete_pod("shop", "web-1")
    wait_for(lambda: meta.resource_version == str(fake.resource_version), what="the DELETED event")
    last_words = append(cdir, "last words", 3)  # read right after the deletion, well within the TTL
    got = wait_lines(server.url, node, last_words)
    assert_labels(got, alive + last_words, shop_labels(node, pod))

    # Past the TTL the pod is forgotten and its lines fall back to path labels.
    wait_for(lambda: meta.lookup("shop", "web-1", uid) is None, timeout=10, what="the TTL running out")
    late = append(cdir, "late", 2)
    got = wait_lines(server.url, node, late)
    running.stop()
    assert_labels(got, late, path_labels(node, pod))


# ---- the real `heron agent` command ---------------------------------------------------------


def write_kubeconfig(path: Path, fake: FakeKubeAPI) -> Path:
    """A kubeconfig for the fake: plain HTTP, and a user with no credentials."""
    path.write_text(
        "apiVersion: v1\n"
        "kind: Config\n"
        "clusters:\n"
        f"- name: fake\n  cluster:\n    server: {fake.url}\n"
        "users:\n"
        "- name: anonymous\n  user: {}\n"
        "contexts:\n"
        "- name: fake\n  context:\n    cluster: fake\n    user: anonymous\n"
        "current-context: fake\n"
    )
    return path


def start_agent_command(
    tmp_path: Path, server: ServerProc, node: str, kubeconfig: Path, *flags: str
) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERON_")}
    env["KUBECONFIG"] = str(kubeconfig)
    stderr = open(tmp_path / "agent.log", "wb")
    try:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "heron",
                "agent",
                "--pods-dir",
                str(tmp_path / "pods"),
                "--state-dir",
                str(tmp_path / "state"),
                "--server",
                server.url,
                "--kube",
                "kubeconfig",
                "--node-name",
                node,
                "--agent-listen",
                "",
                *flags,
            ],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=env,
        )
    finally:
        stderr.close()


def stop_agent_command(proc: subprocess.Popen, tmp_path: Path) -> tuple[int, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    err = (tmp_path / "agent.log").read_text(errors="replace")
    print(err)  # shown by pytest when the test fails
    return code, err


def test_heron_agent_command_with_kubeconfig_ships_and_exits_on_sigterm(
    tmp_path: Path, server: ServerProc, fake: FakeKubeAPI
) -> None:
    node = "node-cmd"
    fake.start()
    pod = fake.add_pod(make_pod("shop", "web-1", node, labels=SHOP_LABELS))
    cdir = container_dir(tmp_path / "pods", pod)
    msgs = append(cdir, "cmd", 10)
    proc = start_agent_command(tmp_path, server, node, write_kubeconfig(tmp_path / "kubeconfig", fake))
    try:
        got = wait_lines(server.url, node, msgs, proc)
    finally:
        code, err = stop_agent_command(proc, tmp_path)
    assert code == 0, err
    assert 'msg="agent stopped"' in err
    for m in msgs:  # at least the path labels, whether or not metadata had arrived
        [labels] = got[m]
        assert labels.items() >= path_labels(node, pod).items()


def test_heron_agent_command_with_kubeconfig_labels_streams_from_metadata(
    tmp_path: Path, server: ServerProc, fake: FakeKubeAPI
) -> None:
    node = "node-cmd-meta"
    fake.start()
    pod = fake.add_pod(make_pod("shop", "web-1", node, labels=SHOP_LABELS))
    cdir = container_dir(tmp_path / "pods", pod)
    proc = start_agent_command(tmp_path, server, node, write_kubeconfig(tmp_path / "kubeconfig", fake))
    try:
        # A watch follows a successful list, so once one is open the agent knows the pod. Two
        # watch this node's pods: the metadata watcher and the metric discovery of its pods.
        wait_for(
            lambda: sum(r.status == 200 for r in fake.watch_requests("pods")) >= 2,
            timeout=5,
            what="the agent watching pods on the fake API",
        )
        msgs = append(cdir, "cmd meta", 5)
        got = wait_lines(server.url, node, msgs, proc)
    finally:
        code, err = stop_agent_command(proc, tmp_path)
    assert_labels(got, msgs, shop_labels(node, pod))
    assert code == 0, err
    assert "Traceback" not in err, err


def test_heron_agent_command_applies_the_pod_label_allow_list(
    tmp_path: Path, server: ServerProc, fake: FakeKubeAPI
) -> None:
    node = "node-cmd-allow"
    fake.start()
    pod = fake.add_pod(make_pod("shop", "web-1", node, labels={**SHOP_LABELS, "tier": "front"}))
    cdir = container_dir(tmp_path / "pods", pod)
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", fake)
    proc = start_agent_command(tmp_path, server, node, kubeconfig, "--pod-label-allow", "team,tier")
    try:
        wait_for(
            lambda: sum(r.status == 200 for r in fake.watch_requests("pods")) >= 2,
            timeout=5,
            what="the watches",
        )
        msgs = append(cdir, "allow list", 3)
        got = wait_lines(server.url, node, msgs, proc)
    finally:
        code, err = stop_agent_command(proc, tmp_path)
    # `app` is always derived; of the pod's own labels only the allowed ones become labels.
    assert_labels(got, msgs, {**path_labels(node, pod), "app": "shop", "team": "pay", "tier": "front"})
    assert code == 0, err


JAVA_TRACE = [
    'Exception in thread "main" java.lang.IllegalStateException: payment failed',
    "\tat com.shop.Pay.charge(Pay.java:42)",
    "\tat com.shop.Main.main(Main.java:7)",
    "Caused by: java.net.ConnectException: Connection refused",
    "\tat java.base/sun.nio.ch.Net.connect0(Native Method)",
    "\t... 2 more",
]


def test_multiline_annotation_joins_stack_traces_and_flushes_the_last_on_timeout(
    tmp_path: Path,
    server: ServerProc,
    fake: FakeKubeAPI,
    metadata: MetadataFactory,
    agent: AgentFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    node = "node-multiline"
    fake.start()
    java = fake.add_pod(make_pod("shop", "pay", node, annotations={"heron.io/multiline": "java"}))
    plain = fake.add_pod(make_pod("shop", "plain", node))
    broken = fake.add_pod(make_pod("shop", "broken", node, annotations={"heron.io/multiline": "(unclosed"}))
    pods = tmp_path / "pods"
    dirs = {
        name: container_dir(pods, pod) for name, pod in (("pay", java), ("plain", plain), ("broken", broken))
    }
    meta = metadata(node)
    for pod in (java, plain, broken):
        m = pod["metadata"]
        wait_for(
            lambda m=m: meta.lookup(m["namespace"], m["name"], m["uid"]) is not None, what="pod metadata"
        )

    running = agent(node, meta, multiline_flush="300ms")
    lines = ["starting", *JAVA_TRACE, "retrying", *JAVA_TRACE]  # the second trace ends the file
    for name in dirs:
        with open(dirs[name] / "0.log", "ab") as f:
            f.write(b"".join(cri(line) for line in lines))
    trace = "\n".join(JAVA_TRACE)

    def stored(pod: str) -> list[str]:
        r = httpx.get(
            server.url + "/loki/api/v1/query_range",
            params={"query": f'{{pod="{pod}"}}', "since": "1h", "direction": "forward"},
            timeout=10,
        )
        return [v[1] for s in r.json()["data"]["result"] for v in s["values"]]

    # The second trace is followed by nothing: only the flush timeout can emit it, and it must,
    # while the agent keeps running.
    wait_for(lambda: stored("pay") == ["starting", trace, "retrying", trace], what="both traces joined")
    wait_for(lambda: stored("plain") == lines and stored("broken") == lines, what="the other pods' lines")
    got = lines_with_labels(server.url, f'{{node="{node}"}}')
    running.stop()

    assert stored("pay") == ["starting", trace, "retrying", trace]
    assert stored("plain") == lines  # no annotation: every line is its own entry
    assert stored("broken") == lines  # a bad annotation is ignored, with a warning
    assert got[trace][0]["pod"] == "pay"
    warnings = [r for r in caplog.records if r.getMessage() == "ignoring a bad heron.io/multiline annotation"]
    assert len(warnings) == 1


def test_agent_metrics_report_the_kubernetes_api_going_up(
    tmp_path: Path, fake: FakeKubeAPI, metadata: MetadataFactory
) -> None:
    from heron.selfmetrics import Registry

    node = "node-metrics"
    fake.start(down=True)
    fake.add_pod(make_pod("shop", "web-1", node))
    meta = metadata(node)
    registry = Registry()
    settings = load_settings(
        None, {}, {"pods_dir": str(tmp_path / "pods"), "state_dir": str(tmp_path / "state"), "kube": "none"}
    )
    # The agent starts its scraping too (the node's zero-config jobs); release stops it.
    _, release = make_agent(settings, lambda body: None, metadata=meta, registry=registry)  # type: ignore[arg-type, return-value]

    def sample(name: str) -> str | None:
        for line in registry.render().splitlines():
            if line.startswith(name + " "):
                return line.split()[1]
        return None

    try:
        assert sample("heron_agent_kube_up") == "0" and sample("heron_agent_kube_pods") == "0"
        fake.set_down(False)
        wait_for(lambda: sample("heron_agent_kube_up") == "1", what="kube_up")
        wait_for(lambda: sample("heron_agent_kube_pods") == "1", what="kube_pods")
        assert sample("heron_agent_lines_total") == "0"
    finally:
        release()
