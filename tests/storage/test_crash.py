"""kill -9 at random moments, and at chosen points of a head cut, a compaction, retention and
a full disk: every acknowledged batch is present exactly once afterwards."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from crash_writer import LINES, POINTS, RETENTION_LAG, STREAMS, batch

from heron.model import Matcher, MatchOp, SeriesKind
from heron.storage import Database, Direction, StorageOptions
from tmpfs import resize, small_tmpfs

HERE = os.path.dirname(__file__)


def _start(path: str, first: int, resend_from: int, mode: str, point: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, os.environ.get("PYTHONPATH", "")]))
    args = [sys.executable, os.path.join(HERE, "crash_writer.py"), path, str(first), str(resend_from), mode]
    return subprocess.Popen(
        args + ([point] if point else []),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )


class _Run:
    """One writer process: what it acknowledged, and whether it crashed itself or saw a full disk."""

    def __init__(self, path: str, first: int, resend_from: int, mode: str = "plain", point: str = ""):
        self.proc = _start(path, first, resend_from, mode, point)
        self.acked: list[int] = []
        self.crashed = threading.Event()
        self.full = threading.Event()
        self.faulted = threading.Event()
        self._reader = threading.Thread(target=self._read)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line == "crash\n":
                self.crashed.set()
            elif line == "fault\n":
                self.faulted.set()
            elif line == "full\n":
                self.full.set()
            else:
                self.acked.append(int(line))

    def wait_for(self, what: threading.Event | None, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if what.is_set() if what is not None else bool(self.acked):
                return
            time.sleep(0.01)

    def kill(self) -> list[int]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._reader.join()
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.proc.stdout.close()
        err = self.proc.stderr.read()
        self.proc.stderr.close()
        assert self.proc.returncode == -signal.SIGKILL, err
        return self.acked


def _run_and_kill(path: str, first: int, resend_from: int, delay: float) -> list[int]:
    run = _Run(path, first, resend_from)
    run.wait_for(None)  # writing is under way: kill at a random moment
    time.sleep(delay)
    return run.kill()


def _check(
    path: str, acked: list[int], must_have: list[int] | None = None, noise: bool = False
) -> Counter[bytes]:
    """Every batch of `must_have` (default: all of `acked`) is stored exactly once; nothing twice.
    Returns how often each line is stored."""
    opts = StorageOptions(retention_seconds=100 * 365 * 86400.0, ooo_window_seconds=100 * 365 * 86400.0)
    with Database.open(path, opts, background=False) as db:
        page = db.query_logs(
            [Matcher("app", MatchOp.EQ, "crash")], 0, 2**62, direction=Direction.FORWARD, limit=0
        )
        counts = Counter(page.lines)
        for i in acked if must_have is None else must_have:
            logs, _ = batch(i, noise)
            for lb in logs:
                for line in lb.lines:
                    assert counts[line] == 1, (i, line, counts[line])
        assert not counts or max(counts.values()) == 1
        if must_have is None:
            assert len(page.lines) >= len(acked) * STREAMS * LINES
            [(_, ts, vals)] = db.query_samples([Matcher("__name__", MatchOp.EQ, "crash_total")], 0, 2**62)
            assert set(int(v) for v in vals) >= set(acked)
            assert len(set(ts.tolist())) == len(ts)
            assert db.select_series([Matcher("app", MatchOp.EQ, "crash")], SeriesKind.LOG, 0, 2**62)
    return counts


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
        _check(path, acked)
    assert len(acked) > 20


KILL_POINTS = ["wal_write:40", "block_write:30", "block_publish:3", "block_publish:4", "wal_remove:2"]
# Every run with a chosen kill point first has a WAL write fail half way, as on a full disk,
# before the first head cut; the kill then lands in what follows (`+N`: counted after the failure):
# the next writes, the head cut that persists the failed segment, or the compaction after it.
FULL_FIRST = "wal_write:3:fail,"
AFTER_FAILURE = ["wal_write:+5", "block_write:+1", "block_publish:+1", "block_publish:+2", "wal_remove:+1"]


@pytest.mark.parametrize("point", [*AFTER_FAILURE, "block_remove:+1"])
def test_sigkill_at_a_chosen_point_loses_and_duplicates_nothing(tmp_path: Path, point: str) -> None:
    """Two rounds: the writer kills itself at the point, then again at a random moment."""
    assert point.split(":")[0] in POINTS
    path = str(tmp_path / "data")
    run = _Run(path, 0, 0, "plain", FULL_FIRST + point)
    run.wait_for(run.crashed)
    acked = run.kill()
    assert run.crashed.is_set() and run.faulted.is_set(), f"{point} was never reached"
    assert acked
    _check(path, acked)
    run = _Run(path, acked[-1] + 2, max(0, acked[-1] - 2))
    run.wait_for(None)
    time.sleep(0.3)
    acked += run.kill()
    _check(path, acked)


@pytest.mark.parametrize("point", [f"{p}:fail" for p in KILL_POINTS])
def test_sigkill_after_a_failed_write_at_a_chosen_point_loses_nothing(tmp_path: Path, point: str) -> None:
    """The write fails as on a full disk (a push is refused, or a head cut fails and is
    retried), the writer goes on, and a kill at a random moment later loses nothing."""
    path = str(tmp_path / "data")
    run = _Run(path, 0, 0, "plain", point)
    run.wait_for(run.faulted)
    assert run.faulted.is_set(), f"{point} was never reached"
    seen = len(run.acked)
    deadline = time.monotonic() + 20
    while len(run.acked) < seen + 60 and time.monotonic() < deadline and run.proc.poll() is None:
        time.sleep(0.01)
    time.sleep(random.Random(point).uniform(0.0, 0.3))
    acked = run.kill()
    assert len(acked) >= seen + 60, "the writer stopped after the failure"
    _check(path, acked)


@pytest.mark.parametrize("point", ["retention_remove:1", "retention_remove:3", ""])
def test_sigkill_during_retention_keeps_every_batch_it_must_keep(tmp_path: Path, point: str) -> None:
    path = str(tmp_path / "data")
    run = _Run(path, 0, 0, "retention", FULL_FIRST + point)
    if point:
        run.wait_for(run.crashed)
    else:
        deadline = time.monotonic() + 30
        while len(run.acked) < 6 * RETENTION_LAG and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(random.Random(5).uniform(0.0, 0.3))
    acked = run.kill()
    assert run.faulted.is_set() and (not point or run.crashed.is_set()), f"{point} was never reached"
    assert acked
    # Retention may drop only batches older than RETENTION_LAG behind the newest.
    counts = _check(path, acked, [i for i in acked if i >= acked[-1] - RETENTION_LAG + 25])
    if not point:
        assert not [line for line in batch(0)[0][0].lines if counts[line]], "retention dropped nothing"


def test_sigkill_while_the_disk_is_full_and_after_room_comes_back(tmp_path: Path) -> None:
    rng = random.Random(11)
    with small_tmpfs(tmp_path / "mnt", "6m") as mnt:
        path = str(mnt / "data")
        run = _Run(path, 0, 0, "full")
        run.wait_for(run.full)
        assert run.full.is_set(), "the disk never filled"
        time.sleep(rng.uniform(0.1, 0.5))  # refusing for a while, then killed
        acked = run.kill()
        assert acked
        _check(path, acked, noise=True)
        resize(mnt, "12m")
        run = _Run(path, acked[-1] + 2, max(0, acked[-1] - 2), "full")
        run.wait_for(None)
        time.sleep(rng.uniform(0.1, 0.4))
        got = run.kill()
        assert got, "writing did not resume after room came back"
        acked += got
        _check(path, acked, noise=True)
