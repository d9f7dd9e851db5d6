"""Exposition parsing plus append, against prometheus_client's parser; head memory; and heron
beside a real Prometheus scraping the same targets (issue 10, "Performance").

    .venv/bin/python bench/scrape.py                    # 100k-series body, 8 steady scrapes
    .venv/bin/python bench/scrape.py --quick            # 20k series, 3 scrapes, smaller headmem
    .venv/bin/python bench/scrape.py --peer --minutes 2 # heron and Prometheus side by side

Figures:
  P1-P4. One target's body of node-exporter-shaped families (counters and gauges with the usual
     cpu/mode/device/mountpoint labels, request-latency histograms and a GC summary; HELP and
     TYPE per family, as client_golang writes them) is parsed with `parse_exposition` and
     appended into a real `Database` through a minimal scrape cache (series text -> Labels with
     job/instance, and storage refs), one `db.append(columns=SampleColumns(...))` per scrape.
     Samples/s are per CPU-second of this single-threaded process (`time.process_time`), so a
     busy machine's other work does not count; the wall figure is in the note. The first scrape
     (every series new) is reported apart from the steady state (values change each scrape,
     series do not). prometheus_client's `text_string_to_metric_families` parses the same
     body for the ratio (parse only: it has no storage). P5 parses a real node-exporter's body.
  M1-M3. `bench/headmem.py`'s `measure(n)` (the storage helper's), when that file exists.
  X1-X9. `--peer`: a real `heron server --config` and a real Prometheus (Debian's 2.42) scrape
     the same targets every 15 s for `--minutes`: a real node-exporter plus synthetic targets
     serving the rest of `--series` (50k per target), with changing values. Reported per
     process tree: RSS at the end, CPU seconds from ready to the end (startup left out), and
     bytes on disk under each data directory, with heron/Prometheus ratios (target: heron at or
     below Prometheus on all three).
"""

from __future__ import annotations

import argparse
import http.server
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from heron.collect.metrics.exposition import NO_TIMESTAMP, parse_exposition, series_labels  # noqa: E402
from heron.model import Labels  # noqa: E402
from heron.storage import Database, SampleColumns, StorageOptions  # noqa: E402
from report import Figure, Report, machine_info  # noqa: E402

TEXT = "text/plain; version=0.0.4; charset=utf-8"
INTERVAL_MS = 15_000
MODES = ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"]
BUCKETS = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]


# --- the body -------------------------------------------------------------------------------


def _families_for(host: str) -> list[tuple[str, str, str, list[tuple[str, list[tuple[str, str]], int]]]]:
    """One host's families as (family, type, help, [(sample name, labels, kind)]), ~650 series."""
    out = []
    rows = [
        ("node_cpu_seconds_total", [("cpu", str(c)), ("mode", m), ("host", host)], 0)
        for c in range(16)
        for m in MODES
    ]
    out.append(("node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.", rows))
    for fam in ("receive_bytes_total", "transmit_bytes_total", "receive_packets_total", "receive_drop_total"):
        devs = ("eth0", "eth1", "lo", "docker0", "veth1a2b3c", "cni0")
        rows = [(f"node_network_{fam}", [("device", d), ("host", host)], 0) for d in devs]
        out.append((f"node_network_{fam}", "counter", f"Network device statistic {fam}.", rows))
    mounts = (
        ("/dev/nvme0n1p2", "ext4", "/"),
        ("/dev/nvme0n1p1", "vfat", "/boot/efi"),
        ("tmpfs", "tmpfs", "/run"),
        ("/dev/sda1", "xfs", "/var/lib/kubelet"),
    )
    for fam in ("avail_bytes", "free_bytes", "size_bytes", "files", "files_free"):
        rows = [
            (f"node_filesystem_{fam}", [("device", d), ("fstype", t), ("mountpoint", m), ("host", host)], 1)
            for d, t, m in mounts
        ]
        out.append((f"node_filesystem_{fam}", "gauge", f"Filesystem {fam.replace('_', ' ')}.", rows))
    for fam in ("read_bytes_total", "written_bytes_total", "io_time_seconds_total", "reads_completed_total"):
        rows = [
            (f"node_disk_{fam}", [("device", d), ("host", host)], 0)
            for d in ("nvme0n1", "sda", "sdb", "dm-0")
        ]
        out.append((f"node_disk_{fam}", "counter", f"Disk statistic {fam}.", rows))
    name = "http_request_duration_seconds"
    rows = []
    for handler in ("/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/metrics", "/-/ready"):
        for method in ("GET", "POST"):
            for code in ("200", "400", "500"):
                base = [("code", code), ("handler", handler), ("method", method), ("host", host)]
                rows += [(f"{name}_bucket", [*base, ("le", le)], 2) for le in BUCKETS]
                rows += [(f"{name}_sum", base, 1), (f"{name}_count", base, 0)]
    out.append((name, "histogram", "Request latency by handler.", rows))
    rows = [
        ("go_gc_duration_seconds", [("quantile", q), ("host", host)], 1)
        for q in ("0", "0.25", "0.5", "0.75", "1")
    ]
    rows += [
        ("go_gc_duration_seconds_sum", [("host", host)], 1),
        ("go_gc_duration_seconds_count", [("host", host)], 0),
    ]
    out.append(("go_gc_duration_seconds", "summary", "A summary of the pause duration of GC cycles.", rows))
    for i in range(40):
        rows = [(f"node_scrape_collector_{i}_seconds", [("collector", f"c{i}"), ("host", host)], 1)]
        out.append((f"node_scrape_collector_{i}_seconds", "gauge", f"Collector {i} duration.", rows))
    return out


class Body:
    """A node-exporter-shaped exposition of `n` series, rendered afresh per scrape with new
    values (counters grow, gauges wander, histogram buckets stay cumulative). Families are
    written once each, HELP and TYPE first, with a `host` label spreading them to size."""

    def __init__(self, n: int) -> None:
        per_host = sum(len(rows) for *_, rows in _families_for("h"))
        hosts = [f"host-{h:04d}" for h in range(-(-n // per_host))]
        self.head: list[tuple[int, bytes]] = []  # (sample index, HELP/TYPE lines before it)
        self.series: list[bytes] = []  # "name{labels} " per sample
        kind: list[int] = []  # 0 counter, 1 gauge, 2 histogram bucket
        by_host = [_families_for(h) for h in hosts]
        for f, (family, ftype, help_text, _rows) in enumerate(by_host[0]):
            self.head.append(
                (len(self.series), f"# HELP {family} {help_text}\n# TYPE {family} {ftype}\n".encode())
            )
            for host_rows in by_host:
                for name, labels, k in host_rows[f][3]:
                    lab = ",".join(f'{a}="{b}"' for a, b in sorted(labels))
                    self.series.append(f"{name}{{{lab}}} ".encode())
                    kind.append(k)
        keep = set(range(n))
        self.series = self.series[:n]
        self.kinds = np.array(kind[:n])
        self.head = [(i, h) for i, h in self.head if i in keep]
        self.rng = np.random.default_rng(7)
        self.base = self.rng.random(n) * 1e6

    def render(self, scrape: int) -> bytes:
        n = len(self.series)
        counters = np.floor(self.base + scrape * 1000.0 * (1 + np.arange(n) % 7))
        gauges = np.round(self.rng.random(n) * 1e3, 3)
        buckets = np.floor(self.base / 1e3) + scrape * 10
        vals = np.where(self.kinds == 0, counters, np.where(self.kinds == 1, gauges, buckets))
        texts = [repr(v) if not v.is_integer() else str(int(v)) for v in vals.tolist()]
        out: list[bytes] = []
        heads = dict(self.head)
        for i, (s, t) in enumerate(zip(self.series, texts, strict=True)):
            h = heads.get(i)
            if h is not None:
                out.append(h)
            out.append(s + t.encode() + b"\n")
        return b"".join(out)


# --- parse + append -------------------------------------------------------------------------


class MiniCache:
    """The least a scraper keeps: series text -> Labels (with the target's labels) and storage
    refs. An unchanged series list reuses the previous scrape's columns outright."""

    def __init__(self, db: Database, target: dict[str, str]) -> None:
        self.db = db
        self.target = target
        self.labels: dict[bytes, Labels] = {}
        self.prev: list[bytes] | None = None
        self.prev_labels: list[Labels] = []
        self.prev_refs = np.empty(0, dtype=np.int64)

    def scrape(self, body: bytes, now_ms: int) -> int:
        exp = parse_exposition(body, TEXT, known=self.prev)
        if exp.series == self.prev:
            labels, refs = self.prev_labels, self.prev_refs
        else:
            labels = []
            for s in exp.series:
                lab = self.labels.get(s)
                if lab is None:
                    lab = self.labels[s] = tuple(sorted({**dict(series_labels(s)), **self.target}.items()))
                labels.append(lab)
            refs = self.db.series_refs(labels)
            self.prev, self.prev_labels, self.prev_refs = exp.series, labels, refs
        ts = np.where(exp.timestamps == NO_TIMESTAMP, now_ms, exp.timestamps)
        res = self.db.append(
            columns=SampleColumns(labels=labels, timestamps=ts, values=exp.values, refs=refs)
        )
        if res.rejected:
            raise RuntimeError(f"storage refused {len(res.rejected)} samples, e.g. {res.rejected[0]}")
        return len(exp.series)


def _timed(fn, *args):  # type: ignore[no-untyped-def]
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn(*args)
    return out, time.process_time() - c0, time.perf_counter() - w0


def bench_parse(n: int, scrapes: int, workdir: str, rep: Report) -> None:
    body_gen = Body(n)
    bodies = [body_gen.render(k) for k in range(scrapes + 1)]
    n = len(body_gen.series)
    mib = len(bodies[0]) / 2**20
    print(f"  body: {n:,} series, {mib:.1f} MiB, {len(body_gen.head):,} families", flush=True)
    db = Database.open(os.path.join(workdir, "db"), StorageOptions(), background=False)
    try:
        cache = MiniCache(db, {"job": "node", "instance": "10.0.0.1:9100"})
        t0 = int(time.time() * 1000) - (scrapes + 1) * INTERVAL_MS  # in the past, none too old
        _, c_first, w_first = _timed(cache.scrape, bodies[0], t0)
        cpu = wall = 0.0
        for k in range(1, scrapes + 1):
            _, c, w = _timed(cache.scrape, bodies[k], t0 + k * INTERVAL_MS)
            cpu, wall = cpu + c, wall + w
        steady = n * scrapes / cpu
        rep.add(
            Figure(
                "P1",
                f"parse + append, steady scrape of {n:,} series",
                steady,
                "samples/s",
                ">= 1M",
                steady >= 1e6,
                f"per CPU-second; wall {n * scrapes / wall:,.0f}/s; {scrapes} scrapes, {mib:.1f} MiB body",
            )
        )
        rep.add(
            Figure(
                "P2",
                "parse + append, first scrape (all series new)",
                n / c_first,
                "samples/s",
                note=f"wall {n / w_first:,.0f}/s",
            )
        )
        parse_cpu = 0.0
        prev = cache.prev
        for k in range(1, scrapes + 1):
            _, c, _w = _timed(parse_exposition, bodies[k], TEXT, prev)
            parse_cpu += c
        parse_rate = n * scrapes / parse_cpu
        _, c_cold, _w = _timed(parse_exposition, bodies[1], TEXT)
        rep.add(
            Figure(
                "P3",
                "parse alone, steady (series known)",
                parse_rate,
                "samples/s",
                note=f"unknown series (first scrape): {n / c_cold:,.0f}/s",
            )
        )
    finally:
        db.close()
    from prometheus_client.parser import text_string_to_metric_families

    text = bodies[1].decode()

    def pc_parse() -> int:
        return sum(len(f.samples) for f in text_string_to_metric_families(text))

    got, c_pc, _w = _timed(pc_parse)
    assert got == n, (got, n)
    pc_rate = n / c_pc
    rep.add(
        Figure(
            "P4",
            "prometheus_client text_string_to_metric_families, same body",
            pc_rate,
            "samples/s",
            note=f"heron parse + append is {steady / pc_rate:,.0f}x, parse alone "
            f"{parse_rate / pc_rate:,.0f}x",
        )
    )


def bench_node_exporter(workdir: str, rep: Report) -> None:
    """A real node-exporter's body (comment-heavy, info series with spaces in label values):
    steady parse rate, and prometheus_client's on the same body."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    exe = "/usr/bin/prometheus-node-exporter"
    if not shutil.which(exe):
        print(f"  {exe} not installed: real node-exporter body not measured", flush=True)
        return
    port = _free_port()
    with open(os.path.join(workdir, "node-exporter.log"), "wb") as log:
        proc = subprocess.Popen([exe, f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=log)
    try:
        _wait_http(f"http://127.0.0.1:{port}/metrics", 30)
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).content
    finally:
        _stop(proc)
    first = parse_exposition(body, TEXT)
    n, runs = len(first), 200
    _, cpu, _w = _timed(lambda: [parse_exposition(body, TEXT, first.series) for _ in range(runs)])
    text = body.decode()
    _, pc_cpu, _w = _timed(
        lambda: [sum(len(f.samples) for f in text_string_to_metric_families(text)) for _ in range(5)]
    )
    rate, pc_rate = n * runs / cpu, n * 5 / pc_cpu
    comments = body.count(b"\n#")
    note = f"{n:,} samples, {comments:,} comment lines; prometheus_client {pc_rate:,.0f}/s"
    note += f" ({rate / pc_rate:,.0f}x)"
    rep.add(Figure("P5", "parse alone, a real node-exporter body, steady", rate, "samples/s", note=note))


def bench_headmem(n: int, rep: Report) -> None:
    if not (HERE / "headmem.py").exists():
        print("  bench/headmem.py not found: head memory not measured", flush=True)
        return
    import headmem

    m = headmem.measure(n)
    note = f"{int(m['series']):,} series x {int(m['samples_per_series'])} samples (bench/headmem.py)"
    b_t, b_r = m["bytes_per_series_tracemalloc"], m["bytes_per_series_rss"]
    rep.add(Figure("M1", "head memory per series, tracemalloc", b_t, "B", "<= 1 KiB", b_t <= 1024, note))
    rep.add(Figure("M2", "head memory per series, RSS growth", b_r, "B", "<= 1 KiB", b_r <= 1024, note))
    rep.add(Figure("M3", "scrape-shaped append alone, known series", m["steady_samples_per_s"], "samples/s"))


# --- heron beside Prometheus ---------------------------------------------------------------


class SyntheticTargets:
    """HTTP targets on 127.0.0.1 serving `Body`s of `sizes[i]` series, new values per request."""

    def __init__(self, sizes: list[int]) -> None:
        self.bodies = [Body(n) for n in sizes]
        self.counts = [0] * len(sizes)
        self.lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                i = int(self.path.strip("/").split("/")[0])
                with owner.lock:
                    owner.counts[i] += 1
                    k = owner.counts[i]
                body = owner.bodies[i].render(k)
                self.send_response(200)
                self.send_header("Content-Type", TEXT)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree(pid: int) -> list[int]:
    import psutil

    try:
        p = psutil.Process(pid)
        return [pid] + [c.pid for c in p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _usage(pid: int) -> tuple[int, float]:
    """(RSS bytes, CPU seconds) of a process and its children (heron may run worker processes)."""
    import psutil

    rss, cpu = 0, 0.0
    for q in _tree(pid):
        try:
            p = psutil.Process(q)
            rss += p.memory_info().rss
            t = p.cpu_times()
            cpu += t.user + t.system + t.children_user + t.children_system
        except psutil.NoSuchProcess:
            continue
    return rss, cpu


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _wait_http(url: str, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def bench_peer(series: int, minutes: float, workdir: str, rep: Report) -> None:
    import httpx

    for exe in ("/usr/bin/prometheus", "/usr/bin/prometheus-node-exporter"):
        if not shutil.which(exe):
            raise SystemExit(f"{exe} is not installed: `make test` installs it from Debian")
    work = Path(workdir)
    procs: list[subprocess.Popen[bytes]] = []
    targets: SyntheticTargets | None = None
    try:
        ne_port = _free_port()
        ne_log = open(work / "node-exporter.log", "wb")
        procs.append(
            subprocess.Popen(
                ["/usr/bin/prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{ne_port}"],
                stdout=ne_log,
                stderr=subprocess.STDOUT,
            )
        )
        _wait_http(f"http://127.0.0.1:{ne_port}/metrics", 30)
        ne_series = len(parse_exposition(httpx.get(f"http://127.0.0.1:{ne_port}/metrics").content, TEXT))
        rest = max(series - ne_series, 0)
        sizes = [50_000] * (rest // 50_000) + ([rest % 50_000] if rest % 50_000 else [])
        targets = SyntheticTargets(sizes)
        static = [f"'127.0.0.1:{ne_port}'"]
        jobs = (
            "scrape_configs:\n"
            "  - job_name: node\n"
            "    scrape_interval: 15s\n"
            "    scrape_timeout: 10s\n"
            f"    static_configs: [{{targets: [{', '.join(static)}]}}]\n"
        )
        for i in range(len(sizes)):
            jobs += (
                f"  - job_name: synthetic{i}\n"
                "    scrape_interval: 15s\n"
                "    scrape_timeout: 10s\n"
                f"    metrics_path: /{i}/metrics\n"
                f"    static_configs: [{{targets: ['{targets.address}']}}]\n"
            )
        (work / "prometheus.yml").write_text(jobs)
        (work / "heron.yaml").write_text(jobs)
        prom_port, heron_port = _free_port(), _free_port()
        prom_data, heron_data = work / "prom-data", work / "heron-data"
        prom_log = open(work / "prometheus.log", "wb")
        prom = subprocess.Popen(
            [
                "/usr/bin/prometheus",
                f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={prom_data}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=prom_log,
            stderr=subprocess.STDOUT,
        )
        procs.append(prom)
        heron_log = open(work / "heron.log", "wb")
        heron = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "heron",
                "server",
                "--config",
                str(work / "heron.yaml"),
                "--data-dir",
                str(heron_data),
                "--listen",
                f"127.0.0.1:{heron_port}",
            ],
            stdout=heron_log,
            stderr=subprocess.STDOUT,
        )
        procs.append(heron)
        _wait_http(f"http://127.0.0.1:{prom_port}/-/ready", 60)
        _wait_http(f"http://127.0.0.1:{heron_port}/-/ready", 60)
        total = ne_series + sum(sizes)
        print(
            f"  peer: node-exporter ({ne_series:,} series) + {len(sizes)} synthetic target(s) "
            f"({sum(sizes):,}) = {total:,} series; {minutes:g} min at 15 s",
            flush=True,
        )
        _, h_cpu0 = _usage(heron.pid)  # startup (imports, config) is not scraping: left out
        _, p_cpu0 = _usage(prom.pid)
        start = time.monotonic()
        deadline = start + minutes * 60
        after_first: tuple[float, float] | None = None  # CPU once the first minute is over
        while time.monotonic() < deadline:
            for p in procs:
                if p.poll() is not None:
                    raise RuntimeError(f"a peer process exited early ({p.args[0]}): see logs in {work}")
            time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
            if after_first is None and time.monotonic() - start >= 60 and minutes > 1.5:
                after_first = (_usage(heron.pid)[1], _usage(prom.pid)[1])
                after_first_at = time.monotonic()
        h_rss, h_cpu = _usage(heron.pid)
        p_rss, p_cpu = _usage(prom.pid)
        steady: tuple[float, float] | None = None
        if after_first is not None:
            per_min = 60 / (time.monotonic() - after_first_at)
            steady = ((h_cpu - after_first[0]) * per_min, (p_cpu - after_first[1]) * per_min)
        h_cpu, p_cpu = h_cpu - h_cpu0, p_cpu - p_cpu0
        h_up = _up_count(f"http://127.0.0.1:{heron_port}")
        p_up = _up_count(f"http://127.0.0.1:{prom_port}")
        h_disk, p_disk = _du(heron_data), _du(prom_data)
    finally:
        for p in reversed(procs):
            _stop(p)
        if targets is not None:
            targets.close()
    note = f"{total:,} series, {minutes:g} min, 15 s interval; targets up: heron {h_up}, prometheus {p_up}"
    rep.add(Figure("X1", "heron RSS (process tree)", h_rss / 2**20, "MiB", note=note))
    rep.add(Figure("X2", "Prometheus 2.42 RSS", p_rss / 2**20, "MiB"))
    rep.add(Figure("X3", "RSS heron / Prometheus", h_rss / p_rss, "x", "<= 1", h_rss <= p_rss))
    rep.add(Figure("X4", "heron CPU seconds, from ready to the end", h_cpu, "s"))
    rep.add(Figure("X5", "Prometheus CPU seconds, from ready to the end", p_cpu, "s"))
    rep.add(Figure("X6", "CPU heron / Prometheus", h_cpu / p_cpu, "x", "<= 1", h_cpu <= p_cpu))
    if steady is not None:  # the first scrape creates every series; this leaves it out
        h_s, p_s = steady
        rep.add(Figure("X6a", "heron CPU seconds per minute, after the first minute", h_s, "s"))
        rep.add(Figure("X6b", "Prometheus CPU seconds per minute, after the first minute", p_s, "s"))
        rep.add(Figure("X6c", "steady CPU heron / Prometheus", h_s / p_s, "x", "<= 1", h_s <= p_s))
    rep.add(Figure("X7", "heron bytes on disk", h_disk / 2**20, "MiB"))
    rep.add(Figure("X8", "Prometheus bytes on disk", p_disk / 2**20, "MiB"))
    ratio = h_disk / p_disk if p_disk else math.inf
    rep.add(Figure("X9", "disk heron / Prometheus", ratio, "x", "<= 1", h_disk <= p_disk))


def _up_count(url: str) -> str:
    """'up/all' from the targets API, which heron and Prometheus answer alike."""
    import httpx

    try:
        targets = httpx.get(url + "/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
    except (httpx.HTTPError, KeyError, ValueError):
        return "?"
    return f"{sum(t.get('health') == 'up' for t in targets)}/{len(targets)}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="20k series, 3 scrapes, headmem at 20k")
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--scrapes", type=int, default=8)
    ap.add_argument("--no-headmem", action="store_true")
    ap.add_argument("--peer", action="store_true", help="run heron and Prometheus side by side")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    if args.quick:
        args.series, args.scrapes = 20_000, 3
    info = machine_info()
    print("scrape bench: " + ", ".join(f"{k}={v}" for k, v in info.items()), flush=True)
    rep = Report()
    workdir = args.workdir or tempfile.mkdtemp(prefix="heron-scrape-bench-")
    try:
        if args.peer:
            bench_peer(args.series, args.minutes, workdir, rep)
        else:
            bench_parse(args.series, args.scrapes, workdir, rep)
            bench_node_exporter(workdir, rep)
            if not args.no_headmem:
                bench_headmem(args.series, rep)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(rep.table())


if __name__ == "__main__":
    main()
