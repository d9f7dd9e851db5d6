"""Node agent benchmark: throughput, memory and end-to-end latency of `heron agent`, beside targets.

    .venv/bin/python bench/agent.py                      # all three parts (~2.5-4 min on 2 cores)
    .venv/bin/python bench/agent.py --part throughput    # one part: throughput | memory | latency
    .venv/bin/python bench/agent.py --quick              # smaller sizes, a smoke run (~1.5 min)
    .venv/bin/python bench/agent.py --keep               # keep the temp dir (corpus, logs, state)

Targets (the agent's issue):

  T. Throughput: tail + parse + label + queue + ship >= 100 MB/s per core on CRI files (raw file
     bytes / agent CPU seconds), lines/s beside it. Peers on the same files in the same run:
     `cat files > /dev/null` (the physical limit: reading the page cache) and Debian's rsyslog
     with imfile (inotify mode) writing every line to one file. rsyslog does no CRI parsing, no
     labelling, no compression and no acknowledged checkpoints: it only moves lines.
  M. Memory: agent RSS <= 64 MiB while tailing 500 files that keep growing.
  L. Latency: at 1k lines/s, a line is queryable within 2 s of being written (p50/p99).

How each is measured:

* T (subprocess): a real `heron agent --kube none` process pushes over HTTP to a null Loki sink,
  a tiny HTTP server in its own process (so it does not share the agent's GIL) that reads each
  body, decodes it to count lines (`--no-sink-decode` to skip) and answers 204. The agent is
  started on an empty pods dir and left to settle; then the pre-written corpus (20 CRI files,
  page cache warm) is renamed into the pods dir and the clock starts. It stops when the agent's
  checkpoint file (advanced only after the sink acknowledged) covers every byte. CPU is the
  agent process' utime + stime from /proc/<pid>/stat over that interval (startup excluded).
* T (end to end): the same files through a real `heron agent` into a real `heron server`, timed
  from the agent's start until its checkpoints (advanced only on the server's 2xx) cover every
  byte: what a node can push into storage when both share this machine.
* T (in-process): the same pipeline (`LogAgent`, durable queue included) in this process with a
  `send` that returns "delivered" at once: the cost of the pipeline without HTTP.
* M: 500 files (100 pods x 5 containers) with some lines each, then new lines appended at
  `--mem-rate` lines/s to random files during the whole run. RSS (VmRSS) and open fds of the
  agent process sampled every 0.5 s; after it caught up with the initial content, `--mem-duration`
  seconds of steady state. VmHWM is the kernel's peak RSS over the process' whole life.
* L: a real `heron server` and `heron agent` (defaults: batch_wait 1 s). A writer process appends
  `--lat-rate` lines/s to `--lat-files` files, one write() per line, each line carrying its id;
  its CRI timestamp is the write time. A poller queries /loki/api/v1/query_range every
  `--lat-poll` s. To keep its own load (and the server's rendering) small it asks
  direction=forward from the oldest per-stream high-water mark instead of re-reading a backward
  window, so each poll returns only the new lines. A line's latency is the time the first
  response holding it was received minus its write time. Lines never seen count as infinite.

Every server listens on 127.0.0.1; every loop is bounded; child processes are killed on exit;
the temp dir is removed unless --keep.
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import io
import json
import math
import os
import pstats
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from dataclasses import MISSING, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))  # serverproc: start a real `heron server`

import httpx  # noqa: E402

from report import Figure, Report, machine_info  # noqa: E402

MB = 1_000_000
MiB = 1024 * 1024
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# report


def agent_settings() -> dict[str, str]:
    """The agent's settings this run uses: AgentOptions defaults and the CLI queue size."""
    from heron.collect.logs.agent import AgentOptions
    from heron.config import SETTINGS

    out = {f.name: repr(f.default) for f in fields(AgentOptions) if f.default is not MISSING}
    out["cli agent_queue_size"] = next(s.default for s in SETTINGS if s.name == "agent_queue_size")
    return out


# ---------------------------------------------------------------------------------------------
# processes
_CHILDREN: list[subprocess.Popen] = []


def spawn(cmd: list[str], log_path: str | None = None, **kw: object) -> subprocess.Popen:
    out = open(log_path, "wb") if log_path else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(cmd, stdout=kw.pop("stdout", out), stderr=subprocess.STDOUT, **kw)  # type: ignore[call-overload]
    finally:
        if log_path:
            out.close()  # type: ignore[union-attr]
    _CHILDREN.append(proc)
    return proc


def stop(proc: subprocess.Popen | None, timeout: float = 20.0) -> int | None:
    """SIGTERM, then SIGKILL after `timeout` s; returns the exit code."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode


@atexit.register
def _kill_children() -> None:
    for p in _CHILDREN:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass


def proc_cpu(pid: int) -> float:
    """utime + stime of a process (all its threads), seconds."""
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    rest = data[data.rindex(")") + 2 :].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (bytes) and Threads of a process."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) * 1024
            elif k == "Threads":
                out[k] = int(v)
    return out


def proc_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def heron_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "heron", *args]


def agent_cmd(pods: str, state: str, server: str, node: str) -> list[str]:
    return heron_cmd(
        "agent", "--pods-dir", pods, "--state-dir", state, "--server", server,
        "--node-name", node, "--kube", "none",
    )  # fmt: skip


def wait_agent_ready(proc: subprocess.Popen, log_path: str, timeout: float = 60.0) -> None:
    """Until the agent logged its start and its CPU time stopped growing (imports done)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"agent exited with {proc.returncode}:\n{tail_file(log_path)}")
        if "agent started" in Path(log_path).read_text(errors="replace"):
            break
        time.sleep(0.05)
    else:
        raise RuntimeError(f"agent did not start within {timeout:.0f} s:\n{tail_file(log_path)}")
    last = proc_cpu(proc.pid)
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = proc_cpu(proc.pid)
        if now - last < 0.02:
            return
        last = now


def tail_file(path: str, n: int = 20) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def log_problems(path: str) -> list[str]:
    """Warning and error lines of a heron log (logfmt or JSON)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return []
    bad = ("level=warning", "level=error", "level=critical", '"level":"warning"', '"level":"error"')
    return [line for line in text.splitlines() if any(b in line for b in bad)]


def shipped_bytes(state_dir: str) -> int:
    """Bytes of the tailed files the agent's checkpoints say were acknowledged (-1: unreadable)."""
    try:
        with open(os.path.join(state_dir, "checkpoints.json"), "rb") as f:
            doc = json.loads(f.read())
    except (OSError, ValueError):
        return -1
    best: dict[tuple[int, int], int] = {}
    for cp in doc.get("files", {}).values():
        k = (cp["dev"], cp["inode"])
        best[k] = max(best.get(k, 0), int(cp["offset"]))
    return sum(best.values())


# ---------------------------------------------------------------------------------------------
# corpus: realistic container log lines, deterministic
_WORDS = (
    "request handled user session order cart payment invoice shipment inventory cache miss hit "
    "upstream downstream retry timeout connection pool database query index shard replica leader "
    "follower election heartbeat token refresh expired granted denied quota limit exceeded "
    "scheduled completed failed started stopped pending running queue worker batch flush commit "
    "rollback snapshot compaction segment offset partition topic consumer producer lag rebalance "
    "tenant region zone node pod container image pull backoff probe liveness readiness endpoint"
).split()
_MSGS = [
    "request completed", "cache lookup", "order created", "payment authorized", "retrying upstream call",
    "connection reset by peer", "slow query detected", "user logged in", "token refreshed",
    "queue depth above threshold", "reconciling object", "health check passed", "config reloaded",
    "flushing batch to storage", "rate limit applied", "invalid input rejected", "lease renewed",
]  # fmt: skip
_LOGGERS = ["api.handler", "orders.service", "payments.client", "db.pool", "cache.redis", "auth.jwt"]
_CALLERS = ["server.go:214", "handler.go:88", "client.go:131", "pool.go:57", "worker.go:302"]
_RES = ["orders", "users", "carts", "payments", "items", "search", "sessions", "invoices"]
_METHODS = ["GET"] * 6 + ["POST"] * 2 + ["PUT", "DELETE"]
_STATUS = [200] * 20 + [201, 204, 301, 304, 400, 401, 403, 404, 404, 429, 500, 502, 503]
_LEVELS = ["info"] * 14 + ["debug"] * 3 + ["warn"] * 2 + ["error"]
_UAS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2",
    "kube-probe/1.29", "Go-http-client/1.1", "curl/8.5.0", "python-httpx/0.27.0",
]  # fmt: skip
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
KINDS = ("json", "logfmt", "access", "klog")


class LineGen:
    """Messages of 80-600 bytes (60% 80-250, 30% 250-450, 10% 450-600) in four formats: JSON app
    logs, logfmt, combined access logs and klog. Per-line random ids, latencies, sizes; padding
    comes from a long random word text so lines do not repeat."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        self.fill = " ".join(self.r.choice(_WORDS) for _ in range(40_000))
        self.fill_q = self.fill.replace(" ", "+")
        self.flen = len(self.fill) - 1000
        self._sec = -1
        self._sec_iso = ""
        self._sec_clf = ""
        self._sec_klog = ""

    def _target(self) -> int:
        x = self.r.random()
        if x < 0.6:
            return self.r.randint(80, 250)
        if x < 0.9:
            return self.r.randint(250, 450)
        return self.r.randint(450, 600)

    def _pad(self, n: int, q: bool = False) -> str:
        a = self.r.randrange(self.flen)
        return (self.fill_q if q else self.fill)[a : a + n]

    def timestamp(self, ns: int) -> str:
        """Go's RFC3339Nano as kubelet's runtimes write it (trailing zeros of the fraction trimmed)."""
        s, frac = divmod(ns, 1_000_000_000)
        if s != self._sec:
            t = time.gmtime(s)
            self._sec = s
            self._sec_iso = time.strftime("%Y-%m-%dT%H:%M:%S", t)
            self._sec_clf = f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:" + (
                f"{t.tm_min:02d}:{t.tm_sec:02d} +0000"
            )
            self._sec_klog = f"{t.tm_mon:02d}{t.tm_mday:02d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
        f = f"{frac:09d}".rstrip("0")
        return f"{self._sec_iso}.{f}Z" if f else f"{self._sec_iso}Z"

    def message(self, kind: str, ts: str, ns: int) -> tuple[str, str]:
        """(message, stream) for a line written at `ns` whose CRI timestamp text is `ts`."""
        r = self.r
        target = self._target()
        if kind == "json":
            lvl = r.choice(_LEVELS)
            s = (
                f'{{"time":"{ts}","level":"{lvl}","logger":"{r.choice(_LOGGERS)}","msg":"{r.choice(_MSGS)}",'
                f'"trace_id":"{r.getrandbits(128):032x}","user_id":{r.randrange(1, 10**7)},'
                f'"latency_ms":{r.random() * 800:.3f}'
            )
            need = target - len(s) - 13
            if need > 0:
                s += f',"detail":"{self._pad(need)}"'
            return s + "}", "stderr" if lvl in ("warn", "error") else "stdout"
        if kind == "logfmt":
            lvl = r.choice(_LEVELS)
            s = (
                f"ts={ts} level={lvl} caller={r.choice(_CALLERS)} msg={r.choice(_MSGS).replace(' ', '_')} "
                f"method={r.choice(_METHODS)} path=/api/v1/{r.choice(_RES)}/{r.randrange(10**6)} "
                f"status={r.choice(_STATUS)} duration={r.random() * 900:.2f}ms bytes={r.randrange(10**5)} "
                f"request_id={r.getrandbits(64):016x}"
            )
            need = target - len(s) - 10
            if need > 0:
                s += f' detail="{self._pad(need)}"'
            return s, "stderr" if lvl in ("warn", "error") else "stdout"
        if kind == "access":
            st = r.choice(_STATUS)
            path = f"/api/v1/{r.choice(_RES)}/{r.randrange(10**6)}"
            tail = f'" {st} {r.randrange(10**5)} "-" "{r.choice(_UAS)}" {r.random() * 2:.3f}'
            head = (
                f"10.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)} - - [{self._sec_clf}] "
                f'"{r.choice(_METHODS)} {path}'
            )
            need = target - len(head) - len(tail) - 12
            q = f"?q={self._pad(need, q=True)}" if need > 0 else ""
            return f"{head}{q} HTTP/1.1{tail}", "stdout"
        lvl = r.choice("IIIIIIIIWE")
        s = (
            f"{lvl}{self._sec_klog}.{(ns // 1000) % 1_000_000:06d}       1 {r.choice(_CALLERS)}] "
            f'"{r.choice(_MSGS)}" object="{r.choice(_RES)}/{r.getrandbits(32):08x}" '
            f"generation={r.randrange(99)}"
        )
        need = target - len(s) - 10
        if need > 0:
            s += f' reason="{self._pad(need)}"'
        return s, "stdout" if lvl == "I" else "stderr"

    def kind_for(self, main: str) -> str:
        """Mostly the container's own format, 10% of the others (sidecars, library output)."""
        return main if self.r.random() < 0.9 else self.r.choice(KINDS)

    def cri_line(self, kind: str, ns: int) -> str:
        ts = self.timestamp(ns)
        msg, stream = self.message(kind, ts, ns)
        return f"{ts} {stream} F {msg}\n"


def write_cri_file(
    path: str, gen: LineGen, kind: str, start_ns: int, *, nbytes: int = 0, nlines: int = 0
) -> tuple[int, int]:
    """Write lines until `nbytes` bytes or `nlines` lines; returns (lines, bytes)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    lines = size = 0
    ns = start_ns
    with open(path, "ab") as f:
        while (nbytes and size < nbytes) or (nlines and lines < nlines):
            chunk = []
            n = min(4096, max(16, (nbytes - size) // 300)) if nbytes else min(4096, nlines - lines)
            for _ in range(n):
                ns += gen.r.randrange(1, 2_000_000)
                chunk.append(gen.cri_line(gen.kind_for(kind), ns))
            data = "".join(chunk).encode()
            f.write(data)
            lines += len(chunk)
            size += len(data)
    return lines, size


def pod_dir(root: str, ns: str, pod: str, rng: random.Random) -> str:
    return os.path.join(root, f"{ns}_{pod}_{uuid.UUID(int=rng.getrandbits(128), version=4)}")


# ---------------------------------------------------------------------------------------------
# the null Loki sink (child process)
class Sink:
    """Parent's handle on a `--child sink` process."""

    def __init__(self, work: str, decode: bool) -> None:
        port_file = os.path.join(work, f"sink-{time.monotonic_ns()}.port")
        cmd = [sys.executable, os.path.abspath(__file__), "--child", "sink", "--port-file", port_file]
        if decode:
            cmd.append("--sink-decode")
        self.proc = spawn(cmd, os.path.join(work, "sink.log"))
        deadline = time.monotonic() + 30
        while not os.path.exists(port_file) or not Path(port_file).read_text().strip():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("null sink did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{int(Path(port_file).read_text())}"

    def stats(self) -> dict[str, int]:
        return httpx.get(self.url + "/stats", timeout=10).json()

    def close(self) -> None:
        stop(self.proc, 5)


def child_sink(args: argparse.Namespace) -> int:
    decode_push = None
    if args.sink_decode:
        from heron.receive.loki_push import decode_push
    stats = {"pushes": 0, "body_bytes": 0, "lines": 0, "line_bytes": 0, "decode_errors": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n)
            lines = line_bytes = errors = 0
            if decode_push is not None:
                try:
                    batches = decode_push(
                        body, self.headers.get("Content-Type", ""), self.headers.get("Content-Encoding", "")
                    )
                    for b in batches:
                        lines += len(b.lines)
                        line_bytes += sum(map(len, b.lines))
                except Exception:
                    errors = 1
            with lock:
                stats["pushes"] += 1
                stats["body_bytes"] += len(body)
                stats["lines"] += lines
                stats["line_bytes"] += line_bytes
                stats["decode_errors"] += errors
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:  # noqa: N802
            with lock:
                data = json.dumps(stats).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *a: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    tmp = args.port_file + ".tmp"
    Path(tmp).write_text(str(server.server_address[1]))
    os.replace(tmp, args.port_file)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever(poll_interval=0.2)
    return 0


# ---------------------------------------------------------------------------------------------
# T: throughput
def run_cat(paths: list[str], runs: int) -> float:
    """Median wall seconds of `cat paths > /dev/null` over `runs` runs after one warm-up run.

    cat is one thread, so its wall rate is its rate per core (its CPU time is too short for the
    10 ms accounting ticks to measure)."""
    walls = []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        subprocess.run(["cat", *paths], stdout=subprocess.DEVNULL, check=True)
        if i:
            walls.append(time.perf_counter() - t0)
    return statistics.median(walls)


def run_heron_subprocess(
    work: str, staging: str, pods: str, total_bytes: int, total_lines: int, args: argparse.Namespace
) -> dict[str, float]:
    state = os.path.join(work, "state-subprocess")
    log_path = os.path.join(work, "agent-throughput.log")
    sink = Sink(work, decode=args.sink_decode)
    agent = None
    try:
        agent = spawn(agent_cmd(pods, state, sink.url, "bench-node"), log_path)
        wait_agent_ready(agent, log_path)
        rss_idle = proc_status(agent.pid).get("VmRSS", 0)
        cpu0 = proc_cpu(agent.pid)
        t0 = time.perf_counter()
        for name in sorted(os.listdir(staging)):  # the corpus appears: files were written before
            os.rename(os.path.join(staging, name), os.path.join(pods, name))
        deadline = time.monotonic() + args.timeout
        done = 0
        peak_rss = 0
        while time.monotonic() < deadline:
            if agent.poll() is not None:
                raise RuntimeError(f"agent exited with {agent.returncode}:\n{tail_file(log_path)}")
            peak_rss = max(peak_rss, proc_status(agent.pid).get("VmRSS", 0))
            done = max(done, shipped_bytes(state))
            if done >= total_bytes:
                break
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        cpu = proc_cpu(agent.pid) - cpu0
        st = proc_status(agent.pid)
        if done < total_bytes:
            raise RuntimeError(f"agent shipped {done:,} of {total_bytes:,} bytes in {args.timeout:.0f} s")
        sink_stats = sink.stats()
        code = stop(agent)
    finally:
        stop(agent)
        sink.close()
    problems = log_problems(log_path)
    if problems:
        print(f"  agent log has {len(problems)} warning/error lines, e.g.: {problems[0][:200]}")
    return {
        "wall": wall,
        "cpu": cpu,
        "pushes": sink_stats["pushes"],
        "body_bytes": sink_stats["body_bytes"],
        "sink_lines": sink_stats["lines"],
        "sink_line_bytes": sink_stats["line_bytes"],
        "decode_errors": sink_stats["decode_errors"],
        "rss_peak": max(peak_rss, st.get("VmRSS", 0)),
        "rss_idle": rss_idle,
        "hwm": st.get("VmHWM", 0),
        "threads": st.get("Threads", 0),
        "exit": code if code is not None else -1,
        "log_problems": len(problems),
    }


def run_heron_e2e(work: str, pods: str, total_bytes: int, args: argparse.Namespace) -> dict[str, float]:
    """The same files through a real `heron agent` into a real `heron server`: the whole
    pipeline, both processes sharing this machine's cores."""
    from serverproc import start_server

    state = os.path.join(work, "state-e2e")
    log_path = os.path.join(work, "agent-e2e.log")
    server = start_server(Path(work) / "e2e-data")
    agent = None
    try:
        server_cpu0 = proc_cpu(server.proc.pid)
        t0 = time.perf_counter()
        agent = spawn(agent_cmd(pods, state, server.url, "bench-node"), log_path)
        deadline = time.monotonic() + args.timeout
        done = 0
        while time.monotonic() < deadline:
            if agent.poll() is not None:
                raise RuntimeError(f"agent exited with {agent.returncode}:\n{tail_file(log_path)}")
            done = max(done, shipped_bytes(state))
            if done >= total_bytes:
                break
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        agent_cpu = proc_cpu(agent.pid)
        server_cpu = proc_cpu(server.proc.pid) - server_cpu0
        if done < total_bytes:
            raise RuntimeError(f"agent shipped {done:,} of {total_bytes:,} bytes in {args.timeout:.0f} s")
    finally:
        stop(agent)
        server.stop()
    return {"wall": wall, "agent_cpu": agent_cpu, "server_cpu": server_cpu}


def run_heron_inprocess(work: str, pods: str, total_lines: int, args: argparse.Namespace) -> dict[str, float]:
    from heron.collect.logs.agent import AgentOptions, LogAgent
    from heron.ship.loki_client import PushOutcome, PushResult

    delivered = PushResult(PushOutcome.DELIVERED, 204, 1)
    sent = {"bodies": 0, "bytes": 0}

    def send(body: bytes) -> PushResult:
        sent["bodies"] += 1
        sent["bytes"] += len(body)
        return delivered

    agent = LogAgent(
        AgentOptions(pods_dir=pods, state_dir=os.path.join(work, "state-inprocess"), node_name="bench-node"),
        send,
    )
    stop_ev = threading.Event()
    prof = cProfile.Profile() if args.profile else None
    err: list[BaseException] = []

    def body() -> None:
        try:
            if prof is not None:
                prof.runcall(agent.run, stop_ev)
            else:
                agent.run(stop_ev)
        except BaseException as exc:  # noqa: B036 - reported by the caller
            err.append(exc)

    c0 = time.process_time()
    t0 = time.perf_counter()
    th = threading.Thread(target=body, name="bench-agent", daemon=True)
    th.start()
    deadline = time.monotonic() + args.timeout
    while th.is_alive() and agent.lines_read < total_lines and time.monotonic() < deadline:
        time.sleep(0.02)
    stop_ev.set()  # the agent drains its queue before run() returns
    th.join(args.timeout)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    if err:
        raise err[0]
    if th.is_alive():
        raise RuntimeError(f"in-process agent did not stop within {args.timeout:.0f} s")
    if prof is not None:
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(25)
        print("  cProfile of the in-process reader thread (tottime):\n" + s.getvalue())
    return {"wall": wall, "cpu": cpu, "lines": agent.lines_read, "bodies": sent["bodies"]}


def _find_rsyslogd() -> str | None:
    for path in (shutil.which("rsyslogd"), "/usr/sbin/rsyslogd"):
        if path and os.access(path, os.X_OK):
            return path
    return None


def rsyslogd_path(args: argparse.Namespace) -> str | None:
    found = _find_rsyslogd()
    if found or args.no_install:
        return found
    if shutil.which("apt-get") is None:
        print("  rsyslogd is missing and there is no apt-get: skipping the rsyslog peer")
        return None
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "rsyslog"]
    for attempt in (1, 2):
        print(f"  rsyslogd is missing: running {' '.join(cmd)}", flush=True)
        try:
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            print(f"  install failed ({exc}): skipping the rsyslog peer")
            return None
        if r.returncode == 0:
            break
        if attempt == 1:
            print("  install failed; running apt-get update first", flush=True)
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=300, check=False)
        else:
            print(f"  install failed (exit {r.returncode}): skipping the rsyslog peer\n{r.stderr[-500:]}")
            return None
    return _find_rsyslogd()


def run_rsyslog(
    rsyslogd: str, work: str, paths: list[str], total_lines: int, args: argparse.Namespace
) -> dict[str, float]:
    rwork = os.path.join(work, "rsyslog")
    os.makedirs(os.path.join(rwork, "spool"), exist_ok=True)
    out = os.path.join(rwork, "out.log")
    conf = os.path.join(rwork, "rsyslog.conf")
    inputs = "\n".join(
        f'input(type="imfile" file="{p}" tag="f{i}" ruleset="bench" addMetadata="off" freshStartTail="off")'
        for i, p in enumerate(paths)
    )
    Path(conf).write_text(
        f'global(workDirectory="{rwork}/spool" maxMessageSize="64k")\n'
        'module(load="imfile" mode="inotify")\n'
        'template(name="raw" type="string" string="%msg%\\n")\n'
        'ruleset(name="bench") {\n'
        f'  action(type="omfile" file="{out}" template="raw" ioBufferSize="256k" flushOnTXEnd="on")\n'
        "}\n" + inputs + "\n"
    )
    log_path = os.path.join(rwork, "rsyslogd.log")
    cmd = [rsyslogd, "-n", "-f", conf, "-i", os.path.join(rwork, "rsyslogd.pid")]
    t0 = time.perf_counter()
    proc = spawn(cmd, log_path)
    lines = 0
    pos = 0
    try:
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"rsyslogd exited with {proc.returncode}:\n{tail_file(log_path)}")
            try:
                with open(out, "rb") as f:
                    f.seek(pos)
                    data = f.read()
            except FileNotFoundError:
                data = b""
            cut = data.rfind(b"\n") + 1
            lines += data.count(b"\n", 0, cut)
            pos += cut
            if lines >= total_lines:
                break
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        cpu = proc_cpu(proc.pid)
        rss = proc_status(proc.pid).get("VmHWM", 0)
    finally:
        stop(proc)
    if lines < total_lines:
        raise RuntimeError(f"rsyslog wrote {lines:,} of {total_lines:,} lines in {args.timeout:.0f} s")
    try:
        v = subprocess.run([rsyslogd, "-v"], capture_output=True, text=True, timeout=10).stdout.split("\n")[0]
        v = " ".join(v.replace("compiled with:", "").split())
    except (OSError, subprocess.TimeoutExpired):
        v = "?"
    return {"wall": wall, "cpu": cpu, "out_bytes": os.path.getsize(out), "hwm": rss, "version": v}


def part_throughput(rep: Report, work: str, args: argparse.Namespace) -> None:
    print(f"\n== T: throughput ({args.tp_mb} MB of CRI logs in {args.tp_files} files)", flush=True)
    tw = os.path.join(work, "throughput")
    staging = os.path.join(tw, "staging")
    pods = os.path.join(tw, "pods")
    os.makedirs(staging)
    os.makedirs(pods)
    gen = LineGen(args.seed)
    rng = random.Random(args.seed + 1)
    t = time.perf_counter()
    total_lines = total_bytes = 0
    files: list[str] = []
    per_file = args.tp_mb * MB // args.tp_files
    start_ns = (int(time.time()) - 3600) * 1_000_000_000
    pod = ""
    for i in range(args.tp_files):
        if i % 2 == 0:  # two containers per pod
            pod = pod_dir(staging, "bench", f"shop-{i // 2:03d}-5d8f", rng)
        path = os.path.join(pod, ("app", "sidecar")[i % 2], "0.log")
        n, b = write_cri_file(path, gen, KINDS[(i + i // 4) % 4], start_ns, nbytes=per_file)
        files.append(os.path.relpath(path, staging))
        total_lines += n
        total_bytes += b
    os.sync()  # no writeback during the timed runs
    gen_s = time.perf_counter() - t
    print(
        f"  corpus: {total_lines:,} lines, {total_bytes / MB:,.1f} MB, "
        f"avg {total_bytes / total_lines:.0f} B/line (generated and synced in {gen_s:.1f} s)",
        flush=True,
    )
    mb = total_bytes / MB

    # cat: the physical limit (page cache -> process), first run warms the cache
    cat_rate = mb / run_cat([os.path.join(staging, f) for f in files], args.cat_runs)

    hs = run_heron_subprocess(tw, staging, pods, total_bytes, total_lines, args)
    paths = [os.path.join(pods, f) for f in files]
    per_core = mb / hs["cpu"]
    lines_core = total_lines / hs["cpu"]
    ok_lines = hs["sink_lines"] == total_lines if args.sink_decode else None
    rep.add(
        Figure(
            "T1",
            "heron agent (subprocess, HTTP to null sink): MB/s per core",
            per_core,
            "MB/s",
            ">= 100 MB/s",
            per_core >= 100,
            f"agent CPU {hs['cpu']:.1f} s (user+sys, all threads), wall {hs['wall']:.1f} s, "
            f"{hs['pushes']:,.0f} pushes, {hs['body_bytes'] / MB:,.1f} MB snappy bodies "
            f"({total_bytes / max(hs['body_bytes'], 1):.1f}x), "
            + (
                f"sink decoded {hs['sink_lines']:,.0f} of {total_lines:,} lines"
                + ("" if ok_lines else " (MISMATCH)")
                + f", {hs['decode_errors']:.0f} decode errors"
                if args.sink_decode
                else "sink did not decode"
            )
            + f"; RSS idle before the corpus {hs['rss_idle'] / MiB:.0f} MiB, "
            f"peak {hs['rss_peak'] / MiB:.0f} MiB, "
            f"{hs['threads']:.0f} threads, "
            f"{hs['log_problems']:.0f} warning/error log lines",
        )
    )
    rep.add(Figure("T2", "heron agent (subprocess): lines/s per core", lines_core, "lines/s"))
    rep.add(
        Figure(
            "T3",
            "heron agent (subprocess): MB/s wall",
            mb / hs["wall"],
            "MB/s",
            note=f"{total_lines / hs['wall']:,.0f} lines/s wall; CPU use {hs['cpu'] / hs['wall']:.2f} cores",
        )
    )
    hi = run_heron_inprocess(tw, pods, total_lines, args)
    rep.add(
        Figure(
            "T4",
            "heron LogAgent in-process, no HTTP: MB/s per core",
            mb / hi["cpu"],
            "MB/s",
            note=f"CPU {hi['cpu']:.1f} s, wall {hi['wall']:.1f} s, "
            f"{hi['lines'] / hi['cpu']:,.0f} lines/s per core, {hi['bodies']:,.0f} bodies"
            + ("" if hi["lines"] == total_lines else f" (read {hi['lines']:,} of {total_lines:,} lines)"),
        )
    )
    rep.add(
        Figure(
            "T5",
            "cat files > /dev/null (physical limit): MB/s",
            cat_rate,
            "MB/s",
            note=f"median of {args.cat_runs} runs after a warm-up run; one thread, so also MB/s per core",
        )
    )
    rs = None
    if args.no_rsyslog:
        print("  rsyslog peer skipped (--no-rsyslog)")
    else:
        rsyslogd = rsyslogd_path(args)
        if rsyslogd is None:
            print("  rsyslog peer skipped: rsyslogd not available")
        else:
            try:
                rs = run_rsyslog(rsyslogd, tw, paths, total_lines, args)
            except Exception as exc:
                print(f"  rsyslog peer failed: {exc}")
    if rs is not None:
        rs_core = mb / rs["cpu"]
        rep.add(
            Figure(
                "T6",
                "rsyslog imfile -> omfile (no CRI parsing): MB/s per core",
                rs_core,
                "MB/s",
                note=f"CPU {rs['cpu']:.2f} s, wall {rs['wall']:.2f} s = {mb / rs['wall']:,.0f} MB/s wall, "
                f"VmHWM {rs['hwm'] / MiB:.0f} MiB, wrote {rs['out_bytes'] / MB:,.1f} MB; {rs['version']}; "
                "rsyslog only moves lines: no CRI parsing, labels, "
                "compression, HTTP or acknowledged checkpoints",
            )
        )
        rep.add(Figure("T7", "ratio heron / rsyslog, per core (T1 / T6)", per_core / rs_core, "x"))
        rep.add(Figure("T8", "ratio heron / rsyslog, wall", (mb / hs["wall"]) / (mb / rs["wall"]), "x"))
    rep.add(Figure("T9", "ratio heron / cat, per core (T1 / T5)", per_core / cat_rate, "x"))
    e2e = run_heron_e2e(tw, pods, total_bytes, args)
    rep.add(
        Figure(
            "T10",
            "end to end: heron agent -> heron server, stored, MB/s wall",
            mb / e2e["wall"],
            "MB/s",
            note=f"{total_lines / e2e['wall']:,.0f} lines/s; wall {e2e['wall']:.1f} s from agent start "
            f"(startup included); agent CPU {e2e['agent_cpu']:.1f} s, server CPU {e2e['server_cpu']:.1f} s, "
            "both on this machine's cores",
        )
    )


# ---------------------------------------------------------------------------------------------
# M: memory
class Appender(threading.Thread):
    """Appends `rate` lines/s to random files (one write per line), bounded by `stop_ev`."""

    def __init__(self, paths: list[str], kinds: list[str], rate: float, seed: int) -> None:
        super().__init__(name="appender", daemon=True)
        self.fds = [os.open(p, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC) for p in paths]
        self.kinds = kinds
        self.rate = rate
        self.gen = LineGen(seed)
        self.stop_ev = threading.Event()
        self.lines = 0
        self.bytes = 0

    def run(self) -> None:
        t0 = time.monotonic()
        try:
            while not self.stop_ev.is_set():
                due = int((time.monotonic() - t0) * self.rate)
                while self.lines < due and not self.stop_ev.is_set():
                    i = self.gen.r.randrange(len(self.fds))
                    data = self.gen.cri_line(self.gen.kind_for(self.kinds[i]), time.time_ns()).encode()
                    os.write(self.fds[i], data)
                    self.lines += 1
                    self.bytes += len(data)
                self.stop_ev.wait(0.01)
        finally:
            for fd in self.fds:
                os.close(fd)


def write_kubeconfig(path: str, server_url: str) -> str:
    with open(path, "w") as f:
        f.write(
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
            f"clusters:\n- name: fake\n  cluster:\n    server: {server_url}\n"
            "users:\n- name: anon\n  user: {}\n"
            "contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: anon\n"
        )
    return path


def memory_run(args: argparse.Namespace, mw: str, kube: bool) -> dict[str, float]:
    """One agent tailing `mem_pods` x `mem_containers` growing files; with `kube`, it also
    watches their pods on a fake API server (the real lightkube client), as in a cluster."""
    from heron.kubefake import FakeKubeAPI, make_pod

    pods = os.path.join(mw, "pods")
    gen = LineGen(args.seed + 10)
    rng = random.Random(args.seed + 11)
    paths: list[str] = []
    kinds: list[str] = []
    initial = 0
    start_ns = (int(time.time()) - 600) * 1_000_000_000
    api = FakeKubeAPI().start() if kube else None
    for p in range(args.mem_pods):
        ns, name = f"team-{p % 10}", f"svc-{p:03d}-7f9c"
        pdir = pod_dir(pods, ns, name, rng)
        if api is not None:
            uid = os.path.basename(pdir).rsplit("_", 1)[1]
            labels = {"app.kubernetes.io/name": f"svc-{p:03d}", "team": ns, "pod-template-hash": "7f9c"}
            containers = tuple(f"c{c}" for c in range(args.mem_containers))
            api.add_pod(make_pod(ns, name, "bench-node", labels=labels, containers=containers, uid=uid))
        for c in range(args.mem_containers):
            path = os.path.join(pdir, f"c{c}", "0.log")
            kind = KINDS[(p + c) % 4]
            _, b = write_cri_file(path, gen, kind, start_ns, nlines=args.mem_lines)
            paths.append(path)
            kinds.append(kind)
            initial += b
    os.sync()
    print(f"  initial content: {initial / MB:.1f} MB", flush=True)
    sink = Sink(mw, decode=False)
    state = os.path.join(mw, "state")
    log_path = os.path.join(mw, "agent-memory.log")
    agent = None
    appender = Appender(paths, kinds, args.mem_rate, args.seed + 12)
    samples: list[tuple[float, int, int]] = []  # (t, rss, fds)
    cmd = agent_cmd(pods, state, sink.url, "bench-node")
    env = dict(os.environ)
    if api is not None:
        cmd[cmd.index("--kube") + 1] = "kubeconfig"
        env["KUBECONFIG"] = write_kubeconfig(os.path.join(mw, "kubeconfig"), api.url)
    try:
        appender.start()
        t0 = time.monotonic()
        agent = spawn(cmd, log_path, env=env)
        caught_up = None
        deadline = t0 + args.timeout
        end = None
        while time.monotonic() < deadline:
            if agent.poll() is not None:
                raise RuntimeError(f"agent exited with {agent.returncode}:\n{tail_file(log_path)}")
            now = time.monotonic()
            samples.append((now, proc_status(agent.pid).get("VmRSS", 0), proc_fds(agent.pid)))
            if caught_up is None and shipped_bytes(state) >= initial:
                caught_up = now
                cpu_caught = proc_cpu(agent.pid)
                end = now + args.mem_duration
                print(f"  caught up with the initial content after {now - t0:.1f} s", flush=True)
            if end is not None and now >= end:
                break
            time.sleep(0.5)
        if caught_up is None:
            raise RuntimeError(f"agent did not catch up within {args.timeout:.0f} s")
        steady_cores = (proc_cpu(agent.pid) - cpu_caught) / (time.monotonic() - caught_up)
        appender.stop_ev.set()
        appender.join(10)
        written = initial + appender.bytes
        drain_deadline = time.monotonic() + 30
        while shipped_bytes(state) < written and time.monotonic() < drain_deadline:
            time.sleep(0.1)
        behind = written - max(shipped_bytes(state), 0)
        st = proc_status(agent.pid)
        cpu = proc_cpu(agent.pid)
        stop(agent)
    finally:
        appender.stop_ev.set()
        stop(agent)
        sink.close()
        if api is not None:
            api.stop()
    steady = [s for s in samples if s[0] >= caught_up]
    rss_steady = [s[1] for s in steady] or [0]
    return {
        "n_files": len(paths),
        "initial": initial,
        "samples": len(steady),
        "median": statistics.median(rss_steady),
        "peak": max(rss_steady),
        "catch_peak": max((s[1] for s in samples if s[0] < caught_up), default=0),
        "catch_s": caught_up - t0,
        "hwm": st.get("VmHWM", 0),
        "threads": st.get("Threads", 0),
        "fds": max(s[2] for s in steady) if steady else 0,
        "steady_cores": steady_cores,
        "cpu": cpu,
        "appended": appender.lines,
        "behind": behind,
        "problems": len(log_problems(log_path)),
    }


def part_memory(rep: Report, work: str, args: argparse.Namespace) -> None:
    n_files = args.mem_pods * args.mem_containers
    runs = [("M", False)] + ([("K", True)] if args.mem_kube else [])
    for prefix, kube in runs:
        print(
            f"\n== {prefix}: memory ({n_files} files = {args.mem_pods} pods x {args.mem_containers} "
            f"containers, {args.mem_lines} lines each, then {args.mem_rate:g} lines/s appended; "
            + ("pod metadata from a fake API server via lightkube)" if kube else "--kube none)"),
            flush=True,
        )
        m = memory_run(args, os.path.join(work, "memory-kube" if kube else "memory"), kube)
        what = " with pod metadata (lightkube watch)" if kube else ""
        rep.add(
            Figure(
                f"{prefix}1",
                f"agent RSS tailing {n_files} files{what}, steady peak",
                m["peak"] / MiB,
                "MiB",
                "<= 64 MiB",
                m["peak"] <= 64 * MiB,
                f"{m['samples']} samples over {args.mem_duration:g} s after catch-up, "
                f"median {m['median'] / MiB:.1f} MiB; "
                f"{m['appended']:,} lines appended at {args.mem_rate:g}/s, "
                + (
                    "all shipped"
                    if m["behind"] <= 0
                    else f"{m['behind']:,} bytes not shipped 30 s after the last write"
                ),
            )
        )
        rep.add(
            Figure(
                f"{prefix}2",
                f"agent RSS high-water mark (VmHWM){what}, incl. initial catch-up",
                m["hwm"] / MiB,
                "MiB",
                "<= 64 MiB",
                m["hwm"] <= 64 * MiB,
                f"sampled peak during the catch-up of {m['initial'] / MB:.1f} MB: "
                f"{m['catch_peak'] / MiB:.1f} MiB, "
                f"which took {m['catch_s']:.1f} s from process start",
            )
        )
        rep.add(
            Figure(
                f"{prefix}3",
                f"agent open fds (steady, max){what}",
                float(m["fds"]),
                "fds",
                note=f"{m['threads']} threads; agent CPU in steady state {m['steady_cores']:.2f} cores "
                f"({args.mem_rate:g} lines/s), {m['cpu']:.1f} s over the whole part; "
                f"{m['problems']} warning/error log lines",
            )
        )


# ---------------------------------------------------------------------------------------------
# L: latency
def child_writer(args: argparse.Namespace) -> int:
    """Append `rate` lines/s round-robin to the files for `duration` s, one write() per line."""
    paths = json.loads(Path(args.files_json).read_text())
    fds = [os.open(p, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC) for p in paths]
    gen = LineGen(args.seed + 20)
    total = int(args.rate * args.duration)
    n = 0
    worst_lag = 0.0
    t0 = time.monotonic()
    stop_at = t0 + args.duration + 30
    while n < total and time.monotonic() < stop_at:
        now = time.monotonic()
        due = min(total, int((now - t0) * args.rate) + 1)
        worst_lag = max(worst_lag, now - (t0 + n / args.rate))
        while n < due:
            ns = time.time_ns()
            a = gen.r.randrange(len(gen.fill) - 300)
            line = f"{gen.timestamp(ns)} stdout F id={n} latency probe {gen.fill[a : a + 80]}\n"
            os.write(fds[n % len(fds)], line.encode())
            n += 1
        nxt = t0 + n / args.rate
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    for fd in fds:
        os.close(fd)
    print(json.dumps({"written": n, "seconds": time.monotonic() - t0, "worst_lag": worst_lag}), flush=True)
    return 0


def _pctl(values: list[float], q: float) -> float:
    """Nearest-rank percentile; inf entries (never seen) sort last."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def part_latency(rep: Report, work: str, args: argparse.Namespace) -> None:
    from serverproc import start_server

    print(
        f"\n== L: latency ({args.lat_rate:g} lines/s for {args.lat_duration:g} s to {args.lat_files} files, "
        f"poll every {args.lat_poll:g} s)",
        flush=True,
    )
    lw = os.path.join(work, "latency")
    pods = os.path.join(lw, "pods")
    rng = random.Random(args.seed + 30)
    gen = LineGen(args.seed + 31)
    paths = []
    for i in range(args.lat_files):
        p = os.path.join(pod_dir(pods, "bench-lat", f"writer-{i}", rng), "app", "0.log")
        os.makedirs(os.path.dirname(p))
        with open(p, "w") as f:
            f.write(f"{gen.timestamp(time.time_ns())} stdout F id=warm-{i} warm-up line\n")
        paths.append(p)
    files_json = os.path.join(lw, "files.json")
    Path(files_json).write_text(json.dumps(paths))
    data_dir = Path(lw) / "data"
    data_dir.mkdir()
    server = start_server(data_dir)
    _CHILDREN.append(server.proc)
    agent = writer = None
    agent_log = os.path.join(lw, "agent-latency.log")
    query = '{namespace="bench-lat"}'
    limit = 5000
    seen: dict[int, int] = {}  # id -> latency ns
    query_s: list[float] = []
    polls = 0
    client = httpx.Client(base_url=server.url, timeout=30)
    try:
        agent = spawn(agent_cmd(pods, os.path.join(lw, "state"), server.url, "bench-node"), agent_log)

        def fetch(start: int, end: int) -> list[tuple[str, int, str]]:
            t = time.perf_counter()
            r = client.get(
                "/loki/api/v1/query_range",
                params={
                    "query": query, "start": str(start), "end": str(end), "limit": str(limit),
                    "direction": "forward",
                },
            )  # fmt: skip
            query_s.append(time.perf_counter() - t)
            r.raise_for_status()
            out = []
            for s in r.json()["data"]["result"]:
                pod = s["stream"].get("pod", "")
                for ts, line in s["values"]:
                    out.append((pod, int(ts), line))
            return out

        # warm-up: the agent and the server are up once every warm-up line is queryable
        t_warm = time.time_ns() - 120 * 1_000_000_000
        warm_deadline = time.monotonic() + 60
        while True:
            if agent.poll() is not None:
                raise RuntimeError(f"agent exited with {agent.returncode}:\n{tail_file(agent_log)}")
            got = {line.split(" ", 1)[0] for _, _, line in fetch(t_warm, time.time_ns() + 10**10)}
            if all(f"id=warm-{i}" in got for i in range(args.lat_files)):
                break
            if time.monotonic() > warm_deadline:
                raise RuntimeError("warm-up lines not queryable within 60 s")
            time.sleep(0.1)

        t_begin = time.time_ns()
        marks = {}  # pod -> newest ts seen: per stream, lines become visible in order
        writer = spawn(
            [
                sys.executable, os.path.abspath(__file__), "--child", "writer", "--files-json", files_json,
                "--rate", str(args.lat_rate), "--duration", str(args.lat_duration), "--seed", str(args.seed),
            ],
            None,
            stdout=subprocess.PIPE,
        )  # fmt: skip
        written: int | None = None
        writer_info: dict = {}
        hard_deadline = time.monotonic() + args.lat_duration + args.lat_grace + 60
        grace_end: float | None = None
        while time.monotonic() < hard_deadline:
            if written is None and writer.poll() is not None:
                out = writer.stdout.read() if writer.stdout else b""  # type: ignore[union-attr]
                writer_info = json.loads(out.decode().strip().splitlines()[-1])
                written = int(writer_info["written"])
                grace_end = time.monotonic() + args.lat_grace
            if written is not None and (len(seen) >= written or time.monotonic() >= (grace_end or 0)):
                break
            tick = time.monotonic()
            start = min(marks.values(), default=t_begin) if len(marks) == args.lat_files else t_begin
            rows = fetch(start, time.time_ns() + 10**10)
            visible = time.time_ns()
            polls += 1
            for pod, ts, line in rows:
                if ts > marks.get(pod, 0):
                    marks[pod] = ts
                head = line.split(" ", 1)[0]
                if head.startswith("id=") and head[3:].isdigit():
                    seen.setdefault(int(head[3:]), visible - ts)
            if len(rows) < limit:
                time.sleep(max(0.0, args.lat_poll - (time.monotonic() - tick)))
        if written is None:
            raise RuntimeError("writer did not finish in time")
        # final sweep: lines that became visible but were never seen by a poll (out of order)
        late = set()
        start = t_begin
        for _ in range(written // (limit - 500) + 20):
            rows = fetch(start, time.time_ns() + 10**10)
            for _pod, _ts, line in rows:
                head = line.split(" ", 1)[0]
                if head.startswith("id=") and head[3:].isdigit() and int(head[3:]) not in seen:
                    late.add(int(head[3:]))
            if len(rows) < limit:
                break
            start = max(ts for _, ts, _ in rows)
    finally:
        client.close()
        stop(writer, 5)
        stop(agent)
        server.stop()
    problems = log_problems(agent_log)
    lat = [seen[i] / 1e9 if i in seen else float("inf") for i in range(written)]
    missing = sum(1 for i in range(written) if i not in seen)
    p50, p99, mx = _pctl(lat, 0.50), _pctl(lat, 0.99), max(lat, default=float("nan"))
    finite = [x for x in lat if not math.isinf(x)]
    settings = agent_settings()
    note_w = (
        f"{written:,} lines written in {writer_info.get('seconds', 0):.1f} s "
        f"(writer worst lag behind schedule {writer_info.get('worst_lag', 0) * 1000:.0f} ms); "
        f"{polls} polls, query time p50 {_pctl(query_s, 0.5) * 1000:.0f} ms / "
        f"max {max(query_s) * 1000:.0f} ms; "
        f"agent batch_wait={settings.get('batch_wait', '?')} batch_lines={settings.get('batch_lines', '?')}"
    )
    rep.add(Figure("L1", "write -> queryable latency p50", p50, "s", "<= 2 s", p50 <= 2.0, note_w))
    rep.add(Figure("L2", "write -> queryable latency p99", p99, "s", "<= 2 s", p99 <= 2.0))
    rep.add(
        Figure(
            "L3",
            "write -> queryable latency max",
            mx,
            "s",
            note=f"min {min(finite, default=float('nan')):.3f} s, mean "
            f"{statistics.fmean(finite) if finite else float('nan'):.3f} s over lines seen; "
            f"{sum(1 for x in finite if x > 2.0)} lines over 2 s; "
            f"{len(problems)} agent warning/error log lines",
        )
    )
    rep.add(
        Figure(
            "L4",
            "lines never queryable (after the grace period)",
            100.0 * missing / max(written, 1),
            "%",
            "0 %",
            missing == 0,
            f"{missing} of {written:,} never seen by a poll, of which {len(late)} present in the final sweep",
        )
    )


# ---------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=("throughput", "memory", "latency", "all"), default="all")
    ap.add_argument("--quick", action="store_true", help="smaller sizes for a smoke run")
    ap.add_argument("--workdir", default=None, help="parent of the temp dir (default: the system temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (corpus, agent logs, state)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--timeout", type=float, default=300.0, help="bound on each wait for the agent (s)")
    g = ap.add_argument_group("throughput")
    g.add_argument("--tp-mb", type=int, help="corpus size in MB (default 400; quick 80)")
    g.add_argument("--tp-files", type=int, default=20, help="CRI files, 2 containers per pod (default 20)")
    g.add_argument("--cat-runs", type=int, default=3, help="timed cat runs after a warm-up run (default 3)")
    g.add_argument("--no-rsyslog", action="store_true", help="skip the rsyslog peer")
    g.add_argument("--no-install", action="store_true", help="don't apt-get install rsyslog when missing")
    g.add_argument(
        "--no-sink-decode", dest="sink_decode", action="store_false", help="null sink doesn't count lines"
    )
    g.add_argument("--profile", action="store_true", help="cProfile the in-process agent's reader thread")
    g = ap.add_argument_group("memory")
    g.add_argument("--mem-pods", type=int, default=100, help="pods (default 100)")
    g.add_argument("--mem-containers", type=int, default=5, help="containers per pod (default 5)")
    g.add_argument("--mem-lines", type=int, default=200, help="lines per file before the agent starts")
    g.add_argument("--mem-rate", type=float, default=500.0, help="lines/s appended during the part")
    g.add_argument("--mem-duration", type=float, help="seconds sampled after catch-up (default 30; quick 10)")
    g = ap.add_argument_group("latency")
    g.add_argument("--lat-rate", type=float, default=1000.0, help="lines/s written (default 1000)")
    g.add_argument("--lat-duration", type=float, help="seconds of writing (default 30; quick 10)")
    g.add_argument("--lat-files", type=int, default=4, help="files written round-robin (default 4)")
    g.add_argument("--lat-poll", type=float, default=0.1, help="seconds between polls (default 0.1)")
    g.add_argument("--lat-grace", type=float, default=15.0, help="wait for stragglers, s (default 15)")
    # child processes of this script
    ap.add_argument(
        "--mem-kube",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure memory with pod metadata from a fake API server (default: yes)",
    )
    ap.add_argument("--child", choices=("sink", "writer"), help=argparse.SUPPRESS)
    ap.add_argument("--port-file", help=argparse.SUPPRESS)
    ap.add_argument("--sink-decode", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--files-json", help=argparse.SUPPRESS)
    ap.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--duration", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    q = args.quick
    args.tp_mb = args.tp_mb or (80 if q else 400)
    args.mem_duration = args.mem_duration or (10.0 if q else 30.0)
    args.lat_duration = args.lat_duration or (10.0 if q else 30.0)
    if args.tp_files < 1 or args.mem_pods < 1 or args.mem_containers < 1 or args.lat_files < 1:
        ap.error("file counts must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child == "sink":
        return child_sink(args)
    if args.child == "writer":
        return child_writer(args)

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    work = tempfile.mkdtemp(prefix="heron-bench-agent-", dir=args.workdir)
    info = machine_info()
    print("heron agent benchmark")
    print("command: " + " ".join([os.path.relpath(sys.executable, os.getcwd()), *sys.argv]))
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    settings = ", ".join(f"{k}={v}" for k, v in agent_settings().items())
    print(f"agent settings (defaults, unchanged): {settings}")
    print(f"work dir: {work}", flush=True)
    rep = Report()
    parts = [
        ("throughput", part_throughput),
        ("memory", part_memory),
        ("latency", part_latency),
    ]
    t_start = time.perf_counter()
    failed = 0
    try:
        for name, fn in parts:
            if args.part not in (name, "all"):
                continue
            t = time.perf_counter()
            try:
                fn(rep, work, args)
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                failed += 1
                traceback.print_exc()
                key = name[0].upper() + "!"
                rep.add(Figure(key, f"{name} part failed", None, "", "runs", False, str(exc)[:300]))
            print(f"  ({name} took {time.perf_counter() - t:.0f} s)", flush=True)
    except KeyboardInterrupt as exc:
        failed += 1
        print(f"\ninterrupted ({exc or 'Ctrl-C'}); stopping child processes", flush=True)
    finally:
        _kill_children()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"\nheron agent benchmark ({time.perf_counter() - t_start:.0f} s; load avg at start "
        f"{info['load_avg_at_start']}; {info['nproc']} x {info['cpu']}; python {info['python']}; "
        f"{info['date']})\n"
    )
    print(rep.table())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
