"""The log tailer against real files: rotation by rename, truncation, inode reuse, resume."""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest

from heron.collect.logs.tail import FileId, PodLogPath, Read, Tailer, parse_log_path

DEADLINE = 10.0  # upper bound for any wait loop in this file


def container_dir(root: Path, ns: str = "default", pod: str = "web", uid: str = "u1", c: str = "app") -> Path:
    d = root / f"{ns}_{pod}_{uid}" / c
    d.mkdir(parents=True, exist_ok=True)
    return d


def cri(i: int, pad: int = 60) -> bytes:
    return b"2024-01-01T12:00:00.%09dZ stdout F line %08d %s\n" % (i, i, b"x" * pad)


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


def collect(t: Tailer, until: int, *, key: str | None = None) -> bytes:
    """Poll until `until` bytes arrived (for one path suffix when `key` is given)."""
    got = bytearray()
    deadline = time.monotonic() + DEADLINE
    while len(got) < until:
        assert time.monotonic() < deadline, f"only {len(got)} of {until} bytes arrived"
        for r in t.poll():
            if key is None or r.path.endswith(key):
                got += r.data
        if len(got) < until:
            t.wait(0.05)
    return bytes(got)


def deleted_fds_under(path: Path) -> list[str]:
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(path)) and target.endswith("(deleted)"):
            out.append(target)
    return out


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "pods"
    r.mkdir()
    return r


def test_parse_log_path() -> None:
    assert parse_log_path("/var/log/pods/kube-system_dns-1_abc-123/coredns/2.log") == PodLogPath(
        "kube-system", "dns-1", "abc-123", "coredns", 2
    )
    assert parse_log_path("/x/ns_p_u/c/0.log.20240101-120000") == PodLogPath("ns", "p", "u", "c", 0)
    assert parse_log_path("/x/ns_p_u/c/0.log.20240101-120000.gz") is None
    assert parse_log_path("/x/ns_p_u/c/0.log.tmp") is None
    assert parse_log_path("/x/nsp_u/c/0.log") is None
    fid = FileId(1, 2, "00ab" * 8, 17)
    assert FileId.from_key(fid.key) == fid


def test_lines_read_exactly_once_in_order_with_partial_lines(root: Path) -> None:
    d = container_dir(root)
    log = d / "0.log"
    expected = b"".join(cri(i) for i in range(2000))
    with Tailer(str(root), read_size=4096, rescan_interval=5.0) as t:
        got = bytearray()
        pos = 0
        step = 997  # never aligned with lines: most writes end mid-line
        while pos < len(expected):
            append(log, expected[pos : pos + step])
            pos += step
            for r in t.poll():
                assert r.offset == len(got), "offsets are contiguous"
                assert not r.partial, "only whole lines are delivered"
                assert len(r.data) <= 4096
                assert r.info == PodLogPath("default", "web", "u1", "app", 0)
                got += r.data
        got += collect(t, len(expected) - len(got))
        assert bytes(got) == expected
        assert t.poll() == []
        assert list(t.positions().values()) == [len(expected)]


def test_partial_line_waits_for_newline(root: Path) -> None:
    log = container_dir(root) / "0.log"
    log.write_bytes(b"first\nsecond-without-newline")
    with Tailer(str(root)) as t:
        assert [r.data for r in t.poll()] == [b"first\n"]
        assert t.poll() == []
        append(log, b" done\n")
        assert [r.data for r in t.poll()] == [b"second-without-newline done\n"]


def test_line_longer_than_read_size_is_split(root: Path) -> None:
    log = container_dir(root) / "0.log"
    log.write_bytes(b"a" * 10_000 + b"\nb\n")
    with Tailer(str(root), read_size=4096) as t:
        reads = [r for _ in range(5) for r in t.poll()]
        assert b"".join(r.data for r in reads) == b"a" * 10_000 + b"\nb\n"
        assert all(len(r.data) <= 4096 for r in reads)
        assert reads[0].partial
        assert t.stats()["forced_splits"] == 2


def gzip_and_remove(p: Path) -> None:
    with open(p, "rb") as src, gzip.open(str(p) + ".gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    p.unlink()


def _rotated_name(gen: int) -> str:
    return f"0.log.20240101-{gen // 3600 % 24:02d}{gen // 60 % 60:02d}{gen % 60:02d}"


def test_kubelet_rotation_under_load(root: Path) -> None:
    d = container_dir(root)
    total_lines = 40_000  # ~4 MB, ~20 rotations of 200 KB
    written = bytearray()
    done = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            gen = 0
            fh = open(d / "0.log", "ab")
            size = 0
            for i in range(total_lines):
                line = cri(i)
                fh.write(line)
                fh.flush()
                written.extend(line)
                size += len(line)
                if i % 200 == 0:
                    time.sleep(0.0005)
                if size >= 200_000:
                    gen += 1
                    os.rename(d / "0.log", d / _rotated_name(gen))
                    # CRI reopen window: the runtime still writes to the renamed file.
                    for j in range(2):
                        extra = b"late %d %d\n" % (gen, j)
                        fh.write(extra)
                        written.extend(extra)
                    fh.close()
                    fh = open(d / "0.log", "ab")
                    size = 0
                    # kubelet gzips older rotated files and deletes them, possibly mid-read
                    if gen > 3:
                        gzip_and_remove(d / _rotated_name(gen - 3))
            fh.close()
        except BaseException as exc:  # surfaced by the main thread
            errors.append(exc)
        finally:
            done.set()

    got = bytearray()
    with Tailer(str(root), deleted_grace=0.2, rescan_interval=5.0) as t:
        th = threading.Thread(target=writer)
        th.start()
        deadline = time.monotonic() + 20
        while not done.is_set():
            assert time.monotonic() < deadline
            for r in t.poll():
                got += r.data
            t.wait(0.01)
        th.join()
        assert not errors
        got += collect(t, len(written) - len(got))
        assert bytes(got) == bytes(written)  # no loss, no duplicate, in order
        assert got.split(b"\n")[:-1] == bytes(written).split(b"\n")[:-1]
        assert t.stats()["rotations"] >= 15

        # kubelet compresses the rotated files and deletes the originals
        for p in sorted(d.glob("0.log.*[0-9]")):
            gzip_and_remove(p)
        end = time.monotonic() + DEADLINE
        while len(t.open_files()) > 1 or deleted_fds_under(root):
            assert time.monotonic() < end, (t.open_files(), deleted_fds_under(root))
            assert t.poll() == []  # .gz files are never read
            t.wait(0.05)
        assert list(t.open_files().values()) == [str(d / "0.log")]
        assert deleted_fds_under(root) == []
        assert len(t.positions()) == 1  # deleted files are forgotten


def test_copytruncate_restarts_at_zero_with_warning(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    log = container_dir(root) / "0.log"
    log.write_bytes(b"".join(cri(i) for i in range(100)))
    with Tailer(str(root)) as t:
        collect(t, log.stat().st_size)
        with open(log, "r+b") as fh:
            fh.truncate(0)
        append(log, b"after truncate\n")
        with caplog.at_level(logging.WARNING, logger="heron.collect.tail"):
            reads = t.poll()
        assert [(r.offset, r.data) for r in reads] == [(0, b"after truncate\n")]
        assert any("truncated" in rec.getMessage() for rec in caplog.records)
        assert t.stats()["truncations"] == 1


def test_rewrite_in_place_past_old_offset_is_detected(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Truncate and write more than was read between two polls: size >= offset, so only the
    # fingerprint can tell the file changed under us.
    log = container_dir(root) / "0.log"
    log.write_bytes(b"old line\n")
    with Tailer(str(root)) as t:
        assert [r.data for r in t.poll()] == [b"old line\n"]
        new = b"".join(cri(i) for i in range(30))
        with open(log, "r+b") as fh:
            fh.truncate(0)
            fh.write(new)
        with caplog.at_level(logging.WARNING, logger="heron.collect.tail"):
            assert b"".join(r.data for r in t.poll()) == new
        assert t.stats()["rewrites"] == 1


def test_copytruncate_copy_is_not_read_twice(root: Path) -> None:
    d = container_dir(root)
    log = d / "0.log"
    first = b"".join(cri(i) for i in range(50))
    log.write_bytes(first)
    with Tailer(str(root)) as t:
        collect(t, len(first))
        unread = b"".join(cri(i) for i in range(50, 60))
        append(log, unread)
        shutil.copyfile(log, d / "0.log.20240101-120000")  # logrotate copytruncate
        with open(log, "r+b") as fh:
            fh.truncate(0)
        append(log, b"fresh\n")
        got = b"".join(r.data for _ in range(3) for r in t.poll())
        want = unread.splitlines(keepends=True) + [b"fresh\n"]
        assert sorted(got.splitlines(keepends=True)) == sorted(want)
        assert t.stats()["copies_skipped"] == 1


def test_copytruncate_copy_seen_half_written_is_read_from_where_the_original_stopped(root: Path) -> None:
    d = container_dir(root)
    log = d / "0.log"
    first = b"".join(cri(i) for i in range(50))
    log.write_bytes(first)
    with Tailer(str(root)) as t:
        collect(t, len(first))
        unread = b"".join(cri(i) for i in range(50, 60))
        append(log, unread)
        copy = d / "0.log.20240101-120000"
        whole = log.read_bytes()
        copy.write_bytes(whole[: len(first) // 2 + 7])  # logrotate is still copying: mid-line
        with open(log, "r+b") as fh:
            fh.truncate(0)
        append(log, b"fresh\n")
        got = b"".join(r.data for _ in range(3) for r in t.poll())
        assert got == b"fresh\n"  # nothing from the copy yet, and no fragment of a line
        with open(copy, "ab") as fh:
            fh.write(whole[len(first) // 2 + 7 :])
        got = b"".join(r.data for _ in range(3) for r in t.poll())
        assert got == unread
        assert t.stats()["copies_skipped"] == 1 and t.stats()["truncations"] == 1


def test_inode_reuse_on_resume_is_a_new_file(root: Path) -> None:
    log = container_dir(root) / "0.log"
    log.write_bytes(b"".join(cri(i) for i in range(20)))
    with Tailer(str(root)) as t:
        collect(t, log.stat().st_size)
        saved = t.positions()
    ino = log.stat().st_ino
    # Same dev+inode, different first bytes and longer than the saved offset.
    replacement = b"".join(cri(i, pad=90) for i in range(100, 130))
    with open(log, "r+b") as fh:
        fh.write(replacement)
        fh.truncate(len(replacement))
    assert log.stat().st_ino == ino
    with Tailer(str(root), resume=saved) as t:
        reads = t.poll()
        assert reads[0].offset == 0
        assert b"".join(r.data for r in reads) == replacement
        assert t.stats()["inode_reuses"] == 1


def test_deleted_and_recreated_file_is_read_from_zero(root: Path) -> None:
    d = container_dir(root)
    log = d / "0.log"
    log.write_bytes(b"".join(cri(i) for i in range(40)))
    with Tailer(str(root), deleted_grace=0.0, rescan_interval=0.05) as t:
        collect(t, log.stat().st_size)
        saved = t.positions()
        old_ino = log.stat().st_ino
        log.unlink()
        time.sleep(0.06)
        assert t.poll() == []  # retired, at EOF, grace 0: closed and forgotten
        assert t.open_files() == {}
        new = b"".join(cri(i) for i in range(500, 520))
        log.write_bytes(new)  # ext4 often hands back the same inode
        assert collect(t, len(new)) == new
    with Tailer(str(root), resume=saved) as t:
        # whether or not the inode was reused, the stale checkpoint must not apply
        assert b"".join(r.data for r in t.poll()) == new
        assert t.stats()["inode_reuses"] == (1 if log.stat().st_ino == old_ino else 0)


def test_resume_continues_exactly_across_rotation_while_down(root: Path) -> None:
    d = container_dir(root)
    log = d / "0.log"
    lines = [cri(i) for i in range(300)]
    log.write_bytes(b"".join(lines[:100]) + b"half a li")
    with Tailer(str(root), read_size=2048) as t:
        first = b"".join(r.data for r in t.poll())  # one bounded read, then stop
        saved = t.positions()
    assert 0 < len(first) <= 2048
    # While the agent is down: the rest of the line, more lines, a rotation, more lines.
    append(log, b"ne\n" + b"".join(lines[100:200]))
    os.rename(log, d / "0.log.20240101-120000")
    log.write_bytes(b"".join(lines[200:]))
    expected = b"".join(lines[:100]) + b"half a line\n" + b"".join(lines[100:])
    with Tailer(str(root), read_size=2048, resume=saved) as t:
        rest = collect(t, len(expected) - len(first))
        assert first + rest == expected
        assert t.stats()["resumed"] == 1
        saved = t.positions()
    with Tailer(str(root), resume=saved) as t:
        assert t.poll() == []  # everything, rotated file included, was already delivered


def test_start_at_end_skips_existing_content(root: Path) -> None:
    log = container_dir(root) / "0.log"
    log.write_bytes(b"old\n")
    with Tailer(str(root), start_at="end") as t:
        assert t.poll() == []
        append(log, b"new\n")
        assert [r.data for r in t.poll()] == [b"new\n"]
        d2 = container_dir(root, pod="later")
        (d2 / "0.log").write_bytes(b"from a pod started later\n")
        assert collect(t, 25, key="later_u1/app/0.log") == b"from a pod started later\n"


def test_gz_and_tmp_never_read_and_symlinks_resolve(root: Path, tmp_path: Path) -> None:
    d = container_dir(root)
    (d / "0.log").write_bytes(b"real\n")
    (d / "0.log.20240101-110000.gz").write_bytes(gzip.compress(b"compressed\n"))
    (d / "0.log.20240101-110000.tmp").write_bytes(b"temporary\n")
    (d / "0.log.tmp").write_bytes(b"temporary\n")
    links = tmp_path / "containers"
    links.mkdir()
    (links / "web_default_app-abc.log").symlink_to(d / "0.log")
    # a container reachable only through the symlink directory
    other_root = tmp_path / "elsewhere"
    od = container_dir(other_root, pod="other")
    (od / "0.log").write_bytes(b"linked only\n")
    (links / "other_default_app-def.log").symlink_to(od / "0.log")
    with Tailer(str(root), containers_dir=str(links)) as t:
        reads = t.poll()
        assert sorted((r.path, r.data) for r in reads) == [
            (str(od / "0.log"), b"linked only\n"),
            (str(d / "0.log"), b"real\n"),
        ]
        assert t.poll() == []
        assert len(t.open_files()) == 2


def test_new_pod_container_and_restart_picked_up_by_inotify(root: Path) -> None:
    with Tailer(str(root), rescan_interval=5.0) as t:
        assert t.stats()["inotify"] is True
        assert t.poll() == []

        def create_pod() -> None:
            time.sleep(0.2)
            d = container_dir(root, pod="new")
            (d / "0.log").write_bytes(b"hello\n")

        th = threading.Thread(target=create_pod)
        th.start()
        started = time.monotonic()
        got = bytearray()
        while not got:
            assert time.monotonic() - started < 2.5
            assert t.wait(5.0), "woken by an event, not the rescan timer"
            got += b"".join(r.data for r in t.poll())
        th.join()
        assert time.monotonic() - started < 2.5  # far below rescan_interval=5
        assert got == b"hello\n"

        # a second container in the same pod, then a restart of the first
        side = container_dir(root, pod="new", c="sidecar")
        (side / "0.log").write_bytes(b"side\n")
        assert collect(t, 5, key="sidecar/0.log") == b"side\n"
        app = container_dir(root, pod="new")
        append(app / "0.log", b"last words\n")
        (app / "1.log").write_bytes(b"restarted\n")
        reads: list[Read] = []
        end = time.monotonic() + DEADLINE
        while sum(len(r.data) for r in reads) < 21:
            assert time.monotonic() < end
            t.wait(0.5)
            reads += t.poll()
        assert [(r.info.restart, r.data) for r in reads] == [(0, b"last words\n"), (1, b"restarted\n")]


def test_polling_fallback_without_inotify(root: Path) -> None:
    with Tailer(str(root), use_inotify=False, rescan_interval=0.1) as t:
        assert t.stats()["inotify"] is False
        t.poll()
        (container_dir(root) / "0.log").write_bytes(b"polled\n")
        started = time.monotonic()
        assert t.wait(5.0) is False
        assert time.monotonic() - started < 1.0  # capped by the rescan interval
        assert collect(t, 7) == b"polled\n"


def test_pod_deletion_releases_handles_after_draining(root: Path) -> None:
    d = container_dir(root, pod="doomed")
    log = d / "0.log"
    log.write_bytes(b"a\n")
    with Tailer(str(root), deleted_grace=0.1, rescan_interval=5.0) as t:
        assert [r.data for r in t.poll()] == [b"a\n"]
        with open(log, "ab") as fh:
            shutil.rmtree(root / "default_doomed_u1")
            fh.write(b"written after the unlink\n")  # still readable through our handle
        got = collect(t, 25)
        assert got == b"written after the unlink\n"
        end = time.monotonic() + DEADLINE
        while t.open_files() or t.stats()["containers"]:
            assert time.monotonic() < end
            t.wait(0.05)
            assert t.poll() == []
        assert deleted_fds_under(root) == []
        assert t.positions() == {}


def test_reads_are_bounded_and_keep_container_order(root: Path) -> None:
    d = container_dir(root)
    old = b"".join(cri(i) for i in range(5000))  # ~450 KB in the rotated file
    new = b"".join(cri(i) for i in range(5000, 5100))
    (d / "0.log").write_bytes(old)
    with Tailer(str(root), read_size=64 * 1024) as t:
        first = t.poll()
        assert len(first) == 1 and len(first[0].data) <= 64 * 1024
        os.rename(d / "0.log", d / "0.log.20240101-120000")
        (d / "0.log").write_bytes(new)
        per_file: dict[FileId, bytearray] = defaultdict(bytearray)
        order: list[str] = []
        per_file[first[0].file_id] += first[0].data
        new_id = None
        end = time.monotonic() + DEADLINE
        while new_id is None or len(per_file[new_id]) < len(new):
            assert time.monotonic() < end
            assert t.wait(1.0) is True  # backlog: no sleeping while data is pending
            for r in t.poll():
                assert len(r.data) <= 64 * 1024
                per_file[r.file_id] += r.data
                order.append(os.path.basename(r.path))
                if r.path == str(d / "0.log"):
                    new_id = r.file_id
        assert bytes(per_file[first[0].file_id]) == old
        assert bytes(per_file[new_id]) == new
        # the new file is only read once the renamed one is drained
        assert order.index("0.log") > max(i for i, n in enumerate(order) if n != "0.log")


def test_poll_budget_bounds_memory_and_is_fair(root: Path) -> None:
    expected: dict[str, bytes] = {}
    for n in range(4):
        d = container_dir(root, pod=f"busy{n}")
        expected[str(d / "0.log")] = b"".join(cri(i) for i in range(3000))  # ~270 KB each
        (d / "0.log").write_bytes(expected[str(d / "0.log")])
    got: dict[str, bytearray] = defaultdict(bytearray)
    with Tailer(str(root), read_size=32 * 1024, max_poll_bytes=64 * 1024) as t:
        for _ in range(3):
            reads = t.poll()
            assert sum(len(r.data) for r in reads) < 64 * 1024 + 32 * 1024
            for r in reads:
                got[r.path] += r.data
        assert len(got) == 4, "every container got a turn within a few polls"
        end = time.monotonic() + DEADLINE
        while sum(map(len, got.values())) < sum(map(len, expected.values())):
            assert time.monotonic() < end
            assert t.wait(1.0) is True
            for r in t.poll():
                got[r.path] += r.data
    assert {k: bytes(v) for k, v in got.items()} == expected


def test_a_poll_reads_only_containers_written_to_and_a_rescan_reads_all(root: Path) -> None:
    logs = []
    for i in range(20):
        log = container_dir(root, pod=f"p{i}", uid=f"u{i}") / "0.log"
        log.write_bytes(cri(i))
        logs.append(log)
    with Tailer(str(root), rescan_interval=3600) as t:
        collect(t, 20 * len(cri(0)))
        before = t.stats()["container_reads"]
        append(logs[7], cri(100))
        assert t.wait(5.0)  # the write's inotify event
        reads = t.poll()
        assert [r.data for r in reads] == [cri(100)]
        assert t.stats()["container_reads"] - before == 1
        assert t.poll() == [] and t.stats()["container_reads"] - before == 1
    # Without events (no inotify), every poll reads every container: nothing depends on events.
    with Tailer(str(root), use_inotify=False, resume={}, start_at="end") as t:
        t.poll()
        append(logs[3], cri(200))
        assert [r.data for r in t.poll()] == [cri(200)]
        assert t.stats()["container_reads"] == 40
