"""The exposition parser against the case table (`exposition_cases.yaml`), both paths.

Every case runs through `parse_exposition` and, separately, through the exact token-by-token
parser; the fast path must agree with it wherever it accepts a body.
"""

from __future__ import annotations

import numpy as np
import pytest
from exposition_table import Case, load_cases, metadata_rows, rows

from heron.collect.metrics import exposition_fast
from heron.collect.metrics.exposition import (
    ACCEPT_HEADER,
    NO_TIMESTAMP,
    Exposition,
    ExpositionError,
    is_openmetrics,
    parse_exposition,
    series_labels,
)
from heron.collect.metrics.exposition_text import parse_text
from heron.collect.metrics.openmetrics import parse_openmetrics

CASES = load_cases()


def _exact(case: Case) -> Exposition:
    om = case.format == "openmetrics"
    series, values, ts, meta = parse_openmetrics(case.body) if om else parse_text(case.body)
    return Exposition(
        series=series,
        values=np.array(values, dtype=np.float64),
        timestamps=np.array([NO_TIMESTAMP if t is None else t for t in ts], dtype=np.int64),
        metadata=meta,
        openmetrics=om,
    )


def test_case_names_unique() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    assert len(CASES) > 100


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Case) -> None:
    if case.error is not None:
        with pytest.raises(ExpositionError) as info:
            parse_exposition(case.body, case.content_type)
        assert case.error in str(info.value)
        assert info.value.line == case.line
        assert str(info.value).startswith(f"line {case.line}: ")
        assert exposition_fast.parse_fast(case.body, case.format == "openmetrics") is None
        return
    exp = parse_exposition(case.body, case.content_type)
    assert exp.openmetrics == (case.format == "openmetrics")
    assert rows(exp) == case.samples
    assert metadata_rows(exp) == case.metadata
    assert exp.values.dtype == np.float64 and exp.timestamps.dtype == np.int64
    exact = _exact(case)
    assert exact.series == exp.series
    assert rows(exact) == rows(exp)
    assert metadata_rows(exact) == metadata_rows(exp)


def test_fast_path_taken_for_usual_bodies() -> None:
    """The usual layout must not fall back (this is what the speed target rests on)."""
    text = b'# HELP a_total Requests.\n# TYPE a_total counter\na_total{code="200",path="/x"} 12\nb 1.5e3\n'
    om = (
        b"# HELP a_seconds Time.\n# TYPE a_seconds counter\n# UNIT a_seconds seconds\n"
        b'a_seconds_total{code="200"} 12 1.5\n# EOF\n'
    )
    assert exposition_fast.parse_fast(text, False) is not None
    assert exposition_fast.parse_fast(om, True) is not None
    assert exposition_fast.parse_fast(b"a 1 1000\nb 2 2000\n", False) is not None
    assert exposition_fast.parse_fast(b"a 1 1000\nb 2\n", False) is not None  # cAdvisor mixes
    exemplars = b'h_bucket{le="1"} 3 # {trace_id="a b"} 0.5 1.25\nh_total 1 # {} 2\n# EOF\n'
    assert exposition_fast.parse_fast(exemplars, True) is not None
    # and agrees with the exact parser there
    fast = exposition_fast.parse_fast(text, False)
    assert fast is not None
    assert fast.series == parse_text(text)[0]


def test_known_series_skip_validation_only() -> None:
    body = b'a{x="1"} 1\na{x="2"} 2\n'
    first = parse_exposition(body, None)
    again = parse_exposition(body, None, known=set(first.series))
    assert again.series == first.series
    assert again.values.tolist() == [1.0, 2.0]
    with pytest.raises(ExpositionError):
        parse_exposition(b'a{x="1",x="1"} 1\n', None, known={b'a{x="1"}'})


def test_content_type_choice() -> None:
    assert is_openmetrics("application/openmetrics-text; version=1.0.0; charset=utf-8")
    assert is_openmetrics("Application/OpenMetrics-Text")
    assert is_openmetrics("application/openmetrics-text;version=0.0.1")
    assert not is_openmetrics("application/openmetrics-text; version")  # Go's mime parse fails
    assert not is_openmetrics("text/plain; version=0.0.4")
    assert not is_openmetrics(None)
    assert not is_openmetrics("")
    # a text body under a broken OpenMetrics type parses as text, as in Prometheus
    assert parse_exposition(b"foo 1\n", "application/openmetrics-text; version").openmetrics is False


def test_accept_header_is_prometheus_2_42() -> None:
    assert ACCEPT_HEADER == (
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
        "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    )


def test_error_is_value_error_with_line() -> None:
    with pytest.raises(ValueError, match=r"^line 3: bad float value 'x'$"):
        parse_exposition(b"a 1\nb 2\nc x\n", None)


def test_series_labels() -> None:
    assert series_labels(b'm{b="2",a="1"}') == (("__name__", "m"), ("a", "1"), ("b", "2"))
    assert series_labels(b'm { a = "x\\"y" , }') == (("__name__", "m"), ("a", 'x"y'))
    assert series_labels(b'm{a=""}') == (("__name__", "m"),)
    assert series_labels(b"m") == (("__name__", "m"),)
    with pytest.raises(ValueError):
        series_labels(b"{}")


def test_stale_nan_bits_never_produced() -> None:
    """A body cannot write Prometheus' staleness marker: its NaNs are ordinary NaNs."""
    from heron.model import is_stale_nan

    exp = parse_exposition(b"a NaN\nb nan\n", None)
    assert not any(is_stale_nan(v) for v in exp.values.tolist())
