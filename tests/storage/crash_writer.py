"""Child process for the crash test: appends batches forever, printing each acknowledged id.

Usage: crash_writer.py DATA_DIR FIRST_BATCH RESEND_FROM
It first re-sends batches RESEND_FROM..FIRST_BATCH-1 (a client retrying after a crash), then
writes new batches until killed. Head cuts and compactions happen along the way.
"""

from __future__ import annotations

import sys

from heron.model import labels_from
from heron.storage import Database, LogBatch, SampleBatch, StorageOptions

STREAMS = 4
LINES = 50
BASE_NS = 1_700_000_000_000_000_000


def batch(i: int) -> tuple[list[LogBatch], list[SampleBatch]]:
    logs = []
    for s in range(STREAMS):
        ts = [BASE_NS + i * 1_000_000 + k for k in range(LINES)]
        lines = [b"b%06d-s%d-%03d " % (i, s, k) + b"x" * (k % 40) for k in range(LINES)]
        logs.append(LogBatch(labels_from({"app": "crash", "s": str(s)}), ts, lines))
    samples = [SampleBatch(labels_from({"__name__": "crash_total"}), [BASE_NS // 1_000_000 + i], [float(i)])]
    return logs, samples


def main() -> None:
    path, first, resend_from = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    opts = StorageOptions(
        head_max_bytes=150_000,
        compaction_min_blocks=3,
        retention_seconds=100 * 365 * 86400.0,
        ooo_window_seconds=100 * 365 * 86400.0,
    )
    db = Database.open(path, opts, background=False)
    for i in range(resend_from, first):
        logs, samples = batch(i)
        db.append(logs=logs, samples=samples)
    i = first
    while True:
        logs, samples = batch(i)
        res = db.append(logs=logs, samples=samples)
        assert not res.rejected, res.rejected
        sys.stdout.write(f"{i}\n")
        sys.stdout.flush()
        i += 1
        if i % 25 == 0:
            db.compact()


if __name__ == "__main__":
    main()
