"""The scrape loop end to end: one target serving N series over real HTTP on 127.0.0.1, scraped
by heron's `ScrapeLoop` into a real `Database` (the server's sink, with storage refs), one core.

    .venv/bin/python bench/scrapeloop.py            # 100k series, 8 steady scrapes
    .venv/bin/python bench/scrapeloop.py --quick    # 20k series, 3 steady scrapes

Reports the first scrape (every series new: label parsing, relabeling, series creation) and
the steady state (cache hits only) as samples per second, and where a steady scrape's time
goes: fetch, parse, the scrape cache, the append. `bench/scrape.py` measures the parser and
the append alone against prometheus_client; this one measures what a target costs the server.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from heron.collect.metrics.scrape import default_discoverers  # noqa: E402
from heron.collect.metrics.scrapeloop import ScrapeMetrics  # noqa: E402
from heron.collect.metrics.scrapepool import ScrapePool  # noqa: E402
from heron.promconfig import ScrapeConfig, StaticConfig  # noqa: E402
from heron.selfmetrics import Registry  # noqa: E402
from heron.storage import Database, SampleColumns, StorageOptions  # noqa: E402
from report import Figure, Report, machine_info  # noqa: E402
from scrapetarget import Response, Target  # noqa: E402


def node_like_body(n_series: int) -> bytes:
    """Node-exporter-shaped families: counters with 4 labels, 50 series each."""
    out: list[str] = []
    for fam in range(-(-n_series // 50)):
        out.append(f"# HELP node_family_{fam}_total Family {fam}.\n# TYPE node_family_{fam}_total counter\n")
        for j in range(50):
            out.append(
                f'node_family_{fam}_total{{cpu="{j}",mode="user",device="sda{j % 4}",fstype="ext4"}} '
                f"{fam * 1000 + j}.25\n"
            )
    return "".join(out).encode()


def run(n_series: int, steady_scrapes: int, workdir: str) -> Report:
    body = node_like_body(n_series)
    target = Target(Response(body))
    db = Database.open(os.path.join(workdir, "db"), StorageOptions(), background=False)
    phases: dict[str, list[float]] = {}

    def timed(name: str, fn: Any) -> Any:
        def wrapper(*args: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args)
            finally:
                phases.setdefault(name, []).append(time.perf_counter() - t0)

        return wrapper

    def sink(columns: SampleColumns) -> None:
        db.append(columns=columns)

    try:
        cfg = ScrapeConfig(job_name="bench", static_configs=(StaticConfig(targets=(target.address,)),))
        pool = ScrapePool(
            cfg,
            default_discoverers(cfg),
            timed("append", sink),
            ScrapeMetrics(Registry()),
            None,
            db.series_refs,
        )
        pool.sync(pool.groups())
        (loop,) = pool.loops.values()
        loop._parse = timed("parse", loop._parse)
        loop.client.fetch = timed("fetch", loop.client.fetch)  # type: ignore[method-assign]
        loop.cache.process = timed("cache", loop.cache.process)  # type: ignore[method-assign]
        base = time.time()
        t0 = time.perf_counter()
        loop.scrape(base)
        first = time.perf_counter() - t0
        assert loop.health == "up", loop.last_error
        steady: list[float] = []
        for k in range(1, steady_scrapes + 1):
            t0 = time.perf_counter()
            loop.scrape(base + 15 * k)
            steady.append(time.perf_counter() - t0)
            assert loop.health == "up", loop.last_error
        loop.stop_quietly()
    finally:
        db.close()
        target.close()

    r = Report()
    med = statistics.median(steady)
    r.add(Figure("S1", f"first scrape, {n_series:,} new series", n_series / first, "samples/s"))
    r.add(Figure("S2", f"steady scrape, {n_series:,} series (median)", n_series / med, "samples/s"))
    r.add(Figure("S3", "steady scrape wall time (median)", med * 1000, "ms"))
    for key, name in (("S4", "fetch"), ("S5", "parse"), ("S6", "cache"), ("S7", "append")):
        r.add(Figure(key, f"steady {name} (median)", statistics.median(phases[name][1:]) * 1000, "ms"))
    r.add(Figure("S8", "body size", len(body) / 2**20, "MiB"))
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--scrapes", type=int, default=8)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    if args.quick:
        args.series, args.scrapes = 20_000, 3
    print(" ".join(f"{k}={v}" for k, v in machine_info().items()))
    workdir = tempfile.mkdtemp(prefix="heron-bench-scrapeloop-", dir=args.workdir)
    try:
        report = run(args.series, args.scrapes, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(report.table())


if __name__ == "__main__":
    main()
