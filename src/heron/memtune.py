"""glibc allocator settings for the node agent's 64 MiB budget; no-ops on other C libraries.

Why: the agent's threads (reader, shipper, pod watch, metrics) each get their own malloc arena
by default, and every arena keeps its freed pages. Measured with 500 tailed files and the pod
watch on, capping arenas at two and handing freed pages back every few seconds kept several
MiB off the agent's RSS (bench/RESULTS.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Callable

__all__ = ["limit_arenas", "trimmer"]

_M_ARENA_MAX = -8  # mallopt parameter number, from glibc's malloc.h


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def limit_arenas(count: int) -> bool:
    """Cap glibc's malloc arenas (call before threads start); True if the C library took it."""
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(_M_ARENA_MAX, count))


def trimmer() -> Callable[[], object] | None:
    """A call that hands freed heap pages back to the OS (`malloc_trim(0)`), or None."""
    libc = _libc()
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    return lambda: trim(0)
