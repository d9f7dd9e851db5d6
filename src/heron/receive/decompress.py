"""Bounded decompression of request bodies: a small body never becomes a big allocation.

A compressed body can expand a thousandfold (1 MiB of gzip holds 1 GiB of zeros), and Loki
applies its size limit to the decompressed bytes too (`util.ParseProtoReader`). So every
decoder here stops at `limit` decoded bytes and raises `TooLarge` (HTTP 413) before it has
held more than a few MiB of a body that turns out too big:

- gzip and deflate are inflated in chunks (`zlib.decompressobj` with `max_length`). Output is
  kept up to `_KEEP` bytes; past that the first pass only counts, and a second pass decodes a
  body known to fit. Small bodies, the usual case, are inflated once; a bomb costs one chunk.
- a snappy block (the raw block format Loki and Prometheus use, not the framed one) starts with
  its decoded length as a varint, which is checked against the limit, and against what the
  compressed bytes could possibly hold, before anything is allocated.
"""

from __future__ import annotations

import zlib
from typing import Iterator

import cramjam

from heron.protowire import ProtoError, read_varint

__all__ = ["DecompressError", "TooLarge", "inflate", "unsnappy"]

_CHUNK = 1 << 20  # decoded bytes per zlib call while measuring
_KEEP = 8 << 20  # decoded bytes kept on the first pass; beyond, measure first and decode again
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ZLIB_WBITS = zlib.MAX_WBITS
# A snappy copy element of 3 bytes writes at most 64 bytes, and nothing writes more per byte.
_SNAPPY_MAX_RATIO = 64 / 3


class DecompressError(ValueError):
    """The body is not valid data of its declared encoding; the message says why."""


class TooLarge(DecompressError):
    """The body decodes to more than the limit; decoding stopped there."""

    def __init__(self, message: str, limit: int):
        super().__init__(message)
        self.limit = limit


def inflate(body: bytes, encoding: str, limit: int) -> bytes:
    """Decode a `gzip` (members concatenated, as `gzip -c a b` writes) or `deflate` (zlib) body."""
    if not body:
        return b""
    gzip = encoding != "deflate"
    parts: list[bytes] | None = []
    total = 0
    for chunk in _inflate_chunks(body, gzip, _CHUNK):
        total += len(chunk)
        if total > limit:
            raise TooLarge(
                f"{encoding} body decompresses to more than {limit} bytes: the limit (max_push_size) "
                f"applies after decompression too",
                limit,
            )
        if parts is not None:
            if total > _KEEP:
                parts = None
            else:
                parts.append(chunk)
    if parts is not None:
        return b"".join(parts)
    # Known to fit now: one zlib call per member, so a single member is never copied again.
    return b"".join(_inflate_chunks(body, gzip, total + 1))


def _inflate_chunks(body: bytes, gzip: bool, max_length: int) -> Iterator[bytes]:
    name = "gzip" if gzip else "deflate"
    data = body
    while True:
        d = zlib.decompressobj(_GZIP_WBITS if gzip else _ZLIB_WBITS)
        pending = data
        while not d.eof:
            try:
                out = d.decompress(pending, max_length)
            except zlib.error as exc:
                raise DecompressError(f"invalid {name} body: {exc}") from None
            if out:
                yield out
            pending = d.unconsumed_tail
            if not out and not pending:
                break
        if not d.eof:
            raise DecompressError(f"invalid {name} body: truncated stream")
        rest = d.unused_data
        # After a gzip member comes another member or zero padding, as gzip.decompress accepts;
        # zlib.decompress ignores what follows a deflate stream, and so does this.
        if not gzip or not rest.strip(b"\x00"):
            return
        data = rest


def unsnappy(body: bytes, limit: int) -> bytes:
    """Decode a raw snappy block, refusing a declared length over `limit` before allocating it."""
    try:
        declared, start = read_varint(body, 0)
    except ProtoError:
        raise DecompressError("invalid snappy block: no length header") from None
    if declared > limit:
        raise TooLarge(
            f"snappy block declares {declared} decoded bytes, more than the limit of {limit} bytes "
            f"(max_push_size)",
            limit,
        )
    if declared > (len(body) - start) * _SNAPPY_MAX_RATIO:
        raise DecompressError(
            f"invalid snappy block: it declares {declared} decoded bytes, more than its "
            f"{len(body) - start} compressed bytes can hold"
        )
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except Exception as exc:  # cramjam raises its own DecompressionError
        raise DecompressError(f"invalid snappy block: {exc}") from None
