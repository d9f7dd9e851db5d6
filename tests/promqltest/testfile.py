"""A parser for Prometheus' PromQL test-file format (`promql/promqltest/testdata/*.test`).

It follows `promql/promqltest/test.go`: comment lines (`#`) count as blank, commands are
`load <interval>` (and its variants such as `load_with_nhcb`), `clear`, and
`eval[_fail|_warn|_info|_ordered] instant at <t> <query>` or
`eval[_fail|_warn|_info] range from <t> to <t> step <d> <query>`, each followed by its lines up
to the next blank line: `expect fail|warn|info|no_warn|no_info|ordered [msg: ...|regex: ...]`,
`expect range vector from <t> to <t> step <d>`, `expect string "..."`, expected series
(`{a="b"} 1 2 _ 3`) or a single number (a scalar).

Series values use the notation of Prometheus' series descriptions: `1+2x10` (11 values
counting up by 2), `1-1x5`, `1x3` (1 four times), `_` (no sample), `_x3` (three gaps),
`stale` (a staleness marker), `Inf`, `-Inf`, `NaN`. Native-histogram values (`{{...}}`) are
recognised and not decoded: the series is marked so the runner can skip what reads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from heron.model import STALE_NAN, Labels

__all__ = [
    "TestFileError",
    "SeriesValue",
    "Series",
    "Load",
    "Clear",
    "Expect",
    "Eval",
    "Command",
    "parse_file",
    "parse_duration",
    "parse_number",
    "parse_series",
]


class TestFileError(ValueError):
    """A line the format does not allow; carries the 1-based line number."""

    __test__ = False  # not a pytest test class

    def __init__(self, line: int, msg: str) -> None:
        super().__init__(f"line {line}: {msg}")
        self.line = line


@dataclass(frozen=True)
class SeriesValue:
    value: float = 0.0
    omitted: bool = False


@dataclass
class Series:
    labels: Labels
    values: list[SeriesValue]
    histogram: bool = False  # written in native-histogram notation: values not decoded


@dataclass
class Load:
    line: int
    interval_ms: int
    variant: str  # "" for plain `load`, else the suffix (`with_nhcb`)
    series: list[Series]
    start_timestamps: bool = False  # had `@st` lines (start timestamps, not modelled)


@dataclass
class Clear:
    line: int


@dataclass
class Expect:
    kind: str  # fail, warn, info, no_warn, no_info, ordered
    message: str | None = None  # exact text
    regex: re.Pattern[str] | None = None

    def matches(self, text: str) -> bool:
        if self.regex is not None:
            return self.regex.search(text) is not None
        return self.message == text


_MATCH_ANY = re.compile(r"^.*$")


@dataclass
class Eval:
    line: int
    text: str  # the whole command line, for reports
    query: str
    is_range: bool
    start_ms: int
    end_ms: int | None  # None: an instant eval without `expect range vector`
    step_ms: int
    mode: str = ""  # the eval_<mode> suffix: fail, warn, info, ordered
    expects: list[Expect] = field(default_factory=list)
    expected: dict[Labels, tuple[int, list[SeriesValue]]] = field(default_factory=dict)
    expect_scalar: float | None = None
    expect_string: str | None = None
    expect_range_vector: bool = False
    exclude_from_range: bool = False
    fail_message: str | None = None  # old-style `expected_fail_message`
    fail_regexp: re.Pattern[str] | None = None  # old-style `expected_fail_regexp`
    histogram_expected: bool = False  # an expected value in native-histogram notation
    error: str | None = None  # the eval's own lines were malformed (Prometheus rejects the file)

    @property
    def eval_ms(self) -> int:
        """The instant an instant eval runs at (the end of an `expect range vector`)."""
        return self.end_ms if self.expect_range_vector and self.end_ms is not None else self.start_ms

    def of(self, kind: str) -> list[Expect]:
        return [e for e in self.expects if e.kind == kind]

    @property
    def is_fail(self) -> bool:
        return self.mode == "fail" or bool(self.of("fail"))

    @property
    def is_ordered(self) -> bool:
        return self.mode == "ordered" or bool(self.of("ordered"))


Command = Load | Clear | Eval

_SPACE = re.compile(r"[\t ]+")
_LOAD = re.compile(r"^load(?:_(\w+))?\s+(.+?)$")
_EVAL_INSTANT = re.compile(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$")
_EVAL_RANGE = re.compile(
    r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$"
)
_EXPECT = re.compile(r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$")
_EXPECT_RANGE = re.compile(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$")
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_DURATION_UNITS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)


def parse_duration(text: str) -> int:
    """Prometheus' `model.ParseDuration` in ms: `1h30m`, `5m`, `10s`, `100ms`, `0`."""
    if text == "0":
        return 0
    m = _DURATION.match(text)
    if not text or m is None or not any(m.groups()):
        raise ValueError(f"not a valid duration string: {text!r}")
    return sum(int(g) * unit for g, unit in zip(m.groups(), _DURATION_UNITS) if g)


_GO_OCTAL = re.compile(r"^[+-]?0[0-7]+$")


def parse_number(text: str) -> float:
    """Go's `strconv.ParseInt(s, 0, 64)` then `ParseFloat(s, 64)`, as the harness reads an
    expected scalar line: decimal, hex, octal, `Inf`, `NaN`, exponents; no Python-only forms."""
    s = text.strip()
    if not s or s != text or "_" in s and not re.match(r"^[+-]?0[xXoObB]", s):
        raise ValueError(f"not a number: {text!r}")
    if _GO_OCTAL.match(s):
        return float(int(s, 8))
    try:
        return float(int(s, 0))
    except ValueError:
        pass
    low = s.lower().lstrip("+-")
    if low in ("inf", "infinity", "nan"):
        return float(s)
    if low.startswith("0x"):
        return float.fromhex(s)
    if not re.match(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$", s):
        raise ValueError(f"not a number: {text!r}")
    return float(s)


# --- series descriptions ---------------------------------------------------------------------

_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_NUM = r"[+-]?(?:[iI][nN][fF]|[nN][aA][nN]|\d*\.?\d+(?:[eE][+-]?\d+)?|\d+\.)"
_UNUM = r"(?:[iI][nN][fF]|[nN][aA][nN]|\d*\.?\d+(?:[eE][+-]?\d+)?|\d+\.)"
_ITEM = re.compile(
    rf"^(?:(?P<blank>_)(?:x(?P<bn>\d+))?|(?P<stale>stale)|(?P<a>{_NUM})(?:(?P<op>[+-])(?P<b>{_UNUM}))?(?:x(?P<n>\d+))?)$"
)
_GO_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
}


def _read_string(text: str, i: int) -> tuple[str, int]:
    """A Go string literal at text[i] (double, single or back quotes) -> (value, end index)."""
    quote = text[i]
    if quote == "`":
        end = text.find("`", i + 1)
        if end < 0:
            raise ValueError("unterminated raw string")
        return text[i + 1 : end], end + 1
    out: list[str] = []
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == quote:
            return "".join(out), j + 1
        if c != "\\":
            out.append(c)
            j += 1
            continue
        e = text[j + 1 : j + 2]
        if e in _GO_ESCAPES:
            out.append(_GO_ESCAPES[e])
            j += 2
        elif e in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[e]
            out.append(chr(int(text[j + 2 : j + 2 + width], 16)))
            j += 2 + width
        elif e.isdigit():
            out.append(chr(int(text[j + 1 : j + 4], 8)))
            j += 4
        else:
            raise ValueError(f"unknown escape sequence \\{e}")
    raise ValueError("unterminated string")


def _parse_labels(text: str) -> tuple[dict[str, str], int]:
    """`name{a="b", "c.d"="e"}` / `{"name", a="b"}` / `name` at the start of text."""
    pairs: dict[str, str] = {}
    i = 0
    m = _IDENT.match(text)
    if m:
        pairs["__name__"] = m.group()
        i = m.end()
    if text[i : i + 1] != "{":
        if not pairs:
            raise ValueError(f"expected a metric name or '{{' at {text[:20]!r}")
        return pairs, i
    i += 1
    while True:
        while text[i : i + 1] in (" ", "\t", ","):
            i += 1
        if text[i : i + 1] == "}":
            return pairs, i + 1
        if text[i : i + 1] in ('"', "'", "`"):
            name, i = _read_string(text, i)
        else:
            m = _LABEL_NAME.match(text, i)
            if not m:
                raise ValueError(f"expected a label name at {text[i : i + 20]!r}")
            name, i = m.group(), m.end()
        while text[i : i + 1] in (" ", "\t"):
            i += 1
        if text[i : i + 1] != "=":  # a bare quoted name is the metric name
            pairs["__name__"] = name
            continue
        i += 1
        while text[i : i + 1] in (" ", "\t"):
            i += 1
        if text[i : i + 1] not in ('"', "'", "`"):
            raise ValueError(f"expected a quoted label value for {name!r}")
        value, i = _read_string(text, i)
        if name in pairs:
            raise ValueError(f"duplicate label {name!r}")
        pairs[name] = value


def _expand(item: str) -> list[SeriesValue]:
    m = _ITEM.match(item)
    if m is None:
        raise ValueError(f"invalid series value {item!r}")
    if m.group("blank"):
        return [SeriesValue(omitted=True)] * (int(m.group("bn")) if m.group("bn") else 1)
    if m.group("stale"):
        return [SeriesValue(STALE_NAN)]
    a = float(m.group("a"))
    n = m.group("n")
    if m.group("op"):
        if n is None:
            raise ValueError(f"invalid series value {item!r}: a step needs x<count>")
        step = float(m.group("b")) * (1 if m.group("op") == "+" else -1)
        out = [SeriesValue(a)]
        cur = a
        for _ in range(int(n)):  # cumulative, as Prometheus' parser adds the step each time
            cur += step
            out.append(SeriesValue(cur))
        return out
    return [SeriesValue(a)] * (int(n) + 1 if n is not None else 1)


def parse_series(text: str) -> Series:
    """One series description line: labels then whitespace-separated values."""
    pairs, i = _parse_labels(text.strip())
    rest = text.strip()[i:]
    labels: Labels = tuple(sorted(pairs.items()))
    if "{{" in rest:
        return Series(labels, [], histogram=True)
    values: list[SeriesValue] = []
    for item in rest.split():
        values.extend(_expand(item))
    return Series(labels, values)


# --- commands --------------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    out = []
    for raw in text.split("\n"):
        s = raw.strip()
        out.append("" if s.startswith("#") else s)
    return out


def _parse_load(lines: list[str], i: int) -> tuple[int, Load]:
    m = _LOAD.match(lines[i])
    if m is None:
        raise TestFileError(i + 1, "invalid load command. (load[_with_nhcb] <step:duration>)")
    try:
        interval = parse_duration(m.group(2))
    except ValueError as exc:
        raise TestFileError(i + 1, f"invalid step definition {m.group(2)!r}: {exc}") from None
    load = Load(i + 1, interval, m.group(1) or "", [])
    by_labels: dict[Labels, int] = {}
    while i + 1 < len(lines) and lines[i + 1]:
        i += 1
        line = lines[i]
        head = _SPACE.split(line, 1)[0]
        if head.endswith("@st"):
            load.start_timestamps = True
            continue
        try:
            series = parse_series(line)
        except ValueError as exc:
            raise TestFileError(i + 1, str(exc)) from None
        if series.labels in by_labels:  # a repeated series replaces the earlier line
            load.series[by_labels[series.labels]] = series
        else:
            by_labels[series.labels] = len(load.series)
            load.series.append(series)
    return i, load


def _time_ms(text: str) -> int:
    return parse_duration(text.strip())


def _parse_eval(lines: list[str], i: int) -> tuple[int, Eval]:
    line = lines[i]
    inst = _EVAL_INSTANT.match(line)
    rng = _EVAL_RANGE.match(line)
    if inst is None and rng is None:
        raise TestFileError(i + 1, f"invalid evaluation command: {line!r}")
    try:
        if inst is not None:
            ev = Eval(
                i + 1, line, inst.group(3), False, _time_ms(inst.group(2) or ""), None, 0, inst.group(1) or ""
            )
        else:
            assert rng is not None
            start, end, step = (_time_ms(rng.group(k)) for k in (2, 3, 4))
            if end < start:
                raise ValueError("end timestamp is before start timestamp")
            ev = Eval(i + 1, line, rng.group(5), True, start, end, step, rng.group(1) or "")
    except ValueError as exc:
        raise TestFileError(i + 1, f"invalid timestamp definition: {exc}") from None
    pos = 1
    while i + 1 < len(lines) and lines[i + 1]:
        i += 1
        d = lines[i]
        try:
            if ev.is_fail and d.startswith("expected_fail_message"):
                ev.fail_message = d[len("expected_fail_message") :].strip()
                break
            if ev.is_fail and d.startswith("expected_fail_regexp"):
                ev.fail_regexp = re.compile(d[len("expected_fail_regexp") :].strip())
                break
            if d.startswith("expect range vector"):
                m = _EXPECT_RANGE.match(d)
                if m is None:
                    raise ValueError(f"invalid range vector definition {d!r}")
                ev.start_ms, ev.end_ms, ev.step_ms = (_time_ms(m.group(k)) for k in (1, 2, 3))
                ev.expect_range_vector = True
                ev.exclude_from_range = True
                continue
            if d.startswith("expect string"):
                body = d[len("expect string ") :] if d.startswith("expect string ") else ""
                if not body or body[0] not in ('"', "'", "`"):
                    raise ValueError(
                        "expected string literal not valid - a quoted string literal is required"
                    )
                value, end = _read_string(body, 0)
                if end != len(body):
                    raise ValueError(
                        "expected string literal not valid - check that the string is correctly quoted"
                    )
                ev.expect_string = value
                ev.exclude_from_range = True
                continue
            if d.split(" ")[0] == "expect":
                m = _EXPECT.match(d)
                if m is None:
                    raise ValueError(
                        "invalid expect statement, must match `expect <type> <match_type>: <string>`"
                    )
                kind, how, body = m.group(1), m.group(2), m.group(3)
                if how == "msg":
                    ev.expects.append(Expect(kind, message=body.strip()))
                elif how == "regex":
                    ev.expects.append(Expect(kind, regex=re.compile(body.strip())))
                else:
                    ev.expects.append(Expect(kind, regex=_MATCH_ANY))
                for a, b in (("info", "no_info"), ("warn", "no_warn")):
                    if ev.of(a) and ev.of(b):
                        raise ValueError(f"invalid expect lines, {a} and {b} cannot be used together")
                if len(ev.of("fail")) > 1:
                    raise ValueError("invalid expect lines, multiple expect fail lines are not allowed")
                continue
            try:
                ev.expect_scalar = parse_number(d)
                break
            except ValueError:
                pass
            series = parse_series(d)
            if series.histogram:
                ev.histogram_expected = True
            if len(series.values) > 1 and not ev.is_range and not ev.expect_range_vector:
                raise ValueError("expecting multiple values in instant evaluation not allowed")
            ev.expected[series.labels] = (pos, series.values)
            pos += 1
        except (ValueError, re.error) as exc:
            ev.error = f"line {i + 1}: {exc}"
            while i + 1 < len(lines) and lines[i + 1]:
                i += 1
            break
    return i, ev


def parse_file(text: str) -> list[Command]:
    """Every command of a test file, in order. Raises TestFileError on a line Prometheus'
    parser rejects outside an eval (an eval's own malformed lines mark only that eval)."""
    lines = _lines(text)
    cmds: list[Command] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line:
            word = _SPACE.split(line, 1)[0].lower()
            if word == "clear":
                cmds.append(Clear(i + 1))
            elif word.startswith("load"):
                i, load = _parse_load(lines, i)
                cmds.append(load)
            elif word.startswith("eval"):
                i, ev = _parse_eval(lines, i)
                cmds.append(ev)
            else:
                raise TestFileError(i + 1, f"invalid command {line!r}")
        i += 1
    return cmds
