"""Property tests of the log chunk codec and of the columnar helpers around it."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heron.storage.log_chunks import (
    HEADER_SIZE,
    TARGET_CHUNK_BYTES,
    LogColumns,
    chunk_time_range,
    decode_log_chunk,
    decode_log_chunk_times,
    encode_log_chunk,
    encoded_size,
    find_substring,
)
from heron.storage.types import CorruptionError

I64_MIN, I64_MAX = -(2**63), 2**63 - 1
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

BIG = 256 * 1024
BIG_LINES = [b"a" * BIG, os.urandom(BIG), b"\n" * (BIG - 1) + b"\xff"]
SMALL_SPECIAL = [b"", b"\n", b"\r\n", b"\x00", b"\xff\xfe\xfd", "ünïcødé ☃".encode(), "x".encode("utf-16")]

lines_st = st.one_of(
    st.binary(max_size=24),
    st.binary(max_size=24, min_size=1).map(lambda b: b.replace(b"\x00", b"a")),
    st.sampled_from(SMALL_SPECIAL),
    st.sampled_from(BIG_LINES),
)
ts_st = st.one_of(
    st.integers(I64_MIN, I64_MAX),
    st.sampled_from([I64_MIN, I64_MIN + 1, -1, 0, 1, I64_MAX - 1, I64_MAX]),  # equal timestamps
    st.integers(1_700_000_000 * 10**9, 1_700_000_000 * 10**9 + 5000),
)


@st.composite
def entries(draw: st.DrawFn, max_size: int = 30) -> tuple[list[int], list[bytes], list[bytes] | None]:
    n = draw(st.integers(0, max_size))
    ts = draw(st.lists(ts_st, min_size=n, max_size=n))
    if draw(st.booleans()):
        ts.sort()  # most chunks arrive in order: exercise the no-sort path too
    lines = draw(st.lists(lines_st, min_size=n, max_size=n))
    meta = None
    if draw(st.booleans()):
        meta = draw(st.lists(st.one_of(st.just(b""), st.binary(max_size=12)), min_size=n, max_size=n))
    return ts, lines, meta


def reference(ts: list[int], lines: list[bytes], meta: list[bytes] | None) -> list[tuple[int, bytes, bytes]]:
    """The dumb model: a list of tuples, stable-sorted by timestamp."""
    m = meta if meta is not None else [b""] * len(lines)
    return sorted(zip(ts, lines, m), key=lambda e: e[0])


def rows(cols: LogColumns) -> list[tuple[int, bytes, bytes]]:
    assert cols.timestamps.dtype == np.int64 and cols.ends.dtype == np.int64
    assert cols.meta_ends.dtype == np.int64
    return list(zip(cols.timestamps.tolist(), cols.lines(), cols.all_metadata()))


def dumb_find(lines: list[bytes], needle: bytes) -> list[int]:
    return [i for i, line in enumerate(lines) if needle in line]


@FAST
@given(entries())
def test_from_lists_sorts_stably(e: tuple[list[int], list[bytes], list[bytes] | None]) -> None:
    cols = LogColumns.from_lists(*e)
    want = reference(*e)
    assert rows(cols) == want
    assert len(cols) == len(want)
    for i, (_, line, meta) in enumerate(want):
        assert cols.line(i) == line
        assert cols.metadata(i) == meta
    if want:
        assert cols.line(-1) == want[-1][1]
    with pytest.raises(IndexError):
        cols.line(len(want))


@FAST
@given(entries(), st.sampled_from([1, 3]))
def test_round_trip(e: tuple[list[int], list[bytes], list[bytes] | None], level: int) -> None:
    cols = LogColumns.from_lists(*e)
    buf = encode_log_chunk(cols, level=level)
    assert encoded_size(buf) == len(buf)
    got = decode_log_chunk(buf)
    assert rows(got) == rows(cols)
    assert got.data == cols.data
    assert got.ends.tolist() == cols.ends.tolist()
    ts = cols.timestamps.tolist()
    assert chunk_time_range(buf) == ((ts[0], ts[-1], len(ts)) if ts else (0, 0, 0))


@FAST
@given(entries(), st.data())
def test_find_substring_matches_the_dumb_scan(
    e: tuple[list[int], list[bytes], list[bytes] | None], data: st.DataObject
) -> None:
    cols = LogColumns.from_lists(*e)
    lines = cols.lines()
    needles = [b"", b"a", b"\n", b"\xff", data.draw(st.binary(min_size=1, max_size=3))]
    if cols.data:
        a = data.draw(st.integers(0, len(cols.data) - 1))
        b = data.draw(st.integers(a + 1, min(len(cols.data), a + 40)))
        needles.append(cols.data[a:b])  # any slice of the buffer, often across a line boundary
    ends = cols.ends.tolist()
    for i in range(1, len(lines)):  # tail of one line + head of the next: must never match
        if lines[i - 1] and lines[i]:
            needles.append(cols.data[ends[i - 1] - 1 : ends[i - 1] + 1])
    for needle in needles:
        got = find_substring(cols, needle)
        assert got.dtype == np.int64
        assert got.tolist() == dumb_find(lines, needle), needle
    got_empty = find_substring(cols, b"")
    assert got_empty.tolist() == list(range(len(lines)))  # the empty needle matches every line


def test_find_substring_never_crosses_lines() -> None:
    cols = LogColumns.from_lists([1, 2, 3, 4], [b"xab", b"cab", b"c", b"zzabc"])
    assert find_substring(cols, b"abc").tolist() == [3]
    assert find_substring(cols, b"bc").tolist() == [3]
    assert find_substring(cols, b"cabc").tolist() == []
    cols = LogColumns.from_lists([1, 2], [b"", b""])
    assert find_substring(cols, b"").tolist() == [0, 1]
    assert find_substring(cols, b"a").tolist() == []
    many = LogColumns.from_lists(
        list(range(1000)), [b"hit %d" % i if i % 3 else b"miss" for i in range(1000)]
    )
    assert find_substring(many, b"hit").tolist() == [i for i in range(1000) if i % 3]


@FAST
@given(entries(), st.data())
def test_take(e: tuple[list[int], list[bytes], list[bytes] | None], data: st.DataObject) -> None:
    cols = LogColumns.from_lists(*e)
    n = len(cols)
    idx = data.draw(st.lists(st.integers(0, n - 1), max_size=40)) if n else []
    if n and data.draw(st.booleans()):
        a = data.draw(st.integers(0, n - 1))
        idx = list(range(a, data.draw(st.integers(a, n))))  # a contiguous run: the one-slice path
    got = cols.take(np.array(idx, dtype=np.int64))
    want = rows(cols)
    assert rows(got) == [want[i] for i in idx]
    if idx == sorted(idx):  # still sorted by time, so it must survive a round trip too
        assert rows(decode_log_chunk(encode_log_chunk(got))) == rows(got)


@FAST
@given(st.lists(entries(max_size=10), max_size=4))
def test_concat(parts: list[tuple[list[int], list[bytes], list[bytes] | None]]) -> None:
    cols = [LogColumns.from_lists(*p) for p in parts]
    got = LogColumns.concat(cols)
    flat = [r for c in cols for r in rows(c)]
    assert rows(got) == sorted(flat, key=lambda r: r[0])


def test_encode_rejects_unsorted_columns() -> None:
    cols = LogColumns.from_lists([1, 2], [b"a", b"b"]).take(np.array([1, 0]))
    with pytest.raises(ValueError):
        encode_log_chunk(cols)


def test_a_target_sized_chunk_compresses() -> None:
    lines = [
        b'level=info msg="request done" path=/api/v1/items/%d status=200' % (i % 97) for i in range(4000)
    ]
    cols = LogColumns.from_lists(1_700_000_000 * 10**9 + np.arange(4000) * 1_000_000, lines)
    assert len(cols.data) <= TARGET_CHUNK_BYTES
    buf = encode_log_chunk(cols)
    assert len(buf) < len(cols.data) / 5
    assert decode_log_chunk(buf).lines() == lines


@FAST
@given(entries(max_size=12), st.data())
def test_bit_flip_is_detected(
    e: tuple[list[int], list[bytes], list[bytes] | None], data: st.DataObject
) -> None:
    buf = bytearray(encode_log_chunk(LogColumns.from_lists(*e)))
    bit = data.draw(st.integers(0, len(buf) * 8 - 1))
    buf[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(CorruptionError):
        decode_log_chunk(bytes(buf))


@FAST
@given(entries(max_size=12), st.data())
def test_truncation_and_extension_are_detected(
    e: tuple[list[int], list[bytes], list[bytes] | None], data: st.DataObject
) -> None:
    buf = encode_log_chunk(LogColumns.from_lists(*e))
    cut = data.draw(st.integers(0, len(buf) - 1))
    with pytest.raises(CorruptionError):
        decode_log_chunk(buf[:cut])
    with pytest.raises(CorruptionError):
        decode_log_chunk(memoryview(buf + b"\x00"))
    if cut < HEADER_SIZE:
        with pytest.raises(CorruptionError):
            chunk_time_range(buf[:cut])


def test_header_damage_is_named() -> None:
    buf = encode_log_chunk(LogColumns.from_lists([5, 9], [b"a", b"b"]))
    assert chunk_time_range(buf) == (5, 9, 2)
    with pytest.raises(CorruptionError, match="magic"):
        decode_log_chunk(b"XXXX" + buf[4:])
    with pytest.raises(CorruptionError, match="version"):
        decode_log_chunk(buf[:4] + b"\x07" + buf[5:])
    with pytest.raises(CorruptionError, match="CRC"):
        decode_log_chunk(buf[:-1] + bytes([buf[-1] ^ 1]))


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=80))
def test_garbage_raises_only_corruption_error(junk: bytes) -> None:
    for candidate in (junk, b"HLOG\x01" + junk):
        with pytest.raises(CorruptionError):
            decode_log_chunk(candidate)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-(2**40), 2**40), st.binary(max_size=300)), max_size=200))
def test_times_only_decode_matches_full_decode(entries: list[tuple[int, bytes]]) -> None:
    entries.sort(key=lambda e: e[0])
    cols = LogColumns.from_lists([t for t, _ in entries], [line for _, line in entries])
    buf = encode_log_chunk(cols)
    ts, lens = decode_log_chunk_times(buf)
    full = decode_log_chunk(buf)
    assert ts.tolist() == full.timestamps.tolist()
    assert lens.tolist() == [len(line) for _, line in entries]
