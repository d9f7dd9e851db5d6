"""WAL bytes a scrape costs: per new series (the first scrape) and per sample afterwards.

The shape is issue 10's: 100k node-exporter-like series (bench/headmem.py's label sets and
value mix), one `Database.append(columns=...)` per target of 1,000 series, every 15 s on
aligned timestamps. The first scrape defines every series; the next `--scrapes` only add
samples. The WAL directory's size is read after each phase, so the figures are exactly what
lands on disk (record headers and all). The head's limits are raised so that nothing is cut
into a block while measuring.

Run: `python bench/walsize.py [--series 100000] [--scrapes 8]`; it prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from headmem import SERIES_PER_TARGET, _values, node_exporter_labels  # noqa: E402

__all__ = ["measure", "main"]

INTERVAL_MS = 15_000


def _wal_bytes(data_dir: str) -> int:
    wal = os.path.join(data_dir, "wal")
    return sum(os.path.getsize(os.path.join(wal, name)) for name in os.listdir(wal))


def measure(n_series: int, scrapes: int, workdir: str) -> dict[str, float]:
    """WAL bytes per new series (first scrape, samples included) and per later sample."""
    from heron.storage import Database, SampleColumns, StorageOptions

    labels = node_exporter_labels(n_series)
    targets = [labels[i : i + SERIES_PER_TARGET] for i in range(0, n_series, SERIES_PER_TARGET)]
    rng = np.random.default_rng(1)
    t0 = (int(time.time() * 1000) // INTERVAL_MS) * INTERVAL_MS - (scrapes + 1) * INTERVAL_MS
    opts = StorageOptions(
        max_active_series=4 * n_series, head_max_bytes=1 << 40, block_duration_seconds=6 * 3600.0
    )
    db = Database.open(workdir, opts, background=False)
    try:
        empty = _wal_bytes(workdir)
        sizes = []
        for r in range(scrapes + 1):
            vals = _values(n_series, r, rng)
            off = 0
            for tl in targets:
                n = len(tl)
                ts = np.full(n, t0 + r * INTERVAL_MS, dtype=np.int64)
                db.append(columns=SampleColumns(labels=tl, timestamps=ts, values=vals[off : off + n]))
                off += n
            sizes.append(_wal_bytes(workdir))
    finally:
        db.close()
    first = sizes[0] - empty
    later = sizes[-1] - sizes[0]
    return {
        "series": n_series,
        "scrapes_after_first": scrapes,
        "wal_bytes_first_scrape": first,
        "wal_bytes_per_new_series": first / n_series,
        "wal_bytes_per_sample": later / (n_series * scrapes) if scrapes else 0.0,
        "wal_bytes_total": sizes[-1],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--scrapes", type=int, default=8)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="heron-walsize-")
    try:
        print(json.dumps(measure(args.series, args.scrapes, work)))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
