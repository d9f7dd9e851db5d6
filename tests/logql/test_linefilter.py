"""Line filters over whole chunks against a per-line reference with Go's semantics."""

from __future__ import annotations

import numpy as np
import pytest
import re2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heron.logql.linefilter import _required_literal, compile_regex, filter_contains, filter_regex, line_mask
from heron.storage.log_chunks import LogColumns

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_REF_OPTIONS = re2.Options()
_REF_OPTIONS.log_errors = False


def cols_of(lines: list[bytes]) -> LogColumns:
    return LogColumns.from_lists(list(range(len(lines))), lines)


def go_bytes(line: bytes) -> bytes:
    """What Go's regexp sees: every invalid UTF-8 byte read as U+FFFD (one per byte)."""
    text = line.decode("utf-8", "surrogateescape")
    return "".join("\ufffd" if "\udc80" <= ch <= "\udcff" else ch for ch in text).encode("utf-8")


def ref_regex(lines: list[bytes], pattern: str) -> list[bool]:
    rx = re2.compile(pattern, _REF_OPTIONS)
    return [rx.search(go_bytes(line)) is not None for line in lines]


def ref_mask(lines: list[bytes], op: str, values: list[str]) -> list[bool]:
    if op in ("|=", "!="):
        hit = [any(v.encode() in line for v in values) for line in lines]
    else:
        per = [ref_regex(lines, v) for v in values]
        hit = [any(col) for col in zip(*per)] if per else []
    return [not h for h in hit] if op.startswith("!") else hit


# --- hypothesis: chunk search == per-line search -------------------------------------------

ATOMS = [b"a", b"b", b"ab", b"x", b" ", b"\n", b"\xff", b"\xc3\xa9", b"\xe2\x82", b"A", b"_", b"1", b"-"]
line_st = st.lists(st.sampled_from(ATOMS), max_size=8).map(b"".join)
lines_st = st.lists(line_st, min_size=0, max_size=25)

PATTERNS = [
    "a",
    "ab",
    "b",
    "^a",
    "a$",
    "^$",
    "^",
    "$",
    "^ab$",
    "a.b",
    "a.",
    ".b",
    ".",
    "a[^x]b",
    "[^a]+",
    "a[^x]*b",
    r"\bab\b",
    r"\Bb",
    r"\ba",
    "(?i)AB",
    "a|^b",
    "b$|^a",
    r"a\nb",
    "(?s)a.b",
    "(?s)a.*b",
    "x*",
    "a*",
    r"\Aa",
    r"b\z",
    "(?-m)^a",
    "(?m)^b",
    "(?m)a$",
    r"\x{FFFD}",
    "é",
    "[^x]",
    r"\s",
    r"a\sb",
    r"\d+",
    "a{2}",
    "(a|b){3}",
    r"\pL+",
    "xa?",
    r"[[:alpha:]]b",
    "ÿ",
    r"\W",
    "(?U)a+",
    "ab.*x",
    "x[^a]*ab",
    "(a|b)xab",
    r"ab\b",
    "é.*a",
    "^a.*b$",
    "a.*b",
    "bx|xa",
    "",
]


@FAST
@given(lines_st, st.sampled_from(PATTERNS))
def test_filter_regex_matches_per_line_reference(lines: list[bytes], pattern: str) -> None:
    got = filter_regex(cols_of(lines), pattern)
    assert got.dtype == bool and got.shape == (len(lines),)
    assert got.tolist() == ref_regex(lines, pattern)


@FAST
@given(
    lines_st,
    st.sampled_from(["|=", "!=", "|~", "!~"]),
    st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=3),
)
def test_line_mask_matches_reference(lines: list[bytes], op: str, values: list[str]) -> None:
    if op in ("|=", "!="):
        values = [v for v in values if v.isascii()] or ["a"]
    got = line_mask(cols_of(lines), op, values)
    assert got.tolist() == ref_mask(lines, op, values)


@FAST
@given(lines_st, line_st)
def test_filter_contains_matches_reference(lines: list[bytes], needle: bytes) -> None:
    assert filter_contains(cols_of(lines), needle).tolist() == [needle in line for line in lines]


# --- tables ---------------------------------------------------------------------------------

LINES = [
    b"level=error msg=timeout",
    b"level=info msg=ok",
    b"",
    b"ERROR: disk full",
    b"error\nafter a newline",
    b"caf\xc3\xa9 \xff bad",
]


@pytest.mark.parametrize(
    ("op", "values", "want"),
    [
        ("|=", ["error"], [True, False, False, False, True, False]),
        ("|=", [""], [True] * 6),  # Loki: an empty needle is the true filter
        ("!=", [""], [False] * 6),  # ... so its negation keeps nothing
        ("|=", ["error", "ok"], [True, True, False, False, True, False]),
        ("!=", ["error", "ok"], [False, False, True, True, False, True]),  # kept if NONE matches
        ("|~", ["err.*timeout"], [True, False, False, False, False, False]),
        ("|~", ["(?i)error"], [True, False, False, True, True, False]),
        ("!~", ["(?i)error"], [False, True, True, False, False, True]),
        ("|~", ["^$"], [False, False, True, False, False, False]),
        ("|~", ["^error$"], [False, False, False, False, False, False]),  # no (?m): whole line
        ("|~", ["(?m)^after"], [False, False, False, False, True, False]),
        ("|~", ["error.after"], [False, False, False, False, False, False]),  # . never matches \n
        ("|~", ["(?s)error.after"], [False, False, False, False, True, False]),
        ("|~", ["caf. . bad"], [False, False, False, False, False, True]),  # \xff reads as U+FFFD
        ("|~", ["\ufffd"], [False, False, False, False, False, True]),
        ("|~", ["x*"], [True] * 6),
        ("|~", ["level=(info|debug)", "disk"], [False, True, False, True, False, False]),
    ],
)
def test_line_mask_table(op: str, values: list[str], want: list[bool]) -> None:
    assert line_mask(cols_of(LINES), op, values).tolist() == want


def test_hits_crossing_lines_are_not_matches() -> None:
    # In the concatenated chunk "...a" + "b..." spells "ab"; neither line contains it.
    lines = [b"xxa", b"bxx", b"a", b"b", b"ab"]
    assert filter_contains(cols_of(lines), b"ab").tolist() == [False, False, False, False, True]
    for pattern in ["ab", "a.b", "a[^z]*b", r"a\Wb", "a$", "^b"]:
        assert filter_regex(cols_of(lines), pattern).tolist() == ref_regex(lines, pattern), pattern


def test_many_lines_and_large_chunk() -> None:
    lines = [(b"line %d " % i) + (b"err timeout" if i % 97 == 0 else b"fine") for i in range(5000)]
    for pattern in ["err.*timeout", "^line [0-9]*7 ", "fine$", "(?i)ERR", r"\d{4} err"]:
        got = filter_regex(cols_of(lines), pattern)
        assert got.tolist() == ref_regex(lines, pattern), pattern


def test_empty_chunk() -> None:
    empty = LogColumns.empty()
    for op in ("|=", "!=", "|~", "!~"):
        assert line_mask(empty, op, ["a"]).shape == (0,)


def test_bad_regex_raises_value_error() -> None:
    with pytest.raises(ValueError, match="missing \\)"):
        compile_regex("(abc")
    with pytest.raises(ValueError, match="error parsing regexp"):
        line_mask(cols_of([b"a"]), "|~", ["ok", "a**"])
    with pytest.raises(ValueError, match=r"\\C"):
        compile_regex(r"a\C")  # RE2-only escape that Go rejects
    assert compile_regex(r"a\\C").search("a\\C")  # an escaped backslash then C is fine


def test_compile_regex_is_cached_and_go_syntax() -> None:
    assert compile_regex("(?P<a>x)") is compile_regex("(?P<a>x)")
    assert compile_regex("(?<name>x)").groupindex == {"name": 1}


def test_unknown_operator_and_no_values() -> None:
    with pytest.raises(ValueError):
        line_mask(cols_of([b"a"]), "|>", ["a"])
    with pytest.raises(ValueError):
        line_mask(cols_of([b"a"]), "|=", [])


def test_mask_is_numpy_bool() -> None:
    m = line_mask(cols_of([b"a", b"b"]), "|=", ["a"])
    assert isinstance(m, np.ndarray) and m.dtype == np.bool_


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [
        ("err.*timeout", b"timeout"),
        ("timeout", b"timeout"),
        ("a|b", None),  # a top-level alternative: nothing is required
        ("(foo|bar)baz", b"baz"),
        ("abc*d", b"ab"),  # c may be absent
        (r"status=5\d\d", b"status=5"),
        ("(?i)error", None),  # case-insensitive: bytes.find cannot help
        (r"\x{263a}abc", b"abc"),
        ("^GET /api", b"GET /api"),
        ("[]a]bcd", b"bcd"),
        ("[[:alpha:]]xyz", b"xyz"),
        ("\\Qa.b\\E", None),
    ],
)
def test_required_literal(pattern: str, literal: bytes | None) -> None:
    assert _required_literal(pattern) == literal


def test_candidate_and_pure_literal_paths() -> None:
    lines = [b"x" * 50 + (b" timeout after err" if i % 50 == 0 else b" err") for i in range(2000)]
    lines[100] = b"err then timeout"
    for pattern in ["err.*timeout", "timeout", "^x+ timeout", "(e|t)imeout after"]:
        assert filter_regex(cols_of(lines), pattern).tolist() == ref_regex(lines, pattern), pattern
