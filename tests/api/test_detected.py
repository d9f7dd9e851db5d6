"""/detected_labels against a real server: Loki's shape, its relevance rules, and 400s."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from heron.api.detected import reject_label

S = 10**9
NOW = (time.time_ns() // S - 600) * S


@pytest.mark.parametrize(
    ("values", "rejected"),
    [
        ([], True),
        (["0", "1"], False),
        (["1"], False),
        (["1", "2"], True),
        (["1", "2", "3"], True),
        (["0", "1", "1.5"], True),
        ([str(uuid.UUID(int=1)), "3.5"], True),
        ([str(uuid.UUID(int=1)), "api"], False),
        (["api", "web"], False),
        ([" 1", "2"], False),
    ],
)
def test_reject_label_follows_lokis_rule(values: list[str], rejected: bool) -> None:
    assert reject_label(values) is rejected


def test_detected_labels_shape_and_exclusions(client: httpx.Client) -> None:
    streams = [
        {
            "stream": {"app": app, "namespace": "prod", "pod_id": str(i), "service_name": app, "zone": "1"},
            "values": [[str(NOW + i * S), "msg=hello"]],
        }
        for i, app in enumerate(["api", "web", "db"])
    ]
    r = client.post("/loki/api/v1/push", json={"streams": streams})
    assert r.status_code == 204, r.text
    params = {"start": str(NOW - S), "end": str(NOW + 60 * S)}
    r = client.get("/loki/api/v1/detected_labels", params=params)
    assert r.status_code == 200, r.text
    got = {d["label"]: d["cardinality"] for d in r.json()["detectedLabels"]}
    # pod_id is all numbers; namespace is static and kept with one value; zone is "1" only.
    assert got == {"app": 3, "namespace": 1, "service_name": 3, "zone": 1}
    r = client.get("/loki/api/v1/detected_labels", params={**params, "query": '{app="api"}'})
    assert r.status_code == 200, r.text
    # One stream: its pod_id is "0", which Loki keeps as a boolean-looking value.
    assert {d["label"]: d["cardinality"] for d in r.json()["detectedLabels"]} == {
        "app": 1,
        "namespace": 1,
        "pod_id": 1,
        "service_name": 1,
        "zone": 1,
    }


@pytest.mark.parametrize(
    ("params", "message"),
    [({"query": "{app="}, "parse error"), ({"start": "soon"}, "start"), ({"end": "x"}, "end")],
)
def test_detected_labels_bad_parameters_are_400(
    client: httpx.Client, params: dict[str, str], message: str
) -> None:
    r = client.get("/loki/api/v1/detected_labels", params=params)
    assert r.status_code == 400, r.text
    assert message in r.text
