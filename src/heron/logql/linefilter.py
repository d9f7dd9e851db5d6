"""LogQL line filters (`|=`, `!=`, `|~`, `!~`) evaluated over whole log chunks.

This is the hot path of every log query, so nothing here loops over lines in Python when it can
avoid it: a substring filter is one `bytes.find` scan of the chunk (`find_substring`), and a regex
filter is one RE2 scan of the chunk (raw, or with the lines joined by `\\n`; see filter_regex),
or a `bytes.find` for a literal every match needs followed by RE2 on just those lines. Python
runs per *matching* (or candidate) line, to jump to the next line, never per line scanned.

Semantics follow Loki (pkg/logql/log/filter.go):

* `|= "s"` keeps lines containing the bytes of `s`; `|= ""` keeps every line. `!= "s"` is its
  negation, so `!= ""` drops every line (every line contains the empty string).
* `|~ "re"` is an unanchored search with Go's RE2 syntax; `!~` is its negation.
* `|= "a" or "b"` keeps a line matching ANY alternative; `!= "a" or "b"` keeps a line matching
  NONE (Loki rewrites not(a or b) as not(a) and not(b)).
* Case-insensitive patterns (`(?i)...`) are run as given. Loki rewrites some of them into a
  lower-casing substring search; the only difference is for a handful of Unicode characters whose
  simple case folding differs from `unicode.ToLower` (e.g. U+017F), where we follow RE2.
* Go's regexp reads invalid UTF-8 as U+FFFD, one per bad byte, so `.` and negated classes match
  it; RE2 in C++ does not. A chunk with invalid UTF-8 is therefore searched with every bad byte
  replaced by U+FFFD, which gives Go's answer. `\\C` (any byte) is rejected, as Go rejects it.
"""

from __future__ import annotations

import bisect
import codecs
import functools
import re
import threading
from typing import Any, NamedTuple, Sequence

import numpy as np
import re2

from heron.logql.ipfilter import IPMatcher, ip_mask
from heron.storage.log_chunks import LogColumns, find_substring

__all__ = [
    "LINE_FILTER_OPS",
    "compile_regex",
    "filter_contains",
    "filter_regex",
    "line_mask",
]

LINE_FILTER_OPS = ("|=", "!=", "|~", "!~")

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would otherwise print every bad user pattern to stderr
# A filter only needs the span of the whole match: without capture groups RE2 can answer from
# its DFAs alone instead of running the slower submatch engines.
_FILTER_OPTIONS = re2.Options()
_FILTER_OPTIONS.log_errors = False
_FILTER_OPTIONS.never_capture = True
_JOINED_OPTIONS = re2.Options()
_JOINED_OPTIONS.log_errors = False
_JOINED_OPTIONS.never_capture = True
# In a buffer of `\n`-separated lines that hold no `\n` themselves, a pattern that can never match
# `\n` cannot run from one line into the next, and means on each line what it means alone.
_JOINED_OPTIONS.never_nl = True
_UNANCHORED = re2._Anchor.UNANCHORED

# Constructs whose meaning depends on what surrounds the match (text or line boundaries, word
# boundaries). Found textually after escapes and character classes are removed; a false
# positive (e.g. `\\b`, an escaped backslash then `b`) only costs the slower, always-correct path.
_CONTEXT_ESCAPE = re.compile(r"\\[bBAz]")
_ANY_ESCAPE = re.compile(r"\\.", re.S)
_CHAR_CLASS = re.compile(r"\[\^?\]?[^\]]*\]")
# Unbounded repetition: a match may then run far past its line in the raw (unseparated) bytes,
# which makes the raw scan slow (RE2's DFA scans the whole run, then back again) and useless.
_UNBOUNDED = re.compile(r"[*+]|\{\d*,\}")
# `\A`, `\z` and flag groups turning `m` off change meaning once `(?m)` is prepended.
_NEEDS_SINGLE_LINE = re.compile(r"\\[Az]|\(\?[a-zA-Z]*-[a-zA-Z]*m")
# `\C` (any byte) is RE2-only; Go rejects it, and it would defeat never_nl.
_BYTE_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\C")


@functools.lru_cache(maxsize=512)
def compile_regex(pattern: str) -> Any:
    """RE2-compile `pattern` (Go regexp syntax, which RE2 shares), cached.

    Raises ValueError with RE2's message, prefixed the way Go's regexp prefixes its own, so a bad
    query fails at planning time rather than per chunk. Returns a `re2` compiled pattern.
    """
    if _BYTE_ESCAPE.search(pattern):
        raise ValueError("error parsing regexp: invalid escape sequence: `\\C`")
    return _compile(pattern, _OPTIONS)


def _compile(pattern: str, options: Any) -> Any:
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        msg = exc.args[0] if exc.args else "invalid pattern"
        if isinstance(msg, bytes):
            msg = msg.decode("utf-8", "replace")
        raise ValueError(f"error parsing regexp: {msg}") from None


class _Plan(NamedTuple):
    """How to run one pattern over a chunk, worked out once per pattern."""

    single: Any  # the pattern as given: per-line search, and the raw-buffer scan
    raw_scan: bool  # context-free and short: scan the raw chunk bytes first
    matches_empty: bool  # context-free and matches "": every line matches
    joined: Any | None  # "(?m)" + pattern with never_nl, for the `\n`-joined buffer
    literal: bytes | None  # bytes every match contains, to find candidate lines with bytes.find
    pure_literal: bool  # the pattern is that literal and nothing else


@functools.lru_cache(maxsize=512)
def _plan(pattern: str) -> _Plan:
    compile_regex(pattern)  # validation, with Go's error wording
    single = _compile(pattern, _FILTER_OPTIONS)
    bare = _CHAR_CLASS.sub("", _ANY_ESCAPE.sub("", pattern))
    context_free = not _CONTEXT_ESCAPE.search(pattern) and "^" not in bare and "$" not in bare
    matches_empty = context_free and single.search(b"") is not None
    raw_scan = context_free and not _UNBOUNDED.search(bare)
    joined = None if _NEEDS_SINGLE_LINE.search(pattern) else _compile("(?m)" + pattern, _JOINED_OPTIONS)
    literal = _required_literal(pattern)
    pure = literal is not None and literal == pattern.encode("utf-8")
    return _Plan(single, raw_scan, matches_empty, joined, literal, pure)


_CASE_FOLD_FLAG = re.compile(r"\(\?[a-zA-Z-]*i")
_REPEAT = re.compile(r"\{[0-9]*(?:,[0-9]*)?\}")


def _required_literal(pattern: str) -> bytes | None:
    """The longest run of plain characters that every match must contain, or None.

    Conservative on purpose: only top-level concatenation counts (groups and classes are
    skipped whole, a top-level `|` gives up), a character followed by a quantifier is dropped,
    and case-insensitive or `\\Q` patterns give up. Used only to pick candidate lines, so a
    missed literal costs speed, never correctness.
    """
    if _CASE_FOLD_FLAG.search(pattern) or "\\Q" in pattern:
        return None
    best = ""
    run: list[str] = []
    i, n = 0, len(pattern)

    def flush() -> None:
        nonlocal best
        if len("".join(run).encode()) > len(best.encode()):
            best = "".join(run)
        run.clear()

    while i < n:
        c = pattern[i]
        if c == "\\":
            flush()
            i = _skip_escape(pattern, i)
        elif c == "[":
            flush()
            i = _skip_class(pattern, i)
        elif c == "(":
            flush()
            depth = 0
            while i < n:
                if pattern[i] == "\\":
                    i = _skip_escape(pattern, i)
                    continue
                if pattern[i] == "[":
                    i = _skip_class(pattern, i)
                    continue
                depth += {"(": 1, ")": -1}.get(pattern[i], 0)
                i += 1
                if depth == 0:
                    break
        elif c == "|" or c == ")":
            return None
        elif c in "*?+" or (c == "{" and _REPEAT.match(pattern, i)):
            if run:
                run.pop()  # the repeated character may be absent
            flush()
            m = _REPEAT.match(pattern, i) if c == "{" else None
            i = m.end() if m else i + 1
            if i < n and pattern[i] in "?+":
                i += 1
        elif c in ".^$":
            flush()
            i += 1
        else:
            run.append(c)
            i += 1
    flush()
    return best.encode("utf-8") if best else None


def _skip_escape(pattern: str, i: int) -> int:
    """Index just after the escape sequence starting at pattern[i] (a backslash)."""
    nxt = pattern[i + 1 : i + 2]
    if nxt in ("p", "P", "x") and pattern[i + 2 : i + 3] == "{":
        end = pattern.find("}", i + 3)
        return len(pattern) if end < 0 else end + 1
    if nxt == "x":
        return i + 4
    if nxt in ("p", "P"):
        return i + 3
    if nxt.isdigit():
        j = i + 1
        while j < len(pattern) and j < i + 4 and pattern[j].isdigit():
            j += 1
        return j
    return i + 2


def _skip_class(pattern: str, i: int) -> int:
    """Index just after the character class starting at pattern[i] (a `[`)."""
    n = len(pattern)
    j = i + 1
    if j < n and pattern[j] == "^":
        j += 1
    if j < n and pattern[j] == "]":
        j += 1
    while j < n:
        c = pattern[j]
        if c == "\\":
            j = _skip_escape(pattern, j)
        elif c == "[" and pattern[j + 1 : j + 2] == ":":
            end = pattern.find(":]", j + 2)
            j = n if end < 0 else end + 2
        elif c == "]":
            return j + 1
        else:
            j += 1
    return n


def filter_contains(cols: LogColumns, needle: bytes) -> np.ndarray:
    """Boolean mask of the lines that contain `needle` (all True for an empty needle)."""
    mask = np.zeros(len(cols), dtype=bool)
    mask[find_substring(cols, needle)] = True
    return mask


def filter_regex(cols: LogColumns, pattern: str) -> np.ndarray:
    """Boolean mask of the lines in which the RE2 `pattern` finds a match (unanchored search).

    Four strategies, cheapest first, each exact:
    0. When every match must contain some literal bytes (`err.*timeout` needs "timeout") and the
       pattern cannot take strategy 1, lines holding them are found by `bytes.find` at memchr
       speed, and if they are few only those lines are searched. A pure literal needs no regex.
    1. A context-free pattern without unbounded repetition is run over the raw chunk bytes. A hit
       that stays inside one line is that line's match, so a selective pattern costs one C scan
       plus a step per hit. Lines are only joined once a hit runs from one line into the next.
    2. Otherwise the lines are joined with `\n` (when no line holds a `\n`) and searched in
       multi-line mode with never_nl, so ^ and $ see line boundaries and no hit can cross one.
    3. Otherwise one search per line.
    """
    n = len(cols)
    mask = np.zeros(n, dtype=bool)
    if n == 0:
        return mask
    plan = _plan(pattern)
    if plan.matches_empty:
        mask[:] = True
        return mask
    data, ends = _go_utf8(cols.data, cols.ends)
    if plan.literal is not None and (plan.pure_literal or not plan.raw_scan):
        # (a raw-scan pattern gets nothing from this: its own scan is as cheap and exact)
        fixed = cols
        if data is not cols.data:
            fixed = LogColumns(cols.timestamps, ends, data, cols.meta_ends, cols.meta)
        cand = find_substring(fixed, plan.literal)
        if plan.pure_literal:
            mask[cand] = True
            return mask
        if cand.shape[0] * 4 <= n:  # few candidates: test just those lines
            _search_some(plan.single, data, ends, cand, mask)
            return mask
    e: list[int] = ends.tolist()
    hits: list[int] = []
    first = 0
    if plan.raw_scan:
        first = _search_raw(plan.single, data, e, hits)
    if first < n:
        if plan.joined is not None and b"\n" not in data:
            _search_joined(plan.joined, plan.single, data, e, first, hits)
        else:
            _search_lines(plan.single, data, e, first, hits)
    if hits:
        mask[hits] = True
    return mask


def line_mask(cols: LogColumns, op: str, values: Sequence[str | IPMatcher]) -> np.ndarray:
    """Mask of the lines kept by the line filter `op` with `or`-joined alternatives `values`.

    `|=`/`|~` keep a line if ANY alternative matches; `!=`/`!~` keep it if NONE does. An
    `IPMatcher` alternative is an `ip("...")` (only with `|=`/`!=`; see ipfilter).
    """
    if op not in LINE_FILTER_OPS:
        raise ValueError(f"unknown line filter operator {op!r}")
    if not values:
        raise ValueError("a line filter needs at least one value")
    regex = op in ("|~", "!~")
    if regex:
        for v in values:  # fail on a bad alternative before scanning anything
            if isinstance(v, str):
                _plan(v)
    mask = np.zeros(len(cols), dtype=bool)
    for v in values:
        if isinstance(v, IPMatcher):
            m = ip_mask(cols, v)
        elif regex:
            m = filter_regex(cols, v)
        else:
            m = filter_contains(cols, v.encode("utf-8", "surrogateescape"))
        np.logical_or(mask, m, out=mask)
        if mask.all():
            break
    if op in ("!=", "!~"):
        np.logical_not(mask, out=mask)
    return mask


def _search_raw(single: Any, data: bytes, e: list[int], hits: list[int]) -> int:
    """Scan the raw chunk bytes with a context-free, never-empty pattern.

    Returns the first line left undecided: len(e) when done, or the line of the first hit that
    ran past its line's end (it and the lines after it need a boundary-aware search).
    """
    match = single._regexp.Match
    size = len(data)
    pos = 0
    while pos < size:
        start, end = match(_UNANCHORED, data, pos, size)[0]
        if start < 0:
            break
        i = bisect.bisect_right(e, start)  # the line holding byte `start` (never an empty line)
        line_end = e[i]
        if end > line_end:
            return i
        hits.append(i)
        pos = line_end
    return len(e)


def _search_joined(joined: Any, single: Any, data: bytes, e: list[int], first: int, hits: list[int]) -> None:
    """Search lines `first`.. as one buffer with a `\n` after every line, line to line on hits.

    In the buffer, line k (counted from `first`) ends at its separator seps[k], so a hit starting
    at p belongs to the first line whose separator is at or after p; an empty hit on a separator
    is that line's end (e.g. `$`). never_nl keeps hits inside a line; one that still ran past its
    separator would be re-checked on its line alone.
    """
    starts = [e[first - 1] if first else 0, *e[first:-1]]
    buf, seps = _joined(data, e, first, starts)
    size = len(buf)
    count = len(seps)
    match = joined._regexp.Match
    pos = 0
    while pos < size:
        start, end = match(_UNANCHORED, buf, pos, size)[0]
        if start < 0:
            break
        k = bisect.bisect_left(seps, start)
        if k >= count:  # an empty hit after the final separator, e.g. (?m)^$: no line there
            break
        sep = seps[k]
        if end <= sep:
            hits.append(first + k)
        else:  # pragma: no cover - never_nl rules this out; kept so a surprise stays correct
            line_start = sep - (e[first + k] - starts[k])
            line = memoryview(buf)[line_start:sep]
            if single._regexp.Match(_UNANCHORED, line, 0, sep - line_start)[0][0] >= 0:
                hits.append(first + k)
        pos = sep + 1


class _JoinCache(threading.local):
    """The last joined buffer built by this thread. Joining costs more than a selective RE2 scan,
    and `|~ "a" or "b"` or consecutive regex stages search the same chunk again; the entry holds
    its source objects, so an identity check cannot be fooled by a recycled id()."""

    def __init__(self) -> None:
        self.key: tuple[bytes, list[int], int] | None = None
        self.value: tuple[bytes, list[int]] = (b"", [])


_join_cache = _JoinCache()


def _joined(data: bytes, e: list[int], first: int, starts: list[int]) -> tuple[bytes, list[int]]:
    """Lines `first`.. each followed by b"\\n", and the separator positions."""
    key = _join_cache.key
    if key is not None and key[0] is data and key[2] == first and key[1] == e:
        return _join_cache.value
    parts = [data[a:b] for a, b in zip(starts, e[first:])]
    parts.append(b"")
    buf = b"\n".join(parts)  # one copy; measured faster than any numpy scatter for this
    seps = (np.asarray(e[first:], dtype=np.int64) - starts[0] + np.arange(len(starts))).tolist()
    _join_cache.key = (data, e, first)
    _join_cache.value = (buf, seps)
    return buf, seps


def _search_some(single: Any, data: bytes, ends: np.ndarray, idx: np.ndarray, mask: np.ndarray) -> None:
    """Search lines `idx` only, one RE2 call each on a zero-copy view."""
    match = single._regexp.Match
    mv = memoryview(data)
    stops = ends[idx].tolist()
    starts = np.where(idx > 0, ends[np.maximum(idx - 1, 0)], 0).tolist()
    for i, a, b in zip(idx.tolist(), starts, stops):
        if match(_UNANCHORED, mv[a:b], 0, b - a)[0][0] >= 0:
            mask[i] = True


def _search_lines(single: Any, data: bytes, e: list[int], first: int, hits: list[int]) -> None:
    """Per-line search from line `first` on: one RE2 call per line on a zero-copy view."""
    match = single._regexp.Match
    mv = memoryview(data)
    start = e[first - 1] if first else 0
    for i in range(first, len(e)):
        end = e[i]
        if match(_UNANCHORED, mv[start:end], 0, end - start)[0][0] >= 0:
            hits.append(i)
        start = end


class _BadBytes(threading.local):
    """Positions of invalid UTF-8 bytes seen by the decoder, per thread (codecs error handlers
    are global by name, so the state they fill must not be shared between query threads)."""

    def __init__(self) -> None:
        self.ranges: list[tuple[int, int]] = []


_bad = _BadBytes()


def _replace_per_byte(exc: UnicodeError) -> tuple[str, int]:
    """Replace every invalid byte by its own U+FFFD, as Go's utf8.DecodeRune does (Python's
    "replace" would fold a truncated sequence into one), and remember where they were."""
    assert isinstance(exc, UnicodeDecodeError)
    _bad.ranges.append((exc.start, exc.end))
    return "\ufffd" * (exc.end - exc.start), exc.end


codecs.register_error("heron.go_utf8", _replace_per_byte)


def _go_utf8(data: bytes, ends: np.ndarray) -> tuple[bytes, np.ndarray]:
    """`data` with every invalid UTF-8 byte turned into U+FFFD (3 bytes), and the shifted ends.

    Valid chunks (the norm) are returned as they are after one ASCII check or one decode.
    """
    if data.isascii():
        return data, ends
    _bad.ranges = []
    text = data.decode("utf-8", "heron.go_utf8")
    if not _bad.ranges:
        return data, ends
    bad = np.concatenate([np.arange(s, e, dtype=np.int64) for s, e in _bad.ranges])
    _bad.ranges = []
    shift = 2 * np.searchsorted(bad, ends, side="left").astype(np.int64)
    return text.encode("utf-8"), ends + shift
