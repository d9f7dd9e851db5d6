"""The container log format layer: CRI and docker json-file parsing, partial merging, state."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heron.collect.logs.formats import Entry, Format, LineParser, detect_format, parse_rfc3339_ns

NOW = 42  # the caller's reading time, given to malformed lines
T0 = "2024-01-01T12:00:00.123456789Z"
T0_NS = int(datetime(2024, 1, 1, 12, tzinfo=UTC).timestamp()) * 10**9 + 123456789


def cri(msg: bytes, stream: str = "stdout", tag: str = "F", ts: str = T0) -> bytes:
    return f"{ts} {stream} {tag} ".encode() + msg + b"\n"


def docker(log: str, stream: str = "stdout", time: str = T0) -> bytes:
    return json.dumps({"log": log, "stream": stream, "time": time}).encode() + b"\n"


def parse_all(parser: LineParser, data: bytes) -> list[Entry]:
    entries, used = parser.feed(data, NOW)
    assert used == len(data)
    return entries


# --- timestamps ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        ("2024-01-01T12:00:00.123456789Z", T0_NS),
        ("2024-01-01T12:00:00Z", T0_NS - 123456789),
        ("2024-01-01T12:00:00.1Z", T0_NS - 123456789 + 100_000_000),
        ("2024-01-01T12:00:00.000001Z", T0_NS - 123456789 + 1000),
        ("2024-01-01T14:30:00.123456789+02:30", T0_NS),
        ("2024-01-01T07:00:00.123456789-05:00", T0_NS),
        ("2024-01-01T12:00:00.1234567891234Z", T0_NS),  # >9 digits: truncated to ns
        ("2023-12-31T23:59:60Z", T0_NS - 123456789 - 12 * 3600 * 10**9),  # leap second
    ],
)
def test_timestamps_zones_and_fractions(ts: str, expected: int) -> None:
    assert parse_rfc3339_ns(ts.encode()) == expected


@pytest.mark.parametrize(
    "ts",
    [
        "2024-01-01T12:00:00",
        "2024-13-01T12:00:00Z",
        "2024-01-01 12:00:00Z",
        "2024-01-01T12:00:00.Z",
        "2024-01-01T12:00:00.+1Z",
        "2024-01-01T12:00:00.1_0Z",
        "2024-01-01T12:00:00+0200",
        "2024-01-01T12:00:00+24:00",
        "2024-01-0１T12:00:00Z",
        "garbage",
    ],
)
def test_bad_timestamps_raise(ts: str) -> None:
    with pytest.raises(ValueError):
        parse_rfc3339_ns(ts.encode())


# --- CRI ----------------------------------------------------------------------------------------


def test_cri_full_lines() -> None:
    data = cri(b"hello world") + cri(b"oops", "stderr") + cri(b"")
    assert parse_all(LineParser(Format.CRI), data) == [
        Entry(T0_NS, "stdout", b"hello world"),
        Entry(T0_NS, "stderr", b"oops"),
        Entry(T0_NS, "stdout", b""),
    ]


def test_cri_partial_pieces_merge_across_feeds_with_first_piece_time() -> None:
    p = LineParser(Format.CRI)
    first = "2024-01-01T12:00:00.000000001Z"
    assert parse_all(p, cri(b"aaa ", tag="P", ts=first) + cri(b"bbb ", tag="P")) == []
    assert parse_all(p, cri(b"ccc")) == [Entry(T0_NS - 123456788, "stdout", b"aaa bbb ccc")]
    assert p.state()["pending"] == {}


def test_cri_streams_merge_independently() -> None:
    p = LineParser(Format.CRI)
    data = (
        cri(b"out1-", tag="P")
        + cri(b"err1-", "stderr", tag="P")
        + cri(b"out2", tag="F")
        + cri(b"whole", "stderr", tag="F", ts="2024-01-01T12:00:00Z")  # ends the stderr merge
    )
    assert parse_all(p, data) == [
        Entry(T0_NS, "stdout", b"out1-out2"),
        Entry(T0_NS, "stderr", b"err1-whole"),
    ]


def test_trailing_partial_line_is_not_consumed() -> None:
    p = LineParser(Format.CRI)
    whole = cri(b"one")
    tail = cri(b"two")[:-5]
    entries, used = p.feed(whole + tail, NOW)
    assert entries == [Entry(T0_NS, "stdout", b"one")]
    assert used == len(whole)
    assert p.feed(tail, NOW) == ([], 0)
    entries, used = p.feed(tail + cri(b"two")[-5:], NOW)
    assert entries == [Entry(T0_NS, "stdout", b"two")] and used == len(cri(b"two"))


def test_final_feed_consumes_unterminated_end_and_flush_emits_pending() -> None:
    p = LineParser(Format.CRI)
    assert parse_all(p, cri(b"half ", tag="P")) == []
    entries, used = p.feed(cri(b"end", "stderr")[:-1], NOW, final=True)
    assert entries == [Entry(T0_NS, "stderr", b"end")] and used == len(cri(b"end")) - 1
    assert p.flush() == [Entry(T0_NS, "stdout", b"half ")]
    assert p.flush() == []


def test_state_round_trip_mid_partial() -> None:
    p = LineParser()
    assert parse_all(p, cri(b"\xff\x00 bin ", tag="P") + cri(b"e1 ", "stderr", tag="P")) == []
    state = json.loads(json.dumps(p.state()))  # what a checkpoint file holds
    assert state["format"] == "cri"
    q = LineParser.from_state(state)
    assert q.format is Format.CRI
    assert parse_all(q, cri(b"end") + cri(b"e2", "stderr")) == [
        Entry(T0_NS, "stdout", b"\xff\x00 bin end"),
        Entry(T0_NS, "stderr", b"e1 e2"),
    ]


def test_state_empty_and_invalid() -> None:
    fresh = LineParser.from_state({})
    assert fresh.format is None and fresh.state()["pending"] == {}
    for bad in ({"v": 99}, {"v": 1, "format": "xml", "pending": {}}, {"v": 1, "format": None}):
        with pytest.raises(ValueError):
            LineParser.from_state(bad)
    with pytest.raises(ValueError):
        LineParser.from_state({"v": 1, "format": "cri", "pending": {"stdout": {"ts_ns": 1, "data": "!!"}}})


def test_malformed_lines_kept_verbatim_with_now_and_flag() -> None:
    bad = [
        b"no timestamp here",
        b"2024-01-01T12:00:00Z stdlog F wrong stream",
        b"2024-99-01T12:00:00Z stdout F bad date",
        b"2024-01-01T12:00:00Z stdout X unknown tag",
        b"",
    ]
    p = LineParser(Format.CRI)
    data = cri(b"good") + b"\n".join(bad) + b"\n" + cri(b"after")
    assert parse_all(p, data) == [
        Entry(T0_NS, "stdout", b"good"),
        *(Entry(NOW, "", line, True) for line in bad),
        Entry(T0_NS, "stdout", b"after"),
    ]


def test_non_utf8_bytes_in_messages() -> None:
    msg = b"caf\xe9 \xff\xfe \xc3\x28 end"
    assert parse_all(LineParser(Format.CRI), cri(msg)) == [Entry(T0_NS, "stdout", msg)]
    # docker: json-file holds UTF-8, but a raw byte in a line must survive (or be kept verbatim).
    line = b'{"log":"caf\xe9\\n","stream":"stdout","time":"' + T0.encode() + b'"}\n'
    assert parse_all(LineParser(Format.DOCKER), line) == [Entry(T0_NS, "stdout", b"caf\xe9")]


def test_long_merged_entries_are_capped() -> None:
    p = LineParser(Format.CRI, max_entry_bytes=10)
    pieces = [cri(b"0123456", tag="P") for _ in range(3)] + [cri(b"abc")]
    out: list[Entry] = []
    for piece in pieces:  # bounded memory: cuts are emitted before the final piece arrives
        out += parse_all(p, piece)
        assert all(len(b64) <= 16 for b64 in (v["data"] for v in p.state()["pending"].values()))
    assert [e.line for e in out] == [b"0123456012", b"3456012345", b"6abc"]
    assert {e.ts_ns for e in out} == {T0_NS}
    # A single long full line is cut too; an exact multiple leaves no empty tail entry.
    assert [e.line for e in parse_all(p, cri(b"x" * 25))] == [b"x" * 10, b"x" * 10, b"x" * 5]
    assert [e.line for e in parse_all(p, cri(b"y" * 6, tag="P") + cri(b"y" * 14, tag="P") + cri(b""))] == [
        b"y" * 10,
        b"y" * 10,
    ]


# --- docker json-file ---------------------------------------------------------------------------


def test_docker_lines_and_16k_partial_pieces() -> None:
    big = "z" * 40000
    pieces = [big[i : i + 16384] for i in range(0, len(big), 16384)]
    data = docker("first\n", "stderr", "2024-01-01T12:00:00.1234+00:00")
    data += b"".join(docker(piece) for piece in pieces[:-1])
    p = LineParser()
    entries = parse_all(p, data)
    assert p.format is Format.DOCKER
    assert entries == [Entry(T0_NS - 56789, "stderr", b"first")]
    assert p.state()["pending"]  # two 16 KiB pieces held
    p = LineParser.from_state(p.state())
    assert parse_all(p, docker(pieces[-1] + "\n")) == [Entry(T0_NS, "stdout", big.encode())]


def test_docker_malformed_lines() -> None:
    bad = [
        b'{"log":"x\\n","stream":"stdout"}',
        b'{"log":1,"stream":"stdout","time":"' + T0.encode() + b'"}',
        b'{"log":"x\\n","stream":"stdout","time":"yesterday"}',
        b"[1, 2]",
        b'{"log": "trunc',
    ]
    assert parse_all(LineParser(Format.DOCKER), b"\n".join(bad) + b"\n") == [
        Entry(NOW, "", line, True) for line in bad
    ]


# --- autodetect ---------------------------------------------------------------------------------


def test_autodetect() -> None:
    assert detect_format(b'{"log":"x"}') is Format.DOCKER
    assert detect_format(b"2024-01-01T00:00:00Z stdout F x") is Format.CRI
    p = LineParser()
    assert p.feed(b"", NOW) == ([], 0) and p.format is None
    # Leading empty lines are malformed either way and do not fix the format.
    assert parse_all(p, b"\n") == [Entry(NOW, "", b"", True)] and p.format is None
    assert parse_all(p, docker("hi\n")) == [Entry(T0_NS, "stdout", b"hi")]
    assert p.format is Format.DOCKER
    # An explicit format is not second-guessed: a JSON line in a CRI file is malformed.
    assert parse_all(LineParser(Format.CRI), docker("hi\n"))[0].malformed


# --- property -----------------------------------------------------------------------------------

messages = st.lists(
    st.tuples(
        st.sampled_from(["stdout", "stderr"]), st.binary(max_size=40).map(lambda b: b.replace(b"\n", b""))
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(entries=messages, data=st.data())
def test_property_cri_round_trip(entries: list[tuple[str, bytes]], data: st.DataObject) -> None:
    """Random P-splitting and random feed boundaries give back exactly the messages, per stream."""
    encoded = b""
    for i, (stream, msg) in enumerate(entries):
        cuts = sorted(data.draw(st.lists(st.integers(0, len(msg)), max_size=3), label=f"cuts{i}"))
        bounds = [0, *cuts, len(msg)]
        pieces = [msg[a:b] for a, b in zip(bounds, bounds[1:])]
        ts = f"2024-01-01T12:00:{i % 60:02d}.{i:0{1 + i % 9}d}Z"
        for j, piece in enumerate(pieces):
            encoded += cri(piece, stream, "F" if j == len(pieces) - 1 else "P", ts)
    splits = sorted(data.draw(st.lists(st.integers(0, len(encoded)), max_size=6), label="splits"))
    parser = LineParser()
    out: list[Entry] = []
    buf = b""
    prev = 0
    for split in [*splits, len(encoded)]:
        buf += encoded[prev:split]
        prev = split
        got, used = parser.feed(buf, NOW)
        out += got
        buf = buf[used:]
        if data.draw(st.booleans(), label="checkpoint"):
            parser = LineParser.from_state(json.loads(json.dumps(parser.state())))
    assert buf == b"" and parser.state()["pending"] == {}
    assert not any(e.malformed for e in out)
    for stream in ("stdout", "stderr"):
        assert [e.line for e in out if e.stream == stream] == [m for s, m in entries if s == stream]


# --- the vectorised CRI path must agree with the per-line parser -------------------------------

_TIMES = [
    "2024-01-01T12:00:00.123456789Z",  # containerd's fixed width: the fast path
    "2024-02-29T23:59:59.000000000Z",  # leap day
    "1999-12-31T00:00:00.999999999Z",
    "0001-01-01T00:00:00.000000001Z",
    "2023-02-29T00:00:00.000000000Z",  # not a date: malformed either way
    "2024-13-01T00:00:00.000000000Z",
    "2024-01-01T24:00:00.000000000Z",
    "2016-12-31T23:59:60.000000000Z",  # a leap second: only the per-line path accepts it
    "2024-01-01T12:00:00.1234567Z",  # containerd's RFC3339Nano: trailing zeros trimmed
    "2024-01-01T12:00:00.1Z",
    "2024-01-01T12:00:00Z",
    "2024-01-01T12:00:00.Z",
    "2024-01-01T12:00:00.1234567891Z",  # ten digits: truncated by the per-line path
    "2024-01-01T12:00:00+02:00",
    "2024-01-01T12:00:00.123456789-07:30",  # CRI-O with a zone
    "2024-01-01T12:00:00.5+24:00",
    "2024-01-01T12:00:00.5+01:60",
    "2024-01-01T12:00:00.5+0100",
    "2024-01-01t12:00:00z",
    "2024-01-01T12:00:00.12345678aZ",
]
_cri_lines = st.tuples(
    st.sampled_from(_TIMES),
    st.sampled_from(["stdout", "stderr", "stdxxx"]),
    st.sampled_from(["F", "P", "P:x", "X"]),
    st.binary(max_size=60).map(lambda b: b.replace(b"\n", b"")),
).map(lambda t: f"{t[0]} {t[1]} {t[2]} ".encode() + t[3] + b"\n")
_odd_lines = st.sampled_from([b"\n", b"garbage\n", T0.encode() + b" stdout F\n", b"x" * 45 + b"\n"])


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(st.one_of(_cri_lines, _cri_lines, _odd_lines), max_size=40),
    tail=st.binary(max_size=20).map(lambda b: b.replace(b"\n", b"")),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=4),
    max_entry=st.sampled_from([8, 40, 1000]),
    final=st.booleans(),
)
def test_feed_spans_gives_exactly_the_entries_of_feed(
    lines: list[bytes], tail: bytes, cuts: list[int], max_entry: int, final: bool
) -> None:
    data = b"".join(lines) + tail
    slow, fast = LineParser(Format.CRI, max_entry), LineParser(Format.CRI, max_entry)
    expected: list[Entry] = []
    got: list[Entry] = []
    pos = 0
    for cut in [*sorted(cuts), len(data)]:  # the same feeds for both, each continuing the rest
        chunk_end = max(pos, min(cut, len(data)))
        last = chunk_end == len(data)
        entries, used_slow = slow.feed(data[pos:chunk_end], NOW, final=final and last)
        segments, used_fast = fast.feed_spans(data[pos:chunk_end], NOW, final=final and last, min_lines=0)
        assert used_fast == used_slow
        expected += entries
        for seg in segments:
            got += seg.entries() if not isinstance(seg, list) else seg
        pos += used_slow
    assert got == expected
    assert fast.state() == slow.state()


def test_feed_spans_uses_spans_for_containerd_lines_and_lists_for_the_rest() -> None:
    data = cri(b"a") + cri(b"b", "stderr") + cri(b"piece ", tag="P") + cri(b"end") + cri(b"c")
    segments, used = LineParser().feed_spans(data, NOW, min_lines=0)
    assert used == len(data)
    kinds = [type(s).__name__ for s in segments]
    assert kinds == ["Spans", "list", "Spans"]
    first = segments[0]
    assert not isinstance(first, list)
    assert [(e.stream, e.line, e.ts_ns) for e in first.entries()] == [
        ("stdout", b"a", T0_NS),
        ("stderr", b"b", T0_NS),
    ]
    assert [e.line for e in segments[1]] == [b"piece end"]  # type: ignore[union-attr]


def test_feed_spans_on_docker_files_returns_entries() -> None:
    segments, used = LineParser().feed_spans(docker("hi\n"), NOW)
    assert used == len(docker("hi\n"))
    assert segments == [[Entry(T0_NS, "stdout", b"hi")]]


def test_feed_spans_takes_containerd_and_crio_timestamps_on_the_fast_path() -> None:
    stamps = ["2024-01-01T12:00:00.5Z", "2024-01-01T12:00:00Z", "2024-01-01T13:30:00.123456789+01:30"]
    data = b"".join(cri(b"m", ts=ts) for ts in stamps)
    segments, _ = LineParser().feed_spans(data, NOW, min_lines=0)
    assert len(segments) == 1 and not isinstance(segments[0], list)
    assert segments[0].ts.tolist() == [T0_NS - 123456789 + 500_000_000, T0_NS - 123456789, T0_NS]


def test_feed_spans_leaves_small_buffers_to_the_per_line_parser() -> None:
    small = cri(b"a") * 3
    assert LineParser().feed_spans(small, NOW) == ([[Entry(T0_NS, "stdout", b"a")] * 3], len(small))
    big = cri(b"a") * 100
    segments, _ = LineParser().feed_spans(big, NOW)
    assert len(segments) == 1 and not isinstance(segments[0], list) and len(segments[0]) == 100
