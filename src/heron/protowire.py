"""Protocol Buffers wire format: just enough to read and write the ecosystem's messages.

Heron speaks a handful of fixed messages (Loki's PushRequest, Prometheus' WriteRequest, OTLP),
so a small reader/writer over the wire format replaces generated code and the protobuf runtime.
Field numbers live next to each message's decoder, like a .proto file would put them.
"""

from __future__ import annotations

import struct
from typing import Iterator

import numpy as np

__all__ = [
    "ProtoError",
    "WIRE_VARINT",
    "WIRE_I64",
    "WIRE_LEN",
    "WIRE_I32",
    "read_varint",
    "iter_fields",
    "encode_varint",
    "varint_matrix",
    "read_varints",
    "field_varint",
    "field_bytes",
    "field_double",
    "field_fixed64",
    "zigzag_decode",
]

WIRE_VARINT = 0
WIRE_I64 = 1
WIRE_LEN = 2
WIRE_I32 = 5


class ProtoError(ValueError):
    """The bytes are not a valid encoding of the expected message."""


def read_varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """Decode a base-128 varint at pos; returns (value, next position). Hot: keep it lean."""
    try:
        b = buf[pos]
        if b < 0x80:
            return b, pos + 1
        result = b & 0x7F
        shift = 7
        pos += 1
        while True:
            b = buf[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if b < 0x80:
                return result, pos
            shift += 7
            if shift >= 70:
                raise ProtoError("varint too long")
    except IndexError:
        raise ProtoError("truncated varint") from None


def zigzag_decode(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def iter_fields(
    buf: bytes | memoryview, start: int = 0, end: int | None = None
) -> Iterator[tuple[int, int, object]]:
    """Yield (field number, wire type, value); LEN values are (start, end) offsets into buf."""
    pos = start
    end = len(buf) if end is None else end
    while pos < end:
        key, pos = read_varint(buf, pos)
        if pos > end:
            raise ProtoError("field key runs past the end of its message")
        num, wt = key >> 3, key & 7
        if num == 0 or num > 0x1FFFFFFF:
            raise ProtoError(f"field number {num} is out of range (1 to 2^29-1)")
        if wt == WIRE_VARINT:
            val, pos = read_varint(buf, pos)
            if pos > end:
                raise ProtoError("varint runs past the end of its message")
            yield num, wt, val
        elif wt == WIRE_LEN:
            n, pos = read_varint(buf, pos)  # a length past the end fails the check below
            if pos + n > end:
                raise ProtoError("length-delimited field runs past the end of its message")
            yield num, wt, (pos, pos + n)
            pos += n
        elif wt == WIRE_I64:
            if pos + 8 > end:
                raise ProtoError("truncated fixed64")
            yield num, wt, bytes(buf[pos : pos + 8])
            pos += 8
        elif wt == WIRE_I32:
            if pos + 4 > end:
                raise ProtoError("truncated fixed32")
            yield num, wt, bytes(buf[pos : pos + 4])
            pos += 4
        else:
            raise ProtoError(f"unsupported wire type {wt}")


def encode_varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint_matrix(values: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Varints of many unsigned values at once: an (n, width) uint8 matrix and each one's length.

    Row i's first `length[i]` bytes are the varint of `values[i]`; the rest is padding. `width`
    must cover the largest value (10 covers any uint64).
    """
    v = values.astype(np.uint64, copy=False)
    shifts = np.arange(0, 7 * width, 7, dtype=np.uint64)
    groups = (v[:, None] >> shifts[None, :]) & np.uint64(0x7F)
    length = np.ones(len(v), dtype=np.int64)
    for k in range(1, width):
        length += v >= np.uint64(1 << (7 * k))
    more = np.arange(width)[None, :] < (length[:, None] - 1)
    return (groups | (more * 0x80).astype(np.uint64)).astype(np.uint8), length


def read_varints(arr: np.ndarray, pos: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The varints starting at each of `pos` in the uint8 buffer `arr`, at once.

    Returns (values as uint64, byte lengths); a length of 0 means no varint ends within
    `width` bytes (or before the end of `arr`), and its value is meaningless.
    """
    if len(arr) == 0:
        return np.zeros(len(pos), np.uint64), np.zeros(len(pos), np.int64)
    idx = pos[:, None] + np.arange(width)[None, :]
    inside = idx < len(arr)
    b = arr[np.minimum(idx, len(arr) - 1)].astype(np.uint64)
    last = (b < 0x80) & inside
    ends = last.any(axis=1)
    length = np.where(ends, last.argmax(axis=1) + 1, 0)
    used = np.arange(width)[None, :] < length[:, None]
    groups = ((b & np.uint64(0x7F)) << (np.arange(width, dtype=np.uint64) * np.uint64(7))[None, :]) * used
    return np.bitwise_or.reduce(groups, axis=1), length


def field_varint(num: int, value: int) -> bytes:
    return encode_varint(num << 3 | WIRE_VARINT) + encode_varint(value)


def field_bytes(num: int, value: bytes) -> bytes:
    return encode_varint(num << 3 | WIRE_LEN) + encode_varint(len(value)) + value


def field_double(num: int, value: float) -> bytes:
    return encode_varint(num << 3 | WIRE_I64) + struct.pack("<d", value)


def field_fixed64(num: int, value: int) -> bytes:
    return encode_varint(num << 3 | WIRE_I64) + struct.pack("<Q", value)
