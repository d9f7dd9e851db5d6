"""The head's in-memory codec for metric samples: many series' samples packed into one
zstd frame, so a sample costs a few bits in memory and a series no Python object of its own.

A group chunk holds the samples of up to `GROUP_SLOTS` series (those whose slot numbers share
`slot // GROUP_SLOTS`) that arrived between two folds of the head's staging area. Samples are
series-major and time-ordered within each series. Two streams, each narrowed to the smallest
byte width and laid out as byte planes so that zstd sees long runs of equal bytes:

* timestamps: per series, the first one minus the chunk's smallest, then the first delta, then
  deltas of deltas (all zero for a steady scrape interval), zigzag-coded;
* values: float64 bits XORed with the series' previous value (the first against zero), so a
  constant gauge is all zeros and a slowly moving one keeps only its low mantissa bytes.

This form never leaves memory: blocks and the WAL use their own formats (docs/format/), and
the head is rebuilt from the WAL after a restart, so the layout may change between versions.
Every step is numpy over whole arrays; decoding is exact, NaN payloads included.
"""

from __future__ import annotations

import struct

import numpy as np

from heron.storage._zstd import codecs

__all__ = ["GROUP_SLOTS", "pack_group", "unpack_group", "segment_bounds"]

GROUP_SLOTS = 512
_HEADER = struct.Struct("<qIBB")  # base timestamp, sample count, ts width, value width
_WIDTH_DTYPES = {1: np.dtype("<u1"), 2: np.dtype("<u2"), 4: np.dtype("<u4"), 8: np.dtype("<u8")}
_LEVEL = 1


def segment_bounds(offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of every non-empty series, from offsets of length series + 1."""
    nonempty = offsets[1:] > offsets[:-1]
    return offsets[:-1][nonempty], offsets[1:][nonempty]


def _width(u: np.ndarray) -> int:
    top = int(u.max()) if len(u) else 0
    if top == 0:
        return 0
    if top <= 0xFF:
        return 1
    if top <= 0xFFFF:
        return 2
    if top <= 0xFFFF_FFFF:
        return 4
    return 8


def _planes(u: np.ndarray, w: int) -> bytes:
    if w == 0:
        return b""
    narrow = u.astype(_WIDTH_DTYPES[w], copy=False)
    if w == 1:
        return narrow.tobytes()
    return np.ascontiguousarray(narrow.view(np.uint8).reshape(-1, w).T).tobytes()


def _unplanes(buf: bytes, off: int, w: int, n: int) -> np.ndarray:
    if w == 0:
        return np.zeros(n, dtype=np.uint64)
    raw = np.frombuffer(buf, dtype=np.uint8, count=n * w, offset=off)
    if w == 1:
        return raw.astype(np.uint64)
    return np.ascontiguousarray(raw.reshape(w, n).T).view(_WIDTH_DTYPES[w]).reshape(n).astype(np.uint64)


def _seg_cumsum(x: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Cumulative sum restarting at each index in `starts` (which includes 0)."""
    cs = np.cumsum(x)
    before = np.zeros(len(starts), dtype=cs.dtype)
    nz = starts > 0
    before[nz] = cs[starts[nz] - 1]
    seg = np.zeros(len(x), dtype=np.int64)
    seg[starts[1:]] = 1
    return cs - before[np.cumsum(seg)]


def _seg_cumxor(x: np.ndarray, starts: np.ndarray) -> np.ndarray:
    cx = np.bitwise_xor.accumulate(x)
    before = np.zeros(len(starts), dtype=cx.dtype)
    nz = starts > 0
    before[nz] = cx[starts[nz] - 1]
    seg = np.zeros(len(x), dtype=np.int64)
    seg[starts[1:]] = 1
    return cx ^ before[np.cumsum(seg)]


def pack_group(ts: np.ndarray, vals: np.ndarray, offsets: np.ndarray) -> bytes:
    """Encode series-major samples; series i is [offsets[i], offsets[i+1]), time-ordered."""
    n = len(ts)
    starts, ends = segment_bounds(offsets)
    base = int(ts.min())
    prev = np.empty(n, dtype=np.int64)
    prev[0] = 0
    prev[1:] = ts[:-1]
    d = ts - prev
    d[starts] = ts[starts] - base
    pd = np.empty(n, dtype=np.int64)
    pd[0] = 0
    pd[1:] = d[:-1]
    pd[starts] = 0
    second = starts + 1
    pd[second[second < ends]] = 0
    dd = d - pd
    zz = ((dd << 1) ^ (dd >> 63)).view(np.uint64)
    bits = vals.view(np.uint64)
    pb = np.empty(n, dtype=np.uint64)
    pb[0] = 0
    pb[1:] = bits[:-1]
    pb[starts] = 0
    x = bits ^ pb
    tw, vw = _width(zz), _width(x)
    payload = _planes(zz, tw) + _planes(x, vw)
    return _HEADER.pack(base, n, tw, vw) + codecs.compressor(_LEVEL).compress(payload)


def unpack_group(data: bytes, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of `pack_group` given the same offsets: (timestamps int64, values float64)."""
    base, n, tw, vw = _HEADER.unpack_from(data, 0)
    payload = codecs.decompressor.decompress(data[_HEADER.size :], max_output_size=n * (tw + vw))
    zz = _unplanes(payload, 0, tw, n)
    x = _unplanes(payload, n * tw, vw, n)
    starts, ends = segment_bounds(offsets)
    one = np.uint64(1)
    dd = (zz >> one).view(np.int64) ^ -((zz & one).view(np.int64))
    second = starts + 1
    second = second[second < ends]
    bounds = np.union1d(starts, second)
    d = _seg_cumsum(dd, bounds)
    ts = _seg_cumsum(d, starts) + base
    vals = _seg_cumxor(x, starts).view(np.float64)
    return ts, vals
