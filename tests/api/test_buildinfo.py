"""/status/buildinfo and /format_query against a real server: Loki's shapes and 400s."""

from __future__ import annotations

import httpx

from heron.api.buildinfo import LOKI_VERSION


def test_buildinfo_has_lokis_fields(client: httpx.Client) -> None:
    r = client.get("/loki/api/v1/status/buildinfo")
    assert r.status_code == 200, r.text
    body = r.json()
    for key in ("version", "revision", "branch", "buildUser", "buildDate", "goVersion"):
        assert isinstance(body[key], str), key
    assert body["version"] == LOKI_VERSION
    assert body["version"].startswith("3.")


def test_format_query_prints_canonically_and_refuses_bad_queries(client: httpx.Client) -> None:
    r = client.get(
        "/loki/api/v1/format_query", params={"query": 'sum by (app) (rate({app="api"}|="error"[5m]))'}
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "success", "data": 'sum by (app)(rate({app="api"} |= "error"[5m]))'}
    r = client.post("/loki/api/v1/format_query", data={"query": '{app="api"}   |   json'})
    assert r.status_code == 200, r.text
    assert r.json()["data"] == '{app="api"} | json'
    bad = client.get("/loki/api/v1/format_query", params={"query": "sum(("})
    assert bad.status_code == 400 and "parse error" in bad.text
    missing = client.get("/loki/api/v1/format_query")
    assert missing.status_code == 400 and "query must be supplied" in missing.text
