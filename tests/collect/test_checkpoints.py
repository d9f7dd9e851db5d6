"""Checkpoints: atomic saves under kill -9, corrupt files set aside, identities that see inode reuse."""

from __future__ import annotations

import errno
import logging
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from heron.collect.logs.checkpoints import FINGERPRINT_BYTES, Checkpoint, CheckpointStore, FileIdentity

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _checkpoint(key_n: int, offset: int, state: dict[str, object] | None = None) -> Checkpoint:
    return Checkpoint(
        FileIdentity(2049, 1000 + key_n, "ab" * 16, 512), f"/var/log/pods/p{key_n}.log", offset, state or {}
    )


def test_save_load_round_trip(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "checkpoints.json")
    assert store.load() == {}
    cps = {
        "2049:1000": _checkpoint(0, 123, {"partial": "half a li", "cri_tag": "P", "n": [1, 2.5, None, True]}),
        "2049:1001": _checkpoint(1, 0),
        "ключ": Checkpoint(FileIdentity(1, 2, "00" * 16, 0), "/var/log/ünïcode.log", 7, {}),
    }
    store.save(cps)
    assert CheckpointStore(tmp_path / "checkpoints.json").load() == cps
    assert not (tmp_path / "checkpoints.json.tmp").exists()


def test_remove_saves_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.json"
    store = CheckpointStore(path)
    store.save({"a": _checkpoint(0, 1), "b": _checkpoint(1, 2)})
    store.remove("a")
    store.remove("missing")
    assert CheckpointStore(path).load() == {"b": _checkpoint(1, 2)}
    fresh = CheckpointStore(path)  # remove() before load() reads the file first
    fresh.remove("b")
    assert CheckpointStore(path).load() == {}


def test_unserialisable_parser_state_raises_and_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.json"
    store = CheckpointStore(path)
    store.save({"a": _checkpoint(0, 1)})
    before = path.read_bytes()
    with pytest.raises(TypeError):
        store.save({"a": _checkpoint(0, 2, {"raw": b"bytes"})})
    with pytest.raises(ValueError):
        store.save({"a": _checkpoint(0, 2, {"x": float("nan")})})
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\xff\xfe not utf-8",
        b'{"format": "heron-agent-checkpoints", "version": 1, "files": {"a": {"pa',  # truncated
        b"[1, 2, 3]",
        b'{"format":"heron-agent-checkpoints","version":2,"files":{}}',
        b'{"format":"heron-agent-checkpoints","version":1,"files":{"a":{"path":"/x","dev":1,"inode":2,'
        b'"fingerprint":"' + b"ab" * 16 + b'","fingerprint_size":10,"offset":-5,"parser_state":{}}}}',
        b'{"format":"heron-agent-checkpoints","version":1,"files":{"a":{"path":"/x","dev":1,"inode":2,'
        b'"fingerprint":"' + b"ab" * 16 + b'","fingerprint_size":10,"offset":true,"parser_state":{}}}}',
        b'{"format":"heron-agent-checkpoints","version":1,"files":{"a":{"path":"/x","dev":1,"inode":2,'
        b'"fingerprint":"zz","fingerprint_size":10,"offset":3,"parser_state":{}}}}',
    ],
)
def test_corrupt_file_is_moved_aside_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes
) -> None:
    path = tmp_path / "checkpoints.json"
    path.write_bytes(content)
    store = CheckpointStore(path)
    with caplog.at_level(logging.WARNING, logger="heron.agent.checkpoints"):
        assert store.load() == {}
    assert any("corrupt" in r.getMessage() for r in caplog.records)
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("checkpoints.json.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes() == content
    assert not path.exists()
    store.save({"a": _checkpoint(0, 9)})  # the agent carries on
    assert CheckpointStore(path).load() == {"a": _checkpoint(0, 9)}


def test_two_corrupt_files_in_one_second_both_survive(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.json"
    for content in (b"{", b"}"):
        path.write_bytes(content)
        logging.getLogger("heron.agent.checkpoints").disabled = True
        try:
            CheckpointStore(path).load()
        finally:
            logging.getLogger("heron.agent.checkpoints").disabled = False
    aside = sorted(p.read_bytes() for p in tmp_path.iterdir() if ".corrupt-" in p.name)
    assert aside == [b"{", b"}"]


def _identity(path: Path) -> FileIdentity:
    return FileIdentity.of_path(path)


def _matches(identity: FileIdentity, path: Path) -> bool:
    fd = os.open(path, os.O_RDONLY)
    try:
        return identity.matches(fd)
    finally:
        os.close(fd)


def test_identity_detects_inode_reuse(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(b"2026-01-01T00:00:00Z stdout F first file\n" * 100)
    ident = _identity(path)
    assert ident.fingerprint_size == FINGERPRINT_BYTES
    assert _matches(ident, path)
    # Same inode (rewritten in place, as a reused inode would be), different first bytes.
    with open(path, "r+b") as f:
        f.truncate(0)
        f.write(b"2026-01-02T00:00:00Z stdout F second file\n" * 100)
    new = _identity(path)
    assert (new.dev, new.inode) == (ident.dev, ident.inode)
    assert new.fingerprint != ident.fingerprint
    assert not _matches(ident, path)
    # A stored identity with this dev/inode but another fingerprint is another file, too.
    assert not _matches(FileIdentity(ident.dev, ident.inode, "00" * 16, FINGERPRINT_BYTES), path)


def test_identity_other_inode_never_matches(tmp_path: Path) -> None:
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_bytes(b"same content\n")
    b.write_bytes(b"same content\n")
    assert _identity(a).fingerprint == _identity(b).fingerprint
    assert not _matches(_identity(a), b)


def test_identity_of_short_file_survives_growth_and_rotation(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(b"short\n")
    ident = _identity(path)
    assert ident.fingerprint_size == 6
    with open(path, "ab") as f:
        f.write(b"x" * 5000)
    assert _matches(ident, path)  # grown: the first 6 bytes are unchanged
    grown = _identity(path)
    assert grown.fingerprint_size == FINGERPRINT_BYTES and grown.key == ident.key
    rotated = tmp_path / "0.log.20260101"
    path.rename(rotated)
    assert _matches(grown, rotated)
    with open(rotated, "r+b") as f:  # copytruncate: shorter than the fingerprint now
        f.truncate(3)
    assert not _matches(ident, rotated)


def test_identity_of_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(b"")
    ident = _identity(path)
    assert ident.fingerprint_size == 0
    path.write_bytes(b"now it has lines\n")  # same inode
    assert _matches(ident, path)


CHILD = textwrap.dedent(
    """
    import sys
    from heron.collect.logs.checkpoints import Checkpoint, CheckpointStore, FileIdentity

    store = CheckpointStore(sys.argv[1])
    start = int(sys.argv[2])
    for version in range(start, start + 200_000):
        n = version % 40 + 1
        store.save({
            f"k{i}": Checkpoint(FileIdentity(1, i, "ab" * 16, 1024), f"/var/log/pods/{i}.log", version,
                                {"v": version, "pad": "x" * (version % 300)})
            for i in range(n)
        })
        print(version, flush=True)
    """
)


def _assert_complete_version(checkpoints: dict[str, Checkpoint]) -> int:
    versions = {cp.offset for cp in checkpoints.values()}
    assert len(versions) == 1, versions
    version = versions.pop()
    assert len(checkpoints) == version % 40 + 1
    assert all(cp.parser_state == {"v": version, "pad": "x" * (version % 300)} for cp in checkpoints.values())
    return version


def test_save_is_atomic_under_sigkill(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "checkpoints.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]))
    rng = random.Random(11)
    start = 0
    for round_ in range(6):
        out_path = tmp_path / f"out{round_}"
        with open(out_path, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-c", CHILD, str(path), str(start)],
                stdout=out,
                env=env,
                stderr=subprocess.PIPE,
            )
        deadline = time.monotonic() + 10
        while out_path.stat().st_size == 0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.08))
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate()
        assert proc.returncode == -signal.SIGKILL, err
        saved = [int(line) for line in out_path.read_text().split()]
        assert saved, "the child saved nothing before being killed"
        with caplog.at_level(logging.WARNING, logger="heron.agent.checkpoints"):
            version = _assert_complete_version(CheckpointStore(path).load())
        # Only the checkpoint store's own records: a thread another test left behind may log.
        mine = [r for r in caplog.records if r.name.startswith("heron.agent.checkpoints")]
        assert not mine, "a complete save must never look corrupt"
        # The newest returned save is there, or the one in flight when the kill came.
        assert saved[-1] <= version <= saved[-1] + 1
        start = version + 1


def test_save_on_a_full_disk_keeps_the_old_file_and_frees_the_temp_file(tmp_path: Path) -> None:
    from tmpfs import fill, small_tmpfs

    with small_tmpfs(tmp_path / "mnt", "1m") as mnt:
        store = CheckpointStore(mnt / "checkpoints.json")
        old = {"a": _checkpoint(1, 100)}
        store.save(old)
        filler = fill(mnt)
        big = {f"k{i}": _checkpoint(i, i, {"pending": "y" * 200}) for i in range(200)}
        with pytest.raises(OSError) as info:
            store.save(big)
        assert info.value.errno == errno.ENOSPC
        assert not (mnt / "checkpoints.json.tmp").exists()  # its pages are free again
        assert CheckpointStore(mnt / "checkpoints.json").load() == old
        filler.unlink()
        store.save(big)
        assert CheckpointStore(mnt / "checkpoints.json").load() == big


def test_a_write_that_stores_nothing_is_an_error_not_a_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from heron.collect.logs import checkpoints

    calls: list[int] = []

    def stuck_write(fd: int, data: bytes) -> int:
        calls.append(fd)
        if len(calls) > 3:  # bounds the old loop, which took 0 for progress
            raise OSError(errno.ENOSPC, "no space")
        return 0

    store = CheckpointStore(tmp_path / "checkpoints.json")
    store.save({"a": _checkpoint(1, 1)})
    monkeypatch.setattr(checkpoints.os, "write", stuck_write)
    with pytest.raises(OSError) as info:
        store.save({"a": _checkpoint(1, 2)})
    monkeypatch.undo()
    assert info.value.errno == errno.EIO and len(calls) == 1
    assert CheckpointStore(tmp_path / "checkpoints.json").load() == {"a": _checkpoint(1, 1)}
