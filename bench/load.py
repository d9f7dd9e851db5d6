"""Ingest alone and ingest while people query, against one real `heron server` (issue 18).

    .venv/bin/python bench/load.py                 # query workers (the default), then in-process
    .venv/bin/python bench/load.py --quick         # shorter phases
    .venv/bin/python bench/load.py --workers 2 --no-compare

Each run starts `heron server` on 127.0.0.1 and fills it with a warm-up of log lines. Then:
  1. solo: 8 pushers (two processes of four threads, keep-alive connections, 20 lines a push)
     push for --seconds; acked pushes per second is the solo rate;
  2. under queries: the same pushers, while 4 clients query without pause
     (`sum by (t) (rate({job="load"}[1m]))` and `{job="load"} | logfmt | level="error"` over
     the last 5 minutes, alternately); the ingest rate, its ratio to solo (target >= 0.5), and
     query latency p50/p99;
  3. every acked line is counted back with a query: lost lines (target 0).
With --compare (the default) the same is measured with `--query-workers 0`, queries evaluated
in the server process as before issue 18, so the table shows what the worker processes buy.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from report import Figure, Report, machine_info  # noqa: E402

LINES_PER_PUSH = 20
PUSHER_PROCS = 2
PUSHER_THREADS = 4
QUERIERS = 4
QUERIES = (
    'sum by (t) (rate({job="load"}[1m]))',
    '{job="load"} | logfmt | level="error"',
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: str, workers: int, log_path: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    cmd = [sys.executable, "-m", "heron", "server", "--data-dir", data_dir, "--listen", f"127.0.0.1:{port}"]
    cmd += ["--query-workers", str(workers)]
    proc = subprocess.Popen(cmd, stdout=open(log_path, "wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/-/ready")
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server did not become ready; see {log_path}")


def push_body(thread: int, seq: int) -> bytes:
    now = time.time_ns()
    values = []
    for i in range(LINES_PER_PUSH):
        level = "error" if (seq + i) % 50 == 0 else "info"
        line = (
            f'level={level} msg="request served" path=/api/v1/items/{seq % 997} n={seq} i={i} dur={i * 3}ms'
        )
        values.append([str(now + i), line])
    return json.dumps({"streams": [{"stream": {"job": "load", "t": str(thread)}, "values": values}]}).encode()


def pusher_proc(port: int, base: int, seconds: float, out: "multiprocessing.Queue[tuple[int, int]]") -> None:
    """Four threads, each pushing on its own keep-alive connection until time is up."""
    acked = [0] * PUSHER_THREADS
    errors = [0] * PUSHER_THREADS

    def run(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        stop = time.monotonic() + seconds
        seq = 0
        while time.monotonic() < stop:
            conn.request(
                "POST", "/loki/api/v1/push", push_body(base + k, seq), {"Content-Type": "application/json"}
            )
            r = conn.getresponse()
            r.read()
            if r.status == 204:
                acked[k] += 1
            else:
                errors[k] += 1
            seq += 1

    threads = [threading.Thread(target=run, args=(k,)) for k in range(PUSHER_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((sum(acked), sum(errors)))


def querier_proc(port: int, seconds: float, out: "multiprocessing.Queue[list[float]]") -> None:
    latencies: list[float] = []
    lock = threading.Lock()

    def run(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        stop = time.monotonic() + seconds
        i = k
        while time.monotonic() < stop:
            end = time.time_ns()
            params = {
                "query": QUERIES[i % 2],
                "start": str(end - 300 * 10**9),
                "end": str(end),
                "limit": "100",
            }
            t0 = time.perf_counter()
            conn.request("GET", "/loki/api/v1/query_range?" + urllib.parse.urlencode(params))
            r = conn.getresponse()
            r.read()
            with lock:
                latencies.append(time.perf_counter() - t0 if r.status == 200 else float("nan"))
            i += 1

    threads = [threading.Thread(target=run, args=(k,)) for k in range(QUERIERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(latencies)


def ingest_phase(port: int, seconds: float, base: int, with_queries: bool) -> tuple[int, int, list[float]]:
    ctx = multiprocessing.get_context("spawn")
    pq: multiprocessing.Queue = ctx.Queue()
    qq: multiprocessing.Queue = ctx.Queue()
    procs = [
        ctx.Process(target=pusher_proc, args=(port, base + p * PUSHER_THREADS, seconds, pq))
        for p in range(PUSHER_PROCS)
    ]
    if with_queries:
        procs.append(ctx.Process(target=querier_proc, args=(port, seconds, qq)))
    for p in procs:
        p.start()
    results = [pq.get(timeout=seconds + 300) for _ in range(PUSHER_PROCS)]
    latencies = qq.get(timeout=seconds + 300) if with_queries else []
    for p in procs:
        p.join(30)
    return sum(a for a, _ in results), sum(e for _, e in results), latencies


def count_lines(port: int, since_ns: int) -> int:
    end = time.time_ns() + 10**9
    params = {
        "query": 'sum(count_over_time({job="load"}[1h]))',
        "time": str(end),
    }
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request("GET", "/loki/api/v1/query?" + urllib.parse.urlencode(params))
    r = conn.getresponse()
    data = json.loads(r.read())
    result = data["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(x for x in xs if x == x)
    if not xs:
        return float("nan")
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def measure(workers: int, seconds: float, warmup: float, work: str, report: Report, tag: str) -> float:
    data_dir = os.path.join(work, f"data-{workers}")
    log_path = os.path.join(work, f"server-{workers}.log")
    proc, port = start_server(data_dir, workers, log_path)
    try:
        t_start = time.time_ns()
        warm, _, _ = ingest_phase(port, warmup, 100, False)
        solo, solo_err, _ = ingest_phase(port, seconds, 200, False)
        loaded, loaded_err, lat = ingest_phase(port, seconds, 300, True)
        solo_rate, loaded_rate = solo / seconds, loaded / seconds
        ratio = loaded_rate / solo_rate if solo_rate else 0.0
        acked_lines = (warm + solo + loaded) * LINES_PER_PUSH
        stored = count_lines(port, t_start)
        ok_lat = [x for x in lat if x == x]
        report.add(Figure(f"{tag}1", f"ingest alone ({workers} workers)", solo_rate, "pushes/s"))
        report.add(Figure(f"{tag}2", "ingest under 4 querying clients", loaded_rate, "pushes/s"))
        report.add(Figure(f"{tag}3", "ingest under queries / alone", ratio, "", ">= 0.5", ratio >= 0.5))
        report.add(
            Figure(f"{tag}4", "queries answered", len(ok_lat), "", note=f"{len(lat) - len(ok_lat)} failed")
        )
        report.add(Figure(f"{tag}5", "query latency p50", percentile(lat, 0.5), "s"))
        report.add(Figure(f"{tag}6", "query latency p99", percentile(lat, 0.99), "s"))
        lost = max(0, acked_lines - stored)
        report.add(
            Figure(
                f"{tag}7",
                "acked lines lost",
                lost,
                "lines",
                "0",
                lost == 0,
                f"{acked_lines} acked, {stored} counted back, {solo_err + loaded_err} pushes refused",
            )
        )
        if ok_lat:
            report.add(Figure(f"{tag}8", "query latency mean", statistics.fmean(ok_lat), "s"))
        return ratio
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    ap.add_argument("--warmup", type=float, default=10.0, help="pushing before the solo phase")
    ap.add_argument("--workers", type=int, default=2, help="--query-workers for the main run")
    ap.add_argument("--quick", action="store_true", help="8 s phases")
    ap.add_argument("--no-compare", action="store_true", help="skip the --query-workers 0 run")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.warmup = 8.0, 4.0
    work = tempfile.mkdtemp(prefix="heron-load-", dir=args.workdir)
    info = machine_info()
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()), flush=True)
    report = Report()
    try:
        measure(args.workers, args.seconds, args.warmup, work, report, "W")
        if not args.no_compare:
            measure(0, args.seconds, args.warmup, work, report, "P")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(report.table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
