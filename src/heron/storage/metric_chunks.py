"""Metric sample codecs: one series' (ms timestamp, float64) samples, alone or in zstd frames.

Two layers, both specified byte for byte in docs/format/metric-chunk.md:

* `encode_samples` / `decode_samples`: one series, no zstd. Head chunks live in memory in this
  form, so it has to be small by itself: timestamps become a grid or delta-of-delta residual,
  values become decimal-scaled integer deltas, and both are narrowed to the smallest byte width
  (0 bytes when a stream is all zeros, e.g. exact 15 s scrapes or a constant gauge). Values that
  are not short decimals are XORed with their predecessor and stored as byte planes with the
  all-zero planes left out.
* `encode_frame` / `decode_frame`: many series (typically 64) compressed together with zstd,
  laid out column-wise (all series headers, then all timestamp streams, then all value streams)
  so that similar bytes sit next to each other. Compressing many series together gains more
  than any per-series trick (DESIGN.md, "Storage").

Every transform is numpy over whole arrays; Python only handles a few header fields per series.
Floats round-trip bit-exactly: NaN payloads (the Prometheus stale marker included), +-Inf and
-0.0 all survive, because any series the decimal path cannot reproduce bit for bit falls back
to the XOR path, which is lossless by construction.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import zstandard

from heron.storage._zstd import codecs
from heron.storage.types import CorruptionError

__all__ = [
    "SAMPLES_VERSION",
    "FRAME_MAGIC",
    "FRAME_VERSION",
    "FRAME_HEADER_SIZE",
    "MAX_SERIES_SAMPLES",
    "encode_samples",
    "decode_samples",
    "encode_frame",
    "decode_frame",
    "frame_series_count",
    "frame_sample_count",
]

SAMPLES_VERSION = 1  # first byte of every encode_samples() result
FRAME_MAGIC = b"HMET"
FRAME_VERSION = 1

# magic, version, flags, reserved, series count, sample count, raw size, zstd size, crc32
_FRAME_HEADER = struct.Struct("<4sBBHIIIII")
FRAME_HEADER_SIZE = _FRAME_HEADER.size  # 28
_CRC_OFFSET = FRAME_HEADER_SIZE - 4

# Timestamp encodings (bits 0-1 of the ts byte).
TS_RAW = 0  # ts[1:] as int64: only when a delta does not fit in int64
TS_DOD = 1  # t0, d0 in the header; stream = zigzag(delta of delta), n-2 values
TS_GRID = 2  # base, step in the header; stream = ts[i] - base - i*step (unsigned), n values

# Value encodings (bits 0-1 of the value byte).
V_XOR = 0  # first float64 bits in the header; stream = byte planes of bits[i] ^ bits[i-1]
V_DEC = 1  # k, v0 (and d0 for order 2) in the header; stream = zigzag(order-th difference)

_WIDTHS = (0, 1, 2, 4, 8)  # width code -> bytes per value
_UDTYPES = {1: np.dtype("<u1"), 2: np.dtype("<u2"), 4: np.dtype("<u4"), 8: np.dtype("<u8")}
_F64 = np.dtype("<f8")
_I64 = np.dtype("<i8")
_U64 = np.dtype("<u8")
_MASK64 = (1 << 64) - 1
_TWO53 = float(1 << 53)
_GRID_LIMIT = 1 << 61
_POW10 = tuple(10.0**k for k in range(10))
_MAX_K = 9
_U32_MAX = (1 << 32) - 1
MAX_SERIES_SAMPLES = 1 << 24
"""Most samples one series may hold in one encoding (a month of 1 s scrapes is 2.7M). The
bound keeps a damaged count from allocating gigabytes before the length checks can object."""


# --------------------------------------------------------------------------------------------
# small helpers


def _width_code(biggest: int) -> int:
    """Smallest width code whose width holds the unsigned value `biggest`."""
    if biggest == 0:
        return 0
    if biggest <= 0xFF:
        return 1
    if biggest <= 0xFFFF:
        return 2
    if biggest <= 0xFFFF_FFFF:
        return 3
    return 4


def _zigzag(x: np.ndarray) -> np.ndarray:
    """int64 -> uint64 with small magnitudes (either sign) mapping to small numbers."""
    return ((x << 1) ^ (x >> 63)).view(np.uint64)


def _unzigzag(u: np.ndarray) -> np.ndarray:
    u = u.astype(np.uint64, copy=False)
    one = np.uint64(1)
    return (u >> one).view(np.int64) ^ -((u & one).view(np.int64))


def _narrow(u: np.ndarray) -> tuple[int, bytes]:
    """(width code, bytes) of a uint64 array at the smallest width that holds every value.

    Widths of 2+ bytes are stored as byte planes (all low bytes, then all next bytes, ...): the
    high bytes of mostly-small numbers are mostly zero and end up in one run that zstd removes.
    """
    if u.shape[0] == 0:
        return 0, b""
    wcode = _width_code(int(u.max()))
    w = _WIDTHS[wcode]
    if w == 0:
        return 0, b""
    if w == 1:
        return wcode, u.astype(np.uint8).tobytes()
    return wcode, np.ascontiguousarray(u.astype(_UDTYPES[w]).view(np.uint8).reshape(-1, w).T).tobytes()


def _unpack(buf: bytes | memoryview, offset: int, width: int, count: int) -> np.ndarray:
    """Inverse of `_narrow`: `count` unsigned values stored `width` bytes each (0 = all zero)."""
    if width == 0:
        return np.zeros(count, dtype=np.uint64)
    if width == 1:
        return np.frombuffer(buf, dtype=np.uint8, count=count, offset=offset)
    planes = np.frombuffer(buf, dtype=np.uint8, count=count * width, offset=offset)
    return np.ascontiguousarray(planes.reshape(width, count).T).view(_UDTYPES[width]).reshape(count)


def _widen(buf: bytes | memoryview, offset: int, width: int, count: int) -> np.ndarray:
    """`count` zigzag-coded values stored by `_narrow`, decoded to int64."""
    if width == 0:
        return np.zeros(count, dtype=np.int64)
    return _unzigzag(_unpack(buf, offset, width, count))


def _put_uvarint(out: bytearray, v: int) -> None:
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def _put_svarint(out: bytearray, v: int) -> None:
    _put_uvarint(out, (v << 1) if v >= 0 else ((-v) << 1) - 1)


def _get_uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise CorruptionError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            if result > _MASK64:
                raise CorruptionError("varint out of range")
            return result, pos
        shift += 7
        if shift > 63:
            raise CorruptionError("varint too long")


def _get_svarint(buf: bytes, pos: int) -> tuple[int, int]:
    u, pos = _get_uvarint(buf, pos)
    v = (u >> 1) ^ -(u & 1)
    if not -(1 << 63) <= v < (1 << 63):
        raise CorruptionError("signed varint out of int64 range")
    return v, pos


def _spread(a: np.ndarray) -> float:
    """Tie-breaker between two equally wide candidate streams: the one with less variance
    usually has less entropy, which is what zstd pays for. (np.var is several times slower.)"""
    n = a.shape[0]
    if n == 0:
        return 0.0
    f = a.astype(np.float64)
    s = float(f.sum())
    return (float(f @ f) - s * s / n) / n


# --------------------------------------------------------------------------------------------
# one series: header + timestamp stream + value stream


def _encode_ts(ts: np.ndarray, head: bytearray) -> bytes:
    n = ts.shape[0]
    t0 = int(ts[0])
    if n == 1:
        head.append(TS_DOD)
        _put_svarint(head, t0)
        return b""
    if not bool((ts[1:] > ts[:-1]).all()):
        raise ValueError("sample timestamps must be strictly ascending")
    d = ts[1:] - ts[:-1]  # (np.diff costs a few us of Python per call; this is the same)
    if bool((d < 0).any()):
        # a delta wrapped (true delta >= 2^63): no difference-based encoding is safe, store raw
        head.append(TS_RAW)
        _put_svarint(head, t0)
        return ts[1:].astype(_I64).tobytes()
    dod = d[1:] - d[:-1]  # deltas are in (0, 2^63), so this cannot overflow
    dod_w, dod_bytes = _narrow(_zigzag(dod))
    span = int(ts[-1]) - t0
    if dod_w and span < _GRID_LIMIT and abs(t0) < _GRID_LIMIT:
        # Scrapes sit on a grid with a few ms of independent jitter. Offsets from the grid line
        # below every sample are small and non-negative, with about half the range (and a bit
        # or two less entropy) of the delta of delta. The limits keep every intermediate of
        # ts[i] - i*step inside int64.
        step = (span + (n - 1) // 2) // (n - 1)
        off = ts - np.arange(n, dtype=np.int64) * step
        base = int(off.min())
        off -= base
        grid_w, grid_bytes = _narrow(off.view(np.uint64))
        if grid_w < dod_w or (grid_w == dod_w and _spread(off) < _spread(dod)):
            head.append(TS_GRID | (grid_w << 2))
            _put_svarint(head, base)
            _put_svarint(head, step)
            return grid_bytes
    head.append(TS_DOD | (dod_w << 2))
    _put_svarint(head, t0)
    _put_svarint(head, int(d[0]))
    return dod_bytes


def _decimal_scale(values: np.ndarray) -> tuple[int, np.ndarray] | None:
    """Smallest k in 0..9 with values == rint(values*10^k) / 10^k bit for bit, and those ints.

    The check runs the decoder's exact operations, so a series only takes the decimal path if
    it comes back bit-identical (-0.0, NaN and Inf never do, so they go to the XOR path).
    """
    first = float(values[0])
    if not math.isfinite(first):
        return None
    k0 = None
    for k in range(_MAX_K + 1):  # cheap scalar probe: no smaller k can work for the series
        s = first * _POW10[k]
        if abs(s) >= _TWO53:
            return None
        r = float(round(s)) / _POW10[k]
        if r == first and math.copysign(1.0, r) == math.copysign(1.0, first):
            k0 = k
            break
    if k0 is None:
        return None
    with np.errstate(invalid="ignore", over="ignore"):
        if not bool(np.isfinite(values).all()):
            return None
        bits = values.view(np.uint64)
        for k in range(k0, _MAX_K + 1):
            scaled = values * _POW10[k] if k else values
            if float(np.abs(scaled).max()) >= _TWO53:
                return None
            ints = np.rint(scaled).astype(np.int64)
            back = ints.astype(np.float64)
            if k:
                back /= _POW10[k]
            if bool((back.view(np.uint64) == bits).all()):
                return k, ints
    return None


def _encode_values(values: np.ndarray, head: bytearray) -> bytes:
    n = values.shape[0]
    dec = _decimal_scale(values)
    if dec is None:
        bits = values.view(np.uint64)
        head.append(V_XOR)
        head += int(bits[0]).to_bytes(8, "little")
        if n == 1:
            return b""
        x = bits[1:] ^ bits[:-1]
        used = int(np.bitwise_or.reduce(x))
        planes = [j for j in range(8) if (used >> (8 * j)) & 0xFF]
        head.append(sum(1 << j for j in planes))
        if not planes:
            return b""
        # byte-plane shuffle: all byte-js of the XORs together, so zstd sees runs of zeros and
        # of similar exponent bytes instead of 8-byte records with noise in every other byte
        return np.ascontiguousarray(x.view(np.uint8).reshape(n - 1, 8)[:, planes].T).tobytes()
    k, ints = dec
    v0 = int(ints[0])
    if n == 1:
        head.append(V_DEC | (1 << 5))
        head.append(k)
        _put_svarint(head, v0)
        return b""
    d = ints[1:] - ints[:-1]  # |ints| < 2^53, so neither difference can overflow
    w1, b1 = _narrow(_zigzag(d))
    order, wcode, stream, d0 = 1, w1, b1, 0
    if w1 and n > 2:
        dd = d[1:] - d[:-1]
        w2, b2 = _narrow(_zigzag(dd))
        if w2 < w1 or (w2 == w1 and _spread(dd) < _spread(d)):
            order, wcode, stream, d0 = 2, w2, b2, int(d[0])
    head.append(V_DEC | (wcode << 2) | (order << 5))
    head.append(k)
    _put_svarint(head, v0)
    if order == 2:
        _put_svarint(head, d0)
    return stream


def _encode_series(ts: np.ndarray, values: np.ndarray) -> tuple[bytes, bytes, bytes]:
    """(header, timestamp stream, value stream) of one series."""
    ts = np.ascontiguousarray(ts, dtype=np.int64).reshape(-1)
    values = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
    n = ts.shape[0]
    if values.shape[0] != n:
        raise ValueError(f"{n} timestamps but {values.shape[0]} values")
    if n > MAX_SERIES_SAMPLES:
        raise ValueError(f"{n} samples is more than one series chunk may hold ({MAX_SERIES_SAMPLES})")
    head = bytearray()
    _put_uvarint(head, n)
    if n == 0:
        return bytes(head), b"", b""
    ts_stream = _encode_ts(ts, head)
    val_stream = _encode_values(values, head)
    return bytes(head), ts_stream, val_stream


@dataclass
class _SeriesHeader:
    n: int
    ts_mode: int = TS_DOD
    ts_w: int = 0  # bytes per timestamp stream value
    t0: int = 0  # first timestamp (RAW, DOD) or grid base (GRID)
    t_anchor: int = 0  # d0 (DOD) or step (GRID)
    v_mode: int = V_DEC
    v_w: int = 0  # bytes per value stream value (DEC)
    order: int = 1
    k: int = 0
    v0: int = 0  # first int (DEC) or first float64 bits (XOR)
    vd0: int = 0
    planes: tuple[int, ...] = ()
    ts_len: int = 0
    val_len: int = 0


def _parse_header(buf: bytes, pos: int) -> tuple[_SeriesHeader, int]:
    n, pos = _get_uvarint(buf, pos)
    if n > MAX_SERIES_SAMPLES:
        raise CorruptionError(f"series sample count {n} out of range")
    h = _SeriesHeader(n)
    if n == 0:
        return h, pos
    if pos >= len(buf):
        raise CorruptionError("truncated series header")
    tsb = buf[pos]
    pos += 1
    h.ts_mode, wcode = tsb & 3, tsb >> 2
    if h.ts_mode > TS_GRID or wcode >= len(_WIDTHS) or (h.ts_mode == TS_RAW and wcode):
        raise CorruptionError(f"bad timestamp encoding byte {tsb:#x}")
    h.ts_w = _WIDTHS[wcode]
    h.t0, pos = _get_svarint(buf, pos)
    if n >= 2 and h.ts_mode != TS_RAW:
        h.t_anchor, pos = _get_svarint(buf, pos)
    if h.ts_mode == TS_RAW:
        h.ts_len = 8 * (n - 1)
    elif h.ts_mode == TS_DOD:
        h.ts_len = h.ts_w * max(n - 2, 0)
    else:
        if n < 2:
            raise CorruptionError("grid timestamps need at least 2 samples")
        h.ts_len = h.ts_w * n
    if pos >= len(buf):
        raise CorruptionError("truncated series header")
    vb = buf[pos]
    pos += 1
    h.v_mode, wcode, h.order = vb & 3, (vb >> 2) & 7, vb >> 5
    if h.v_mode == V_XOR:
        if vb != V_XOR:
            raise CorruptionError(f"bad value encoding byte {vb:#x}")
        if pos + 8 > len(buf):
            raise CorruptionError("truncated series header")
        h.v0 = int.from_bytes(buf[pos : pos + 8], "little")
        pos += 8
        if n >= 2:
            if pos >= len(buf):
                raise CorruptionError("truncated series header")
            mask = buf[pos]
            pos += 1
            h.planes = tuple(j for j in range(8) if mask >> j & 1)
            h.val_len = len(h.planes) * (n - 1)
        return h, pos
    if h.v_mode != V_DEC or h.order not in (1, 2) or wcode >= len(_WIDTHS):
        raise CorruptionError(f"bad value encoding byte {vb:#x}")
    h.v_w = _WIDTHS[wcode]
    if pos >= len(buf):
        raise CorruptionError("truncated series header")
    h.k = buf[pos]
    pos += 1
    if h.k > _MAX_K:
        raise CorruptionError(f"decimal scale {h.k} out of range")
    h.v0, pos = _get_svarint(buf, pos)
    if h.order == 2:
        if n < 3:
            raise CorruptionError("order-2 value stream needs at least 3 samples")
        h.vd0, pos = _get_svarint(buf, pos)
    h.val_len = h.v_w * (n - h.order)
    return h, pos


def _decode_ts(h: _SeriesHeader, buf: bytes | memoryview, off: int) -> np.ndarray:
    """Timestamps of one series. The encoder keeps every intermediate inside int64 (that is
    what RAW is for); on damaged input that slipped past the CRC, numpy wraps instead of
    raising, and the caller's checks still hold."""
    n = h.n
    out = np.empty(n, dtype=np.int64)
    out[0] = h.t0
    if n == 1:
        return out
    if h.ts_mode == TS_RAW:
        out[1:] = np.frombuffer(buf, dtype=_I64, count=n - 1, offset=off)
        return out
    if h.ts_mode == TS_GRID:
        out = np.arange(n, dtype=np.int64) * h.t_anchor
        out += h.t0
        if h.ts_w:
            out += _unpack(buf, off, h.ts_w, n).astype(np.int64)
        return out
    d = np.empty(n - 1, dtype=np.int64)
    d[0] = h.t_anchor
    if n > 2:
        np.cumsum(_widen(buf, off, h.ts_w, n - 2), out=d[1:])
        d[1:] += h.t_anchor
    np.cumsum(d, out=out[1:])
    out[1:] += h.t0
    return out


def _decode_values(h: _SeriesHeader, buf: bytes | memoryview, off: int) -> np.ndarray:
    n = h.n
    if h.v_mode == V_XOR:
        x = np.empty(n, dtype=np.uint64)
        x[0] = h.v0
        if n > 1:
            m = n - 1
            if h.planes:
                planes = np.frombuffer(buf, dtype=np.uint8, count=len(h.planes) * m, offset=off)
                full = np.zeros((m, 8), dtype=np.uint8)
                full[:, list(h.planes)] = planes.reshape(len(h.planes), m).T
                x[1:] = full.view(np.uint64).reshape(m)
            else:
                x[1:] = 0
            np.bitwise_xor.accumulate(x, out=x)
        return x.view(np.float64)
    ints = np.empty(n, dtype=np.int64)
    ints[0] = h.v0
    if n > 1:
        if h.order == 1:
            if h.v_w:
                np.cumsum(_widen(buf, off, h.v_w, n - 1), out=ints[1:])
                ints[1:] += h.v0
            else:
                ints[1:] = h.v0
        else:
            d = np.empty(n - 1, dtype=np.int64)
            d[0] = h.vd0
            np.cumsum(_widen(buf, off, h.v_w, n - 2), out=d[1:])
            d[1:] += h.vd0
            np.cumsum(d, out=ints[1:])
            ints[1:] += h.v0
    values = ints.astype(np.float64)
    if h.k:
        values /= _POW10[h.k]
    return values


def encode_samples(ts: np.ndarray, values: np.ndarray) -> bytes:
    """One series' samples, compact without zstd (the in-memory head chunk form).

    `ts` are int64 ms, strictly ascending; `values` float64 (any bit pattern).
    """
    head, ts_stream, val_stream = _encode_series(ts, values)
    return b"".join((bytes((SAMPLES_VERSION,)), head, ts_stream, val_stream))


def decode_samples(buf: bytes | memoryview) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of `encode_samples`; malformed input raises CorruptionError.

    There is no checksum (this form never leaves memory), so only structural damage is caught.
    """
    data = bytes(buf)
    if not data:
        raise CorruptionError("empty sample chunk")
    if data[0] != SAMPLES_VERSION:
        raise CorruptionError(f"unsupported sample chunk version {data[0]}")
    h, pos = _parse_header(data, 1)
    implied = pos + h.ts_len + h.val_len
    if implied != len(data):
        raise CorruptionError(f"sample chunk is {len(data)} bytes, its header implies {implied}")
    try:
        return _decode_one(h, data, pos, pos + h.ts_len)
    except (ValueError, IndexError, OverflowError, TypeError) as exc:
        raise CorruptionError(f"malformed sample chunk: {exc}") from exc


def _decode_one(h: _SeriesHeader, buf: bytes, ts_off: int, val_off: int) -> tuple[np.ndarray, np.ndarray]:
    if h.n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        return _decode_ts(h, buf, ts_off), _decode_values(h, buf, val_off)


# --------------------------------------------------------------------------------------------
# frames: many series, column-wise, one zstd frame


def encode_frame(series: Sequence[tuple[np.ndarray, np.ndarray]], level: int = 3) -> bytes:
    """Many series' samples in one CRC-checked zstd frame, in the order given."""
    heads: list[bytes] = []
    ts_streams: list[bytes] = []
    val_streams: list[bytes] = []
    total = 0
    for ts, values in series:
        h, t, v = _encode_series(ts, values)
        heads.append(h)
        ts_streams.append(t)
        val_streams.append(v)
        total += len(ts)
    if len(heads) > _U32_MAX or total > _U32_MAX:
        raise ValueError("too many series or samples for one frame")
    sections = [b"".join(heads), b"".join(ts_streams), b"".join(val_streams)]
    raw_size = sum(map(len, sections))
    if raw_size > _U32_MAX:
        raise ValueError("frame too large")
    # One zstd frame, but a block ends after each section, so records, timestamps and values
    # each get their own entropy tables (about 5% smaller on jittered scrapes than one block).
    cobj = codecs.compressor(level).compressobj(size=raw_size)
    out: list[bytes] = []
    for i, section in enumerate(sections):
        out.append(cobj.compress(section))
        out.append(
            cobj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK if i < 2 else zstandard.COMPRESSOBJ_FLUSH_FINISH)
        )
    payload = b"".join(out)
    head = _FRAME_HEADER.pack(FRAME_MAGIC, FRAME_VERSION, 0, 0, len(heads), total, raw_size, len(payload), 0)
    crc = zlib.crc32(payload, zlib.crc32(head[:_CRC_OFFSET]))
    return b"".join((head[:_CRC_OFFSET], crc.to_bytes(4, "little"), payload))


def _read_frame_header(buf: bytes | memoryview) -> tuple[int, int, int, int, int]:
    if len(buf) < FRAME_HEADER_SIZE:
        raise CorruptionError(f"metric frame truncated: {len(buf)} bytes, header needs {FRAME_HEADER_SIZE}")
    magic, version, flags, reserved, count, samples, raw_size, zsize, crc = _FRAME_HEADER.unpack_from(buf)
    if magic != FRAME_MAGIC:
        raise CorruptionError(f"not a metric frame (magic {bytes(magic)!r})")
    if version != FRAME_VERSION:
        raise CorruptionError(f"unsupported metric frame version {version}")
    if flags or reserved:
        raise CorruptionError("metric frame header has unknown flag bits set")
    return count, samples, raw_size, zsize, crc


def frame_series_count(buf: bytes | memoryview) -> int:
    """Number of series in a frame, from its header alone (no CRC check, no decompression)."""
    return _read_frame_header(buf)[0]


def frame_sample_count(buf: bytes | memoryview) -> int:
    """Total samples over all series of a frame, from its header alone."""
    return _read_frame_header(buf)[1]


def decode_frame(buf: bytes | memoryview) -> list[tuple[np.ndarray, np.ndarray]]:
    """Inverse of `encode_frame`. The CRC is verified before zstd sees a byte, so damaged input
    raises CorruptionError instead of decoding into wrong samples."""
    count, samples, raw_size, zsize, crc = _read_frame_header(buf)
    total = FRAME_HEADER_SIZE + zsize
    if len(buf) != total:
        raise CorruptionError(f"metric frame is {len(buf)} bytes, header says {total}")
    mv = memoryview(buf)
    payload = mv[FRAME_HEADER_SIZE:]
    if zlib.crc32(payload, zlib.crc32(mv[:_CRC_OFFSET])) != crc:
        raise CorruptionError("metric frame CRC mismatch")
    try:
        raw = codecs.decompressor.decompress(payload, max_output_size=raw_size)
        if len(raw) != raw_size:
            raise CorruptionError("metric frame decompressed to the wrong size")
        heads: list[_SeriesHeader] = []
        pos = 0
        for _ in range(count):
            h, pos = _parse_header(raw, pos)
            heads.append(h)
        ts_off = pos
        val_off = ts_off + sum(h.ts_len for h in heads)
        if val_off + sum(h.val_len for h in heads) != raw_size:
            raise CorruptionError("metric frame streams disagree with the payload size")
        if sum(h.n for h in heads) != samples:
            raise CorruptionError("metric frame sample count disagrees with its series")
        out: list[tuple[np.ndarray, np.ndarray]] = []
        for h in heads:
            out.append(_decode_one(h, raw, ts_off, val_off))
            ts_off += h.ts_len
            val_off += h.val_len
        return out
    except CorruptionError:
        raise
    except (zstandard.ZstdError, ValueError, IndexError, OverflowError, TypeError) as exc:
        raise CorruptionError(f"malformed metric frame: {exc}") from exc
