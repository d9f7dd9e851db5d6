"""PromQL benchmark: the same data in heron and in a real Prometheus, the same queries, both timed
in the same run.

    .venv/bin/python bench/promql.py                 # 6 h at 15 s, ~1.4k series (~2M samples)
    .venv/bin/python bench/promql.py --quick         # 1 h, for a smoke run
    .venv/bin/python bench/promql.py --profile       # also profile heron's slowest query

Data (cAdvisor-shaped, ending now): `container_cpu_usage_seconds_total{namespace,pod,container}`
counters and `container_memory_working_set_bytes` gauges for 5 namespaces x 20 pods x 5
containers, a classic histogram `http_request_duration_seconds_bucket{namespace,service,le}` with
12 buckets (plus `_sum`/`_count`), and `kube_pod_info{namespace,pod,node}` for a join.

- Prometheus (Debian's 2.42) gets it backfilled: an OpenMetrics file, then
  `promtool tsdb create-blocks-from openmetrics`, then `prometheus` started on those blocks.
- heron gets it through `Database.append` into a fresh data directory, in 30-minute slices
  across all series (the order a live ingest writes in), before anything queries it.

Latency is the median of N runs of each query. Prometheus is timed over its HTTP API. heron is
timed in-process (`Engine.instant`/`Engine.range` on the opened database: no HTTP, no JSON)
and, when the running `heron server` answers `/api/v1/query`, over HTTP too; the ratio that
counts against the target (<= 1.0) is the HTTP one when there is one. heron's peak memory per
query is tracemalloc's peak during one extra in-process run (Python allocations, numpy's
included). Every heron answer is also checked against Prometheus' (series and values within
1e-6 relative) so the timings compare the same work.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from heron.promql.engine import Engine  # noqa: E402
from heron.storage import Database, SampleBatch, StorageOptions  # noqa: E402
from serverproc import free_port, start_server  # noqa: E402

STEP_MS = 15_000
NAMESPACES = 5
PODS = 20  # per namespace
CONTAINERS = 5  # per pod
SERVICES = 4  # per namespace, for the histogram
LE = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf")
NODES = 8

QUERIES: list[tuple[str, str, str]] = [
    # (key, kind, query); kind "range" runs over the whole span at 15 s, "instant" at its end
    ("sum_rate", "range", "sum by (namespace) (rate(container_cpu_usage_seconds_total[5m]))"),
    ("topk", "range", "topk(5, sum by (pod) (rate(container_cpu_usage_seconds_total[5m])))"),
    (
        "hist_q99",
        "range",
        "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
    ),
    (
        "join",
        "range",
        "sum by (namespace, pod) (container_memory_working_set_bytes)"
        " * on (namespace, pod) group_left (node) kube_pod_info",
    ),
    ("all_series", "instant", 'count({__name__=~".+"})'),
]


# --- data ----------------------------------------------------------------------------------------


def make_series(start_ms: int, n: int, seed: int = 7) -> list[tuple[dict[str, str], np.ndarray]]:
    """Every series' labels and its n values at start, start+15s, ..."""
    rng = np.random.default_rng(seed)
    out: list[tuple[dict[str, str], np.ndarray]] = []
    for ns in range(NAMESPACES):
        for p in range(PODS):
            pod = f"app-{ns}-{p:02d}-7f9c"
            for c in range(CONTAINERS):
                base = {"namespace": f"ns-{ns}", "pod": pod, "container": f"c{c}"}
                rate = rng.uniform(0.01, 2.0)
                cpu = np.cumsum(rng.uniform(0.5, 1.5, n) * rate * STEP_MS / 1000)
                out.append(({"__name__": "container_cpu_usage_seconds_total", **base}, np.round(cpu, 6)))
                mem = 5e7 + np.cumsum(rng.normal(0, 1e5, n)) + rng.uniform(0, 5e8)
                out.append(({"__name__": "container_memory_working_set_bytes", **base}, np.round(mem)))
            node = f"node-{(ns * PODS + p) % NODES}"
            info = {"__name__": "kube_pod_info", "namespace": f"ns-{ns}", "pod": pod, "node": node}
            out.append((info, np.ones(n)))
        for s in range(SERVICES):
            base = {"namespace": f"ns-{ns}", "service": f"svc-{s}"}
            per_bucket = rng.uniform(0.2, 3.0, (n, len(LE))) * rng.uniform(0.5, 2.0)
            cum = np.cumsum(np.cumsum(np.round(per_bucket * 10), axis=1), axis=0)
            for b, le in enumerate(LE):
                labels = {"__name__": "http_request_duration_seconds_bucket", **base, "le": le}
                out.append((labels, cum[:, b]))
            out.append(({"__name__": "http_request_duration_seconds_count", **base}, cum[:, -1]))
            out.append(
                ({"__name__": "http_request_duration_seconds_sum", **base}, np.round(cum[:, -1] * 0.21, 3))
            )
    return out


def _om_labels(labels: dict[str, str]) -> str:
    body = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{labels['__name__']}{{{body}}}"


def write_openmetrics(path: str, series: list[tuple[dict[str, str], np.ndarray]], ts_ms: np.ndarray) -> None:
    """One OpenMetrics file; each metric name's lines together, as the format requires."""
    stamps = [f"{t / 1000:.3f}" for t in ts_ms.tolist()]
    by_name: dict[str, list[tuple[dict[str, str], np.ndarray]]] = {}
    for labels, vals in series:
        by_name.setdefault(labels["__name__"], []).append((labels, vals))
    with open(path, "w") as f:
        for name, group in by_name.items():
            f.write(f"# TYPE {name} gauge\n")
            for labels, vals in group:
                head = _om_labels(labels)
                f.write("".join(f"{head} {v!r} {t}\n" for v, t in zip(vals.tolist(), stamps)))
        f.write("# EOF\n")


def load_heron(path: str, series: list[tuple[dict[str, str], np.ndarray]], ts_ms: np.ndarray) -> float:
    """Database.append in 30-minute slices across every series; returns the seconds it took."""
    labels = [tuple(sorted(lab.items())) for lab, _ in series]
    slice_n = 30 * 60_000 // STEP_MS
    t0 = time.perf_counter()
    db = Database.open(path, StorageOptions(), background=False)
    try:
        for a in range(0, len(ts_ms), slice_n):
            b = min(a + slice_n, len(ts_ms))
            res = db.append(
                samples=[SampleBatch(lab, ts_ms[a:b], vals[a:b]) for lab, (_, vals) in zip(labels, series)]
            )
            assert not res.rejected, res.rejected[:3]
        db.flush()
    finally:
        db.close()
    return time.perf_counter() - t0


# --- queries -------------------------------------------------------------------------------------


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _http(url: str, kind: str, q: str, start_ms: int, end_ms: int) -> dict[str, Any]:
    if kind == "range":
        params = {"query": q, "start": f"{start_ms / 1000:.3f}", "end": f"{end_ms / 1000:.3f}", "step": "15"}
        r = httpx.get(url + "/api/v1/query_range", params=params, timeout=300)
    else:
        r = httpx.get(url + "/api/v1/query", params={"query": q, "time": f"{end_ms / 1000:.3f}"}, timeout=300)
    r.raise_for_status()
    return r.json()["data"]


def _as_series(data: dict[str, Any]) -> dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]:
    key = "values" if data["resultType"] == "matrix" else "value"
    out = {}
    for s in data["result"]:
        pts = s[key] if key == "values" else [s[key]]
        out[tuple(sorted(s["metric"].items()))] = [(round(float(t) * 1000), float(v)) for t, v in pts]
    return out


def _from_result(res: Any) -> dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]:
    return {tuple(sorted(s.labels)): list(zip(s.timestamps.tolist(), s.values.tolist())) for s in res.series}


def _agree(want: dict[Any, list[tuple[int, float]]], got: dict[Any, list[tuple[int, float]]]) -> str:
    if set(want) != set(got):
        return f"series differ: {sorted(set(want) ^ set(got))[:2]}"
    for k, pts in want.items():
        other = got[k]
        if [t for t, _ in pts] != [t for t, _ in other]:
            return f"timestamps differ for {dict(k)}"
        for (t, a), (_, b) in zip(pts, other):
            if not (a == b or (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-6)):
                return f"values differ for {dict(k)} at {t}: prometheus {a}, heron {b}"
    return "same"


def _start_prometheus(tmp: str, blocks: str) -> tuple[subprocess.Popen[bytes], str]:
    cfg = os.path.join(tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1m\n")
    port = free_port()
    log = open(os.path.join(tmp, "prometheus.log"), "wb")
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={cfg}",
            f"--storage.tsdb.path={blocks}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=15d",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/-/ready", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("prometheus did not become ready; see " + log.name)


def _server_has_api(url: str) -> bool:
    try:
        return httpx.get(url + "/api/v1/query", params={"query": "1"}, timeout=10).status_code == 200
    except httpx.HTTPError:
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 h of data instead of 6 h")
    ap.add_argument("--runs", type=int, default=5, help="runs per query (median)")
    ap.add_argument("--profile", action="store_true", help="pyinstrument profile of heron's slowest query")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    hours = 1 if args.quick else 6
    # The data starts 5 min before the queried span: a window that holds a series' first
    # sample extrapolates differently in Prometheus 2.42 (the zero-point cut comes before the
    # half-interval cap) and in Prometheus 3 (after it), which heron follows.
    n = hours * 3600_000 // STEP_MS + 300_000 // STEP_MS
    end_ms = (int(time.time() * 1000) // STEP_MS) * STEP_MS - 60_000
    start_ms = end_ms - (n - 1) * STEP_MS
    ts_ms = np.arange(start_ms, end_ms + 1, STEP_MS, dtype=np.int64)
    # Queries evaluate half a step off the sample grid: Prometheus 2.42's windows are
    # left-closed, heron's (as Prometheus 3's) left-open, so a sample on a window's left edge
    # would count in one and not the other. Off the grid both read the same samples.
    q_start, q_end = start_ms + 300_000 + STEP_MS // 2, end_ms - STEP_MS // 2
    tmp = tempfile.mkdtemp(prefix="heron-bench-promql-")
    procs: list[Any] = []
    try:
        series = make_series(start_ms, n)
        print(
            f"data: {len(series)} series x {n} samples = {len(series) * n:,} samples over {hours} h at 15 s"
        )

        om = os.path.join(tmp, "data.om")
        t0 = time.perf_counter()
        write_openmetrics(om, series, ts_ms)
        blocks = os.path.join(tmp, "prom")
        subprocess.run(
            ["promtool", "tsdb", "create-blocks-from", "openmetrics", om, blocks],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(f"prometheus: promtool backfill took {time.perf_counter() - t0:.1f} s")
        os.remove(om)
        heron_dir = os.path.join(tmp, "heron", "data")
        os.makedirs(os.path.dirname(heron_dir))
        print(f"heron: Database.append of every sample took {load_heron(heron_dir, series, ts_ms):.1f} s")
        del series

        prom, prom_url = _start_prometheus(tmp, blocks)
        procs.append(prom)
        # The server reads a copy of the data dir, so the in-process engine can hold the original
        # open at the same time and every run times all three side by side.
        server_dir = os.path.join(tmp, "heron-server", "data")
        shutil.copytree(heron_dir, server_dir)
        server = start_server(Path(server_dir))
        procs.append(server)
        http = _server_has_api(server.url)

        db = Database.open(heron_dir, StorageOptions(), background=False)
        engine = Engine(db)

        def heron_run(kind: str, q: str) -> Any:
            if kind == "range":
                return engine.range(q, q_start, q_end, STEP_MS)
            return engine.instant(q, q_end)

        rows: dict[str, dict[str, Any]] = {}
        for key, kind, q in QUERIES:
            # Warm every side once (file pages, caches), then alternate the runs so a burst of
            # load from elsewhere on the machine hits all sides alike.
            prom_data = _http(prom_url, kind, q, q_start, q_end)
            res = heron_run(kind, q)
            if http:
                _http(server.url, kind, q, q_start, q_end)
            times: dict[str, list[float]] = {"prom": [], "heron": [], "heron_http": []}
            for _ in range(args.runs):
                times["prom"].append(_timed(lambda k=kind, q=q: _http(prom_url, k, q, q_start, q_end)))
                times["heron"].append(_timed(lambda k=kind, q=q: heron_run(k, q)))
                if http:
                    times["heron_http"].append(
                        _timed(lambda k=kind, q=q: _http(server.url, k, q, q_start, q_end))
                    )
            tracemalloc.start()
            heron_run(kind, q)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            rows[key] = {
                "query": q,
                "kind": kind,
                **{k: statistics.median(v) for k, v in times.items() if v},
                "peak": peak,
                "agree": _agree(_as_series(prom_data), _from_result(res)),
                "series": len(res.series),
            }
        slowest = max(rows, key=lambda k: rows[k]["heron"])
        profile_text = ""
        if args.profile:
            from pyinstrument import Profiler

            kind, q = rows[slowest]["kind"], rows[slowest]["query"]
            prof = Profiler(interval=0.001)
            prof.start()
            heron_run(kind, q)
            prof.stop()
            profile_text = prof.output_text(unicode=False, color=False, show_all=False)
        db.close()
        print()
        steps = (q_end - q_start) // STEP_MS + 1
        print(f"median of {args.runs} runs; range queries over {hours} h at 15 s ({steps} steps)")
        print()
        head = (
            "| query | prometheus (HTTP) | heron in-process | ratio | heron HTTP | ratio (HTTP) "
            "| heron peak (tracemalloc) | answers |"
        )
        print(head)
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        for r in rows.values():
            ratio = r["heron"] / r["prom"]
            if http:
                hh = f"{r['heron_http'] * 1000:.0f} ms"
                hr = f"{r['heron_http'] / r['prom']:.2f}"
            else:
                hh, hr = "-", "-"
            print(
                f"| `{r['query']}` ({r['kind']}) | {r['prom'] * 1000:.0f} ms | {r['heron'] * 1000:.0f} ms | "
                f"{ratio:.2f} | {hh} | {hr} | {r['peak'] / 2**20:.1f} MiB | "
                f"{r['agree']} ({r['series']} series) |"
            )
        if not http:
            print("\n(heron server does not answer /api/v1/query yet: no HTTP figures)")
        if profile_text:
            print(f"\nprofile of heron's slowest query ({slowest}, in-process):\n")
            print(profile_text)
    finally:
        for p in reversed(procs):
            if hasattr(p, "stop"):
                p.stop()
            else:
                p.terminate()
                p.wait(30)
        if args.keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
