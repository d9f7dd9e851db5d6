"""Per-thread zstd contexts shared by the chunk codecs.

Contexts are costly to create and not thread-safe, so each thread keeps its own; readers on
the query thread pool and the writer never share one.
"""

from __future__ import annotations

import threading

import zstandard

__all__ = ["codecs"]


class _Codecs(threading.local):
    def __init__(self) -> None:
        self.compressors: dict[int, zstandard.ZstdCompressor] = {}
        self.decompressor = zstandard.ZstdDecompressor()

    def compressor(self, level: int) -> zstandard.ZstdCompressor:
        c = self.compressors.get(level)
        if c is None:
            c = self.compressors[level] = zstandard.ZstdCompressor(level=level)
        return c


codecs = _Codecs()
