"""The agent's vectorised push encoding must give the same bytes as the entry-by-entry one."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from heron.model import format_labels, labels_from
from heron.protowire import encode_varint, varint_matrix
from heron.receive.loki_push import decode_push
from heron.ship.loki_encode import encode_entries, encode_span_entries, encode_streams

_INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=50))
def test_varint_matrix_rows_are_varints(values: list[int]) -> None:
    matrix, length = varint_matrix(np.array(values, dtype=np.uint64), 10)
    assert [bytes(row[:n]) for row, n in zip(matrix, length)] == [encode_varint(v) for v in values]


@settings(max_examples=200, deadline=None)
@given(
    buf=st.binary(min_size=1, max_size=3000),
    spans=st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 200000)), max_size=40),
    stamps=st.data(),
)
def test_span_entries_equal_entry_by_entry_encoding(
    buf: bytes, spans: list[tuple[int, int]], stamps: st.DataObject
) -> None:
    start = sorted(min(a, len(buf)) for a, _ in spans)
    end = [min(s + n % 400, len(buf)) for s, (_, n) in zip(start, spans)]
    ts = stamps.draw(
        st.lists(
            st.one_of(_INT64, st.sampled_from([0, 10**9, 1_700_000_000_000_000_001])),
            min_size=len(start),
            max_size=len(start),
        )
    )
    got = encode_span_entries(buf, np.array(ts, dtype=np.int64), np.array(start), np.array(end))
    assert got == encode_entries(ts, [buf[a:b] for a, b in zip(start, end)])


def test_streams_of_several_blobs_decode_as_one_stream_in_order() -> None:
    buf = b"alpha beta gamma"
    labels = format_labels(labels_from({"app": "web", "stream": "stdout"}))
    first = encode_span_entries(buf, np.array([1, 2]), np.array([0, 6]), np.array([5, 10]))
    second = encode_entries([3], [b"gamma"])
    other = encode_entries([4], [b"\xff"])
    body = encode_streams([(labels, [first, second]), ('{app="db"}', [other])])
    got = decode_push(body, "application/x-protobuf")
    assert [(dict(b.labels), list(b.timestamps), list(b.lines)) for b in got] == [
        ({"app": "web", "stream": "stdout"}, [1, 2, 3], [b"alpha", b"beta", b"gamma"]),
        ({"app": "db"}, [4], [b"\xff"]),
    ]
