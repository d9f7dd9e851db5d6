"""Prometheus' label-set hash, which decides `limit_ratio`'s deterministic sample.

Prometheus 3 builds with `stringlabels` labels: a label set is the concatenation of
`len(name) name len(value) value` for its labels in name order (a length under 255 is one byte,
longer ones are 0xFF and three little-endian bytes), and `Labels.Hash()` is XXH64 (seed 0) of
those bytes. `limit_ratio` keeps a series when `hash / 2^64` falls inside the ratio, so Heron
must hash the same bytes the same way to keep the same series. XXH64 is written out here (a
few dozen integer operations per 32 bytes); it runs once per series, never per sample.
"""

from __future__ import annotations

import struct

from heron.model import Labels

__all__ = ["xxh64", "labels_hash", "labels_bytes"]

_MASK = (1 << 64) - 1
_P1 = 0x9E3779B185EBCA87
_P2 = 0xC2B2AE3D27D4EB4F
_P3 = 0x165667B19E3779F9
_P4 = 0x85EBCA77C2B2AE63
_P5 = 0x27D4EB2F165667C5


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _MASK


def _round(acc: int, lane: int) -> int:
    acc = (acc + lane * _P2) & _MASK
    return (_rotl(acc, 31) * _P1) & _MASK


def _merge(acc: int, val: int) -> int:
    acc ^= _round(0, val)
    return (acc * _P1 + _P4) & _MASK


def xxh64(data: bytes, seed: int = 0) -> int:
    """XXH64 of `data` (the 64-bit xxHash that Go's cespare/xxhash computes with seed 0)."""
    n = len(data)
    i = 0
    if n >= 32:
        v1 = (seed + _P1 + _P2) & _MASK
        v2 = (seed + _P2) & _MASK
        v3 = seed & _MASK
        v4 = (seed - _P1) & _MASK
        limit = n - 32
        while i <= limit:
            a, b, c, d = struct.unpack_from("<4Q", data, i)
            v1 = _round(v1, a)
            v2 = _round(v2, b)
            v3 = _round(v3, c)
            v4 = _round(v4, d)
            i += 32
        h = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & _MASK
        h = _merge(h, v1)
        h = _merge(h, v2)
        h = _merge(h, v3)
        h = _merge(h, v4)
    else:
        h = (seed + _P5) & _MASK
    h = (h + n) & _MASK
    while i + 8 <= n:
        (lane,) = struct.unpack_from("<Q", data, i)
        h ^= _round(0, lane)
        h = (_rotl(h, 27) * _P1 + _P4) & _MASK
        i += 8
    if i + 4 <= n:
        (lane,) = struct.unpack_from("<I", data, i)
        h ^= (lane * _P1) & _MASK
        h = (_rotl(h, 23) * _P2 + _P3) & _MASK
        i += 4
    while i < n:
        h ^= (data[i] * _P5) & _MASK
        h = (_rotl(h, 11) * _P1) & _MASK
        i += 1
    h ^= h >> 33
    h = (h * _P2) & _MASK
    h ^= h >> 29
    h = (h * _P3) & _MASK
    h ^= h >> 32
    return h


def _size(n: int) -> bytes:
    if n < 255:
        return bytes((n,))
    return bytes((255, n & 0xFF, (n >> 8) & 0xFF, (n >> 16) & 0xFF))


def labels_bytes(labels: Labels) -> bytes:
    """The `stringlabels` encoding of a sorted label set."""
    out = bytearray()
    for name, value in labels:
        for text in (name, value):
            raw = text.encode("utf-8", "surrogateescape")
            out += _size(len(raw))
            out += raw
    return bytes(out)


def labels_hash(labels: Labels) -> int:
    """Prometheus' `Labels.Hash()` of a label set (names sorted, `__name__` included)."""
    return xxh64(labels_bytes(labels))
