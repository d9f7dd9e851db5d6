"""Whatever YAML-shaped data the sections hold, parsing ends in a PromConfig or one ConfigError
naming a key path: never another exception, never a hang. Also relabeling with arbitrary
strings through every action, and target files of arbitrary bytes."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heron.collect.metrics.filesd import parse_target_groups
from heron.config import ConfigError
from heron.promconfig import RelabelConfig, ScrapeConfig, parse_prom_config, populate_labels, relabel
from heron.promconfig.relabel import ACTIONS, parse_relabel_config

_KEYS = [
    "job_name", "scrape_interval", "scrape_timeout", "relabel_configs", "static_configs", "targets",
    "labels", "source_labels", "regex", "action", "target_label", "replacement", "modulus",
    "separator", "file_sd_configs", "files", "kubernetes_sd_configs", "role", "selectors",
    "url", "headers", "queue_config", "basic_auth", "authorization", "tls_config", "params",
    "body_size_limit", "external_labels", "bearer_token", "namespaces", "names", "x",
]  # fmt: skip
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.sampled_from(
        ["15s", "1m", "0", "", "(.*)", "keep", "pod", "a:1", "$1", "*.json", "http://h/w", "10MB"]
    ),
    st.text(max_size=12),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(_KEYS), inner, max_size=5),
    max_leaves=25,
)
_DOCS = st.fixed_dictionaries(
    {},
    optional={
        "global": _VALUES,
        "scrape_configs": st.lists(st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=6), max_size=3)
        | _VALUES,
        "remote_write": st.lists(st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=4), max_size=2),
    },
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_DOCS)
def test_parse_ends_in_a_config_or_one_config_error(doc: dict[str, Any]) -> None:
    try:
        parse_prom_config(doc, "fuzz.yaml", base_dir="/nonexistent")
    except ConfigError as exc:
        assert exc.key and "\n" not in str(exc)


_LABELS = st.dictionaries(st.from_regex(r"[a-z_]{1,6}", fullmatch=True), st.text(max_size=8), max_size=5)


@settings(max_examples=300, deadline=None)
@given(
    _LABELS,
    st.sampled_from(ACTIONS),
    st.sampled_from(["(.*)", "a(.)", "", "[ab]+", "(?P<x>.)(.*)", "_.*"]),
    st.sampled_from(["$1", "${1}x", "$x_$2", "$$", "b"]),
)
def test_relabel_never_fails_and_never_mutates(
    labels: dict[str, str], action: str, regex: str, repl: str
) -> None:
    raw = {"source_labels": sorted(labels)[:2], "action": action, "target_label": "t", "modulus": 3}
    try:
        cfg = parse_relabel_config({**raw, "regex": regex, "replacement": repl}, "r", "fuzz")
    except ConfigError:
        cfg = RelabelConfig(
            source_labels=tuple(sorted(labels)[:2]), action=action, target_label="t", modulus=3
        )
    before = dict(labels)
    out = relabel(labels, [cfg])
    assert labels == before
    if out is not None:
        assert all(v for v in out.values())
    target = populate_labels(
        {}, {"__address__": "h", **labels}, ScrapeConfig(job_name="j", relabel_configs=(cfg,))
    )
    assert target[0] is None or target[0]["job"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.sampled_from(["a.json", "a.yml", "a.yaml"]))
def test_target_files_of_any_bytes(data: bytes, name: str) -> None:
    try:
        groups = parse_target_groups(data, name)
    except ValueError as exc:
        assert str(exc)
    else:
        for g in groups:
            assert g.labels["__meta_filepath"] == name
