"""Relabeling against Prometheus' own examples (relabel_test.go, transcribed into YAML)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from heron.config import ConfigError
from heron.promconfig import RelabelConfig, relabel
from heron.promconfig.relabel import compile_regex, expand, parse_relabel_config, program

HERE = Path(__file__).parent
CASES = yaml.safe_load((HERE / "relabel_cases.yaml").read_text())
VALIDITY = yaml.safe_load((HERE / "relabel_target_validity.yaml").read_text())


def _configs(case: dict[str, Any]) -> list[RelabelConfig]:
    if case.get("unvalidated"):
        defaults = RelabelConfig()
        return [
            RelabelConfig(
                source_labels=tuple(c.get("source_labels", ())),
                separator=c.get("separator", defaults.separator),
                regex=c.get("regex", defaults.regex),
                modulus=c.get("modulus", 0),
                target_label=c.get("target_label", ""),
                replacement=c.get("replacement", defaults.replacement),
                action=c.get("action", defaults.action),
            )
            for c in case["relabel_configs"]
        ]
    return [
        parse_relabel_config(c, f"relabel_configs[{i}]", "test")
        for i, c in enumerate(case["relabel_configs"])
    ]


@pytest.mark.parametrize("case", CASES, ids=[c.get("name", f"case{i}") for i, c in enumerate(CASES)])
def test_relabel_examples(case: dict[str, Any]) -> None:
    before = dict(case["input"])
    got = relabel(case["input"], _configs(case))
    assert case["input"] == before, "relabel must not change its argument"
    if case.get("drop"):
        assert got is None
    else:
        assert got == case["output"]


def test_every_action_is_exercised() -> None:
    actions = {c.get("action", "replace") for case in CASES for c in case["relabel_configs"]}
    assert actions == {
        "replace", "keep", "drop", "keepequal", "dropequal", "hashmod",
        "labelmap", "labeldrop", "labelkeep", "lowercase", "uppercase",
    }  # fmt: skip


@pytest.mark.parametrize("case", VALIDITY, ids=[c["target_label"] for c in VALIDITY])
def test_target_label_validity(case: dict[str, Any]) -> None:
    raw = {"source_labels": ["a"], "target_label": case["target_label"]}
    if case["valid"]:
        assert parse_relabel_config(raw, "r", "test").target_label == case["target_label"]
    else:
        with pytest.raises(ConfigError) as info:
            parse_relabel_config(raw, "r", "test")
        assert info.value.key == "r.target_label"


@pytest.mark.parametrize(
    ("template", "want"),
    [
        ("$1", "ab"),
        ("${1}", "ab"),
        ("$1x", ""),  # Go reads the name "1x": no such group
        ("${1}x", "abx"),
        ("$name", "cd"),
        ("${name}-$2", "cd-cd"),
        ("$$1", "$1"),
        ("$", "$"),
        ("${", "${"),
        ("${1", "${1"),
        ("$-", "$-"),
        ("$01", ""),  # a leading zero makes it a name, not a number
        ("$9", ""),  # a group the regex does not have
        ("$3", ""),  # an optional group that did not take part
        ("x${0}y", "xab-cdy"),
        ("x$0y", "x"),  # the name is "0y"
    ],
)
def test_expand_follows_go(template: str, want: str) -> None:
    prog = program("(ab)-(?P<name>cd)(ef)?")
    groups = prog.groups("ab-cd")
    assert groups == ["ab-cd", "ab", "cd", None]
    assert expand(template, prog, groups) == want


def test_regex_is_re2_and_anchored() -> None:
    assert compile_regex("a+").search("xaa") is None
    assert compile_regex("a+").search("aa") is not None
    assert compile_regex("").search("") is not None
    # RE2 runs in linear time: a pattern that is catastrophic for backtracking engines is fine.
    assert compile_regex("(a+)+$").search("a" * 5000 + "b") is None
    # Go's syntax: Unicode classes and (?i) flags work.
    assert compile_regex(r"(?i)\p{Greek}+X").search("αβx") is not None
    # The direct path agrees with google-re2's own matching, on non-ASCII text too.
    prog = program("(é+)(.)?")
    assert prog.test("éé") and not prog.test("x") and prog.groups("éé") == ["éé", "éé", None]
    assert prog.groups("ééà") == ["ééà", "éé", "à"]


def test_hashmod_matches_prometheus_values() -> None:
    # From relabel_test.go; test_targets_prometheus.py compares more against a real Prometheus.
    cfg = parse_relabel_config(
        {"source_labels": ["c"], "target_label": "d", "action": "hashmod", "modulus": 1000}, "r", "test"
    )
    assert relabel({"c": "baz"}, [cfg]) == {"c": "baz", "d": "976"}
    assert relabel({"c": "foo\nbar"}, [cfg]) == {"c": "foo\nbar", "d": "734"}


def test_case_mapping_is_rune_by_rune() -> None:
    lower = parse_relabel_config(
        {"source_labels": ["a"], "target_label": "b", "action": "lowercase"}, "r", "t"
    )
    upper = parse_relabel_config(
        {"source_labels": ["a"], "target_label": "b", "action": "uppercase"}, "r", "t"
    )
    assert relabel({"a": "ÄÖÜ Straße"}, [lower]) == {"a": "ÄÖÜ Straße", "b": "äöü straße"}
    # Go's ToUpper keeps ß (no single-rune upper case); Python's would give "SS".
    assert relabel({"a": "straße"}, [upper]) == {"a": "straße", "b": "STRAßE"}
