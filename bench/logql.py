"""LogQL and push benchmarks: substring scan, count_over_time aggregation, HTTP push ingest.

    .venv/bin/python bench/logql.py            # 5M lines (~1.1 GB raw) of synthetic k8s logs
    .venv/bin/python bench/logql.py --quick    # 300k lines, a smoke run

Figures, each beside its target (issue 3):
  1. `{namespace="x"} |= "needle"`: GB/s of raw text scanned per core, with `grep -F -c` and
     `rg -F -c` (when installed) on the same raw text as the physical limit.
  2. `sum by (pod) (count_over_time({namespace="x"}[1m]))` over the hour: seconds (<= 1 s),
     for the largest namespace and for every stream.
  3. Push through HTTP with one client, batches of 5k lines, protobuf + snappy: lines/s
     (>= 200k), and the CPU split between decoding the push and storing it, measured in-process
     on the same bodies.
"""

from __future__ import annotations

import argparse
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
from collections import Counter

import httpx

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import corpus  # noqa: E402
from heron.logql.engine import Engine  # noqa: E402
from heron.receive.loki_push import decode_push  # noqa: E402
from heron.ship.loki_encode import encode_push_request  # noqa: E402
from heron.storage import Database, Direction, LogBatch, StorageOptions  # noqa: E402

S = 1_000_000_000


def _row(key: str, name: str, value: str, target: str, verdict: str, note: str = "") -> None:
    print(f"| {key:<3} | {name:<62} | {value:>16} | {target:<14} | {verdict:<6} | {note}")


def _ingest(db: Database, c: corpus.LogCorpus) -> float:
    t0 = time.perf_counter()
    for call in c.batches(10_000):
        db.append(
            logs=[
                LogBatch(c.streams[si].labels, c.streams[si].timestamps[a:b], c.streams[si].lines[a:b])
                for si, a, b in call
            ]
        )
    return time.perf_counter() - t0


def _tool(cmd: list[str], path: str, raw: int, runs: int) -> float | None:
    if shutil.which(cmd[0]) is None:
        return None
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([*cmd, path], stdout=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - t0)
    return raw / statistics.median(times) / 1e9


def bench_queries(c: corpus.LogCorpus, workdir: str, runs: int) -> None:
    ns_lines: Counter[str] = Counter()
    ns_bytes: Counter[str] = Counter()
    for s in c.streams:
        ns = dict(s.labels)["namespace"]
        ns_lines[ns] += len(s.lines)
        ns_bytes[ns] += sum(map(len, s.lines))
    ns = ns_lines.most_common(1)[0][0]
    path = os.path.join(workdir, "data")
    db = Database.open(path, StorageOptions(), background=False)
    secs = _ingest(db, c)
    db.flush()
    db.compact()
    db.close()
    print(
        f"ingested {c.lines:,} lines ({c.raw_bytes / 1e9:.2f} GB) in {secs:.1f} s; largest namespace {ns!r}"
    )
    db = Database.open(path, StorageOptions(), background=False)
    engine = Engine(db, max_series=10_000, max_entries=5000)
    lo = min(int(s.timestamps[0]) for s in c.streams if len(s.lines))
    hi = max(int(s.timestamps[-1]) for s in c.streams if len(s.lines)) + 1
    needle = c.needle.decode()

    def timed(q: str, step: int, limit: int = 5000) -> tuple[float, object]:
        times = []
        res = None
        for _ in range(runs):
            t0 = time.perf_counter()
            res = engine.query_range(q, lo, hi, step, limit=limit, direction=Direction.BACKWARD)
            times.append(time.perf_counter() - t0)
        return statistics.median(times), res

    secs, res = timed(f'{{namespace="{ns}"}} |= "{needle}"', 60 * S)
    found = sum(len(st.lines) for st in res.streams)  # type: ignore[attr-defined]
    gbps = ns_bytes[ns] / secs / 1e9
    raw_path = os.path.join(workdir, "raw.log")
    with open(raw_path, "wb") as f:
        for s in c.streams:
            if dict(s.labels)["namespace"] == ns:
                f.write(b"\n".join(s.lines) + b"\n")
    grep = _tool(["grep", "-F", "-c", needle], raw_path, ns_bytes[ns], runs)
    rg = _tool(["rg", "-F", "-c", needle], raw_path, ns_bytes[ns], runs)
    verdict = "PASS" if gbps >= 1.0 else "MISS"
    note = f"{ns_bytes[ns] / 1e9:.2f} GB, {ns_lines[ns]:,} lines, {found} hits, median of {runs}"
    _row("1", f'{{namespace="{ns}"}} |= "{needle}"', f"{gbps:.2f} GB/s", ">= 1 GB/s", verdict, note)
    if grep:
        _row(
            "1g",
            "grep -F -c on the same raw text",
            f"{grep:.2f} GB/s",
            "info",
            "info",
            f"heron/grep = {gbps / grep:.2f}",
        )
    if rg:
        _row(
            "1r",
            "rg -F -c on the same raw text",
            f"{rg:.2f} GB/s",
            "info",
            "info",
            f"heron/rg = {gbps / rg:.2f}",
        )
    else:
        _row("1r", "rg -F -c on the same raw text", "n/a", "info", "info", "ripgrep not installed")

    secs, res = timed(f'sum by (pod) (count_over_time({{namespace="{ns}"}}[1m]))', 60 * S)
    series = len(res.matrix)  # type: ignore[attr-defined]
    verdict = "PASS" if secs <= 1.0 else "MISS"
    note = f"{ns_lines[ns]:,} lines, {series} series x 61 steps"
    _row(
        "2",
        f'sum by (pod) (count_over_time({{namespace="{ns}"}}[1m]))',
        f"{secs:.3f} s",
        "<= 1 s",
        verdict,
        note,
    )
    secs, res = timed('sum by (pod) (count_over_time({namespace=~".+"}[1m]))', 60 * S)
    verdict = "PASS" if secs <= 1.0 else "MISS"
    note = f"all {c.lines:,} lines, {len(res.matrix)} series"  # type: ignore[attr-defined]
    _row(
        "2a",
        'sum by (pod) (count_over_time({namespace=~".+"}[1m]))',
        f"{secs:.3f} s",
        "<= 1 s",
        verdict,
        note,
    )
    db.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_push(c: corpus.LogCorpus, workdir: str, max_lines: int) -> None:
    bodies: list[tuple[bytes, int]] = []
    raw_batches: list[list[LogBatch]] = []
    total = 0
    for call in c.batches(5000):
        batches = [
            LogBatch(c.streams[si].labels, c.streams[si].timestamps[a:b].tolist(), c.streams[si].lines[a:b])
            for si, a, b in call
        ]
        n = sum(len(b.lines) for b in batches)
        bodies.append((encode_push_request(batches), n))
        raw_batches.append(batches)
        total += n
        if total >= max_lines:
            break
    # CPU split, in-process, on the same bodies
    t0 = time.process_time()
    decoded = [decode_push(body, "application/x-protobuf") for body, _ in bodies]
    t_decode = time.process_time() - t0
    db = Database.open(os.path.join(workdir, "split"), StorageOptions(), background=False)
    t0 = time.process_time()
    for batches in decoded:
        db.append(batches)
    t_store = time.process_time() - t0
    db.close()
    port = _free_port()
    data = os.path.join(workdir, "push")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "heron",
            "server",
            "--data-dir",
            data,
            "--listen",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/-/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        sent = 0
        cpu0 = _proc_cpu(proc.pid)
        t0 = time.perf_counter()
        with httpx.Client(base_url=url, timeout=60) as client:
            for body, n in bodies:
                r = client.post(
                    "/loki/api/v1/push", content=body, headers={"Content-Type": "application/x-protobuf"}
                )
                if r.status_code != 204:
                    raise SystemExit(f"push failed: {r.status_code} {r.text[:200]}")
                sent += n
        secs = time.perf_counter() - t0
        server_cpu = _proc_cpu(proc.pid) - cpu0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    rate = sent / secs
    verdict = "PASS" if rate >= 200_000 else "MISS"
    note = f"{sent:,} lines in {len(bodies)} requests, server CPU {server_cpu / secs * 100:.0f}% of a core"
    _row(
        "3",
        "push over HTTP, 1 client, 5k-line protobuf+snappy batches",
        f"{rate:,.0f} lines/s",
        ">= 200k",
        verdict,
        note,
    )
    per = 1e6 / total
    split = f"decode {t_decode * per:.2f} us/line, store {t_store * per:.2f} us/line (in-process CPU time)"
    _row(
        "3s",
        "CPU split: decoding the push vs storing it",
        f"{t_decode / (t_decode + t_store) * 100:.0f}% / {t_store / (t_decode + t_store) * 100:.0f}%",
        "info",
        "info",
        split,
    )


def _proc_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=5_000_000)
    ap.add_argument("--push-lines", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    if args.quick:
        args.lines, args.push_lines, args.runs = 300_000, 100_000, 1
    workdir = tempfile.mkdtemp(prefix="heron-bench-logql-", dir=args.workdir)
    try:
        t0 = time.perf_counter()
        c = corpus.make_log_corpus(args.lines, 200)
        made = time.perf_counter() - t0
        print(f"corpus: {c.lines:,} lines, {c.raw_bytes / 1e9:.2f} GB raw, made in {made:.1f} s")
        print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
        print("| #   | figure" + " " * 57 + "| measured         | target         | result | notes")
        threading.current_thread().name = "bench"
        bench_queries(c, workdir, args.runs)
        bench_push(c, workdir, args.push_lines)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
