"""Query parameters: every time and duration fits int64 nanoseconds or is a ParamError (400)."""

from __future__ import annotations

import pytest

from heron.api.params import ParamError, parse_duration_param_ns, parse_step_ns, parse_time_ns
from heron.api.querying import query_range_params

S = 1_000_000_000


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-99999999999999999999", '"start": the time is out of range'),
        ("9223372036854775808", '"start": the time is out of range'),  # int64 max + 1
        ("9" * 400, '"start": cannot parse "' + "9" * 40 + '..." as a timestamp'),
        ("100000000000000000000.5", '"start": the time is out of range'),
        ("9999-12-31T23:59:59Z", '"start": the time is out of range'),
    ],
)
def test_times_outside_int64_are_param_errors(value: str, message: str) -> None:
    with pytest.raises(ParamError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_time_ns(value, 0, "start")


def test_int64_edges_parse_and_one_past_them_is_refused() -> None:
    assert parse_time_ns("9223372036854775807", 0, "end") == 2**63 - 1
    assert parse_time_ns("-9223372036854775808", 0, "end") == -(2**63)
    assert parse_time_ns("2262-04-11T23:47:16Z", 0, "end") == 9223372036 * S
    for past in ("9223372036854775808", "-9223372036854775809", "2262-04-11T23:47:17Z"):
        with pytest.raises(ParamError):
            parse_time_ns(past, 0, "end")


@pytest.mark.parametrize("value", ["1e300", "9" * 400 + "h", "-1e300", "2562048h"])
def test_durations_outside_int64_are_param_errors(value: str) -> None:
    with pytest.raises(ParamError, match='invalid parameter "since": cannot parse'):
        parse_duration_param_ns(value, "since")


def test_since_reaching_before_int64_is_a_param_error() -> None:
    params = {"end": str(-(9 * 10**18)), "since": "1000000000"}
    with pytest.raises(ParamError, match='"start": the time is out of range'):
        query_range_params(params, 3600 * S)


def test_step_past_eleven_thousand_points_is_refused_with_lokis_message() -> None:
    assert parse_step_ns("1s", 0, 11_000 * S) == S
    with pytest.raises(ParamError) as err:
        parse_step_ns("1s", 0, 11_001 * S)
    assert str(err.value) == (
        "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query "
        "resolution (?step=XX)"
    )
