"""Hypothesis fuzzing of both grammars, and agreement with prometheus_client's text parser.

Three properties:
- round trip: metric families generated here, rendered by the renderer below (in either
  format, text with random legal spacing), parse back to exactly the samples and metadata that
  went in;
- bad input: any byte string, and rendered bodies with random edits, either raise
  ExpositionError or parse; when the fast path accepts a body, the exact parser gives the same
  result; nothing else is raised;
- prometheus_client: for generated text bodies, the set of samples equals what
  `prometheus_client.parser.text_string_to_metric_families` reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from exposition_table import CONTENT_TYPES, metadata_rows, rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from heron.collect.metrics import exposition_fast
from heron.collect.metrics.exposition import NO_TIMESTAMP, ExpositionError, parse_exposition, series_labels
from heron.collect.metrics.exposition_text import parse_text
from heron.collect.metrics.openmetrics import parse_openmetrics

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Sample-name suffixes per family type, as exporters write them.
TEXT_SUFFIXES = {
    "counter": ["", "_total"],
    "gauge": [""],
    "histogram": ["_bucket", "_sum", "_count"],
    "summary": ["", "_sum", "_count"],
    "untyped": [""],
}
OM_SUFFIXES = {
    "counter": ["_total", "_created"],
    "gauge": [""],
    "histogram": ["_bucket", "_sum", "_count", "_created"],
    "gaugehistogram": ["_bucket", "_gsum", "_gcount"],
    "summary": ["", "_sum", "_count", "_created"],
    "info": ["_info"],
    "stateset": [""],
    "unknown": [""],
}

name_st = st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,12}", fullmatch=True)
label_name_st = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,8}", fullmatch=True).filter(lambda n: n != "__name__")
text_st = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs", "Z", "Cc")), max_size=12),  # fast-path shaped
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
)
value_st = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**12), max_value=10**12).map(float),
    st.sampled_from([0.0, 1.0, 0.5, 1e-9, 2.5e15]),
)


@dataclass
class Sample:
    name: str
    labels: list[tuple[str, str]]
    value: float
    ts_ms: int | None


@dataclass
class Family:
    name: str
    type: str | None
    help: str | None
    unit: str | None
    samples: list[Sample]


@st.composite
def families(draw: st.DrawFn, om: bool, pclient: bool = False) -> list[Family]:
    suffixes = OM_SUFFIXES if om else TEXT_SUFFIXES
    if pclient:  # prometheus_client renames counter samples without _total; exporters add it
        suffixes = {**suffixes, "counter": ["_total"]}
    names = draw(st.lists(name_st, min_size=0, max_size=5, unique=True))
    out = []
    for name in names:
        ftype = draw(st.sampled_from(sorted(suffixes)))
        typed = draw(st.booleans())
        unit = None
        if om and draw(st.booleans()):
            unit = draw(st.sampled_from(["", "seconds", "bytes"]))
            if unit:
                name = f"{name}_{unit}"
        samples = []
        for _ in range(draw(st.integers(0, 4))):
            lnames = draw(st.lists(label_name_st, max_size=3, unique=True))
            if pclient:  # prometheus_client refuses reserved `__` label names; Prometheus does not
                lnames = [n for n in lnames if not n.startswith("__")]
            labels = [(n, draw(text_st)) for n in lnames]
            ts = None
            if draw(st.booleans()):
                ts = draw(st.integers(min_value=-(10**12) if om else 0, max_value=10**13))
            samples.append(Sample(name + draw(st.sampled_from(suffixes[ftype])), labels, draw(value_st), ts))
        out.append(
            Family(
                name=name,
                type=ftype if typed else None,
                help=draw(st.one_of(st.none(), text_st)),
                unit=unit,
                samples=samples,
            )
        )
    return out


def _escape_value(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _render_value(v: float, style: int) -> str:
    if math.isnan(v):
        return ["NaN", "nan", "NaN"][style % 3]
    if math.isinf(v):
        return ("+Inf" if v > 0 else "-Inf") if style % 2 else ("inf" if v > 0 else "-inf")
    if style % 3 == 1 and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def _om_seconds(ms: int) -> str:
    sign = "-" if ms < 0 else ""
    a = abs(ms)
    return f"{sign}{a // 1000}.{a % 1000:03d}"


@st.composite
def rendered(
    draw: st.DrawFn, om: bool, pclient: bool = False
) -> tuple[bytes, list[tuple], dict[str, tuple[str, str, str]]]:
    """A body and the (labels, value, ts) rows and metadata it must parse to."""
    fams = draw(families(om, pclient))
    lines: list[str] = []
    expected: list[tuple] = []
    meta: dict[str, tuple[str, str, str]] = {}
    spaced = not om and draw(st.booleans())  # legal but unusual text spacing: the exact path

    def sp() -> str:
        return draw(st.sampled_from(["", " ", "\t", "  "])) if spaced else ""

    def gap() -> str:
        return draw(st.sampled_from([" ", "\t", " \t "])) if spaced else " "

    for fam in fams:
        if fam.help is not None:
            h = fam.help.replace("\\", "\\\\").replace("\n", "\\n")
            if om:
                h = h.replace('"', '\\"')
            lines.append(f"# HELP {fam.name} {h}")
        if fam.type is not None:
            lines.append(f"# TYPE {fam.name} {fam.type}")
        if fam.unit is not None:
            lines.append(f"# UNIT {fam.name} {fam.unit}")
        if fam.help is not None or fam.type is not None or fam.unit is not None:
            t = fam.type or "unknown"
            meta[fam.name] = ("unknown" if t == "untyped" else t, fam.help or "", fam.unit or "")
        if not spaced and draw(st.booleans()) and not om:
            lines.append("# a plain comment")
        for s in fam.samples:
            line = s.name
            if s.labels or draw(st.booleans()):
                parts = [f'{sp()}{n}{sp()}={sp()}"{_escape_value(v)}"{sp()}' for n, v in s.labels]
                trailing = "," if (spaced and s.labels and draw(st.booleans())) else ""
                line += sp() + "{" + ",".join(parts) + trailing + "}"
            vtext = _render_value(s.value, draw(st.integers(0, 5)))
            line += gap() + vtext
            ts = None
            if s.ts_ms is not None:
                if om:
                    stext = _om_seconds(s.ts_ms)
                    line += " " + stext
                    ts = int(float(stext) * 1000.0)
                else:
                    line += gap() + str(s.ts_ms)
                    ts = s.ts_ms
            if om and s.name.endswith(("_total", "_bucket")) and draw(st.booleans()):
                ex_labels = ",".join(
                    f'{n}="{_escape_value(v)}"'
                    for n, v in draw(
                        st.lists(st.tuples(label_name_st, text_st), max_size=2, unique_by=lambda t: t[0])
                    )
                )
                line += f" # {{{ex_labels}}} {_render_value(draw(value_st), 0)}"
                if draw(st.booleans()):
                    line += " " + _om_seconds(draw(st.integers(-(10**12), 10**13)))
            line += sp() if spaced else ""
            lines.append(line)
            labels = tuple(sorted([("__name__", s.name), *[(n, v) for n, v in s.labels if v]]))
            val = float(vtext)
            expected.append((labels, "NaN" if math.isnan(val) else val, ts))
    if om:
        lines.append("# EOF")
    body = "\n".join(lines) + ("\n" if lines and draw(st.booleans()) else "")
    return body.encode(), expected, meta


def _exact_outcome(body: bytes, om: bool) -> tuple | str:
    """The exact parser's result as comparable rows, or "error"."""
    try:
        series, values, ts, meta = parse_openmetrics(body) if om else parse_text(body)
    except ExpositionError:
        return "error"
    return (series, [("NaN" if v != v else v) for v in values], ts, meta)


def _check_body(body: bytes, om: bool) -> None:
    exact = _exact_outcome(body, om)
    fast = exposition_fast.parse_fast(body, om)
    if fast is not None:
        assert exact != "error", body
        assert isinstance(exact, tuple)
        assert fast.series == exact[0]
        assert [("NaN" if v != v else v) for v in fast.values.tolist()] == exact[1]
        assert [None if t == NO_TIMESTAMP else t for t in fast.timestamps.tolist()] == exact[2]
        assert fast.metadata == exact[3]
    ctype = CONTENT_TYPES["openmetrics" if om else "text"]
    try:
        exp = parse_exposition(body, ctype)
    except ExpositionError as e:
        assert exact == "error"
        assert e.line >= 1 and str(e).startswith(f"line {e.line}: ")
        return
    assert exact != "error"
    assert len(exp.series) == len(exp.values) == len(exp.timestamps)
    for s in exp.series:
        labels = series_labels(s)
        assert dict(labels)["__name__"]
        assert list(labels) == sorted(labels)


@SETTINGS
@given(rendered(om=False))
def test_text_round_trip(case: tuple) -> None:
    body, expected, meta = case
    exp = parse_exposition(body, CONTENT_TYPES["text"])
    assert not exp.openmetrics
    assert rows(exp) == expected
    assert metadata_rows(exp) == meta
    _check_body(body, False)


@SETTINGS
@given(rendered(om=True))
def test_openmetrics_round_trip(case: tuple) -> None:
    body, expected, meta = case
    exp = parse_exposition(body, CONTENT_TYPES["openmetrics"])
    assert exp.openmetrics
    assert rows(exp) == expected
    assert metadata_rows(exp) == meta
    _check_body(body, True)


@SETTINGS
@given(st.binary(max_size=200), st.booleans())
def test_any_bytes(body: bytes, om: bool) -> None:
    _check_body(body, om)


EDIT_BYTES = [b" ", b"\t", b"\n", b'"', b"\\", b"{", b"}", b",", b"=", b"#", b"\0", b"\xff", b"e", b"1"]
EDIT_BYTES += [b".", b"-", b"+", b"_", b"a", b"\r", b"# EOF\n", b"# HELP ", b"# TYPE x counter\n", b"Inf"]


@st.composite
def edited(draw: st.DrawFn) -> tuple[bytes, bool]:
    om = draw(st.booleans())
    body = draw(rendered(om))[0]
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(body)))
        op = draw(st.sampled_from(["insert", "replace", "delete", "copy line"]))
        ins = draw(st.sampled_from(EDIT_BYTES))
        if op == "copy line":  # repeated HELP/TYPE lines and series, edited or not
            lines = body.split(b"\n")
            line = lines[draw(st.integers(0, len(lines) - 1))]
            lines.insert(draw(st.integers(0, len(lines))), line)
            body = b"\n".join(lines)
        elif op == "insert":
            body = body[:pos] + ins + body[pos:]
        elif op == "replace":
            body = body[:pos] + ins + body[pos + 1 :]
        else:
            body = body[:pos] + body[pos + draw(st.integers(1, 5)) :]
    return body, om


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edited())
def test_edited_bodies(case: tuple[bytes, bool]) -> None:
    body, om = case
    _check_body(body, om)
    _check_body(body, not om)


@SETTINGS
@given(rendered(om=False, pclient=True))
def test_agrees_with_prometheus_client(case: tuple) -> None:
    body = case[0]
    exp = parse_exposition(body, None)
    ours = sorted(((labels, repr(v), t) for labels, v, t in rows(exp)), key=_order)
    theirs = []
    for fam in text_string_to_metric_families(body.decode()):
        for s in fam.samples:
            labels = tuple(sorted([("__name__", s.name), *[(k, v) for k, v in s.labels.items() if v]]))
            ts = None if s.timestamp is None else int(round(float(s.timestamp) * 1000))
            v = "NaN" if math.isnan(s.value) else float(s.value)
            theirs.append((labels, repr(v), ts))
    assert ours == sorted(theirs, key=_order)


def _order(row: tuple) -> tuple:
    return (row[0], row[1], row[2] is None, row[2] or 0)


def test_generated_bodies_take_the_fast_path_when_plain() -> None:
    """A sanity check on the generator: plain rendered bodies are mostly fast-path bodies, so
    the agreement tests above exercise it."""
    body = b'# HELP a x\n# TYPE a gauge\na{l="v"} 1.5\na{l="w"} NaN\n'
    assert exposition_fast.parse_fast(body, False) is not None
    assert np.isnan(parse_exposition(body, None).values[1])


ODD_LINES = [
    b'info{version="#1 SMP PREEMPT_DYNAMIC",name="Debian GNU/Linux"} 1\n',
    b'info{a="x\ty"} 1 1000\n',
    b'spaced {a="b"} 2\n',
    b"spaced  3\n",
    b'trail{a="b"} 4 \n',
    b'  lead{a="b"} 5\n',
    b'info{a="p q",} 6\n',
    b'bad{a="p q"} x\n',
    b'esc{a="p \\" q"} 7\n',
]


@SETTINGS
@given(
    st.integers(10, 40),
    st.lists(st.tuples(st.integers(0, 40), st.sampled_from(ODD_LINES)), min_size=1, max_size=4),
    st.booleans(),
)
def test_odd_lines_among_plain_ones(n: int, odd: list[tuple[int, bytes]], om: bool) -> None:
    """Plain bodies with a few lines the whitespace tokenising cannot take (spaces in label
    values, unusual spacing, errors): the fast path must agree with the exact parser."""
    lines = [b'plain{i="%d"} %d\n' % (i, i) for i in range(n)]
    for pos, line in odd:
        lines.insert(min(pos, len(lines)), line)
    body = b"".join(lines) + (b"# EOF\n" if om else b"")
    _check_body(body, om)


def test_odd_lines_take_the_fast_path() -> None:
    lines = [b'plain{i="%d"} %d\n' % (i, i) for i in range(30)]
    lines.insert(7, ODD_LINES[0])
    body = b"".join(lines)
    fast = exposition_fast.parse_fast(body, False)
    assert fast is not None
    assert fast.series[7] == b'info{version="#1 SMP PREEMPT_DYNAMIC",name="Debian GNU/Linux"}'
    assert fast.series == parse_text(body)[0]


meta_line_st = st.tuples(
    st.sampled_from([b"HELP", b"TYPE", b"UNIT"]),
    st.sampled_from([b"a", b"b", b"a_seconds"]),
    st.one_of(
        st.sampled_from([b"counter", b"gauge", b"untyped", b"info", b"unknown", b"cter", b"seconds", b""]),
        st.binary(max_size=6),
    ),
)


@SETTINGS
@given(st.lists(meta_line_st, max_size=8), st.booleans())
def test_repeated_metadata_lines(lines: list[tuple[bytes, bytes, bytes]], om: bool) -> None:
    """HELP/TYPE/UNIT lines for a few names, repeated, some invalid: every line counts, not only
    each name's last (Prometheus fails on any bad one)."""
    body = b"".join(b"# %s %s %s\n" % line for line in lines) + b"a 1\n" + (b"# EOF\n" if om else b"")
    _check_body(body, om)
