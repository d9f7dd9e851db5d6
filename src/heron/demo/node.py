"""A simulated node: pods writing realistic container logs the way the kubelet lays them out.

Each container writes CRI or docker json-file lines to `<ns>_<pod>_<uid>/<container>/<n>.log`,
rotates it kubelet-style (rename to `<n>.log.YYYYMMDD-HHMMSS`, create a fresh file, gzip the
older rotated file, keep one), restarts now and then (`1.log` after `0.log`), and one batch pod
comes and goes. Everything is bounded: files rotate at `rotate_bytes`, at most one rotated file
is kept per container.

Metrics too: every pod serves `/metrics` on its own 127.0.0.1 port (request counters and a
latency histogram that agree with the requests it logs, reset when its container restarts), and
carries the `prometheus.io/scrape` and `prometheus.io/port` annotations with `status.podIP`
127.0.0.1 in the fake API. A simulated kubelet serves `/metrics`, `/metrics/cadvisor` and
`/metrics/resource` for these containers on the port the fake node object gives as its kubelet
endpoint, so an agent finds everything through the API as it would in a cluster.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from heron.demo.kubelet import ContainerStats, SimulatedKubelet
from heron.demo.podmetrics import PodMetrics, Request
from heron.demo.serve import MetricsServer
from heron.kubefake import FakeKubeAPI, make_namespace, make_node, make_pod

__all__ = ["SimulatedNode", "PODS"]

USERS = ["alice", "bob", "carol", "dave", "erin"]
PATHS = ["/api/v1/orders", "/api/v1/users", "/healthz", "/api/v1/cart", "/login", "/static/app.js"]

# (namespace, pod, app, container, format, style)
PODS = [
    ("web", "frontend-7d9f8-abcde", "frontend", "nginx", "cri", "access"),
    ("web", "frontend-7d9f8-fghij", "frontend", "nginx", "cri", "access"),
    ("api", "orders-5c6b7-klmno", "orders", "app", "cri", "json"),
    ("api", "users-6d7e8-pqrst", "users", "app", "docker", "logfmt"),
    ("api", "payments-8f9a0-uvwxy", "payments", "app", "cri", "java"),
    ("worker", "mailer-4b5c6-zabcd", "mailer", "worker", "cri", "python"),
    ("worker", "thumbnailer-3a4b5-efghi", "thumbnailer", "worker", "docker", "plain"),
    ("worker", "database-0", "postgres", "postgres", "cri", "plain"),
    ("worker", "noisy-batch-1a2b3-jklmn", "batch", "job", "cri", "json"),
]


def _ts(ns: int) -> str:
    sec, frac = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def _event(style: str, rng: random.Random) -> tuple[list[str], Request]:
    """One log event: usually one line, several for a stack trace, and the request it tells of
    (every event is one handled request; an error is a 500, whether or not the line says so)."""
    level = rng.choices(["info", "warn", "error"], weights=[85, 10, 5])[0]
    user, path = rng.choice(USERS), rng.choice(PATHS)
    ms = rng.randint(1, 900)
    status = 500 if level == "error" else rng.choice([200, 200, 200, 201, 304, 404])
    return _lines(style, rng, level, user, path, ms, status), Request("GET", path, status, ms / 1000)


def _lines(
    style: str, rng: random.Random, level: str, user: str, path: str, ms: int, status: int
) -> list[str]:
    if style == "access":
        return [
            f'10.0.{rng.randint(0, 9)}.{rng.randint(1, 254)} - {user} "GET {path} HTTP/1.1" {status} '
            f'{rng.randint(200, 9000)} "-" "Mozilla/5.0" {ms / 1000:.3f}'
        ]
    if style == "json":
        return [
            json.dumps(
                {
                    "level": level,
                    "msg": "request handled",
                    "path": path,
                    "status": status,
                    "duration_ms": ms,
                    "user": user,
                    "trace_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                }
            )
        ]
    if style == "logfmt":
        return [
            f'level={level} msg="request handled" path={path} status={status} duration={ms}ms user={user}'
        ]
    if style == "java" and level == "error":
        return [
            "ERROR c.e.payments.ChargeService - charge failed for order " + str(rng.randint(1000, 9999)),
            "java.lang.IllegalStateException: card declined",
            "\tat com.example.payments.ChargeService.charge(ChargeService.java:88)",
            "\tat com.example.payments.Api.post(Api.java:41)",
        ]
    if style == "python" and level == "error":
        return [
            "Traceback (most recent call last):",
            '  File "/app/mailer.py", line 57, in send',
            "    smtp.sendmail(sender, to, body)",
            "ConnectionRefusedError: [Errno 111] Connection refused",
        ]
    return [f"{level.upper()} {path} handled for {user} in {ms}ms"]


def _runtime_id(*parts: str) -> str:
    """A containerd-style 64-hex container id, derived (not drawn from the log generator's
    random stream, so the logs are what they were before the demo had metrics)."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


@dataclass
class _Container:
    dir: str
    fmt: str
    style: str
    namespace: str
    pod: str
    name: str
    uid: str
    image: str
    server: MetricsServer
    metrics: PodMetrics
    restart: int = 0
    rotations: list[str] = field(default_factory=list)
    pod_started: float = field(default_factory=time.time)
    started: float = field(default_factory=time.time)
    requests: int = 0  # since this container (restart) started, for the kubelet's numbers
    busy_seconds: float = 0.0

    @property
    def path(self) -> str:
        return os.path.join(self.dir, f"{self.restart}.log")

    @property
    def container_id(self) -> str:
        return _runtime_id(self.uid, self.name, str(self.restart))

    def restarted(self) -> None:
        """A new container in the same pod: a fresh log file, fresh counters, a new id."""
        self.restart += 1
        self.rotations = []
        self.started = time.time()
        self.requests = 0
        self.busy_seconds = 0.0
        self.metrics = PodMetrics(self.namespace, self.pod, self.name)

    def stats(self) -> ContainerStats:
        return ContainerStats(
            namespace=self.namespace,
            pod=self.pod,
            pod_uid=self.uid,
            container=self.name,
            image=self.image,
            container_id=self.container_id,
            sandbox_id=_runtime_id(self.uid, "sandbox"),
            started=self.started,
            pod_started=self.pod_started,
            requests=self.requests,
            busy_seconds=self.busy_seconds,
        )


class SimulatedNode:
    def __init__(
        self,
        root: str,
        node_name: str = "demo-node",
        *,
        rate: float = 50.0,
        rotate_bytes: int = 256 * 1024,
        seed: int = 1,
    ):
        self.pods_dir = os.path.join(root, "pods")
        self.node_name = node_name
        self.rate = rate
        self.rotate_bytes = rotate_bytes
        self.rng = random.Random(seed)
        self.api = FakeKubeAPI()
        self.containers: dict[tuple[str, str], _Container] = {}
        # The writer thread changes containers; the kubelet's server thread reads them.
        self._lock = threading.Lock()
        # The service account token an agent scrapes the kubelet with, as in a pod's mount.
        self.token_file = os.path.join(root, "serviceaccount", "token")
        self._token = _runtime_id(root, "token")
        self.kubelet = SimulatedKubelet(node_name, self.container_stats, bearer_token=self._token)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tick = 0
        self.lines_written = 0

    def start(self, *, writing: bool = True) -> None:
        """Start the API, the kubelet and the pods; with `writing` False the pods write only
        when `tick()` is called (tests that count what was written)."""
        os.makedirs(self.pods_dir, exist_ok=True)
        os.makedirs(os.path.dirname(self.token_file), exist_ok=True)
        with open(self.token_file, "w") as f:
            f.write(self._token)
        self.api.start()
        self.kubelet.start()
        self._add_node()
        for ns, pod, app, container, fmt, style in PODS:
            if app != "batch":
                self._create_pod(ns, pod, app, container, fmt, style)
        if writing:
            self._thread = threading.Thread(target=self._run, name="heron-demo-node", daemon=True)
            self._thread.start()

    def _add_node(self) -> None:
        # Everything "runs" on this machine: the node's InternalIP is 127.0.0.1 and its kubelet
        # endpoint is the simulated kubelet's own port.
        self.api.add(make_node(self.node_name, address="127.0.0.1", kubelet_port=self.kubelet.port))
        for ns in sorted({p[0] for p in PODS}):
            self.api.add(make_namespace(ns))

    def container_stats(self) -> list[ContainerStats]:
        with self._lock:
            return [c.stats() for c in self.containers.values()]

    def pod_metrics(self, namespace: str, pod: str) -> PodMetrics:
        """The counters a pod serves now (a restart replaces them)."""
        with self._lock:
            return self.containers[(namespace, pod)].metrics

    def _create_pod(self, ns: str, pod: str, app: str, container: str, fmt: str, style: str) -> None:
        uid = str(uuid.UUID(int=self.rng.getrandbits(128)))
        cdir = os.path.join(self.pods_dir, f"{ns}_{pod}_{uid}", container)
        os.makedirs(cdir, exist_ok=True)
        # The route reads the container's current counters, so a restart's fresh ones show.
        box: list[_Container] = []
        server = MetricsServer({"/metrics": lambda: box[0].metrics.render()})
        c = _Container(
            cdir,
            fmt,
            style,
            namespace=ns,
            pod=pod,
            name=container,
            uid=uid,
            image=f"example/{container}:1",
            server=server,
            metrics=PodMetrics(ns, pod, container),
        )
        box.append(c)
        server.start()
        manifest = make_pod(
            ns,
            pod,
            self.node_name,
            uid=uid,
            containers=(container,),
            labels={"app.kubernetes.io/name": app, "tier": ns},
            annotations={"prometheus.io/scrape": "true", "prometheus.io/port": str(server.port)},
            # Every pod "runs" on this machine: its IP is 127.0.0.1 and its port is its own.
            ports={container: [("metrics", server.port)]},
            pod_ip="127.0.0.1",
            host_ip="127.0.0.1",
            ready=True,
        )
        with self._lock:
            self.containers[(ns, pod)] = c
        self.api.add_pod(manifest)

    def _delete_pod(self, ns: str, pod: str) -> None:
        with self._lock:
            c = self.containers.pop((ns, pod), None)
        if c is not None:
            self.api.delete_pod(ns, pod)
            c.server.stop()
            shutil.rmtree(os.path.dirname(c.dir), ignore_errors=True)

    def _write(self, c: _Container, lines: list[str], request: Request) -> None:
        now = time.time_ns()
        out = []
        for i, line in enumerate(lines):
            t = now + i
            if c.fmt == "docker":
                out.append(json.dumps({"log": line + "\n", "stream": "stdout", "time": _ts(t)}))
            elif len(line) > 120 and self.rng.random() < 0.5:  # a long line split into P pieces
                out.append(f"{_ts(t)} stdout P {line[:100]}")
                out.append(f"{_ts(t)} stdout F {line[100:]}")
            else:
                out.append(f"{_ts(t)} {'stderr' if c.style in ('java', 'python') else 'stdout'} F {line}")
        with open(c.path, "a") as f:
            f.write("\n".join(out) + "\n")
        self.lines_written += len(lines)
        c.metrics.record(request, len(lines))
        with self._lock:
            c.requests += 1
            c.busy_seconds += request.seconds
        if os.path.getsize(c.path) >= self.rotate_bytes:
            self._rotate(c)

    def _rotate(self, c: _Container) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        rotated = f"{c.path}.{stamp}"
        if os.path.exists(rotated):
            return  # one rotation per second at most, as the kubelet does
        os.rename(c.path, rotated)
        open(c.path, "a").close()
        c.rotations.append(rotated)
        while len(c.rotations) > 1:  # gzip the older rotated file, then remove it
            old = c.rotations.pop(0)
            with open(old, "rb") as src, gzip.open(old + ".gz", "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.unlink(old)
            os.unlink(old + ".gz")

    def tick(self) -> None:
        """One tenth of a second of the node: `rate / 10` events, and now and then a restart
        or the batch pod coming or going."""
        self._tick += 1
        tick = self._tick
        budget = max(1, int(self.rate / 10))
        for _ in range(budget):
            if not self.containers:
                break
            key = self.rng.choice(list(self.containers))
            c = self.containers[key]
            style = "json" if key[1].startswith("noisy") else c.style
            lines, request = _event(style, self.rng)
            self._write(c, lines, request)
        if tick % 300 == 0:  # every ~30 s a container restarts
            c = self.containers[self.rng.choice(list(self.containers))]
            with self._lock:
                c.restarted()
        batch = next(p for p in PODS if p[2] == "batch")
        if tick % 200 == 50:  # the batch pod comes ...
            self._create_pod(*batch[:2], batch[2], batch[3], batch[4], batch[5])
        if tick % 200 == 150:  # ... and goes
            self._delete_pod(batch[0], batch[1])

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.tick()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            containers = list(self.containers.values())
        for c in containers:
            c.server.stop()
        self.kubelet.stop()
        self.api.stop()
