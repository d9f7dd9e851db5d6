"""Prometheus' metadata and status endpoints on a real `heron server`: `/api/v1/series`,
`labels`, `label/<name>/values`, `status/tsdb` and `status/config`, over metric series only."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import yaml

from heron.ship.remote_write_encode import V1_CONTENT_TYPE, encode_v1, snappy
from serverproc import ServerProc, start_server

NOW = int(time.time() * 1000)
CPU = [
    (("__name__", "container_cpu_usage_seconds_total"), ("namespace", ns), ("pod", f"{ns}-{i}"))
    for ns in ("shop", "infra")
    for i in range(3)
]
UP = (("__name__", "up"), ("job", "node"))
OLD = (("__name__", "old_metric"), ("job", "gone"))


def push(client: httpx.Client, series: dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]) -> None:
    r = client.post(
        "/api/v1/write",
        content=snappy(encode_v1(series)),
        headers={"Content-Type": V1_CONTENT_TYPE, "Content-Encoding": "snappy"},
    )
    assert r.status_code == 204, r.text


@pytest.fixture(scope="module")
def meta(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    base = Path(tmp_path_factory.mktemp("meta"))
    config = base / "heron.yaml"
    config.write_text(
        "scrape_configs:\n"
        "  - job_name: node\n"
        "    scrape_interval: 30s\n"
        "    static_configs: [{targets: ['127.0.0.1:1']}]\n"
        "    basic_auth: {username: u, password: hunter2}\n"
        "    relabel_configs: [{action: drop, source_labels: [__address__], regex: '.*'}]\n",  # no scrapes
        encoding="utf-8",
    )
    server = start_server(base / "data", "--config", str(config))
    with httpx.Client(base_url=server.url, timeout=60) as c:
        push(c, {labels: [(NOW - 1000, 1.0), (NOW, 2.0)] for labels in [*CPU, UP]})
        push(c, {OLD: [(NOW - 3 * 3600_000, 1.0)]})
        logs = {"streams": [{"stream": {"app": "logs-only"}, "values": [[str(NOW * 10**6), "line"]]}]}
        assert c.post("/loki/api/v1/push", json=logs).status_code == 204
    yield server
    assert server.stop() == 0, server.log()


@pytest.fixture
def c(meta: ServerProc) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=meta.url, timeout=60) as client:
        yield client


def ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "success"
    return body


def bad(r: httpx.Response) -> str:
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["status"] == "error" and body["errorType"] == "bad_data"
    return body["error"]


def test_labels_are_metric_label_names_only(c: httpx.Client) -> None:
    names = ok(c.get("/api/v1/labels"))["data"]
    assert names == ["__name__", "job", "namespace", "pod"]  # `app` is a log stream's label
    shop = ok(c.get("/api/v1/labels", params={"match[]": 'up{job="node"}'}))["data"]
    assert shop == ["__name__", "job"]
    both = ok(c.post("/api/v1/labels", data={"match[]": ["up", '{namespace="shop"}']}))["data"]
    assert both == ["__name__", "job", "namespace", "pod"]


def test_label_values_with_time_range_match_and_limit(c: httpx.Client) -> None:
    names = ok(c.get("/api/v1/label/__name__/values"))["data"]
    assert names == ["container_cpu_usage_seconds_total", "old_metric", "up"]
    recent = {"start": str(NOW / 1000 - 600), "end": str(NOW / 1000 + 60), "match[]": '{job=~".+"}'}
    assert ok(c.get("/api/v1/label/__name__/values", params=recent))["data"] == ["up"]
    pods = ok(c.get("/api/v1/label/pod/values", params={"match[]": '{namespace="shop"}'}))["data"]
    assert pods == ["shop-0", "shop-1", "shop-2"]
    body = ok(c.get("/api/v1/label/pod/values", params={"limit": "2"}))
    assert body["data"] == ["infra-0", "infra-1"] and body["warnings"] == ["results truncated due to limit"]
    assert ok(c.get("/api/v1/label/U__name_2e_space/values"))["data"] == []  # escaped `name.space`


def test_series_lists_label_sets(c: httpx.Client) -> None:
    body = ok(
        c.get("/api/v1/series", params={"match[]": 'container_cpu_usage_seconds_total{namespace="infra"}'})
    )
    assert body["data"] == [dict(labels) for labels in CPU if ("namespace", "infra") in labels]
    body = ok(c.post("/api/v1/series", data={"match[]": ["up", "up", '{__name__!=""}'], "limit": "3"}))
    assert len(body["data"]) == 3 and body["warnings"] == ["results truncated due to limit"]


def test_metadata_errors_in_prometheus_words(c: httpx.Client) -> None:
    assert bad(c.get("/api/v1/series")) == "no match[] parameter provided"
    assert bad(c.get("/api/v1/series", params={"match[]": "{}"})).startswith('invalid parameter "match[]": ')
    empty = bad(c.get("/api/v1/series", params={"match[]": '{a=""}'}))
    assert empty.startswith('invalid parameter "match[]"') and "at least one non-empty matcher" in empty
    assert bad(c.get("/api/v1/labels", params={"match[]": "up{"})).startswith("1:")
    assert bad(c.get("/api/v1/labels", params={"start": "x"})).startswith('invalid parameter "start"')
    assert bad(c.get("/api/v1/label/job/values", params={"limit": "x"})).startswith(
        'invalid parameter "limit"'
    )


def test_tsdb_status_counts_recent_metric_series(c: httpx.Client) -> None:
    data = ok(c.get("/api/v1/status/tsdb"))["data"]
    head = data["headStats"]
    assert head["numSeries"] == 7 and head["chunkCount"] >= 7  # the old series is past the head's span
    assert head["minTime"] == NOW - 1000 and head["maxTime"] == NOW
    assert data["seriesCountByMetricName"][0] == {"name": "container_cpu_usage_seconds_total", "value": 6}
    assert {"name": "pod", "value": 6} in data["labelValueCountByLabelName"]
    assert {"name": "namespace=shop", "value": 3} in data["seriesCountByLabelValuePair"]
    assert data["memoryInBytesByLabelName"][0]["value"] > 0
    two = ok(c.get("/api/v1/status/tsdb", params={"limit": "2"}))["data"]
    assert len(two["seriesCountByLabelValuePair"]) == 2
    assert bad(c.get("/api/v1/status/tsdb", params={"limit": "0"})) == "limit must be a positive number"
    assert bad(c.get("/api/v1/status/tsdb", params={"limit": "10001"})) == "limit must not exceed 10000"


def test_status_config_is_the_prometheus_sections_as_yaml(c: httpx.Client) -> None:
    text = ok(c.get("/api/v1/status/config"))["data"]["yaml"]
    config = yaml.safe_load(text)
    job = config["scrape_configs"][0]
    assert job["job_name"] == "node" and job["scrape_interval"] == "30s"
    assert job["basic_auth"] == {"username": "u", "password": "<secret>"} and "hunter2" not in text
    assert config["global"]["scrape_interval"] == "1m"
