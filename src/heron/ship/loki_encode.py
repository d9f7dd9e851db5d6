"""Encode log batches as Loki's protobuf `logproto.PushRequest`, snappy block-compressed.

The agent ships with this, and tests use it to speak to the server exactly as Promtail does.

Two ways in. `encode_push_request` takes `LogBatch`es and encodes entry by entry. The agent's
hot path instead builds each stream's entries as one blob per read: `encode_span_entries`
takes the lines of a read buffer as (start, end) spans and builds every entry's protobuf
header at once with numpy, then one `bytes.join` interleaves headers and messages. Entries are
a repeated field, so blobs of one stream from several reads concatenate into one
`StreamAdapter` (`encode_streams`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Iterable, Sequence

import cramjam
import numpy as np

from heron.model import format_labels
from heron.protowire import encode_varint, field_bytes, varint_matrix

if TYPE_CHECKING:  # only the type: the agent must not load the storage engine
    from heron.storage import LogBatch

__all__ = [
    "PROTOBUF_CONTENT_TYPE",
    "encode_entries",
    "encode_push_request",
    "encode_span_entries",
    "encode_streams",
]

PROTOBUF_CONTENT_TYPE = "application/x-protobuf"

_ENTRY_TAG = 0x12  # StreamAdapter.entries = 2 (and EntryAdapter.line = 2)
_TIMESTAMP_TAG = 0x0A  # EntryAdapter.timestamp = 1 (and StreamAdapter.labels = 1)
_SECONDS_TAG = 0x08
_NANOS_TAG = 0x10
_LINE_TAG = 0x12


def _timestamp(ns: int) -> bytes:
    seconds, nanos = divmod(ns, 1_000_000_000)
    out = b""
    if seconds:
        out += b"\x08" + encode_varint(seconds)
    if nanos:
        out += b"\x10" + encode_varint(nanos)
    return out


def _entry(ts: int, line: bytes, meta: bytes) -> bytes:
    body = field_bytes(1, _timestamp(ts)) + field_bytes(2, line)
    if meta:
        for name, value in json.loads(meta).items():
            body += field_bytes(3, field_bytes(1, name.encode()) + field_bytes(2, value.encode()))
    return field_bytes(2, body)


def encode_entries(timestamps: Sequence[int], lines: Sequence[bytes]) -> bytes:
    """A stream's entries (repeated field 2 of `StreamAdapter`), one by one."""
    return b"".join(_entry(int(t), line, b"") for t, line in zip(timestamps, lines))


def encode_span_entries(buf: bytes, ts: np.ndarray, start: np.ndarray, end: np.ndarray) -> bytes:
    """The same bytes as `encode_entries(ts, [buf[s:e] for s, e in zip(start, end)])`, vectorised."""
    n = len(ts)
    if n == 0:
        return b""
    length = (end - start).astype(np.uint64)
    seconds, nanos = np.divmod(ts.astype(np.int64), 1_000_000_000)
    sec_bytes, sec_len = varint_matrix(seconds.view(np.uint64), 10)  # a negative second is 10 bytes
    ns_bytes, ns_len = varint_matrix(nanos.view(np.uint64), 5)
    has_sec = seconds != 0
    has_ns = nanos != 0
    ts_len = has_sec * (1 + sec_len) + has_ns * (1 + ns_len)  # at most 17: one varint byte
    line_bytes, line_len = varint_matrix(length, 5)
    body_len = 2 + ts_len + 1 + line_len + length
    body_bytes, body_len_len = varint_matrix(body_len, 5)
    cols = np.empty((n, 34), dtype=np.uint8)
    valid = np.empty((n, 34), dtype=bool)
    k5 = np.arange(5)
    k10 = np.arange(10)
    cols[:, 0] = _ENTRY_TAG
    valid[:, 0] = True
    cols[:, 1:6] = body_bytes
    valid[:, 1:6] = k5[None, :] < body_len_len[:, None]
    cols[:, 6] = _TIMESTAMP_TAG
    cols[:, 7] = ts_len
    valid[:, 6:8] = True
    cols[:, 8] = _SECONDS_TAG
    valid[:, 8] = has_sec
    cols[:, 9:19] = sec_bytes
    valid[:, 9:19] = (k10[None, :] < sec_len[:, None]) & has_sec[:, None]
    cols[:, 19] = _NANOS_TAG
    valid[:, 19] = has_ns
    cols[:, 20:25] = ns_bytes
    valid[:, 20:25] = (k5[None, :] < ns_len[:, None]) & has_ns[:, None]
    cols[:, 25] = _LINE_TAG
    valid[:, 25] = True
    cols[:, 26:31] = line_bytes
    valid[:, 26:31] = k5[None, :] < line_len[:, None]
    valid[:, 31:] = False
    headers = cols[valid].tobytes()
    ends = np.cumsum(valid.sum(axis=1)).tolist()
    starts = [0, *ends[:-1]]
    pieces: list[bytes] = [b""] * (2 * n)
    pieces[0::2] = map(headers.__getitem__, map(slice, starts, ends))
    pieces[1::2] = map(buf.__getitem__, map(slice, start.tolist(), end.tolist()))
    return b"".join(pieces)


def encode_streams(streams: Iterable[tuple[str, Sequence[bytes]]], *, compress: bool = True) -> bytes:
    """A `PushRequest` from (label text, entry blobs) pairs; the blobs of a stream are joined."""
    parts: list[bytes] = []
    for labels, blobs in streams:
        label_field = field_bytes(1, labels.encode())
        size = len(label_field) + sum(map(len, blobs))
        parts.append(b"\x0a" + encode_varint(size))
        parts.append(label_field)
        parts.extend(blobs)
    raw = b"".join(parts)
    return bytes(cramjam.snappy.compress_raw(raw)) if compress else raw


def encode_push_request(batches: Sequence[LogBatch], *, compress: bool = True) -> bytes:
    """Structured metadata is expected in heron's stored form (compact JSON object bytes)."""
    parts: list[bytes] = []
    for b in batches:
        metas = b.metadata if b.metadata is not None else [b""] * len(b.lines)
        entries = b"".join(_entry(int(t), line, m) for t, line, m in zip(b.timestamps, b.lines, metas))
        stream = field_bytes(1, format_labels(b.labels).encode()) + entries
        parts.append(field_bytes(1, stream))
    raw = b"".join(parts)
    return bytes(cramjam.snappy.compress_raw(raw)) if compress else raw
