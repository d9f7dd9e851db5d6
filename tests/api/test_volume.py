"""/index/volume and /index/volume_range against a real server: bytes per group from index
metadata, Loki's vector and matrix shapes, sorting, limit, aggregateBy, and 400s."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from serverproc import start_server

S = 10**9
NOW = (time.time_ns() // S - 600) * S
# (labels, line length, count): api/prod is the largest, then web/prod, then api/dev. Each
# stream names its service_name, so Loki 3's service-name discovery adds nothing.
STREAMS = [
    ({"app": "api", "env": "prod", "service_name": "api"}, 100, 20),
    ({"app": "web", "env": "prod", "service_name": "web"}, 50, 20),
    ({"app": "api", "env": "dev", "service_name": "api"}, 10, 20),
]


@pytest.fixture(scope="module")
def vol(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    server = start_server(Path(tmp_path_factory.mktemp("volume")) / "data")
    with httpx.Client(base_url=server.url, timeout=30) as c:
        streams = [
            {"stream": labels, "values": [[str(NOW + i * S), "x" * size] for i in range(count)]}
            for labels, size, count in STREAMS
        ]
        r = c.post("/loki/api/v1/push", json={"streams": streams})
        assert r.status_code == 204, r.text
        yield c
    assert server.stop() == 0, server.log()


def _get(c: httpx.Client, path: str, **params: str) -> httpx.Response:
    base = {"start": str(NOW - S), "end": str(NOW + 60 * S)}
    return c.get(path, params={**base, **params})


def test_volume_groups_by_selector_labels_sorted(vol: httpx.Client) -> None:
    r = _get(vol, "/loki/api/v1/index/volume", query='{env=~".+"}')
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["resultType"] == "vector"
    got = [(x["metric"], x["value"][1]) for x in data["result"]]
    assert got == [({"env": "prod"}, "3000"), ({"env": "dev"}, "200")]
    assert data["result"][0]["value"][0] == pytest.approx((NOW + 60 * S) / 1e9)


def test_volume_target_labels_and_limit(vol: httpx.Client) -> None:
    r = _get(vol, "/loki/api/v1/index/volume", query='{app=~".+"}', targetLabels="app,env", limit="2")
    assert r.status_code == 200, r.text
    got = [(x["metric"], x["value"][1]) for x in r.json()["data"]["result"]]
    assert got == [({"app": "api", "env": "prod"}, "2000"), ({"app": "web", "env": "prod"}, "1000")]


def test_volume_aggregate_by_labels(vol: httpx.Client) -> None:
    r = _get(
        vol, "/loki/api/v1/index/volume", query='{app=~".+"}', targetLabels="app,env", aggregateBy="labels"
    )
    assert r.status_code == 200, r.text
    got = [(x["metric"], x["value"][1]) for x in r.json()["data"]["result"]]
    assert got == [({"app": ""}, "3200"), ({"env": ""}, "3200")]


def test_volume_by_labels_without_targets_counts_every_label(vol: httpx.Client) -> None:
    r = _get(vol, "/loki/api/v1/index/volume", query='{env="dev"}', aggregateBy="labels")
    assert r.status_code == 200, r.text
    got = [(x["metric"], x["value"][1]) for x in r.json()["data"]["result"]]
    assert got == [({"app": ""}, "200"), ({"env": ""}, "200"), ({"service_name": ""}, "200")]


def test_volume_target_label_is_required(vol: httpx.Client) -> None:
    r = _get(vol, "/loki/api/v1/index/volume", query='{app=~".+"}', targetLabels="app,pod")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["result"] == []


def test_volume_range_buckets_by_entry_time(vol: httpx.Client) -> None:
    r = vol.get(
        "/loki/api/v1/index/volume_range",
        params={
            "query": '{app="api", env="prod"}',
            "start": str(NOW),
            "end": str(NOW + 19 * S),
            "step": "10s",
        },
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["resultType"] == "matrix"
    [series] = data["result"]
    assert series["metric"] == {"app": "api", "env": "prod"}  # the selector's label names
    assert series["values"] == [[NOW / 1e9, "1000"], [(NOW + 10 * S) / 1e9, "1000"]]


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/loki/api/v1/index/volume", {}, "query must be supplied"),
        ("/loki/api/v1/index/volume", {"query": "{app="}, "parse error"),
        ("/loki/api/v1/index/volume", {"query": '{app="api"}', "limit": "0"}, "limit"),
        ("/loki/api/v1/index/volume", {"query": '{app="api"}', "limit": "x"}, "limit"),
        ("/loki/api/v1/index/volume", {"query": '{app="api"}', "aggregateBy": "pods"}, "aggregateBy"),
        ("/loki/api/v1/index/volume_range", {"query": '{app="api"}', "step": "-1s"}, "step"),
        ("/loki/api/v1/index/volume", {"query": '{app="api"}', "start": "yesterday"}, "start"),
    ],
)
def test_volume_bad_parameters_are_400(
    vol: httpx.Client, path: str, params: dict[str, str], message: str
) -> None:
    r = vol.get(path, params=params)
    assert r.status_code == 400, r.text
    assert message in r.text
