"""Loki push decoding: protobuf round trips, and any bytes either decode or raise PushError."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from heron.model import labels_from
from heron.receive.loki_push import PushError, decode_push, decode_push_protobuf, encode_metadata
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
