"""Discover and tail Kubernetes container log files, correct under kubelet rotation.

Layout: `<root>/<namespace>_<pod>_<uid>/<container>/<restart>.log` (root is usually
`/var/log/pods`); `/var/log/containers/*.log` are symlinks into it. Kubelet rotates by
rename-and-create (`0.log` -> `0.log.20240101-120000`, fresh `0.log`), later gzips the rotated
file and deletes it. `.gz` and `.tmp` files are never read.

Why files are tracked by identity, not by path: a path names a different file after every
rotation. A file's identity is `FileId(dev, inode, fingerprint, fp_len)`, the fingerprint being
the hex BLAKE2b-128 of its first `fp_len` bytes (up to 1024), the same scheme as
`checkpoints.FileIdentity(dev, inode, fingerprint, fingerprint_size)`. Inodes are reused once a file is
deleted and closed, so dev+inode alone would resume a brand-new file at a stale offset; the
fingerprint tells them apart. A file shorter than 1024 bytes is hashed over what it has, and
re-hashed once it grows (after checking that the old prefix is unchanged), so its `FileId`
changes as it grows past 1024 bytes; a resume entry with a shorter `fp_len` still matches,
because matching re-hashes the file's first `fp_len` bytes.

Guarantees (per container, one `Tailer`, files not rewritten behind its back):

* Every byte is delivered exactly once and in order: a renamed file is read through its open
  descriptor until EOF before any newer file of the same container is read, and a file whose
  read hit `read_size` holds back newer files until the next poll.
* `Read.data` holds whole lines only (ends with `\\n`); an unterminated tail stays in the file
  and is re-read later. Exceptions, flagged by `Read.partial`: a single line longer than
  `read_size` (delivered in `read_size` pieces), and the unterminated end of a retired file,
  delivered when the file is closed.
* A retired file (renamed, deleted, or superseded by a newer restart) is closed once it sat
  at EOF without growing for `deleted_grace` seconds, so deleted files never pin disk space.
* Truncation (copytruncate: size < offset) or an in-place rewrite (first bytes changed)
  restarts at offset 0 with a warning. A copytruncate copy appearing under a rotated name is
  recognised by its fingerprint and read only from where the original had been read.
* `positions()` is the checkpoint: the offsets of everything delivered so far. Feed it back as
  `resume=` after a restart to continue exactly where the previous process stopped, including
  files rotated while it was down.

Not thread-safe: one thread calls `poll()`/`wait()`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import select
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from heron.collect.logs.inotify import (
    IN_CREATE,
    IN_DELETE,
    IN_DELETE_SELF,
    IN_IGNORED,
    IN_MODIFY,
    IN_MOVE_SELF,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_ONLYDIR,
    IN_Q_OVERFLOW,
    Inotify,
)
from heron.logsetup import log_fields

__all__ = ["FileId", "PodLogPath", "Read", "Tailer", "FINGERPRINT_BYTES", "parse_log_path"]

log = logging.getLogger("heron.collect.tail")

FINGERPRINT_BYTES = 1024

_ACTIVE = re.compile(r"^(\d+)\.log$")
_ROTATED = re.compile(r"^(\d+)\.log\.(\d{8}-\d{6})$")

_DIR_MASK = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR
_CONTAINER_MASK = _DIR_MASK | IN_MODIFY


@dataclass(frozen=True, slots=True)
class FileId:
    """Identity of one log file, stable across renames, distinct across inode reuse."""

    dev: int
    inode: int
    fingerprint: str
    fp_len: int

    @property
    def key(self) -> str:
        """A string form for checkpoint files: `dev:inode:fp_len:fingerprint`."""
        return f"{self.dev}:{self.inode}:{self.fp_len}:{self.fingerprint}"

    @classmethod
    def from_key(cls, key: str) -> FileId:
        """Inverse of `key`; raises ValueError on a malformed string."""
        parts = key.split(":")
        if len(parts) != 4:
            raise ValueError(f"malformed file id {key!r}")
        dev, inode, fp_len, fp = parts
        return cls(int(dev), int(inode), fp, int(fp_len))


@dataclass(frozen=True, slots=True)
class PodLogPath:
    """What the path says about the log: which pod, container and container restart."""

    namespace: str
    pod: str
    uid: str
    container: str
    restart: int


@dataclass(frozen=True, slots=True)
class Read:
    """Bytes read from `path` (the file's current name) starting at `offset`."""

    file_id: FileId
    path: str
    info: PodLogPath
    offset: int
    data: bytes

    @property
    def end_offset(self) -> int:
        """The offset right after `data`: what `positions()` now holds for this file."""
        return self.offset + len(self.data)

    @property
    def partial(self) -> bool:
        """True when `data` does not end with a newline (see the module docstring)."""
        return not self.data.endswith(b"\n")


def parse_log_path(path: str) -> PodLogPath | None:
    """Parse `.../<ns>_<pod>_<uid>/<container>/<restart>.log[.<ts>]`; None for anything else.

    Namespace and pod names are DNS labels and the uid has no underscore, so a pod directory
    name splits into exactly three parts on `_`.
    """
    name = os.path.basename(path)
    m = _ACTIVE.match(name) or _ROTATED.match(name)
    if m is None:
        return None
    base = _parse_container_dir(os.path.dirname(path))
    if base is None:
        return None
    return PodLogPath(base[0], base[1], base[2], base[3], int(m.group(1)))


def _parse_container_dir(path: str) -> tuple[str, str, str, str] | None:
    container = os.path.basename(path)
    parts = os.path.basename(os.path.dirname(path)).split("_")
    if len(parts) != 3 or not all(parts) or not container:
        return None
    return parts[0], parts[1], parts[2], container


def _hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass(eq=False, slots=True)
class _File:
    """Tail state of one file. `fd` is None once closed; the record stays while it is on disk
    so `positions()` still covers it (a restart must not re-read a finished rotated file)."""

    dev: int
    ino: int
    fp: str
    fp_len: int
    path: str
    restart: int
    rank: int  # 0: rotated name, 1: active name (`N.log`)
    ts: str
    seq: int
    offset: int
    fd: int | None
    last_growth: float
    present: bool = True
    last_size: int = -1
    last_mtime: int = -1
    # (fingerprint, fp_len, offset) from before a truncation, to recognise a copytruncate copy.
    prev: tuple[str, int, int] | None = None
    # A copytruncate copy seen while still being written, shorter than what was read of the
    # original: wait for it to reach `offset` instead of taking the shortfall for a truncation.
    filling: bool = False

    @property
    def file_id(self) -> FileId:
        return FileId(self.dev, self.ino, self.fp, self.fp_len)

    def sort_key(self) -> tuple[int, int, str, int]:
        """Write order within a container: older restarts first, rotated before active."""
        return (self.restart, self.rank, self.ts, self.seq)


@dataclass(eq=False, slots=True)
class _Container:
    path: str
    namespace: str
    pod: str
    uid: str
    container: str
    files: list[_File] = field(default_factory=list)
    gone: bool = False

    def info(self, f: _File) -> PodLogPath:
        return PodLogPath(self.namespace, self.pod, self.uid, self.container, f.restart)


def _draining(c: _Container) -> bool:
    """Whether the container holds an open file that is not its newest active one: a file of
    an older restart, or one deleted while open, is read to its end and closed on a timer."""
    newest = max((f.restart for f in c.files if f.rank == 1 and f.present), default=None)
    return any(f.fd is not None and (f.restart != newest or not f.present) for f in c.files)


class Tailer:
    """Tail every container log under `root`; call `poll()` in a loop, `wait()` between polls.

    `containers_dir` optionally names a `/var/log/containers`-style directory of symlinks;
    links are resolved to their canonical file, so a file reached both ways is read once.
    `start_at` applies only to files present at the first scan that have no `resume` entry;
    files appearing later are always read from the beginning. `resume` is a previous
    `positions()`. `use_inotify=False` forces interval polling.

    Discovery: inotify watches on the root, pod and container directories mark directories for
    a targeted rescan and wake `wait()`; a write marks its container for reading, so an idle
    file costs nothing per poll. A full rescan, which also reads every container, runs every
    `rescan_interval` regardless, so a lost event (or no inotify at all) only costs latency,
    never data: an open file keeps being read through its descriptor whatever happens to its
    name.
    """

    def __init__(
        self,
        root: str,
        *,
        containers_dir: str | None = None,
        rescan_interval: float = 10.0,
        read_size: int = 1 << 20,
        max_poll_bytes: int = 64 << 20,
        deleted_grace: float = 5.0,
        start_at: Literal["beginning", "end"] = "beginning",
        resume: Mapping[FileId, int] | None = None,
        use_inotify: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if start_at not in ("beginning", "end"):
            raise ValueError(f"start_at must be 'beginning' or 'end', not {start_at!r}")
        if read_size <= 0 or max_poll_bytes <= 0 or rescan_interval <= 0 or deleted_grace < 0:
            raise ValueError("sizes and rescan_interval must be positive, deleted_grace >= 0")
        self._root = os.path.realpath(root)
        self._links = os.path.realpath(containers_dir) if containers_dir is not None else None
        self._rescan_interval = rescan_interval
        self._read_size = read_size
        self._max_poll_bytes = max_poll_bytes
        self._round = 0
        self._budget = max_poll_bytes
        self._grace = deleted_grace
        self._start_at = start_at
        self._clock = clock
        self._resume: dict[tuple[int, int], list[tuple[FileId, int]]] = {}
        for fid, off in (resume or {}).items():
            self._resume.setdefault((fid.dev, fid.inode), []).append((fid, off))
        self._containers: dict[str, _Container] = {}
        self._pods: dict[str, set[str]] = {}
        self._files: dict[tuple[int, int], _File] = {}
        self._seq = 0
        self._initial = True
        self._next_rescan = 0.0
        self._dirty: set[str] = set()
        # Containers to read at the next poll: written to (inotify), rescanned, or not done
        # last time. The others are skipped, so an idle file costs nothing per poll.
        self._active: set[str] = set()
        self._full_due = True
        self._backlog = False
        self._next_close: float | None = None
        self._wd_paths: dict[int, str] = {}
        self._path_wds: dict[str, int] = {}
        self._watch_limit_logged = False
        self._stats: dict[str, int] = {
            "polls": 0,
            "container_reads": 0,
            "reads": 0,
            "bytes_read": 0,
            "rescans": 0,
            "partial_rescans": 0,
            "files_opened": 0,
            "files_closed": 0,
            "rotations": 0,
            "truncations": 0,
            "rewrites": 0,
            "inode_reuses": 0,
            "resumed": 0,
            "copies_skipped": 0,
            "forced_splits": 0,
            "inotify_overflows": 0,
        }
        self._inotify: Inotify | None = None
        if use_inotify:
            try:
                self._inotify = Inotify()
            except OSError as exc:
                log.warning("inotify unavailable, polling only", extra=log_fields(error=str(exc)))

    # ------------------------------------------------------------------ public API

    def poll(self) -> list[Read]:
        """Discover changes and read what is new: at most `read_size` bytes per file, and no
        new file is started once `max_poll_bytes` were read (so a poll returns less than
        `max_poll_bytes + read_size`). Containers take turns being first, so a busy node
        cannot starve the containers at the end of the list.

        Reads come grouped by container and, within one, in write order (old file first).
        """
        now = self._clock()
        self._stats["polls"] += 1
        self._drain_events()
        read_all = self._inotify is None
        if self._full_due or now >= self._next_rescan:
            self._full_scan()
            self._next_rescan = now + self._rescan_interval
            self._full_due = False
            read_all = True  # also catches writes whose events were lost
        elif self._dirty:
            self._partial_scan()
        self._initial = False
        out: list[Read] = []
        backlog = False
        self._next_close = None
        containers = list(self._containers.values())
        if containers:
            k = self._round % len(containers)
            containers = containers[k:] + containers[:k]
            self._round += 1
        self._budget = self._max_poll_bytes
        active, self._active = self._active, set()
        for c in containers:
            if not (read_all or c.path in active or c.path not in self._path_wds):
                continue
            self._stats["container_reads"] += 1
            if self._read_container(c, now, out):
                backlog = True
                self._active.add(c.path)
            elif any(f.fd is not None and f.rank == 0 for f in c.files) or _draining(c):
                self._active.add(c.path)  # a rotated or superseded file is read until closed
            self._prune(c)
        self._backlog = backlog
        return out

    def wait(self, timeout: float) -> bool:
        """Block until there is likely something to read, at most `timeout` seconds.

        Returns early on an inotify event, immediately when the last poll left data unread
        (`read_size` hit), and never sleeps past the next rescan or grace deadline, so a missed
        event costs at most `rescan_interval`. Returns True when woken by an event or backlog.
        """
        if self._backlog or self._dirty or self._full_due:
            return True
        now = self._clock()
        deadline = min(now + max(timeout, 0.0), self._next_rescan)
        if self._next_close is not None:
            deadline = min(deadline, self._next_close)
        remaining = max(deadline - now, 0.0)
        if self._inotify is None:
            time.sleep(remaining)
            return False
        poller = select.poll()
        poller.register(self._inotify.fileno(), select.POLLIN)
        return bool(poller.poll(int(remaining * 1000) + 1))

    @property
    def backlog(self) -> bool:
        """True when the last poll left data unread (a budget was hit): poll again at once."""
        return self._backlog

    def positions(self) -> dict[FileId, int]:
        """Offset delivered so far for every known file: the checkpoint to pass as `resume`."""
        return {f.file_id: f.offset for f in self._files.values()}

    def open_files(self) -> dict[FileId, str]:
        """Files currently held open, with their current path (for tests and metrics)."""
        return {f.file_id: f.path for f in self._files.values() if f.fd is not None}

    def stats(self) -> dict[str, int | bool]:
        """Counters since start plus current gauges, for metrics."""
        out: dict[str, int | bool] = dict(self._stats)
        out["files_tracked"] = len(self._files)
        out["files_open"] = sum(1 for f in self._files.values() if f.fd is not None)
        out["containers"] = len(self._containers)
        out["watches"] = len(self._wd_paths)
        out["inotify"] = self._inotify is not None
        return out

    def close(self) -> None:
        """Close every file descriptor and the inotify instance."""
        for f in self._files.values():
            self._close_fd(f)
        if self._inotify is not None:
            self._inotify.close()
            self._inotify = None
        self._wd_paths.clear()
        self._path_wds.clear()

    def __enter__(self) -> Tailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ inotify

    def _watch(self, path: str, mask: int) -> None:
        if self._inotify is None or path in self._path_wds:
            return
        try:
            wd = self._inotify.add_watch(path, mask)
        except OSError as exc:
            if not self._watch_limit_logged and exc.errno == 28:  # ENOSPC: max_user_watches
                self._watch_limit_logged = True
                log.warning("inotify watch limit reached, relying on rescans", extra=log_fields(path=path))
            return
        self._wd_paths[wd] = path
        self._path_wds[path] = wd

    def _unwatch(self, path: str) -> None:
        wd = self._path_wds.pop(path, None)
        if wd is not None:
            self._wd_paths.pop(wd, None)
            if self._inotify is not None:
                self._inotify.rm_watch(wd)

    def _drain_events(self) -> None:
        if self._inotify is None:
            return
        for ev in self._inotify.read_events():
            if ev.mask & IN_IGNORED:  # the kernel dropped the watch (directory deleted)
                gone = self._wd_paths.pop(ev.wd, None)
                if gone is not None:
                    self._path_wds.pop(gone, None)
                continue
            if ev.mask & IN_Q_OVERFLOW:
                self._stats["inotify_overflows"] += 1
                self._full_due = True
                continue
            path = self._wd_paths.get(ev.wd)
            if path is None:
                continue
            if path in self._containers:
                self._active.add(path)
            if ev.mask == IN_MODIFY:
                continue  # a write needs a read of its container, not a rescan
            if ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF):
                self._dirty.add(os.path.dirname(path))
            self._dirty.add(path)

    # ------------------------------------------------------------------ discovery

    def _full_scan(self) -> None:
        self._stats["rescans"] += 1
        self._dirty.clear()
        scanned: set[str] = set()
        self._scan_root(full=True, scanned=scanned)
        self._scan_links(scanned)
        for path in list(self._containers):
            if path not in scanned:
                self._scan_container(path, scanned)

    def _partial_scan(self) -> None:
        self._stats["partial_rescans"] += 1
        dirty, self._dirty = self._dirty, set()
        scanned: set[str] = set()
        for path in sorted(dirty, key=len):
            if path == self._root:
                self._scan_root(full=False, scanned=scanned)
            elif path == self._links:
                self._scan_links(scanned)
            elif path in self._pods:
                self._scan_pod(path, scanned)
            elif path in self._containers:
                self._scan_container(path, scanned)

    def _scan_root(self, *, full: bool, scanned: set[str]) -> None:
        self._watch(self._root, _DIR_MASK)
        try:
            names = os.listdir(self._root)
        except (FileNotFoundError, NotADirectoryError):
            names = []
        found = set()
        for name in names:
            parts = name.split("_")
            path = os.path.join(self._root, name)
            if len(parts) == 3 and all(parts) and os.path.isdir(path) and not os.path.islink(path):
                found.add(path)
        for path in sorted(found):
            if full or path not in self._pods:
                self._scan_pod(path, scanned)
        for path in list(self._pods):
            if path not in found:
                self._scan_pod(path, scanned)

    def _scan_pod(self, pod: str, scanned: set[str]) -> None:
        self._watch(pod, _DIR_MASK)
        try:
            names = os.listdir(pod)
        except (FileNotFoundError, NotADirectoryError):
            names = None
        known = self._pods.get(pod, set())
        current: set[str] = set()
        for name in names or ():
            path = os.path.join(pod, name)
            if os.path.isdir(path) and not os.path.islink(path):
                current.add(path)
        for path in sorted(current | known):
            if path not in scanned:
                self._scan_container(path, scanned)
        if names is None:
            self._pods.pop(pod, None)
            self._unwatch(pod)
        else:
            self._pods[pod] = current

    def _scan_links(self, scanned: set[str]) -> None:
        if self._links is None:
            return
        self._watch(self._links, _DIR_MASK)
        try:
            names = os.listdir(self._links)
        except (FileNotFoundError, NotADirectoryError):
            return
        for name in sorted(names):
            if not name.endswith(".log"):
                continue
            target = os.path.realpath(os.path.join(self._links, name))
            if parse_log_path(target) is None:
                continue
            cdir = os.path.dirname(target)
            if cdir not in scanned:
                self._scan_container(cdir, scanned)

    def _scan_container(self, path: str, scanned: set[str]) -> None:
        scanned.add(path)
        c = self._containers.get(path)
        if c is None:
            base = _parse_container_dir(path)
            if base is None:
                return
            c = _Container(path, *base)
            self._containers[path] = c
        self._watch(path, _CONTAINER_MASK)
        try:
            names = os.listdir(path)
        except (FileNotFoundError, NotADirectoryError):
            names = []
            c.gone = True
            self._unwatch(path)
        else:
            c.gone = False
        entries: list[tuple[str, os.stat_result, int, int, str]] = []
        for name in names:
            m = _ACTIVE.match(name)
            rank, ts = 1, ""
            if m is None:
                m = _ROTATED.match(name)
                if m is None:
                    continue  # .gz, .tmp and anything unknown: never read
                rank, ts = 0, m.group(2)
            fpath = os.path.join(path, name)
            try:
                st = os.lstat(fpath)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(st.st_mode):
                entries.append((fpath, st, int(m.group(1)), rank, ts))
        entries.sort(key=lambda e: (e[2], e[3], e[4]))
        self._reconcile(c, entries)

    def _reconcile(self, c: _Container, entries: list[tuple[str, os.stat_result, int, int, str]]) -> None:
        self._active.add(c.path)
        now = self._clock()
        seen: set[tuple[int, int]] = set()
        for fpath, st, restart, rank, ts in entries:
            key = (st.st_dev, st.st_ino)
            seen.add(key)
            f = self._files.get(key)
            if f is not None and f.fd is None and not self._same_file(f, fpath, st):
                self._stats["inode_reuses"] += 1
                log.info("inode reused by a new file", extra=log_fields(path=fpath, inode=f.ino))
                self._drop(f)
                f = None
            if f is None:
                self._add_file(c, fpath, st, restart, rank, ts, now)
                continue
            if f not in c.files:  # moved between container directories: follow it
                for other in self._containers.values():
                    if f in other.files:
                        other.files.remove(f)
                c.files.append(f)
            if f.path != fpath:
                if f.rank == 1 and rank == 0:
                    self._stats["rotations"] += 1
                log.debug("file renamed", extra=log_fields(old=f.path, new=fpath, inode=f.ino))
            f.path, f.restart, f.rank, f.ts, f.present = fpath, restart, rank, ts, True
            if f.fd is None and st.st_size != f.offset:
                self._open(f, now)  # a closed file grew (or shrank) again: read it
        for f in c.files:
            if (f.dev, f.ino) not in seen:
                f.present = False
        c.files.sort(key=_File.sort_key)

    def _same_file(self, f: _File, path: str, st: os.stat_result) -> bool:
        """Whether a closed record still describes the file now at (dev, inode)."""
        if st.st_size == f.last_size and st.st_mtime_ns == f.last_mtime:
            return True
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            return False
        try:
            head = os.pread(fd, f.fp_len, 0)
        finally:
            os.close(fd)
        return len(head) == f.fp_len and _hash(head) == f.fp

    def _add_file(
        self, c: _Container, path: str, st: os.stat_result, restart: int, rank: int, ts: str, now: float
    ) -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            return  # vanished or unreadable since listdir; the next scan decides
        fst = os.fstat(fd)
        if (fst.st_dev, fst.st_ino) != (st.st_dev, st.st_ino):
            os.close(fd)  # replaced between lstat and open; the next scan sees the new one
            return
        self._stats["files_opened"] += 1
        size = fst.st_size
        head = os.pread(fd, FINGERPRINT_BYTES, 0)
        offset = self._resume_offset(fst, head, path)
        filling = False
        if offset is None and rank == 0:
            offset = self._copy_offset(c, head, size, path)
            filling = offset is not None and offset > size
        if offset is None:
            offset = size if (self._initial and self._start_at == "end") else 0
        if offset > size and not filling:
            log.warning(
                "file shorter than its checkpoint, reading from 0",
                extra=log_fields(path=path, offset=offset, size=size),
            )
            self._stats["truncations"] += 1
            offset = 0
        self._seq += 1
        f = _File(
            dev=fst.st_dev,
            ino=fst.st_ino,
            fp=_hash(head),
            fp_len=len(head),
            path=path,
            restart=restart,
            rank=rank,
            ts=ts,
            seq=self._seq,
            offset=offset,
            fd=fd,
            last_growth=now,
            last_size=size,
            last_mtime=fst.st_mtime_ns,
            filling=filling,
        )
        self._files[(f.dev, f.ino)] = f
        c.files.append(f)
        log.debug("tailing file", extra=log_fields(path=path, inode=f.ino, offset=offset))

    def _resume_offset(self, st: os.stat_result, head: bytes, path: str) -> int | None:
        entries = self._resume.get((st.st_dev, st.st_ino))
        if not entries:
            return None
        for fid, off in entries:
            if fid.fp_len <= len(head) and _hash(head[: fid.fp_len]) == fid.fingerprint:
                del self._resume[(st.st_dev, st.st_ino)]
                self._stats["resumed"] += 1
                return off
        del self._resume[(st.st_dev, st.st_ino)]
        self._stats["inode_reuses"] += 1
        log.info("checkpointed inode now holds another file, reading from 0", extra=log_fields(path=path))
        return 0

    def _copy_offset(self, c: _Container, head: bytes, size: int, path: str) -> int | None:
        """A new rotated-name file whose first bytes match a file we track is a copytruncate
        copy: only what we had not read of the original is new."""
        for other in c.files:
            for fp, fp_len, off in ((other.fp, other.fp_len, other.offset), other.prev or ("", 0, 0)):
                if 0 < fp_len <= len(head) and _hash(head[:fp_len]) == fp:
                    self._stats["copies_skipped"] += 1
                    log.info(
                        "rotated copy of a tailed file, skipping what was read",
                        extra=log_fields(path=path, original=other.path, offset=off, size=size),
                    )
                    # `off` even when the copy is shorter: it is still being written, and
                    # starting at its current end would start mid-line.
                    return off
        return None

    # ------------------------------------------------------------------ reading

    def _read_container(self, c: _Container, now: float, out: list[Read]) -> bool:
        """Read the container's files oldest first; True when one still has unread data (then
        newer files wait, which keeps the container's lines in order)."""
        newest: _File | None = None
        for f in reversed(c.files):
            if f.present and f.rank == 1:
                newest = f
                break
        for f in list(c.files):
            if f.fd is None:
                continue
            if self._budget <= 0:
                return True
            if self._read_file(c, f, f is not newest, now, out):
                return True
        return False

    def _read_file(self, c: _Container, f: _File, retired: bool, now: float, out: list[Read]) -> bool:
        assert f.fd is not None
        st = os.fstat(f.fd)
        if st.st_nlink == 0:
            retired = True
        size = st.st_size
        changed = size != f.last_size or st.st_mtime_ns != f.last_mtime
        if size != f.last_size:
            f.last_growth = now
        f.last_size, f.last_mtime = size, st.st_mtime_ns
        if f.filling:
            if size < f.offset:
                return False  # the copy is still being written up to where we were
            f.filling = False
        if size < f.offset:
            self._stats["truncations"] += 1
            log.warning(
                "file truncated, reading from 0", extra=log_fields(path=f.path, offset=f.offset, size=size)
            )
            self._restart(f, f.fd)
        elif changed:
            self._check_head(f, f.fd)
        pending = False
        if size > f.offset:
            start = f.offset
            data = os.pread(f.fd, min(self._read_size, size - start), start)
            cut = data.rfind(b"\n") + 1
            if cut == 0 and len(data) >= self._read_size:
                self._stats["forced_splits"] += 1
                log.warning(
                    "line longer than read_size, delivered in pieces",
                    extra=log_fields(path=f.path, read_size=self._read_size),
                )
                cut = len(data)
            if cut:
                self._emit(c, f, data[:cut], out)
            # More bytes beyond what this read covered: come back before reading newer files.
            pending = start + len(data) < size
        if retired and not pending:
            deadline = f.last_growth + self._grace
            if now >= deadline:
                if size > f.offset:  # an unterminated last line: nothing will complete it now
                    tail = os.pread(f.fd, min(size - f.offset, self._read_size), f.offset)
                    if tail:
                        self._emit(c, f, tail, out)
                    if f.offset < size:
                        return True
                self._close_fd(f)
                log.debug("closed retired file", extra=log_fields(path=f.path, inode=f.ino))
            elif self._next_close is None or deadline < self._next_close:
                self._next_close = deadline
        return pending

    def _emit(self, c: _Container, f: _File, data: bytes, out: list[Read]) -> None:
        out.append(Read(f.file_id, f.path, c.info(f), f.offset, data))
        f.offset += len(data)
        self._budget -= len(data)
        self._stats["reads"] += 1
        self._stats["bytes_read"] += len(data)

    def _check_head(self, f: _File, fd: int) -> None:
        """Detect an in-place rewrite (first bytes changed) and grow a short fingerprint."""
        head = os.pread(fd, FINGERPRINT_BYTES, 0)
        if len(head) < f.fp_len or _hash(head[: f.fp_len]) != f.fp:
            self._stats["rewrites"] += 1
            log.warning(
                "file rewritten in place, reading from 0", extra=log_fields(path=f.path, offset=f.offset)
            )
            self._restart(f, fd)
        elif len(head) > f.fp_len:
            f.fp, f.fp_len = _hash(head), len(head)

    def _restart(self, f: _File, fd: int) -> None:
        f.prev = (f.fp, f.fp_len, f.offset)
        f.offset = 0
        head = os.pread(fd, FINGERPRINT_BYTES, 0)
        f.fp, f.fp_len = _hash(head), len(head)

    # ------------------------------------------------------------------ bookkeeping

    def _open(self, f: _File, now: float) -> None:
        try:
            fd = os.open(f.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            return
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (f.dev, f.ino):
            os.close(fd)
            return
        f.fd = fd
        f.last_growth = now
        self._stats["files_opened"] += 1

    def _close_fd(self, f: _File) -> None:
        if f.fd is not None:
            os.close(f.fd)
            f.fd = None
            self._stats["files_closed"] += 1

    def _drop(self, f: _File) -> None:
        self._close_fd(f)
        self._files.pop((f.dev, f.ino), None)
        for c in self._containers.values():
            if f in c.files:
                c.files.remove(f)

    def _prune(self, c: _Container) -> None:
        """Forget closed files no longer on disk, and containers with nothing left."""
        for f in [f for f in c.files if f.fd is None and not f.present]:
            self._files.pop((f.dev, f.ino), None)
            c.files.remove(f)
        if c.gone and not c.files:
            del self._containers[c.path]
