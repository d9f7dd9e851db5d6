"""Replays the requests Grafana's Loki data source and Grafana Logs Drilldown send
(tests/api/grafana_contract.yaml, each entry citing its source) against a real server with
demo-like data, and checks the status and the JSON type of every field the reader reads."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

S = 10**9
NOW = (time.time_ns() // S - 600) * S
ROW = NOW + 2 * S  # the third line of the cart stream: the row a log context opens on
TWO_HOURS = 2 * 3600 * S
CONTRACT = yaml.safe_load((Path(__file__).parent / "grafana_contract.yaml").read_text(encoding="utf-8"))
_TYPES: dict[str, type | tuple[type, ...]] = {
    "array": list,
    "object": dict,
    "string": str,
    "number": (int, float),
}


def _at(value: Any, path: str) -> list[Any]:
    """Every value at a dot path; `name[]` steps into each item of a list, a number into one
    position of a list."""
    found = [value]
    for part in path.split("."):
        many = part.endswith("[]")
        key = part[:-2] if many else part
        if key.isdigit():
            found = [v[int(key)] for v in found if isinstance(v, list) and len(v) > int(key)]
        elif key:
            found = [v[key] for v in found if isinstance(v, dict) and key in v]
        if many:
            found = [item for v in found for item in v]
    return found


def _rfc3339(ns: int) -> str:
    """How Drilldown sends a time: `Date.toISOString()`, milliseconds and `Z`."""
    return datetime.fromtimestamp(ns // 10**6 / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


TOKENS = {
    "{START}": str(NOW - S),
    "{END}": str(NOW + 60 * S),
    "{START_ISO}": _rfc3339(NOW - S),
    "{END_ISO}": _rfc3339(NOW + 60 * S),
    "{ROW}": str(ROW),
    "{ROW_MINUS_2H}": str(ROW - TWO_HOURS),
    "{ROW_PLUS_2H}": str(ROW + TWO_HOURS),
}


def test_path_steps_into_keys_items_and_positions() -> None:
    body = {"data": {"result": [{"values": [["1", "a", {"k": "v"}], ["2", "b"]]}]}}
    assert _at(body, "data.result[].values[].0") == ["1", "2"]
    assert _at(body, "data.result[].values[].2.k") == ["v"]
    assert _at(body, "data.result[].missing") == []


@pytest.fixture
def demo(client: httpx.Client) -> httpx.Client:
    streams = []
    for app in ("cart", "checkout", "web"):
        labels = {"app": app, "namespace": "shop", "service_name": app}
        json_lines = [
            [str(NOW + i * S), f'{{"level":"info","took_ms":{i},"route":"/{app}"}}'] for i in range(5)
        ]
        logfmt_lines = [
            [str(NOW + (i + 5) * S), f"level=error msg=failed n={i}", {"trace_id": f"t{i}"}] for i in range(5)
        ]
        streams.append({"stream": labels, "values": json_lines + logfmt_lines})
    streams.append(
        {"stream": {"app": "db", "namespace": "infra", "service_name": "db"}, "values": [[str(NOW), "ready"]]}
    )
    r = client.post("/loki/api/v1/push", json={"streams": streams})
    assert r.status_code == 204, r.text
    return client


@pytest.mark.parametrize("entry", CONTRACT["requests"], ids=[e["source"] for e in CONTRACT["requests"]])
def test_grafana_request_is_answered_with_the_fields_it_reads(
    demo: httpx.Client, entry: dict[str, Any]
) -> None:
    params = {k: TOKENS.get(v, v) for k, v in entry["params"].items()}
    r = demo.request(entry["method"], entry["path"], params=params, headers=entry.get("headers", {}))
    assert r.status_code == 200, r.text
    body = r.json()
    for path, kind in entry["reads"].items():
        found = _at(body, path)
        assert found, f"{entry['path']}: nothing at {path}"
        for v in found:
            assert isinstance(v, _TYPES[kind]) and not isinstance(v, bool), f"{path}: {v!r} is not {kind}"
    if "values_returned" in entry:
        assert len(_at(body, "data.result[].values[]")) == entry["values_returned"], body
