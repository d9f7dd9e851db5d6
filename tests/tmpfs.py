"""A small real tmpfs for tests that fill a disk: ENOSPC from the kernel, not from a mock.

Mounting needs root, which the test machine has. The mount is always undone, however the test
ends, so a failing test leaves no mount behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import time
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[Path]:
    """Mount a tmpfs of `size` (e.g. "4m") at `path` for the duration of the block."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        for _ in range(50):
            if subprocess.run(["umount", str(path)], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)  # a child process that was just killed may still hold a file open
        else:
            subprocess.run(["umount", "-l", str(path)], check=True)


def resize(path: Path, size: str) -> None:
    """Give the tmpfs at `path` a new size: room comes back (or goes) for every open file."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True)


def fill(path: Path, name: str = "filler") -> Path:
    """Write a file into the filesystem of `path` until it is full; returns the file."""
    filler = path / name
    chunk = b"\0" * (64 * 1024)
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        for _ in range(1 << 20):
            try:
                n = os.write(fd, chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                break
            if n < len(chunk):
                chunk = chunk[:1]  # the last pages: fill them byte by byte
        else:
            raise AssertionError(f"{path} never filled up")
    finally:
        os.close(fd)
    return filler


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize
