"""Bounded decompression: bombs stop at the limit without holding it, valid bodies round-trip."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import cramjam
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heron.protowire import encode_varint
from heron.receive.decompress import DecompressError, TooLarge, inflate, unsnappy

MiB = 1 << 20


def zeros_compressed(n_mib: int, wbits: int) -> bytes:
    """n MiB of zeros, compressed without ever holding them: a decompression bomb."""
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = b"\0" * MiB
    return b"".join([c.compress(block) for _ in range(n_mib)] + [c.flush()])


@pytest.mark.parametrize("encoding,wbits", [("gzip", 31), ("deflate", 15)])
def test_a_bomb_stops_at_the_limit_holding_a_few_mib(encoding: str, wbits: int) -> None:
    bomb = zeros_compressed(1024, wbits)  # 1 MiB that expands to 1 GiB, as in issue 18
    assert len(bomb) < 2 * MiB
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge, match="64 ?MiB|67108864") as caught:
            inflate(bomb, encoding, 64 * MiB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.limit == 64 * MiB and "max_push_size" in str(caught.value)
    assert peak < 16 * MiB, peak


def test_bodies_within_the_limit_round_trip_above_and_below_the_kept_size() -> None:
    small = b"line %d\n" * 1000 % tuple(range(1000))
    big = bytes(range(256)) * (40 * MiB // 256)  # over the 8 MiB kept on the first pass
    for data in (small, big):
        assert inflate(gzip.compress(data, 1), "gzip", 64 * MiB) == data
        assert inflate(zlib.compress(data, 1), "deflate", 64 * MiB) == data
    with pytest.raises(TooLarge):
        inflate(gzip.compress(big, 1), "gzip", len(big) - 1)
    assert inflate(gzip.compress(big, 1), "gzip", len(big)) == big


def test_gzip_members_concatenated_and_zero_padding_decode_as_gzip_does() -> None:
    body = gzip.compress(b"one ") + gzip.compress(b"two") + b"\0\0\0"
    assert inflate(body, "gzip", 1000) == gzip.decompress(body) == b"one two"
    with pytest.raises(TooLarge):  # the limit counts every member
        inflate(gzip.compress(b"x" * 600) + gzip.compress(b"y" * 600), "gzip", 1000)


@pytest.mark.parametrize(
    "body,encoding",
    [
        (gzip.compress(b"hello world")[:-6], "gzip"),  # truncated
        (b"not gzip at all", "gzip"),
        (gzip.compress(b"a") + b"junk", "gzip"),  # what follows a member must be a member
        (zlib.compress(b"hello world")[:5], "deflate"),
        (b"\x78\x9c\xff\xff", "deflate"),
    ],
)
def test_corrupt_streams_are_decompress_errors(body: bytes, encoding: str) -> None:
    with pytest.raises(DecompressError, match=f"invalid {encoding} body"):
        inflate(body, encoding, MiB)


def test_a_snappy_length_header_over_the_limit_is_refused_before_decoding() -> None:
    block = bytes(cramjam.snappy.compress_raw(b"\0" * MiB))
    lying = encode_varint(200 * MiB) + block[3:]  # issue 18: a body that declares 200 MiB
    with pytest.raises(TooLarge, match="declares 209715200 decoded bytes") as caught:
        unsnappy(lying, 64 * MiB)
    assert caught.value.limit == 64 * MiB
    assert unsnappy(block, MiB) == b"\0" * MiB
    with pytest.raises(TooLarge):
        unsnappy(block, MiB - 1)


def test_a_snappy_header_its_body_cannot_fill_is_refused_without_allocating() -> None:
    """cramjam allocates the declared length before it finds the body short."""
    tracemalloc.start()
    try:
        with pytest.raises(DecompressError, match="more than its 10 compressed bytes can hold"):
            unsnappy(encode_varint(60 * MiB) + b"\0" * 10, 64 * MiB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MiB
    with pytest.raises(DecompressError, match="no length header"):
        unsnappy(b"", MiB)
    with pytest.raises(DecompressError, match="invalid snappy block"):
        unsnappy(b"\x05\x00", MiB)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.sampled_from(["gzip", "deflate", "snappy"]))
def test_arbitrary_bytes_decode_or_raise_decompress_error(data: bytes, encoding: str) -> None:
    try:
        out = unsnappy(data, 4096) if encoding == "snappy" else inflate(data, encoding, 4096)
    except DecompressError:
        return
    assert len(out) <= 4096
