"""service_name and detected_level at ingest, as Loki 3's distributor adds them; the level
cases are transcribed from Loki into level_cases.yaml."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from heron.model import labels_from
from heron.receive import discovery
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


_KEYS = st.sampled_from(["level", "Level", "lvl", "severity", "msg", "ts", "a", "log.level"])
_SCALARS = st.one_of(
    st.sampled_from(["info", "warn", "error", "debug", "x", ""]),
    st.integers(-5, 5),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
)
_OBJECTS = st.dictionaries(
    _KEYS, st.one_of(_SCALARS, st.dictionaries(_KEYS, _SCALARS, max_size=3)), max_size=5
)


@settings(max_examples=300, deadline=None)
@given(_OBJECTS, st.booleans())
def test_json_fast_path_finds_what_a_parse_finds(obj: dict[str, Any], spaced: bool) -> None:
    """The regex that reads the common JSON line without parsing it gives, whenever it matches,
    the level field a full parse finds first in document order."""
    line = json.dumps(obj, separators=(", ", ": ") if spaced else (",", ":")).encode()
    m = discovery._JSON_TOP_LEVEL.match(line)
    if m is not None:
        assert m.group(1).decode() == discovery._json_level(json.loads(line), 0)


@given(st.binary(max_size=60))
@settings(max_examples=300, deadline=None)
def test_keyword_scan_keeps_lokis_order(line: bytes) -> None:
    """The one-regex pre-check never hides a keyword: the result is the first of Loki's
    ranks whose keyword the line holds."""
    want = "unknown"
    if b"info" in line or b"INFO" in line:
        want = "info"
    else:
        for level, keys in discovery._KEYWORD_RANKS:
            if any(k in line for k in keys):
                want = level
                break
    assert discovery._keyword_level(line) == want


def test_keyword_ranks() -> None:
    assert discovery._keyword_level(b"a warning about [ERROR]") == "error"
    assert discovery._keyword_level(b"DEBUG then CRITICAL: x") == "critical"
    assert discovery._keyword_level(b"nothing here") == "unknown"


@given(
    st.lists(
        st.sampled_from(
            ["level=", "LeVeL=", "lvl=", "Severity_Text=", "log.level=", "a=", "x", " ", '"', "warn", "info"]
        ),
        max_size=8,
    ).map("".join)
)
@settings(max_examples=300, deadline=None)
def test_logfmt_precheck_hides_no_level_key(text: str) -> None:
    """Skipping the caseless regex when no lowered key stem is present changes no answer."""
    line = text.encode()
    found = discovery._logfmt_level(line)
    if not any(True for _ in discovery._LOGFMT_LEVEL.finditer(line)):
        assert found is None
    else:
        assert found is not None
