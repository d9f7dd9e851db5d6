"""Join multi-line log entries (stack traces) into one entry. Pure: no I/O, no clock reads.

A pod opts in per container log with the annotation `heron.io/multiline: java|python|go|<regex>`.
The joiner sits after `formats.LineParser` (one joiner per log file, like the parser) and joins
consecutive entries of the same stream (stdout and stderr independently) into one entry whose
line is the pieces joined with `\\n` and whose timestamp is the first piece's (as the parser does
for partial pieces: the time the application started writing it). A file without a rule never
comes here, so the cost below is paid only where a user asked for it.

Choices, and why:

* Built-in rules translate the state machines of Fluent Bit's `java`, `python` and `go` multiline
  parsers (themselves from Google's fluent-plugin-detect-exceptions) into a table of
  `(regex, next state)` edges, with a few additions real traces need (see `_JAVA`, `_PYTHON`,
  `_GO`). A line with no entry pending either starts one (it matches a start edge) or is complete
  on its own and is emitted at once; a line that follows no edge from the pending entry's state
  ends that entry, which is emitted, and is then looked at afresh. So ordinary lines are never
  held, and a trace is held only until the first line that does not belong to it (or the
  timeout): a trace never announces its own end.
* Some edges are *tentative* (blank lines, Python's "During handling of the above exception"):
  such a line joins only if the trace goes on after it; if the next line ends the trace instead,
  the tentative lines come out as their own entries. Fluent Bit would join trailing blank lines
  into the trace; keeping them apart makes a trace end where it ends.
* A custom rule is a start regex (Promtail's `firstline`): a matching line starts a new entry,
  every other line continues the pending one (or starts one if none is pending). Matching uses
  `re.search` on the line decoded as UTF-8 with `errors="replace"`: unanchored like Promtail's and
  Fluent Bit's regex matching, so a user anchors with `^` as they would there; decoding lets a
  user write `\\w`, `\\d` and non-ASCII text with str semantics, while the joined bytes stay raw.
  Built-in rules match bytes directly (their patterns are ASCII) and skip the decoding.
* Timeout: a pending entry is emitted once no piece was appended to it for `flush_after` seconds
  (inactivity, since its *last* piece), as Promtail's `max_wait_time` does; Fluent Bit's timer
  flushes every pending buffer `flush_timeout` after its previous flush, whatever its age. Since
  the last piece, a trace still being written is not cut in two; `max_lines`/`max_bytes` bound
  how long a never-ending one is held.
* Size cap: a piece that would take the joined entry over `max_bytes` or `max_lines` emits the
  held entry and starts a new one, in the state the piece led to (so the rest of a long trace
  still joins). Nothing is cut or dropped; a single piece longer than `max_bytes` (the parser
  already bounds it) is emitted as it is.
* Malformed entries are never joined: they emit their stream's pending entry first, then pass
  through. The parser gives them the stream "" (a malformed line's stream is unknowable), so in
  practice they do not break a stdout/stderr trace they happen to interrupt.
* Checkpoints: `state()` is a small JSON-serialisable dict (bytes in base64: lines need not be
  UTF-8) stored next to the file offset, like `LineParser.state()`. Monotonic times do not
  survive a restart, so a restored entry's timeout starts again at the `now` of the next
  `feed`/`flush_expired` call. A state name the rule does not know (the annotation changed) keeps
  the pieces but lets nothing more join them.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from heron.collect.logs.formats import Entry

__all__ = ["BUILTIN_RULES", "MultilineJoiner", "MultilineRule", "held_entries", "parse_rule"]

STATE_VERSION = 1
DEFAULT_MAX_BYTES = 256 * 1024
DEFAULT_MAX_LINES = 500
CUSTOM_STATE = "line"  # the only state of a custom (start regex) rule


@dataclass(frozen=True, slots=True)
class _Edge:
    """A line matching `pattern` (searched) moves the entry to state `to`.

    `tentative`: the line joins only if a non-tentative line follows it in the same entry.
    `pos`: where the search starts; 1 asks for a character before the match, which is much
    cheaper than a leading `.` (that defeats `re`'s literal-prefix scan).
    """

    pattern: re.Pattern[bytes]
    to: str
    tentative: bool = False
    pos: int = 0


def _edge(pattern: bytes, to: str, tentative: bool = False, pos: int = 0) -> _Edge:
    return _Edge(re.compile(pattern), to, tentative, pos)


class MultilineRule:
    """Decides which lines belong together: a state machine over the lines of one stream.

    `begin(line)` gives the state of an entry that `line` starts, or None when the line is a
    complete entry by itself; `step(state, line)` gives (next state, tentative) when `line`
    continues an entry in `state`, or None when it does not (the entry is then complete).
    Built with `parse_rule`; immutable, so one rule serves every joiner that uses it.
    """

    __slots__ = ("name", "_start", "_edges", "_firstline", "states")

    def __init__(
        self,
        name: str,
        start: Sequence[_Edge] = (),
        edges: Mapping[str, Sequence[_Edge]] | None = None,
        firstline: re.Pattern[str] | None = None,
    ) -> None:
        self.name = name
        self._start = tuple(start)
        self._edges = {state: tuple(es) for state, es in (edges or {}).items()}
        self._firstline = firstline
        states = {e.to for e in self._start}
        for state, es in self._edges.items():
            states.add(state)
            states.update(e.to for e in es)
        if firstline is not None:
            states.add(CUSTOM_STATE)
        self.states: frozenset[str] = frozenset(states)

    def __repr__(self) -> str:
        return f"MultilineRule({self.name!r})"

    def begin(self, line: bytes) -> str | None:
        """State of the entry `line` starts, or None if `line` is complete by itself."""
        if self._firstline is not None:
            return CUSTOM_STATE  # every line starts an entry that later lines may continue
        for e in self._start:
            if e.pattern.search(line, e.pos):
                return e.to
        return None

    def step(self, state: str | None, line: bytes) -> tuple[str, bool] | None:
        """(next state, tentative) if `line` continues an entry in `state`, else None."""
        if state is None:
            return None
        if self._firstline is not None:
            if self._firstline.search(line.decode("utf-8", "replace")):
                return None
            return CUSTOM_STATE, False
        for e in self._edges.get(state, ()):
            if e.pattern.search(line, e.pos):
                return e.to, e.tentative
        return None


# --- built-in rules -----------------------------------------------------------------------------

_BLANK = rb"^\s*$"

# Java (and C#, JS V8, whose traces look alike): an exception line, then frames ("\tat ..."),
# "... N more", "Caused by:"/"Suppressed:" (which start a nested exception's frames).
# Fluent Bit's start regex requires `[:\r\n]` after the class name because its lines keep their
# newline; ours do not, so end of line counts too ("java.lang.StackOverflowError"). Its leading
# `(.)` (not at line start) is `pos=1` here.
_JAVA_EXCEPTION = rb"(?:Exception|Error|Throwable|V8 errors stack trace)(?:[:\r\n]|$)"
_JAVA_FRAMES = (
    _edge(rb"^[\t ]+(?:eval )?at ", "java_frames"),
    _edge(rb"^[\t ]+--- End of inner exception stack trace ---$", "java_frames"),
    _edge(
        rb"^--- End of stack trace from previous location(?: where exception was thrown)? ---$", "java_frames"
    ),
    _edge(rb"^[\t ]*(?:Caused by|Suppressed):", "java_exception"),
    _edge(rb"^[\t ]*\.\.\. \d+ (?:more|common frames omitted)", "java_frames"),
)
_JAVA = MultilineRule(
    "java",
    start=(_edge(_JAVA_EXCEPTION, "java_exception", pos=1),),
    edges={
        "java_exception": (
            _edge(rb"^[\t ]*nested exception is:[\t ]*", "java_nested"),
            _edge(_BLANK, "java_exception", tentative=True),
            *_JAVA_FRAMES,
        ),
        "java_nested": (_edge(_JAVA_EXCEPTION, "java_exception", pos=1),),
        "java_frames": _JAVA_FRAMES,
    },
)

# Python: "Traceback (most recent call last):", indented lines, then the exception line
# ("pkg.SomeError: message"), which belongs to the trace. An exception without a message prints
# its bare name ("KeyboardInterrupt"); a bare word is taken as one only with a usual suffix, as
# any line ending in a word would do otherwise.
# Fluent Bit alternates strictly between '  File "..."' and one source line; any indented line is
# accepted here instead, because since Python 3.11 frames carry `^^^^`/`~~^^` marker lines, and
# frames without source, "[Previous line repeated N more times]" and exception groups' "  | "
# lines are indented too. A chained exception ("During handling of the above exception, ..." or
# "The above exception was the direct cause ...", between blank lines, then a new Traceback)
# joins the same entry: it is one failure, and Python prints it in one go.
_PY_TRACEBACK = rb"^(?:[\t ]*\+ Exception Group )?Traceback \(most recent call last\):\s*$"
_PYTHON = MultilineRule(
    "python",
    start=(_edge(_PY_TRACEBACK, "python_frames"),),
    edges={
        "python_frames": (
            _edge(rb"^[\t ]+\S", "python_frames"),
            _edge(rb"^(?:[^\s.():]+\.)*[^\s.():]+:", "python_error"),
            _edge(
                rb"^(?:[^\s.():]+\.)*\w*(?:Error|Exception|Interrupt|Exit|Iteration|Warning)\s*$",
                "python_error",
            ),
        ),
        "python_error": (
            _edge(_BLANK, "python_error", tentative=True),
            _edge(
                rb"^(?:During handling of the above exception, another exception occurred"
                rb"|The above exception was the direct cause of the following exception):\s*$",
                "python_error",
                tentative=True,
            ),
            _edge(_PY_TRACEBACK, "python_frames"),
        ),
    },
)

# Go: "panic: ..." (or "fatal error: ...", or net/http's "http: panic serving ..."), an optional
# "[signal ...]" line, then goroutine dumps: "goroutine N [state]:", function lines and
# tab-indented file:line lines, dumps separated by blank lines. Fluent Bit alternates strictly
# between a function line and an indented line; any of them is accepted in any order here, as
# "...additional frames elided..." and generic functions ("pkg.F[...](...)") break the strict
# alternation, and "[recovered]" panics print an indented "panic: " line. A function line is
# matched up to its first "(" only, so a long line of parentheses costs linear time.
_GO_GOROUTINE = rb"^goroutine \d+ (?:\S+ )*\[[^\]]+\]:\s*$"
_GO_STACK_LINE = rb"^(?:\s+\S|created by \S|\.\.\.additional frames elided\.\.\.|[^\s(][^\s(]*\(.*\)\s*$)"
_GO = MultilineRule(
    "go",
    start=(
        _edge(rb"http: panic serving", "go_goroutine"),
        _edge(rb"panic(?<=\bpanic): ", "go_panic"),  # Fluent Bit's `\bpanic: `, literal first: faster
        _edge(rb"^fatal error: ", "go_panic"),
    ),
    edges={
        "go_panic": (
            _edge(_BLANK, "go_goroutine", tentative=True),
            _edge(rb"^\[signal ", "go_panic"),
            _edge(rb"^\s+panic: |^fatal error: ", "go_panic"),
            _edge(_GO_GOROUTINE, "go_stack"),
        ),
        "go_goroutine": (_edge(_GO_GOROUTINE, "go_stack"),),
        "go_stack": (
            _edge(_BLANK, "go_goroutine", tentative=True),
            _edge(_GO_STACK_LINE, "go_stack"),
        ),
    },
)

BUILTIN_RULES: Mapping[str, MultilineRule] = {r.name: r for r in (_JAVA, _PYTHON, _GO)}


def parse_rule(spec: str) -> MultilineRule:
    """The rule an annotation value names: "java", "python", "go" (any case), else a start regex.

    Raises ValueError (naming the spec) for an empty spec or a regex Python's `re` rejects.
    """
    name = spec.strip()
    if not name:
        raise ValueError(f"empty multiline rule {spec!r}: want java, python, go or a start regex")
    builtin = BUILTIN_RULES.get(name.lower())
    if builtin is not None:
        return builtin
    try:
        pattern = re.compile(name)
    except re.error as e:
        raise ValueError(f"bad multiline start regex {name!r}: {e}") from e
    return MultilineRule(name, firstline=pattern)


# --- the joiner ---------------------------------------------------------------------------------


class _Held:
    """One stream's pending entry: its pieces so far and where the rule's state machine is."""

    __slots__ = ("pieces", "ts", "size", "committed", "state", "last")

    def __init__(self, ts_ns: int, line: bytes, state: str | None, last: float | None) -> None:
        self.pieces = [line]
        self.ts = [ts_ns]  # per piece: tentative pieces that do not join come out with their own
        self.size = len(line)  # bytes once joined with b"\n"
        self.committed = 1  # pieces[:committed] surely belong; the rest are tentative
        self.state = state
        self.last: float | None = last  # monotonic time of the last piece; None: restored, not yet seen

    def emit(self, out: list[Entry], stream: str) -> None:
        """The committed pieces as one entry, then each tentative piece as its own."""
        c = self.committed
        pieces = self.pieces
        out.append(Entry(self.ts[0], stream, pieces[0] if c == 1 else b"\n".join(pieces[:c])))
        for i in range(c, len(pieces)):
            out.append(Entry(self.ts[i], stream, pieces[i]))


class MultilineJoiner:
    """Joins one log file's entries per stream with a `MultilineRule`. Not thread-safe.

    Entries come out in order per stream. `now` arguments are monotonic seconds, used only for
    the `flush_after` timeout; a caller should call `flush_expired` by `next_deadline()`, and
    `flush()` when the file ends or the agent stops.
    """

    __slots__ = ("rule", "flush_after", "max_bytes", "max_lines", "_held", "_unstamped")

    def __init__(
        self,
        rule: MultilineRule,
        *,
        flush_after: float = 1.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_lines: int = DEFAULT_MAX_LINES,
    ) -> None:
        if not flush_after >= 0:  # also rejects NaN
            raise ValueError("flush_after must be >= 0")
        if max_bytes < 1 or max_lines < 1:
            raise ValueError("max_bytes and max_lines must be positive")
        self.rule = rule
        self.flush_after = flush_after
        self.max_bytes = max_bytes
        self.max_lines = max_lines
        self._held: dict[str, _Held] = {}
        self._unstamped = False  # some restored entry waits for a `now` to start its timeout

    @property
    def has_pending(self) -> bool:
        """Whether some entry is held (waiting for more lines or its timeout)."""
        return bool(self._held)

    def feed(self, entries: list[Entry], now: float) -> list[Entry]:
        """Add entries (in file order); return those now complete, in order per stream."""
        if self._unstamped:
            self._stamp(now)
        out: list[Entry] = []
        held = self._held
        rule = self.rule
        for e in entries:
            stream = e.stream
            h = held.get(stream)
            if e.malformed:
                if h is not None:
                    del held[stream]
                    h.emit(out, stream)
                out.append(e)
                continue
            line = e.line
            if h is not None:
                step = rule.step(h.state, line)
                if step is not None:
                    state, tentative = step
                    if h.size + 1 + len(line) > self.max_bytes or len(h.pieces) >= self.max_lines:
                        if not tentative:  # the line continues the trace: what it follows belongs
                            h.committed = len(h.pieces)
                        h.emit(out, stream)
                        held[stream] = _Held(e.ts_ns, line, state, now)
                        continue
                    h.pieces.append(line)
                    h.ts.append(e.ts_ns)
                    h.size += 1 + len(line)
                    h.state = state
                    h.last = now
                    if not tentative:
                        h.committed = len(h.pieces)
                    continue
                del held[stream]
                h.emit(out, stream)
            state = rule.begin(line)
            if state is None:
                out.append(e)
            else:
                held[stream] = _Held(e.ts_ns, line, state, now)
        return out

    def flush_expired(self, now: float) -> list[Entry]:
        """Emit the entries that got no new piece for at least `flush_after` seconds."""
        if self._unstamped:
            self._stamp(now)
        out: list[Entry] = []
        after = self.flush_after
        for stream, h in list(self._held.items()):
            # The same sum as `next_deadline`, so flush_expired(next_deadline()) emits (floats).
            if h.last is not None and now >= h.last + after:
                del self._held[stream]
                h.emit(out, stream)
        return out

    def flush(self) -> list[Entry]:
        """Emit every pending entry (the file ended, or the agent stops)."""
        out: list[Entry] = []
        for stream, h in self._held.items():
            h.emit(out, stream)
        self._held.clear()
        self._unstamped = False
        return out

    def next_deadline(self) -> float | None:
        """Earliest `now` at which `flush_expired` emits something; None if nothing is pending.

        `-inf` while a restored entry has not seen a `now` yet: call `flush_expired` (or `feed`)
        right away to start its timeout.
        """
        if not self._held:
            return None
        if self._unstamped:
            return -math.inf
        return min(h.last for h in self._held.values() if h.last is not None) + self.flush_after

    def state(self) -> dict[str, Any]:
        """Pending pieces as a JSON-serialisable dict, to checkpoint with the file offset.

        Bytes are base64 (lines need not be UTF-8). Times are not kept (see the module doc).
        """
        return {
            "v": STATE_VERSION,
            "pending": {
                stream: {
                    "state": h.state,
                    "committed": h.committed,
                    "ts_ns": list(h.ts),
                    "pieces": [base64.b64encode(p).decode("ascii") for p in h.pieces],
                }
                for stream, h in self._held.items()
            },
        }

    @classmethod
    def from_state(
        cls,
        rule: MultilineRule,
        state: dict[str, Any],
        *,
        flush_after: float = 1.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_lines: int = DEFAULT_MAX_LINES,
    ) -> MultilineJoiner:
        """Inverse of `state`; raises ValueError on a state it cannot read. `{}` gives a fresh one.

        A state name `rule` does not know (the annotation changed since) keeps the pieces but
        lets no further line join them.
        """
        joiner = cls(rule, flush_after=flush_after, max_bytes=max_bytes, max_lines=max_lines)
        if state == {}:
            return joiner
        if not isinstance(state, dict) or state.get("v") != STATE_VERSION:
            raise ValueError(f"unknown multiline state {state!r:.100}")
        try:
            pending = state["pending"]
            if not isinstance(pending, dict):
                raise TypeError("pending is not an object")
            for stream, p in pending.items():
                name, committed, stamps = p["state"], p["committed"], p["ts_ns"]
                if not isinstance(p["pieces"], list):
                    raise TypeError("pieces is not a list")
                pieces = [base64.b64decode(s, validate=True) for s in p["pieces"]]
                if not (isinstance(name, str) or name is None):
                    raise TypeError("state is not a string")
                if not (isinstance(stamps, list) and all(type(t) is int for t in stamps)):
                    raise TypeError("ts_ns is not a list of integers")
                if (
                    type(committed) is not int
                    or not 1 <= committed <= len(pieces)
                    or len(stamps) != len(pieces)
                ):
                    raise TypeError("inconsistent pieces, ts_ns and committed")
                h = _Held(stamps[0], pieces[0], name if name in rule.states else None, None)
                h.pieces, h.ts, h.committed = pieces, stamps, committed
                h.size = sum(map(len, pieces)) + len(pieces) - 1
                joiner._held[str(stream)] = h
        except (KeyError, TypeError, AttributeError, ValueError, binascii.Error) as e:
            raise ValueError(f"bad multiline state: {e}") from e
        joiner._unstamped = bool(joiner._held)
        return joiner

    def _stamp(self, now: float) -> None:
        """Start the timeout of restored entries at the first `now` seen after the restore."""
        for h in self._held.values():
            if h.last is None:
                h.last = now
        self._unstamped = False


# A rule that knows no state: restoring a checkpoint with it keeps the held pieces as they are.
_AS_HELD = MultilineRule("as-held", firstline=re.compile(""))


def held_entries(state: dict[str, Any]) -> list[Entry]:
    """The entries a checkpointed joiner state holds, emitted as they stand.

    For a file that will never be read again (it ended before the agent was killed): its held
    trace must still be shipped, and no rule is needed to flush it. Raises ValueError on a
    state `MultilineJoiner.from_state` cannot read.
    """
    return MultilineJoiner.from_state(_AS_HELD, state).flush()
