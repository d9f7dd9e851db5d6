"""The agent loop end to end: real CRI files with kubelet rotation -> a real heron server."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx

from heron.collect.logs.agent import AgentOptions, LogAgent
from heron.ship.loki_client import Backoff, LokiPushClient
from serverproc import free_port, start_server


def cri(ts_ns: int, msg: str, stream: str = "stdout") -> bytes:
    sec, ns = divmod(ts_ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{ns:09d}Z {stream} F {msg}\n".encode()


def write_lines(container_dir: Path, start: int, n: int, t0: int, rotate_every: int) -> None:
    """Append numbered lines, rotating kubelet-style (rename + create) every `rotate_every`."""
    for i in range(start, start + n):
        path = container_dir / "0.log"
        with open(path, "ab") as f:
            f.write(cri(t0 + i * 1000, f"line {i:06d}"))
        if rotate_every and (i + 1) % rotate_every == 0:
            os.rename(path, container_dir / f"0.log.20240101-{i:06d}")  # kubelet naming
            path.touch()


def query_all(url: str) -> list[str]:
    r = httpx.get(
        url + "/loki/api/v1/query_range",
        params={"query": '{pod="web"}', "since": "2h", "limit": "5000", "direction": "forward"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return [v[1] for s in r.json()["data"]["result"] for v in s["values"]]


def run_agent(opts: AgentOptions, url: str, stop: threading.Event) -> tuple[threading.Thread, LokiPushClient]:
    client = LokiPushClient(url, backoff=Backoff(initial=0.01, maximum=0.2))
    agent = LogAgent(opts, client.push)
    t = threading.Thread(target=agent.run, args=(stop,))
    t.start()
    return t, client


def test_agent_ships_every_line_once_across_rotation_and_restart(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        pods = tmp_path / "pods"
        cdir = pods / "prod_web_0a1b2c" / "app"
        cdir.mkdir(parents=True)
        (cdir / "0.log").touch()
        t0 = time.time_ns() - 30 * 60 * 10**9
        opts = AgentOptions(
            str(pods), str(tmp_path / "state"), "node-1", batch_lines=500, batch_wait=0.2, rescan_interval=1.0
        )
        stop = threading.Event()
        t, client = run_agent(opts, server.url, stop)
        write_lines(cdir, 0, 1500, t0, rotate_every=400)
        deadline = time.monotonic() + 30
        while len(query_all(server.url)) < 1500 and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()
        t.join(timeout=30)
        client.close()
        # written while the agent is down; picked up after the restart from the checkpoints
        write_lines(cdir, 1500, 700, t0, rotate_every=400)
        stop = threading.Event()
        t, client = run_agent(opts, server.url, stop)
        deadline = time.monotonic() + 30
        while len(query_all(server.url)) < 2200 and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()
        t.join(timeout=30)
        client.close()
        lines = query_all(server.url)
        assert Counter(lines) == Counter(f"line {i:06d}" for i in range(2200))
        assert lines == sorted(lines)  # per-stream order
        r = httpx.get(server.url + "/loki/api/v1/series", params={"match[]": '{pod="web"}'})
        [labels] = r.json()["data"]
        assert labels == {
            "namespace": "prod",
            "pod": "web",
            "container": "app",
            "node": "node-1",
            "stream": "stdout",
            "service_name": "app",  # discovered from `container` at ingest, as Loki 3 does
        }
    finally:
        assert server.stop() == 0


AGENT_CHILD = """
import sys, threading
from heron.collect.logs.agent import AgentOptions, LogAgent
from heron.ship.loki_client import Backoff, LokiPushClient
pods, state, url = sys.argv[1:4]
client = LokiPushClient(url, backoff=Backoff(initial=0.01, maximum=0.2))
opts = AgentOptions(pods, state, "node-1", batch_lines=300, batch_wait=0.1, rescan_interval=1.0)
LogAgent(opts, client.push).run(threading.Event())
"""


def test_agent_killed_with_sigkill_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    import random
    import signal
    import subprocess
    import sys

    server = start_server(tmp_path / "data")
    rng = random.Random(3)
    pods = tmp_path / "pods"
    cdir = pods / "prod_web_0a1b2c" / "app"
    cdir.mkdir(parents=True)
    (cdir / "0.log").touch()
    t0 = time.time_ns() - 30 * 60 * 10**9
    total = 0
    try:
        for _ in range(3):
            child = subprocess.Popen(
                [sys.executable, "-c", AGENT_CHILD, str(pods), str(tmp_path / "state"), server.url],
                stderr=subprocess.DEVNULL,
            )
            # write and rotate while the agent runs, then kill it at a random moment
            for _ in range(4):
                write_lines(cdir, total, 250, t0, rotate_every=300)
                total += 250
                time.sleep(rng.uniform(0.05, 0.3))
            child.send_signal(signal.SIGKILL)
            assert child.wait(timeout=30) == -signal.SIGKILL
        stop = threading.Event()
        t, client = run_agent(
            AgentOptions(str(pods), str(tmp_path / "state"), "node-1", batch_wait=0.2, rescan_interval=1.0),
            server.url,
            stop,
        )
        deadline = time.monotonic() + 60
        while len(set(query_all(server.url))) < total and time.monotonic() < deadline:
            time.sleep(0.3)
        stop.set()
        t.join(timeout=30)
        client.close()
        lines = query_all(server.url)
        assert Counter(lines) == Counter(f"line {i:06d}" for i in range(total))
        assert lines == sorted(lines)
    finally:
        assert server.stop() == 0


def test_heron_agent_command_ships_and_stops_cleanly(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    server = start_server(tmp_path / "data")
    pods = tmp_path / "pods"
    cdir = pods / "prod_web_0a1b2c" / "app"
    cdir.mkdir(parents=True)
    write_lines(cdir, 0, 50, time.time_ns() - 60 * 10**9, rotate_every=0)
    agent_port = free_port()
    agent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "heron",
            "agent",
            "--pods-dir",
            str(pods),
            "--state-dir",
            str(tmp_path / "state"),
            "--server",
            server.url,
            "--kube",
            "none",
            "--node-name",
            "node-7",
            "--agent-listen",
            f"127.0.0.1:{agent_port}",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while len(query_all(server.url)) < 50 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert query_all(server.url) == [f"line {i:06d}" for i in range(50)]
        r = httpx.get(server.url + "/loki/api/v1/series", params={"match[]": '{pod="web"}'})
        assert r.json()["data"][0]["node"] == "node-7"
        # The agent's own endpoints: probes and metrics, as a DaemonSet needs them.
        agent_url = f"http://127.0.0.1:{agent_port}"
        assert httpx.get(agent_url + "/-/healthy").status_code == 200
        assert httpx.get(agent_url + "/-/ready").status_code == 200
        assert httpx.get(agent_url + "/nothing").status_code == 404
        metrics = httpx.get(agent_url + "/metrics")
        assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
        values = dict(
            line.rsplit(" ", 1) for line in metrics.text.splitlines() if line and not line.startswith("#")
        )
        assert values["heron_agent_lines_total"] == "50"
        assert values["heron_agent_push_rejected_total"] == "0"
        assert int(values["heron_agent_batches_shipped_total"]) >= 1
        assert values["heron_agent_files_open"] == "1"
        assert int(values["heron_agent_read_bytes_total"]) == (cdir / "0.log").stat().st_size
        assert "heron_agent_kube_up" not in values  # --kube none: no metadata to report on
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=30) == 0
        assert agent.stderr is not None
        err = agent.stderr.read()
        agent.stderr.close()
        assert server.stop() == 0
    assert 'msg="agent stopped"' in err
    assert (tmp_path / "state" / "checkpoints.json").exists()


def test_heron_all_runs_server_and_agent_in_one_process(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    pods = tmp_path / "pods"
    cdir = pods / "dev_api_9f8e7d" / "api"
    cdir.mkdir(parents=True)
    write_lines(cdir, 0, 120, time.time_ns() - 60 * 10**9, rotate_every=50)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "heron",
            "all",
            "--listen",
            f"127.0.0.1:{port}",
            "--data-dir",
            str(tmp_path / "data"),
            "--pods-dir",
            str(pods),
            "--state-dir",
            str(tmp_path / "state"),
            "--kube",
            "none",
            "--node-name",
            "laptop",
        ],
        stderr=subprocess.DEVNULL,
    )
    try:
        got: list[str] = []
        deadline = time.monotonic() + 30
        while len(got) < 120 and time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                r = httpx.get(
                    url + "/loki/api/v1/query_range",
                    params={"query": '{pod="api"}', "since": "1h", "limit": "500", "direction": "forward"},
                )
            except httpx.TransportError:
                continue
            if r.status_code == 200:
                got = [v[1] for s in r.json()["data"]["result"] for v in s["values"]]
        assert got == [f"line {i:06d}" for i in range(120)]
        # The in-process agent reports into the server's own /metrics.
        metrics = httpx.get(url + "/metrics").text
        assert "heron_agent_lines_total 120" in metrics.splitlines()
        assert "heron_agent_rotations_total" in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_a_trace_held_at_a_kill_is_shipped_even_if_its_file_never_grows(tmp_path: Path) -> None:
    """The agent was killed while a joiner held a trace at the end of a file that then never
    changed (its container exited): the restarted agent must still ship the held lines."""
    from heron.collect.logs.checkpoints import Checkpoint, CheckpointStore, FileIdentity
    from heron.collect.logs.formats import LineParser
    from heron.collect.logs.multiline import MultilineJoiner, parse_rule
    from heron.collect.logs.tail import FileId
    from heron.receive.loki_push import decode_push
    from heron.ship.loki_client import PushOutcome, PushResult

    cdir = tmp_path / "pods" / "prod_web_0a1b2c" / "app"
    cdir.mkdir(parents=True)
    t0 = time.time_ns() - 60 * 10**9
    trace = ["java.lang.IllegalStateException: boom", "\tat a.B.c(B.java:1)", "\tat a.B.d(B.java:2)"]
    data = b"".join(cri(t0 + i, line) for i, line in enumerate(trace))
    (cdir / "0.log").write_bytes(data)
    # What the killed agent had checkpointed: the whole file read, the trace held by its joiner.
    parser = LineParser()
    entries, used = parser.feed(data, t0)
    joiner = MultilineJoiner(parse_rule("java"))
    assert joiner.feed(entries, 0.0) == [] and used == len(data)
    identity = FileIdentity.of_path(cdir / "0.log")
    key = FileId(identity.dev, identity.inode, identity.fingerprint, identity.fingerprint_size).key
    state = {**parser.state(), "multiline": joiner.state()}
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    CheckpointStore(state_dir / "checkpoints.json").save(
        {key: Checkpoint(identity, str(cdir / "0.log"), len(data), state)}
    )

    shipped: list[tuple[dict[str, str], list[int], list[bytes]]] = []

    def send(body: bytes) -> PushResult:
        shipped.extend(
            (dict(b.labels), list(b.timestamps), list(b.lines))
            for b in decode_push(body, "application/x-protobuf")
        )
        return PushResult(PushOutcome.DELIVERED, 204, 1)

    agent = LogAgent(AgentOptions(str(tmp_path / "pods"), str(state_dir), "node-1", batch_wait=0.1), send)
    stop = threading.Event()
    thread = threading.Thread(target=agent.run, args=(stop,))
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not shipped and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert [(labels["pod"], ts, lines) for labels, ts, lines in shipped] == [
        ("web", [t0], ["\n".join(trace).encode()])
    ]
    saved = CheckpointStore(state_dir / "checkpoints.json").load()
    assert saved[key].offset == len(data) and "multiline" not in saved[key].parser_state


def test_server_down_fills_the_queue_pauses_reading_and_loses_nothing(tmp_path: Path) -> None:
    """Backpressure: with the server away, the agent reads until its queue is full, then stops
    reading (bounded disk and memory); once the server is back, every line arrives once."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    pods = tmp_path / "pods"
    cdir = pods / "prod_web_0a1b2c" / "app"
    cdir.mkdir(parents=True)
    total = 20_000
    t0 = time.time_ns() - 30 * 60 * 10**9
    with open(cdir / "0.log", "wb") as f:
        f.write(b"".join(cri(t0 + i * 1000, f"line {i:06d} " + "x" * 150) for i in range(total)))
    queue_bytes = 200_000
    opts = AgentOptions(
        str(pods), str(tmp_path / "state"), "node-1", batch_lines=500, batch_wait=0.1, queue_bytes=queue_bytes
    )
    client = LokiPushClient(url, backoff=Backoff(initial=0.01, maximum=0.1))
    agent = LogAgent(opts, client.push)
    stop = threading.Event()
    thread = threading.Thread(target=agent.run, args=(stop,))
    thread.start()
    server = None
    try:
        deadline = time.monotonic() + 30
        while not agent.queue_full() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert agent.queue_full()
        read_when_full = agent.lines_read
        time.sleep(1.0)  # reading stays paused: nothing more is read while the server is away
        assert agent.lines_read == read_when_full < total
        assert agent.queue_bytes() < queue_bytes + 200_000  # a soft bound: at most one batch over
        assert client.retries_total > 0
        server = start_server(tmp_path / "data", port=port)
        deadline = time.monotonic() + 60
        while agent.lines_read < total and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        thread.join(timeout=60)
        got = [
            v[1]
            for s in httpx.get(
                url + "/loki/api/v1/query_range",
                params={"query": '{pod="web"}', "since": "2h", "limit": "5000", "direction": "forward"},
                timeout=30,
            ).json()["data"]["result"]
            for v in s["values"]
        ]
        assert len(got) == 5000 and got[0].startswith("line 000000 ")  # the first page, in order
        r = httpx.get(
            url + "/loki/api/v1/query", params={"query": 'count_over_time({pod="web"}[2h])'}, timeout=30
        )
        assert r.json()["data"]["result"][0]["value"][1] == str(total)
    finally:
        stop.set()
        thread.join(timeout=60)
        client.close()
        if server is not None:
            assert server.stop() == 0
