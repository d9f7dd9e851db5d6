"""Multi-line joining: built-in java/python/go rules, custom start regexes, timeout, caps, state."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heron.collect.logs.formats import Entry
from heron.collect.logs.multiline import BUILTIN_RULES, MultilineJoiner, MultilineRule, parse_rule

JAVA = parse_rule("java")
PYTHON = parse_rule("python")
GO = parse_rule("go")

# Real output of `java App` (OpenJDK), an uncaught exception with two causes.
JAVA_TRACE = """\
Exception in thread "main" java.lang.RuntimeException: startup failed
\tat App.main(App.java:23)
Caused by: java.lang.IllegalStateException: cannot load settings
\tat App.loadSettings(App.java:12)
\tat App.init(App.java:16)
\tat App.init(App.java:17)
\tat App.init(App.java:17)
\tat App.init(App.java:17)
\tat App.main(App.java:21)
Caused by: java.io.FileNotFoundException: /etc/app/settings.yaml (No such file or directory)
\tat App.readConfig(App.java:6)
\tat App.loadSettings(App.java:10)
\t... 5 more"""

# Real output of CPython 3.11: a chained exception, with 3.11's `^^^^` and `~~^^` marker lines.
PYTHON_TRACE = """\
Traceback (most recent call last):
  File "/srv/app/tb.py", line 6, in load
    return parse(raw)
           ^^^^^^^^^^
  File "/srv/app/tb.py", line 3, in parse
    return json.loads(raw)
           ^^^^^^^^^^^^^^^
  File "/usr/local/lib/python3.11/json/__init__.py", line 346, in loads
    return _default_decoder.decode(s)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/usr/local/lib/python3.11/json/decoder.py", line 337, in decode
    obj, end = self.raw_decode(s, idx=_w(s, 0).end())
               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/usr/local/lib/python3.11/json/decoder.py", line 353, in raw_decode
    obj, end = self.scan_once(s, idx)
               ^^^^^^^^^^^^^^^^^^^^^^
json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/srv/app/tb.py", line 9, in <module>
    load("{not json")
  File "/srv/app/tb.py", line 8, in load
    return {}["config"]
           ~~^^^^^^^^^^
KeyError: 'config'"""

# A Go 1.22 panic in a goroutine, dumped with GOTRACEBACK=all (two goroutines).
GO_TRACE = """\
panic: runtime error: index out of range [5] with length 3

goroutine 18 [running]:
main.process({0xc000014090, 0x3, 0x3}, 0x5)
\t/app/main.go:14 +0x7d
main.worker(0xc00001c0c0, 0xc000012345?)
\t/app/main.go:22 +0x5a
created by main.main in goroutine 1
\t/app/main.go:31 +0x8f

goroutine 1 [chan receive]:
sync.(*Mutex).Lock(...)
\t/usr/local/go/src/sync/mutex.go:90
main.main()
\t/app/main.go:34 +0xb1"""

GO_SIGNAL_TRACE = """\
panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x47b0f6]

goroutine 1 [running]:
main.(*Server).handle(0x0, {0x4b9a20?, 0xc000012345?})
\t/app/server.go:41 +0x16
main.main()
\t/app/main.go:9 +0x1d"""


def lines(text: str) -> list[bytes]:
    return text.encode().split(b"\n")


def entries(raw: list[bytes], stream: str = "stderr", ts0: int = 0) -> list[Entry]:
    return [Entry(ts0 + i, stream, ln) for i, ln in enumerate(raw)]


def run(rule: MultilineRule, raw: list[bytes], **kw: Any) -> list[bytes]:
    """Feed all lines at once, then flush; the joined lines."""
    j = MultilineJoiner(rule, **kw)
    out = j.feed(entries(raw), 0.0) + j.flush()
    assert not j.has_pending
    return [e.line for e in out]


# --- parse_rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "name"), [("java", "java"), (" Java\n", "java"), ("PYTHON", "python"), ("go", "go")]
)
def test_builtin_rules_by_name(spec: str, name: str) -> None:
    rule = parse_rule(spec)
    assert rule is BUILTIN_RULES[name]
    assert rule.name == name


def test_custom_rule_is_a_start_regex() -> None:
    rule = parse_rule(r" ^\d{4}-\d{2}-\d{2} ")
    assert rule.name == r"^\d{4}-\d{2}-\d{2}"
    assert rule not in BUILTIN_RULES.values()


@pytest.mark.parametrize("spec", ["", "   "])
def test_empty_spec_is_rejected(spec: str) -> None:
    with pytest.raises(ValueError, match="empty multiline rule"):
        parse_rule(spec)


@pytest.mark.parametrize("spec", ["([a-z", "*oops", "(?P<x>a)(?P<x>b)"])
def test_bad_regex_is_rejected_naming_the_spec(spec: str) -> None:
    with pytest.raises(ValueError, match="bad multiline start regex") as info:
        parse_rule(spec)
    assert repr(spec) in str(info.value)


@pytest.mark.parametrize(
    "kw", [{"flush_after": -1.0}, {"flush_after": math.nan}, {"max_bytes": 0}, {"max_lines": 0}]
)
def test_bad_joiner_options_are_rejected(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        MultilineJoiner(JAVA, **kw)


# --- built-in rules on real traces --------------------------------------------------------------


def test_java_trace_joined_and_ordinary_lines_pass_through_at_once() -> None:
    j = MultilineJoiner(JAVA)
    before = Entry(1, "stderr", b"12:00:00.001 INFO  App - starting")
    assert j.feed([before], 0.0) == [before]  # cannot start a trace: out at once, untouched
    trace = entries(lines(JAVA_TRACE), ts0=100)
    assert j.feed(trace, 0.1) == []  # a trace may go on: held
    assert j.has_pending
    after = Entry(200, "stderr", b"12:00:00.500 INFO  App - shutting down")
    out = j.feed([after], 0.2)
    assert out == [Entry(100, "stderr", JAVA_TRACE.encode()), after]
    assert out[1] is after
    assert not j.has_pending


def test_java_consecutive_exceptions_are_separate_entries() -> None:
    first = ["java.lang.IllegalArgumentException: bad id", "\tat a.B.c(B.java:1)"]
    second = ["java.lang.StackOverflowError", "\tat a.B.d(B.java:2)"]
    assert run(JAVA, lines("\n".join(first + second))) == [
        "\n".join(first).encode(),
        "\n".join(second).encode(),
    ]


def test_java_blank_line_joins_only_if_the_trace_goes_on() -> None:
    inside = lines("java.lang.IllegalStateException: x\n\n\tat a.B.c(B.java:1)")
    assert run(JAVA, inside) == [b"\n".join(inside)]
    trailing = lines("java.lang.IllegalStateException: x\n\tat a.B.c(B.java:1)\n\n\nnext line")
    assert run(JAVA, trailing) == [
        b"java.lang.IllegalStateException: x\n\tat a.B.c(B.java:1)",
        b"",
        b"",
        b"next line",
    ]


def test_java_exception_looking_line_held_until_the_next_line() -> None:
    j = MultilineJoiner(JAVA)
    maybe = Entry(1, "stdout", b'level=warn msg="retrying" err="IOError: timeout"')
    assert j.feed([maybe], 0.0) == []
    nxt = Entry(2, "stdout", b'level=info msg="ok"')
    assert j.feed([nxt], 0.1) == [maybe, nxt]


def test_python_chained_traceback_is_one_entry() -> None:
    raw = [b"ERROR:root:config load failed", *lines(PYTHON_TRACE), b"INFO:root:exiting"]
    assert run(PYTHON, raw) == [b"ERROR:root:config load failed", PYTHON_TRACE.encode(), b"INFO:root:exiting"]


def test_python_error_line_and_bare_exception_name_end_the_trace() -> None:
    bare = lines('Traceback (most recent call last):\n  File "x.py", line 3, in <module>\n    time.sleep(5)')
    raw = [*bare, b"KeyboardInterrupt", b"", b"next"]
    assert run(PYTHON, raw) == [b"\n".join([*bare, b"KeyboardInterrupt"]), b"", b"next"]


def test_python_recursion_and_exception_group() -> None:
    recursion = (
        'Traceback (most recent call last):\n  File "<string>", line 3, in <module>\n'
        '  File "<string>", line 2, in f\n  [Previous line repeated 996 more times]\n'
        "RecursionError: maximum recursion depth exceeded"
    )
    group = (
        "  + Exception Group Traceback (most recent call last):\n"
        '  |   File "<string>", line 2, in <module>\n'
        "  | ExceptionGroup: many (2 sub-exceptions)\n"
        "  +-+---------------- 1 ----------------\n"
        "    | ValueError: a\n"
        "    +------------------------------------"
    )
    raw = [*lines(recursion), b"plain", *lines(group), b"plain"]
    assert run(PYTHON, raw) == [recursion.encode(), b"plain", group.encode(), b"plain"]


def test_go_panic_with_two_goroutines_is_one_entry() -> None:
    raw = [b"starting worker pool", *lines(GO_TRACE), b"exit status 2"]
    assert run(GO, raw) == [b"starting worker pool", GO_TRACE.encode(), b"exit status 2"]


def test_go_signal_panic_and_trailing_blank_line() -> None:
    raw = [*lines(GO_SIGNAL_TRACE), b"", b"restarting"]
    assert run(GO, raw) == [GO_SIGNAL_TRACE.encode(), b"", b"restarting"]


def test_go_fatal_error_and_http_panic() -> None:
    fatal = (
        "fatal error: concurrent map writes\nfatal error: concurrent map writes\n\n"
        "goroutine 8 [running]:\nmain.picker(...)\n\t/app/main.go:40 +0x16d\n"
        "created by main.main in goroutine 1\n\t/app/main.go:52 +0xf1"
    )
    http = (
        "2024/01/01 12:00:00 http: panic serving 10.0.0.7:51234: boom\n"
        "goroutine 35 [running]:\nnet/http.(*conn).serve.func1()\n"
        "\t/usr/local/go/src/net/http/server.go:1868 +0xb9\npanic({0x6a4e00?, 0x7d1f30?})\n"
        "\t/usr/local/go/src/runtime/panic.go:920 +0x270"
    )
    raw = [*lines(fatal), *lines(http), b"2024/01/01 12:00:01 served"]
    assert run(GO, raw) == [fatal.encode(), http.encode(), b"2024/01/01 12:00:01 served"]


@pytest.mark.parametrize(
    ("rule", "line", "starts"),
    [
        (JAVA, b"java.lang.NullPointerException", True),
        (JAVA, b'Exception in thread "main" java.lang.OutOfMemoryError: Java heap space', True),
        (JAVA, b"Error: at line start, as in Fluent Bit, needs a character before", False),
        (JAVA, b"no exceptions here", False),
        (PYTHON, b"Traceback (most recent call last):", True),
        (PYTHON, b"ERROR:root:Traceback (most recent call last):", False),
        (GO, b"panic: boom", True),
        (GO, b"E0101 12:00:00 main.go:1] panic: boom", True),
        (GO, b"nopanic: a word containing it", False),
        (GO, b"fatal error: all goroutines are asleep - deadlock!", True),
        (GO, b"ordinary fatal error: mid-line", False),
    ],
)
def test_which_lines_may_start_a_trace(rule: MultilineRule, line: bytes, starts: bool) -> None:
    assert (rule.begin(line) is not None) == starts


def test_ordinary_lines_never_wait() -> None:
    for rule in (JAVA, PYTHON, GO):
        j = MultilineJoiner(rule)
        plain = entries([b"GET /healthz 200", b"listening on :8080", b"", b"  indented but alone"])
        assert j.feed(plain, 0.0) == plain, rule
        assert not j.has_pending


# --- streams and malformed entries --------------------------------------------------------------


def test_stdout_and_stderr_are_joined_independently() -> None:
    j = MultilineJoiner(JAVA)
    trace = entries(lines(JAVA_TRACE), "stderr", ts0=100)
    noise = entries([b"tick 1", b"tick 2", b"tick 3"], "stdout", ts0=500)
    mixed = [trace[0], noise[0], *trace[1:5], noise[1], *trace[5:], noise[2]]
    out = j.feed(mixed, 0.0)
    assert out == noise  # stdout lines out at once, in order; the stderr trace is still open
    stdout_trace = Entry(600, "stdout", b"java.lang.Error: on stdout")
    assert j.feed([stdout_trace], 0.1) == []
    assert j.flush() == [Entry(100, "stderr", JAVA_TRACE.encode()), stdout_trace]


def test_malformed_entry_passes_through_and_flushes_its_own_stream_only() -> None:
    j = MultilineJoiner(JAVA)
    exc, frame = Entry(1, "stderr", b"java.lang.Error: x"), Entry(3, "stderr", b"\tat a.B.c(B.java:1)")
    garbage = Entry(2, "", b"not a CRI line", malformed=True)
    # The parser's malformed entries have stream "": a trace on stderr is not broken by one.
    assert j.feed([exc, garbage, frame], 0.0) == [garbage]
    bad_stderr = Entry(4, "stderr", b"\tat looks like a frame", malformed=True)
    assert j.feed([bad_stderr], 0.0) == [
        Entry(1, "stderr", b"java.lang.Error: x\n\tat a.B.c(B.java:1)"),
        bad_stderr,
    ]
    assert not j.has_pending


# --- custom start regex -------------------------------------------------------------------------


def test_custom_regex_joins_continuation_lines() -> None:
    rule = parse_rule(r"^\d{4}-\d{2}-\d{2}")
    raw = [
        b"  orphan continuation",  # nothing pending: starts an entry of its own
        b"  orphan 2",
        b"2024-01-01 12:00:00 ERROR request failed",
        b"  detail: \xff\xfe not utf-8",
        b"  more detail",
        b"2024-01-01 12:00:01 INFO next",
    ]
    j = MultilineJoiner(rule)
    out = j.feed(entries(raw, ts0=10), 0.0)
    assert out == [
        Entry(10, "stderr", b"  orphan continuation\n  orphan 2"),
        Entry(12, "stderr", b"\n".join(raw[2:5])),
    ]
    assert j.flush() == [Entry(15, "stderr", raw[5])]


def test_custom_regex_searches_the_decoded_line() -> None:
    rule = parse_rule("ÉCHEC|FATAL")  # unanchored: a match anywhere starts an entry
    raw = ["[app] ÉCHEC: disque plein", "  at x", "[app] FATAL: gone", "  at y"]
    assert run(rule, [s.encode() for s in raw]) == [
        "[app] ÉCHEC: disque plein\n  at x".encode(),
        b"[app] FATAL: gone\n  at y",
    ]


# --- timeout ------------------------------------------------------------------------------------


def test_timeout_counts_from_the_last_piece() -> None:
    j = MultilineJoiner(JAVA, flush_after=1.0)
    assert j.next_deadline() is None
    assert j.feed([Entry(1, "stderr", b"java.lang.Error: x")], 10.0) == []
    assert j.next_deadline() == 11.0
    assert j.flush_expired(10.5) == []
    assert j.feed([Entry(2, "stderr", b"\tat a.B.c(B.java:1)")], 10.8) == []
    assert j.next_deadline() == pytest.approx(11.8)
    assert j.flush_expired(11.5) == []  # 1.5 s after the first piece, 0.7 s after the last
    assert j.flush_expired(11.8) == [Entry(1, "stderr", b"java.lang.Error: x\n\tat a.B.c(B.java:1)")]
    assert not j.has_pending
    assert j.next_deadline() is None
    assert j.flush_expired(100.0) == []


def test_next_deadline_is_the_earliest_stream_and_expiry_is_per_stream() -> None:
    j = MultilineJoiner(GO, flush_after=2.0)
    j.feed([Entry(1, "stdout", b"panic: a")], 5.0)
    j.feed([Entry(2, "stderr", b"panic: b")], 6.0)
    assert j.next_deadline() == 7.0
    assert j.flush_expired(7.0) == [Entry(1, "stdout", b"panic: a")]
    assert j.next_deadline() == 8.0
    assert j.flush_expired(8.0) == [Entry(2, "stderr", b"panic: b")]


@pytest.mark.parametrize(("t", "after"), [(0.1 + 0.2, 0.7), (10.8, 1.0), (1e9 + 0.3, 0.1), (5.0, 0.0)])
def test_flush_expired_at_next_deadline_always_emits(t: float, after: float) -> None:
    j = MultilineJoiner(PYTHON, flush_after=after)
    j.feed([Entry(1, "stdout", b"Traceback (most recent call last):")], t)
    deadline = j.next_deadline()
    assert deadline is not None
    assert j.flush_expired(math.nextafter(deadline, -math.inf)) == []
    assert j.flush_expired(deadline) == [Entry(1, "stdout", b"Traceback (most recent call last):")]


def test_timeout_emits_tentative_lines_apart() -> None:
    j = MultilineJoiner(GO, flush_after=1.0)
    assert j.feed(entries([b"panic: boom", b""], ts0=7), 0.0) == []
    assert j.flush_expired(1.0) == [Entry(7, "stderr", b"panic: boom"), Entry(8, "stderr", b"")]


# --- size caps ----------------------------------------------------------------------------------


def test_byte_cap_splits_without_losing_bytes() -> None:
    raw = lines(JAVA_TRACE)
    out = run(JAVA, raw, max_bytes=120)
    assert len(out) > 1
    assert b"\n".join(out) == JAVA_TRACE.encode()
    assert all(len(x) <= 120 for x in out)
    assert any(x.count(b"\n") >= 1 for x in out[1:])  # the rest of the trace still joins


def test_line_cap_splits_without_losing_lines() -> None:
    raw = lines(JAVA_TRACE)  # 13 lines
    j = MultilineJoiner(JAVA, max_lines=4)
    out = j.feed(entries(raw, ts0=100), 0.0) + j.flush()
    assert [e.line.count(b"\n") + 1 for e in out] == [4, 4, 4, 1]
    assert [e.ts_ns for e in out] == [100, 104, 108, 112]  # each part: its first piece's time
    assert b"\n".join(e.line for e in out) == JAVA_TRACE.encode()


def test_cap_keeps_tentative_lines_the_next_line_confirms() -> None:
    # The blank line is confirmed by the frame after it, which goes to the next part.
    raw = [b"java.lang.Error: x", b"", b"\tat a.B.c(B.java:1)", b"\tat a.B.d(B.java:2)"]
    assert run(JAVA, raw, max_lines=2) == [
        b"java.lang.Error: x\n",
        b"\tat a.B.c(B.java:1)\n\tat a.B.d(B.java:2)",
    ]
    # Not confirmed (a new trace follows): the blank line comes out on its own.
    raw = [b"java.lang.Error: x", b"", b"java.lang.Error: y"]
    assert run(JAVA, raw, max_lines=2) == [b"java.lang.Error: x", b"", b"java.lang.Error: y"]


def test_piece_larger_than_the_cap_is_emitted_as_is() -> None:
    big = b"java.lang.IllegalStateException: " + b"x" * 500
    raw = [big, b"\tat a.B.c(B.java:1)", b"\tat a.B.d(B.java:2)"]
    assert run(JAVA, raw, max_bytes=100) == [big, b"\tat a.B.c(B.java:1)\n\tat a.B.d(B.java:2)"]


# --- checkpoint state ---------------------------------------------------------------------------


def roundtrip(j: MultilineJoiner, rule: MultilineRule) -> MultilineJoiner:
    return MultilineJoiner.from_state(rule, json.loads(json.dumps(j.state())))


@pytest.mark.parametrize(("rule", "text"), [(JAVA, JAVA_TRACE), (PYTHON, PYTHON_TRACE), (GO, GO_TRACE)])
def test_state_round_trip_mid_trace_matches_an_uninterrupted_run(rule: MultilineRule, text: str) -> None:
    raw = [b"before \xff", *lines(text), b"after"]
    stdout = [Entry(1000 + i, "stdout", b"out %d" % i) for i in range(3)]
    whole = entries(raw) + stdout
    expected = run(rule, [e.line for e in entries(raw)]) + [e.line for e in stdout]
    for cut in range(1, len(whole)):
        j = MultilineJoiner(rule)
        out = j.feed(whole[:cut], 0.0)
        j = roundtrip(j, rule)
        out += j.feed(whole[cut:], 1.0) + j.flush()
        got = [e.line for e in out if e.stream == "stderr"] + [e.line for e in out if e.stream == "stdout"]
        assert got == expected, cut


def test_state_keeps_non_utf8_bytes_and_tentative_pieces() -> None:
    j = MultilineJoiner(JAVA)
    assert (
        j.feed(entries([b"java.lang.Error: \xff\x00", b"\tat \xc3(", b"Caused by: x", b""], ts0=5), 0.0) == []
    )
    state = json.loads(json.dumps(j.state()))
    assert state["pending"]["stderr"]["committed"] == 3  # the blank line is still tentative
    j2 = MultilineJoiner.from_state(JAVA, state)
    assert j2.flush() == [
        Entry(5, "stderr", b"java.lang.Error: \xff\x00\n\tat \xc3(\nCaused by: x"),
        Entry(8, "stderr", b""),
    ]


def test_empty_state_gives_a_fresh_joiner() -> None:
    j = MultilineJoiner.from_state(GO, {}, flush_after=3.0, max_lines=7)
    assert not j.has_pending
    assert (j.flush_after, j.max_lines) == (3.0, 7)
    assert MultilineJoiner(GO).state() == {"v": 1, "pending": {}}


def test_restored_entries_restart_their_timeout_at_the_next_call() -> None:
    j = MultilineJoiner(JAVA)
    j.feed([Entry(1, "stderr", b"java.lang.Error: x")], 5000.0)
    r = MultilineJoiner.from_state(JAVA, j.state(), flush_after=1.0)
    assert r.has_pending
    assert r.next_deadline() == -math.inf  # wake now, to start the clock
    assert r.flush_expired(3.0) == []  # the old process's monotonic times mean nothing here
    assert r.next_deadline() == 4.0
    assert r.flush_expired(4.0) == [Entry(1, "stderr", b"java.lang.Error: x")]


def test_restored_feed_starts_the_clock_too() -> None:
    j = MultilineJoiner(JAVA)
    j.feed([Entry(1, "stderr", b"java.lang.Error: x")], 0.0)
    r = MultilineJoiner.from_state(JAVA, j.state(), flush_after=1.0)
    assert r.feed([Entry(2, "stdout", b"hello")], 20.0) == [Entry(2, "stdout", b"hello")]
    assert r.next_deadline() == 21.0


def test_state_from_another_rule_keeps_the_pieces_but_joins_nothing_more() -> None:
    j = MultilineJoiner(JAVA)
    j.feed(entries([b"java.lang.Error: x", b"\tat a.B.c(B.java:1)"]), 0.0)
    r = MultilineJoiner.from_state(PYTHON, j.state())
    nxt = Entry(9, "stderr", b"\tat a.B.d(B.java:2)")
    assert r.feed([nxt], 0.0) == [Entry(0, "stderr", b"java.lang.Error: x\n\tat a.B.c(B.java:1)"), nxt]


def _good_state() -> dict[str, Any]:
    return {
        "v": 1,
        "pending": {"stderr": {"state": "java_frames", "committed": 1, "ts_ns": [1], "pieces": ["eA=="]}},
    }


def _bad(**kw: Any) -> dict[str, Any]:
    s = _good_state()
    s["pending"]["stderr"].update(kw)
    return s


@pytest.mark.parametrize(
    "state",
    [
        [],
        {"v": 2, "pending": {}},
        {"v": 1},
        {"v": 1, "pending": []},
        {"v": 1, "pending": {"stderr": []}},
        {"v": 1, "pending": {"stderr": {}}},
        _bad(pieces=["not base64!"]),
        _bad(pieces="eA=="),
        _bad(pieces=[], ts_ns=[], committed=1),
        _bad(pieces=[7]),
        _bad(committed=0),
        _bad(committed=2),
        _bad(committed=True),
        _bad(ts_ns=[1, 2]),
        _bad(ts_ns=["1"]),
        _bad(ts_ns=1),
        _bad(state=3),
    ],
)
def test_bad_state_raises_value_error(state: Any) -> None:
    with pytest.raises(ValueError):
        MultilineJoiner.from_state(JAVA, state)


def test_good_state_fixture_is_readable() -> None:
    j = MultilineJoiner.from_state(JAVA, _good_state())
    assert j.flush() == [Entry(1, "stderr", b"x")]


# --- property: nothing lost, nothing reordered --------------------------------------------------

TRACEISH = [
    *lines(JAVA_TRACE)[:4],
    *lines(PYTHON_TRACE)[:3],
    *lines(PYTHON_TRACE)[16:20],
    *lines(GO_TRACE)[:5],
    b"",
    b"   ",
    b"2024-01-01 12:00:00 start",
    b"KeyError: 'x'",
]
RULES = [JAVA, PYTHON, GO, parse_rule(r"^\d{4}-"), parse_rule("^$")]

line_st = st.one_of(st.sampled_from(TRACEISH), st.binary(max_size=30).filter(lambda b: b"\n" not in b))
item_st = st.tuples(line_st, st.sampled_from(["stdout", "stderr", "stderr", ""]))
# Between feeds: 0 nothing, 1 a state round trip, 2 a timeout check, 3 both.
step_st = st.tuples(st.lists(item_st, max_size=8), st.integers(0, 3), st.floats(0, 3))


@settings(max_examples=300, deadline=None)
@given(
    rule=st.sampled_from(RULES),
    steps=st.lists(step_st, max_size=12),
    max_bytes=st.sampled_from([1, 40, 10_000]),
    max_lines=st.sampled_from([1, 3, 500]),
)
def test_joined_output_splits_back_into_the_input(
    rule: MultilineRule,
    steps: list[tuple[list[tuple[bytes, str]], int, float]],
    max_bytes: int,
    max_lines: int,
) -> None:
    kw: dict[str, Any] = {"flush_after": 1.0, "max_bytes": max_bytes, "max_lines": max_lines}
    j = MultilineJoiner(rule, **kw)
    fed: list[Entry] = []
    out: list[Entry] = []
    now = 0.0
    for batch, action, dt in steps:
        batch_entries = [
            Entry(len(fed) + i, stream, ln, stream == "") for i, (ln, stream) in enumerate(batch)
        ]
        fed += batch_entries
        out += j.feed(batch_entries, now)
        now += dt
        if action & 1:
            j = MultilineJoiner.from_state(rule, json.loads(json.dumps(j.state())), **kw)
        if action & 2:
            out += j.flush_expired(now)
            deadline = j.next_deadline()
            assert (deadline is None) == (not j.has_pending)
    out += j.flush()
    assert not j.has_pending
    by_ts = {e.ts_ns: e for e in fed}
    for stream in ("stdout", "stderr", ""):
        want = [e for e in fed if e.stream == stream]
        got = [e for e in out if e.stream == stream]
        pieces = [p for e in got for p in e.line.split(b"\n")]
        assert pieces == [e.line for e in want]
        # Each output entry carries its first piece's timestamp, and respects the caps
        # (a single piece may exceed max_bytes, as it cannot be cut).
        i = 0
        for e in got:
            n = e.line.count(b"\n") + 1
            assert e.ts_ns == want[i].ts_ns
            assert by_ts[e.ts_ns].line == e.line.split(b"\n")[0]
            assert n <= max_lines
            assert n == 1 or len(e.line) <= max_bytes
            assert all(not w.malformed for w in want[i : i + n]) or n == 1
            i += n
