"""Number conversions as Loki makes them: Go's strconv.ParseFloat, with its error wording in
`__error_details__`, for unwrap and numeric label filters (Loki's metrics_extraction.go and
label_filter.go)."""

from __future__ import annotations

import math
import time

import pytest

from heron.api.render import render_query_result
from heron.logql.engine import Engine
from heron.logql.pipeline import _unwrap_value
from heron.logql.syntax import ParseError, Unwrap, parse_expr
from heron.logql.syntax.units import GoRangeError, parse_go_float
from heron.model import labels_from
from heron.storage import Database, LogBatch, StorageOptions

S = 1_000_000_000
T = (time.time_ns() // S - 60) * S


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1.0),
        ("-2.5", -2.5),
        ("+.5", 0.5),
        ("5.", 5.0),
        ("1e3", 1000.0),
        ("0x1p-2", 0.25),
        ("0x_1p4", 16.0),
        ("Inf", math.inf),
        ("-infinity", -math.inf),
        ("1e-400", 0.0),  # underflow is no error in Go
    ],
)
def test_go_float_accepts(text: str, value: float) -> None:
    assert parse_go_float(text) == value


def test_go_float_nan() -> None:
    assert math.isnan(parse_go_float("NaN"))


@pytest.mark.parametrize("text", ["", "x", " 1", "1 ", "1_000", "+nan", "١٢", "1e", "0x1", "--1", "1.2.3"])
def test_go_float_refuses_with_go_wording(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_go_float(text)
    quoted = '"' + text + '"' if text.isascii() else None
    if quoted is not None:
        assert str(info.value) == f"strconv.ParseFloat: parsing {quoted}: invalid syntax"
    assert not isinstance(info.value, GoRangeError)


@pytest.mark.parametrize(
    ("text", "inf"), [("1e400", math.inf), ("-1e400", -math.inf), ("0x1p5000", math.inf)]
)
def test_go_float_out_of_range(text: str, inf: float) -> None:
    with pytest.raises(GoRangeError) as info:
        parse_go_float(text)
    assert str(info.value) == f'strconv.ParseFloat: parsing "{text}": value out of range'
    assert info.value.value == inf


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    db = Database.open(str(tmp_path_factory.mktemp("num") / "d"), StorageOptions(), background=False)
    lines = [b"n=1.5", b"n=x", b"n=1e400", b"n=", b"other=1", b"n=1_0"]
    db.append(logs=[LogBatch(labels_from({"job": "n"}), [T + i for i in range(len(lines))], lines)])
    yield Engine(db)
    db.close()


def _streams(engine: Engine, q: str) -> list[dict]:
    res = engine.query_range(q, T - S, T + S, S, limit=20)
    return render_query_result(res)["data"]["result"]


def test_numeric_filter_marks_bad_values_and_drops_missing_labels(engine) -> None:
    got = {v[1]: s["stream"] for s in _streams(engine, '{job="n"} | logfmt | n > 1') for v in s["values"]}
    # `other=1` has no `n`, and logfmt leaves `n=` out: a missing label drops the line
    assert "other=1" not in got
    assert got["n=1.5"].get("__error__") is None
    assert got["n=x"]["__error_details__"] == 'strconv.ParseFloat: parsing "x": invalid syntax'
    assert got["n=1_0"]["__error_details__"] == 'strconv.ParseFloat: parsing "1_0": invalid syntax'
    assert got["n=1e400"]["__error_details__"] == 'strconv.ParseFloat: parsing "1e400": value out of range'
    assert "n=" not in got  # logfmt leaves out empty values unless --keep-empty
    # a missing label is dropped whatever the operator, != included
    assert "other=1" not in [
        v[1] for s in _streams(engine, '{job="n"} | logfmt | n != 1') for v in s["values"]
    ]


def test_numeric_filter_keeps_an_earlier_error(engine) -> None:
    [st] = _streams(engine, '{job="n"} | json | logfmt | n > 1 | line_format "{{__line__}}" |= "n=x"')
    assert st["stream"]["__error__"] == "JSONParserErr"


def test_unwrap_skips_missing_and_empty_labels_and_keeps_go_values(engine) -> None:
    q = 'sum(sum_over_time({job="n"} != "x" != "e400" != "_" | logfmt --keep-empty | unwrap n [1m]))'
    res = engine.query_instant(q, T + 10)
    assert [s.value for s in res.vector] == [1.5]  # n= and other=1 are no samples, no errors
    # the value of a sample that failed is Go's (0, or +-Inf out of range), with Go's message
    for raw, value in (("x", 0.0), ("1e400", math.inf)):
        lbs = {"n": raw}
        assert _unwrap_value(Unwrap("n"), lbs) == value
        assert lbs["__error__"] == "SampleExtractionErr"
        assert lbs["__error_details__"].startswith(f'strconv.ParseFloat: parsing "{raw}"')


@pytest.mark.parametrize(
    ("literal", "error"),
    [
        ("0x10", 'strconv.ParseFloat: parsing "0x10": invalid syntax'),  # Loki's ParseTestCases
        ("1e400", 'strconv.ParseFloat: parsing "1e400": value out of range'),
    ],
)
def test_numeric_filter_literal_is_checked_at_parse_time(literal: str, error: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_expr(f'{{app="foo"}} | logfmt | status_code > {literal}')
    assert str(info.value) == f"parse error : unable to parse literal as a float: {error}"
