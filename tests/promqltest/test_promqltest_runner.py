"""The conformance runner itself: the series notation, the test-file commands, Prometheus'
float comparison, and that a wrong expectation fails while a right one passes (the runner is
only worth its table if it can fail)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from heron.model import STALE_NAN, Matcher, MatchOp, is_stale_nan
from promqltest.harness import almost_equal, run_file
from promqltest.memdb import MemDB
from promqltest.skips import query_skip_reason
from promqltest.testfile import (
    Eval,
    Load,
    TestFileError,
    parse_duration,
    parse_file,
    parse_number,
    parse_series,
)


def _values(text: str) -> list[float | None]:
    return [None if v.omitted else v.value for v in parse_series(text).values]


def test_series_notation_expands_as_prometheus_does() -> None:
    assert _values("m 1+2x3") == [1, 3, 5, 7]
    assert _values("m 1-1x2") == [1, 0, -1]
    assert _values("m 5x2") == [5, 5, 5]
    assert _values("m _ _x2 3") == [None, None, None, 3]
    assert _values("m -2+0.5x1 1e3 -1.5E-1") == [-2, -1.5, 1000, -0.15]
    vals = _values("m Inf -Inf NaN stale")
    assert vals[0] == math.inf and vals[1] == -math.inf and math.isnan(vals[2])  # type: ignore[arg-type]
    assert is_stale_nan(vals[3])  # type: ignore[arg-type]
    assert not is_stale_nan(vals[2])  # type: ignore[arg-type]


def test_series_labels_quoting_and_histograms() -> None:
    s = parse_series('{__name__="some metric", a="x\\"y", b=\'c\'} 1')
    assert dict(s.labels) == {"__name__": "some metric", "a": 'x"y', "b": "c"}
    assert dict(parse_series('{"utf8.name", job="j"} 1').labels) == {"__name__": "utf8.name", "job": "j"}
    assert parse_series("h {{schema:0 sum:1 count:1}}x2").histogram
    with pytest.raises(ValueError):
        parse_series("m 1+2")  # a step needs a count


def test_durations_and_numbers() -> None:
    assert parse_duration("1h30m") == 5_400_000
    assert parse_duration("0") == 0
    assert parse_duration("100ms") == 100
    with pytest.raises(ValueError):
        parse_duration("5x")
    assert parse_number("0x10") == 16
    assert parse_number("010") == 8  # Go's base-0 octal
    assert math.isnan(parse_number("NaN"))
    with pytest.raises(ValueError):
        parse_number("1_0")  # Go's ParseFloat refuses what Python's float() takes
    with pytest.raises(ValueError):
        parse_number("foo")


def test_commands_and_expect_lines() -> None:
    cmds = parse_file(
        '# a comment\nload 1m\n  m{a="1"} 1 2\n  m{a="1"} 3\n\n'
        'eval instant at 1m m\n  expect warn msg: PromQL warning: x\n  expect no_info\n  m{a="1"} 3\n\n'
        'eval range from 0 to 2m step 1m m\n  m{a="1"} 1 _ 3\n\n'
        "eval_fail instant at 0 m\n  expected_fail_regexp bad.*\n\n"
        'eval instant at 2m m[2m]\n  expect range vector from 1m to 2m step 1m\n  m{a="1"} 2 3\n\n'
        'eval instant at 0 "s"\n  expect string "s"\n\n'
        "clear\n"
    )
    load = cmds[0]
    assert isinstance(load, Load) and load.interval_ms == 60_000 and len(load.series) == 1  # last line wins
    first, ranged, failing, matrix, string = (c for c in cmds if isinstance(c, Eval))
    assert [e.kind for e in first.expects] == ["warn", "no_info"] and first.expects[0].matches(
        "PromQL warning: x"
    )
    assert ranged.is_range and ranged.end_ms == 120_000 and ranged.step_ms == 60_000
    assert failing.is_fail and failing.fail_regexp is not None
    assert matrix.expect_range_vector and matrix.exclude_from_range and matrix.eval_ms == 120_000
    assert string.expect_string == "s"
    with pytest.raises(TestFileError):
        parse_file("frobnicate 1\n")


def test_almost_equal_is_prometheus_almost_equal() -> None:
    assert almost_equal(1.0, 1.0 + 1e-7)
    assert not almost_equal(1.0, 1.0 + 1e-5)
    assert almost_equal(math.nan, STALE_NAN)
    assert not almost_equal(0.0, 1e-300)  # zero compares absolutely, against the smallest normal
    assert almost_equal(math.inf, math.inf) and not almost_equal(math.inf, -math.inf)


def test_memdb_answers_like_storage() -> None:
    db = MemDB()
    db.add((("__name__", "m"), ("a", "1")), np.array([0, 60_000]), np.array([1.0, STALE_NAN]))
    db.add((("__name__", "m"), ("a", "2")), np.array([30_000]), np.array([2.0]))
    snap = db.snapshot()
    got = snap.samples([Matcher("__name__", MatchOp.EQ, "m")], 0, 59_999)
    assert [dict(lab)["a"] for lab, _, _ in got] == ["1", "2"]
    assert got[0][1].tolist() == [0] and got[0][1].dtype == np.int64
    assert is_stale_nan(snap.samples([Matcher("a", MatchOp.EQ, "1")], 60_000, 60_000)[0][2][0])
    assert snap.samples([Matcher("a", MatchOp.EQ, "2")], 31_000, 90_000) == []


def test_skips_name_experimental_syntax_only() -> None:
    assert query_skip_reason("step()") is not None
    assert query_skip_reason("rate(m[5m] @ end())") is None
    assert query_skip_reason("sum(m) by (job)") is None


def test_runner_passes_right_and_fails_wrong_expectations(tmp_path: Path) -> None:
    path = tmp_path / "sanity.test"
    path.write_text(
        'load 1m\n  foo{a="1"} 1+1x10\n  foo{a="2"} 5 _ stale 7\n  hist {{schema:0 sum:1 count:1}}\n\n'
        # right: instant, within 1e-6, range with a staleness gap, scalar, ordered, string
        'eval instant at 5m foo\n  foo{a="1"} 6\n  foo{a="2"} 7\n\n'
        'eval instant at 5m foo\n  foo{a="1"} 6.000001\n  foo{a="2"} 7\n\n'
        'eval range from 0 to 3m step 1m foo\n  foo{a="1"} 1 2 3 4\n  foo{a="2"} 5 5 _ 7\n\n'
        "eval instant at 1m time()\n  60\n\n"
        'eval_ordered instant at 5m sort_desc(foo)\n  foo{a="2"} 7\n  foo{a="1"} 6\n\n'
        'eval instant at 0 "x"\n  expect string "x"\n\n'
        # wrong: value, missing series, extra series, gap, scalar, order, error message
        'eval instant at 5m foo\n  foo{a="1"} 6.1\n  foo{a="2"} 7\n\n'
        'eval instant at 5m foo\n  foo{a="1"} 6\n\n'
        'eval instant at 5m foo{a="1"}\n  foo{a="1"} 6\n  foo{a="3"} 6\n\n'
        'eval range from 0 to 3m step 1m foo\n  foo{a="1"} 1 2 3 4\n  foo{a="2"} 5 5 5 7\n\n'
        "eval instant at 1m time()\n  61\n\n"
        'eval_ordered instant at 5m sort_desc(foo)\n  foo{a="1"} 6\n  foo{a="2"} 7\n\n'
        "eval_fail instant at 5m foo{\n  expect fail msg: not this message\n\n"
        # skipped: reads the native histogram
        "eval instant at 5m hist\n  hist 1\n"
    )
    report = run_file(path)
    statuses = [o.status for o in report.outcomes]
    assert statuses == ["pass"] * 6 + ["fail"] * 7 + ["skip"], [
        (o.line, o.status, o.detail) for o in report.outcomes
    ]
    assert "native-histogram" in report.outcomes[-1].detail
