"""Property tests of the metric sample codecs: bit-exact round trips and loud corruption."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heron.model import STALE_NAN_BITS
from heron.storage.metric_chunks import (
    FRAME_HEADER_SIZE,
    decode_frame,
    decode_samples,
    encode_frame,
    encode_samples,
    frame_sample_count,
    frame_series_count,
)
from heron.storage.types import CorruptionError

I64_MIN, I64_MAX = -(2**63), 2**63 - 1
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SPECIAL_BITS = [
    STALE_NAN_BITS,
    0x7FF8000000000000,  # the usual quiet NaN
    0xFFF8000000000000,  # negative quiet NaN
    0x7FF0000000000001,  # signalling NaN
    0x7FF8DEADBEEF0001,  # quiet NaN with a payload
    0xFFFFFFFFFFFFFFFF,
    0x7FF0000000000000,  # +Inf
    0xFFF0000000000000,  # -Inf
    0x8000000000000000,  # -0.0
    0x0000000000000000,  # +0.0
    0x0000000000000001,  # smallest subnormal
    0x7FEFFFFFFFFFFFFF,  # largest finite
]


def f64(bits: list[int]) -> np.ndarray:
    return np.array(bits, dtype=np.uint64).view(np.float64)


@st.composite
def timestamps(draw: st.DrawFn, max_n: int = 300) -> np.ndarray:
    """Sorted, unique int64 ms timestamps: scrape grids with and without jitter and gaps, and
    arbitrary values up to the int64 limits (where a naive delta-of-delta would overflow)."""
    kind = draw(st.sampled_from(["grid", "jitter", "gaps", "any", "extreme"]))
    n = draw(st.integers(0, max_n))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind in ("grid", "jitter", "gaps"):
        start = draw(st.integers(-(2**50), 2**50))
        step = draw(st.sampled_from([1, 1000, 15000, 60000, 3_600_000]))
        slots = np.arange(n, dtype=np.int64)
        if kind == "gaps":
            slots = np.cumsum(rng.integers(1, 5, n)) if n else slots
        ts = start + slots * step
        if kind == "jitter" and step > 10:
            ts = ts + rng.integers(-5, 6, n)
    elif kind == "any":
        ts = np.array(draw(st.lists(st.integers(I64_MIN, I64_MAX), max_size=min(n, 60))), dtype=np.int64)
    else:
        edges = [I64_MIN, I64_MIN + 1, -(2**62), -1, 0, 1, 2**62, I64_MAX - 1, I64_MAX]
        picked = draw(st.lists(st.sampled_from(edges), max_size=9))
        filler = rng.integers(-(2**62), 2**62, n // 4 if draw(st.booleans()) else 0)
        ts = np.concatenate([np.array(picked, dtype=np.int64), filler])
    return np.unique(ts.astype(np.int64))


@st.composite
def values_for(draw: st.DrawFn, n: int) -> np.ndarray:
    """float64 values of the shapes that take different encoding paths, plus special values
    sprinkled in (which must force the lossless path without breaking the round trip)."""
    kind = draw(st.sampled_from(["counter", "steady", "gauge", "decimal", "float", "bits", "constant"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "counter":
        v = draw(st.integers(0, 2**40)) + np.cumsum(
            rng.integers(0, draw(st.sampled_from([2, 300, 70000])), n)
        )
        v = v.astype(np.float64)
    elif kind == "steady":  # a near-constant rate: the delta of delta is the narrow stream
        rate = draw(st.integers(1000, 10**6))
        v = (rate * np.arange(n) + rng.integers(0, draw(st.sampled_from([1, 3, 100])), n)).astype(np.float64)
    elif kind == "gauge":
        v = (
            rng.integers(-(2**52), 2**52, n).astype(np.float64)
            if draw(st.booleans())
            else (rng.integers(-100, 100, n).astype(np.float64))
        )
    elif kind == "decimal":
        k = draw(st.integers(0, 12))
        v = rng.integers(-(10**8), 10**8, n) / 10.0**k
    elif kind == "float":
        v = rng.normal(0, 10.0 ** draw(st.integers(-300, 300)), n)
    elif kind == "bits":
        v = rng.integers(0, 2**64, n, dtype=np.uint64).view(np.float64)
    else:
        v = np.full(n, draw(st.sampled_from([0.0, 1.0, -3.5, 1e300])))
    v = np.array(v, dtype=np.float64)
    if n and draw(st.booleans()):
        specials = draw(st.lists(st.sampled_from(SPECIAL_BITS), min_size=1, max_size=5))
        where = draw(st.lists(st.integers(0, n - 1), min_size=len(specials), max_size=len(specials)))
        v.view(np.uint64)[where] = specials
    return v


@st.composite
def series(draw: st.DrawFn, max_n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    ts = draw(timestamps(max_n))
    return ts, draw(values_for(ts.shape[0]))


def assert_same(got: tuple[np.ndarray, np.ndarray], want: tuple[np.ndarray, np.ndarray]) -> None:
    gt, gv = got
    wt, wv = want
    assert gt.dtype == np.int64 and gv.dtype == np.float64
    assert gt.tolist() == wt.tolist()
    assert gv.view(np.uint64).tolist() == wv.view(np.uint64).tolist()  # bit-exact, NaN payloads included


@FAST
@given(series())
def test_samples_round_trip(s: tuple[np.ndarray, np.ndarray]) -> None:
    assert_same(decode_samples(encode_samples(*s)), s)


@FAST
@given(st.lists(series(max_n=150), max_size=12), st.sampled_from([1, 3]))
def test_frame_round_trip(many: list[tuple[np.ndarray, np.ndarray]], level: int) -> None:
    buf = encode_frame(many, level=level)
    assert frame_series_count(buf) == len(many)
    assert frame_sample_count(buf) == sum(len(t) for t, _ in many)
    got = decode_frame(buf)
    assert len(got) == len(many)
    for g, w in zip(got, many):
        assert_same(g, w)


def test_special_values_round_trip_in_every_position() -> None:
    specials = f64(SPECIAL_BITS)
    for base in (np.arange(12, dtype=np.float64), np.arange(12) / 10.0, np.full(12, 7.0)):
        for i in range(12):
            v = base.copy()
            v[i] = specials[i]
            ts = np.arange(12, dtype=np.int64) * 15000
            assert_same(decode_samples(encode_samples(ts, v)), (ts, v))


def test_timestamps_at_int64_limits() -> None:
    cases = [
        [I64_MIN, I64_MAX],
        [I64_MIN, 0, I64_MAX],
        [I64_MIN, I64_MIN + 1, I64_MAX - 1, I64_MAX],
        [-(2**62), 2**62],
        [-(2**62), -(2**62) + 1, 2**62],
        list(range(-(2**62), 2**62, 2**60)),
    ]
    for case in cases:
        ts = np.array(case, dtype=np.int64)
        v = np.arange(len(case), dtype=np.float64)
        assert_same(decode_samples(encode_samples(ts, v)), (ts, v))
        assert_same(decode_frame(encode_frame([(ts, v)]))[0], (ts, v))
    # A delta of 2^63 or more does not fit in int64: such a series must use the raw timestamp
    # encoding (0 in the low bits of the byte after version and count), never a wrapped delta.
    for case in ([I64_MIN, I64_MAX], [I64_MIN, 0, I64_MAX], [-(2**62), 2**62]):
        buf = encode_samples(np.array(case, dtype=np.int64), np.zeros(len(case)))
        assert buf[2] & 3 == 0
    buf = encode_samples(np.array([-(2**62), 0, 2**62 - 1], dtype=np.int64), np.zeros(3))
    assert buf[2] & 3 != 0


def test_empty_and_single_sample() -> None:
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
    one = (np.array([-5], dtype=np.int64), f64([STALE_NAN_BITS]))
    for s in (empty, one):
        assert_same(decode_samples(encode_samples(*s)), s)
    got = decode_frame(encode_frame([empty, one, empty]))
    for g, w in zip(got, [empty, one, empty]):
        assert_same(g, w)
    assert decode_frame(encode_frame([])) == []


def test_regular_data_is_small_without_zstd() -> None:
    """The head keeps chunks in this form, so the narrow widths must do their job alone."""
    ts = 1_700_000_000_000 + np.arange(120, dtype=np.int64) * 15000
    constant = encode_samples(ts, np.full(120, 3.0))
    assert len(constant) < 24  # exact steps and a constant value: header only
    counter = encode_samples(ts, 1e6 + np.cumsum(np.arange(120) % 200).astype(np.float64))
    assert len(counter) <= 24 + 120  # one byte per increment
    jittered = ts + np.random.default_rng(1).integers(0, 6, 120)
    assert len(encode_samples(jittered, np.full(120, 0.25))) <= 24 + 120


def test_many_series_compress_well_together() -> None:
    rng = np.random.default_rng(7)
    ts = 1_700_000_000_000 + np.arange(480, dtype=np.int64) * 15000
    many = [
        (ts, (rng.integers(0, 10**6) + np.cumsum(rng.poisson(20, 480))).astype(np.float64)) for _ in range(64)
    ]
    buf = encode_frame(many)
    assert len(buf) / (64 * 480) < 1.3
    for g, w in zip(decode_frame(buf), many):
        assert_same(g, w)


def test_rejects_unsorted_or_duplicate_timestamps() -> None:
    v = np.zeros(3)
    with pytest.raises(ValueError):
        encode_samples(np.array([1, 3, 2], dtype=np.int64), v)
    with pytest.raises(ValueError):
        encode_frame([(np.array([1, 2, 2], dtype=np.int64), v)])
    with pytest.raises(ValueError):
        encode_samples(np.array([1, 2], dtype=np.int64), v)


@FAST
@given(st.lists(series(max_n=60), min_size=1, max_size=6), st.data())
def test_frame_bit_flip_is_detected(many: list[tuple[np.ndarray, np.ndarray]], data: st.DataObject) -> None:
    buf = bytearray(encode_frame(many))
    bit = data.draw(st.integers(0, len(buf) * 8 - 1))
    buf[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(CorruptionError):
        decode_frame(bytes(buf))


@FAST
@given(st.lists(series(max_n=60), max_size=6), st.data())
def test_frame_truncation_and_extension_are_detected(
    many: list[tuple[np.ndarray, np.ndarray]], data: st.DataObject
) -> None:
    buf = encode_frame(many)
    cut = data.draw(st.integers(0, len(buf) - 1))
    with pytest.raises(CorruptionError):
        decode_frame(buf[:cut])
    with pytest.raises(CorruptionError):
        decode_frame(buf + b"\x00")


def test_frame_header_damage_is_named() -> None:
    buf = encode_frame([(np.arange(3, dtype=np.int64), np.ones(3))])
    with pytest.raises(CorruptionError, match="magic"):
        decode_frame(b"XXXX" + buf[4:])
    with pytest.raises(CorruptionError, match="version"):
        decode_frame(buf[:4] + b"\x63" + buf[5:])
    with pytest.raises(CorruptionError, match="CRC"):
        decode_frame(buf[:-1] + bytes([buf[-1] ^ 0x10]))
    with pytest.raises(CorruptionError):
        frame_series_count(buf[: FRAME_HEADER_SIZE - 1])


@FAST
@given(series(max_n=60), st.data())
def test_samples_damage_raises_only_corruption_error(
    s: tuple[np.ndarray, np.ndarray], data: st.DataObject
) -> None:
    """encode_samples has no checksum (head chunks never leave memory), so a flipped bit may
    decode to other samples; but truncation is always caught, and nothing else ever escapes."""
    buf = encode_samples(*s)
    cut = data.draw(st.integers(0, len(buf) - 1))
    with pytest.raises(CorruptionError):
        decode_samples(buf[:cut])
    with pytest.raises(CorruptionError):
        decode_samples(buf + b"\x00")
    flipped = bytearray(buf)
    bit = data.draw(st.integers(0, len(buf) * 8 - 1))
    flipped[bit // 8] ^= 1 << (bit % 8)
    try:
        t, v = decode_samples(bytes(flipped))
    except CorruptionError:
        return
    assert t.shape == v.shape


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=64))
def test_garbage_raises_only_corruption_error(junk: bytes) -> None:
    with pytest.raises(CorruptionError):
        decode_frame(junk)
    with pytest.raises(CorruptionError):
        decode_frame(b"HMET\x01" + junk)
    try:
        t, v = decode_samples(b"\x01" + junk)
    except CorruptionError:
        return
    assert t.shape == v.shape


def test_stale_marker_survives_frames_bit_exactly() -> None:
    ts = np.arange(5, dtype=np.int64) * 15000
    v = np.array([1.0, 2.0, struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0], 4.0, 5.0])
    ((t2, v2),) = decode_frame(encode_frame([(ts, v)]))
    assert int(v2.view(np.uint64)[2]) == STALE_NAN_BITS
    assert_same((t2, v2), (ts, v))
