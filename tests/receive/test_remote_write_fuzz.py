"""Hypothesis against the remote write 1.0 and 2.0 decoders: only a clean error or a correct result.

"Correct" is judged by Google's protobuf runtime (`prompb_ref`): a valid request decodes to
exactly what the runtime serialized, and whenever Heron accepts mutated or random bytes, the
runtime parses them too and means the same samples.
"""

from __future__ import annotations

import struct

import cramjam
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heron.receive.remote_write import RemoteWriteError, decode_write_request
from heron.ship.remote_write_encode import V2_CONTENT_TYPE, snappy
from prompb_ref import RequestV2, WriteRequest

LIMIT = 1 << 20
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,8}", fullmatch=True).filter(lambda n: n != "__name__")
_metric = st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,12}", fullmatch=True)
_values = st.text(min_size=1, max_size=12)
_samples = st.lists(
    st.tuples(st.integers(-(1 << 63), (1 << 63) - 1), st.floats(allow_nan=True, allow_infinity=True)),
    max_size=4,
)
_series = st.lists(
    st.tuples(_metric, st.dictionaries(_names, _values, max_size=4), _samples), min_size=0, max_size=6
)


def _bits(v: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", v))[0]


def _expected(
    series: list[tuple[str, dict[str, str], list[tuple[int, float]]]],
) -> list[tuple[object, int, int]]:
    out = []
    for name, labels, samples in series:
        lab = tuple(sorted({**labels, "__name__": name}.items()))
        out += [(lab, t, _bits(v)) for t, v in samples]
    return out


def _got(body: bytes, ctype: str) -> list[tuple[object, int, int]]:
    d = decode_write_request(body, ctype, "snappy", LIMIT)
    ts = np.asarray(d.columns.timestamps).tolist()
    vals = np.asarray(d.columns.values, dtype=np.float64).view(np.uint64).tolist()
    return list(zip(d.columns.labels, ts, vals))


def _v1(series: list[tuple[str, dict[str, str], list[tuple[int, float]]]]) -> bytes:
    w = WriteRequest()
    for name, labels, samples in series:
        ts = w.timeseries.add()
        for n, v in [("__name__", name), *labels.items()]:
            ts.labels.add(name=n, value=v)
        for t, v in samples:
            ts.samples.add(value=v, timestamp=t)
        if len(samples) % 2:  # some series carry an exemplar and a native histogram too
            ts.exemplars.add(labels=[{"name": "trace_id", "value": name}], value=1.0, timestamp=1)
            ts.histograms.add(count_int=len(labels), sum=1.0, timestamp=2)
    return w.SerializeToString()


def _v2(series: list[tuple[str, dict[str, str], list[tuple[int, float]]]]) -> bytes:
    r = RequestV2()
    symbols: dict[str, int] = {"": 0}
    for name, labels, samples in series:
        t = r.timeseries.add()
        for n, v in [("__name__", name), *labels.items()]:
            for s in (n, v):
                t.labels_refs.append(symbols.setdefault(s, len(symbols)))
        for ts, v in samples:
            t.samples.add(value=v, timestamp=ts)
        if len(samples) % 2:
            t.exemplars.add(labels_refs=[0, 0], value=1.0, timestamp=1)
            t.histograms.add(count_int=len(labels), sum=1.0, timestamp=2)
    r.symbols.extend(symbols)
    return r.SerializeToString()


def _check_counts(
    body: bytes, ctype: str, series: list[tuple[str, dict[str, str], list[tuple[int, float]]]]
) -> None:
    """Exemplars and native histograms are counted, one of each per series with odd samples."""
    d = decode_write_request(body, ctype, "snappy", LIMIT)
    odd = sum(len(samples) % 2 for _, _, samples in series)
    assert (d.exemplars, d.histograms) == (odd, odd)


@SETTINGS
@given(_series)
def test_valid_v1_requests_decode_exactly(
    series: list[tuple[str, dict[str, str], list[tuple[int, float]]]],
) -> None:
    assert _got(snappy(_v1(series)), "application/x-protobuf") == _expected(series)


@SETTINGS
@given(_series)
def test_valid_v2_requests_decode_exactly(
    series: list[tuple[str, dict[str, str], list[tuple[int, float]]]],
) -> None:
    assert _got(snappy(_v2(series)), V2_CONTENT_TYPE) == _expected(series)


def _reference_meaning(raw: bytes, v2: bool) -> list[tuple[object, int, int]] | None:
    """What the protobuf runtime reads from raw bytes, or None when it refuses them."""
    try:
        msg = (RequestV2 if v2 else WriteRequest).FromString(raw)
    except Exception:  # the runtime's DecodeError, or a RuntimeWarning-free failure of its own
        return None
    out = []
    for ts in msg.timeseries:
        if v2:
            refs = list(ts.labels_refs)
            pairs = [(msg.symbols[refs[i]], msg.symbols[refs[i + 1]]) for i in range(0, len(refs) - 1, 2)]
        else:
            pairs = [(lab.name, lab.value) for lab in ts.labels]
        lab = tuple(sorted((n, v) for n, v in pairs if v != ""))
        out += [(lab, s.timestamp, _bits(s.value)) for s in ts.samples]
    return out


def _check_clean(raw: bytes, v2: bool) -> None:
    ctype = V2_CONTENT_TYPE if v2 else "application/x-protobuf"
    try:
        got = _got(snappy(raw), ctype)
    except RemoteWriteError:
        return
    assert _reference_meaning(raw, v2) == got


@SETTINGS
@given(_series, st.data(), st.booleans())
def test_mutated_requests_error_cleanly_or_mean_what_protobuf_reads(
    series: list[tuple[str, dict[str, str], list[tuple[int, float]]]], data: st.DataObject, v2: bool
) -> None:
    raw = bytearray(_v2(series) if v2 else _v1(series))
    for _ in range(data.draw(st.integers(1, 4))):
        if not raw:
            break
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        i = data.draw(st.integers(0, len(raw) - 1))
        if op == "flip":
            raw[i] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del raw[i:]
        else:
            raw[i:i] = data.draw(st.binary(min_size=1, max_size=4))
    _check_clean(bytes(raw), v2)


@SETTINGS
@given(st.binary(max_size=200), st.booleans())
def test_random_bytes_error_cleanly_or_mean_what_protobuf_reads(raw: bytes, v2: bool) -> None:
    _check_clean(raw, v2)


@SETTINGS
@given(st.binary(max_size=100))
def test_random_compressed_bodies_error_cleanly(body: bytes) -> None:
    try:
        got = _got(body, "application/x-protobuf")
    except RemoteWriteError:
        return
    assert _reference_meaning(bytes(cramjam.snappy.decompress_raw(body)), False) == got
