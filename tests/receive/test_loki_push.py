"""Loki push decoding: protobuf round trips, and any bytes either decode or raise PushError."""

from __future__ import annotations

import json

import pytest
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
