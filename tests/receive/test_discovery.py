"""service_name and detected_level at ingest, as Loki 3's distributor adds them; the level
cases are transcribed from Loki into level_cases.yaml."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from heron.model import labels_from
from heron.receive.discovery import Discovery, discover
from heron.receive.loki_push import encode_metadata
from heron.storage import LogBatch

LEVEL_CASES = yaml.safe_load((Path(__file__).parent / "level_cases.yaml").read_text())


@pytest.mark.parametrize("case", LEVEL_CASES, ids=[c["name"] for c in LEVEL_CASES])
def test_detected_level(case: dict[str, Any]) -> None:
    meta = encode_metadata(case.get("metadata", {}))
    batch = LogBatch(
        labels_from({"job": "x", **case.get("labels", {})}), [1], [case["line"].encode()], [meta]
    )
    [out] = discover([batch], Discovery())
    assert out.metadata is not None
    stored = json.loads(out.metadata[0])
    assert stored["detected_level"] == case["level"]
    assert {k: v for k, v in stored.items() if k != "detected_level"} == {
        k: v for k, v in case.get("metadata", {}).items() if k != "detected_level"
    }


SERVICE_CASES = [
    ({"service_name": "given", "app": "a"}, "given"),
    ({"app": "a", "service": "s"}, "s"),
    ({"container": "c", "app_kubernetes_io_name": "k"}, "k"),
    ({"job": "ns/j", "component": "comp"}, "comp"),
    ({"k8s_job_name": "kj"}, "kj"),
    ({"namespace": "n", "pod": "p"}, "unknown_service"),
]


@pytest.mark.parametrize(("labels", "service"), SERVICE_CASES)
def test_service_name(labels: dict[str, str], service: str) -> None:
    [out] = discover([LogBatch(labels_from(labels), [1], [b"x"])], Discovery())
    assert dict(out.labels)["service_name"] == service
    assert list(out.labels) == sorted(out.labels)


def test_disabled_discovery_changes_nothing() -> None:
    batch = LogBatch(labels_from({"app": "a"}), [1, 2], [b"info", b"x"])
    [out] = discover([batch], Discovery(service_name_labels=(), log_levels=False))
    assert out.labels == (("app", "a"),) and out.metadata is None


def test_entries_without_metadata_get_only_the_level() -> None:
    batch = LogBatch(labels_from({"app": "a"}), [1, 2], [b"level=debug", b"boom [ERROR]"])
    [out] = discover([batch], Discovery())
    assert out.metadata == [b'{"detected_level":"debug"}', b'{"detected_level":"error"}']
