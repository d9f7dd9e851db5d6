"""A minimal Linux inotify binding through ctypes, used only to wake the log tailer early.

Why ctypes rather than a dependency: the tailer needs four calls (`inotify_init1`,
`inotify_add_watch`, `inotify_rm_watch`, `read`) and nothing else, and heron ships without
native extensions of its own. Events are hints, never the source of truth: the tailer rescans
the directory tree on an interval anyway, so a lost or overflowed event only costs latency.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import struct
from dataclasses import dataclass

__all__ = [
    "Inotify",
    "InotifyEvent",
    "inotify_available",
    "IN_MODIFY",
    "IN_ATTRIB",
    "IN_MOVED_FROM",
    "IN_MOVED_TO",
    "IN_CREATE",
    "IN_DELETE",
    "IN_DELETE_SELF",
    "IN_MOVE_SELF",
    "IN_Q_OVERFLOW",
    "IN_IGNORED",
    "IN_ONLYDIR",
    "IN_ISDIR",
]

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_ISDIR = 0x40000000

_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC

# struct inotify_event { int wd; uint32_t mask; uint32_t cookie; uint32_t len; char name[]; }
_HEADER = struct.Struct("iIII")
_READ_SIZE = 64 * 1024


@dataclass(frozen=True, slots=True)
class InotifyEvent:
    """One kernel event: the watch it came from, its mask, and the entry name (empty for self)."""

    wd: int
    mask: int
    cookie: int
    name: str


def _load_libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        for fn in ("inotify_init1", "inotify_add_watch", "inotify_rm_watch"):
            getattr(libc, fn)
    except (OSError, AttributeError):
        return None
    libc.inotify_init1.argtypes = [ctypes.c_int]
    libc.inotify_init1.restype = ctypes.c_int
    libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    libc.inotify_add_watch.restype = ctypes.c_int
    libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.inotify_rm_watch.restype = ctypes.c_int
    return libc


_LIBC = _load_libc()


def inotify_available() -> bool:
    """Whether libc exposes inotify at all (false off Linux or under an exotic libc)."""
    return _LIBC is not None


class Inotify:
    """A non-blocking inotify instance: add/remove watches, drain pending events, expose the fd.

    Raises OSError from the constructor when inotify cannot be used (no libc symbol, or the
    per-user instance limit is reached); callers fall back to polling.
    """

    def __init__(self) -> None:
        if _LIBC is None:
            raise OSError(errno.ENOSYS, "inotify is not available in this libc")
        fd = _LIBC.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_init1: {os.strerror(err)}")
        self._fd: int | None = fd

    def fileno(self) -> int:
        """The descriptor to wait on with select/poll; readable when events are pending."""
        if self._fd is None:
            raise ValueError("inotify instance is closed")
        return self._fd

    def add_watch(self, path: str, mask: int) -> int:
        """Watch `path` for `mask`; returns the watch descriptor (the same one for a re-add).

        Raises OSError, e.g. ENOENT when the directory vanished or ENOSPC at the per-user
        watch limit (fs.inotify.max_user_watches).
        """
        assert _LIBC is not None
        wd = _LIBC.inotify_add_watch(self.fileno(), os.fsencode(path), mask)
        if wd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_add_watch: {os.strerror(err)}", path)
        return int(wd)

    def rm_watch(self, wd: int) -> None:
        """Remove a watch; a watch the kernel already dropped (directory deleted) is ignored."""
        assert _LIBC is not None
        _LIBC.inotify_rm_watch(self.fileno(), wd)

    def read_events(self) -> list[InotifyEvent]:
        """Drain every pending event without blocking (an empty list when there are none)."""
        events: list[InotifyEvent] = []
        while True:
            try:
                buf = os.read(self.fileno(), _READ_SIZE)
            except BlockingIOError:
                return events
            if not buf:
                return events
            pos = 0
            while pos + _HEADER.size <= len(buf):
                wd, mask, cookie, length = _HEADER.unpack_from(buf, pos)
                pos += _HEADER.size
                raw = buf[pos : pos + length].split(b"\0", 1)[0]
                pos += length
                events.append(InotifyEvent(wd, mask, cookie, os.fsdecode(raw)))

    def close(self) -> None:
        """Release the descriptor (and with it every watch); safe to call twice."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Inotify:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
