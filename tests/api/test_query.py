"""Loki read endpoints over real HTTP: response shapes Grafana relies on, errors, tail."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from websockets.sync.client import connect

from serverproc import ServerProc

S = 10**9
NOW = (time.time_ns() // S - 120) * S


@pytest.fixture
def loaded(client: httpx.Client) -> httpx.Client:
    streams = [
        {
            "stream": {"app": "api", "env": "prod"},
            "values": [
                [str(NOW + i * S), f"level={'error' if i % 3 == 0 else 'info'} n={i}"] for i in range(30)
            ],
        },
        {
            "stream": {"app": "web", "env": "prod"},
            "values": [
                [str(NOW + i * S), f'{{"level":"info","n":{i}}}', {"trace_id": f"t{i}"}] for i in range(30)
            ],
        },
    ]
    r = client.post("/loki/api/v1/push", json={"streams": streams})
    assert r.status_code == 204, r.text
    return client


def test_query_range_streams_shape(loaded: httpx.Client) -> None:
    r = loaded.get(
        "/loki/api/v1/query_range",
        params={
            "query": '{app="api"} |= "error"',
            "start": str(NOW - S),
            "end": str(NOW + 60 * S),
            "limit": "5",
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "success"
    data = body["data"]
    assert data["resultType"] == "streams"
    [stream] = data["result"]
    # service_name and detected_level are added at ingest, as Loki 3 does
    assert stream["stream"] == {"app": "api", "env": "prod", "service_name": "api", "detected_level": "error"}
    assert [v[1] for v in stream["values"]] == [f"level=error n={i}" for i in (27, 24, 21, 18, 15)]
    assert all(isinstance(v[0], str) and int(v[0]) > 0 for v in stream["values"])
    summary = data["stats"]["summary"]
    assert summary["totalLinesProcessed"] == 30 and summary["totalEntriesReturned"] == 5
    # forward, RFC3339 timestamps, POST form as Grafana sends it
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW // S - 1))
    r = loaded.post(
        "/loki/api/v1/query_range",
        data={"query": '{app="api"} | logfmt | n < 3', "start": start, "direction": "forward", "limit": "10"},
    )
    assert r.status_code == 200, r.text
    result = r.json()["data"]["result"]
    assert {s["stream"]["n"] for s in result} == {"0", "1", "2"}  # parsed labels split streams, as in Loki
    values = sorted(v for s in result for v in s["values"])
    assert [v[1] for v in values] == ["level=error n=0", "level=info n=1", "level=info n=2"]


def test_structured_metadata_is_returned(loaded: httpx.Client) -> None:
    params = {"query": '{app="web"}', "since": "10m", "limit": "2"}
    plain = loaded.get("/loki/api/v1/query_range", params=params).json()["data"]["result"]
    assert {s["stream"]["trace_id"] for s in plain} == {"t29", "t28"}
    r = loaded.get(
        "/loki/api/v1/query_range",
        params=params,
        headers={"X-Loki-Response-Encoding-Flags": "categorize-labels"},
    )
    data = r.json()["data"]
    assert data["encodingFlags"] == ["categorize-labels"]
    [stream] = data["result"]
    assert stream["stream"] == {"app": "web", "env": "prod", "service_name": "web"}
    assert [v[2] for v in stream["values"]] == [
        {"structuredMetadata": {"detected_level": "info", "trace_id": "t29"}},
        {"structuredMetadata": {"detected_level": "info", "trace_id": "t28"}},
    ]


def test_metric_queries_matrix_vector_scalar(loaded: httpx.Client) -> None:
    r = loaded.get(
        "/loki/api/v1/query_range",
        params={
            "query": 'sum by (app) (count_over_time({env="prod"}[10s]))',
            "start": str(NOW + 10 * S),
            "end": str(NOW + 20 * S),
            "step": "5s",
        },
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["resultType"] == "matrix"
    by_app = {s["metric"]["app"]: s["values"] for s in data["result"]}
    assert by_app["api"] == [
        [(NOW + 10 * S) // S, "10"],
        [(NOW + 15 * S) // S, "10"],
        [(NOW + 20 * S) // S, "10"],
    ]
    r = loaded.get(
        "/loki/api/v1/query",
        params={"query": 'count_over_time({app="api"} |= "error" [1h])', "time": str(NOW + 60 * S)},
    )
    data = r.json()["data"]
    assert data["resultType"] == "vector"
    # The entries' structured metadata (here the detected_level added at ingest) is part of a
    # metric query's labels, as Loki's sample extractors add it to every entry.
    assert data["result"] == [
        {
            "metric": {"app": "api", "env": "prod", "service_name": "api", "detected_level": "error"},
            "value": [(NOW + 60 * S) // S, "10"],
        }
    ]
    r = loaded.get("/loki/api/v1/query", params={"query": "2 * 3.5", "time": "1700000000.5"})
    assert r.json()["data"]["result"] == [1700000000.5, "7"]


def test_query_errors(loaded: httpx.Client) -> None:
    r = loaded.get("/loki/api/v1/query_range", params={"query": '{app="api"'})
    assert r.status_code == 400 and r.text.startswith("parse error at line 1, col")
    r = loaded.get("/loki/api/v1/query_range", params={"query": '{app="api"}', "limit": "5001"})
    assert r.status_code == 400 and "max entries limit per query exceeded" in r.text
    r = loaded.get("/loki/api/v1/query_range", params={"query": '{app="api"}', "start": "yesterday"})
    assert r.status_code == 400 and 'invalid parameter "start"' in r.text
    r = loaded.get("/loki/api/v1/query_range", params={"query": '{app="api"}', "direction": "sideways"})
    assert r.status_code == 400
    r = loaded.get("/loki/api/v1/query", params={"query": '{app="api"}'})
    assert r.status_code == 400 and "instant query" in r.text
    r = loaded.get("/loki/api/v1/query_range", params={})
    assert r.status_code == 400 and "query must be supplied" in r.text
    r = loaded.get("/loki/api/v1/series")
    assert r.status_code == 400 and "match[]" in r.text
    text = loaded.get("/metrics").text
    assert 'heron_queries_total{endpoint="query_range",outcome="error"}' in text
    assert loaded.get("/-/ready").status_code == 200


def test_query_timeout_is_504(tmp_path) -> None:
    from serverproc import start_server

    s = start_server(tmp_path / "d", "--query-timeout", "1ms")
    try:
        with httpx.Client(base_url=s.url, timeout=30) as c:
            values = [[str(NOW + i), f"line {i} " + "x" * 100] for i in range(50_000)]
            r = c.post("/loki/api/v1/push", json={"streams": [{"stream": {"a": "b"}, "values": values}]})
            assert r.status_code == 204
            r = c.get(
                "/loki/api/v1/query_range",
                params={"query": 'sum(count_over_time({a="b"} |~ "line [0-9]+ x" [1m]))', "since": "1h"},
            )
            assert r.status_code == 504 and "timed out" in r.text
    finally:
        assert s.stop() == 0


def test_series_and_labels_with_query(loaded: httpx.Client) -> None:
    r = loaded.get("/loki/api/v1/series", params={"match[]": ['{app="api"}', '{app="web"}']})
    assert sorted(d["app"] for d in r.json()["data"]) == ["api", "web"]
    r = loaded.get("/loki/api/v1/labels", params={"query": '{app="api"}'})
    assert r.json()["data"] == ["app", "env", "service_name"]
    r = loaded.get("/loki/api/v1/label/app/values", params={"query": '{env="prod"}'})
    assert r.json()["data"] == ["api", "web"]


def test_tail_websocket_sends_new_lines_once(server: ServerProc, loaded: httpx.Client) -> None:
    ws_url = server.url.replace("http://", "ws://") + "/loki/api/v1/tail"
    start = str(NOW + 29 * S)
    with connect(f"{ws_url}?query=%7Bapp%3D%22api%22%7D&start={start}&limit=10", open_timeout=10) as ws:
        first = json.loads(ws.recv(timeout=10))
        assert [v[1] for s in first["streams"] for v in s["values"]] == ["level=info n=29"]
        later = time.time_ns()
        r = loaded.post(
            "/loki/api/v1/push",
            json={
                "streams": [
                    {
                        "stream": {"app": "api", "env": "prod"},
                        "values": [[str(later), "tailed"], [str(later), "tailed too"]],
                    }
                ]
            },
        )
        assert r.status_code == 204
        got: list[str] = []
        deadline = time.monotonic() + 10
        while len(got) < 2 and time.monotonic() < deadline:
            msg = json.loads(ws.recv(timeout=10))
            got += [v[1] for s in msg["streams"] for v in s["values"]]
        assert sorted(got) == ["tailed", "tailed too"]
