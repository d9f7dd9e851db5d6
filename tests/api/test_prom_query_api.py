"""Prometheus' query API on a real `heron server` (query workers on, the default) holding
remote-written samples: envelopes, result shapes, parameters, errors and limits as
`web/api/v1/api.go` answers them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from heron.api.promquerying import RESOLUTION_ERROR
from heron.ship.remote_write_encode import V1_CONTENT_TYPE, encode_v1, snappy
from serverproc import ServerProc, start_server

NOW_S = int(time.time()) // 60 * 60 - 60  # a whole minute, so instant times are exact
NOW = NOW_S * 1000
STEP = 15_000
POINTS = 40  # ten minutes of 15 s samples, ending at NOW

UP_A = (("__name__", "up"), ("instance", "a:9100"), ("job", "node"))
UP_B = (("__name__", "up"), ("instance", "b:9100"), ("job", "node"))
REQS = (("__name__", "http_requests_total"), ("code", "200"), ("job", "api"))


def samples() -> dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]:
    times = [NOW - (POINTS - 1 - i) * STEP for i in range(POINTS)]
    return {
        UP_A: [(t, 1.0) for t in times],
        UP_B: [(t, 0.0) for t in times],
        REQS: [(t, float(10 * i)) for i, t in enumerate(times)],
    }


def push(client: httpx.Client, series: dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]) -> None:
    r = client.post(
        "/api/v1/write",
        content=snappy(encode_v1(series)),
        headers={"Content-Type": V1_CONTENT_TYPE, "Content-Encoding": "snappy"},
    )
    assert r.status_code == 204, r.text


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    server = start_server(Path(tmp_path_factory.mktemp("prom")) / "data", "--query-max-samples", "30000")
    with httpx.Client(base_url=server.url, timeout=60) as c:
        push(c, samples())
    yield server
    assert server.stop() == 0, server.log()


@pytest.fixture
def c(prom: ServerProc) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=prom.url, timeout=60) as client:
        yield client


def ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["status"] == "success"
    return body


def err(r: httpx.Response, status: int, kind: str) -> str:
    assert r.status_code == status, r.text[:500]
    body = r.json()
    assert body["status"] == "error" and body["errorType"] == kind, body
    return body["error"]


def test_instant_vector_in_prometheus_shape(c: httpx.Client) -> None:
    body = ok(c.get("/api/v1/query", params={"query": "up", "time": str(NOW_S)}))
    assert "warnings" not in body and "infos" not in body
    data = body["data"]
    assert data["resultType"] == "vector"
    assert data["result"] == [
        {"metric": dict(UP_A), "value": [NOW_S, "1"]},
        {"metric": dict(UP_B), "value": [NOW_S, "0"]},
    ]


def test_instant_query_by_post_form_and_rfc3339_time(c: httpx.Client) -> None:
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW_S))
    body = ok(c.post("/api/v1/query", data={"query": 'up{instance="a:9100"} * 2', "time": iso}))
    assert body["data"]["result"] == [
        {"metric": {"instance": "a:9100", "job": "node"}, "value": [NOW_S, "2"]}
    ]


def test_range_query_answers_a_matrix_with_float_second_times(c: httpx.Client) -> None:
    params = {"query": "http_requests_total", "start": str(NOW_S - 60), "end": str(NOW_S), "step": "30"}
    data = ok(c.get("/api/v1/query_range", params=params))["data"]
    assert data["resultType"] == "matrix"
    assert data["result"] == [
        {"metric": dict(REQS), "values": [[NOW_S - 60, "350"], [NOW_S - 30, "370"], [NOW_S, "390"]]}
    ]
    # A step in Prometheus' duration syntax, and a fractional start.
    params = {"query": "vector(1)", "start": f"{NOW_S}.5", "end": str(NOW_S + 2), "step": "1s"}
    values = ok(c.get("/api/v1/query_range", params=params))["data"]["result"][0]["values"]
    assert values == [[NOW_S + 0.5, "1"], [NOW_S + 1.5, "1"]]


def test_scalar_and_string_results(c: httpx.Client) -> None:
    data = ok(c.get("/api/v1/query", params={"query": "1 / 3", "time": "100"}))["data"]
    assert data == {"resultType": "scalar", "result": [100, "0.3333333333333333"]}
    data = ok(c.get("/api/v1/query", params={"query": "-1/0", "time": "100.25"}))["data"]
    assert data["result"] == [100.25, "-Inf"]
    data = ok(c.get("/api/v1/query", params={"query": '"hello"', "time": "100"}))["data"]
    assert data == {"resultType": "string", "result": [100, "hello"]}


def test_limit_truncates_with_prometheus_warning(c: httpx.Client) -> None:
    body = ok(c.get("/api/v1/query", params={"query": "up", "time": str(NOW_S), "limit": "1"}))
    assert len(body["data"]["result"]) == 1
    assert body["warnings"] == ["results truncated due to limit"]


def test_annotations_of_the_engine_are_passed_on(c: httpx.Client) -> None:
    body = ok(c.get("/api/v1/query", params={"query": "rate(up[5m])", "time": str(NOW_S)}))
    notes = body.get("infos", []) + body.get("warnings", [])
    assert any("might not be a counter" in n for n in notes), body


def test_stats_are_added_when_asked(c: httpx.Client) -> None:
    data = ok(c.get("/api/v1/query", params={"query": "up", "time": str(NOW_S), "stats": "all"}))["data"]
    assert set(data["stats"]) == {"timings", "samples"}
    assert data["stats"]["samples"]["totalQueryableSamples"] >= 2


@pytest.mark.parametrize(
    ("path", "params", "starts"),
    [
        ("/api/v1/query", {"query": "up{"}, 'invalid parameter "query": 1:'),
        ("/api/v1/query", {"query": ""}, 'invalid parameter "query": '),
        (
            "/api/v1/query",
            {"query": "up", "time": "yesterday"},
            'invalid parameter "time": invalid time value',
        ),
        ("/api/v1/query", {"query": "up", "timeout": "soon"}, 'invalid parameter "timeout": cannot parse'),
        ("/api/v1/query", {"query": "up", "limit": "-2"}, 'invalid parameter "limit": limit must be'),
        ("/api/v1/query", {"query": "up", "lookback_delta": "x"}, "error parsing lookback delta duration"),
        ("/api/v1/query_range", {"query": "up", "end": "1", "step": "1"}, 'invalid parameter "start"'),
        (
            "/api/v1/query_range",
            {"query": "up", "start": "2", "end": "1", "step": "1"},
            'invalid parameter "end"',
        ),
        (
            "/api/v1/query_range",
            {"query": "up", "start": "1", "end": "2", "step": "0"},
            'invalid parameter "step": zero',
        ),
        (
            "/api/v1/query_range",
            {"query": "up", "start": "1", "end": "2", "step": "-"},
            'invalid parameter "step"',
        ),
        ("/api/v1/query_range", {"query": "up", "start": "0", "end": "11001", "step": "1"}, RESOLUTION_ERROR),
        ("/api/v1/query", {"query": "up", "time": "1e300"}, 'invalid parameter "time"'),
    ],
)
def test_bad_parameters_are_bad_data(c: httpx.Client, path: str, params: dict[str, str], starts: str) -> None:
    assert err(c.get(path, params=params), 400, "bad_data").startswith(starts)


def test_eleven_thousand_points_are_allowed(c: httpx.Client) -> None:
    params = {"query": "vector(1)", "start": "0", "end": "11000", "step": "1"}
    assert len(ok(c.get("/api/v1/query_range", params=params))["data"]["result"][0]["values"]) == 11001


def test_execution_errors_are_422(c: httpx.Client) -> None:
    # Two series on each side match on nothing: Prometheus' many-to-many error.
    r = c.get("/api/v1/query", params={"query": "up + on() up", "time": str(NOW_S)})
    assert "many-to-many matching not allowed" in err(r, 422, "execution")
    # Past query_max_samples (30000 here): two operands of 11001 steps held at once.
    params = {"query": "vector(1) + vector(2)", "start": "0", "end": "11000", "step": "1"}
    message = err(c.get("/api/v1/query_range", params=params), 422, "execution")
    assert "too many samples" in message


def test_a_query_past_its_timeout_is_503_timeout(c: httpx.Client) -> None:
    r = c.get("/api/v1/query", params={"query": "up", "time": str(NOW_S), "timeout": "-1"})
    assert "query timed out" in err(r, 503, "timeout")


def test_lookback_delta_parameter_overrides_the_setting(c: httpx.Client) -> None:
    later = str(NOW_S + 120)  # two minutes after the last sample
    assert len(ok(c.get("/api/v1/query", params={"query": "up", "time": later}))["data"]["result"]) == 2
    params = {"query": "up", "time": later, "lookback_delta": "1m"}
    assert ok(c.get("/api/v1/query", params=params))["data"]["result"] == []


def test_hostile_input_never_5xx(c: httpx.Client) -> None:
    hostile = [
        {"query": "(" * 5000},
        {"query": "up" + "+up" * 3000},
        {"query": "\x00\udcff"[:1] + "up"},
        {"query": 'label_replace(up, "x", "$1", "job", "(")'},
        {"query": "up[1000000000y]"},
        {"query": "up", "time": "9" * 400},
        {"query": "up offset 1000000000y"},
        {"query": "sum by (" + ",".join(f"l{i}" for i in range(3000)) + ") (up)"},
    ]
    for params in hostile:
        r = c.get("/api/v1/query", params=params)
        assert r.status_code < 500 or r.status_code == 503 and r.json()["errorType"] == "timeout", r.text
        assert r.json()["status"] in ("success", "error")
    r = c.get("/api/v1/query_range", params={"query": "up", "start": "0", "end": "1e15", "step": "1e-9"})
    assert r.status_code == 400


def test_format_and_parse_query(c: httpx.Client) -> None:
    data = ok(c.get("/api/v1/format_query", params={"query": "sum  by(job)(rate(x[5m]))"}))["data"]
    assert data == "sum by (job) (rate(x[5m]))"
    tree = ok(c.post("/api/v1/parse_query", data={"query": "up == 1"}))["data"]
    assert tree["type"] == "binaryExpr" and tree["op"] == "=="
    assert err(c.get("/api/v1/format_query", params={"query": "up +"}), 400, "bad_data").startswith(
        'invalid parameter "query": 1:'
    )
    assert "nested too deeply" in err(
        c.post("/api/v1/parse_query", data={"query": "(" * 5000}), 400, "bad_data"
    )


def test_buildinfo_is_a_prometheus_version_with_herons_beside_it(c: httpx.Client) -> None:
    from heron import __version__

    data = ok(c.get("/api/v1/status/buildinfo"))["data"]
    major, minor, patch = data["version"].split(".")
    assert int(major) >= 2 and minor.isdigit() and patch.isdigit()  # semver, as Grafana reads it
    assert data["heronVersion"] == __version__ and "application" not in data and "features" not in data
