"""kill -9 at random moments: every acknowledged batch is present exactly once afterwards."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

from crash_writer import LINES, STREAMS, batch

from heron.model import Matcher, MatchOp, SeriesKind
from heron.storage import Database, Direction, StorageOptions

HERE = os.path.dirname(__file__)


def _run_and_kill(path: str, first: int, resend_from: int, delay: float) -> list[int]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "crash_writer.py"), path, str(first), str(resend_from)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    acked: list[int] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            acked.append(int(line))

    reader = threading.Thread(target=read)
    reader.start()
    deadline = time.monotonic() + 30
    # Wait until writing is under way, then kill at a random moment.
    while not acked and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reader.join()
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, err
    return acked


def test_sigkill_never_loses_or_duplicates_acknowledged_batches(tmp_path):
    path = str(tmp_path / "data")
    rng = random.Random(7)
    acked: list[int] = []
    next_batch = 0
    for _round in range(4):
        # Re-send the last few batches, as a client that was not sure of its last pushes would.
        resend_from = max(0, next_batch - 3)
        got = _run_and_kill(path, next_batch, resend_from, rng.uniform(0.3, 1.5))
        assert got, "the writer acknowledged nothing before being killed"
        acked += got
        next_batch = got[-1] + 2  # the batch after the last ack may or may not have landed
        opts = StorageOptions(retention_seconds=100 * 365 * 86400.0, ooo_window_seconds=100 * 365 * 86400.0)
        with Database.open(path, opts, background=False) as db:
            page = db.query_logs(
                [Matcher("app", MatchOp.EQ, "crash")], 0, 2**62, direction=Direction.FORWARD, limit=0
            )
            counts = Counter(page.lines)
            for i in acked:
                logs, _ = batch(i)
                for lb in logs:
                    for line in lb.lines:
                        assert counts[line] == 1, (i, line, counts[line])
            assert max(counts.values()) == 1
            assert len(page.lines) >= len(acked) * STREAMS * LINES
            [(_, ts, vals)] = db.query_samples([Matcher("__name__", MatchOp.EQ, "crash_total")], 0, 2**62)
            assert set(int(v) for v in vals) >= set(acked)
            assert len(set(ts.tolist())) == len(ts)
            assert db.select_series([Matcher("app", MatchOp.EQ, "crash")], SeriesKind.LOG, 0, 2**62)
    assert len(acked) > 20
