"""Loki push decoding: protobuf round trips, and any bytes either decode or raise PushError."""

from __future__ import annotations

import gzip
import json
import re
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heron.model import labels_from
from heron.protowire import field_bytes, field_fixed64, field_varint
from heron.receive.loki_push import (
    PushError,
    PushTooLarge,
    decode_push,
    decode_push_protobuf,
    encode_metadata,
)
from heron.ship.loki_encode import encode_push_request
from heron.storage import LogBatch


def test_protobuf_round_trip_with_metadata_and_odd_bytes() -> None:
    batches = [
        LogBatch(
            labels_from({"app": "a", "q": 'x"y'}),
            [1, 2**62, 1_700_000_000_123_456_789],
            [b"", b"\xff\xfe", b"x" * 70000],
        ),
        LogBatch(labels_from({"app": "b"}), [5], [b"hello"], [encode_metadata({"trace": "t1", "span": "s"})]),
    ]
    got = decode_push(encode_push_request(batches), "application/x-protobuf")
    assert [(b.labels, list(b.timestamps), list(b.lines)) for b in got] == [
        (b.labels, list(b.timestamps), list(b.lines)) for b in batches
    ]
    assert got[0].metadata is None
    assert got[1].metadata is not None and json.loads(got[1].metadata[0]) == {"span": "s", "trace": "t1"}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_protobuf_bytes_decode_or_raise_push_error(data: bytes) -> None:
    try:
        out = decode_push_protobuf(data)
    except PushError:
        return
    assert all(isinstance(b, LogBatch) for b in out)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=255))
def test_corrupted_valid_request_never_escapes_push_error(pos: int, flip: int) -> None:
    raw = encode_push_request(
        [LogBatch(labels_from({"app": "x"}), [10, 20], [b"one", b"two"], [encode_metadata({"k": "v"}), b""])],
        compress=False,
    )
    data = bytearray(raw)
    data[pos % len(data)] ^= flip
    try:
        decode_push_protobuf(bytes(data))
    except PushError:
        pass


# --- the vectorised entry decoder must agree with the per-entry one ----------------------------

_TS = st.one_of(
    st.integers(min_value=0, max_value=2**62),
    st.integers(min_value=-(2**62), max_value=-1),
    st.sampled_from([0, 1, 10**9, 1_700_000_000_123_456_789, 9_000_000_000 * 10**9 + 1]),
)


@settings(max_examples=300, deadline=None)
@given(
    entries=st.lists(st.tuples(_TS, st.binary(max_size=300)), min_size=1, max_size=80),
    meta_every=st.sampled_from([0, 0, 0, 5]),  # 0: no structured metadata at all
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(1, 255)), max_size=2),
)
def test_vectorised_and_per_entry_decoding_agree(
    entries: list[tuple[int, bytes]], meta_every: int, flips: list[tuple[int, int]]
) -> None:
    import heron.receive.loki_push as lp

    metas = [
        encode_metadata({"trace": "t"}) if meta_every and i % meta_every == 0 else b""
        for i in range(len(entries))
    ]
    raw = bytearray(
        encode_push_request(
            [LogBatch(labels_from({"app": "x"}), [t for t, _ in entries], [ln for _, ln in entries], metas)],
            compress=False,
        )
    )
    for pos, flip in flips:
        raw[pos % len(raw)] ^= flip
    results = []
    saved = lp.VECTOR_MIN_ENTRIES
    for minimum in (0, 10**9):  # vectorised first when possible, then never
        lp.VECTOR_MIN_ENTRIES = minimum
        try:
            out = decode_push_protobuf(bytes(raw))
            results.append([(b.labels, list(b.timestamps), list(b.lines), b.metadata) for b in out])
        except PushError as e:
            results.append(("error", str(e)))
        finally:
            lp.VECTOR_MIN_ENTRIES = saved
    assert results[0] == results[1]
    plain = not flips and not meta_every and all(0 <= t < 9_000_000_000 * 10**9 for t, _ in entries)
    if plain:  # nothing unusual: the vectorised decoder must have taken it
        assert (
            lp._decode_plain_entries(bytes(raw), _entry_spans(bytes(raw), bytes(raw).index(b"\x12", 2)))
            is not None
        )


def test_a_long_plain_stream_takes_the_vectorised_path() -> None:
    import heron.receive.loki_push as lp

    n = lp.VECTOR_MIN_ENTRIES
    ts = [1_700_000_000_000_000_000 + i * 1001 for i in range(n)]
    lines = [b"x" * (i * 7 % 200) for i in range(n)]
    raw = encode_push_request([LogBatch(labels_from({"app": "x"}), ts, lines)], compress=False)
    assert lp._decode_plain_entries(raw, _entry_spans(raw, _first_entry(raw))) == (ts, lines)
    (batch,) = decode_push_protobuf(raw)
    assert list(batch.timestamps) == ts and list(batch.lines) == lines and batch.metadata is None


def _first_entry(raw: bytes) -> int:
    """Where the first entry field starts in a one-stream request whose labels come first."""
    from heron.protowire import read_varint

    _, pos = read_varint(raw, 1)  # the stream field's length
    assert raw[pos] == 0x0A
    n, pos = read_varint(raw, pos + 1)
    return pos + n


def _entry_spans(raw: bytes, pos: int) -> list[int]:
    from heron.protowire import read_varint

    spans = []
    while pos < len(raw):
        assert raw[pos] == 0x12
        n, s = read_varint(raw, pos + 1)
        spans += [s, s + n]
        pos = s + n
    return spans


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=8_999_999_999 * 10**9), st.binary(max_size=20000)),
        min_size=1,
        max_size=70,
    )
)
def test_vectorised_decoding_of_plain_entries_round_trips(entries: list[tuple[int, bytes]]) -> None:
    import heron.receive.loki_push as lp

    ts, lines = [t for t, _ in entries], [ln for _, ln in entries]
    raw = encode_push_request([LogBatch(labels_from({"app": "x"}), ts, lines)], compress=False)
    assert lp._decode_plain_entries(raw, _entry_spans(raw, _first_entry(raw))) == (ts, lines)


def test_many_small_plain_streams_decode_in_one_vectorised_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loki clients send many short streams per request: together they cross the threshold."""
    import heron.receive.loki_push as lp

    per = 10
    n_streams = lp.VECTOR_MIN_ENTRIES // per + 1
    batches = [
        LogBatch(
            labels_from({"app": f"a{j}"}),
            [1_700_000_000 * 10**9 + j * 100 + i for i in range(per)],
            [f"{j}:{i}".encode() for i in range(per)],
        )
        for j in range(n_streams)
    ]
    raw = encode_push_request(batches, compress=False)
    calls: list[int] = []
    real = lp._decode_plain_entries

    def counting(buf: bytes, spans: list[int]) -> tuple[list[int], list[bytes]] | None:
        calls.append(len(spans) // 2)
        return real(buf, spans)

    monkeypatch.setattr(lp, "_decode_plain_entries", counting)
    got = decode_push_protobuf(raw)
    assert calls == [per * n_streams]
    assert [(b.labels, list(b.timestamps), list(b.lines), b.metadata) for b in got] == [
        (b.labels, list(b.timestamps), list(b.lines), None) for b in batches
    ]


# --- hostile bodies (issue 18): each is a PushError (400) that names the problem ------------------


def _json(doc: object) -> bytes:
    return json.dumps(doc).encode()


def _one_entry(stream: dict, ts: object = "1700000000000000000", line: object = "x") -> bytes:
    return _json({"streams": [{"stream": stream, "values": [[ts, line]]}]})


@pytest.mark.parametrize(
    "body,needle",
    [
        (b'{"streams":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),  # RecursionError
        (_one_entry({"a": "b"}, ts="99999999999999999999999"), "out of range"),  # OverflowError
        (_one_entry({"a": "b"}, ts=2**63), "out of range"),
        (
            b'{"streams":[{"stream":{"a":"\\ud800"},"values":[["1","x"]]}]}',
            "label 'a' value is not valid UTF-8",
        ),
        (
            b'{"streams":[{"stream":{"\\udfff":"v"},"values":[["1","x"]]}]}',
            "label name '\\udfff' is not valid",
        ),
        (b'{"streams":[{"stream":{"a":"b"},"values":[["1","\\ud800"]]}]}', "log line is not valid UTF-8"),
        (b'{"streams":[{"stream":{"a":"b"},"values":[["1","x",{"k":"\\udc80"}]]}]}', "lone surrogate"),
    ],
)
def test_hostile_json_is_a_push_error(body: bytes, needle: str) -> None:
    with pytest.raises(PushError, match=re.escape(needle)):
        decode_push(body, "application/json")


def _stream(labels: bytes, *entries: bytes) -> bytes:
    return field_bytes(1, field_bytes(1, labels) + b"".join(field_bytes(2, e) for e in entries))


_TS = field_bytes(1, field_varint(1, 1_700_000_000) + field_varint(2, 5))
_LINE = field_bytes(2, b"hello")


@pytest.mark.parametrize(
    "raw,needle",
    [
        # issue 18: streams sent as a varint was skipped as unknown, and the push answered 204
        (field_varint(1, 7), "PushRequest.streams (field 1) has wire type 0"),
        (field_bytes(1, field_varint(1, 3) + field_bytes(2, _TS + _LINE)), "StreamAdapter.labels"),
        (field_bytes(1, field_bytes(1, b'{a="b"}') + field_varint(2, 3)), "StreamAdapter.entries"),
        (_stream(b'{a="b"}', _TS + field_varint(2, 9)), "EntryAdapter.line (field 2) has wire type 0"),
        (_stream(b'{a="b"}', field_varint(1, 9) + _LINE), "EntryAdapter.timestamp"),
        (_stream(b'{a="b"}', _TS + _LINE + field_varint(3, 1)), "EntryAdapter.structuredMetadata"),
        (_stream(b'{a="b"}', field_bytes(1, field_bytes(1, b"x")) + _LINE), "Timestamp.seconds or nanos"),
        (_stream(b'{a="b"}', _TS + _LINE + field_bytes(3, field_varint(1, 1))), "LabelPairAdapter"),
        (
            _stream(b'{a="b"}', _TS + _LINE + field_bytes(3, field_bytes(1, b"\xff"))),
            "metadata is not valid UTF-8",
        ),
        (_stream(b'{a="b"}', field_bytes(1, field_varint(1, 2**62)) + _LINE), "out of range"),
    ],
)
def test_protobuf_fields_of_the_wrong_type_are_push_errors(raw: bytes, needle: str) -> None:
    with pytest.raises(PushError, match=re.escape(needle)):
        decode_push_protobuf(raw)
    # unknown fields, of any wire type, are skipped as proto3 readers skip them
    extra = field_varint(9, 1) + field_fixed64(10, 2)
    (batch,) = decode_push_protobuf(extra + _stream(b'{a="b"}', _TS + _LINE + extra))
    assert list(batch.lines) == [b"hello"] and list(batch.timestamps) == [1_700_000_000_000_000_005]


def test_decoded_size_is_bounded_for_every_encoding() -> None:
    doc = _one_entry({"a": "b"}, line="x" * 5000)
    pb = encode_push_request([LogBatch(labels_from({"a": "b"}), [1], [b"x" * 5000])])
    for body, ctype, enc in [
        (gzip.compress(doc), "application/json", "gzip"),
        (zlib.compress(doc), "application/json", "deflate"),
        (pb, "application/x-protobuf", ""),
        (gzip.compress(pb), "application/x-protobuf", "gzip"),  # small once gunzipped, big unsnapped
    ]:
        assert decode_push(body, ctype, enc, max_size=6000)
        with pytest.raises(PushTooLarge, match="4000 bytes") as caught:
            decode_push(body, ctype, enc, max_size=4000)
        assert caught.value.limit == 4000
