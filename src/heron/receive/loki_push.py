"""Loki push bodies (JSON or snappy-compressed protobuf `logproto.PushRequest`) -> LogBatches.

Decoding is all-or-nothing: any malformed part raises PushError and nothing of the request is
stored, which is what Loki does for a body it cannot parse.

Structured metadata (Loki's optional third element per entry) is kept as compact JSON bytes
of a name -> value object, sorted by name; an entry without metadata stores no bytes.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import numpy as np

from heron.model import Labels, labels_from, parse_label_set
from heron.protowire import ProtoError, iter_fields, read_varint, read_varints
from heron.receive.decompress import DecompressError, TooLarge, inflate, unsnappy
from heron.storage import LogBatch

__all__ = [
    "DEFAULT_MAX_PUSH_BYTES",
    "PushError",
    "PushTooLarge",
    "decode_push",
    "decode_push_json",
    "decode_push_protobuf",
    "encode_metadata",
]


DEFAULT_MAX_PUSH_BYTES = 64 * 1024 * 1024  # max_push_size's default


class PushError(ValueError):
    """The push body is malformed; the message says where."""


class PushTooLarge(PushError):
    """The body, once decompressed, is larger than the push size limit (HTTP 413)."""

    def __init__(self, message: str, limit: int):
        super().__init__(message)
        self.limit = limit


def encode_metadata(pairs: dict[str, str]) -> bytes:
    if not pairs:
        return b""
    return json.dumps(dict(sorted(pairs.items())), separators=(",", ":"), ensure_ascii=False).encode()


def decode_push(
    body: bytes, content_type: str, content_encoding: str = "", max_size: int = DEFAULT_MAX_PUSH_BYTES
) -> list[LogBatch]:
    """Dispatch on headers as Loki does: protobuf unless the content type says JSON.

    `max_size` bounds the body after each decompression step too (gzip around a snappy
    protobuf is two steps); past it PushTooLarge is raised and decoding stops right there.
    """
    enc = content_encoding.strip().lower()
    try:
        if enc in ("gzip", "x-gzip", "deflate"):
            body = inflate(body, "deflate" if enc == "deflate" else "gzip", max_size)
        elif enc not in ("", "identity", "snappy"):
            raise PushError(f"unsupported Content-Encoding {content_encoding!r}: use gzip, deflate or snappy")
        ctype = content_type.split(";")[0].strip().lower()
        if ctype == "application/json":
            return decode_push_json(body)
        if ctype in ("application/x-protobuf", "application/protobuf", ""):
            return decode_push_protobuf(unsnappy(body, max_size))
    except TooLarge as exc:
        raise PushTooLarge(str(exc), exc.limit) from None
    except DecompressError as exc:
        raise PushError(str(exc)) from None
    raise PushError(
        f"unsupported Content-Type {content_type!r}: use application/json or application/x-protobuf"
    )


def _utf8(text: str, what: str) -> None:
    """JSON strings may hold lone surrogates ("\\ud800"), which no UTF-8 byte string can."""
    try:
        text.encode()
    except UnicodeEncodeError:
        raise PushError(f"{what} is not valid UTF-8: it holds a lone surrogate") from None


def _stream_labels(obj: Any, where: str) -> Labels:
    if not isinstance(obj, dict):
        raise PushError(f"{where}: 'stream' must be an object of label names to values")
    for k, v in obj.items():
        if not isinstance(v, str):
            raise PushError(f"{where}: label {k!r} value must be a string")
        _utf8(k, f"{where}: label name {k!r}")
        _utf8(v, f"{where}: label {k!r} value")
    return labels_from(obj)


_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def _timestamp(value: Any, where: str) -> int:
    """The range is checked once per stream (`_check_range`): this is the hot loop of JSON push."""
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise PushError(f"{where}: timestamp {value[:40]!r} is not an integer of nanoseconds") from None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise PushError(f"{where}: timestamp must be a string of nanoseconds")


def _check_range(ts: list[int], where: str) -> None:
    """Timestamps are int64 nanoseconds, as Go's strconv.ParseInt reads them for Loki."""
    if ts and (min(ts) < _INT64_MIN or max(ts) > _INT64_MAX):
        i, t = next((i, t) for i, t in enumerate(ts) if not _INT64_MIN <= t <= _INT64_MAX)
        raise PushError(
            f"{where}.values[{i}]: timestamp {str(t)[:40]} is out of range: it must fit a signed 64-bit int"
        )


def decode_push_json(body: bytes) -> list[LogBatch]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PushError(f"invalid JSON body: {exc}") from None
    except RecursionError:
        raise PushError("invalid JSON body: nested too deeply") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("streams"), list):
        raise PushError("invalid push body: expected an object with a 'streams' array")
    out: list[LogBatch] = []
    for si, stream in enumerate(doc["streams"]):
        where = f"streams[{si}]"
        if not isinstance(stream, dict):
            raise PushError(f"{where}: must be an object")
        labels = _stream_labels(stream.get("stream", stream.get("labels")), where)
        values = stream.get("values")
        if not isinstance(values, list):
            raise PushError(f"{where}: 'values' must be an array")
        ts: list[int] = []
        lines: list[bytes] = []
        metas: list[bytes] = []
        has_meta = False
        for vi, entry in enumerate(values):
            w = f"{where}.values[{vi}]"
            if not isinstance(entry, list) or len(entry) not in (2, 3):
                raise PushError(f'{w}: must be ["<ns timestamp>", "<line>"] with optional metadata')
            ts.append(_timestamp(entry[0], w))
            if not isinstance(entry[1], str):
                raise PushError(f"{w}: log line must be a string")
            try:
                lines.append(entry[1].encode())
            except UnicodeEncodeError:
                raise PushError(f"{w}: the log line is not valid UTF-8: it holds a lone surrogate") from None
            meta = b""
            if len(entry) == 3:
                md = entry[2]
                if not isinstance(md, dict) or not all(isinstance(v, str) for v in md.values()):
                    raise PushError(f"{w}: structured metadata must be an object of strings")
                try:
                    meta = encode_metadata(md)
                except UnicodeEncodeError:
                    raise PushError(f"{w}: structured metadata holds a lone surrogate, not UTF-8") from None
                has_meta = has_meta or bool(meta)
            metas.append(meta)
        _check_range(ts, where)
        out.append(LogBatch(labels, ts, lines, metas if has_meta else None))
    return out


# logproto field numbers
_PUSH_STREAMS = 1
_STREAM_LABELS, _STREAM_ENTRIES = 1, 2
_ENTRY_TS, _ENTRY_LINE, _ENTRY_META = 1, 2, 3
_TS_SECONDS, _TS_NANOS = 1, 2
_STREAM_FIELDS = {_STREAM_LABELS: "labels", _STREAM_ENTRIES: "entries"}
_ENTRY_FIELDS = {_ENTRY_TS: "timestamp", _ENTRY_LINE: "line", _ENTRY_META: "structuredMetadata"}


def _wrong_wire_type(message: str, field: str, num: int, wt: int, want: int) -> str:
    """A known field with another wire type is an error in Go's generated readers; skipping
    it, as an unknown field, would drop the data and still answer 204."""
    return f"{message}.{field} (field {num}) has wire type {wt}, want {want}"


def decode_push_protobuf(raw: bytes) -> list[LogBatch]:
    """Streams are scanned first, then every entry of the request is decoded in one vectorised
    call when they are all plain (one numpy pass for many small streams, as Loki clients send),
    else stream by stream."""
    streams: list[tuple[Labels, list[int]]] = []
    try:
        for num, wt, val in iter_fields(raw):
            if num != _PUSH_STREAMS:
                continue  # unknown fields are skipped, as proto3 readers do
            if wt != 2:
                raise ProtoError(_wrong_wire_type("PushRequest", "streams", num, wt, 2))
            s, e = val  # type: ignore[misc]
            streams.append(_scan_stream(raw, s, e))
        total = sum(len(spans) for _, spans in streams) // 2
        if total >= VECTOR_MIN_ENTRIES:
            columns = _decode_plain_entries(raw, [x for _, spans in streams for x in spans])
            if columns is not None:
                out: list[LogBatch] = []
                at = 0
                for labels, spans in streams:
                    n = len(spans) // 2
                    out.append(LogBatch(labels, columns[0][at : at + n], columns[1][at : at + n], None))
                    at += n
                return out
        return [_decode_entries(raw, labels, spans) for labels, spans in streams]
    except (ProtoError, IndexError) as exc:
        raise PushError(f"invalid protobuf PushRequest: {exc}") from None


def _scan_stream(buf: bytes, start: int, end: int) -> tuple[Labels, list[int]]:
    """A StreamAdapter's labels, and the (start, end) of each of its entries, flattened."""
    labels_text: str | None = None
    spans: list[int] = []
    pos = start
    while pos < end:
        key = buf[pos]
        if key < 0x80:
            pos += 1
        else:
            key, pos = read_varint(buf, pos)
        num, wt = key >> 3, key & 7
        if wt != 2:
            if num in _STREAM_FIELDS:
                raise ProtoError(_wrong_wire_type("StreamAdapter", _STREAM_FIELDS[num], num, wt, 2))
            if wt == 0:
                _, pos = read_varint(buf, pos)
                continue
            if wt in (1, 5):
                pos += 8 if wt == 1 else 4
                continue
            raise ProtoError(f"unsupported wire type {wt}")
        n = buf[pos]
        if n < 0x80:
            pos += 1
        else:
            n, pos = read_varint(buf, pos)
        s, e = pos, pos + n
        if e > end:
            raise ProtoError("stream field runs past the end of its stream")
        pos = e
        if num == _STREAM_ENTRIES:
            spans.append(s)
            spans.append(e)
        elif num == _STREAM_LABELS:
            try:
                labels_text = buf[s:e].decode()
            except UnicodeDecodeError:
                raise PushError("stream labels are not valid UTF-8") from None
    if pos != end:
        raise ProtoError("stream fields run past the end of the stream")
    if labels_text is None:
        raise PushError("stream without labels")
    try:
        return _parse_labels_cached(labels_text), spans
    except ValueError as exc:
        raise PushError(str(exc)) from None


def _decode_entries(buf: bytes, labels: Labels, spans: list[int]) -> LogBatch:
    columns = _decode_plain_entries(buf, spans) if len(spans) >= 2 * VECTOR_MIN_ENTRIES else None
    if columns is not None:
        return LogBatch(labels, columns[0], columns[1], None)
    ts: list[int] = []
    lines: list[bytes] = []
    metas: list[bytes] = []
    for i in range(0, len(spans), 2):
        t, line, meta = _decode_entry(buf, spans[i], spans[i + 1])
        ts.append(t)
        lines.append(line)
        metas.append(meta)
    return LogBatch(labels, ts, lines, metas if any(metas) else None)


# A request (or, when it has unusual entries, a stream) with at least this many entries tries
# the vectorised decoder: below it numpy's fixed cost per call is more than the per-entry loop.
VECTOR_MIN_ENTRIES = 128
_MAX_SECONDS = 9_000_000_000  # year 2255: beyond (or negative), the per-entry path does int64-safe math


def _decode_plain_entries(buf: bytes, spans: list[int]) -> tuple[list[int], list[bytes]] | None:
    """Decode entries written the usual way, all at once; None if any is not (the caller then
    decodes entry by entry, which also reports errors).

    "The usual way" is what Promtail, heron's agent and Loki's clients write: a timestamp field
    first (seconds then nanoseconds, each optional) and the line last, nothing else (no
    structured metadata). numpy reads the fields of every entry at fixed places relative to
    where its timestamp ends, and every entry is checked to end exactly where its line does.
    """
    arr = np.frombuffer(buf, dtype=np.uint8)
    last = len(arr) - 1
    se = np.array(spans, dtype=np.int64).reshape(-1, 2)
    start, end = se[:, 0], se[:, 1]

    def at(p: np.ndarray) -> np.ndarray:
        return arr[np.minimum(p, last)]

    ts_len = at(start + 1).astype(np.int64)
    ok = (end - start >= 4) & (at(start) == 0x0A) & (ts_len < 0x80)
    p = start + 2
    ts_end = p + ts_len
    has_sec = (p < ts_end) & (at(p) == 0x08)
    sec, sec_len = read_varints(arr, p + 1, 10)
    ok &= ~has_sec | ((sec_len > 0) & (sec < _MAX_SECONDS))
    p = np.where(has_sec, p + 1 + sec_len, p)
    has_ns = (p < ts_end) & (at(p) == 0x10)
    ns, ns_len = read_varints(arr, p + 1, 10)
    ok &= ~has_ns | ((ns_len > 0) & (ns < np.uint64(1 << 40)))
    p = np.where(has_ns, p + 1 + ns_len, p)
    ok &= (p == ts_end) & (at(ts_end) == 0x12)
    length, length_len = read_varints(arr, ts_end + 1, 5)
    line_start = ts_end + 1 + length_len
    ok &= (length_len > 0) & (line_start + length.astype(np.int64) == end)
    if not ok.all():
        return None
    ts = np.where(has_sec, sec, 0).astype(np.int64) * 1_000_000_000 + np.where(has_ns, ns, 0).astype(np.int64)
    lines = list(map(buf.__getitem__, map(slice, line_start.tolist(), end.tolist())))
    return ts.tolist(), lines


@functools.lru_cache(maxsize=65536)
def _parse_labels_cached(text: str) -> Labels:
    """Pushers resend the same few stream label strings in every request."""
    return parse_label_set(text)


def _decode_entry(buf: bytes, pos: int, end: int) -> tuple[int, bytes, bytes]:
    """One EntryAdapter. The hot loop of protobuf push: varints are decoded inline (a call
    per varint cost more than the rest of the entry), one-byte keys are the common case.
    The two inline varint loops below repeat `protowire.read_varint` on purpose; the profile
    in bench/RESULTS.md (push figure) is why."""
    seconds = nanos = 0
    line = b""
    meta: dict[str, str] | None = None
    while pos < end:
        key = buf[pos]
        if key < 0x80:
            pos += 1
        else:
            key, pos = read_varint(buf, pos)
        wt = key & 7
        if wt == 2:
            n = buf[pos]
            pos += 1
            if n >= 0x80:
                n &= 0x7F
                shift = 7
                while True:
                    b = buf[pos]
                    pos += 1
                    n |= (b & 0x7F) << shift
                    if b < 0x80:
                        break
                    shift += 7
                    if shift >= 70:
                        raise ProtoError("varint too long")
            stop = pos + n
            if stop > end:
                raise ProtoError("entry field runs past the end of its entry")
            field = key >> 3
            if field == _ENTRY_LINE:
                line = buf[pos:stop]
            elif field == _ENTRY_TS:
                p = pos
                while p < stop:
                    k = buf[p]
                    p += 1
                    if k >= 0x80:
                        k, p = read_varint(buf, p - 1)
                    if k & 7:
                        raise ProtoError(_wrong_wire_type("Timestamp", "seconds or nanos", k >> 3, k & 7, 0))
                    v = buf[p]
                    p += 1
                    if v >= 0x80:
                        v &= 0x7F
                        shift = 7
                        while True:
                            b = buf[p]
                            p += 1
                            v |= (b & 0x7F) << shift
                            if b < 0x80:
                                break
                            shift += 7
                            if shift >= 70:
                                raise ProtoError("varint too long")
                    if k == 0x08:
                        seconds = v - (1 << 64) if v >= 1 << 63 else v
                    elif k == 0x10:
                        nanos = v - (1 << 64) if v >= 1 << 63 else v
                if p != stop:
                    raise ProtoError("timestamp fields run past the end of the timestamp")
            elif field == _ENTRY_META:
                name = value = ""
                for n2, w2, v2 in iter_fields(buf, pos, stop):
                    if n2 not in (1, 2):
                        continue
                    if w2 != 2:
                        raise ProtoError(_wrong_wire_type("LabelPairAdapter", "name or value", n2, w2, 2))
                    a, b2 = v2  # type: ignore[misc]
                    try:
                        text = buf[a:b2].decode()
                    except UnicodeDecodeError:
                        raise ProtoError("structured metadata is not valid UTF-8") from None
                    if n2 == 1:
                        name = text
                    else:
                        value = text
                if name:
                    if meta is None:
                        meta = {}
                    meta[name] = value
            pos = stop
        elif (key >> 3) in _ENTRY_FIELDS:
            raise ProtoError(_wrong_wire_type("EntryAdapter", _ENTRY_FIELDS[key >> 3], key >> 3, wt, 2))
        elif wt == 0:
            _, pos = read_varint(buf, pos)
        elif wt == 1:
            pos += 8
        elif wt == 5:
            pos += 4
        else:
            raise ProtoError(f"unsupported wire type {wt}")
    if pos != end:
        raise ProtoError("entry fields run past the end of the entry")
    t = seconds * 1_000_000_000 + nanos
    if not _INT64_MIN <= t <= _INT64_MAX:
        raise ProtoError(f"timestamp {seconds}s {nanos}ns is out of range: it must fit int64 nanoseconds")
    return t, line, encode_metadata(meta) if meta else b""
