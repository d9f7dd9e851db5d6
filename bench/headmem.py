"""Head memory per active metric series, and the speed of scrape-shaped appends.

The shape is issue 10's: N series with node-exporter-like labels (about 1,000 series per
target, 100 targets at 100k series), scraped every 15 s for 30 minutes, so each series holds
~120 samples in the head. Every scrape is one `Database.append(columns=SampleColumns(...))`.

Even scrapes pass label sets only; odd ones also pass `Database.series_refs` (as the scraper's
cache will), and the two append rates are reported apart.

Two child processes do the measuring, because tracemalloc's own bookkeeping inflates RSS:
  * `rss`:   RSS growth from opening the database to the last scrape, and the append rates;
  * `trace`: tracemalloc growth over the same work (Python and numpy allocations still live).
Rates are samples per CPU second of the appending thread (`time.thread_time`), so that other
work on a shared machine does not show up as a slower storage; wall time is higher under load.
Label tuples are built in the child before measuring starts, as a scraper's cache holds them;
the storage's own copies and indexes of them are measured. The head's size limits are raised so
that nothing is cut into a block while measuring: the figure is what the head itself costs.

Run: `python bench/headmem.py [--series 100000]`. `bench/scrape.py` imports `measure`.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from report import Figure, Report, machine_info  # noqa: E402

__all__ = ["measure", "node_exporter_labels", "main"]

SCRAPES = 120  # 30 minutes at 15 s
INTERVAL_MS = 15_000
SERIES_PER_TARGET = 1_000

# (metric name, {label: values}) in the proportions of a node-exporter's /metrics.
_FAMILIES: list[tuple[str, dict[str, list[str]]]] = [
    (
        "node_cpu_seconds_total",
        {
            "cpu": [str(i) for i in range(8)],
            "mode": ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"],
        },
    ),
    ("node_cpu_guest_seconds_total", {"cpu": [str(i) for i in range(8)], "mode": ["nice", "user"]}),
    (
        "node_filesystem_avail_bytes",
        {
            "device": ["/dev/sda1", "/dev/sda2", "tmpfs", "overlay", "shm"],
            "fstype": ["ext4", "tmpfs", "overlay"],
            "mountpoint": ["/", "/boot", "/run", "/var/lib/kubelet"],
        },
    ),
    (
        "node_filesystem_size_bytes",
        {
            "device": ["/dev/sda1", "/dev/sda2", "tmpfs", "overlay", "shm"],
            "fstype": ["ext4", "tmpfs", "overlay"],
            "mountpoint": ["/", "/boot", "/run", "/var/lib/kubelet"],
        },
    ),
    ("node_network_receive_bytes_total", {"device": [f"veth{i:04x}" for i in range(40)]}),
    ("node_network_transmit_bytes_total", {"device": [f"veth{i:04x}" for i in range(40)]}),
    ("node_network_receive_packets_total", {"device": [f"veth{i:04x}" for i in range(40)]}),
    ("node_network_transmit_packets_total", {"device": [f"veth{i:04x}" for i in range(40)]}),
    ("node_disk_read_bytes_total", {"device": ["sda", "sdb", "nvme0n1", "dm-0"]}),
    ("node_disk_written_bytes_total", {"device": ["sda", "sdb", "nvme0n1", "dm-0"]}),
    ("node_disk_io_time_seconds_total", {"device": ["sda", "sdb", "nvme0n1", "dm-0"]}),
    ("node_memory_MemAvailable_bytes", {}),
    ("node_memory_MemFree_bytes", {}),
    ("node_load1", {}),
    ("node_load5", {}),
    ("node_schedstat_running_seconds_total", {"cpu": [str(i) for i in range(8)]}),
    ("node_softnet_processed_total", {"cpu": [str(i) for i in range(8)]}),
    (
        "node_interrupts_total",
        {
            "cpu": [str(i) for i in range(8)],
            "devices": [f"irq{i}" for i in range(12)],
            "type": ["edge", "level"],
        },
    ),
]


def _target_series() -> list[list[tuple[str, str]]]:
    """One node-exporter's series (without job/instance), cut or padded to SERIES_PER_TARGET."""
    out: list[list[tuple[str, str]]] = []
    for name, dims in _FAMILIES:
        combos: list[list[tuple[str, str]]] = [[]]
        for k, vs in dims.items():
            combos = [c + [(k, v)] for c in combos for v in vs]
        out += [[("__name__", name)] + c for c in combos]
    i = 0
    while len(out) < SERIES_PER_TARGET:  # the long tail: one series per name
        out.append([("__name__", f"node_scrape_collector_duration_seconds_{i}"), ("collector", f"c{i}")])
        i += 1
    return out[:SERIES_PER_TARGET]


def node_exporter_labels(n_series: int) -> list[tuple[tuple[str, str], ...]]:
    """`n_series` sorted label sets, SERIES_PER_TARGET per node-exporter target. Strings are
    built per series, as a parser hands them over, so repeats are equal but not shared."""
    base = _target_series()
    out = []
    for i in range(n_series):
        t, j = divmod(i, SERIES_PER_TARGET)
        node = f"node-{t:03d}"
        extra = [("instance", f"10.0.{t // 256}.{t % 256}:9100"), ("job", "node-exporter"), ("node", node)]
        out.append(tuple(sorted((k + "", "".join(v)) for k, v in base[j] + extra)))
    return out


def _values(n: int, r: int, rng: np.random.Generator) -> np.ndarray:
    """Scrape r's values: a third counters of whole units, a third gauges with two decimals,
    a third constants, as node-exporter's mix of byte counters, seconds and sizes."""
    k = np.arange(n)
    counters = (k * 1000.0) + r * (k % 7) * 4096.0
    gauges = np.round(rng.random(n) * 100.0, 2)
    const = (k % 13) * 1.0e9
    return np.where(k % 3 == 0, counters, np.where(k % 3 == 1, gauges, const))


def _child(mode: str, n_series: int, workdir: str, per_target: bool) -> dict[str, float]:
    import tracemalloc

    from heron.storage import Database, SampleColumns, StorageOptions

    labels = node_exporter_labels(n_series)
    rng = np.random.default_rng(1)
    t0 = (int(time.time() * 1000) // INTERVAL_MS) * INTERVAL_MS - SCRAPES * INTERVAL_MS
    values = [_values(n_series, r, rng) for r in range(SCRAPES)]
    gc.collect()
    path = tempfile.mkdtemp(prefix="headmem-", dir=workdir)
    trace = mode == "trace"
    if trace:
        tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0] if trace else _rss()
    opts = StorageOptions(head_max_bytes=1 << 40, block_duration_seconds=6 * 3600.0)
    db = Database.open(path, opts, background=False)
    create_s = 0.0
    steady = {False: 0.0, True: 0.0}  # append seconds by whether the scrape passed refs
    accepted = 0
    refs = None
    has_refs = hasattr(db, "series_refs")  # so the same script measures the storage before refs
    step = SERIES_PER_TARGET if per_target else n_series
    calls = [(i, min(i + step, n_series)) for i in range(0, n_series, step)]
    for r in range(SCRAPES):
        use_refs = r % 2 == 1  # odd scrapes pass series refs, as a scrape cache would
        spent = 0.0
        for a_i, b_i in calls:
            part = labels[a_i:b_i]  # a new list each scrape, of the same tuples, as a scraper's
            ts = np.full(b_i - a_i, t0 + r * INTERVAL_MS, dtype=np.int64)
            cols = SampleColumns(part, ts, values[r][a_i:b_i])
            if use_refs and refs is not None:
                cols.refs = refs[a_i:b_i]
            a = time.thread_time()
            res = db.append(columns=cols)
            spent += time.thread_time() - a
            accepted += res.accepted
        if r == 0:
            create_s = spent
            if has_refs:  # known series: the scraper's one-off lookup
                refs = np.concatenate([db.series_refs(labels[a_i:b_i]) for a_i, b_i in calls])
        else:
            steady[use_refs] += spent
    gc.collect()
    after = tracemalloc.get_traced_memory()[0] if trace else _rss()
    out = {
        "series": float(n_series),
        "samples": float(SCRAPES),
        "accepted": float(accepted),
        "grew": float(after - base),
        "create_per_s": n_series / create_s,
        "steady_per_s": n_series * ((SCRAPES - 1) // 2) / steady[False],
        "steady_refs_per_s": n_series * (SCRAPES // 2) / steady[True],
    }
    if trace and os.environ.get("HEADMEM_TOP"):
        for stat in tracemalloc.take_snapshot().statistics("lineno")[: int(os.environ["HEADMEM_TOP"])]:
            print(f"{stat.size / n_series:8.1f} B/series  {stat.traceback}", file=sys.stderr)
    db.close()
    shutil.rmtree(path, ignore_errors=True)
    return out


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(n_series: int, workdir: str | None = None, per_target: bool = False) -> dict[str, float]:
    """Bytes per series (tracemalloc and RSS) with ~120 samples each in the head, and samples/s
    for the first scrape (series creation) and the steady-state scrapes after it, with and
    without series refs. Each scrape is one append of all series, or with `per_target` one
    append per target of SERIES_PER_TARGET series (the scraper's shape).

    Keys: series, samples_per_series, bytes_per_series_tracemalloc, bytes_per_series_rss,
    steady_samples_per_s, steady_refs_samples_per_s, create_samples_per_s."""
    got: dict[str, dict[str, float]] = {}
    for mode in ("rss", "trace"):
        cmd = [sys.executable, os.path.abspath(__file__), "--child", mode, "--series", str(n_series)]
        if workdir:
            cmd += ["--workdir", workdir]
        if per_target:
            cmd += ["--per-target"]
        p = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if p.returncode != 0:
            raise RuntimeError(f"headmem child ({mode}) failed:\n{p.stderr}")
        if p.stderr:
            print(p.stderr, file=sys.stderr, end="")
        got[mode] = json.loads(p.stdout.strip().splitlines()[-1])
    r, t = got["rss"], got["trace"]
    return {
        "series": r["series"],
        "samples_per_series": r["samples"],
        "bytes_per_series_tracemalloc": t["grew"] / t["series"],
        "bytes_per_series_rss": r["grew"] / r["series"],
        "steady_samples_per_s": r["steady_per_s"],
        "steady_refs_samples_per_s": r["steady_refs_per_s"],
        "create_samples_per_s": r["create_per_s"],
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--child", choices=("rss", "trace"), help=argparse.SUPPRESS)
    ap.add_argument("--per-target", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        workdir = args.workdir or tempfile.gettempdir()
        print(json.dumps(_child(args.child, args.series, workdir, args.per_target)))
        return
    info = machine_info()
    print(
        f"headmem: {args.series:,} series x {SCRAPES} samples; {info['cpu']}, "
        f"load {info['load_avg_at_start']}"
    )
    rep = Report()
    for per_target, tag, shape in (
        (False, "", "one append per scrape"),
        (True, "t", "one append per target"),
    ):
        m = measure(args.series, args.workdir, per_target)
        n = f"{int(m['series']):,} series x {int(m['samples_per_series'])} samples, {shape}"
        b_t, b_r = m["bytes_per_series_tracemalloc"], m["bytes_per_series_rss"]
        rep.add(
            Figure(f"M1{tag}", "head memory per series, tracemalloc", b_t, "B", "<= 1 KiB", b_t <= 1024, n)
        )
        rep.add(
            Figure(f"M1r{tag}", "head memory per series, RSS growth", b_r, "B", "<= 1 KiB", b_r <= 1024, n)
        )
        s = m["steady_samples_per_s"]
        name = "scrape-shaped append, known series"
        rep.add(Figure(f"M2{tag}", f"{name}, labels", s, "samples/s", ">= 2.5M", s >= 2.5e6, shape))
        s = m["steady_refs_samples_per_s"]
        rep.add(Figure(f"M2r{tag}", f"{name}, refs", s, "samples/s", ">= 2.5M", s >= 2.5e6, shape))
        c = m["create_samples_per_s"]
        rep.add(
            Figure(
                f"M3{tag}", "scrape-shaped append, first scrape (new series)", c, "samples/s", "", None, shape
            )
        )
    print()
    print(rep.table())


if __name__ == "__main__":
    main()
