"""Loki push over real HTTP: JSON, protobuf+snappy, gzip; errors change nothing."""

from __future__ import annotations

import gzip
import json
import time

import httpx

from heron.model import labels_from
from heron.ship.loki_encode import encode_push_request
from heron.storage import LogBatch
from serverproc import ServerProc, start_server

NOW = time.time_ns() - 60 * 10**9


def push_json(client: httpx.Client, streams: list[dict], **headers: str) -> httpx.Response:
    return client.post("/loki/api/v1/push", json={"streams": streams}, headers=headers)


def series(client: httpx.Client, selector: str) -> list[dict]:
    r = client.get("/loki/api/v1/series", params={"match[]": selector})
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_health_ready_and_metrics(client: httpx.Client) -> None:
    assert client.get("/-/healthy").status_code == 200
    assert client.get("/-/ready").status_code == 200
    push_json(client, [{"stream": {"app": "m"}, "values": [[str(NOW), "hello"]]}])
    text = client.get("/metrics").text
    assert "# TYPE heron_ingested_log_entries_total counter" in text
    assert "heron_ingested_log_entries_total 1" in text
    assert 'heron_push_requests_total{api="loki",code="204"} 1' in text
    assert "heron_wal_bytes" in text and "heron_head_series 1" in text


def test_push_json_protobuf_and_gzip(client: httpx.Client) -> None:
    r = push_json(client, [{"stream": {"app": "j", "ns": "x"}, "values": [[str(NOW), "json line"]]}])
    assert r.status_code == 204, r.text
    body = encode_push_request(
        [LogBatch(labels_from({"app": "p", "ns": "x"}), [NOW, NOW + 1], [b"pb1", b"pb2"])]
    )
    r = client.post("/loki/api/v1/push", content=body, headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 204, r.text
    gz = gzip.compress(
        json.dumps({"streams": [{"stream": {"app": "g", "ns": "x"}, "values": [[str(NOW), "gz"]]}]}).encode()
    )
    r = client.post(
        "/loki/api/v1/push",
        content=gz,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert r.status_code == 204, r.text
    assert sorted(s["app"] for s in series(client, '{ns="x"}')) == ["g", "j", "p"]
    # service_name is discovered at ingest from `app`, as Loki 3 does
    assert client.get("/loki/api/v1/labels").json()["data"] == ["app", "ns", "service_name"]
    assert client.get("/loki/api/v1/label/app/values").json() == {
        "status": "success",
        "data": ["g", "j", "p"],
    }
    stats = client.get("/loki/api/v1/index/stats", params={"query": '{ns="x"}'}).json()
    assert stats["streams"] == 3 and stats["entries"] == 4


def test_malformed_bodies_are_400_and_store_nothing(client: httpx.Client) -> None:
    cases = [
        (b"{not json", "application/json", "invalid JSON"),
        (b'{"streams": [{"stream": {"a": "1"}, "values": [["x", "l"]]}]}', "application/json", "timestamp"),
        (b'{"streams": [{"stream": {"a": "1"}, "values": [["1", 5]]}]}', "application/json", "string"),
        (b'{"streams": [{"stream": {"a": 1}, "values": []}]}', "application/json", "must be a string"),
        (b"\x00\x01garbage", "application/x-protobuf", "snappy"),
        (b"hello", "text/plain", "Content-Type"),
    ]
    for body, ctype, needle in cases:
        r = client.post("/loki/api/v1/push", content=body, headers={"Content-Type": ctype})
        assert r.status_code == 400, (body, r.status_code, r.text)
        assert needle in r.text, (needle, r.text)
    # one good stream next to a broken one: nothing of the request is stored
    r = push_json(
        client, [{"stream": {"app": "ok"}, "values": [[str(NOW), "x"]]}, {"stream": {"app": "bad"}}]
    )
    assert r.status_code == 400
    assert client.get("/loki/api/v1/labels").json()["data"] == []
    assert client.get("/-/ready").status_code == 200


def test_per_entry_rejections_keep_the_rest(client: httpx.Client) -> None:
    long_line = "x" * (256 * 1024 + 1)
    old = NOW - 2 * 3600 * 10**9
    r = push_json(
        client,
        [
            {"stream": {"app": "r"}, "values": [[str(NOW), "newest"]]},
            {
                "stream": {"app": "r"},
                "values": [[str(NOW + 1), long_line], [str(old), "old"], [str(NOW + 2), "kept"]],
            },
        ],
    )
    assert r.status_code == 400
    assert "longer than the limit" in r.text and "too far behind" in r.text
    assert "total ignored: 2 out of 4" in r.text
    stats = client.get("/loki/api/v1/index/stats", params={"query": '{app="r"}'}).json()
    assert stats["entries"] == 2


def test_body_limit_and_rate_limit(tmp_path) -> None:
    s: ServerProc = start_server(
        tmp_path / "d", "--max-push-size", "1KiB", "--ingestion-rate", "100", "--ingestion-burst", "200"
    )
    try:
        with httpx.Client(base_url=s.url, timeout=30) as c:
            r = push_json(c, [{"stream": {"app": "big"}, "values": [[str(NOW), "y" * 2000]]}])
            assert r.status_code == 413 and "too large" in r.text
            r = push_json(c, [{"stream": {"app": "fast"}, "values": [[str(NOW), "z" * 150]]}])
            assert r.status_code == 204
            r = push_json(c, [{"stream": {"app": "fast"}, "values": [[str(NOW + 1), "z" * 150]]}])
            assert r.status_code == 429 and "rate limit" in r.text
            assert c.get("/loki/api/v1/index/stats", params={"query": '{app="fast"}'}).json()["entries"] == 1
    finally:
        assert s.stop() == 0


def test_stream_limit_is_429(tmp_path) -> None:
    s = start_server(tmp_path / "d", "--max-active-series", "2")
    try:
        with httpx.Client(base_url=s.url, timeout=30) as c:
            streams = [{"stream": {"app": str(i)}, "values": [[str(NOW), "x"]]} for i in range(3)]
            r = push_json(c, streams)
            assert r.status_code == 429 and "active series" in r.text
    finally:
        assert s.stop() == 0
