"""/detected_fields and /detected_field/<name>/values against a real server: json, logfmt and
structured-metadata fields, Loki's type detection, the bounded sample, and 400s."""

from __future__ import annotations

import time

import httpx
import pytest

from heron.api.fields import determine_type

S = 10**9
NOW = (time.time_ns() // S - 600) * S


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("42", "int"),
        ("-3", "int"),
        ("9223372036854775808", "float"),
        ("4.5", "float"),
        ("1e3", "float"),
        ("true", "boolean"),
        ("F", "boolean"),
        ("250ms", "duration"),
        ("1h30m", "duration"),
        ("10KB", "bytes"),
        ("1.5 GiB", "bytes"),
        ("0x10", "string"),
        ("hello", "string"),
        ("", "string"),
    ],
)
def test_determine_type_follows_loki(value: str, kind: str) -> None:
    assert determine_type(value) == kind


@pytest.fixture
def loaded(client: httpx.Client) -> httpx.Client:
    streams = [
        {
            "stream": {"app": "api"},
            "values": [
                [str(NOW + i * S), f'{{"level":"info","latency_ms":{i},"user":{{"id":"u{i % 3}"}}}}']
                for i in range(10)
            ],
        },
        {
            "stream": {"app": "web"},
            "values": [
                [str(NOW + i * S), f"level=warn took={i}ms ok=true", {"trace_id": f"t{i}"}] for i in range(10)
            ],
        },
    ]
    r = client.post("/loki/api/v1/push", json={"streams": streams})
    assert r.status_code == 204, r.text
    return client


def _params(**extra: str) -> dict[str, str]:
    return {"query": '{app=~".+"}', "start": str(NOW - S), "end": str(NOW + 60 * S), **extra}


def test_detected_fields_shape_types_and_parsers(loaded: httpx.Client) -> None:
    r = loaded.get("/loki/api/v1/detected_fields", params=_params())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["limit"] == 1000
    got = {f["label"]: (f["type"], f["cardinality"], f["parsers"]) for f in body["fields"]}
    # detected_level is structured metadata the push added (Loki 3 does too).
    assert got == {
        "detected_level": ("string", 2, None),
        "latency_ms": ("int", 10, ["json"]),
        "level": ("string", 2, ["json", "logfmt"]),
        "ok": ("boolean", 1, ["logfmt"]),
        "took": ("duration", 10, ["logfmt"]),
        "trace_id": ("string", 10, None),
        "user_id": ("string", 3, ["json"]),
    }


def test_detected_fields_sample_is_bounded_by_line_limit(loaded: httpx.Client) -> None:
    r = loaded.get("/loki/api/v1/detected_fields", params=_params(query='{app="api"}', line_limit="2"))
    assert r.status_code == 200, r.text
    got = {f["label"]: f["cardinality"] for f in r.json()["fields"]}
    assert got == {"detected_level": 1, "latency_ms": 2, "level": 1, "user_id": 2}
    r = loaded.get("/loki/api/v1/detected_fields", params=_params(limit="1"))
    assert r.status_code == 200, r.text
    assert len(r.json()["fields"]) == 1


def test_detected_fields_take_the_selector_of_a_log_query(loaded: httpx.Client) -> None:
    plain = loaded.get("/loki/api/v1/detected_fields", params=_params(query='{app="api"}'))
    piped = loaded.get("/loki/api/v1/detected_fields", params=_params(query='{app="api"} |= "info" | json'))
    assert plain.status_code == piped.status_code == 200, piped.text
    assert piped.json() == plain.json()


def test_detected_field_values(loaded: httpx.Client) -> None:
    r = loaded.get("/loki/api/v1/detected_field/user_id/values", params=_params())
    assert r.status_code == 200, r.text
    assert r.json()["values"] == ["u0", "u1", "u2"]
    r = loaded.get("/loki/api/v1/detected_field/nothing/values", params=_params())
    assert r.status_code == 200, r.text
    assert r.json()["values"] == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "query must be supplied"),
        ({"query": "{app="}, "parse error"),
        ({"query": '{app="api"}', "line_limit": "0"}, "line_limit"),
        ({"query": '{app="api"}', "line_limit": "999999"}, "line_limit"),
        ({"query": '{app="api"}', "limit": "-1"}, "limit"),
        ({"query": '{app="api"}', "start": "later"}, "start"),
    ],
)
def test_detected_fields_bad_parameters_are_400(
    client: httpx.Client, params: dict[str, str], message: str
) -> None:
    for path in ("/loki/api/v1/detected_fields", "/loki/api/v1/detected_field/level/values"):
        r = client.get(path, params=params)
        assert r.status_code == 400, r.text
        assert message in r.text
