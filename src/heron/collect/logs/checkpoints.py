"""Per-file read checkpoints of the node agent: which file, how far, and the parser's partial state.

The agent tails container log files and may be killed at any moment (`kill -9`, OOM, node
reboot). On restart it must resume every file where the server last acknowledged it: resuming
earlier only re-sends lines (the storage's duplicate check removes them), resuming later loses
lines. So a checkpoint is advanced only after the server acknowledged the lines before it, and
the checkpoint file is replaced atomically (temp file, fsync, rename, fsync of the directory):
after any crash it holds either the previous or the new complete version, never a mix.

A file is identified by (device, inode, fingerprint of its first bytes) rather than by path,
because log rotation renames files (same inode, new path) and a deleted file's inode is often
reused at once by the next log file (same inode, different content). The byte layout of the
checkpoint file is in docs/format/agent-state.md.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from heron.logsetup import log_fields

__all__ = ["FINGERPRINT_BYTES", "FileIdentity", "Checkpoint", "CheckpointStore"]

log = logging.getLogger("heron.agent.checkpoints")

# How many leading bytes of a file the fingerprint covers. 1 KiB holds the first few lines of a
# container log, which carry a timestamp: two different files practically never share them.
FINGERPRINT_BYTES = 1024

FORMAT_NAME = "heron-agent-checkpoints"
FORMAT_VERSION = 1


def _digest(head: bytes) -> str:
    return hashlib.blake2b(head, digest_size=16).hexdigest()


def _read_head(fd: int, size: int) -> bytes:
    """The first `size` bytes of `fd` (fewer if the file is shorter), without moving its offset."""
    chunks: list[bytes] = []
    got = 0
    while got < size:
        chunk = os.pread(fd, size - got, got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


@dataclass(frozen=True)
class FileIdentity:
    """Which file a checkpoint belongs to: device, inode, and a hash of the file's first bytes.

    `fingerprint` is the hex blake2b-128 digest of the first `fingerprint_size` bytes, where
    `fingerprint_size` is `FINGERPRINT_BYTES` or the file's whole length if it was shorter when
    the identity was taken (an empty file has size 0 and the digest of no bytes).

    A file shorter than `FINGERPRINT_BYTES` grows: `matches` therefore hashes exactly the first
    `fingerprint_size` bytes of the current file, so a grown file still matches its old identity.
    After a match the caller should take a fresh identity (`FileIdentity.of_fd`) and store it with
    the next checkpoint, so the fingerprint strengthens until it covers the full 1 KiB. A file
    now shorter than `fingerprint_size` (truncated or replaced) does not match. Identities taken
    over different sizes hash different bytes, so compare a stored identity with a file through
    `matches`, not with `==` against a fresh identity.
    """

    dev: int
    inode: int
    fingerprint: str
    fingerprint_size: int = FINGERPRINT_BYTES

    @property
    def key(self) -> str:
        """`"<dev>:<inode>"`: the suggested checkpoint key, stable across renames by rotation."""
        return f"{self.dev}:{self.inode}"

    @classmethod
    def of_fd(cls, fd: int) -> FileIdentity:
        """The identity of the open file `fd` as it is now."""
        st = os.fstat(fd)
        head = _read_head(fd, FINGERPRINT_BYTES)
        return cls(st.st_dev, st.st_ino, _digest(head), len(head))

    @classmethod
    def of_path(cls, path: str | os.PathLike[str]) -> FileIdentity:
        """The identity of the file at `path` (opened read-only for the time of the call)."""
        fd = os.open(path, os.O_RDONLY)
        try:
            return cls.of_fd(fd)
        finally:
            os.close(fd)

    def matches(self, fd: int) -> bool:
        """Whether `fd` is the file this identity was taken from.

        False when the device or inode differ, and also when they are equal but the first
        `fingerprint_size` bytes differ or no longer exist: that is a reused inode or a file
        truncated in place, and resuming at the old offset would skip or garble lines.
        """
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (self.dev, self.inode):
            return False
        head = _read_head(fd, self.fingerprint_size)
        return len(head) == self.fingerprint_size and _digest(head) == self.fingerprint


@dataclass(frozen=True)
class Checkpoint:
    """Where to resume one file: the next unacknowledged byte, plus the parser's carried state.

    `offset` is the byte offset of the first byte whose lines the server has not acknowledged.
    `parser_state` holds what the parser carries across reads at that offset (for example a
    CRI partial line, `P` entries not yet joined by their `F`), so resuming mid-entry is exact.
    It must be JSON-serialisable (dict/list/str/int/float/bool/None; finite floats only).
    """

    identity: FileIdentity
    path: str
    offset: int
    parser_state: dict[str, Any] = field(default_factory=dict)


class _CorruptError(ValueError):
    """The checkpoint file's content is not a valid checkpoint document."""


class CheckpointStore:
    """All checkpoints of the agent in one JSON file, replaced atomically on every save.

    One file for all log files keeps a save to one write, one fsync and one rename however many
    files are tailed. Keys are the caller's strings (`FileIdentity.key` is the natural choice)
    and come back unchanged from `load`. Not safe for concurrent use from several threads or
    processes: the agent has one owner of checkpoints.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._tmp_path = self.path + ".tmp"
        self._current: dict[str, Checkpoint] | None = None

    def load(self) -> dict[str, Checkpoint]:
        """The saved checkpoints; empty when there is no file yet.

        A corrupt or truncated file (invalid UTF-8 or JSON, wrong shape, unknown version) does
        not stop the agent: it is logged, renamed to `<path>.corrupt-<UTC timestamp>` for a
        post-mortem, and an empty set is returned, so files are read again from wherever the
        caller starts unknown files (re-sent lines are removed by the server's duplicate check).
        Other I/O errors (permissions, EIO) are raised: they are not fixed by starting over.
        """
        try:
            os.unlink(self._tmp_path)  # left by a crash during save; never the live version
        except FileNotFoundError:
            pass
        try:
            with open(self.path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            self._current = {}
            return {}
        try:
            checkpoints = _decode(raw)
        except _CorruptError as e:
            aside = self._move_aside()
            log.warning(
                "checkpoint file is corrupt; moved aside, starting without checkpoints",
                extra=log_fields(path=self.path, moved_to=aside, reason=str(e), bytes=len(raw)),
            )
            checkpoints = {}
        self._current = dict(checkpoints)
        return checkpoints

    def save(self, checkpoints: Mapping[str, Checkpoint]) -> None:
        """Replace the saved set with `checkpoints`, atomically and durably.

        Returns after the new file is fsynced and renamed over the old one and the directory is
        fsynced, so the save survives power loss. A crash at any point leaves the old or the new
        complete file. A `parser_state` that JSON cannot hold raises before anything is written.
        A failed write (a full disk) raises OSError, keeps the old file as it was and removes the
        partial temp file, so its space comes back for the next try.
        """
        data = _encode(checkpoints)
        fd = os.open(self._tmp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    if written <= 0:
                        raise OSError(errno.EIO, f"write(2) returned {written}", self._tmp_path)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(self._tmp_path, self.path)
        except BaseException:
            _unlink_quietly(self._tmp_path)
            raise
        _fsync_dir(os.path.dirname(self.path) or ".")
        self._current = dict(checkpoints)

    def remove(self, key: str) -> None:
        """Forget the checkpoint under `key` (a file deleted and fully read) and save; no-op if absent."""
        current = self._current if self._current is not None else self.load()
        if key not in current:
            return
        remaining = dict(current)
        del remaining[key]
        self.save(remaining)

    def _move_aside(self) -> str:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = f"{self.path}.corrupt-{stamp}"
        n = 1
        while os.path.exists(target):
            target = f"{self.path}.corrupt-{stamp}-{n}"
            n += 1
        os.rename(self.path, target)
        _fsync_dir(os.path.dirname(self.path) or ".")
        return target


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        return


def _fsync_dir(path: str) -> None:
    """Make a rename or unlink in `path` durable: POSIX keeps directory entries in the directory."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _encode(checkpoints: Mapping[str, Checkpoint]) -> bytes:
    files: dict[str, dict[str, Any]] = {}
    for key, cp in checkpoints.items():
        if not isinstance(key, str):
            raise TypeError(f"checkpoint keys must be str, got {type(key).__name__}")
        if cp.offset < 0:
            raise ValueError(f"negative offset {cp.offset} for {key!r}")
        files[key] = {
            "path": cp.path,
            "dev": cp.identity.dev,
            "inode": cp.identity.inode,
            "fingerprint": cp.identity.fingerprint,
            "fingerprint_size": cp.identity.fingerprint_size,
            "offset": cp.offset,
            "parser_state": cp.parser_state,
        }
    doc = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "files": files}
    # allow_nan=False: NaN/Infinity are not JSON, and a file other tools cannot parse is a trap.
    text = json.dumps(doc, sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return (text + "\n").encode("utf-8")


def _decode(raw: bytes) -> dict[str, Checkpoint]:
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise _CorruptError(f"not UTF-8 JSON: {e}") from None
    if not isinstance(doc, dict):
        raise _CorruptError("top level is not an object")
    if doc.get("format") != FORMAT_NAME or doc.get("version") != FORMAT_VERSION:
        raise _CorruptError(f"unknown format/version {doc.get('format')!r}/{doc.get('version')!r}")
    files = doc.get("files")
    if not isinstance(files, dict):
        raise _CorruptError("files is not an object")
    out: dict[str, Checkpoint] = {}
    for key, entry in files.items():
        if not isinstance(entry, dict):
            raise _CorruptError(f"entry {key!r} is not an object")
        dev = _uint(entry, "dev", key)
        inode = _uint(entry, "inode", key)
        size = _uint(entry, "fingerprint_size", key)
        offset = _uint(entry, "offset", key)
        fingerprint = entry.get("fingerprint")
        path = entry.get("path")
        state = entry.get("parser_state")
        if not isinstance(fingerprint, str) or len(fingerprint) != 32 or not _is_hex(fingerprint):
            raise _CorruptError(f"entry {key!r}: fingerprint is not 32 hex digits")
        if size > FINGERPRINT_BYTES:
            raise _CorruptError(f"entry {key!r}: fingerprint_size {size} > {FINGERPRINT_BYTES}")
        if not isinstance(path, str):
            raise _CorruptError(f"entry {key!r}: path is not a string")
        if not isinstance(state, dict):
            raise _CorruptError(f"entry {key!r}: parser_state is not an object")
        out[key] = Checkpoint(FileIdentity(dev, inode, fingerprint, size), path, offset, state)
    return out


def _uint(entry: Mapping[str, Any], name: str, key: str) -> int:
    value = entry.get(name)
    # bool is an int subclass; `true` as an offset is corruption, not 1.
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _CorruptError(f"entry {key!r}: {name} is not a non-negative integer")
    return value


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)
