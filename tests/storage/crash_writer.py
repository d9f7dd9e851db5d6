"""Child process for the crash tests: appends batches forever, printing each acknowledged id.

Usage: crash_writer.py DATA_DIR FIRST_BATCH RESEND_FROM [MODE] [POINT:N[:fail],...]
It first re-sends batches RESEND_FROM..FIRST_BATCH-1 (a client retrying after a crash), then
writes new batches until killed. Head cuts and compactions happen along the way.

MODE is `plain` (the default), `retention` (every 25 batches, retention drops the blocks that
hold only batches more than RETENTION_LAG behind) or `full` (lines do not compress, so a small
disk fills up; a refused batch prints `full` and is tried again, as a client would).
POINT:N makes the process SIGKILL itself at the N-th reach of one of the points in `POINTS`,
after printing `crash`: the narrow windows of a head cut, a compaction or retention that a
random kill rarely hits. POINT:N:fail makes that one call fail with ENOSPC instead (a WAL write
after writing half its bytes), prints `fault`, and goes on: the parent kills it later. Several
comma-separated points apply together; POINT:+N counts only calls after the first fault, so a
kill lands in the head cut (or compaction) right after a failed write.
"""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import sys
import time
from typing import Any, Callable

from heron.model import labels_from
from heron.storage import Database, DiskFullError, LogBatch, SampleBatch, StorageOptions
from heron.storage import block as blockmod
from heron.storage import db as dbmod
from heron.storage import wal as walmod

STREAMS = 4
LINES = 50
BASE_NS = 1_700_000_000_000_000_000
RETENTION_LAG = 200  # batches; retention never drops one closer than this to the newest
FOREVER = 100 * 365 * 86400.0


def batch(i: int, noise: bool = False) -> tuple[list[LogBatch], list[SampleBatch]]:
    logs = []
    for s in range(STREAMS):
        ts = [BASE_NS + i * 1_000_000 + k for k in range(LINES)]
        if noise:
            lines = [b"b%06d-s%d-%03d " % (i, s, k) + _noise(b"%d.%d.%d" % (i, s, k)) for k in range(LINES)]
        else:
            lines = [b"b%06d-s%d-%03d " % (i, s, k) + b"x" * (k % 40) for k in range(LINES)]
        logs.append(LogBatch(labels_from({"app": "crash", "s": str(s)}), ts, lines))
    samples = [SampleBatch(labels_from({"__name__": "crash_total"}), [BASE_NS // 1_000_000 + i], [float(i)])]
    return logs, samples


def _noise(seed: bytes) -> bytes:
    """128 hex digits that zstd cannot shrink much, the same for the same seed."""
    return hashlib.blake2b(seed).hexdigest().encode()


def _die() -> None:
    sys.stdout.write("crash\n")
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


_FAULTED = [False]


def _fault() -> None:
    _FAULTED[0] = True
    sys.stdout.write("fault\n")
    sys.stdout.flush()
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _on_nth_call(owner: Any, name: str, n: str, fail: bool, caller: str = "") -> None:
    """Die (or fail once) at the n-th call of owner.name (from a function named `caller`, if
    given), before it runs."""
    real = getattr(owner, name)
    seen = [0]
    after_fault, n_ = n.startswith("+"), int(n)

    def wrapper(*args: Any, **kw: Any) -> Any:
        if (caller and sys._getframe(1).f_code.co_name != caller) or (after_fault and not _FAULTED[0]):
            return real(*args, **kw)
        seen[0] += 1
        if seen[0] == n_:
            _fault() if fail else _die()
        return real(*args, **kw)

    setattr(owner, name, wrapper)


def _torn_wal_write(db: Database, n: str, fail: bool) -> None:
    """The n-th WAL write stops half way: a torn record at the end of the segment."""
    real = os.write
    seen = [0]
    after_fault, n_ = n.startswith("+"), int(n)

    def write(fd: int, data: Any) -> int:
        if db._wal is not None and fd == db._wal._fd and not (after_fault and not _FAULTED[0]):
            seen[0] += 1
            if seen[0] == n_:
                real(fd, bytes(data[: len(data) // 2]))
                _fault() if fail else _die()
        return real(fd, data)

    walmod.os.write = write  # type: ignore[assignment]


POINTS: dict[str, Callable[[Database, str, bool], None]] = {
    # the middle of a WAL write (a push)
    "wal_write": _torn_wal_write,
    # while a block is written into its .tmp directory (head cut or compaction)
    "block_write": lambda db, n, fail: _on_nth_call(blockmod.BlockWriter, "_write", n, fail),
    # a finished block is fsynced, not yet renamed; or renamed, blocks/ not yet fsynced
    "block_publish": lambda db, n, fail: _on_nth_call(blockmod, "_fsync_path", n, fail),
    # a head's block is in place, the WAL segments it covers are not yet deleted
    "wal_remove": lambda db, n, fail: _on_nth_call(walmod.WAL, "remove_upto", n, fail),
    # a merged block is published, its sources not yet deleted
    "block_remove": lambda db, n, fail: _on_nth_call(dbmod.shutil, "rmtree", n, fail, "compact"),
    # retention took blocks out of service, and has not deleted them yet
    "retention_remove": lambda db, n, fail: _on_nth_call(dbmod.shutil, "rmtree", n, fail, "apply_retention"),
}


def main() -> None:
    path, first, resend_from = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    mode = sys.argv[4] if len(sys.argv) > 4 else "plain"
    point = sys.argv[5] if len(sys.argv) > 5 else ""
    opts = StorageOptions(
        head_max_bytes=150_000,
        compaction_min_blocks=3,
        retention_seconds=FOREVER,
        ooo_window_seconds=FOREVER,
    )
    dbmod._CUT_RETRY_SECONDS = 0.05  # a failed head cut is tried again soon, within the run
    db = Database.open(path, opts, background=False)
    for spec in filter(None, point.split(",")):
        name, n, *fail = spec.split(":")
        POINTS[name](db, n, fail == ["fail"])
    noise = mode == "full"

    def append(i: int) -> bool:
        logs, samples = batch(i, noise)
        try:
            res = db.append(logs=logs, samples=samples)
        except DiskFullError:
            sys.stdout.write("full\n")
            sys.stdout.flush()
            time.sleep(0.01)
            return False
        assert not res.rejected, res.rejected
        return True

    for i in range(resend_from, first):
        while not append(i):
            continue
    i = first
    while True:
        if not append(i):
            continue
        sys.stdout.write(f"{i}\n")
        sys.stdout.flush()
        i += 1
        if i % 25 == 0:
            db.compact()
            if mode == "retention":
                cutoff = BASE_NS + (i - RETENTION_LAG) * 1_000_000
                db.apply_retention(now_ns=cutoff + int(FOREVER * 1e9))


if __name__ == "__main__":
    main()
