"""Encode log batches as Loki's protobuf `logproto.PushRequest`, snappy block-compressed.

The agent ships with this, and tests use it to speak to the server exactly as Promtail does.
"""

from __future__ import annotations

import json
from typing import Sequence

import cramjam

from heron.model import format_labels
from heron.protowire import encode_varint, field_bytes
from heron.storage import LogBatch

__all__ = ["encode_push_request", "PROTOBUF_CONTENT_TYPE"]

PROTOBUF_CONTENT_TYPE = "application/x-protobuf"


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
