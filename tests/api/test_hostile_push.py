"""Hostile push bodies against a real server (issue 18): bombs, bad input, fuzzing.

Each answer is 204, 400, 413 or 429 with a message, never a 5xx; what a refusal refuses is not
stored; and no decompression bomb raises the server's peak memory (VmHWM) by more than 64 MiB.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import re
import time
import zlib
from pathlib import Path
from typing import Iterator

import cramjam
import httpx
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from heron.model import labels_from
from heron.protowire import encode_varint, field_bytes, field_varint
from heron.receive.loki_push import PushError, PushTooLarge, decode_push
from heron.ship.loki_encode import encode_push_request
from heron.storage import LogBatch
from serverproc import ServerProc, peak_rss, start_server

MiB = 1 << 20
NOW = time.time_ns() - 60 * 10**9
JSON, PROTOBUF = "application/json", "application/x-protobuf"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    s = start_server(tmp_path_factory.mktemp("hostile") / "data")
    yield s
    assert s.stop() == 0, s.log()


@pytest.fixture(scope="module")
def client(server: ServerProc) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


def push(c: httpx.Client, body: bytes, ctype: str = JSON, encoding: str = "") -> httpx.Response:
    headers = {"Content-Type": ctype} | ({"Content-Encoding": encoding} if encoding else {})
    return c.post("/loki/api/v1/push", content=body, headers=headers)


def metric(c: httpx.Client, line_start: str) -> float:
    text = c.get("/metrics").text
    found = [float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines() if ln.startswith(line_start)]
    return sum(found)


def accepted_so_far(c: httpx.Client) -> float:
    """Entries acknowledged: stored ones plus duplicates of stored ones."""
    return metric(c, "heron_ingested_log_entries_total ") + metric(c, "heron_duplicate_entries_total ")


def entries_of(c: httpx.Client, selector: str) -> int:
    r = c.get("/loki/api/v1/index/stats", params={"query": selector, "start": "0"})
    assert r.status_code == 200, r.text
    return int(r.json()["entries"])


def zeros_compressed(n_mib: int, wbits: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = b"\0" * MiB
    return b"".join([c.compress(block) for _ in range(n_mib)] + [c.flush()])


def test_decompression_bombs_answer_413_and_peak_memory_stays_within_64_mib(tmp_path: Path) -> None:
    """Issue 18: 1 MiB of gzip expanding to 1.07 GiB cost 3.3 GiB of RSS; a 9.4 MiB snappy body
    declaring 200 MiB cost 406 MiB. max_push_size is the default, 64 MiB."""
    gzip_bomb = zeros_compressed(1024, 31)
    deflate_bomb = zeros_compressed(1024, 15)
    block = bytes(cramjam.snappy.compress_raw(os.urandom(9 * MiB) + b"\0" * (2 * MiB)))
    snappy_bomb = encode_varint(200 * MiB) + block[len(encode_varint(11 * MiB)) :]
    s = start_server(tmp_path / "data")
    try:
        with httpx.Client(base_url=s.url, timeout=60) as c:
            good = [{"stream": {"app": "warm"}, "values": [[str(NOW), "x" * 1000]]}]
            warm = json.dumps({"streams": good}).encode()
            assert push(c, warm).status_code == 204  # every code path loaded before measuring
            assert push(c, gzip.compress(warm.replace(b"x", b"z")), encoding="gzip").status_code == 204
            pb = encode_push_request([LogBatch(labels_from({"app": "warm"}), [NOW + 1], [b"y"])])
            assert push(c, pb, PROTOBUF).status_code == 204
            base = peak_rss(s.proc.pid)
            for body, ctype, encoding, needle in [
                (gzip_bomb, JSON, "gzip", "gzip body decompresses to more than 67108864 bytes"),
                (deflate_bomb, JSON, "deflate", "deflate body decompresses to more than 67108864 bytes"),
                (gzip_bomb, PROTOBUF, "gzip", "gzip body decompresses to more than 67108864 bytes"),
                (snappy_bomb, PROTOBUF, "", "snappy block declares 209715200 decoded bytes"),
                (gzip.compress(snappy_bomb), PROTOBUF, "gzip", "snappy block declares 209715200"),
            ]:
                r = push(c, body, ctype, encoding)
                assert r.status_code == 413, (encoding, ctype, r.status_code, r.text[:300])
                assert needle in r.text and "max_push_size" in r.text, r.text
                growth = peak_rss(s.proc.pid) - base
                assert growth <= 64 * MiB, (encoding, ctype, growth / MiB)
            assert entries_of(c, '{app="warm"}') == 3
    finally:
        assert s.stop() == 0, s.log()


HOSTILE = [
    # (body, content type, what the 400 must say): each answered 500, or a silent 204, before
    (b'{"streams":' + b"[" * 100_000 + b"]" * 100_000 + b"}", JSON, "nested too deeply"),
    (
        json.dumps({"streams": [{"stream": {"app": "h"}, "values": [["99999999999999999999999", "x"]]}]}),
        JSON,
        "out of range",
    ),
    (b'{"streams":[{"stream":{"app":"\\ud800"},"values":[["%d","x"]]}]}' % NOW, JSON, "lone surrogate"),
    (b'{"streams":[{"stream":{"app":"h"},"values":[["%d","\\ud800"]]}]}' % NOW, JSON, "lone surrogate"),
    (
        b'{"streams":[{"stream":{"app":"h"},"values":[["%d","x",{"k":"\\udfff"}]]}]}' % NOW,
        JSON,
        "lone surrogate",
    ),
    (
        bytes(cramjam.snappy.compress_raw(field_varint(1, 5))),
        PROTOBUF,
        "PushRequest.streams (field 1) has wire type 0, want 2",
    ),
    (
        bytes(
            cramjam.snappy.compress_raw(
                field_bytes(1, field_bytes(1, b'{app="h"}') + field_bytes(2, field_varint(2, 1)))
            )
        ),
        PROTOBUF,
        "EntryAdapter.line (field 2) has wire type 0, want 2",
    ),
]


@pytest.mark.parametrize("body,ctype,needle", HOSTILE)
def test_bad_push_input_is_400_that_explains_itself_and_stores_nothing(
    client: httpx.Client, body: bytes | str, ctype: str, needle: str
) -> None:
    before = accepted_so_far(client)
    r = push(client, body.encode() if isinstance(body, str) else body, ctype)
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert needle in r.text
    assert accepted_so_far(client) == before
    assert metric(client, 'heron_push_requests_total{api="loki",code="500"}') == 0


@pytest.mark.parametrize(
    "stream,needle",
    [
        ({"a" * 10_000: "v"}, "(10000 characters) is longer than the limit of 1024 bytes"),
        ({"__name__": "up", "app": "n"}, "label name '__name__' is reserved"),
        ({"__anything": "x", "app": "n"}, "not allowed on log streams"),
    ],
)
def test_long_and_reserved_label_names_are_refused(client: httpx.Client, stream: dict, needle: str) -> None:
    doc = {"streams": [{"stream": stream, "values": [[str(NOW), "x"]]}]}
    r = client.post("/loki/api/v1/push", json=doc)
    assert r.status_code == 400, r.text
    assert needle in r.text and "total ignored: 1 out of 1" in r.text
    assert len(r.text) < 500
    assert metric(client, 'heron_rejected_entries_total{reason="invalid_labels"}') >= 1


def test_a_far_future_entry_is_refused_and_its_stream_keeps_accepting(client: httpx.Client) -> None:
    """Issue 18: 4900000000000000000 was stored, then every current push of the stream got 400."""

    def values(*pairs: tuple[int, str]) -> dict:
        return {"streams": [{"stream": {"app": "future"}, "values": [[str(t), ln] for t, ln in pairs]}]}

    refused = 'heron_rejected_entries_total{reason="too_far_in_future"}'
    before = metric(client, refused)
    r = client.post("/loki/api/v1/push", json=values((4_900_000_000_000_000_000, "from 2125")))
    assert r.status_code == 400
    assert "too far in the future: more than 600s ahead of the server's clock (future_skew)" in r.text
    assert metric(client, refused) == before + 1
    now = time.time_ns()
    assert client.post("/loki/api/v1/push", json=values((now, "now"))).status_code == 204
    r = client.post(
        "/loki/api/v1/push", json=values((now + 1, "a"), (now + 3600 * 10**9, "b"), (now + 2, "c"))
    )
    assert r.status_code == 400 and "total ignored: 1 out of 3" in r.text
    assert entries_of(client, '{app="future"}') == 3


# --- fuzzing -------------------------------------------------------------------------------------

_SURROGATES = st.sampled_from(["\ud800", "\udc80", "\udfff", "a\ud83d"])
_TEXT = st.one_of(st.text(max_size=12), _SURROGATES, st.just("__name__"), st.just("x" * 1100))
_TIMESTAMPS = st.one_of(
    st.integers(NOW - 10**12, NOW + 10**12).map(str),
    st.integers(-(2**70), 2**70).map(str),
    st.integers(-(2**64), 2**64),
    st.sampled_from(["", "1e18", "1_000", "-0", " 5", "4900000000000000000", "99999999999999999999999"]),
    st.floats(allow_nan=False),
    st.none(),
)
_JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), _TEXT)
_ANY_JSON = st.recursive(
    _JSON_LEAF,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(_TEXT, kids, max_size=3),
    max_leaves=8,
)
_ENTRY = st.one_of(
    st.tuples(_TIMESTAMPS, st.one_of(_TEXT, _ANY_JSON)).map(list),
    st.tuples(_TIMESTAMPS, _TEXT, st.dictionaries(_TEXT, st.one_of(_TEXT, _ANY_JSON), max_size=2)).map(list),
    _ANY_JSON,
)
_STREAM = st.fixed_dictionaries(
    {"stream": st.one_of(st.dictionaries(_TEXT, st.one_of(_TEXT, _ANY_JSON), max_size=3), _ANY_JSON)},
    optional={"values": st.one_of(st.lists(_ENTRY, max_size=4), _ANY_JSON)},
)
_GOOD_STREAM = st.fixed_dictionaries(  # mostly valid, so that accepted pushes are fuzzed too
    {
        "stream": st.fixed_dictionaries({"app": st.just("fz")}, optional={"k": _TEXT}),
        "values": st.lists(
            st.tuples(st.integers(NOW - 10**12, NOW + 10**12).map(str), st.text(max_size=20)).map(list),
            max_size=4,
        ),
    }
)
_PUSH_DOC = st.one_of(
    st.fixed_dictionaries({"streams": st.lists(_GOOD_STREAM, max_size=3)}),
    st.fixed_dictionaries({"streams": st.lists(_STREAM | _GOOD_STREAM, max_size=3)}),
    _ANY_JSON,
)


def _mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """Flip, insert or drop bytes, or cut the body short."""
    out = bytearray(data)
    for kind, pos, value in edits:
        if not out:
            break
        at = pos % len(out)
        if kind == 0:
            out[at] ^= value or 1
        elif kind == 1:
            out.insert(at, value)
        elif kind == 2:
            del out[at]
        else:
            del out[at:]
    return bytes(out)


_EDITS = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6), st.integers(0, 255)), max_size=3)


def _valid_request(tag: int, n: int, first: int) -> list[LogBatch]:
    metas = [b'{"k":"v"}' if i % 2 else b"" for i in range(n)]
    return [
        LogBatch(
            labels_from({"app": "fuzz", "tag": str(tag)}),
            [first] + [NOW + i for i in range(1, n)],
            [b"l%d" % i for i in range(n)],
            metas,
        )
    ]


def _expect(c: httpx.Client, body: bytes, ctype: str, encoding: str) -> bool:
    """The server answers as the decoder and the rules say, and stores exactly what it accepts.
    True when the whole body was refused."""
    before = accepted_so_far(c)
    r = push(c, body, ctype, encoding)
    after = accepted_so_far(c)
    assert r.status_code in (204, 400, 413, 429), (r.status_code, r.text[:500])
    event(f"answered {r.status_code}")  # pytest --hypothesis-show-statistics shows the mix
    if r.status_code == 204:
        assert after - before == sum(len(b.lines) for b in decode_push(body, ctype, encoding))
        return False
    assert r.text.strip(), r.status_code
    ignored = re.search(r"total ignored: (\d+) out of (\d+)$", r.text.strip())
    if ignored:  # refused per entry, as Loki does: the rest is stored
        assert after - before == int(ignored[2]) - int(ignored[1])
        return False
    assert after == before, r.text[:300]  # the whole body was refused: nothing of it is stored
    if r.status_code == 413:
        with pytest.raises(PushTooLarge):
            decode_push(body, ctype, encoding)
    elif r.status_code == 400:
        with pytest.raises(PushError):
            decode_push(body, ctype, encoding)
    return True


_TAGS = itertools.count()
_FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_FUZZ
@given(doc=_PUSH_DOC, edits=st.just([]) | _EDITS, gz=st.booleans())
@example(doc={"streams": [{"stream": {"a": "\ud800"}, "values": [[str(NOW), "x"]]}]}, edits=[], gz=False)
@example(
    doc={"streams": [{"stream": {"a": "b"}, "values": [["99999999999999999999999", "x"]]}]}, edits=[], gz=True
)
def test_fuzzed_json_pushes_never_answer_5xx(
    client: httpx.Client, doc: object, edits: list, gz: bool
) -> None:
    text = json.dumps(doc).encode()  # ensure_ascii: lone surrogates travel as \\udXXX escapes
    body = _mutate(text, edits) if edits else text
    _expect(client, gzip.compress(body) if gz else body, JSON, "gzip" if gz else "")


@_FUZZ
@given(
    n=st.integers(1, 5),
    first=st.one_of(
        st.just(NOW), st.sampled_from([2**70, -(2**70), 4_900_000_000_000_000_000, NOW + 10**13])
    ),
    raw_edits=st.just([]) | _EDITS,
    snappy_edits=st.just([]) | _EDITS,
    gz=st.booleans(),
)
@example(n=2, first=2**70, raw_edits=[], snappy_edits=[], gz=False)  # past int64: answered 500
@example(n=1, first=NOW, raw_edits=[(0, 0, 0x0A ^ 0x08)], snappy_edits=[], gz=False)  # streams as a varint
def test_fuzzed_protobuf_pushes_never_answer_5xx(
    client: httpx.Client, n: int, first: int, raw_edits: list, snappy_edits: list, gz: bool
) -> None:
    tag = next(_TAGS)  # a stream of its own: examples replay, and a replay would be a duplicate
    raw = _mutate(encode_push_request(_valid_request(tag, n, first), compress=False), raw_edits)
    body = _mutate(bytes(cramjam.snappy.compress_raw(raw)), snappy_edits)
    selector = f'{{app="fuzz", tag="{tag}"}}'
    before = entries_of(client, selector)
    refused = _expect(client, gzip.compress(body) if gz else body, PROTOBUF, "gzip" if gz else "")
    if refused:
        assert entries_of(client, selector) == before
    if not raw_edits and not snappy_edits and first == NOW:
        assert not refused and entries_of(client, selector) - before == n
