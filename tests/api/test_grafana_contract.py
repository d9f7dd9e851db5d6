"""Replays the metadata requests Grafana's Loki data source sends (tests/api/grafana_contract.yaml,
each entry citing its Grafana source) against a real server with demo-like data, and checks
the status and the JSON type of every field the frontend reads."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

S = 10**9
NOW = (time.time_ns() // S - 600) * S
CONTRACT = yaml.safe_load((Path(__file__).parent / "grafana_contract.yaml").read_text(encoding="utf-8"))
_TYPES: dict[str, type | tuple[type, ...]] = {
    "array": list,
    "object": dict,
    "string": str,
    "number": (int, float),
}


def _at(value: Any, path: str) -> list[Any]:
    """Every value at a dot path; `name[]` steps into each item of a list."""
    found = [value]
    for part in path.split("."):
        many = part.endswith("[]")
        key = part[:-2] if many else part
        found = [v[key] for v in found if key in v] if key else found
        if many:
            found = [item for v in found for item in v]
    return found


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
    values = {"{START}": str(NOW - S), "{END}": str(NOW + 60 * S)}
    params = {k: values.get(v, v) for k, v in entry["params"].items()}
    r = demo.request(entry["method"], entry["path"], params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    for path, kind in entry["reads"].items():
        found = _at(body, path)
        assert found, f"{entry['path']}: nothing at {path}"
        for v in found:
            assert isinstance(v, _TYPES[kind]) and not isinstance(v, bool), f"{path}: {v!r} is not {kind}"
