"""Prometheus' parameter parsing and JSON value formatting, against values Prometheus' own code
gives (`web/api/v1/api.go` parseTime/parseDuration/parseLimitParam, Go's FormatFloat)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from heron.api.prom_meta import unescape_label_name
from heron.api.prom_params import (
    MAX_MS,
    MIN_MS,
    PromParamError,
    parse_duration_ns,
    parse_limit,
    parse_time_ms,
)
from heron.api.prom_tsdb import config_yaml
from heron.api.promquerying import format_ts, format_value, render_prom_result
from heron.promconfig import BasicAuth, KubernetesSDConfig, PromConfig, ScrapeConfig, StaticConfig
from heron.promql.result import QueryResult, ResultSeries
from heron.promql.syntax.ast import ValueType


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1700000000", 1_700_000_000_000),
        ("1700000000.123", 1_700_000_000_123),
        ("1700000000.1239", 1_700_000_000_124),  # the fraction rounds to milliseconds
        ("-1.5", -1500),
        ("1e9", 1_000_000_000_000),
        ("2023-11-14T22:13:20Z", 1_700_000_000_000),
        ("2023-11-14T22:13:20.5Z", 1_700_000_000_500),
        ("2023-11-14T23:13:20.123456789+01:00", 1_700_000_000_123),
    ],
)
def test_times_are_float_seconds_or_rfc3339(text: str, ms: int) -> None:
    assert parse_time_ms(text) == ms


@pytest.mark.parametrize(
    "text", ["", "abc", "NaN", "Inf", "2023-11-14", "2023-11-14 22:13:20Z", " 1", "1_000"]
)
def test_bad_times_are_refused_in_prometheus_words(text: str) -> None:
    with pytest.raises(ValueError, match=f'cannot parse "{text}" to a valid timestamp'):
        parse_time_ms(text)


def test_times_beyond_int64_nanoseconds_are_refused_or_clamped() -> None:
    with pytest.raises(ValueError, match="out of range"):
        parse_time_ms("1e300")
    assert parse_time_ms("1e300", clamp=True) == MAX_MS
    assert parse_time_ms("-1e300", clamp=True) == MIN_MS
    assert parse_time_ms("292277026596-12-04T15:30:07.999999999Z", clamp=True) == MAX_MS
    with pytest.raises(ValueError):
        parse_time_ms("9" * 1000)


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("15", 15_000_000_000),
        ("0.5", 500_000_000),
        ("5m", 300_000_000_000),
        ("1h30m", 5_400_000_000_000),
        ("100ms", 100_000_000),
        ("1d", 86_400_000_000_000),
        ("0", 0),
        ("-3", -3_000_000_000),
    ],
)
def test_durations_are_float_seconds_or_prometheus_durations(text: str, ns: int) -> None:
    assert parse_duration_ns(text) == ns


def test_bad_durations_are_refused_in_prometheus_words() -> None:
    for text in ("", "5 m", "1.5h", "m5", "NaN"):
        with pytest.raises(ValueError, match="to a valid duration"):
            parse_duration_ns(text)
    with pytest.raises(ValueError, match="It overflows int64"):
        parse_duration_ns("1e300")


def test_limit_is_zero_when_absent_and_never_negative() -> None:
    assert parse_limit({}) == 0
    assert parse_limit({"limit": "25"}) == 25
    with pytest.raises(PromParamError, match='invalid parameter "limit": limit must be non-negative'):
        parse_limit({"limit": "-1"})
    with pytest.raises(PromParamError, match='strconv.Atoi: parsing "x": invalid syntax'):
        parse_limit({"limit": "x"})


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (0.1, "0.1"),
        (-0.0, "-0"),
        (1e16, "10000000000000000"),
        (1.5e-7, "0.00000015"),
        (123456789.125, "123456789.125"),
        (1e21, "1000000000000000000000"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
        (2.0**-1074, "0." + "0" * 323 + "5"),
    ],
)
def test_values_are_formatted_as_gos_formatfloat_f_minus_one(value: float, text: str) -> None:
    assert format_value(value) == text


def test_timestamps_are_seconds_with_up_to_three_decimals() -> None:
    assert format_ts(1_700_000_000_000) == 1_700_000_000
    assert isinstance(format_ts(1_700_000_000_000), int)
    assert format_ts(1_700_000_000_120) == 1_700_000_000.12
    assert format_ts(-1500) == -1.5


def _series(labels: tuple[tuple[str, str], ...], ts: list[int], vals: list[float]) -> ResultSeries:
    return ResultSeries(labels, np.array(ts, dtype=np.int64), np.array(vals))


def test_results_take_prometheus_shapes_and_limit_truncates() -> None:
    a = _series((("__name__", "up"), ("job", "a")), [1000], [1.0])
    b = _series((("__name__", "up"), ("job", "b")), [1000], [0.0])
    data, cut = render_prom_result(QueryResult(ValueType.VECTOR, [a, b]), instant=True, limit=1)
    assert cut and data == {"resultType": "vector", "result": [{"metric": dict(a.labels), "value": [1, "1"]}]}
    matrix = QueryResult(ValueType.MATRIX, [_series((), [0, 1500], [1.0, math.nan])])
    data, cut = render_prom_result(matrix, instant=False)
    assert not cut and data["result"] == [{"metric": {}, "values": [[0, "1"], [1.5, "NaN"]]}]
    data, _ = render_prom_result(QueryResult(ValueType.SCALAR, scalar=(2000, 0.25)), instant=True, limit=1)
    assert data == {"resultType": "scalar", "result": [2, "0.25"]}
    data, _ = render_prom_result(QueryResult(ValueType.STRING, string=(2000, "hi")), instant=True)
    assert data == {"resultType": "string", "result": [2, "hi"]}


def test_escaped_label_names_are_unescaped_as_prometheus_does() -> None:
    assert unescape_label_name("job") == "job"
    assert unescape_label_name("U__my_2e_label") == "my.label"
    assert unescape_label_name("U__a__b") == "a_b"
    assert unescape_label_name("U__bad_zz_") == "U__bad_zz_"  # not validly escaped: kept


def test_status_config_writes_the_prometheus_sections_with_secrets_hidden() -> None:
    config = PromConfig(
        scrape_configs=(
            ScrapeConfig(
                "node",
                scrape_interval=15.0,
                static_configs=(StaticConfig(("a:9100",), {"env": "dev"}),),
                basic_auth=BasicAuth("user", "hunter2"),
                kubernetes_sd_configs=(KubernetesSDConfig(role="pod", namespaces_names=("shop",)),),
            ),
        )
    )
    text = config_yaml(config)
    assert "hunter2" not in text and "password: <secret>" in text
    assert "job_name: node" in text and "scrape_interval: 15s" in text and "- a:9100" in text
    assert "namespaces:" in text and "- shop" in text
    assert config_yaml(PromConfig()).startswith("global:\n  scrape_interval: 1m\n")
