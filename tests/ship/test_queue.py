"""The agent's durable queue: FIFO across reopen, persisted acks, at-least-once under kill -9, damage."""

from __future__ import annotations

import errno
import logging
import os
import random
import signal
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from heron.ship.queue import HEADER_SIZE, DurableQueue

SRC = str(Path(__file__).resolve().parents[2] / "src")


def payload(n: int) -> bytes:
    return b"%d:" % n + b"x" * (n % 97)


def drain(q: DurableQueue, limit: int = 100_000) -> list[tuple[int, bytes]]:
    """Deliver and acknowledge everything, the way the shipper would."""
    out: list[tuple[int, bytes]] = []
    for _ in range(limit):
        item = q.peek()
        if item is None:
            return out
        out.append(item)
        q.ack(item[0])
    raise AssertionError("queue did not drain")


def segments(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.endswith(".seg"))


def test_fifo_order_across_reopen(tmp_path: Path) -> None:
    with DurableQueue(tmp_path, max_bytes=1 << 20, segment_bytes=300) as q:
        seqs = [q.put(payload(n)) for n in range(100)]
    assert seqs == list(range(1, 101))
    assert len(segments(tmp_path)) > 5
    with DurableQueue(tmp_path, max_bytes=1 << 20, segment_bytes=300) as q:
        assert q.peek() == (1, payload(0))
        assert q.peek() == (1, payload(0))  # peek does not consume
        got = drain(q)
        assert got == [(n + 1, payload(n)) for n in range(100)]
        assert q.put(b"after") == 101  # seqs are never reused
    with DurableQueue(tmp_path, max_bytes=1 << 20) as q:
        assert drain(q) == [(101, b"after")]


def test_ack_is_persisted_and_cumulative(tmp_path: Path) -> None:
    with DurableQueue(tmp_path, max_bytes=1 << 20, segment_bytes=100) as q:
        for n in range(10):
            q.put(payload(n))
        q.ack(4)
        assert q.peek() == (5, payload(4))
        q.ack(3)  # older acks are no-ops
        with pytest.raises(ValueError):
            q.ack(11)
    with DurableQueue(tmp_path, max_bytes=1 << 20, segment_bytes=100) as q:
        assert q.acked_seq == 4
        assert q.peek() == (5, payload(4))
        q.ack(8)  # across segment boundaries, without peeking each
        assert q.peek() == (9, payload(8))
    with DurableQueue(tmp_path, max_bytes=1 << 20) as q:
        assert drain(q) == [(9, payload(8)), (10, payload(9))]
        assert q.unacked_bytes == 0


def test_empty_queue_and_empty_payload(tmp_path: Path) -> None:
    with DurableQueue(tmp_path / "q", max_bytes=10) as q:
        assert q.peek() is None and not q.full and q.acked_seq == 0
        assert q.put(b"") == 1
        assert q.peek() == (1, b"")
        q.ack(1)
        assert q.peek() is None
    with DurableQueue(tmp_path / "q", max_bytes=10) as q:
        assert q.peek() is None
        assert q.put(b"z") == 2


def test_full_means_backpressure_and_recovers_after_acks(tmp_path: Path) -> None:
    record = HEADER_SIZE + 100
    with DurableQueue(tmp_path, max_bytes=5 * record, segment_bytes=2 * record) as q:
        for n in range(4):
            q.put(b"%100d" % n)
        assert not q.full
        q.put(b"%100d" % 4)
        assert q.full and q.unacked_bytes == 5 * record
        q.put(b"%100d" % 5)  # a full queue still never drops what the caller holds
        assert q.full
    with DurableQueue(tmp_path, max_bytes=5 * record, segment_bytes=2 * record) as q:
        assert q.full  # the bound counts what is on disk, across reopen
        q.ack(2)
        assert not q.full and q.unacked_bytes == 4 * record
        assert [p for _, p in drain(q)] == [b"%100d" % n for n in range(2, 6)]
        assert q.unacked_bytes == 0


def test_spent_segments_are_deleted(tmp_path: Path) -> None:
    with DurableQueue(tmp_path, max_bytes=1 << 20, segment_bytes=200) as q:
        for n in range(60):
            q.put(payload(n))
        first = segments(tmp_path)
        assert len(first) > 5
        item = q.peek()
        assert item is not None
        q.ack(item[0] + 29)
        remaining = segments(tmp_path)
        assert remaining == [p for p in first if p in remaining] and len(remaining) < len(first)
        assert min(int(p.stem) for p in remaining) <= 31  # the segment holding seq 31 is kept
        drain(q)
        assert len(segments(tmp_path)) == 1  # only the active segment is left
        q.put(b"x" * 300)  # fills it past segment_bytes
        item = q.peek()
        assert item is not None
        q.ack(item[0])
        q.put(b"y")  # seals the spent active segment, which goes at once
        assert len(segments(tmp_path)) == 1
    with DurableQueue(tmp_path, max_bytes=1 << 20) as q:
        assert drain(q) == [(62, b"y")]
    with DurableQueue(tmp_path, max_bytes=1 << 20) as q:
        assert segments(tmp_path) == [] and q.peek() is None and q.put(b"z") == 63


def test_torn_tail_is_cut_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with DurableQueue(tmp_path, max_bytes=1 << 20) as q:
        for n in range(5):
            q.put(payload(n))
    (seg,) = segments(tmp_path)
    whole = seg.stat().st_size
    last = HEADER_SIZE + len(payload(4))
    os.truncate(seg, whole - 3)  # a put that was killed mid-write
    with caplog.at_level(logging.WARNING, logger="heron.agent.queue"):
        q = DurableQueue(tmp_path, max_bytes=1 << 20)
    with q:
        assert any("damaged" in r.getMessage() for r in caplog.records)
        assert seg.stat().st_size == whole - last
        assert q.put(b"new") == 5
        assert drain(q) == [(n + 1, payload(n)) for n in range(4)] + [(5, b"new")]


@pytest.mark.parametrize("where", ["payload", "length", "seq", "crc"])
def test_bit_flip_skips_the_rest_of_its_segment(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    size = HEADER_SIZE + 10
    with DurableQueue(tmp_path, max_bytes=1 << 20, segment_bytes=3 * size) as q:
        for n in range(9):
            q.put(b"record-%03d" % n)
    first, second, third = segments(tmp_path)
    data = bytearray(second.read_bytes())
    offset = size + {"payload": HEADER_SIZE + 2, "length": 3, "seq": 12, "crc": 5}[where]
    data[offset] ^= 0x10  # seq 5, the second record of the second segment
    second.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="heron.agent.queue"):
        with DurableQueue(tmp_path, max_bytes=1 << 20) as q:
            got = drain(q)
    assert [s for s, _ in got] == [1, 2, 3, 4, 7, 8, 9]
    assert all(p == b"record-%03d" % (s - 1) for s, p in got)
    assert sum("damaged" in r.getMessage() for r in caplog.records) == 1


def test_damage_found_while_running_is_skipped_too(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    size = HEADER_SIZE + 10
    with DurableQueue(tmp_path, max_bytes=1 << 20, segment_bytes=3 * size) as q:
        for n in range(5):
            q.put(b"record-%03d" % n)
        first = segments(tmp_path)[0]
        with open(first, "r+b") as f:  # the disk flips a bit under the running queue
            f.seek(size + HEADER_SIZE)
            f.write(b"X")
        with caplog.at_level(logging.WARNING, logger="heron.agent.queue"):
            got = drain(q)
        assert [s for s, _ in got] == [1, 4, 5]
        assert any("damaged" in r.getMessage() for r in caplog.records)
        assert q.unacked_bytes == 0
        assert q.put(b"record-new") == 6
        assert drain(q) == [(6, b"record-new")]


def test_damaged_active_segment_at_runtime_is_sealed(tmp_path: Path) -> None:
    logging.getLogger("heron.agent.queue").disabled = True
    try:
        with DurableQueue(tmp_path, max_bytes=1 << 20) as q:
            q.put(b"a" * 10)
            q.put(b"b" * 10)
            (seg,) = segments(tmp_path)
            with open(seg, "r+b") as f:
                f.seek(HEADER_SIZE)
                f.write(b"Z")
            assert q.peek() is None  # both skipped: the second follows the bad record
            assert q.put(b"c") == 3
            assert drain(q) == [(3, b"c")]
        with DurableQueue(tmp_path, max_bytes=1 << 20) as q:
            assert q.peek() is None and q.put(b"d") == 4
    finally:
        logging.getLogger("heron.agent.queue").disabled = False


def test_corrupt_ack_file_redelivers_everything_on_disk(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with DurableQueue(tmp_path, max_bytes=1 << 20) as q:
        for n in range(3):
            q.put(payload(n))
        q.ack(2)
    ack = tmp_path / "ack"
    assert len(ack.read_bytes()) == 16 and struct.unpack_from("<Q", ack.read_bytes(), 4) == (2,)
    ack.write_bytes(b"\0" * 7)
    (tmp_path / "ack.tmp").write_bytes(b"junk")  # a crash mid-ack
    with caplog.at_level(logging.WARNING, logger="heron.agent.queue"):
        with DurableQueue(tmp_path, max_bytes=1 << 20) as q:
            assert [s for s, _ in drain(q)] == [1, 2, 3]
    assert any("ack file is corrupt" in r.getMessage() for r in caplog.records)
    assert not (tmp_path / "ack.tmp").exists()


def test_closed_queue_refuses_use(tmp_path: Path) -> None:
    q = DurableQueue(tmp_path, max_bytes=100)
    q.close()
    q.close()
    with pytest.raises(ValueError):
        q.put(b"x")
    with pytest.raises(ValueError):
        DurableQueue(tmp_path, max_bytes=0)


CHILD = textwrap.dedent(
    """
    import sys
    from heron.ship.queue import DurableQueue

    q = DurableQueue(sys.argv[1], max_bytes=1 << 30, segment_bytes=2048)
    start = int(sys.argv[2])
    for n in range(start, start + 1_000_000):
        seq = q.put(b"%d:" % n + b"x" * (n % 97))
        print("put", seq, n, flush=True)
        if n % 3:
            item = q.peek()
            if item is not None:
                q.ack(item[0])
                print("ack", item[0], flush=True)
    """
)


def test_at_least_once_under_sigkill(tmp_path: Path) -> None:
    qdir = tmp_path / "q"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]))
    rng = random.Random(5)
    start = 0
    last_seq = 0
    for round_ in range(5):
        out_path = tmp_path / f"out{round_}"
        with open(out_path, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-c", CHILD, str(qdir), str(start)],
                stdout=out,
                stderr=subprocess.PIPE,
                env=env,
            )
        deadline = time.monotonic() + 10
        while out_path.stat().st_size == 0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.02, 0.25))
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate()
        assert proc.returncode == -signal.SIGKILL, err
        lines = out_path.read_text().split("\n")[:-1]  # the last line may be cut short
        puts = {int(f[1]): int(f[2]) for f in (line.split() for line in lines) if f[0] == "put"}
        acks = [int(f[1]) for f in (line.split() for line in lines) if f[0] == "ack"]
        assert puts, "the child put nothing before being killed"
        assert min(puts) > last_seq, "seqs must never be reused across restarts"
        with DurableQueue(qdir, max_bytes=1 << 30) as q:
            acked = q.acked_seq
            assert acked >= max(acks, default=0), "a returned ack was not persisted"
            assert acked <= max(puts) + 1
            delivered = drain(q)
        seqs = [s for s, _ in delivered]
        assert seqs == list(range(acked + 1, acked + 1 + len(seqs))), "not FIFO or a gap"
        by_seq = dict(delivered)
        for seq, n in puts.items():
            if seq > acked:
                assert by_seq.get(seq) == b"%d:" % n + b"x" * (n % 97), f"put {seq} was lost"
        # At most the one put in flight at the kill shows up without its print.
        assert set(by_seq) - set(puts) <= {max(puts) + 1}
        last_seq = max([*puts, *seqs])
        start = max(puts.values()) + 2


def test_overlapping_segment_is_ignored_and_kept(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with DurableQueue(tmp_path, max_bytes=1 << 20) as q:
        for n in range(3):
            q.put(payload(n))
    (seg,) = segments(tmp_path)
    stray = tmp_path / f"{2:020d}.seg"  # claims seqs 2.. that the first segment already holds
    stray.write_bytes(b"not a record")
    (tmp_path / "notes.txt").write_text("operator notes")
    with caplog.at_level(logging.WARNING, logger="heron.agent.queue"):
        with DurableQueue(tmp_path, max_bytes=1 << 20) as q:
            assert drain(q) == [(n + 1, payload(n)) for n in range(3)]
    messages = [r.getMessage() for r in caplog.records]
    assert any("overlaps" in m for m in messages) and any("unexpected file" in m for m in messages)
    assert stray.read_bytes() == b"not a record"


def test_a_full_disk_refuses_puts_and_acks_and_keeps_every_record_whole(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tmpfs import fill, resize, small_tmpfs

    with small_tmpfs(tmp_path / "mnt", "1m") as mnt:
        qdir = mnt / "queue"
        q = DurableQueue(qdir, 64 << 20, segment_bytes=256 << 10)
        stored: list[bytes] = []
        for n in range(1000):
            data = b"%d:" % n + os.urandom(3000)
            try:
                q.put(data)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
            stored.append(data)
        else:
            raise AssertionError("the disk never filled")
        fill(mnt)
        with pytest.raises(OSError):
            q.ack(1)
        assert q.acked_seq == 0 and not (qdir / "ack.tmp").exists()
        assert q.peek() == (1, stored[0])
        q.close()
        with caplog.at_level(logging.WARNING, logger="heron.agent.queue"):
            q = DurableQueue(qdir, 64 << 20, segment_bytes=256 << 10)
        assert "damaged" not in caplog.text
        resize(mnt, "8m")
        q.put(b"after")
        assert [p for _, p in drain(q)] == [*stored, b"after"]
        q.close()


def test_a_write_that_stores_nothing_is_an_error_not_a_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from heron.ship import queue as queuemod

    real_write = os.write
    calls: list[int] = []
    q = DurableQueue(tmp_path, 1 << 20)
    q.put(b"first")

    def stuck_write(fd: int, data: bytes) -> int:
        if fd != q._wfd:
            return real_write(fd, data)
        calls.append(fd)
        if len(calls) > 3:  # bounds the old loop, which took 0 for progress
            raise OSError(errno.ENOSPC, "no space")
        return 0

    monkeypatch.setattr(queuemod.os, "write", stuck_write)
    with pytest.raises(OSError) as info:
        q.put(b"second")
    monkeypatch.undo()
    assert info.value.errno == errno.EIO and len(calls) == 1
    assert [p for _, p in drain(q)] == [b"first"]
    q.close()
